// Slice and Pad on the GPU (kernels/slice_pad_kernels.cc) against the reference kernels: odd shapes,
// negative and clamped starts/ends, negative steps, every Pad mode, f32/f16/i64. Both copy elements
// exactly, so the tolerance is zero.
#include "tests/cuda/cuda_test_util.h"

namespace kiln::testing {
namespace {

void expect_same_as_reference(const std::string& op, int opset, const std::vector<OpInput>& inputs,
                              const OpAttributes& attrs = {}) {
  auto graph = build_single_op(op, opset, inputs, attrs);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto ref = run_single_op(op, opset, inputs, attrs);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto got = run_node_on_cuda(*graph);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ((*got)[0].dims(), (*ref)[0].dims());
  auto diff = max_abs_diff((*ref)[0], (*got)[0]);
  ASSERT_TRUE(diff.ok()) << diff.status().message();
  EXPECT_EQ(*diff, 0.0f) << op;
}

TEST(CudaSlice, MatchesReference) {
  KILN_REQUIRE_GPU();
  for (DataType dtype : {DataType::kF32, DataType::kF16, DataType::kI64}) {
    Tensor x = random_tensor(dtype, {2, 5, 7, 9}, -50, 50, 3);
    // starts, ends, axes, steps
    expect_same_as_reference("Slice", 13, {x, {i64({1, -6}), true}, {i64({4, 1000}), true}, {i64({1, 3}), true}});
    expect_same_as_reference("Slice", 13,
                             {x, {i64({-1, 6}), true}, {i64({-1000, 0}), true}, {i64({2, -1}), true}, {i64({-2, -3}), true}});
    expect_same_as_reference("Slice", 13, {x, {i64({0}), true}, {i64({1}), true}, {i64({0}), true}, {i64({1}), true}});
  }
  Tensor x = random_tensor(DataType::kF32, {3, 11}, -1, 1, 4);
  expect_same_as_reference("Slice", 1, {x}, {{"starts", Attribute::of_ints({1, 2})}, {"ends", Attribute::of_ints({3, 9})}});
}

TEST(CudaPad, EveryModeMatchesReference) {
  KILN_REQUIRE_GPU();
  for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      Tensor x = random_tensor(dtype, {1, 3, 5, 7}, -2, 2, 5);
      OpAttributes attrs = {{"mode", Attribute::of_string(mode)}};
      expect_same_as_reference("Pad", 18, {x, {i64({0, 0, 1, 2, 0, 1, 3, 1}), true}}, attrs);
      // Negative pads crop.
      expect_same_as_reference("Pad", 18, {x, {i64({0, -1, 2, 0, 0, 0, -2, 2}), true}}, attrs);
    }
  }
  Tensor x = random_tensor(DataType::kF32, {2, 4, 3}, -2, 2, 6);
  Tensor value = Tensor::scalar<float>(-7.5f);
  expect_same_as_reference("Pad", 18, {x, {i64({1, 0, 2, 1}), true}, {value, true}, {i64({2, -2}), true}});
  expect_same_as_reference("Pad", 2, {x}, {{"pads", Attribute::of_ints({0, 1, 1, 0, 2, 0})}, {"value", Attribute::of_float(3.f)}});
}

TEST(CudaSlice, DataDependentParametersAreLeftToTheHost) {
  auto graph = build_single_op("Slice", 13, {random_tensor(DataType::kF32, {4, 4}, 0, 1, 7), i64({1}), i64({3})});
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto kernel = cuda::create_cuda_kernel(*graph->graph->nodes()[0]);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  EXPECT_EQ(*kernel, nullptr);
}

}  // namespace
}  // namespace kiln::testing
