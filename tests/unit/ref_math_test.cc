// Focused tests of the math family (linear algebra, reductions, softmax-like, TopK, CumSum, Det): cases the
// official backend tests miss, and bad input that must give an error Status rather than a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

TEST(RefMath, MatMulBatchBroadcastWithVectorOperand) {
  // A: [2,1,3,4] times B: [4] -> [2,1,3]; compare with a naive dot product.
  std::vector<float> a(24), b = {1.0f, -2.0f, 0.5f, 3.0f};
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.25f - 2.0f;
  auto out = run_single_op("MatMul", 13, {{tensor(a, {2, 1, 3, 4})}, {tensor(b, {4})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 1, 3}));
  for (int r = 0; r < 6; ++r) {
    double want = 0;
    for (int k = 0; k < 4; ++k) want += a[r * 4 + k] * b[k];
    EXPECT_NEAR((*out)[0].data<float>()[r], want, 1e-5) << r;
  }
}

TEST(RefMath, MatMulBroadcastsBatchDims) {
  // [2,1,2,2] x [3,2,2] -> [2,3,2,2]: B's three matrices are each used with both of A's.
  std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> b = {1, 0, 0, 1, 0, 1, 1, 0, 2, 0, 0, 2};
  auto out = run_single_op("MatMul", 13, {{tensor(a, {2, 1, 2, 2})}, {tensor(b, {3, 2, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 3, 2, 2}));
  const float* y = (*out)[0].data<float>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) {
          float want = a[i * 4 + r * 2] * b[j * 4 + c] + a[i * 4 + r * 2 + 1] * b[j * 4 + 2 + c];
          EXPECT_EQ(y[((i * 3 + j) * 2 + r) * 2 + c], want);
        }
}

TEST(RefMath, IntegerMatMulWrapsInItsType) {
  // 65536 * 65536 = 2^32 wraps to 0 in int32; 3 * 5 stays exact.
  auto out = run_single_op("MatMul", 13, {{tensor<int32_t>({65536, 3}, {1, 2})}, {tensor<int32_t>({65536, 5}, {2, 1})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype(), DataType::kI32);
  EXPECT_EQ((*out)[0].data<int32_t>()[0], 15);
}

TEST(RefMath, MatMulMismatchedInnerDimsIsAnError) {
  auto out = run_single_op("MatMul", 13, {{Tensor(DataType::kF32, {2, 3})}, {Tensor(DataType::kF32, {4, 2})}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("inner"), std::string::npos) << out.status().message();
}

TEST(RefMath, GemmScalarBiasAndTransposes) {
  // Y = 2 * A^T * B^T + 0.5 * C with A [3,2] (so A^T is 2x3), B [2,3] (B^T 3x2), C a scalar.
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 1, 0, 1, 1};
  auto out = run_single_op("Gemm", 13, {{tensor(a, {3, 2})}, {tensor(b, {2, 3})}, {tensor<float>({4}, {})}},
                    {{"transA", Attribute::of_int(1)}, {"transB", Attribute::of_int(1)},
                     {"alpha", Attribute::of_float(2)}, {"beta", Attribute::of_float(0.5f)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 2}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      float dot = 0;
      for (int k = 0; k < 3; ++k) dot += a[k * 2 + i] * b[j * 3 + k];
      EXPECT_FLOAT_EQ((*out)[0].data<float>()[i * 2 + j], 2 * dot + 2);
    }
}

TEST(RefMath, GemmBadBiasShapeIsAnError) {
  auto out = run_single_op("Gemm", 13,
                    {{Tensor(DataType::kF32, {2, 3})}, {Tensor(DataType::kF32, {3, 4})}, {Tensor(DataType::kF32, {3})}});
  EXPECT_FALSE(out.ok());
}

TEST(RefMath, EinsumDiagonalTraceAndImplicitOutput) {
  std::vector<float> m = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto diag = run_single_op("Einsum", 12, {{tensor(m, {3, 3})}}, {{"equation", Attribute::of_string("ii->i")}});
  ASSERT_TRUE(diag.ok()) << diag.status().message();
  EXPECT_EQ(values<float>((*diag)[0]), (std::vector<float>{1, 5, 9}));
  auto trace = run_single_op("Einsum", 12, {{tensor(m, {3, 3})}}, {{"equation", Attribute::of_string("ii")}});
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  EXPECT_EQ((*trace)[0].rank(), 0);
  EXPECT_EQ((*trace)[0].data<float>()[0], 15.0f);
  // Implicit output of "ji" is "ij" (alphabetical): a transpose.
  auto tr = run_single_op("Einsum", 12, {{tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3})}}, {{"equation", Attribute::of_string("ji")}});
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  EXPECT_EQ((*tr)[0].dims(), (Dims{3, 2}));
  EXPECT_EQ(values<float>((*tr)[0]), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(RefMath, EinsumEllipsisBroadcastsBatchAxes) {
  // "...ij,...jk->...ik" with batches [2] and [1]: the second operand broadcasts.
  std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8}, b = {1, 1, 0, 1};
  auto out = run_single_op("Einsum", 12, {{tensor(a, {2, 2, 2})}, {tensor(b, {1, 2, 2})}},
                    {{"equation", Attribute::of_string("...ij,...jk->...ik")}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 2, 2}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 2; ++k)
        EXPECT_EQ((*out)[0].data<float>()[(n * 2 + i) * 2 + k],
                  a[n * 4 + i * 2] * b[k] + a[n * 4 + i * 2 + 1] * b[2 + k]);
}

TEST(RefMath, EinsumBadEquationsAreErrors) {
  Tensor m(DataType::kF32, {2, 3});
  for (const char* eq : {"ij,jk->ik", "ijk->i", "ij->ik", "i.j->i", "ij->ii", "i$->i"}) {
    auto out = run_single_op("Einsum", 12, {{m}}, {{"equation", Attribute::of_string(eq)}});
    EXPECT_FALSE(out.ok()) << eq;
  }
  auto mismatch = run_single_op("Einsum", 12, {{m}, {Tensor(DataType::kF32, {4})}}, {{"equation", Attribute::of_string("ij,j")}});
  EXPECT_FALSE(mismatch.ok());
}

TEST(RefMath, ReduceAxesInputNoopAndEmptySets) {
  Tensor x = tensor<float>({1, -2, 3, -4, 5, -6}, {2, 3});
  Tensor no_axes(DataType::kI64, {0});
  // opset 18: empty axes input with noop -> every element reduced on its own (SumSquare squares).
  auto noop = run_single_op("ReduceSumSquare", 18, {{x}, {no_axes, true}}, {{"noop_with_empty_axes", Attribute::of_int(1)}});
  ASSERT_TRUE(noop.ok()) << noop.status().message();
  EXPECT_EQ(values<float>((*noop)[0]), (std::vector<float>{1, 4, 9, 16, 25, 36}));
  // Empty axes without noop reduces everything.
  auto all = run_single_op("ReduceL1", 18, {{x}, {no_axes, true}}, {{"keepdims", Attribute::of_int(0)}});
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ((*all)[0].rank(), 0);
  EXPECT_EQ((*all)[0].data<float>()[0], 21.0f);
  // Reducing an axis of extent 0: identities of each reduction.
  Tensor empty(DataType::kF32, {2, 0});
  Tensor axis1 = tensor<int64_t>({1}, {1});
  auto sum = run_single_op("ReduceSum", 13, {{empty}, {axis1, true}});
  auto prod = run_single_op("ReduceProd", 18, {{empty}, {axis1, true}});
  auto max = run_single_op("ReduceMax", 18, {{empty}, {axis1, true}});
  auto lse = run_single_op("ReduceLogSumExp", 18, {{empty}, {axis1}});  // axes not constant: inferred at run time
  ASSERT_TRUE(sum.ok() && prod.ok() && max.ok() && lse.ok());
  EXPECT_EQ(values<float>((*sum)[0]), (std::vector<float>{0, 0}));
  EXPECT_EQ(values<float>((*prod)[0]), (std::vector<float>{1, 1}));
  EXPECT_EQ((*max)[0].data<float>()[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ((*lse)[0].dims(), (Dims{2, 1}));
  EXPECT_EQ((*lse)[0].data<float>()[1], -std::numeric_limits<float>::infinity());
}

TEST(RefMath, ReduceAttributeAxesBeforeOpset18AndIntegers) {
  Tensor x = tensor<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto mean = run_single_op("ReduceMean", 13, {{x}}, {{"axes", Attribute::of_ints({-1})}});
  ASSERT_TRUE(mean.ok()) << mean.status().message();
  EXPECT_EQ((*mean)[0].dtype(), DataType::kI32);
  EXPECT_EQ(values<int32_t>((*mean)[0]), (std::vector<int32_t>{2, 5}));  // 6/3, 15/3
  auto prod = run_single_op("ReduceProd", 11, {{x}}, {{"axes", Attribute::of_ints({0})}, {"keepdims", Attribute::of_int(0)}});
  ASSERT_TRUE(prod.ok()) << prod.status().message();
  EXPECT_EQ(values<int32_t>((*prod)[0]), (std::vector<int32_t>{4, 10, 18}));
}

TEST(RefMath, ReduceBadAxesAreErrors) {
  Tensor x(DataType::kF32, {2, 3});
  EXPECT_FALSE(run_single_op("ReduceSum", 11, {{x}}, {{"axes", Attribute::of_ints({2})}}).ok());
  EXPECT_FALSE(run_single_op("ReduceMax", 13, {{x}}, {{"axes", Attribute::of_ints({0, -2})}}).ok());
  EXPECT_FALSE(run_single_op("ReduceSum", 13, {{x}, {tensor<int64_t>({-3}, {1})}}).ok());  // runtime axes
  EXPECT_FALSE(run_single_op("ReduceSum", 13, {{x}, {tensor<float>({0}, {1})}}).ok());    // float axes
}

TEST(RefMath, ArgMaxSelectLastIndexAndErrors) {
  Tensor x = tensor<float>({3, 1, 3, 2, 2, 0}, {2, 3});
  auto first = run_single_op("ArgMax", 13, {{x}}, {{"axis", Attribute::of_int(1)}, {"keepdims", Attribute::of_int(0)}});
  auto last = run_single_op("ArgMax", 13, {{x}},
                     {{"axis", Attribute::of_int(1)}, {"keepdims", Attribute::of_int(0)}, {"select_last_index", Attribute::of_int(1)}});
  ASSERT_TRUE(first.ok() && last.ok());
  EXPECT_EQ(values<int64_t>((*first)[0]), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(values<int64_t>((*last)[0]), (std::vector<int64_t>{2, 1}));
  EXPECT_FALSE(run_single_op("ArgMin", 13, {{x}}, {{"axis", Attribute::of_int(2)}}).ok());
  EXPECT_FALSE(run_single_op("ArgMin", 13, {{Tensor(DataType::kF32, {2, 0})}}, {{"axis", Attribute::of_int(1)}}).ok());
}

TEST(RefMath, TopKTiesPreferLowerIndex) {
  Tensor x = tensor<float>({1, 3, 3, 2, 3}, {5});
  auto out = run_single_op("TopK", 11, {{x}, {tensor<int64_t>({2}, {1}), true}}, {}, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{3, 3}));
  EXPECT_EQ(values<int64_t>((*out)[1]), (std::vector<int64_t>{1, 2}));
  auto smallest = run_single_op("TopK", 1, {{x}}, {{"k", Attribute::of_int(3)}, {"largest", Attribute::of_int(0)}}, 2);
  ASSERT_TRUE(smallest.ok()) << smallest.status().message();
  EXPECT_EQ(values<int64_t>((*smallest)[1]), (std::vector<int64_t>{0, 3, 1}));
  EXPECT_FALSE(run_single_op("TopK", 11, {{x}, {tensor<int64_t>({6}, {1})}}, {}, 2).ok());  // k > extent
  EXPECT_FALSE(run_single_op("TopK", 11, {{x}, {tensor<int64_t>({-1}, {1})}}, {}, 2).ok());
  EXPECT_FALSE(run_single_op("TopK", 11, {{x}, {tensor<int64_t>({1}, {1})}}, {{"axis", Attribute::of_int(1)}}, 2).ok());
}

TEST(RefMath, CumSumReverseExclusiveIntegers) {
  Tensor x = tensor<int64_t>({1, 2, 3, 4}, {4});
  auto out = run_single_op("CumSum", 14, {{x}, {tensor<int32_t>({0}, {})}},
                    {{"reverse", Attribute::of_int(1)}, {"exclusive", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{9, 7, 4, 0}));
  EXPECT_FALSE(run_single_op("CumSum", 14, {{x}, {tensor<int32_t>({1}, {})}}).ok());
  EXPECT_FALSE(run_single_op("CumSum", 14, {{x}, {tensor<int32_t>({0, 0}, {2})}}).ok());
}

TEST(RefMath, SoftmaxAxisMeaningChangesAtOpset13) {
  // [2,2] rows; opset 11 with axis 0 coerces to [1,4]: one softmax over all four values.
  Tensor x = tensor<float>({0, 1, 2, 3}, {2, 2});
  auto legacy = run_single_op("Softmax", 11, {{x}}, {{"axis", Attribute::of_int(0)}});
  auto modern = run_single_op("Softmax", 13, {{x}}, {{"axis", Attribute::of_int(0)}});
  ASSERT_TRUE(legacy.ok() && modern.ok());
  double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR((*legacy)[0].data<float>()[3], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR((*modern)[0].data<float>()[3], std::exp(3.0) / (std::exp(1.0) + std::exp(3.0)), 1e-6);
  auto hard = run_single_op("Hardmax", 13, {{tensor<float>({2, 5, 5, 1}, {4})}});
  ASSERT_TRUE(hard.ok());
  EXPECT_EQ(values<float>((*hard)[0]), (std::vector<float>{0, 1, 0, 0}));
  EXPECT_FALSE(run_single_op("LogSoftmax", 13, {{x}}, {{"axis", Attribute::of_int(2)}}).ok());
}

TEST(RefMath, DetOfBatchAndBadShape) {
  auto out = run_single_op("Det", 11, {{tensor<float>({1, 2, 3, 4, 2, 4, 1, 2}, {2, 2, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_NEAR((*out)[0].data<float>()[0], -2.0, 1e-6);
  EXPECT_NEAR((*out)[0].data<float>()[1], 0.0, 1e-6);
  EXPECT_FALSE(run_single_op("Det", 11, {{Tensor(DataType::kF32, {2, 3})}}).ok());
}

// Shapes unknown before run time: the kernels themselves must reject bad input with a Status.
TEST(RefMath, KernelsRejectBadShapesAtRunTime) {
  // Graph inputs declared with unknown rank, so only the kernels can catch bad shapes.
  auto run_dynamic = [](const std::string& op, int opset, const std::vector<OpInput>& inputs,
                        const OpAttributes& attrs = {}, int num_outputs = 1) {
    return run_single_op(op, opset, inputs, attrs, num_outputs, {.unknown_input_shapes = true});
  };
  Tensor m23(DataType::kF32, {2, 3});
  auto expect_error = [](const Result<std::vector<Tensor>>& r, const char* what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_FALSE(r.status().message().empty()) << what;
  };
  expect_error(run_dynamic("MatMul", 13, {{m23}, {Tensor(DataType::kF32, {2, 3})}}), "matmul inner");
  expect_error(run_dynamic("MatMul", 13, {{Tensor(DataType::kF32, {})}, {m23}}), "matmul scalar");
  expect_error(run_dynamic("MatMul", 13, {{Tensor(DataType::kF32, {2, 2, 3})}, {Tensor(DataType::kF32, {3, 3, 2})}}),
               "matmul batch");
  expect_error(run_dynamic("Gemm", 13, {{Tensor(DataType::kF32, {2, 3, 1})}, {m23}}), "gemm rank");
  expect_error(run_dynamic("Gemm", 13, {{m23}, {Tensor(DataType::kF32, {3, 4})}, {Tensor(DataType::kF32, {3, 4})}}),
               "gemm bias");
  expect_error(run_dynamic("Einsum", 12, {{m23}, {Tensor(DataType::kF32, {4, 2})}}, {{"equation", Attribute::of_string("ij,jk")}}),
               "einsum extents");
  expect_error(run_dynamic("Einsum", 12, {{m23}}, {{"equation", Attribute::of_string("ijk")}}), "einsum rank");
  expect_error(run_dynamic("Softmax", 13, {{m23}}, {{"axis", Attribute::of_int(-3)}}), "softmax axis");
  expect_error(run_dynamic("Hardmax", 11, {{m23}}, {{"axis", Attribute::of_int(3)}}), "hardmax axis");
  expect_error(run_dynamic("ReduceSum", 11, {{m23}}, {{"axes", Attribute::of_ints({5})}}), "reduce axes");
  expect_error(run_dynamic("ArgMax", 13, {{m23}}, {{"axis", Attribute::of_int(-3)}}), "argmax axis");
  expect_error(run_dynamic("TopK", 11, {{m23}, {tensor<int64_t>({4}, {1})}}, {}, 2), "topk k");
  expect_error(run_dynamic("TopK", 11, {{m23}, {tensor<int64_t>({1, 2}, {2})}}, {}, 2), "topk k shape");
  expect_error(run_dynamic("CumSum", 14, {{m23}, {tensor<int64_t>({2}, {})}}), "cumsum axis");
  expect_error(run_dynamic("Det", 11, {{m23}}), "det square");
  expect_error(run_dynamic("Det", 11, {{Tensor(DataType::kF32, {3})}}), "det rank");
}

}  // namespace
}  // namespace kiln
