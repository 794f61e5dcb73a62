// Op definitions of the tensor family, part 2: gathers, scatters, shape queries and generators.
#include <fmt/format.h>

#include <cmath>

#include "ir/ops/tensor_ops_util.h"

namespace kiln::tensor_ops {

namespace {

namespace rules = tensor_rules;

Status infer_gather(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_index_dtype(ctx, 1, "indices"));
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  if (!data.has_rank() || !idx.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t r = static_cast<int64_t>(data.rank());
  if (r == 0) return ctx.error("data must have rank >= 1, got a scalar");
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), r);
  if (!axis.ok()) return node_error(ctx, axis.status());
  std::vector<Dim> dims(data.dims().begin(), data.dims().begin() + *axis);
  for (const Dim& d : idx.dims()) dims.push_back(d);
  for (int64_t i = *axis + 1; i < r; ++i) dims.push_back(data[i]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

Status infer_gather_elements(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_index_dtype(ctx, 1, "indices"));
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  if (data.has_rank() && idx.has_rank()) {
    if (data.rank() != idx.rank())
      return ctx.error(fmt::format("indices {} must have the rank of data {}", idx.to_string(), data.to_string()));
    if (data.rank() == 0) return ctx.error("data must have rank >= 1, got a scalar");
    Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(data.rank()));
    if (!axis.ok()) return node_error(ctx, axis.status());
  }
  ctx.set_output(0, ctx.input_dtype(0), idx);
  return {};
}

