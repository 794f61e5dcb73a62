#include "backends/cuda/kernels/device_util.cuh"
#include "backends/cuda/kernels/index_map.h"

namespace kiln::cuda::launch {

namespace {

// The input coordinate for output coordinate o on axis d, or -1 for the fill value.
__device__ __forceinline__ int64_t source(const IndexMapGeometry& g, int d, int64_t o) {
  int64_t n = g.in[d];
  switch (g.map[d]) {
    case AxisMap::kSlice: return g.start[d] + o * g.step[d];
    case AxisMap::kConstant: {
      int64_t p = o - g.start[d];
      return p >= 0 && p < n ? p : -1;
    }
    case AxisMap::kEdge: {
      int64_t p = o - g.start[d];
      return p < 0 ? 0 : p >= n ? n - 1 : p;
    }
    case AxisMap::kWrap: {
      int64_t p = (o - g.start[d]) % n;
      return p < 0 ? p + n : p;
    }
    case AxisMap::kReflect: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t m = ((o - g.start[d]) % period + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

template <typename T>
__global__ void index_map_kernel(const T* __restrict__ x, T* __restrict__ y, IndexMapGeometry g, int64_t total,
                                 T fill) {
  for (int64_t i = device::global_thread(); i < total; i += device::grid_threads()) {
    int64_t rest = i, offset = 0, stride = 1;
    bool inside = true;
    for (int d = g.rank - 1; d >= 0; --d) {
      int64_t o = rest % g.out[d];
      rest /= g.out[d];
      int64_t s = source(g, d, o);
      if (s < 0) inside = false;
      offset += s * stride;
      stride *= g.in[d];
    }
    y[i] = inside ? x[offset] : fill;
  }
}

template <typename T>
cudaError_t run(const void* x, void* y, const IndexMapGeometry& g, int64_t total, uint64_t fill, cudaStream_t s) {
  T f;
  static_assert(sizeof(T) <= sizeof(uint64_t));
  memcpy(&f, &fill, sizeof(T));
  index_map_kernel<T><<<device::blocks_for(total), device::kThreads, 0, s>>>(static_cast<const T*>(x),
                                                                             static_cast<T*>(y), g, total, f);
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
