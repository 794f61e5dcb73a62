// Shape rules of the tensor family, shared by type inference (src/ir/ops/tensor_*ops.cc) and the reference
// kernels (src/backends/ref/tensor*.cc) so that both compute exactly the same output shapes and reject the
// same bad inputs. Functions return plain Status messages; callers add the node via ctx.error().
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::tensor_rules {

/// Normalizes axes (negative counts from the end) into [0, rank); rejects out-of-range and repeated axes.
/// `what` names the list in messages ("axes", "perm").
Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what);

/// Reshape: 0 copies the input extent (unless allowzero), -1 is inferred. Unknown where undecidable.
Result<Shape> reshape(const Shape& in, const std::vector<int64_t>& shape, bool allowzero);

/// One sliced axis after ONNX clamping: the first index, the step, and how many elements are taken.
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
/// Clamps start/end for an axis of extent `dim` (opset 10+ rules; also used for opset 1 with step 1).
SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step);

/// Slice parameters of one node, in full: one entry per sliced axis (axes normalized).
struct SliceSpec {
  std::vector<int64_t> starts, ends, axes, steps;
};
/// Validates lengths, steps != 0 and axes (normalized against `rank`).
Status check_slice_spec(SliceSpec& spec, int64_t rank);

/// Sizes of each Split output. `split` is the explicit list (attribute or input) if given; `num_outputs`
/// the opset-18 attribute if given; `n_outputs` the node's output count.
Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split,
                                         std::optional<int64_t> num_outputs, int64_t n_outputs);

/// Output shape of Squeeze. `axes` normalized; nullopt = squeeze every extent-1 axis.
Result<Shape> squeeze(const Shape& in, const std::optional<std::vector<int64_t>>& axes);
/// Output shape of Unsqueeze (axes refer to the output rank).
Result<Shape> unsqueeze(const Shape& in, const std::vector<int64_t>& axes);

/// Expands a per-axis pads list: `pads` as given (begin..., end...) for `axes` (nullopt = all axes) into
/// 2*rank entries. Rejects wrong lengths.
Result<std::vector<int64_t>> full_pads(const std::vector<int64_t>& pads, const std::optional<std::vector<int64_t>>& axes,
                                       int64_t rank);

/// Number of Range elements: max(ceil((limit - start) / delta), 0); error for delta 0 or absurd counts.
Result<int64_t> range_count(double start, double limit, double delta);
/// The same computed exactly for integer Range.
Result<int64_t> range_count_int(int64_t start, int64_t limit, int64_t delta);

/// The [start, end) range of axes that Shape (opset 15 start/end attributes) returns, clamped to [0, rank].
std::pair<int64_t, int64_t> shape_op_range(const Node& node, int64_t rank);

/// Largest tensor the reference kernels will allocate from a value-dependent shape (bytes).
constexpr int64_t kMaxAllocBytes = int64_t{1} << 34;
/// Checks a value-dependent output shape: non-negative extents, no overflow, below kMaxAllocBytes.
Status check_alloc(const Dims& dims, DataType dtype);

/// The value of a Constant node from whichever value attribute it has.
Result<Tensor> constant_value(const Node& node);

/// The constant value of a graph value if it can be known before running: an initializer, a Constant
/// node's output, or a Shape node's output when its input shape is static. Null otherwise.
std::optional<Tensor> known_value(const Value* v);

}  // namespace kiln::tensor_rules
