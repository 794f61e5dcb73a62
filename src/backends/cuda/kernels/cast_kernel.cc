// Cast on cast.cu between f32, f16, i32, i64, u8, i8 and bool (null for any other source or target, e.g.
// strings, f64, bf16). A cast to the same type is a device-to-device copy.
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

class CastKernel final : public CudaKernel {
 public:
  CastKernel(const Node& node, DataType from, DataType to, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        from_(*elem_type(from)),
        to_(*elem_type(to)),
        same_(from == to),
        elem_bytes_(dtype_size(from)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty() || input_dims[0] != output_dims[0])
      return named(node_, Status::shape_mismatch("the output must have the input's shape"));
    const int64_t n = element_count(input_dims[0]);
    return make_prepared(node_, [n, from = from_, to = to_, same = same_, bytes = elem_bytes_, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> out) -> Status {
      const void* x = constants->get(in, 0);
      if (same) {
        if (n > 0)
          KILN_CUDA_TRY(cudaMemcpyAsync(out[0], x, static_cast<size_t>(n) * bytes, cudaMemcpyDeviceToDevice, ctx.stream));
        return {};
      }
      KILN_CUDA_TRY(launch::launch_cast(from, to, x, out[0], n, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:cast"; }

 private:
  std::string node_;
  launch::ElemType from_, to_;
  bool same_;
  size_t elem_bytes_;
  std::shared_ptr<const ConstantInputs> constants_;
};

}  // namespace

KernelResult make_cast_kernel(const Node& node, const KernelOptions&) {
  if (!node.has_input(0) || node.outputs.size() != 1 || !node.has_output(0)) return no_kernel();
  const DataType from = input_dtype(node, 0);
  const int64_t to_attr = node.attr_int("to", 0);
  if (to_attr < 0 || to_attr > 0x7fffffff || !is_known_dtype(static_cast<int32_t>(to_attr)))
    return Status::invalid_model(fmt::format("attribute 'to' = {} is not a data type kiln can cast to", to_attr));
  const DataType to = static_cast<DataType>(to_attr);
  if (!elem_type(from) || !elem_type(to) || output_dtype(node, 0) != to) return no_kernel();
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<CastKernel>(node, from, to, std::move(constants)));
}

}  // namespace kiln::cuda