Status infer_gather_nd(InferContext& ctx) {
  if (ctx.input_dtype(1) != DataType::kI64) return ctx.error("indices must be int64");
  const Shape& data = ctx.input_shape(0);
  const Shape& idx = ctx.input_shape(1);
  int64_t b = ctx.node().attr_int("batch_dims", 0);
  if (!data.has_rank() || !idx.has_rank() || idx.rank() == 0 || !idx[idx.rank() - 1].known()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t r = static_cast<int64_t>(data.rank()), q = static_cast<int64_t>(idx.rank());
  int64_t last = idx[q - 1].value;
  if (b < 0 || b >= std::min(r, q))
    return ctx.error(fmt::format("batch_dims {} must be in [0, {})", b, std::min(r, q)));
  if (last < 1 || last > r - b)
    return ctx.error(fmt::format("the last extent of indices {} is {}, must be in [1, {}] for data {} with "
                                 "batch_dims {}", idx.to_string(), last, r - b, data.to_string(), b));
  std::vector<Dim> dims(idx.dims().begin(), idx.dims().end() - 1);
  for (int64_t i = b + last; i < r; ++i) dims.push_back(data[i]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

Status infer_scatter(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_index_dtype(ctx, 1, "indices"));
  if (ctx.input_dtype(2) != ctx.input_dtype(0))
    return ctx.error(fmt::format("updates are {}, data is {}", dtype_name(ctx.input_dtype(2)),
                                 dtype_name(ctx.input_dtype(0))));
  std::string red = ctx.node().attr_string("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    return ctx.error(fmt::format("reduction '{}' is not one of none, add, mul, max, min", red));
  return infer_same_as_input0(ctx);
}

Status infer_scatter_nd(InferContext& ctx) {
  if (ctx.input_dtype(1) != DataType::kI64) return ctx.error("indices must be int64");
  return infer_scatter(ctx);
}

Status infer_shape(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) {
    ctx.set_output(0, DataType::kI64, unknown_dims(1));
    return {};
  }
  auto [start, end] = rules::shape_op_range(ctx.node(), static_cast<int64_t>(in.rank()));
  ctx.set_output(0, DataType::kI64, Shape({Dim(end - start)}));
  return {};
}

Status infer_size(InferContext& ctx) {
  ctx.set_output(0, DataType::kI64, Shape(std::vector<Dim>{}));
  return {};
}

Status infer_constant(InferContext& ctx) {
  Result<Tensor> t = rules::constant_value(ctx.node());
  if (!t.ok()) return node_error(ctx, t.status());
  ctx.set_output(0, t->dtype(), Shape::from_dims(t->dims()));
  return {};
}

Status infer_constant_of_shape(InferContext& ctx) {
  DataType dtype = DataType::kF32;
  if (const Tensor* v = ctx.node().attr_tensor("value")) {
    if (v->size() != 1) return ctx.error(fmt::format("value must hold one element, got {}", v->type_string()));
    dtype = v->dtype();
  }
  if (ctx.input_dtype(0) != DataType::kI64) return ctx.error("input must be an int64 shape");
  if (std::optional<std::vector<int64_t>> shape = const_ints(ctx, 0)) {
    Status s = rules::check_alloc(*shape, dtype);
    if (!s.ok()) return node_error(ctx, s);
    ctx.set_output(0, dtype, Shape::from_dims(*shape));
    return {};
  }
  std::optional<int64_t> len = static_length(ctx, 0);
  ctx.set_output(0, dtype, len ? unknown_dims(*len) : Shape());
  return {};
}

Status infer_range(InferContext& ctx) {
  DataType t = ctx.input_dtype(0);
  for (size_t i = 1; i < 3; ++i)
    if (ctx.input_dtype(i) != t)
      return ctx.error(fmt::format("start, limit and delta must share a dtype, got {} and {}", dtype_name(t),
                                   dtype_name(ctx.input_dtype(i))));
  std::optional<Tensor> v[3] = {const_input(ctx, 0), const_input(ctx, 1), const_input(ctx, 2)};
  Dim n;
  if (v[0] && v[1] && v[2]) {
    for (int i = 0; i < 3; ++i)
      if (v[i]->size() != 1) return ctx.error(fmt::format("input {} must be a scalar, got {}", i, v[i]->type_string()));
    Result<int64_t> count =
        is_float(t) ? rules::range_count(v[0]->element_as_double(0), v[1]->element_as_double(0),
                                         v[2]->element_as_double(0))
                    : rules::range_count_int(v[0]->element_as_int64(0), v[1]->element_as_int64(0),
                                             v[2]->element_as_int64(0));
    if (!count.ok()) return node_error(ctx, count.status());
    n = Dim(*count);
  }
  ctx.set_output(0, t, Shape({n}));
  return {};
}

Status infer_trilu(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.has_rank() && in.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", in.to_string()));
  return infer_same_as_input0(ctx);
}

Status infer_one_hot(InferContext& ctx) {
  const Shape& idx = ctx.input_shape(0);
  DataType dtype = ctx.input_dtype(2);
  if (!idx.has_rank()) {
    ctx.set_output(0, dtype, Shape());
    return {};
  }
  int64_t out_rank = static_cast<int64_t>(idx.rank()) + 1;
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", -1), out_rank);
  if (!axis.ok()) return node_error(ctx, axis.status());
  Dim depth;
  if (std::optional<Tensor> d = const_input(ctx, 1)) {
    if (d->size() != 1) return ctx.error(fmt::format("depth must hold one value, got {}", d->type_string()));
    double v = d->element_as_double(0);
    if (!(v >= 1)) return ctx.error(fmt::format("depth must be >= 1, got {}", v));
    depth = Dim(static_cast<int64_t>(v));
  }
  std::vector<Dim> dims = idx.dims();
  dims.insert(dims.begin() + *axis, depth);
  ctx.set_output(0, dtype, Shape(dims));
  return {};
}

Status infer_non_zero(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  ctx.set_output(0, DataType::kI64, Shape({in.has_rank() ? Dim(static_cast<int64_t>(in.rank())) : Dim(), Dim()}));
  return {};
}

Status infer_compress(InferContext& ctx) {
  if (ctx.input_dtype(1) != DataType::kBool) return ctx.error("condition must be bool");
  const Shape& in = ctx.input_shape(0);
  if (!ctx.node().has_attr("axis")) {
    ctx.set_output(0, ctx.input_dtype(0), unknown_dims(1));
    return {};
  }
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis"), static_cast<int64_t>(in.rank()));
  if (!axis.ok()) return node_error(ctx, axis.status());
  Shape out = in;
  out.dims()[*axis] = Dim();
  ctx.set_output(0, ctx.input_dtype(0), out);
  return {};
}

Status infer_eye_like(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.has_rank() && in.rank() != 2) return ctx.error(fmt::format("input must be 2-D, got {}", in.to_string()));
  DataType dtype = ctx.input_dtype(0);
  if (ctx.node().has_attr("dtype")) {
    int64_t d = ctx.node().attr_int("dtype");
    if (d < 0 || d > 1000 || !is_known_dtype(static_cast<int32_t>(d)) || d == 0)
      return ctx.error(fmt::format("dtype {} is not a supported data type", d));
    dtype = static_cast<DataType>(d);
  }
  if (dtype == DataType::kString) return ctx.error("EyeLike cannot produce strings");
  ctx.set_output(0, dtype, in);
  return {};
}

Status infer_reverse_sequence(InferContext& ctx) {
  if (ctx.input_dtype(1) != DataType::kI64) return ctx.error("sequence_lens must be int64");
  const Shape& in = ctx.input_shape(0);
  if (in.has_rank()) {
    int64_t r = static_cast<int64_t>(in.rank());
    int64_t b = ctx.node().attr_int("batch_axis", 1), t = ctx.node().attr_int("time_axis", 0);
    if (r < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", in.to_string()));
    if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
      return ctx.error(fmt::format("batch_axis ({}) and time_axis ({}) must be 0 and 1 in some order", b, t));
  }
  return infer_same_as_input0(ctx);
}

}  // namespace

std::vector<OpDef> index_op_list() {
  return {
      {.op_type = "Gather", .min_inputs = 2, .max_inputs = 2, .attrs = {attr_int("axis", 0)}, .infer = infer_gather},
      {.op_type = "GatherElements",
       .min_inputs = 2,
       .max_inputs = 2,
       .attrs = {attr_int("axis", 0)},
       .infer = infer_gather_elements,
       .since_opset = 11},
      {.op_type = "GatherND",
       .min_inputs = 2,
       .max_inputs = 2,
       .attrs = {attr_int("batch_dims", 0)},
       .infer = infer_gather_nd,
       .since_opset = 11},
      {.op_type = "ScatterElements",
       .min_inputs = 3,
       .max_inputs = 3,
       .attrs = {attr_int("axis", 0), attr_string("reduction", "none")},
       .infer = infer_scatter,
       .since_opset = 11},
      {.op_type = "Scatter",
       .min_inputs = 3,
       .max_inputs = 3,
       .attrs = {attr_int("axis", 0)},
       .infer = infer_scatter,
       .since_opset = 9},
      {.op_type = "ScatterND",
       .min_inputs = 3,
       .max_inputs = 3,
       .attrs = {attr_string("reduction", "none")},
       .infer = infer_scatter_nd,
       .since_opset = 11},
      {.op_type = "Shape", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("start", 0), attr_int("end")},
       .infer = infer_shape},
      {.op_type = "Size", .min_inputs = 1, .max_inputs = 1, .infer = infer_size},
      {.op_type = "Constant",
       .min_inputs = 0,
       .max_inputs = 0,
       .attrs = {attr_tensor("value"), attr_float("value_float"), attr_floats("value_floats"), attr_int("value_int"),
                 attr_ints("value_ints"), attr_string("value_string"), attr_strings("value_strings"),
                 attr_tensor("sparse_value")},
       .infer = infer_constant},
      {.op_type = "ConstantOfShape",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_tensor("value")},
       .infer = infer_constant_of_shape,
       .since_opset = 9},
      {.op_type = "Range", .min_inputs = 3, .max_inputs = 3, .infer = infer_range, .since_opset = 11},
      {.op_type = "Trilu", .min_inputs = 1, .max_inputs = 2, .attrs = {attr_int("upper", 1)}, .infer = infer_trilu,
       .since_opset = 14},
      {.op_type = "OneHot", .min_inputs = 3, .max_inputs = 3, .attrs = {attr_int("axis", -1)}, .infer = infer_one_hot,
       .since_opset = 9},
      {.op_type = "NonZero", .min_inputs = 1, .max_inputs = 1, .infer = infer_non_zero, .since_opset = 9},
      {.op_type = "Compress", .min_inputs = 2, .max_inputs = 2, .attrs = {attr_int("axis")}, .infer = infer_compress,
       .since_opset = 9},
      {.op_type = "EyeLike", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("dtype"), attr_int("k", 0)},
       .infer = infer_eye_like, .since_opset = 9},
      {.op_type = "ReverseSequence",
       .min_inputs = 2,
       .max_inputs = 2,
       .attrs = {attr_int("batch_axis", 1), attr_int("time_axis", 0)},
       .infer = infer_reverse_sequence,
       .since_opset = 10},
  };
}

}  // namespace kiln::tensor_ops
