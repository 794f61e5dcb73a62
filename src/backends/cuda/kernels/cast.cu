// Cast between f32, f16, i32, i64, u8, i8 and bool with the reference's rules
// (src/backends/ref/elementwise_cast.cc, from_double in elementwise_util.h):
//   float -> integer: NaN -> 0, else truncate toward zero, saturate to the int64 range, then wrap to the
//                     target width (numpy's behaviour on x86);
//   integer -> integer: wrap modulo 2^bits;  integer -> f32: round to nearest;
//   integer -> f16: through double (exact for all but huge i64), rounded once to f16;
//   x -> bool: x != 0 (NaN is true);  bool -> x: 0 or 1.
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

// bool is stored as one byte; any nonzero byte reads as true, true is written as 1.
struct Bool8 {
  uint8_t v;
};

template <typename T>
constexpr bool is_int_v = std::is_integral_v<T>;

template <typename T>
__device__ __forceinline__ double as_double(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else return static_cast<double>(v);
}

// The reference's from_double for integer targets.
template <typename D>
__device__ __forceinline__ D double_to_int(double d) {
  if (isnan(d)) return D(0);
  const double t = trunc(d);
  int64_t i;
  if (t >= 9223372036854775808.0) i = INT64_MAX;
  else if (t < -9223372036854775808.0) i = INT64_MIN;
  else i = static_cast<int64_t>(t);
  return static_cast<D>(i);  // wraps to the target width (two's complement)
}

template <typename S, typename D>
__device__ __forceinline__ D convert(S s) {
  if constexpr (std::is_same_v<D, Bool8>) {
    if constexpr (std::is_same_v<S, Bool8>) return Bool8{static_cast<uint8_t>(s.v != 0)};
    else if constexpr (std::is_same_v<S, __half>) return Bool8{static_cast<uint8_t>(__half2float(s) != 0.f)};
    else return Bool8{static_cast<uint8_t>(s != S(0))};
  } else if constexpr (std::is_same_v<S, Bool8>) {
    const int one = s.v != 0 ? 1 : 0;
    if constexpr (std::is_same_v<D, __half>) return __float2half_rn(static_cast<float>(one));
    else return static_cast<D>(one);
  } else if constexpr (is_int_v<S> && is_int_v<D>) {
    return static_cast<D>(s);
  } else if constexpr (is_int_v<S> && std::is_same_v<D, float>) {
    return static_cast<float>(s);  // round to nearest (i32 / i64)
  } else if constexpr (is_int_v<S> && std::is_same_v<D, __half>) {
    return __double2half(static_cast<double>(s));
  } else if constexpr (is_int_v<D>) {  // float or half -> integer
    return double_to_int<D>(as_double(s));
  } else if constexpr (std::is_same_v<S, D>) {
    return s;
  } else if constexpr (std::is_same_v<D, __half>) {  // f32 -> f16
    return __float2half_rn(s);
  } else {  // f16 -> f32
    return __half2float(s);
  }
}

template <typename S, typename D>
__global__ void cast_kernel(const S* x, D* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = convert<S, D>(x[i]);
}

template <typename S, typename D>
cudaError_t run(const void* x, void* y, int64_t n, cudaStream_t stream) {
  cast_kernel<S, D><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const S*>(x), static_cast<D*>(y), n);
  return cudaGetLastError();
}

template <typename S>
cudaError_t run_to(ElemType to, const void* x, void* y, int64_t n, cudaStream_t stream) {
  switch (to) {
    case ElemType::kF32: return run<S, float>(x, y, n, stream);
    case ElemType::kF16: return run<S, __half>(x, y, n, stream);
    case ElemType::kI32: return run<S, int32_t>(x, y, n, stream);
    case ElemType::kI64: return run<S, int64_t>(x, y, n, stream);
    case ElemType::kU8: return run<S, uint8_t>(x, y, n, stream);
    case ElemType::kI8: return run<S, int8_t>(x, y, n, stream);
    case ElemType::kBool: return run<S, Bool8>(x, y, n, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace

cudaError_t launch_cast(ElemType from, ElemType to, const void* x, void* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  switch (from) {
    case ElemType::kF32: return run_to<float>(to, x, y, n, stream);
    case ElemType::kF16: return run_to<__half>(to, x, y, n, stream);
    case ElemType::kI32: return run_to<int32_t>(to, x, y, n, stream);
    case ElemType::kI64: return run_to<int64_t>(to, x, y, n, stream);
    case ElemType::kU8: return run_to<uint8_t>(to, x, y, n, stream);
    case ElemType::kI8: return run_to<int8_t>(to, x, y, n, stream);
    case ElemType::kBool: return run_to<Bool8>(to, x, y, n, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::launch
