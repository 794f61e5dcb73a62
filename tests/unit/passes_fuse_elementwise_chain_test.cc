// Elementwise-chain fusion: IR text in -> fuse_elementwise_chains -> IR text out, plus numeric equivalence.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
const std::string kChain = opset13_ir(R"(input %x: f32[2,3]
const %three: f32[] = [3]
const %six: f32[1] = [6]
node "add" Add<13>(%x, %three) -> (%a: f32[2,3])
node "clip" Clip<13>(%a, _, %six) -> (%b: f32[2,3])
node "div" Div<13>(%six, %b) -> (%c: f32[2,3])
node "tanh" Tanh<13>(%c) -> (%d: f32[2,3])
node "abs" Abs<13>(%d) -> (%y: f32[2,3])
node "mul" Mul<13>(%x, %y) -> (%z: f32[2,3])
output %z
)");
}  // namespace

TEST(FuseElementwiseChain, FusesUnaryAndScalarSteps) {
  PassCounts counts;
  std::string out = pass_text(fuse_elementwise_chains, kChain, &counts);
  EXPECT_EQ(counts["chains"], 1);
  EXPECT_EQ(counts["ops"], 5);
  EXPECT_TRUE(has_line(out, "node \"add_chain\" ElementwiseChain@kiln<1>(%x) -> (%y: f32[2,3]) {ops: strings = "
                            "[\"Add\", \"Clip\", \"Div:r\", \"Tanh\", \"Abs\"], params: floats = [3, 0, -inf, 6, 6, "
                            "0, 0, 0, 0, 0]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"mul\" Mul<13>(%x, %y) -> (%z: f32[2,3])")) << out;
  expect_pass_keeps_outputs(fuse_elementwise_chains, kChain, 0);
}

TEST(FuseElementwiseChain, StopsAtSharedValues) {
  std::string text = kChain;
  text.replace(text.find("output %z"), 9, "output %z\noutput %b");
  PassCounts counts;
  std::string out = pass_text(fuse_elementwise_chains, text, &counts);
  EXPECT_EQ(counts["chains"], 2);
  EXPECT_TRUE(has_line(out, "node \"add_chain\" ElementwiseChain@kiln<1>(%x) -> (%b: f32[2,3]) {ops: strings = "
                            "[\"Add\", \"Clip\"], params: floats = [3, 0, -inf, 6]}")) << out;
  expect_pass_keeps_outputs(fuse_elementwise_chains, text, 0);
}

TEST(FuseElementwiseChain, SingleOpIsNotAChain) {
  PassCounts counts;
  std::string out = pass_text(fuse_elementwise_chains, opset13_ir(R"(input %x: f32[2]
input %w: f32[2]
node "relu" Relu<13>(%x) -> (%a: f32[2])
node "add" Add<13>(%a, %w) -> (%y: f32[2])
output %y
)"), &counts);
  EXPECT_EQ(out.find("ElementwiseChain"), std::string::npos) << out;
}
