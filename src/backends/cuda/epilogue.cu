// The epilogue kernel (see epilogue.h): y = act(y + bias[c] + z), f32 arithmetic, f32 or f16 storage.
#include "backends/cuda/epilogue.h"

#include <cuda_fp16.h>

#include <algorithm>

namespace kiln::cuda {

namespace {

__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }

// log(1 + exp(x)) without overflow.
__device__ __forceinline__ float softplus(float v) { return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v)); }

__device__ __forceinline__ float activate(float v, EpilogueActivation act, float p0, float p1) {
  switch (act) {
    case EpilogueActivation::kNone: return v;
    case EpilogueActivation::kRelu: return v > 0.0f ? v : 0.0f;
    case EpilogueActivation::kLeakyRelu: return v < 0.0f ? p0 * v : v;
    case EpilogueActivation::kClip:
      // min then max, as ONNX Clip (and numpy): min > max gives max everywhere; NaN passes through.
      if (v < p0) v = p0;
      if (v > p1) v = p1;
      return v;
    case EpilogueActivation::kSigmoid: {
      if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));
      float e = expf(v);
      return e / (1.0f + e);
    }
    case EpilogueActivation::kTanh: return tanhf(v);
    case EpilogueActivation::kElu: return v < 0.0f ? p0 * expm1f(v) : v;
    case EpilogueActivation::kSelu: return v > 0.0f ? p1 * v : p1 * p0 * expm1f(v);
    case EpilogueActivation::kCelu: return v > 0.0f ? v : p0 * expm1f(v / p0);
    case EpilogueActivation::kHardSigmoid: return fmaxf(0.0f, fminf(1.0f, p0 * v + p1));
    case EpilogueActivation::kHardSwish: return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
    case EpilogueActivation::kSoftplus: return softplus(v);
    case EpilogueActivation::kSoftsign: return v / (1.0f + fabsf(v));
    case EpilogueActivation::kMish: return v * tanhf(softplus(v));
    case EpilogueActivation::kThresholdedRelu: return v > p0 ? v : 0.0f;
    case EpilogueActivation::kShrink: return v < -p1 ? v + p0 : (v > p1 ? v - p0 : 0.0f);
    case EpilogueActivation::kGelu: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  }
  return v;
}

template <typename T>
__global__ void epilogue_kernel(T* y, const float* bias, const T* z, int64_t count, int64_t channels, int64_t inner,
                                EpilogueActivation act, float p0, float p1) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    float v = load(y, i);
    if (bias) v += bias[(i / inner) % channels];
    if (z) v += load(z, i);
    store(y, i, activate(v, act, p0, p1));
  }
}

template <typename T>
cudaError_t launch(const EpilogueArgs& a, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((a.count + kThreads - 1) / kThreads, 65535 * 8);
  epilogue_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<T*>(a.y), a.bias, static_cast<const T*>(a.z), a.count,
      a.channels < 1 ? 1 : a.channels, a.inner < 1 ? 1 : a.inner, a.act, a.p0, a.p1);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_epilogue(const EpilogueArgs& args, cudaStream_t stream) {
  if (args.count <= 0) return cudaSuccess;
  if (!args.y) return cudaErrorInvalidValue;
  switch (args.dtype) {
    case EpilogueDtype::kF32: return launch<float>(args, stream);
    case EpilogueDtype::kF16: return launch<__half>(args, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda
