// fuse_swish (src/passes/fusion/fuse_swish.h): x * Sigmoid(x) after a convolution or product becomes the
// fused op's "Swish" activation, computing the same outputs on the reference runner (whose FusedConv applies
// Swish as Sigmoid then Mul); patterns with another reader, or with a Mul of something else, stay.
#include "passes/fusion/fuse_swish.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

constexpr PassFn run_pass = counted_pass<fuse_swish>;

// Conv (+ bias) -> Sigmoid -> Mul, the Mul's operands in either order; `extra` lines are appended.
std::string silu_graph(bool sigmoid_first, const std::string& extra = "") {
  return opset13_ir("input %x: f32[2,3,5,4]\n" + rand_const("w", "f32", {6, 3, 3, 3}, 5) +
                    rand_const("b", "f32", {6}, 6) +
                    R"(node "conv" Conv<13>(%x, %w, %b) -> (%c: f32[2,6,5,4]) {pads: ints = [1, 1, 1, 1]}
node "sig" Sigmoid<13>(%c) -> (%s: f32[2,6,5,4])
)" + std::string(sigmoid_first ? "node \"mul\" Mul<14>(%s, %c) -> (%y: f32[2,6,5,4])\n"
                               : "node \"mul\" Mul<14>(%c, %s) -> (%y: f32[2,6,5,4])\n") +
                    "output %y\n" + extra);
}

TEST(FuseSwish, ConvSigmoidMulBecomesOneFusedConv) {
  for (bool sigmoid_first : {false, true}) {
    PassCounts counts;
    const std::string text = silu_graph(sigmoid_first);
    const std::string out = pass_text(run_pass, text, &counts);
    EXPECT_EQ(counts["count"], 1) << out;
    EXPECT_TRUE(has_line(out, "node \"conv\" FusedConv@kiln<1>(%x, %w, %b) -> (%y: f32[2,6,5,4]) {activation: "
                              "string = \"Swish\", activation_params: floats = [], pads: ints = [1, 1, 1, 1]}"))
        << out;
    EXPECT_EQ(out.find("Sigmoid"), std::string::npos) << out;
    expect_pass_keeps_outputs(run_pass, text, 1e-6);
  }
}

TEST(FuseSwish, ProductsToo) {
  const std::string text = opset13_ir("input %x: f32[3,8]\n" + rand_const("w", "f32", {8, 5}, 7) + R"(
node "mm" MatMul<13>(%x, %w) -> (%m: f32[3,5])
node "sig" Sigmoid<13>(%m) -> (%s: f32[3,5])
node "mul" Mul<14>(%m, %s) -> (%y: f32[3,5])
output %y
)");
  PassCounts counts;
  const std::string out = pass_text(run_pass, text, &counts);
  EXPECT_EQ(counts["count"], 1) << out;
  EXPECT_NE(out.find("FusedMatMul@kiln<1>(%x, %w) -> (%y: f32[3,5]) {activation: string = \"Swish\""),
            std::string::npos) << out;
  expect_pass_keeps_outputs(run_pass, text, 1e-6);
}

TEST(FuseSwish, LeavesPatternsWithOtherReadersAlone) {
  const std::string cases[] = {
      silu_graph(false, "output %c\n"),  // the conv's output is also a graph output
      silu_graph(false, "output %s\n"),  // the sigmoid's too
      // A third reader of the conv's output.
      silu_graph(false, "node \"neg\" Neg<13>(%c) -> (%n: f32[2,6,5,4])\noutput %n\n"),
      // Squeeze-excite: Mul of the conv's output by the sigmoid of something else.
      opset13_ir("input %x: f32[2,3,5,4]\ninput %g: f32[2,6,5,4]\n" + rand_const("w", "f32", {6, 3, 3, 3}, 5) +
                 R"(node "conv" Conv<13>(%x, %w) -> (%c: f32[2,6,5,4]) {pads: ints = [1, 1, 1, 1]}
node "sig" Sigmoid<13>(%g) -> (%s: f32[2,6,5,4])
node "mul" Mul<14>(%c, %s) -> (%y: f32[2,6,5,4])
output %y
)"),
  };
  for (const std::string& text : cases) {
    PassCounts counts;
    const std::string out = pass_text(run_pass, text, &counts);
    EXPECT_EQ(counts["count"], 0) << out;
    EXPECT_NE(out.find("Sigmoid"), std::string::npos) << out;
  }
}

}  // namespace
