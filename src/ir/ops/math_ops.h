// Internal to the math op family: the reduction definitions live in their own file.
#pragma once

#include <span>

#include "ir/op_def.h"

namespace kiln {

/// ReduceSum, ReduceMean, ... and ArgMax/ArgMin (math_reduce_ops.cc).
std::span<const OpDef> math_reduce_op_defs();

/// The opset from which op `op_type` (a Reduce* op) takes its axes as input 1 instead of an attribute.
inline int reduce_axes_input_opset(std::string_view op_type) { return op_type == "ReduceSum" ? 13 : 18; }

}  // namespace kiln
