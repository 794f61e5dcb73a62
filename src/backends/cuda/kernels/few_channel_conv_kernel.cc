// kiln.FusedConv (f16) and kiln.QConv (symmetric int8) over 16 input channels as kiln's own implicit GEMM
// (few_channel_conv.cu): the space-to-depth stem, where cuDNN's best f16 engine config at batch 32 on the H100
// runs 0.13 ms for 13.2 GFLOP (this kernel: 0.081 ms). Offered by make_conv_kernel / make_qconv_kernel as a
// tactic ("cuda:few_channel_igemm") that competes with cuDNN's at build time.
//
// Runs: NHWC, group 1, 2-D, X with exactly 16 channels, at most 16 window taps, a multiple of 8 (f16) or 16
// (int8) output channels, no residual input. f16: X / W / Y f16, a constant bias (or none), ReLU or no
// activation. int8: kiln's INT8 scheme (read_symmetric_qconv), any activation it folds into the output
// range. Strides, pads and dilations whose input patch per 128-pixel tile fits in 24 KB (two are staged).
// Anything else gets no kernel (or, where only the shapes rule it out, is not offered at them).
#include <fmt/format.h>

#include <cstring>

#include "backends/cuda/cudnn_conv_shapes.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/fused_activation.h"
#include "backends/cuda/kernels/few_channel_conv.h"
#include "backends/cuda/kernels/igemm_shapes.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/kernels/quant_util.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

constexpr const char* kTactic = kFewChannelTactic;

struct FewChannelConstants {
  DeviceBuffer w;     // [round_up(K, 64)][padded taps][16] of the element type
  DeviceBuffer bias;  // f32 [K], or empty (int8: B * mult)
  DeviceBuffer mult;  // int8: f32 [K]
};

class FewChannelConvKernel final : public OwnConvKernel<launch::FewChannelConvArgs> {
 public:
  /// `base`: the element type and the epilogue's parameters (relu; lo, hi), the rest is filled at prepare.
  FewChannelConvKernel(std::string name, ConvGeometry geo, launch::FewChannelConvArgs base,
                       std::shared_ptr<const FewChannelConstants> c)
      : OwnConvKernel(kTactic), name_(std::move(name)), geo_(std::move(geo)), base_(base), constants_(std::move(c)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(launch::FewChannelConvArgs a, args_for(input_dims, output_dims));
    int blocks = 0;
    KILN_CUDA_TRY(launch::prepare_few_channel_conv(&blocks));
    return make_prepared(name_, [a, blocks, constants = constants_](const LaunchContext& ctx,
                                                                   std::span<void* const> inputs,
                                                                   std::span<void* const> outputs) -> Status {
      launch::FewChannelConvArgs args = a;
      args.x = inputs[0];
      args.y = outputs[0];
      if (!args.x || !args.y) return Status::internal("a data pointer is null");
      KILN_RETURN_IF_ERROR(check_aligned_16(kTactic, {args.x, args.y}));
      KILN_CUDA_TRY(launch::launch_few_channel_conv(args, blocks, ctx.stream));
      return {};
    });
  }

 private:
  // The launch arguments at these shapes (all but the data pointers); unsupported where the kernel does not run
  // them.
  Result<launch::FewChannelConvArgs> args_for(std::span<const Dims> input_dims,
                                              std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(NhwcConvShape shape, nhwc_conv_shape(name_, kTactic, geo_, input_dims, output_dims));
    if (shape.c != launch::kFewChannelConvChannels)
      return named(name_, Status::shape_mismatch(fmt::format("X {} does not have {} channels",
                                                             dims_to_string(input_dims[0]),
                                                             launch::kFewChannelConvChannels)));
    launch::FewChannelConvArgs a = base_;
    a.w = constants_->w.get();
    a.bias = static_cast<const float*>(constants_->bias.get());
    a.mult = static_cast<const float*>(constants_->mult.get());
    a.n = shape.n;
    a.h = shape.h, a.w_extent = shape.w, a.k = shape.k;
    const launch::ConvWindow& win = shape.window;
    a.out_h = win.out_h, a.out_w = win.out_w;
    a.kernel_h = win.kernel_h, a.kernel_w = win.kernel_w;
    a.stride_h = win.stride_h, a.stride_w = win.stride_w;
    a.dilation_h = win.dilation_h, a.dilation_w = win.dilation_w;
    a.pad_h = shape.pad_h, a.pad_w = shape.pad_w;
    if (!launch::few_channel_conv_supported(a))
      return named(name_, Status::unsupported(fmt::format("{} does not run this window (its input patch would "
                                                          "exceed {} bytes)", kTactic,
                                                          launch::kFewChannelConvMaxPatchBytes)));
    return a;
  }

  std::string name_;
  ConvGeometry geo_;
  launch::FewChannelConvArgs base_;
  std::shared_ptr<const FewChannelConstants> constants_;
};

