// kiln.FusedConv over 16 input channels as kiln's own implicit GEMM (few_channel_conv.cu): the space-to-depth
// stem, where cuDNN's best engine config at batch 32 on the H100 runs 0.13 ms for 13.2 GFLOP. Offered by
// make_conv_kernel as a tactic ("cuda:few_channel_igemm") that competes with cuDNN's at build time.
//
// Runs: NHWC, f16 X / W / Y, group 1, 2-D, X with exactly 16 channels, at most 16 window taps, a multiple of
// 8 output channels, a constant bias (or none), ReLU or no activation, no residual input; strides, pads and
// dilations whose input patch per 128-pixel tile fits in 24 KB (two are staged). Anything else gets no kernel
// (or, where only the shapes rule it out, is not offered at them).
#include <fmt/format.h>

#include <cstring>

#include "backends/cuda/cudnn_conv_shapes.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/fused_activation.h"
#include "backends/cuda/kernels/few_channel_conv.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

constexpr const char* kTactic = "cuda:few_channel_igemm";

struct FewChannelConstants {
  DeviceBuffer w;     // f16 [round_up(K, 64)][padded taps][16]
  DeviceBuffer bias;  // f32 [K], or empty
};

class FewChannelConvKernel final : public CudaKernel {
 public:
  FewChannelConvKernel(std::string name, ConvGeometry geo, bool relu, std::shared_ptr<const FewChannelConstants> c)
      : name_(std::move(name)), geo_(std::move(geo)), relu_(relu), constants_(std::move(c)) {}

  std::string tactic() const override { return kTactic; }

  // Offered where the kernel runs these shapes (its patch fits).
  Result<std::vector<std::string>> candidate_tactics(const LaunchContext&, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    auto args = args_for(input_dims, output_dims);
    if (!args.ok()) return args.status();
    return std::vector<std::string>{kTactic};
  }

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
      // 16-byte copies and stores (cp.async, uint4): a misaligned tensor is refused, never misread.
      if (reinterpret_cast<uintptr_t>(args.x) % 16 != 0 || reinterpret_cast<uintptr_t>(args.y) % 16 != 0)
        return Status::internal(fmt::format("{} needs X and Y 16-byte aligned (X at {}, Y at {})", kTactic, args.x,
                                            args.y));
      KILN_CUDA_TRY(launch::launch_few_channel_conv(args, blocks, ctx.stream));
      return {};
    });
  }

 private:
  // The launch arguments at these shapes (all but the data pointers); unsupported where the kernel does not run
  // them.
  Result<launch::FewChannelConvArgs> args_for(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    if (input_dims.empty() || output_dims.empty()) return named(name_, Status::internal("prepare needs the shapes"));
    const Dims& x = input_dims[0];
    if (x.size() != 4 || x[3] != launch::kFewChannelConvChannels)
      return named(name_, Status::shape_mismatch(fmt::format("X {} is not NHWC with {} channels", dims_to_string(x),
                                                             launch::kFewChannelConvChannels)));
    auto window = window_geometry(geo_.window, Dims{x[1], x[2]});
    if (!window.ok()) return named(name_, Status::invalid_argument(window.status().message()));
    const int64_t k = geo_.w_dims[0];
    const Dims expected{x[0], window->out[0], window->out[1], k};
    if (output_dims[0] != expected)
      return named(name_, Status::shape_mismatch(fmt::format("the output is {}, expected {}",
                                                             dims_to_string(output_dims[0]), dims_to_string(expected))));
    constexpr int64_t kMaxExtent = int64_t{1} << 30;  // the kernel indexes rows and columns in 32 bits
    if (x[1] > kMaxExtent || x[2] > kMaxExtent)
      return named(name_, Status::unsupported(fmt::format("X {} is too large for {}", dims_to_string(x), kTactic)));
    launch::FewChannelConvArgs a;
    a.w = constants_->w.get();
    a.bias = static_cast<const float*>(constants_->bias.get());
    a.n = x[0];
    a.h = static_cast<int32_t>(x[1]), a.w_extent = static_cast<int32_t>(x[2]);
    a.out_h = static_cast<int32_t>(window->out[0]), a.out_w = static_cast<int32_t>(window->out[1]);
    a.k = static_cast<int32_t>(k);
    const WindowAttrs& wa = geo_.window;
    a.kernel_h = static_cast<int32_t>(wa.kernel[0]), a.kernel_w = static_cast<int32_t>(wa.kernel[1]);
    a.stride_h = static_cast<int32_t>(wa.strides[0]), a.stride_w = static_cast<int32_t>(wa.strides[1]);
    a.dilation_h = static_cast<int32_t>(wa.dilations[0]), a.dilation_w = static_cast<int32_t>(wa.dilations[1]);
    a.pad_h = static_cast<int32_t>(window->pads[0]), a.pad_w = static_cast<int32_t>(window->pads[1]);
    a.relu = relu_;
    if (!launch::few_channel_conv_supported(a))
      return named(name_, Status::unsupported(fmt::format("{} does not run this window (its input patch would "
                                                          "exceed {} bytes)", kTactic,
                                                          launch::kFewChannelConvMaxPatchBytes)));
    return a;
  }

  std::string name_;
  ConvGeometry geo_;
  bool relu_;
  std::shared_ptr<const FewChannelConstants> constants_;
};

