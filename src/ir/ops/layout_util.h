// Channels-last support shared by the layout-aware ops (kiln.FusedConv, kiln.QConv, kiln.Pool).
//
// Their `layout` attribute says how the activation tensors (X, the residual Z, Y) are laid out in memory:
// "NCHW" (ONNX's order, the default) or "NHWC" (channels last, 2-D only: rank 4). Weights and biases never
// change layout. An op in NHWC means exactly "transpose the activations to NCHW, run the op, transpose the
// result back", so inference and the reference kernels reuse the NCHW code through these helpers.
#pragma once

#include <array>
#include <initializer_list>
#include <string_view>

#include "core/shape.h"
#include "ir/op_def.h"

namespace kiln::layout {

/// Transpose permutations between the two layouts (Transpose's `perm`: output axis i is input axis perm[i]).
inline constexpr std::array<int64_t, 4> kNchwToNhwc = {0, 2, 3, 1};
inline constexpr std::array<int64_t, 4> kNhwcToNchw = {0, 3, 1, 2};

/// `s` with its axes permuted (output axis i = input axis perm[i]); unknown rank stays unknown. The caller
/// checks that the rank is 4.
Shape permute(const Shape& s, const std::array<int64_t, 4>& perm);

/// The node's `layout` attribute: true for "NHWC", false for "NCHW", an error naming the node otherwise.
Result<bool> is_nhwc(const Node& node);

/// Runs `infer_nchw` (the op's inference in NCHW) for a node in either layout. In NHWC the `activation_inputs`
/// (when present) must have rank 4; a temporary copy of the node sees them permuted to NCHW, and every
/// output's inferred shape is permuted back to NHWC.
Status infer_in_layout(InferContext& ctx, std::initializer_list<size_t> activation_inputs, InferFn infer_nchw);

/// kiln.Pool's modes: the ONNX pooling ops it stands for.
bool is_pool_mode(std::string_view mode);

}  // namespace kiln::layout

namespace kiln {

/// kiln.PaddedSpaceToDepth's attributes (src/ir/ops/layout_ops.cc), checked.
struct PaddedSpaceToDepthParams {
  int64_t block = 0;
  std::array<int64_t, 6> pads{};  ///< [c, h, w begin, c, h, w end]
  DataType to = DataType::kF32;   ///< Y's element type
  bool nhwc = false;              ///< Y in NHWC (X is always NCHW)
  /// X FLOAT, Y INT8 or UINT8: X is quantized as QuantizeLinear(X, scale = input 2, zero point = fill) does.
  bool quantize = false;
};
Result<PaddedSpaceToDepthParams> padded_space_to_depth_params(const Node& node, DataType x_dtype);
/// Y's extent on NCHW axis 1, 2 or 3 (C, H, W) for X's extent there: the padded channels times block^2, or the
/// padded spatial extent divided by the block (an error when it does not divide). Shape inference, the kernels
/// and the pass that creates the op all size Y with it.
Result<int64_t> padded_space_to_depth_extent(const PaddedSpaceToDepthParams& p, int axis, int64_t x_extent);

}  // namespace kiln
