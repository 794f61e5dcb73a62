// Launcher of kiln.PaddedSpaceToDepth (space_to_depth.cu; plain C++17 for nvcc): Pad -> SpaceToDepth
// (-> NHWC), optionally converting FLOAT to FLOAT16 or quantizing FLOAT to INT8 / UINT8 on the way, in one pass.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda::launch {

struct PaddedSpaceToDepthGeometry {
  int64_t n, c, h, w;              ///< X, NCHW
  int64_t c_begin, h_begin, w_begin;  ///< leading pads (trailing ones follow from Y's extents)
  int64_t block;
  int64_t padded_c;                ///< c + both channel pads: Y has padded_c * block^2 channels
  int64_t out_h, out_w;            ///< Y's spatial extents
  bool nhwc;                       ///< Y in NHWC, else NCHW
  float scale;                     ///< kF32ToI8 / kF32ToU8: QuantizeLinear's scale (the zero point is the fill)
};

/// Element conversions: a copy of 1, 2, 4 or 8 bytes per element, FLOAT -> FLOAT16 (round to nearest even), or
/// FLOAT -> INT8 / UINT8 as QuantizeLinear (quantize.cu's arithmetic: rint(x / scale) + zero point, saturated,
/// NaN -> zero point).
enum class SpaceToDepthTypes : int32_t { kCopy1, kCopy2, kCopy4, kCopy8, kF32ToF16, kF32ToI8, kF32ToU8 };

/// `fill` holds the fill value's bytes in Y's type (little endian).
cudaError_t launch_padded_space_to_depth(const void* x, void* y, SpaceToDepthTypes types,
                                         const PaddedSpaceToDepthGeometry& g, uint64_t fill, cudaStream_t stream);

}  // namespace kiln::cuda::launch