// W [K, 16, kh, kw] (f16) as the kernel reads it: [round_up(K, 64)][padded taps][16], zeros in the padding.
Tensor packed_weights(const Tensor& w, int padded_taps) {
  const int64_t k = w.dim(0), c = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t rows = (k + launch::kFewChannelConvTileK - 1) / launch::kFewChannelConvTileK *
                       launch::kFewChannelConvTileK;
  Tensor packed(DataType::kF16, {rows, padded_taps, c});
  std::memset(packed.raw(), 0, packed.byte_size());
  const auto* src = static_cast<const uint16_t*>(w.raw());
  auto* dst = static_cast<uint16_t*>(packed.raw());
  for (int64_t o = 0; o < k; ++o)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t r = 0; r < kh; ++r)
        for (int64_t s = 0; s < kw; ++s)
          dst[(o * padded_taps + r * kw + s) * c + ci] = src[((o * c + ci) * kh + r) * kw + s];
  return packed;
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
  if (wt.rank() != 4 || wt.dim(1) != launch::kFewChannelConvChannels || wt.dim(0) % 8 != 0 ||
      wt.dim(2) * wt.dim(3) > launch::kFewChannelConvMaxTaps || node.attr_int("group", 1) != 1)
    return none();
  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act || (act->kind != EpilogueActivation::kNone && act->kind != EpilogueActivation::kRelu)) return none();
  auto geo = read_conv_geometry(node, wt, /*nhwc=*/true);
  if (!geo.ok()) return none();  // cuDNN's kernel reports the invalid model

  auto constants = std::make_shared<FewChannelConstants>();
  const Tensor packed = packed_weights(wt, launch::few_channel_conv_padded_taps(static_cast<int>(wt.dim(2) * wt.dim(3))));
  KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(packed.raw(), packed.byte_size()));
  if (b) {
    const Tensor& bt = *b->constant;
    if (bt.size() != wt.dim(0))
      return Status::invalid_model(fmt::format("{}: bias B is {}, expected [{}]", node.describe(), bt.type_string(),
                                               wt.dim(0)));
    std::vector<float> bias(static_cast<size_t>(bt.size()));
    for (int64_t i = 0; i < bt.size(); ++i) bias[static_cast<size_t>(i)] = static_cast<float>(bt.element_as_double(i));
    KILN_ASSIGN_OR_RETURN(constants->bias, DeviceBuffer::upload(bias.data(), bias.size() * sizeof(float)));
  }
  return std::unique_ptr<CudaKernel>(
      new FewChannelConvKernel(node.describe(), std::move(*geo), act->kind == EpilogueActivation::kRelu, std::move(constants)));
}

}  // namespace kiln::cuda
