// Op definitions of the nn family (see op_families.inc): convolutions, pools, normalizations, Dropout.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/conv_geometry.h"

namespace kiln {

namespace {

Shape unknown_of_rank(size_t rank) { return Shape(std::vector<Dim>(rank)); }

// Checks that input `i` has rank >= 3 (N, C, spatial...); false when the rank is unknown.
Result<bool> has_spatial_rank(const InferContext& ctx, size_t i) {
  const Shape& s = ctx.input_shape(i);
  if (!s.has_rank()) return false;
  if (s.rank() < 3)
    return ctx.error(fmt::format("input {} must have rank >= 3 (N, C, spatial...), got {}", i, s.to_string()));
  return true;
}

std::vector<Dim> spatial_of(const Shape& s) { return {s.dims().begin() + 2, s.dims().end()}; }

// Conv and ConvTranspose (and their inference share everything but the channel bookkeeping).
Status infer_conv_like(InferContext& ctx, bool transposed) {
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  KILN_ASSIGN_OR_RETURN(bool ranked, has_spatial_rank(ctx, 0));
  if (!ranked) {
    ctx.set_output(0, ctx.input_dtype(0), w.has_rank() ? unknown_of_rank(w.rank()) : Shape());
    return {};
  }
  const size_t n = x.rank() - 2;
  if (w.has_rank() && w.rank() != x.rank())
    return ctx.error(fmt::format("weight {} must have the input's rank {} ({})", w.to_string(), x.rank(),
                                 x.to_string()));
  const int64_t group = ctx.node().attr_int("group", 1);
  if (group < 1) return ctx.error(fmt::format("group must be >= 1, got {}", group));
  std::vector<int64_t> wk(n, -1);
  Dim channels;
  if (w.has_rank()) {
    for (size_t i = 0; i < n; ++i) wk[i] = w[i + 2].value;
    const Dim& c_in = x[1];
    if (!transposed) {
      channels = w[0];
      if (c_in.known() && w[1].known() && c_in.value != w[1].value * group)
        return ctx.error(fmt::format("input channels {} != weight {} axis 1 ({}) x group {}", c_in.value,
                                     w.to_string(), w[1].value, group));
      if (w[0].known() && w[0].value % group != 0)
        return ctx.error(fmt::format("weight {} output channels are not divisible by group {}", w.to_string(), group));
    } else {
      if (w[1].known()) channels = Dim(w[1].value * group);
      if (c_in.known() && w[0].known() && c_in.value != w[0].value)
        return ctx.error(fmt::format("input channels {} != weight {} axis 0", c_in.value, w.to_string()));
    }
  }
  auto attrs = read_window_attrs(ctx.node(), n, wk, transposed);
  if (!attrs.ok()) return ctx.error(attrs.status().message());
  auto out = window_output_dims(*attrs, spatial_of(x));
  if (!out.ok()) return ctx.error(out.status().message());
  std::vector<Dim> dims = {x[0], channels};
  dims.insert(dims.end(), out->begin(), out->end());
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

Status infer_conv(InferContext& ctx) { return infer_conv_like(ctx, false); }
Status infer_conv_transpose(InferContext& ctx) { return infer_conv_like(ctx, true); }

// MaxPool, AveragePool, LpPool: [N, C, out...]; MaxPool's Indices are i64 of the same shape.
Status infer_pool(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  KILN_ASSIGN_OR_RETURN(bool ranked, has_spatial_rank(ctx, 0));
  Shape out_shape;
  if (ranked) {
    auto attrs = read_window_attrs(ctx.node(), x.rank() - 2, {}, false);
    if (!attrs.ok()) return ctx.error(attrs.status().message());
    auto out = window_output_dims(*attrs, spatial_of(x));
    if (!out.ok()) return ctx.error(out.status().message());
    std::vector<Dim> dims = {x[0], x[1]};
    dims.insert(dims.end(), out->begin(), out->end());
    out_shape = Shape(dims);
  }
  ctx.set_output(0, ctx.input_dtype(0), out_shape);
  ctx.set_output(1, DataType::kI64, out_shape);
  return {};
}

Status infer_global_pool(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  KILN_ASSIGN_OR_RETURN(bool ranked, has_spatial_rank(ctx, 0));
  if (!ranked) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  std::vector<Dim> dims(x.rank(), Dim(1));
  dims[0] = x[0];
  dims[1] = x[1];
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

Status infer_max_unpool(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  if (ctx.has_input(2)) {
    if (const Tensor* os = ctx.input_value(2)) {
      auto v = os->to_int64_vector();
      if (!v.ok()) return ctx.error("output_shape must be an integer tensor");
      for (int64_t d : *v)
        if (d < 0) return ctx.error(fmt::format("output_shape [{}] has a negative extent", fmt::join(*v, ",")));
      ctx.set_output(0, ctx.input_dtype(0), Shape::from_dims(*v));
      return {};
    }
    const Shape& os_shape = ctx.input_shape(2);
    if (os_shape.has_rank() && os_shape.rank() == 1 && os_shape[0].known())
      ctx.set_output(0, ctx.input_dtype(0), unknown_of_rank(static_cast<size_t>(os_shape[0].value)));
    else
      ctx.set_output(0, ctx.input_dtype(0), x.has_rank() ? unknown_of_rank(x.rank()) : Shape());
    return {};
  }
  KILN_ASSIGN_OR_RETURN(bool ranked, has_spatial_rank(ctx, 0));
  if (!ranked) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  auto attrs = read_window_attrs(ctx.node(), x.rank() - 2, {}, false);
  if (!attrs.ok()) return ctx.error(attrs.status().message());
  std::vector<Dim> dims = {x[0], x[1]};
  for (size_t i = 0; i + 2 < x.rank(); ++i) {
    const Dim& in = x[i + 2];
    if (!in.known()) {
      dims.emplace_back();
      continue;
    }
    int64_t out = (in.value - 1) * attrs->strides[i] + attrs->kernel[i] - attrs->pads[i] -
                  attrs->pads[i + x.rank() - 2];
    if (out < 0) return ctx.error(fmt::format("output extent {} on spatial axis {} is negative", out, i));
    dims.emplace_back(out);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

// BatchNormalization: Y like X; extra outputs (training statistics) are [C] like the mean input.
Status infer_batch_norm(InferContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    // Opset 14+: running mean/var take the dtype of the mean/var inputs; older: X's dtype.
    DataType dt = ctx.opset() >= 14 ? ctx.input_dtype(3) : ctx.input_dtype(0);
    ctx.set_output(i, dt, ctx.input_shape(3));
  }
  return {};
}

Status infer_layer_norm(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  ctx.set_output(0, ctx.input_dtype(0), x);
  int64_t stash = ctx.node().attr_int("stash_type", 1);
  if (stash != 1 && stash != 11 && stash != 10 && stash != 16)
    return ctx.error(fmt::format("stash_type {} is not a float dtype", stash));
  Shape stats;
  if (x.has_rank()) {
    int64_t axis = ctx.node().attr_int("axis", -1);
    auto a = normalize_axis(axis, static_cast<int64_t>(x.rank()));
    if (!a.ok()) return ctx.error(a.status().message());
    std::vector<Dim> dims = x.dims();
    for (size_t i = static_cast<size_t>(*a); i < dims.size(); ++i) dims[i] = Dim(1);
    stats = Shape(dims);
  }
  ctx.set_output(1, static_cast<DataType>(stash), stats);
  ctx.set_output(2, static_cast<DataType>(stash), stats);
  return {};
}

Status infer_dropout(InferContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  // The mask is bool from opset 10; before, it had X's type.
  ctx.set_output(1, ctx.opset() >= 10 ? DataType::kBool : ctx.input_dtype(0), ctx.input_shape(0));
  return {};
}

// Ops whose output has the input's type and that need an axis check.
Status infer_lp_normalization(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  if (x.has_rank()) {
    auto a = normalize_axis(ctx.node().attr_int("axis", -1), static_cast<int64_t>(x.rank()));
    if (!a.ok()) return ctx.error(a.status().message());
  }
  int64_t p = ctx.node().attr_int("p", 2);
  if (p != 1 && p != 2) return ctx.error(fmt::format("p must be 1 or 2, got {}", p));
  return infer_same_as_input0(ctx);
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "Conv", .min_inputs = 2, .max_inputs = 3, .attrs = {attr_string("auto_pad", "NOTSET"), attr_ints("dilations"), attr_int("group", 1),
                 attr_ints("kernel_shape"), attr_ints("pads"), attr_ints("strides")},
       .infer = infer_conv},
      {.op_type = "ConvTranspose",
       .min_inputs = 2,
       .max_inputs = 3,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_ints("dilations"), attr_int("group", 1),
                 attr_ints("kernel_shape"), attr_ints("output_padding"), attr_ints("output_shape"),
                 attr_ints("pads"), attr_ints("strides")},
       .infer = infer_conv_transpose},
      {.op_type = "MaxPool",
       .min_inputs = 1,
       .max_inputs = 1,
       .max_outputs = 2,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_int("ceil_mode", 0), attr_ints("dilations"),
                 required(attr_ints("kernel_shape")), attr_ints("pads"), attr_int("storage_order", 0),
                 attr_ints("strides")},
       .infer = infer_pool},
      {.op_type = "AveragePool",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_int("ceil_mode", 0), attr_int("count_include_pad", 0),
                 attr_ints("dilations"), required(attr_ints("kernel_shape")), attr_ints("pads"),
                 attr_ints("strides")},
       .infer = infer_pool},
      // LpPool-1 had a float 'p'; kiln's AttrSpec has one type per name, so only the int form (opset 2+).
      {.op_type = "LpPool",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_int("ceil_mode", 0), attr_ints("dilations"),
                 required(attr_ints("kernel_shape")), attr_int("p", 2), attr_ints("pads"), attr_ints("strides")},
       .infer = infer_pool},
      {.op_type = "GlobalAveragePool", .min_inputs = 1, .max_inputs = 1, .infer = infer_global_pool},
      {.op_type = "GlobalMaxPool", .min_inputs = 1, .max_inputs = 1, .infer = infer_global_pool},
      {.op_type = "GlobalLpPool", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("p", 2)},
       .infer = infer_global_pool},
      {.op_type = "MaxUnpool",
       .min_inputs = 2,
       .max_inputs = 3,
       .attrs = {required(attr_ints("kernel_shape")), attr_ints("pads"), attr_ints("strides")},
       .infer = infer_max_unpool,
       .since_opset = 9},
      {.op_type = "BatchNormalization",
       .min_inputs = 5,
       .max_inputs = 5,
       .max_outputs = 5,
       .attrs = {attr_ints("consumed_inputs"), attr_float("epsilon", 1e-5f), attr_int("is_test", 0),
                 attr_float("momentum", 0.9f), attr_int("spatial", 1), attr_int("training_mode", 0)},
       .infer = infer_batch_norm},
      {.op_type = "InstanceNormalization",
       .min_inputs = 3,
       .max_inputs = 3,
       .attrs = {attr_ints("consumed_inputs"), attr_float("epsilon", 1e-5f)},
       .infer = infer_same_as_input0},
      {.op_type = "LayerNormalization",
       .min_inputs = 2,
       .max_inputs = 3,
       .max_outputs = 3,
       .attrs = {attr_int("axis", -1), attr_float("epsilon", 1e-5f), attr_int("stash_type", 1)},
       .infer = infer_layer_norm,
       .since_opset = 17},
      {.op_type = "GroupNormalization",
       .min_inputs = 3,
       .max_inputs = 3,
       .attrs = {attr_float("epsilon", 1e-5f), required(attr_int("num_groups")), attr_int("stash_type", 1)},
       .infer = infer_same_as_input0,
       .since_opset = 18},
      {.op_type = "LRN",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_float("alpha", 1e-4f), attr_float("beta", 0.75f), attr_float("bias", 1.0f),
                 required(attr_int("size"))},
       .infer = infer_same_as_input0},
      {.op_type = "LpNormalization",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_int("axis", -1), attr_int("p", 2)},
       .infer = infer_lp_normalization},
      // Opset 1 (experimental) had across_channels / normalize_variance; opset 9+ has axes.
      {.op_type = "MeanVarianceNormalization",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_int("across_channels", 0), attr_ints("axes"), attr_int("normalize_variance", 1)},
       .infer = infer_same_as_input0},
      {.op_type = "Dropout",
       .min_inputs = 1,
       .max_inputs = 3,
       .max_outputs = 2,
       .attrs = {attr_ints("consumed_inputs"), attr_int("is_test", 0), attr_float("ratio", 0.5f), attr_int("seed")},
       .infer = infer_dropout},
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> nn_op_defs() { return defs(); }

}  // namespace kiln
