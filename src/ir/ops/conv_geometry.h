// Sliding-window geometry shared by Conv, ConvTranspose, the pools, QLinearConv and ConvInteger: from a
// node's attributes and the input's spatial extents, the effective pads and the output spatial extents.
//
//   KILN_ASSIGN_OR_RETURN(WindowAttrs a, read_window_attrs(node, /*spatial_rank=*/2, weight_kernel, false));
//   KILN_ASSIGN_OR_RETURN(WindowGeometry g, window_geometry(a, {x.dim(2), x.dim(3)}));   // kernels
//   KILN_ASSIGN_OR_RETURN(std::vector<Dim> out, window_output_dims(a, spatial_dims));     // inference
//
// Errors are plain messages without the node's name: callers wrap them with ctx.error(status.message()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/shape.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

/// The window attributes of one node, validated and expanded to one entry per spatial axis.
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  bool transposed = false;              ///< ConvTranspose: output grows with the stride
  bool ceil_mode = false;               ///< pools: round the output extent up
  std::vector<int64_t> kernel;          ///< n extents; -1 where unknown (inference on symbolic weights)
  std::vector<int64_t> strides;         ///< n, default 1
  std::vector<int64_t> dilations;       ///< n, default 1
  std::vector<int64_t> pads;            ///< 2n: all begins, then all ends (attribute value; default 0)
  std::vector<int64_t> output_padding;  ///< n, default 0 (transposed only)
  std::vector<int64_t> output_shape;    ///< n or empty (transposed only; spatial part of the attribute)
};

/// Reads auto_pad, kernel_shape, strides, dilations, pads, ceil_mode, output_padding and output_shape from
/// `node` for `spatial_rank` axes. When kernel_shape is absent the kernel is `weight_kernel` (Conv: the
/// weight's spatial extents, -1 where unknown); when both are known they must agree. Pools pass an empty
/// `weight_kernel`, so a missing kernel_shape is an error. Validates lengths and that strides, dilations and
/// kernel extents are positive and pads non-negative.
Result<WindowAttrs> read_window_attrs(const Node& node, size_t spatial_rank, const std::vector<int64_t>& weight_kernel,
                                      bool transposed);

/// Concrete geometry of one application of the window op.
struct WindowGeometry {
  std::vector<int64_t> pads;  ///< 2n effective pads (begins, then ends); may be negative for ConvTranspose
  Dims out;                   ///< n output spatial extents
};

/// Computes the effective pads and output extents for known input spatial extents (and a known kernel).
/// Errors when an output extent would be below 1 (below 0 for transposed output_shape).
Result<WindowGeometry> window_geometry(const WindowAttrs& attrs, const Dims& in_spatial);

/// As window_geometry, for inference: each output Dim is unknown where its input extent or kernel extent is.
Result<std::vector<Dim>> window_output_dims(const WindowAttrs& attrs, const std::vector<Dim>& in_spatial);

}  // namespace kiln
