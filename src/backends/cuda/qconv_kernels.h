// Helper kernels of the cuDNN int8 convolution (cudnn_qconv.cc), for what cuDNN's int8 engines cannot do.
//
// C++17 with CUDA headers only (nvcc compiles qconv_kernels.cu, which must not include kiln's C++20 headers).
// Both launchers are capturable (no synchronization, no allocation) and return the launch error.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

/// Channels-last int8 rows [rows, channels] copied into [rows, padded_channels] with the extra channels 0:
/// cuDNN's int8 convolutions want the input channels a multiple of 4 (e.g. an RGB stem).
cudaError_t launch_pad_channels_i8(const int8_t* x, int8_t* y, int64_t rows, int64_t channels,
                                   int64_t padded_channels, cudaStream_t stream);

/// Requantization of a channels-last f32 accumulator (the exact int32 sum, held in f32) into int8:
///   y[i] = clamp(round_half_even(acc[i] * mult[c] + bias[c] + z[i] * z_mult), lo, hi),  c = i % channels
/// with bias and z optional (null). lo/hi are the activation's range in quantized units (within [-128, 127]).
struct RequantArgs {
  const float* acc = nullptr;
  const float* mult = nullptr;
  const float* bias = nullptr;
  const int8_t* z = nullptr;
  float z_mult = 0.0f;
  int8_t* y = nullptr;
  int64_t count = 0;
  int64_t channels = 1;
  float lo = -128.0f, hi = 127.0f;
};
cudaError_t launch_requantize_i8(const RequantArgs& args, cudaStream_t stream);

}  // namespace kiln::cuda
