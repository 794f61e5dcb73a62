// Small helpers shared by the tensor family's op definitions (tensor_ops.cc, tensor_index_ops.cc).
#pragma once

#include <optional>
#include <vector>

#include "ir/op_def.h"
#include "ir/ops/tensor_rules.h"

namespace kiln::tensor_ops {

/// Op definitions of tensor_index_ops.cc (gathers, scatters, generators), appended to tensor_op_defs().
std::vector<OpDef> index_op_list();

/// Wraps a rule's message in an error naming the node.
inline Status node_error(const InferContext& ctx, const Status& s) { return ctx.error(s.message()); }

/// The input's value when it is known before running (initializer, Constant, static Shape).
inline std::optional<Tensor> const_input(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::nullopt;
  return tensor_rules::known_value(ctx.node().inputs[i]);
}

/// The input's integer values when known before running.
inline std::optional<std::vector<int64_t>> const_ints(const InferContext& ctx, size_t i) {
  std::optional<Tensor> t = const_input(ctx, i);
  if (!t) return std::nullopt;
  Result<std::vector<int64_t>> v = t->to_int64_vector();
  if (!v.ok()) return std::nullopt;
  return *v;
}

/// The length of a 1-D input whose extent is known (e.g. the rank a shape input describes).
inline std::optional<int64_t> static_length(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::nullopt;
  const Shape& s = ctx.input_shape(i);
  if (s.has_rank() && s.rank() == 1 && s[0].known()) return s[0].value;
  return std::nullopt;
}

/// A shape of `rank` unknown extents.
inline Shape unknown_dims(int64_t rank) { return Shape(std::vector<Dim>(static_cast<size_t>(rank))); }

/// Index inputs must be int32 or int64.
inline Status check_index_dtype(const InferContext& ctx, size_t i, const char* what) {
  DataType t = ctx.input_dtype(i);
  if (t != DataType::kI32 && t != DataType::kI64)
    return ctx.error(std::string(what) + " must be int32 or int64, got " + std::string(dtype_name(t)));
  return {};
}

}  // namespace kiln::tensor_ops
