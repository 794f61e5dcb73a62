// QuantizeLinear and DequantizeLinear, bit-exact with the reference (src/backends/ref/quant.cc):
//   quantize:   v = float(x) / scale (IEEE float division, as onnxruntime divides rather than multiplying by
//               1/scale); q = rint(v) (half to even, the default rounding mode of the reference's
//               std::nearbyint) + zero_point, saturated to y's range; NaN gives the saturated zero point.
//               The reference adds and clamps in double; float gives the same integers: rint(v) + zp is exact
//               below 2^24, and anything larger saturates either way (inf included).
//   dequantize: y = float(int64(x) - zero_point) * scale in float (one rounding each, no FMA), rounded once
//               to f16 for an f16 output.
// Scales and zero points are device arrays (one element per tensor, or one per index of the axis).
#include <cuda_fp16.h>

#include <limits>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

template <bool kPerAxis>
__device__ __forceinline__ int64_t param_index(int64_t i, QuantAxis axis) {
  if constexpr (kPerAxis) return (i / axis.inner) % axis.axis_dim;
  else return 0;
}

template <typename X, typename Y, bool kPerAxis>
__global__ void quantize_kernel(const X* x, Y* y, int64_t n, const float* scale, const int32_t* zero_point,
                                QuantAxis axis) {
  constexpr float kLo = std::numeric_limits<Y>::lowest(), kHi = std::numeric_limits<Y>::max();
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const int64_t p = param_index<kPerAxis>(i, axis);
    const float zp = static_cast<float>(zero_point[p]);
    const float v = __fdiv_rn(to_float(x[i]), scale[p]);
    // fmaxf / fminf would drop a NaN (returning the bound), so NaN is handled first.
    const float q = isnan(v) ? zp : rintf(v) + zp;
    y[i] = static_cast<Y>(__float2int_rn(fminf(fmaxf(q, kLo), kHi)));
  }
}

template <typename X, typename Y, bool kPerAxis>
__global__ void dequantize_kernel(const X* x, Y* y, int64_t n, const float* scale, const int32_t* zero_point,
                                  QuantAxis axis) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const int64_t p = param_index<kPerAxis>(i, axis);
    const int64_t diff = static_cast<int64_t>(x[i]) - static_cast<int64_t>(zero_point[p]);
    y[i] = from_float<Y>(__fmul_rn(__ll2float_rn(diff), scale[p]));
  }
}

template <typename X, typename Y>
cudaError_t run_quantize(const void* x, void* y, int64_t n, const float* scale, const int32_t* zp, QuantAxis axis,
                         cudaStream_t stream) {
  const X* xp = static_cast<const X*>(x);
  Y* yp = static_cast<Y*>(y);
  if (axis.axis_dim > 1)
    quantize_kernel<X, Y, true><<<blocks_for(n), kThreads, 0, stream>>>(xp, yp, n, scale, zp, axis);
  else
    quantize_kernel<X, Y, false><<<blocks_for(n), kThreads, 0, stream>>>(xp, yp, n, scale, zp, axis);
  return cudaGetLastError();
}

template <typename X, typename Y>
cudaError_t run_dequantize(const void* x, void* y, int64_t n, const float* scale, const int32_t* zp, QuantAxis axis,
                           cudaStream_t stream) {
  const X* xp = static_cast<const X*>(x);
  Y* yp = static_cast<Y*>(y);
  if (axis.axis_dim > 1)
    dequantize_kernel<X, Y, true><<<blocks_for(n), kThreads, 0, stream>>>(xp, yp, n, scale, zp, axis);
  else
    dequantize_kernel<X, Y, false><<<blocks_for(n), kThreads, 0, stream>>>(xp, yp, n, scale, zp, axis);
  return cudaGetLastError();
}

template <typename X>
cudaError_t quantize_to(ElemType y_type, const void* x, void* y, int64_t n, const float* scale, const int32_t* zp,
                        QuantAxis axis, cudaStream_t stream) {
  switch (y_type) {
    case ElemType::kI8: return run_quantize<X, int8_t>(x, y, n, scale, zp, axis, stream);
    case ElemType::kU8: return run_quantize<X, uint8_t>(x, y, n, scale, zp, axis, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <typename X>
cudaError_t dequantize_to(ElemType y_type, const void* x, void* y, int64_t n, const float* scale, const int32_t* zp,
                          QuantAxis axis, cudaStream_t stream) {
  switch (y_type) {
    case ElemType::kF32: return run_dequantize<X, float>(x, y, n, scale, zp, axis, stream);
    case ElemType::kF16: return run_dequantize<X, __half>(x, y, n, scale, zp, axis, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t launch_quantize(ElemType x_type, ElemType y_type, const void* x, void* y, int64_t n, const float* scale,
                            const int32_t* zero_point, QuantAxis axis, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (axis.axis_dim < 1 || axis.inner < 1) return cudaErrorInvalidValue;
  switch (x_type) {
    case ElemType::kF32: return quantize_to<float>(y_type, x, y, n, scale, zero_point, axis, stream);
    case ElemType::kF16: return quantize_to<__half>(y_type, x, y, n, scale, zero_point, axis, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_dequantize(ElemType x_type, ElemType y_type, const void* x, void* y, int64_t n, const float* scale,
                              const int32_t* zero_point, QuantAxis axis, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (axis.axis_dim < 1 || axis.inner < 1) return cudaErrorInvalidValue;
  switch (x_type) {
    case ElemType::kI8: return dequantize_to<int8_t>(y_type, x, y, n, scale, zero_point, axis, stream);
    case ElemType::kU8: return dequantize_to<uint8_t>(y_type, x, y, n, scale, zero_point, axis, stream);
    case ElemType::kI32: return dequantize_to<int32_t>(y_type, x, y, n, scale, zero_point, axis, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::launch
