// Launcher of kiln's implicit-GEMM convolution for 16 input channels (few_channel_conv.cu; plain C++17 for
// nvcc). Made for the space-to-depth stem (ResNet-50: 16 channels, 4x4 window, 64 outputs), where cuDNN's best
// engine config reaches ~100 TFLOP/s (13.2 GFLOP in 0.130 ms at batch 32; this kernel: 0.081 ms): each output
// pixel is a GEMM row of kh*kw*16 elements, one 16-element tensor-core step per window tap, read straight from
// a patch of the NHWC input in shared memory.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda::launch {

inline constexpr int kFewChannelConvChannels = 16;  ///< X's channels (exactly)
inline constexpr int kFewChannelConvMaxTaps = 16;   ///< kh * kw at most
inline constexpr int kFewChannelConvTileK = 64;     ///< output channels per block: W is padded to a multiple
inline constexpr int kFewChannelConvTilePixels = 128;      ///< output pixels per tile (tile_h x tile_w)
inline constexpr int kFewChannelConvMaxPatchBytes = 24 * 1024;  ///< the input patch a tile reads, at most (2 buffers)

/// Window taps as W is stored: kh * kw rounded up to a multiple of 4 (the extra taps are zero).
inline int few_channel_conv_padded_taps(int taps) { return (taps + 3) / 4 * 4; }

struct FewChannelConvArgs {
  const void* x = nullptr;       ///< f16 NHWC [n, h, w, 16]
  const void* w = nullptr;       ///< f16 [round_up(k, 64)][padded taps][16], taps in (r, s) order; zeros beyond
  const float* bias = nullptr;   ///< f32 [k], or null
  void* y = nullptr;             ///< f16 NHWC [n, out_h, out_w, k]
  int64_t n = 0;
  int32_t h = 0, w_extent = 0, out_h = 0, out_w = 0;
  int32_t k = 0;                 ///< output channels, a multiple of 8
  int32_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1,
          dilation_w = 1;        ///< pad_*: the leading pads (the trailing ones follow from out_h / out_w)
  bool relu = false;
};

/// How the output is tiled: tile_h x tile_w = kFewChannelConvTilePixels output pixels, tile_w a power of two
/// from 8 to 128 chosen to cover out_h x out_w with the fewest wasted pixels, then the smallest input patch (a
/// 112x112 output: tiles of 16 rows x 8 columns, no waste, a 19 x 11 pixel patch at a 4x4 stride-1 window);
/// and the input patch such a tile reads.
struct FewChannelConvTiling {
  int tile_h = 1, tile_w = 1, log2_tile_w = 0;
  int patch_h = 1, patch_w = 1;
  int patch_bytes() const { return patch_h * patch_w * kFewChannelConvChannels * 2; }
};
inline FewChannelConvTiling few_channel_conv_tiling(const FewChannelConvArgs& a) {
  FewChannelConvTiling best;
  int64_t best_pixels = -1;
  for (int log2_w = 3; (1 << log2_w) <= kFewChannelConvTilePixels; ++log2_w) {
    FewChannelConvTiling t;
    t.log2_tile_w = log2_w;
    t.tile_w = 1 << log2_w;
    t.tile_h = kFewChannelConvTilePixels / t.tile_w;
    t.patch_h = (t.tile_h - 1) * a.stride_h + (a.kernel_h - 1) * a.dilation_h + 1;
    t.patch_w = (t.tile_w - 1) * a.stride_w + (a.kernel_w - 1) * a.dilation_w + 1;
    const int64_t pixels = static_cast<int64_t>((a.out_h + t.tile_h - 1) / t.tile_h) * t.tile_h *
                           ((a.out_w + t.tile_w - 1) / t.tile_w) * t.tile_w;
    if (best_pixels < 0 || pixels < best_pixels ||
        (pixels == best_pixels && t.patch_bytes() < best.patch_bytes())) {
      best = t;
      best_pixels = pixels;
    }
  }
  return best;
}

/// Whether the kernel runs `a` (window, channels and patch size within its limits).
inline bool few_channel_conv_supported(const FewChannelConvArgs& a) {
  const int taps = a.kernel_h * a.kernel_w;
  if (a.kernel_h < 1 || a.kernel_w < 1 || taps > kFewChannelConvMaxTaps || a.k <= 0 || a.k % 8 != 0) return false;
  if (a.stride_h < 1 || a.stride_w < 1 || a.dilation_h < 1 || a.dilation_w < 1) return false;
  return few_channel_conv_tiling(a).patch_bytes() <= kFewChannelConvMaxPatchBytes;
}

/// Allows the kernel the shared memory it needs on the current device and returns how many blocks to launch
/// along the output pixels there (the kernel loops over tiles); call before launching, not under capture.
cudaError_t prepare_few_channel_conv(int* blocks);

/// y = act(conv(x, w) + bias), f32 accumulation, `blocks` from prepare_few_channel_conv. Capturable.
cudaError_t launch_few_channel_conv(const FewChannelConvArgs& args, int blocks, cudaStream_t stream);

}  // namespace kiln::cuda::launch
