// Softmax as the reference computes it (src/backends/ref/math_softmax.cc), numerically stable: the group's
// max is subtracted before exp, so no exp overflows. The reference works in double; this works in float
// (expf within 2 ulp, sums reduced pairwise), one rounding to the element type at the end.
//   inner == 1 (the axis is the last one, and always before opset 13): one block per row, its threads
//                                                                      (32 to 1024) striding along it;
//   inner > 1: one thread per (outer, inner) column, neighbouring threads on neighbouring columns (coalesced).
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

template <typename T>
__global__ void softmax_rows(const T* x, T* y, int64_t rows, int64_t extent) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * extent;
    T* yr = y + r * extent;
    float m = __int_as_float(0xff800000u);  // -inf
    for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) m = fmaxf(m, to_float(xr[e]));
    m = block_max(m, scratch);
    float s = 0.f;
    for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) s += expf(to_float(xr[e]) - m);
    s = block_sum(s, scratch);
    // A NaN anywhere makes s NaN, so the whole row is NaN, as in the reference.
    for (int64_t e = threadIdx.x; e < extent; e += blockDim.x) yr[e] = from_float<T>(expf(to_float(xr[e]) - m) / s);
  }
}

template <typename T>
__global__ void softmax_columns(const T* x, T* y, int64_t outer, int64_t extent, int64_t inner) {
  const int64_t columns = outer * inner;
  for (int64_t t = global_thread(); t < columns; t += grid_threads()) {
    const int64_t base = (t / inner) * extent * inner + t % inner;
    float m = __int_as_float(0xff800000u);
    for (int64_t e = 0; e < extent; ++e) m = fmaxf(m, to_float(x[base + e * inner]));
    float s = 0.f;
    for (int64_t e = 0; e < extent; ++e) s += expf(to_float(x[base + e * inner]) - m);
    for (int64_t e = 0; e < extent; ++e) y[base + e * inner] = from_float<T>(expf(to_float(x[base + e * inner]) - m) / s);
  }
}

template <typename T>
cudaError_t run(const void* xv, void* yv, int64_t outer, int64_t extent, int64_t inner, cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  if (inner == 1) {
    // About 4 elements per thread: short rows get one warp, long ones (few rows, e.g. a language model's
    // vocabulary) up to 1024 threads. Always a multiple of a warp, as block_sum needs.
    const int64_t warps = ((extent + 3) / 4 + 31) / 32;
    const int threads = static_cast<int>(warps < 1 ? 32 : warps > 32 ? 1024 : warps * 32);
    const unsigned blocks = static_cast<unsigned>(outer < kMaxBlocks ? outer : kMaxBlocks);
    softmax_rows<T><<<blocks, threads, 0, stream>>>(x, y, outer, extent);
  } else {
    softmax_columns<T><<<blocks_for(outer * inner), kThreads, 0, stream>>>(x, y, outer, extent, inner);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_softmax(ElemType type, const void* x, void* y, int64_t outer, int64_t extent, int64_t inner,
                           cudaStream_t stream) {
  if (outer <= 0 || extent <= 0 || inner <= 0) return cudaSuccess;
  switch (type) {
    case ElemType::kF32: return run<float>(x, y, outer, extent, inner, stream);
    case ElemType::kF16: return run<__half>(x, y, outer, extent, inner, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::launch
