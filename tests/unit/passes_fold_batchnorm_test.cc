// BatchNormalization folding: IR text in -> fold_batchnorm -> IR text out, plus numeric equivalence.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
// scale/sqrt(var+eps) = [2, 0.5] with eps 0 (var 0.25 and 4); shift = bias - mean*s.
const std::string kConvBn = opset13_ir(R"(input %x: f32[1,1,3,3]
const %w: f32[2,1,1,1] = [1, 3]
const %b: f32[2] = [1, -1]
const %scale: f32[2] = [1, 1]
const %bias: f32[2] = [0.5, 0]
const %mean: f32[2] = [1, 2]
const %var: f32[2] = [0.25, 4]
node "conv" Conv<13>(%x, %w, %b) -> (%c: f32[1,2,3,3])
node "bn" BatchNormalization<13>(%c, %scale, %bias, %mean, %var) -> (%y: f32[1,2,3,3]) {epsilon: float = 0}
output %y
)");
}  // namespace

TEST(FoldBatchNorm, IntoConvScalesWeightsAndBias) {
  PassCounts counts;
  std::string out = pass_text(fold_batchnorm, kConvBn, &counts);
  EXPECT_EQ(counts["conv"], 1);
  EXPECT_TRUE(has_line(out, "const %w_bn: f32[2,1,1,1] = [2, 1.5]")) << out;
  // B' = b*s + bias - mean*s = [1*2 + 0.5 - 2, -1*0.5 + 0 - 1] = [0.5, -1.5]
  EXPECT_TRUE(has_line(out, "const %bn_bias: f32[2] = [0.5, -1.5]")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv\" Conv<13>(%x, %w_bn, %bn_bias) -> (%y: f32[1,2,3,3])")) << out;
  EXPECT_EQ(out.find("BatchNormalization<"), std::string::npos) << out;
  expect_pass_keeps_outputs(fold_batchnorm, kConvBn, 1e-5);
}

TEST(FoldBatchNorm, StandaloneBecomesMulAdd) {
  const std::string text = opset13_ir(R"(input %x: f32[1,2,2,2]
const %scale: f32[2] = [1, 1]
const %bias: f32[2] = [0.5, 0]
const %mean: f32[2] = [1, 2]
const %var: f32[2] = [0.25, 4]
node "bn" BatchNormalization<13>(%x, %scale, %bias, %mean, %var) -> (%y: f32[1,2,2,2]) {epsilon: float = 0}
output %y
)");
  PassCounts counts;
  std::string out = pass_text(fold_batchnorm, text, &counts);
  EXPECT_EQ(counts["standalone"], 1);
  EXPECT_TRUE(has_line(out, "const %bn_scale: f32[2,1,1] = [2, 0.5]")) << out;
  EXPECT_TRUE(has_line(out, "const %bn_shift: f32[2,1,1] = [-1.5, -1]")) << out;
  EXPECT_TRUE(has_line(out, "node \"bn\" Mul<14>(%x, %bn_scale) -> (%bn_scaled: f32[1,2,2,2])")) << out;
  EXPECT_TRUE(has_line(out, "node \"bn_shift\" Add<14>(%bn_scaled, %bn_shift) -> (%y: f32[1,2,2,2])")) << out;
  expect_pass_keeps_outputs(fold_batchnorm, text, 1e-5);
}

TEST(FoldBatchNorm, ConvWithAnotherReaderKeepsItsOutput) {
  std::string text = kConvBn;
  text.replace(text.find("output %y"), 9, "output %y\noutput %c");
  PassCounts counts;
  std::string out = pass_text(fold_batchnorm, text, &counts);
  EXPECT_EQ(counts["conv"], 0);
  EXPECT_EQ(counts["standalone"], 1);
  EXPECT_TRUE(has_line(out, "node \"conv\" Conv<13>(%x, %w, %b) -> (%c: f32[1,2,3,3])")) << out;
}

TEST(FoldBatchNorm, IntoGemmAndMatMul) {
  const std::string text = opset13_ir(R"(input %x: f32[3,2]
const %w: f32[2,2] = [1, 2, 3, 4]
const %c: f32[2] = [1, -1]
const %scale: f32[2] = [1, 1]
const %bias: f32[2] = [0.5, 0]
const %mean: f32[2] = [1, 2]
const %var: f32[2] = [0.25, 4]
node "gemm" Gemm<13>(%x, %w, %c) -> (%g: f32[3,2]) {beta: float = 2}
node "bn1" BatchNormalization<13>(%g, %scale, %bias, %mean, %var) -> (%y1: f32[3,2]) {epsilon: float = 0}
node "mm" MatMul<13>(%x, %w) -> (%m: f32[3,2])
node "bn2" BatchNormalization<13>(%m, %scale, %bias, %mean, %var) -> (%y2: f32[3,2]) {epsilon: float = 0}
output %y1
output %y2
)");
  PassCounts counts;
  std::string out = pass_text(fold_batchnorm, text, &counts);
  EXPECT_EQ(counts["gemm"], 1);
  EXPECT_EQ(counts["matmul"], 1);
  EXPECT_TRUE(has_line(out, "const %w_bn: f32[2,2] = [2, 1, 6, 2]")) << out;
  EXPECT_TRUE(has_line(out, "node \"bn2\" Add<14>(%m, %bn2_bias) -> (%y2: f32[3,2])")) << out;
  expect_pass_keeps_outputs(fold_batchnorm, text, 1e-5);
}
