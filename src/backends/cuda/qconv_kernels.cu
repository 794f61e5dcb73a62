// Helper kernels of the cuDNN int8 convolution (see qconv_kernels.h).
#include "backends/cuda/qconv_kernels.h"

#include <algorithm>

namespace kiln::cuda {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)); }

__global__ void pad_channels_kernel(const int8_t* x, int8_t* y, int64_t rows, int64_t channels, int64_t padded) {
  const int64_t total = rows * padded;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t r = i / padded, c = i % padded;
    y[i] = c < channels ? x[r * channels + c] : int8_t{0};
  }
}

__global__ void requantize_kernel(RequantArgs a) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < a.count; i += stride) {
    const int64_t c = i % a.channels;
    float t = a.acc[i] * a.mult[c];
    if (a.bias) t += a.bias[c];
    if (a.z) t += static_cast<float>(a.z[i]) * a.z_mult;
    // rintf rounds half to even (the default rounding mode), as ONNX QuantizeLinear; NaN cannot occur (the
    // accumulator is an integer and the multipliers are finite).
    t = fminf(fmaxf(rintf(t), a.lo), a.hi);
    a.y[i] = static_cast<int8_t>(t);
  }
}

}  // namespace

cudaError_t launch_pad_channels_i8(const int8_t* x, int8_t* y, int64_t rows, int64_t channels,
                                   int64_t padded_channels, cudaStream_t stream) {
  const int64_t total = rows * padded_channels;
  if (total == 0) return cudaSuccess;
  pad_channels_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, y, rows, channels, padded_channels);
  return cudaGetLastError();
}

cudaError_t launch_requantize_i8(const RequantArgs& args, cudaStream_t stream) {
  if (args.count == 0) return cudaSuccess;
  requantize_kernel<<<blocks_for(args.count), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace kiln::cuda
