// Launcher of kiln's implicit-GEMM convolution for 16 input channels (few_channel_conv.cu; plain C++17 for
// nvcc). Made for the space-to-depth stem (ResNet-50: 16 channels, 4x4 window, 64 outputs), where cuDNN's best
// f16 engine config reaches ~100 TFLOP/s (13.2 GFLOP in 0.130 ms at batch 32; this kernel: 0.081 ms) and its
// int8 ones less: each output pixel is a GEMM row of kh*kw*16 elements read straight from a patch of the NHWC
// input in shared memory, one tensor-core step per window tap in f16 (k16), one per two taps in int8 (k32).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels/conv_tiling.h"

namespace kiln::cuda::launch {

inline constexpr int kFewChannelConvChannels = 16;  ///< X's channels (exactly)
inline constexpr int kFewChannelConvMaxTaps = 16;   ///< kh * kw at most
inline constexpr int kFewChannelConvTileK = 64;     ///< output channels per block: W is padded to a multiple
inline constexpr int kFewChannelConvMaxPatchBytes = 24 * 1024;  ///< the input patch a tile reads, at most (2 buffers)

/// The element type: f16 (f32 accumulation; bias and ReLU) or symmetric int8 (int32 accumulation;
/// requantized as kiln.QConv: rint(acc * mult[k] + bias[k]) clamped to [lo, hi]).
enum class FewChannelConvType : int32_t { kF16 = 0, kI8 = 1 };
inline int few_channel_conv_element_bytes(FewChannelConvType t) { return t == FewChannelConvType::kF16 ? 2 : 1; }

/// Window taps as W is stored: kh * kw rounded up so that a row of W is a multiple of 128 bytes (f16: 4 taps
/// of 32 bytes, int8: 8 of 16); the extra taps are zero.
inline int few_channel_conv_padded_taps(FewChannelConvType type, int taps) {
  const int multiple = type == FewChannelConvType::kF16 ? 4 : 8;
  return (taps + multiple - 1) / multiple * multiple;
}

struct FewChannelConvArgs {
  FewChannelConvType type = FewChannelConvType::kF16;
  const void* x = nullptr;       ///< NHWC [n, h, w, 16] of the element type
  const void* w = nullptr;       ///< [round_up(k, 64)][padded taps][16], taps in (r, s) order; zeros beyond
  const float* bias = nullptr;   ///< f32 [k], or null (int8: B * mult, in output units)
  const float* mult = nullptr;   ///< int8: f32 [k], x_scale * w_scale[k] / y_scale
  float lo = -128.0f, hi = 127.0f;  ///< int8: the output range in quantized units (the activation folded in)
  void* y = nullptr;             ///< NHWC [n, out_h, out_w, k] of the element type
  int64_t n = 0;
  int32_t h = 0, w_extent = 0, out_h = 0, out_w = 0;
  int32_t k = 0;                 ///< output channels, a multiple of 8 (f16) or 16 (int8)
  int32_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1,
          dilation_w = 1;        ///< pad_*: the leading pads (the trailing ones follow from out_h / out_w)
  bool relu = false;             ///< f16 only
};

/// The tiling of `a`'s output (conv_tiling.h).
inline ConvWindow few_channel_conv_window(const FewChannelConvArgs& a) {
  return {a.out_h, a.out_w, a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w};
}
inline ConvTiling few_channel_conv_tiling(const FewChannelConvArgs& a) {
  return conv_tiling(few_channel_conv_window(a), few_channel_conv_element_bytes(a.type) * kFewChannelConvChannels,
                     kFewChannelConvMaxPatchBytes);
}

/// Whether the kernel runs `a` (window, channels and patch size within its limits).
inline bool few_channel_conv_supported(const FewChannelConvArgs& a) {
  const int taps = a.kernel_h * a.kernel_w;
  // Y is stored in 16-byte runs of one pixel's channels: 8 f16 or 16 int8 channels.
  const int channel_multiple = 16 / few_channel_conv_element_bytes(a.type);
  if (!valid_window(few_channel_conv_window(a)) || taps > kFewChannelConvMaxTaps || a.k <= 0 ||
      a.k % channel_multiple != 0)
    return false;
  const ConvTiling t = few_channel_conv_tiling(a);
  return t.patch_bytes() <= kFewChannelConvMaxPatchBytes &&
         conv_tile_count_fits(conv_tile_count(few_channel_conv_window(a), t, a.n));
}

/// Allows the kernel the shared memory it needs on the current device and returns how many of its blocks the
/// device holds at once (a launch spreads them over pixel and channel tiles, conv_tiling.h's igemm_grid;
/// blocks loop over pixel tiles); call before launching, not under capture.
cudaError_t prepare_few_channel_conv(int* blocks);

/// y = act(conv(x, w) + bias), f32 accumulation, `blocks` from prepare_few_channel_conv. Capturable.
cudaError_t launch_few_channel_conv(const FewChannelConvArgs& args, int blocks, cudaStream_t stream);

}  // namespace kiln::cuda::launch
