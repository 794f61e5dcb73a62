// kiln.QConv (kiln's symmetric int8) with a multiple of 64 input channels as kiln's own kernels: the implicit
// GEMM (int8_conv.cu, tactic "cuda:int8_igemm") and, for 1x1 windows without padding, the pointwise GEMM
// (int8_pointwise.cu, "cuda:int8_pointwise" with two blocks a multiprocessor and up to four stages, and
// "cuda:int8_pointwise_3_blocks" with three and two), offered by make_qconv_kernel as tactics that compete with
// cuDNN's int8 configs at build time. cuDNN 9's int8 engines run ResNet-50's layers on the H100 in about the
// time of its f16 ones (docs/cuda_backend.md), so INT8 engines were no faster than FP16.
//
// Runs: NHWC, group 1, 2-D, a multiple of 64 input and 16 output channels, the residual Z (of Y's shape), the
// activation folded into the output range; the implicit GEMM at most 3x3 taps, any strides, pads and dilations
// whose input patch fits; the pointwise GEMM 1x1 windows without padding, any strides, W's rows and two
// pipeline stages within shared memory. Anything else gets no kernel (or, where only the shapes rule it out, is
// not offered at them).
#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/igemm_shapes.h"
#include "backends/cuda/kernels/int8_conv.h"
#include "backends/cuda/kernels/int8_pointwise.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/kernels/quant_util.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

// What differs between the implicit GEMM and the pointwise GEMM.
struct Int8Variant {
  const char* tactic;
  bool (*supported)(const launch::Int8ConvArgs&);
  cudaError_t (*prepare)(int* blocks);
  cudaError_t (*launch)(const launch::Int8ConvArgs&, int blocks, cudaStream_t);
  bool pointwise_only;  // 1x1 windows, W packed as one slice of all C channels
};
constexpr Int8Variant kImplicitGemm{kInt8IgemmTactic, launch::int8_conv_supported, launch::prepare_int8_conv,
                                    launch::launch_int8_conv, false};
constexpr Int8Variant kPointwiseGemm{kInt8PointwiseTactic, launch::int8_pointwise_supported,
                                     launch::prepare_int8_pointwise, launch::launch_int8_pointwise, true};
constexpr Int8Variant kPointwiseGemm3Blocks{kInt8Pointwise3BlocksTactic, launch::int8_pointwise_3_blocks_supported,
                                            launch::prepare_int8_pointwise, launch::launch_int8_pointwise_3_blocks,
                                            true};

struct Int8ConvConstants {
  DeviceBuffer w;     // i8 [round_up(K, 64)][C / slice][padded taps][slice]
  DeviceBuffer mult;  // f32 [K]
  DeviceBuffer bias;  // f32 [K] (B * mult), or empty
};

// A stride-1 1x1 convolution without padding reads each output pixel's own input pixel: the implicit GEMM
// runs it as one row of n * h * w pixels, so tiles are 128 consecutive pixels (none wasted at 7x7 or 14x14
// images, where 2-D tiles of 128 leave up to 60% idle) and patches are contiguous.
void flatten_pointwise(launch::Int8ConvArgs& a) {
  const launch::ConvWindow& w = a.window;
  const bool pointwise = w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1 &&
                         a.pad_h == 0 && a.pad_w == 0 && w.out_h == a.h && w.out_w == a.w_extent;
  const int64_t pixels = a.n * a.h * a.w_extent;
  if (!pointwise || pixels > std::numeric_limits<int32_t>::max()) return;
  a.n = 1;
  a.h = 1;
  a.w_extent = static_cast<int32_t>(pixels);
  a.window.out_h = 1;
  a.window.out_w = a.w_extent;
}

class Int8ConvKernel final : public OwnConvKernel<launch::Int8ConvArgs> {
 public:
  /// `base`: the requantization's scalars (lo, hi, z_mult); the rest is filled at prepare.
  Int8ConvKernel(const Int8Variant& variant, std::string name, ConvGeometry geo, launch::Int8ConvArgs base,
                 bool has_z, std::shared_ptr<const Int8ConvConstants> c)
      : OwnConvKernel(variant.tactic),
        variant_(variant),
        name_(std::move(name)),
        geo_(std::move(geo)),
        base_(base),
        has_z_(has_z),
        constants_(std::move(c)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(launch::Int8ConvArgs a, args_for(input_dims, output_dims));
    int blocks = 0;
    KILN_CUDA_TRY(variant_.prepare(&blocks));
    return make_prepared(name_, [a, blocks, &variant = variant_, has_z = has_z_, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> inputs,
                                    std::span<void* const> outputs) -> Status {
      launch::Int8ConvArgs args = a;
      args.x = inputs[kX];
      args.z = has_z && inputs.size() > kZ ? inputs[kZ] : nullptr;
      args.y = outputs[0];
      if (!args.x || !args.y || (has_z && !args.z)) return Status::internal("a data pointer is null");
      KILN_RETURN_IF_ERROR(check_aligned_16(variant.tactic, {args.x, args.y, args.z}));
      KILN_CUDA_TRY(variant.launch(args, blocks, ctx.stream));
      return {};
    });
  }

