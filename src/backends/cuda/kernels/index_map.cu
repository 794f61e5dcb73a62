#include "backends/cuda/kernels/device_util.cuh"
#include "backends/cuda/kernels/index_map.h"

namespace kiln::cuda::launch {

namespace {

// The input coordinate for output coordinate o on axis d, or -1 for the fill value. I is the index type:
// int32 when every size and coordinate fits (64-bit division is several times slower on the GPU, and this
// kernel is all division: a 54 MB Pad took 0.32 ms with int64 on the H100).
template <typename I>
__device__ __forceinline__ I source(const IndexMapGeometry& g, int d, I o) {
  const I n = static_cast<I>(g.in[d]), start = static_cast<I>(g.start[d]);
  switch (g.map[d]) {
    case AxisMap::kSlice: return start + o * static_cast<I>(g.step[d]);
    case AxisMap::kConstant: {
      I p = o - start;
      return p >= 0 && p < n ? p : -1;
    }
    case AxisMap::kEdge: {
      I p = o - start;
      return p < 0 ? 0 : p >= n ? n - 1 : p;
    }
    case AxisMap::kWrap: {
      I p = (o - start) % n;
      return p < 0 ? p + n : p;
    }
    case AxisMap::kReflect: {
      if (n == 1) return 0;
      I period = 2 * (n - 1);
      I m = ((o - start) % period + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

template <typename T, typename I>
__global__ void index_map_kernel(const T* __restrict__ x, T* __restrict__ y, IndexMapGeometry g, int64_t total,
                                 T fill) {
  for (int64_t i = device::global_thread(); i < total; i += device::grid_threads()) {
    I rest = static_cast<I>(i), offset = 0, stride = 1;
    bool inside = true;
    for (int d = g.rank - 1; d >= 0; --d) {
      const I extent = static_cast<I>(g.out[d]);
      I o = rest % extent;
      rest /= extent;
      I s = source<I>(g, d, o);
      if (s < 0) inside = false;
      offset += s * stride;
      stride *= static_cast<I>(g.in[d]);
    }
    y[i] = inside ? x[offset] : fill;
  }
}

// Whether every size, coordinate and offset the kernel computes fits int32 (with room for start + o * step).
bool fits_int32(const IndexMapGeometry& g, int64_t total) {
  int64_t input = 1;
  for (int d = 0; d < g.rank; ++d) {
    input *= g.in[d];
    if (g.step[d] > INT32_MAX || g.step[d] < -INT32_MAX || g.start[d] > INT32_MAX || g.start[d] < -INT32_MAX ||
        g.out[d] > INT32_MAX || g.in[d] > INT32_MAX)
      return false;
    const int64_t step = g.step[d] < 0 ? -g.step[d] : g.step[d];
    const int64_t start = g.start[d] < 0 ? -g.start[d] : g.start[d];
    if (start + (g.out[d] + 1) * (step > 1 ? step : 1) + 2 * g.in[d] > INT32_MAX) return false;
  }
  return total <= INT32_MAX && input <= INT32_MAX;
}

template <typename T>
cudaError_t run(const void* x, void* y, const IndexMapGeometry& g, int64_t total, uint64_t fill, cudaStream_t s) {
  T f;
  static_assert(sizeof(T) <= sizeof(uint64_t));
  memcpy(&f, &fill, sizeof(T));
  const auto* xt = static_cast<const T*>(x);
  auto* yt = static_cast<T*>(y);
  if (fits_int32(g, total))
    index_map_kernel<T, int32_t><<<device::blocks_for(total), device::kThreads, 0, s>>>(xt, yt, g, total, f);
  else
    index_map_kernel<T, int64_t><<<device::blocks_for(total), device::kThreads, 0, s>>>(xt, yt, g, total, f);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_index_map(const void* x, void* y, int element_bytes, const IndexMapGeometry& g, uint64_t fill,
                             cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < g.rank; ++d) total *= g.out[d];
  if (total == 0) return cudaSuccess;
  switch (element_bytes) {
    case 1: return run<uint8_t>(x, y, g, total, fill, stream);
    case 2: return run<uint16_t>(x, y, g, total, fill, stream);
    case 4: return run<uint32_t>(x, y, g, total, fill, stream);
    case 8: return run<uint64_t>(x, y, g, total, fill, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::launch
