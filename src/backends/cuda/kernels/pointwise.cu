// Pointwise kernels: the unary ops and kiln.ElementwiseChain, one launch per node.
//
// Each step matches the reference kernel (src/backends/ref/elementwise.cc, fused.cc): math in float for f32
// and f16, Pow and Shrink in double, the f16 result rounded once per step. Where the reference's C++ could
// not contract a*b+c into an FMA, the explicit __f*_rn intrinsics keep nvcc from doing it either.
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

// v rounded to the element type (the value the reference would have stored), back as float.
template <typename T>
__device__ __forceinline__ float round_f(float v) {
  return to_float(from_float<T>(v));
}
template <typename T>
__device__ __forceinline__ float round_d(double v) {
  return to_float(from_double<T>(v));
}

__device__ __forceinline__ float quiet_nan() { return __int_as_float(0x7fc00000); }

__device__ __forceinline__ float softplus(float v) {
  return v > 0.f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

// std::max(0, std::min(1, y)) as the reference evaluates it: NaN gives 1 (min(1, NaN) is 1). The NaN case
// is explicit because nvcc turns the clamp into a saturating instruction, which maps NaN to 0.
__device__ __forceinline__ float clamp01(float y) {
  if (isnan(y)) return 1.f;
  float m = y < 1.f ? y : 1.f;
  return 0.f < m ? m : 0.f;
}

// Max/Min of the reference's variadic fold: NaN if either is NaN, else std::max(a, b) / std::min(a, b).
__device__ __forceinline__ float fold_max(float a, float b) {
  if (isnan(a) || isnan(b)) return quiet_nan();
  return a < b ? b : a;
}
__device__ __forceinline__ float fold_min(float a, float b) {
  if (isnan(a) || isnan(b)) return quiet_nan();
  return b < a ? b : a;
}

// One chain step on v (already a value of T), returning the value the reference stores, as float.
template <typename T>
__device__ float apply_step(const PointStep& s, float v) {
  const float p0 = s.p0, p1 = s.p1;
  switch (s.op) {
    case PointOp::kRelu: return v > 0.f ? v : 0.f;
    case PointOp::kLeakyRelu: return round_f<T>(v < 0.f ? p0 * v : v);
    case PointOp::kElu: return round_f<T>(v < 0.f ? p0 * expm1f(v) : v);
    case PointOp::kSelu: return round_f<T>(v > 0.f ? p1 * v : (p1 * p0) * expm1f(v));
    case PointOp::kCelu: return round_f<T>(v > 0.f ? v : p0 * expm1f(v / p0));
    case PointOp::kSigmoid: {
      if (v >= 0.f) return round_f<T>(1.f / (1.f + expf(-v)));
      float e = expf(v);
      return round_f<T>(e / (1.f + e));
    }
    case PointOp::kHardSigmoid: return round_f<T>(clamp01(__fadd_rn(__fmul_rn(p0, v), p1)));
    case PointOp::kHardSwish: return round_f<T>(__fmul_rn(v, clamp01(__fadd_rn(__fdiv_rn(v, 6.f), 0.5f))));
    case PointOp::kTanh: return round_f<T>(tanhf(v));
    case PointOp::kSoftplus: return round_f<T>(softplus(v));
    case PointOp::kSoftsign: return round_f<T>(v / (1.f + fabsf(v)));
    case PointOp::kMish: return round_f<T>(v * tanhf(softplus(v)));
    case PointOp::kThresholdedRelu: return v > p0 ? v : 0.f;
    case PointOp::kShrink: {
      const double x = v, bias = p0, lambd = p1;
      return round_d<T>(x < -lambd ? x + bias : x > lambd ? x - bias : 0.0);
    }
    case PointOp::kClip:
      // min then max like numpy (min > max gives max); NaN passes through (explicitly: nvcc may otherwise
      // use fmaxf/fminf, which drop it). Bounds are T values already.
      if (isnan(v)) return v;
      if (v < p0) v = p0;
      if (v > p1) v = p1;
      return v;
    case PointOp::kErf: return round_f<T>(erff(v));
    case PointOp::kAbs: return fabsf(v);
    case PointOp::kNeg: return -v;
    case PointOp::kSign: return isnan(v) ? v : v > 0.f ? 1.f : v < 0.f ? -1.f : 0.f;
    case PointOp::kSqrt: return round_f<T>(sqrtf(v));
    case PointOp::kReciprocal: return round_f<T>(1.f / v);
    case PointOp::kExp: return round_f<T>(expf(v));
    case PointOp::kLog: return round_f<T>(logf(v));
    case PointOp::kFloor: return floorf(v);
    case PointOp::kCeil: return ceilf(v);
    case PointOp::kRound: return rintf(v);  // ties to even, as nearbyint
    case PointOp::kSin: return round_f<T>(sinf(v));
    case PointOp::kCos: return round_f<T>(cosf(v));
    case PointOp::kTan: return round_f<T>(tanf(v));
    case PointOp::kAtan: return round_f<T>(atanf(v));
    case PointOp::kSinh: return round_f<T>(sinhf(v));
    case PointOp::kCosh: return round_f<T>(coshf(v));
    case PointOp::kAdd: return round_f<T>(v + p0);
    case PointOp::kAddR: return round_f<T>(p0 + v);
    case PointOp::kSub: return round_f<T>(v - p0);
    case PointOp::kSubR: return round_f<T>(p0 - v);
    case PointOp::kMul: return round_f<T>(v * p0);
    case PointOp::kMulR: return round_f<T>(p0 * v);
    case PointOp::kDiv: return round_f<T>(v / p0);
    case PointOp::kDivR: return round_f<T>(p0 / v);
    case PointOp::kPow: return round_d<T>(pow(static_cast<double>(v), static_cast<double>(p0)));
    case PointOp::kPowR: return round_d<T>(pow(static_cast<double>(p0), static_cast<double>(v)));
    case PointOp::kMax: return fold_max(v, p0);
    case PointOp::kMaxR: return fold_max(p0, v);
    case PointOp::kMin: return fold_min(v, p0);
    case PointOp::kMinR: return fold_min(p0, v);
  }
  return quiet_nan();
}

template <typename T>
__device__ __forceinline__ T apply_chain(const PointChain& chain, T x) {
  float v = to_float(x);
  for (int k = 0; k < chain.count; ++k) v = apply_step<T>(chain.steps[k], v);
  return from_float<T>(v);  // exact: v already holds a value of T
}

template <typename T>
__global__ void pointwise_kernel(const T* x, T* y, int64_t n, PointChain chain) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = apply_chain(chain, x[i]);
}

