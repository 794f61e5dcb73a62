// Softmax on softmax.cu, f32 and f16. The groups it normalizes over are the reference's
// (src/backends/ref/math_softmax.cc): from opset 13 one axis (default -1); before, the input coerced to 2-D
// [prod(dims[:axis]), prod(dims[axis:])] (default axis 1) and each row normalized.
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

class SoftmaxKernel final : public CudaKernel {
 public:
  SoftmaxKernel(const Node& node, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        type_(*elem_type(input_dtype(node, 0))),
        legacy_(node.opset < 13),
        axis_(node.attr_int("axis", node.opset < 13 ? 1 : -1)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty() || input_dims[0] != output_dims[0])
      return named(node_, Status::shape_mismatch("the output must have the input's shape"));
    const Dims& dims = input_dims[0];
    const int64_t rank = static_cast<int64_t>(dims.size());
    int64_t axis = axis_;
    if (axis < -rank || axis > (legacy_ ? rank : rank - 1))
      return named(node_, Status::invalid_argument(
                              fmt::format("axis {} is out of range for input of rank {}", axis_, rank)));
    if (axis < 0) axis += rank;
    int64_t outer = 1, extent = 1, inner = 1;
    for (int64_t a = 0; a < rank; ++a) {
      if (a < axis) outer *= dims[a];
      else if (a == axis || legacy_) extent *= dims[a];
      else inner *= dims[a];
    }
    return make_prepared(node_, [type = type_, outer, extent, inner, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> out) -> Status {
      KILN_CUDA_TRY(launch::launch_softmax(type, constants->get(in, 0), out[0], outer, extent, inner, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:softmax"; }

 private:
  std::string node_;
  launch::ElemType type_;
  bool legacy_;
  int64_t axis_;
  std::shared_ptr<const ConstantInputs> constants_;
};

}  // namespace

KernelResult make_softmax_kernel(const Node& node, const KernelOptions&) {
  const DataType t = input_dtype(node, 0);
  if ((t != DataType::kF32 && t != DataType::kF16) || output_dtype(node, 0) != t || node.outputs.size() != 1)
    return no_kernel();
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<SoftmaxKernel>(node, std::move(constants)));
}

}  // namespace kiln::cuda
