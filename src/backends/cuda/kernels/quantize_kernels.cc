// QuantizeLinear (x f32 / f16 -> i8 / u8) and DequantizeLinear (x i8 / u8 / i32 -> f32 / f16) on quantize.cu,
// with constant scales and zero points, per tensor or per axis (1-D, the `axis` attribute), read as the
// reference's make_param_index reads them (src/backends/ref/quant.cc). Null for what they do not run:
// non-constant scale or zero point, blocked quantization (block_size != 0), other dtypes (u16 / i16, bf16,
// f64, a Q of i32 data).
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

// The node's scale and zero point on the device, as the kernels index them.
struct LinearQuantParams {
  DeviceBuffer scale;       // float[count]: the reference's float_at (exact for f16 / f32 scales)
  DeviceBuffer zero_point;  // int32[count]; zeros when the node has none
  int64_t count = 1;
  bool per_axis = false;
  int64_t axis = 1;  // the attribute; normalized against x's rank at prepare
};

// Null when the kernels do not run these parameters; an error when they are malformed (as the reference
// would report at run time).
Result<std::shared_ptr<const LinearQuantParams>> read_params(const Node& node) {
  const Value* scale_v = node.inputs[1];
  const Value* zp_v = node.has_input(2) ? node.inputs[2] : nullptr;
  if (node.attr_int("block_size", 0) != 0 || !scale_v->is_constant() || (zp_v && !zp_v->is_constant()))
    return std::shared_ptr<const LinearQuantParams>{};
  const Tensor& scale = *scale_v->constant;
  const Tensor* zp = zp_v ? &*zp_v->constant : nullptr;
  if (!is_float(scale.dtype()))
    return Status::invalid_model(fmt::format("the scale must be a float tensor, got {}", scale.type_string()));
  if (zp && zp->dims() != scale.dims() && !(zp->size() == 1 && scale.size() == 1))
    return Status::invalid_model(
        fmt::format("the zero point's shape {} differs from the scale's {}", zp->type_string(), scale.type_string()));
  auto p = std::make_shared<LinearQuantParams>();
  if (scale.size() != 1 || scale.rank() > 1) {
    if (scale.rank() != 1)
      return Status::invalid_model(fmt::format(
          "the scale must be a scalar or 1-D (per axis) without block_size, got {}", scale.type_string()));
    p->per_axis = true;
    p->axis = node.attr_int("axis", 1);
  }
  p->count = scale.size();
  std::vector<float> s(static_cast<size_t>(p->count));
  std::vector<int32_t> z(static_cast<size_t>(p->count), 0);
  for (int64_t i = 0; i < p->count; ++i) {
    s[static_cast<size_t>(i)] = static_cast<float>(scale.element_as_double(i));
    if (zp) z[static_cast<size_t>(i)] = static_cast<int32_t>(zp->element_as_int64(i));
  }
  KILN_ASSIGN_OR_RETURN(p->scale, DeviceBuffer::upload(s.data(), s.size() * sizeof(float)));
  KILN_ASSIGN_OR_RETURN(p->zero_point, DeviceBuffer::upload(z.data(), z.size() * sizeof(int32_t)));
  return std::shared_ptr<const LinearQuantParams>(std::move(p));
}

class LinearQuantKernel final : public CudaKernel {
 public:
  LinearQuantKernel(const Node& node, bool quantize, launch::ElemType x, launch::ElemType y,
                    std::shared_ptr<const LinearQuantParams> params, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        quantize_(quantize),
        x_(x),
        y_(y),
        params_(std::move(params)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty() || input_dims[0] != output_dims[0])
      return named(node_, Status::shape_mismatch("the output must have the input's shape"));
    const Dims& dims = input_dims[0];
    launch::QuantAxis axis{1, 1};
    if (params_->per_axis) {
      Result<int64_t> a = normalize_axis(params_->axis, static_cast<int64_t>(dims.size()));
      if (!a.ok()) return named(node_, a.status());
      const size_t ax = static_cast<size_t>(*a);
      if (dims[ax] != params_->count)
        return named(node_, Status::shape_mismatch(fmt::format(
                                "per-axis scale has {} elements, expected x's extent {} on axis {} (x is {})",
                                params_->count, dims[ax], *a, dims_to_string(dims))));
      axis.axis_dim = dims[ax];
      axis.inner = element_count(Dims(dims.begin() + static_cast<std::ptrdiff_t>(ax) + 1, dims.end()));
    }
    const int64_t n = element_count(dims);
    return make_prepared(node_, [n, axis, quantize = quantize_, x = x_, y = y_, params = params_,
                                 constants = constants_](const LaunchContext& ctx, std::span<void* const> in,
                                                         std::span<void* const> out) -> Status {
      const auto* scale = static_cast<const float*>(params->scale.get());
      const auto* zp = static_cast<const int32_t*>(params->zero_point.get());
      if (quantize)
        KILN_CUDA_TRY(launch::launch_quantize(x, y, constants->get(in, 0), out[0], n, scale, zp, axis, ctx.stream));
      else
        KILN_CUDA_TRY(launch::launch_dequantize(x, y, constants->get(in, 0), out[0], n, scale, zp, axis, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return quantize_ ? "cuda:quantize" : "cuda:dequantize"; }

 private:
  std::string node_;
  bool quantize_;
  launch::ElemType x_, y_;
  std::shared_ptr<const LinearQuantParams> params_;
  std::shared_ptr<const ConstantInputs> constants_;
};

KernelResult make_linear_quant_kernel(const Node& node, bool quantize) {
  if (!node.has_input(0) || !node.has_input(1) || node.outputs.size() != 1 || !node.has_output(0)) return no_kernel();
  const DataType x = input_dtype(node, 0), y = output_dtype(node, 0);
  if (quantize) {
    if ((x != DataType::kF32 && x != DataType::kF16) || (y != DataType::kI8 && y != DataType::kU8)) return no_kernel();
  } else {
    if ((x != DataType::kI8 && x != DataType::kU8 && x != DataType::kI32) ||
        (y != DataType::kF32 && y != DataType::kF16))
      return no_kernel();
    if (node.has_input(2) && input_dtype(node, 2) != x)
      return Status::invalid_model(fmt::format("x_zero_point is {}, expected x's dtype {}",
                                               dtype_name(input_dtype(node, 2)), dtype_name(x)));
  }
  KILN_ASSIGN_OR_RETURN(auto params, read_params(node));
  if (!params) return no_kernel();
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<LinearQuantKernel>(node, quantize, *elem_type(x), *elem_type(y),
                                                                         std::move(params), std::move(constants)));
}

}  // namespace

KernelResult make_quantize_kernel(const Node& node, const KernelOptions&) {
  return make_linear_quant_kernel(node, true);
}

KernelResult make_dequantize_kernel(const Node& node, const KernelOptions&) {
  return make_linear_quant_kernel(node, false);
}

}  // namespace kiln::cuda
