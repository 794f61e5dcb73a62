// Launcher of the index-map copy behind Slice and Pad (index_map.cu; plain C++17 for nvcc). Each output
// element is copied from one input element (or set to a fill value), found per axis independently.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda::launch {

constexpr int kIndexMapMaxRank = 8;

/// How an output coordinate o on one axis maps to an input coordinate.
enum class AxisMap : int32_t {
  kSlice,     ///< start + o * step (always inside)
  kConstant,  ///< o - start; outside [0, in) takes the fill value
  kReflect,   ///< o - start reflected at the borders without repeating the edge
  kEdge,      ///< o - start clamped to [0, in)
  kWrap,      ///< o - start modulo in
};

struct IndexMapGeometry {
  int32_t rank;
  int64_t out[kIndexMapMaxRank];  ///< output extents
  int64_t in[kIndexMapMaxRank];   ///< input extents
  int64_t start[kIndexMapMaxRank];
  int64_t step[kIndexMapMaxRank];
  AxisMap map[kIndexMapMaxRank];
};

/// Copies elements of `element_bytes` (1, 2, 4 or 8); `fill` holds the fill value's bytes (little endian).
cudaError_t launch_index_map(const void* x, void* y, int element_bytes, const IndexMapGeometry& g, uint64_t fill,
                             cudaStream_t stream);

}  // namespace kiln::cuda::launch
