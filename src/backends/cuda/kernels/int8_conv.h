// Launcher of kiln's int8 implicit-GEMM convolution (int8_conv.cu; plain C++17 for nvcc) for kiln.QConv in
// NHWC with a multiple of 64 input channels: ResNet-50 past its stem, where cuDNN 9's int8 engines on the H100
// run a layer in about the time of its f16 ones. Output pixels are GEMM rows read straight from an input
// patch in shared memory (no im2col), 64 input channels at a time; kiln.QConv's requantization (per-channel
// multiplier, bias, residual, clamp) is the epilogue.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels/conv_tiling.h"

namespace kiln::cuda::launch {

inline constexpr int kInt8ConvSliceChannels = 64;  ///< the smallest channel slice (X's channels: a multiple)
inline constexpr int kInt8ConvMaxTaps = 9;         ///< kh * kw at most (3x3)
inline constexpr int kInt8ConvTileK = 64;          ///< output channels per block: W is padded to a multiple
inline constexpr int kInt8ConvMaxSharedBytes = 200 * 1024;  ///< what a block may use (one block per SM then)

/// Input channels per pipeline step for `c` channels and window `w`: stride-1 1x1 convolutions take 256 or 128
/// at a time when c allows (a step is one barrier; 64 channels of a 1x1 are only two k-steps of work), others
/// 64 (W's slice is taps x 64 bytes per output channel; a strided patch holds pixels it skips).
inline int int8_conv_slice_channels(int c, const ConvWindow& w) {
  const bool pointwise = w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1;
  if (pointwise && c % 256 == 0) return 256;
  if (pointwise && c % 128 == 0) return 128;
  return kInt8ConvSliceChannels;
}

/// Window taps as W is stored: kh * kw rounded up so that one output channel's W slice is a multiple of 128
/// bytes (64-channel slices: an even tap count; the extra tap is zero and never computed).
inline int int8_conv_padded_taps(int taps, int slice_channels) {
  const int chunks = slice_channels / 16;  // per tap
  int padded = taps;
  while (padded * chunks % 8 != 0) ++padded;
  return padded;
}

struct Int8ConvArgs {
  const void* x = nullptr;      ///< i8 NHWC [n, h, w, c]
  const void* w = nullptr;      ///< i8 [round_up(k, 64)][c / slice][padded taps][slice], taps in (r, s) order
  const float* mult = nullptr;  ///< f32 [k]: x_scale * w_scale[k] / y_scale
  const float* bias = nullptr;  ///< f32 [k]: B * mult, or null
  const void* z = nullptr;      ///< i8 NHWC [n, out_h, out_w, k] residual, or null
  float z_mult = 0.0f;          ///< z_scale / y_scale
  float lo = -128.0f, hi = 127.0f;  ///< the output range in quantized units (the activation folded in)
  void* y = nullptr;            ///< i8 NHWC [n, out_h, out_w, k]
  int64_t n = 0;
  int32_t h = 0, w_extent = 0, c = 0, k = 0;  ///< k: a multiple of 16
  int32_t slice = kInt8ConvSliceChannels;     ///< int8_conv_slice_channels(c, window): how W was packed
  ConvWindow window;
  int32_t pad_h = 0, pad_w = 0;  ///< the leading pads
};

/// The tiling of `a`'s output and the shared memory a block then needs.
ConvTiling int8_conv_tiling(const Int8ConvArgs& a);
size_t int8_conv_shared_bytes(const Int8ConvArgs& a);

/// Whether the kernel runs `a` (channels, window and shared memory within its limits).
bool int8_conv_supported(const Int8ConvArgs& a);

/// Allows the kernel the shared memory it may need on the current device and returns how many of its blocks
/// the device holds at once (a launch spreads them over pixel and channel tiles, conv_tiling.h's igemm_grid;
/// blocks loop over pixel tiles); call before launching, not under capture.
cudaError_t prepare_int8_conv(int* blocks);

/// y = requantize(conv(x, w)), `blocks` from prepare_int8_conv. Capturable.
cudaError_t launch_int8_conv(const Int8ConvArgs& args, int blocks, cudaStream_t stream);

}  // namespace kiln::cuda::launch
