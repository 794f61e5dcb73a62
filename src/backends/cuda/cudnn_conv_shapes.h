// Shapes and strides of one cuDNN convolution at prepared input shapes, shared by the float (cudnn_conv.cc)
// and integer (cudnn_qconv.cc) convolution kernels: the node's X / Y dims in cuDNN's logical order
// [N, C, spatial...] (1-D convolutions get a unit H axis), their strides in the node's memory order (NCHW
// packed, or channels-last), the filter's and the per-channel [1, K, 1, 1] operands', and the conv spec.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/cudnn_graph.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "ir/ops/conv_geometry.h"
#include "kiln/status.h"

namespace kiln::cuda {

/// What the kernel knows of the convolution at creation.
struct ConvGeometry {
  bool nhwc = false;   ///< X / Z / Y channels-last (2-D only); W then KRSC
  size_t spatial = 2;  ///< spatial axes of the node (1, 2 or 3)
  int64_t group = 1;
  Dims w_dims;         ///< [K, C/group, k...] as in the model
  WindowAttrs window;
};

/// The geometry of a convolution node with weights `w` [K, C/group, k...] (1-D to 3-D): group and window
/// attributes checked against W (invalid-model errors name what is wrong).
Result<ConvGeometry> read_conv_geometry(const Node& node, const Tensor& w, bool nhwc);

struct ConvShapes {
  std::vector<int64_t> x, w, y, b;  ///< b: a per-output-channel operand [1, K, 1, ...]
  std::vector<int64_t> x_strides, w_strides, y_strides, b_strides;
  ConvSpec conv;
  int64_t y_count = 0;
  int64_t y_inner = 1;  ///< elements per (n, k) run in NCHW: the output's spatial size
  int64_t channels = 0;
};

/// The shapes of the convolution of X `x_dims` (node memory order) into Y `y_dims`; errors name what does not
/// fit (rank, channels, the output's shape).
Result<ConvShapes> conv_shapes(const ConvGeometry& g, const Dims& x_dims, const Dims& y_dims);

/// Row-major strides of `dims`; strides of logical [N, C, spatial...] dims stored channels-last.
std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims);
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& dims);

/// W [K, C/g, k...] (KCRS) as KRSC: the filter with channels-last strides (any element size).
Tensor to_krsc(const Tensor& w);

}  // namespace kiln::cuda
