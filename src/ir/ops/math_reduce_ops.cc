// Op definitions of the math family's reductions: Reduce* and ArgMax/ArgMin.
#include <fmt/format.h>

#include <algorithm>

#include "ir/op_def.h"
#include "ir/ops/math_ops.h"

namespace kiln {

namespace {

// Reduce*: axes come from an attribute before reduce_axes_input_opset(), then from optional input 1.
Status infer_reduce(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const Node& node = ctx.node();
  bool keepdims = node.attr_int("keepdims", 1) != 0;
  std::optional<std::vector<int64_t>> axes;  // nullopt: not known before run time
  if (ctx.opset() >= reduce_axes_input_opset(node.op_type)) {
    if (!ctx.has_input(1)) {
      axes = std::vector<int64_t>{};
    } else if (const Tensor* t = ctx.input_value(1)) {
      Result<std::vector<int64_t>> v = t->to_int64_vector();
      if (!v.ok()) return ctx.error("axes: " + v.status().message());
      axes = *v;
    }
  } else {
    if (ctx.has_input(1)) return ctx.error(fmt::format("axes is an attribute before opset {}, not an input",
                                                       reduce_axes_input_opset(node.op_type)));
    axes = node.attr_ints("axes");
  }
  if (!x.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  auto rank = static_cast<int64_t>(x.rank());
  if (!axes) {
    // Which axes is unknown: with keepdims the rank survives, each extent is unknown.
    ctx.set_output(0, ctx.input_dtype(0), keepdims ? Shape(std::vector<Dim>(rank)) : Shape());
    return {};
  }
  if (axes->empty()) {
    if (node.attr_int("noop_with_empty_axes", 0) != 0) {
      ctx.set_output(0, ctx.input_dtype(0), x);
      return {};
    }
    for (int64_t a = 0; a < rank; ++a) axes->push_back(a);
  }
  std::vector<bool> reduced(rank, false);
  for (int64_t a : *axes) {
    Result<int64_t> n = normalize_axis(a, rank);
    if (!n.ok()) return ctx.error("axes: " + n.status().message());
    if (reduced[*n]) return ctx.error(fmt::format("axes lists axis {} twice", *n));
    reduced[*n] = true;
  }
  std::vector<Dim> out;
  for (int64_t a = 0; a < rank; ++a) {
    if (!reduced[a]) out.push_back(x[a]);
    else if (keepdims) out.push_back(Dim(1));
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(out));
  return {};
}

Status infer_arg_reduce(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  if (!x.has_rank()) {
    ctx.set_output(0, DataType::kI64, Shape());
    return {};
  }
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(x.rank()));
  if (!axis.ok()) return ctx.error(axis.status().message());
  std::vector<Dim> out = x.dims();
  if (ctx.node().attr_int("keepdims", 1) != 0) out[*axis] = Dim(1);
  else out.erase(out.begin() + *axis);
  ctx.set_output(0, DataType::kI64, Shape(out));
  return {};
}

OpDef reduce_def(const char* op_type) {
  return {.op_type = op_type,
          .min_inputs = 1,
          .max_inputs = 2,
          .attrs = {attr_ints("axes"), attr_int("keepdims", 1), attr_int("noop_with_empty_axes", 0)},
          .infer = infer_reduce};
}

OpDef arg_def(const char* op_type) {
  return {.op_type = op_type,
          .min_inputs = 1,
          .max_inputs = 1,
          .attrs = {attr_int("axis", 0), attr_int("keepdims", 1), attr_int("select_last_index", 0)},
          .infer = infer_arg_reduce};
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      reduce_def("ReduceSum"),    reduce_def("ReduceMean"),      reduce_def("ReduceMax"),
      reduce_def("ReduceMin"),    reduce_def("ReduceProd"),      reduce_def("ReduceL1"),
      reduce_def("ReduceL2"),     reduce_def("ReduceLogSum"),    reduce_def("ReduceLogSumExp"),
      reduce_def("ReduceSumSquare"), arg_def("ArgMax"),          arg_def("ArgMin"),
  };
  return kDefs;
}

}  // namespace

std::span<const OpDef> math_reduce_op_defs() { return defs(); }

}  // namespace kiln