// 16-byte words (4 f32 or 8 f16 per load and store) where both pointers are 16-byte aligned: f16 moved two
// bytes at a time reached only half of f32's bandwidth. The n % kVec trailing elements go one by one.
template <typename T>
__global__ void pointwise_vec_kernel(const T* x, T* y, int64_t n, PointChain chain) {
  constexpr int kVec = 16 / sizeof(T);
  union Word {
    uint4 raw;
    T e[kVec];
  };
  const int64_t words = n / kVec;
  for (int64_t w = global_thread(); w < words; w += grid_threads()) {
    Word word;
    word.raw = reinterpret_cast<const uint4*>(x)[w];
#pragma unroll
    for (int k = 0; k < kVec; ++k) word.e[k] = apply_chain(chain, word.e[k]);
    reinterpret_cast<uint4*>(y)[w] = word.raw;
  }
  for (int64_t i = words * kVec + global_thread(); i < n; i += grid_threads()) y[i] = apply_chain(chain, x[i]);
}

template <typename T>
cudaError_t run(const void* xv, void* yv, int64_t n, const PointChain& chain, cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  if ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) % 16 == 0) {
    constexpr int kVec = 16 / sizeof(T);
    pointwise_vec_kernel<T><<<blocks_for(n / kVec), kThreads, 0, stream>>>(x, y, n, chain);
  } else {
    pointwise_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(x, y, n, chain);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_pointwise(ElemType type, const void* x, void* y, int64_t n, const PointChain& chain,
                             cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (chain.count < 0 || chain.count > kMaxChainSteps) return cudaErrorInvalidValue;
  switch (type) {
    case ElemType::kF32: return run<float>(x, y, n, chain, stream);
    case ElemType::kF16: return run<__half>(x, y, n, chain, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::launch