 private:
  Result<launch::Int8ConvArgs> args_for(std::span<const Dims> input_dims,
                                        std::span<const Dims> output_dims) const override {
    const char* tactic = variant_.tactic;
    KILN_ASSIGN_OR_RETURN(NhwcConvShape shape, nhwc_conv_shape(name_, tactic, geo_, input_dims, output_dims));
    if (has_z_ && (input_dims.size() <= kZ || input_dims[kZ] != output_dims[0]))
      return named(name_, Status::unsupported(fmt::format("{}: Z must have Y's shape {}", tactic,
                                                          dims_to_string(output_dims[0]))));
    launch::Int8ConvArgs a = base_;
    a.w = constants_->w.get();
    a.mult = static_cast<const float*>(constants_->mult.get());
    a.bias = static_cast<const float*>(constants_->bias.get());
    a.n = shape.n;
    a.h = shape.h, a.w_extent = shape.w, a.c = shape.c, a.k = shape.k;
    a.window = shape.window;
    a.pad_h = shape.pad_h, a.pad_w = shape.pad_w;
    if (!variant_.pointwise_only) flatten_pointwise(a);
    if (!variant_.supported(a))
      return named(name_, Status::unsupported(fmt::format("{} does not run this convolution (X {}: channels, window "
                                                          "or shared memory beyond its limits)", tactic,
                                                          dims_to_string(input_dims[0]))));
    return a;
  }

  const Int8Variant& variant_;
  std::string name_;
  ConvGeometry geo_;
  launch::Int8ConvArgs base_;
  bool has_z_;
  std::shared_ptr<const Int8ConvConstants> constants_;
};

// W [K, C, kh, kw] as the kernel reads it: [round_up(K, 64)][C / slice][padded taps][slice], zeros in the padding.
Tensor packed_weights(const Tensor& w, int64_t slice) {
  const int64_t k = w.dim(0), c = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t rows = (k + launch::kInt8ConvTileK - 1) / launch::kInt8ConvTileK * launch::kInt8ConvTileK;
  const int64_t slices = c / slice;
  const int64_t taps = launch::int8_conv_padded_taps(static_cast<int>(kh * kw), static_cast<int>(slice));
  Tensor packed(DataType::kI8, {rows, slices, taps, slice});
  std::memset(packed.raw(), 0, packed.byte_size());
  const int8_t* src = w.data<int8_t>();
  int8_t* dst = packed.data<int8_t>();
  for (int64_t o = 0; o < k; ++o)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t r = 0; r < kh; ++r)
        for (int64_t s = 0; s < kw; ++s)
          dst[((o * slices + ci / slice) * taps + r * kw + s) * slice + ci % slice] = src[((o * c + ci) * kh + r) * kw + s];
  return packed;
}

KernelResult make_int8_kernel(const Node& node, const Int8Variant& variant) {
  auto none = [] { return KernelResult(std::unique_ptr<CudaKernel>{}); };
  KILN_ASSIGN_OR_RETURN(std::optional<SymmetricQConv> q, read_symmetric_qconv(node));
  if (!q || node.attr_int("group", 1) != 1) return none();
  const Tensor& w = *q->w;
  const int64_t taps = w.dim(2) * w.dim(3);
  if (w.dim(1) % launch::kInt8ConvSliceChannels != 0 || w.dim(0) % 16 != 0 || taps > launch::kInt8ConvMaxTaps ||
      (variant.pointwise_only && taps != 1))
    return none();
  KILN_ASSIGN_OR_RETURN(bool nhwc, layout::is_nhwc(node));
  if (!nhwc) return none();
  auto geo = read_conv_geometry(node, w, /*nhwc=*/true);
  if (!geo.ok()) return none();  // cuDNN's kernel reports the invalid model

  // The slice depends on the window only (not on shapes): W is packed for it once.
  launch::ConvWindow window;
  window.kernel_h = static_cast<int32_t>(geo->window.kernel[0]), window.kernel_w = static_cast<int32_t>(geo->window.kernel[1]);
  window.stride_h = static_cast<int32_t>(geo->window.strides[0]), window.stride_w = static_cast<int32_t>(geo->window.strides[1]);
  launch::Int8ConvArgs base;
  const int c = static_cast<int>(w.dim(1));
  base.slice = variant.pointwise_only ? c : launch::int8_conv_slice_channels(c, window);
  auto constants = std::make_shared<Int8ConvConstants>();
  const Tensor packed = packed_weights(w, base.slice);
  KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(packed.raw(), packed.byte_size()));
  KILN_ASSIGN_OR_RETURN(constants->mult, DeviceBuffer::upload(q->mult.data(), q->mult.size() * sizeof(float)));
  if (q->has_bias) {
    KILN_ASSIGN_OR_RETURN(constants->bias,
                          DeviceBuffer::upload(q->scaled_bias.data(), q->scaled_bias.size() * sizeof(float)));
  }
  base.lo = q->lo;
  base.hi = q->hi;
  base.z_mult = q->z_mult;
  return std::unique_ptr<CudaKernel>(
      new Int8ConvKernel(variant, node.describe(), std::move(*geo), base, q->z != nullptr, std::move(constants)));
}

}  // namespace

KernelResult make_int8_conv_kernel(const Node& node, const KernelOptions&) {
  return make_int8_kernel(node, kImplicitGemm);
}

KernelResult make_int8_pointwise_kernel(const Node& node, const KernelOptions&) {
  return make_int8_kernel(node, kPointwiseGemm);
}

KernelResult make_int8_pointwise_3_blocks_kernel(const Node& node, const KernelOptions&) {
  return make_int8_kernel(node, kPointwiseGemm3Blocks);
}

}  // namespace kiln::cuda
