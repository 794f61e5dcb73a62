// Bias and activation fusion: IR text in -> fuse_bias_activation -> IR text out, plus numeric equivalence.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
void expect_equivalent_after(const std::string& text) {
  expect_pass_keeps_outputs(fuse_bias_activation, text, 1e-6);
}
}  // namespace

TEST(FuseBiasActivation, ConvBiasAndRelu6) {
  const std::string text = opset13_ir(R"(input %x: f32[1,1,3,3]
const %w: f32[2,1,1,1] = [1, -3]
const %b: f32[2,1,1] = [0.5, 0.25]
const %lo: f32[] = [0]
const %hi: f32[] = [6]
node "conv" Conv<13>(%x, %w) -> (%c: f32[1,2,3,3])
node "add" Add<13>(%c, %b) -> (%cb: f32[1,2,3,3])
node "relu6" Clip<13>(%cb, %lo, %hi) -> (%y: f32[1,2,3,3])
output %y
)");
  PassCounts counts;
  std::string out = pass_text(fuse_bias_activation, text, &counts);
  EXPECT_EQ(counts["conv_bias"], 1);
  EXPECT_EQ(counts["Conv+Clip"], 1);
  EXPECT_TRUE(has_line(out, "const %conv_bias: f32[2] = [0.5, 0.25]")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv\" FusedConv@kiln<1>(%x, %w, %conv_bias) -> (%y: f32[1,2,3,3]) "
                            "{activation: string = \"Clip\", activation_params: floats = [0, 6]}")) << out;
  EXPECT_TRUE(has_line(out, "opset \"kiln\" 1")) << out;
  expect_pass_keeps_outputs(fuse_bias_activation, text, 1e-6);
}

TEST(FuseBiasActivation, GemmAndMatMulWithBiasAndActivation) {
  const std::string text = opset13_ir(R"(input %x: f32[3,2]
const %w: f32[2,2] = [1, 2, 3, 4]
const %bias: f32[2] = [0.5, -8]
node "gemm" Gemm<13>(%x, %w) -> (%g: f32[3,2]) {alpha: float = 0.5}
node "gadd" Add<13>(%bias, %g) -> (%gb: f32[3,2])
node "leaky" LeakyRelu<13>(%gb) -> (%y1: f32[3,2]) {alpha: float = 0.1}
node "mm" MatMul<13>(%x, %w) -> (%m: f32[3,2])
node "madd" Add<13>(%m, %bias) -> (%mb: f32[3,2])
node "sig" Sigmoid<13>(%mb) -> (%y2: f32[3,2])
output %y1
output %y2
)");
  PassCounts counts;
  std::string out = pass_text(fuse_bias_activation, text, &counts);
  EXPECT_TRUE(has_line(out, "node \"gemm\" FusedGemm@kiln<1>(%x, %w, %bias) -> (%y1: f32[3,2]) {activation: string = "
                            "\"LeakyRelu\", activation_params: floats = [0.100000001], alpha: float = 0.5, beta: float = 1}"))
      << out;
  EXPECT_TRUE(has_line(out, "node \"mm\" FusedMatMul@kiln<1>(%x, %w, %bias) -> (%y2: f32[3,2]) {activation: string = "
                            "\"Sigmoid\", activation_params: floats = []}"))
      << out;
  EXPECT_EQ(counts["gemm_bias"], 1);
  EXPECT_EQ(counts["matmul_bias"], 1);
  expect_pass_keeps_outputs(fuse_bias_activation, text, 1e-6);
}

TEST(FuseBiasActivation, LeavesSharedValuesAndNonBiasAddsAlone) {
  const std::string text = opset13_ir(R"(input %x: f32[1,1,3,3]
input %z: f32[1,2,3,3]
const %w: f32[2,1,1,1] = [1, -3]
node "conv" Conv<13>(%x, %w) -> (%c: f32[1,2,3,3])
node "relu" Relu<13>(%c) -> (%r: f32[1,2,3,3])
node "add" Add<13>(%c, %z) -> (%y: f32[1,2,3,3])
output %r
output %y
)");
  PassCounts counts;
  std::string out = pass_text(fuse_bias_activation, text, &counts);
  EXPECT_NE(out.find("node \"conv\" Conv<13>"), std::string::npos) << out;
  EXPECT_EQ(out.find("Fused"), std::string::npos) << out;
}