// W [K, 16, kh, kw] as the kernel reads it: [round_up(K, 64)][padded taps][16], zeros in the padding: cuDNN's
// KRSC order (to_krsc) with each output channel's row padded.
Tensor packed_weights(const Tensor& w, int padded_taps) {
  const int64_t k = w.dim(0), c = w.dim(1), taps = w.dim(2) * w.dim(3);
  const int64_t rows = (k + launch::kFewChannelConvTileK - 1) / launch::kFewChannelConvTileK *
                       launch::kFewChannelConvTileK;
  Tensor packed(w.dtype(), {rows, padded_taps, c});
  std::memset(packed.raw(), 0, packed.byte_size());
  const Tensor krsc = to_krsc(w);
  const size_t row_bytes = static_cast<size_t>(taps * c) * dtype_size(w.dtype());
  for (int64_t o = 0; o < k; ++o)
    std::memcpy(static_cast<char*>(packed.raw()) + o * padded_taps * c * dtype_size(w.dtype()),
                static_cast<const char*>(krsc.raw()) + o * row_bytes, row_bytes);
  return packed;
}

// Whether W [K, C, kh, kw] has the kernel's shape: 16 channels, at most 16 taps, K a multiple of `k_multiple`.
bool runs_weights(const Tensor& w, int64_t k_multiple) {
  return w.rank() == 4 && w.dim(1) == launch::kFewChannelConvChannels && w.dim(0) % k_multiple == 0 &&
         w.dim(2) * w.dim(3) <= launch::kFewChannelConvMaxTaps;
}

// The kernel for a node already checked, with its constants uploaded.
KernelResult make_kernel(const Node& node, const Tensor& w, launch::FewChannelConvArgs base,
                         std::shared_ptr<FewChannelConstants> constants) {
  auto geo = read_conv_geometry(node, w, /*nhwc=*/true);
  if (!geo.ok()) return std::unique_ptr<CudaKernel>{};  // the library kernel reports the invalid model
  const int taps = static_cast<int>(w.dim(2) * w.dim(3));
  const Tensor packed = packed_weights(w, launch::few_channel_conv_padded_taps(base.type, taps));
  KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(packed.raw(), packed.byte_size()));
  return std::unique_ptr<CudaKernel>(
      new FewChannelConvKernel(node.describe(), std::move(*geo), base, std::move(constants)));
}

}  // namespace

KernelResult make_few_channel_conv_kernel(const Node& node, const KernelOptions&) {
  auto none = [] { return KernelResult(std::unique_ptr<CudaKernel>{}); };
  if (node.domain != "kiln" || node.op_type != "FusedConv" || node.attr_string("layout", "NCHW") != "NHWC") return none();
  const Value* x = input_value(node, 0);
  const Value* w = input_value(node, 1);
  const Value* b = input_value(node, 2);
  if (!x || !w || !w->is_constant() || !node.has_output(0) || input_value(node, 3) || (b && !b->is_constant()))
    return none();
  if (x->type.dtype != DataType::kF16 || w->type.dtype != DataType::kF16 || node.outputs[0]->type.dtype != DataType::kF16)
    return none();
  const Tensor& wt = *w->constant;
  if (!runs_weights(wt, 8) || node.attr_int("group", 1) != 1) return none();
  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act || (act->kind != EpilogueActivation::kNone && act->kind != EpilogueActivation::kRelu)) return none();

  auto constants = std::make_shared<FewChannelConstants>();
  if (b) {
    const Tensor& bt = *b->constant;
    if (bt.size() != wt.dim(0))
      return Status::invalid_model(fmt::format("{}: bias B is {}, expected [{}]", node.describe(), bt.type_string(),
                                               wt.dim(0)));
    std::vector<float> bias(static_cast<size_t>(bt.size()));
    for (int64_t i = 0; i < bt.size(); ++i) bias[static_cast<size_t>(i)] = static_cast<float>(bt.element_as_double(i));
    KILN_ASSIGN_OR_RETURN(constants->bias, DeviceBuffer::upload(bias.data(), bias.size() * sizeof(float)));
  }
  launch::FewChannelConvArgs base;
  base.type = launch::FewChannelConvType::kF16;
  base.relu = act->kind == EpilogueActivation::kRelu;
  return make_kernel(node, wt, base, std::move(constants));
}

KernelResult make_few_channel_qconv_kernel(const Node& node, const KernelOptions&) {
  auto none = [] { return KernelResult(std::unique_ptr<CudaKernel>{}); };
  KILN_ASSIGN_OR_RETURN(std::optional<SymmetricQConv> q, read_symmetric_qconv(node));
  if (!q || q->z || !runs_weights(*q->w, 16) || node.attr_int("group", 1) != 1) return none();
  KILN_ASSIGN_OR_RETURN(bool nhwc, layout::is_nhwc(node));
  if (!nhwc) return none();
  auto constants = std::make_shared<FewChannelConstants>();
  if (q->has_bias) {
    KILN_ASSIGN_OR_RETURN(constants->bias,
                          DeviceBuffer::upload(q->scaled_bias.data(), q->scaled_bias.size() * sizeof(float)));
  }
  KILN_ASSIGN_OR_RETURN(constants->mult, DeviceBuffer::upload(q->mult.data(), q->mult.size() * sizeof(float)));
  launch::FewChannelConvArgs base;
  base.type = launch::FewChannelConvType::kI8;
  base.lo = q->lo;
  base.hi = q->hi;
  return make_kernel(node, *q->w, base, std::move(constants));
}

}  // namespace kiln::cuda
