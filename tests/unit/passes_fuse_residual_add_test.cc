// Residual-add fusion: IR text in -> fuse_residual_add -> IR text out, plus numeric equivalence.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
const std::string kResidual = opset13_ir(R"(input %x: f32[1,2,3,3]
const %w: f32[2,2,1,1] = [1, -3, 0.5, 2]
const %b: f32[2] = [0.5, 0.25]
node "relu0" Relu<13>(%x) -> (%z: f32[1,2,3,3])
node "conv" Conv<13>(%x, %w, %b) -> (%c: f32[1,2,3,3])
node "add" Add<13>(%z, %c) -> (%s: f32[1,2,3,3])
node "relu" Relu<13>(%s) -> (%y: f32[1,2,3,3])
output %y
)");
}  // namespace

TEST(FuseResidualAdd, ConvAddReluBecomesOneFusedConv) {
  PassCounts counts;
  std::string out = pass_text(fuse_residual_add, kResidual, &counts);
  EXPECT_EQ(counts["residual+Relu"], 1);
  EXPECT_TRUE(has_line(out, "node \"conv\" FusedConv@kiln<1>(%x, %w, %b, %z) -> (%y: f32[1,2,3,3]) "
                            "{activation: string = \"Relu\", activation_params: floats = []}")) << out;
  Graph fused = expect_pass_keeps_outputs(fuse_residual_add, kResidual, 1e-6);
  EXPECT_EQ(fused.nodes().size(), 2u);
}

TEST(FuseResidualAdd, WithoutActivationAndWithoutBias) {
  std::string text = kResidual;
  text.replace(text.find("%x, %w, %b)"), 11, "%x, %w)");
  text.replace(text.find("output %y"), 9, "output %s\noutput %y");
  PassCounts counts;
  std::string out = pass_text(fuse_residual_add, text, &counts);
  EXPECT_EQ(counts["residual"], 1);
  EXPECT_TRUE(has_line(out, "node \"conv\" FusedConv@kiln<1>(%x, %w, _, %z) -> (%s: f32[1,2,3,3])")) << out;
  expect_pass_keeps_outputs(fuse_residual_add, text, 1e-6);
}

TEST(FuseResidualAdd, BroadcastAddendIsNotAResidual) {
  std::string text = kResidual;
  text.replace(text.find("input %x: f32[1,2,3,3]"), 22, "input %x: f32[1,2,3,3]\ninput %q: f32[1,2,1,1]");
  text.replace(text.find("Add<13>(%z, %c)"), 15, "Add<13>(%q, %c)");
  PassCounts counts;
  std::string out = pass_text(fuse_residual_add, text, &counts);
  EXPECT_EQ(out.find("Fused"), std::string::npos) << out;
}
