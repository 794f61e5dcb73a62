// The foundation issue's op list: every op must have a definition (attributes, inference) and a
// reference kernel. A missing one fails here by name rather than somewhere in a model.
#include <gtest/gtest.h>

#include <sstream>

#include "backends/ref/kernel.h"
#include "ir/op_def.h"

namespace {

const char* kRequiredOps =
    "Conv ConvTranspose BatchNormalization InstanceNormalization LayerNormalization GroupNormalization LRN Relu "
    "LeakyRelu PRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish Tanh Softplus Softsign Mish Gelu Erf Clip Add Sub "
    "Mul Div Pow Mod Sqrt Reciprocal Exp Log Abs Neg Sign Floor Ceil Round Sin Cos Tan Asin Acos Atan Sinh Cosh "
    "Asinh Acosh Atanh Max Min Sum Mean Gemm MatMul Einsum MaxPool AveragePool LpPool GlobalAveragePool "
    "GlobalMaxPool GlobalLpPool Concat Split Slice Reshape Flatten Transpose Squeeze Unsqueeze Expand Tile Pad "
    "Resize Upsample DepthToSpace SpaceToDepth Gather GatherElements GatherND ScatterElements ScatterND Shape Size "
    "Constant ConstantOfShape Identity Dropout Cast CastLike Where Equal Less LessOrEqual Greater GreaterOrEqual "
    "Not And Or Xor IsNaN IsInf Range CumSum Trilu OneHot NonZero TopK ArgMax ArgMin Softmax LogSoftmax Hardmax "
    "ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp "
    "ReduceSumSquare LpNormalization MeanVarianceNormalization Shrink ThresholdedRelu QuantizeLinear "
    "DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul ConvInteger MatMulInteger BitShift";

TEST(OpCoverage, EveryRequiredOpHasADefinitionAndAReferenceKernel) {
  std::istringstream ops(kRequiredOps);
  std::string op;
  int count = 0;
  while (ops >> op) {
    ++count;
    const kiln::OpDef* def = kiln::find_op_def("", op);
    ASSERT_NE(def, nullptr) << "no op definition for " << op;
    EXPECT_NE(def->infer, nullptr) << "no shape inference for " << op;
    EXPECT_NE(kiln::ref::find_kernel("", op), nullptr) << "no reference kernel for " << op;
  }
  EXPECT_EQ(count, 136);  // the list in the issue; guards against editing it by accident
}

TEST(OpCoverage, EveryDefinedOpHasAReferenceKernel) {
  for (const kiln::OpDef* def : kiln::all_op_defs())
    EXPECT_NE(kiln::ref::find_kernel(def->domain, def->op_type), nullptr)
        << "op " << def->domain << "." << def->op_type << " is defined but has no reference kernel";
}

}  // namespace
