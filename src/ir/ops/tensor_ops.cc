// Op definitions of the tensor family (see op_families.inc): shape and data-movement ops. Gathers,
// scatters and generators are in tensor_index_ops.cc; shape rules shared with the kernels in tensor_rules.
#include <fmt/format.h>

#include <limits>

#include "ir/ops/tensor_ops_util.h"

namespace kiln {

namespace {

using namespace tensor_ops;  // NOLINT
namespace rules = tensor_rules;

// Merges two descriptions of the same extent, preferring the more specific one.
Dim merge_dim(const Dim& a, const Dim& b) {
  if (a.known()) return a;
  if (b.known()) return b;
  return a.symbol.empty() ? b : a;
}

Status infer_concat(InferContext& ctx) {
  if (!ctx.node().has_attr("axis") && ctx.opset() >= 4) return ctx.error("attribute 'axis' is required");
  int64_t axis = ctx.node().attr_int("axis", 1);  // opset 1-3 default
  DataType dtype = ctx.input_dtype(0);
  int64_t rank = -1;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
    if (ctx.input_dtype(i) != dtype)
      return ctx.error(fmt::format("input {} is {}, but input 0 is {}", i, dtype_name(ctx.input_dtype(i)),
                                   dtype_name(dtype)));
    if (ctx.input_shape(i).has_rank() && rank < 0) rank = static_cast<int64_t>(ctx.input_shape(i).rank());
  }
  if (rank < 0) {
    ctx.set_output(0, dtype, Shape());
    return {};
  }
  if (rank == 0) return ctx.error("cannot concatenate scalars (inputs must have rank >= 1)");
  Result<int64_t> a = normalize_axis(axis, rank);
  if (!a.ok()) return node_error(ctx, a.status());
  std::vector<Dim> dims(static_cast<size_t>(rank));
  int64_t total = 0;
  bool total_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input_shape(i);
    if (!s.has_rank()) {
      total_known = false;
      continue;
    }
    if (static_cast<int64_t>(s.rank()) != rank)
      return ctx.error(fmt::format("input {} has rank {} ({}), but another input has rank {}", i, s.rank(),
                                   s.to_string(), rank));
    for (int64_t d = 0; d < rank; ++d) {
      if (d == *a) {
        if (s[d].known()) total += s[d].value;
        else total_known = false;
        continue;
      }
      if (s[d].known() && dims[d].known() && s[d].value != dims[d].value)
        return ctx.error(fmt::format("input {} has extent {} on axis {}, but an earlier input has {}", i, s[d].value,
                                     d, dims[d].value));
      dims[d] = merge_dim(dims[d], s[d]);
    }
  }
  dims[*a] = total_known ? Dim(total) : Dim();
  ctx.set_output(0, dtype, Shape(dims));
  return {};
}

Status infer_split(InferContext& ctx) {
  const Node& n = ctx.node();
  const Shape& in = ctx.input_shape(0);
  int64_t n_out = static_cast<int64_t>(ctx.num_outputs());
  std::optional<std::vector<int64_t>> split;
  bool split_input = ctx.has_input(1) && !(static_length(ctx, 1) == 0);  // an empty split means "not given"
  if (split_input) {
    split = const_ints(ctx, 1);
  } else if (n.has_attr("split")) {
    split = n.attr_ints("split");
  }
  std::optional<int64_t> num_outputs;
  if (n.has_attr("num_outputs")) num_outputs = n.attr_int("num_outputs");
  if (num_outputs && (split || split_input)) return ctx.error("give either split or num_outputs, not both");
  if (!in.has_rank()) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output(i, ctx.input_dtype(0), Shape());
    return {};
  }
  Result<int64_t> axis = normalize_axis(n.attr_int("axis", 0), static_cast<int64_t>(in.rank()));
  if (!axis.ok()) return node_error(ctx, axis.status());
  int64_t dim = in[*axis].known() ? in[*axis].value : -1;
  std::vector<int64_t> sizes(static_cast<size_t>(n_out), -1);
  if (split || !split_input) {
    Result<std::vector<int64_t>> s = rules::split_sizes(dim, split, num_outputs, n_out);
    if (!s.ok()) return node_error(ctx, s.status());
    sizes = *s;
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    Shape out = in;
    out.dims()[*axis] = sizes[i] >= 0 ? Dim(sizes[i]) : Dim();
    ctx.set_output(i, ctx.input_dtype(0), out);
  }
  return {};
}

Status infer_slice(InferContext& ctx) {
  const Node& n = ctx.node();
  const Shape& in = ctx.input_shape(0);
  DataType dtype = ctx.input_dtype(0);
  if (!in.has_rank()) {
    ctx.set_output(0, dtype, Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  rules::SliceSpec spec;
  bool known = true;
  std::optional<std::vector<int64_t>> axes_known;
  if (ctx.opset() < 10) {
    if (!n.has_attr("starts") || !n.has_attr("ends")) return ctx.error("attributes 'starts' and 'ends' are required");
    spec.starts = n.attr_ints("starts");
    spec.ends = n.attr_ints("ends");
    spec.axes = n.attr_ints("axes");
  } else {
    if (ctx.num_inputs() < 3 || !ctx.has_input(1) || !ctx.has_input(2))
      return ctx.error("inputs 'starts' and 'ends' are required");
    auto starts = const_ints(ctx, 1), ends = const_ints(ctx, 2);
    auto axes = ctx.has_input(3) ? const_ints(ctx, 3) : std::optional<std::vector<int64_t>>(std::vector<int64_t>{});
    auto steps = ctx.has_input(4) ? const_ints(ctx, 4) : std::optional<std::vector<int64_t>>(std::vector<int64_t>{});
    known = starts && ends && axes && steps;
    if (known) {
      spec = {*starts, *ends, *axes, *steps};
    } else if (axes && !axes->empty()) {
      axes_known = axes;
    } else if (!ctx.has_input(3)) {
      if (std::optional<int64_t> len = static_length(ctx, 1)) {
        axes_known = std::vector<int64_t>();
        for (int64_t i = 0; i < *len && i < rank; ++i) axes_known->push_back(i);
      }
    }
  }
  if (!known) {
    // Only the sliced axes become unknown, if we know which they are.
    Shape out = unknown_dims(rank);
    if (axes_known) {
      Result<std::vector<int64_t>> ax = rules::normalize_axes(*axes_known, rank, "axes");
      if (!ax.ok()) return node_error(ctx, ax.status());
      out = in;
      for (int64_t a : *ax) out.dims()[a] = Dim();
    }
    ctx.set_output(0, dtype, out);
    return {};
  }
  Status s = rules::check_slice_spec(spec, rank);
  if (!s.ok()) return node_error(ctx, s);
  Shape out = in;
  for (size_t i = 0; i < spec.axes.size(); ++i) {
    int64_t a = spec.axes[i];
    if (!in[a].known()) {
      // [0, huge) with step 1 keeps the whole axis whatever its extent.
      bool whole = spec.starts[i] == 0 && spec.steps[i] == 1 && spec.ends[i] >= std::numeric_limits<int32_t>::max();
      out.dims()[a] = whole ? in[a] : Dim();
      continue;
    }
    out.dims()[a] = rules::slice_range(in[a].value, spec.starts[i], spec.ends[i], spec.steps[i]).count;
  }
  ctx.set_output(0, dtype, out);
  return {};
}

Status infer_reshape(InferContext& ctx) {
  const Node& n = ctx.node();
  std::optional<std::vector<int64_t>> shape;
  if (ctx.opset() < 5) {
    if (!n.has_attr("shape")) return ctx.error("attribute 'shape' is required");
    shape = n.attr_ints("shape");
  } else {
    if (!ctx.has_input(1)) return ctx.error("input 'shape' is required");
    shape = const_ints(ctx, 1);
  }
  if (!shape) {
    std::optional<int64_t> len = static_length(ctx, 1);
    ctx.set_output(0, ctx.input_dtype(0), len ? unknown_dims(*len) : Shape());
    return {};
  }
  Result<Shape> out = rules::reshape(ctx.input_shape(0), *shape, n.attr_int("allowzero", 0) != 0);
  if (!out.ok()) return node_error(ctx, out.status());
  ctx.set_output(0, ctx.input_dtype(0), *out);
  return {};
}

Status infer_flatten(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), unknown_dims(2));
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return ctx.error(fmt::format("axis {} is out of range for rank {} (valid: [{}, {}])", axis, rank, -rank, rank));
  if (axis < 0) axis += rank;
  auto product = [&](int64_t from, int64_t to) -> Dim {
    int64_t p = 1;
    for (int64_t i = from; i < to; ++i) {
      if (!in[i].known()) return (to - from == 1) ? in[i] : Dim();
      p *= in[i].value;
    }
    return Dim(p);
  };
  ctx.set_output(0, ctx.input_dtype(0), Shape({product(0, axis), product(axis, rank)}));
  return {};
}

Status infer_transpose(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) {
    std::vector<int64_t> perm = ctx.node().attr_ints("perm");
    ctx.set_output(0, ctx.input_dtype(0), ctx.node().has_attr("perm") ? unknown_dims(perm.size()) : Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  std::vector<int64_t> perm;
  if (ctx.node().has_attr("perm")) {
    perm = ctx.node().attr_ints("perm");
    if (static_cast<int64_t>(perm.size()) != rank)
      return ctx.error(fmt::format("perm has {} values but the input has rank {}", perm.size(), rank));
    Result<std::vector<int64_t>> p = rules::normalize_axes(perm, rank, "perm");
    if (!p.ok()) return node_error(ctx, p.status());
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  std::vector<Dim> dims;
  for (int64_t p : perm) dims.push_back(in[p]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

// Squeeze/Unsqueeze axes: attribute before opset 13, input after.
struct AxesArg {
  bool given = false;                  // the node names axes at all
  std::optional<std::vector<int64_t>> values;  // known values
  std::optional<int64_t> count;        // known number of axes
};
AxesArg squeeze_axes(const InferContext& ctx) {
  AxesArg a;
  if (ctx.opset() < 13) {
    a.given = ctx.node().has_attr("axes");
    if (a.given) a.values = ctx.node().attr_ints("axes");
  } else {
    a.given = ctx.has_input(1);
    if (a.given) a.values = const_ints(ctx, 1);
    if (a.given && !a.values) a.count = static_length(ctx, 1);
  }
  if (a.values) a.count = static_cast<int64_t>(a.values->size());
  return a;
}

Status infer_squeeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  AxesArg axes = squeeze_axes(ctx);
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  if (axes.given && !axes.values) {
    ctx.set_output(0, ctx.input_dtype(0), axes.count ? unknown_dims(rank - *axes.count) : Shape());
    return {};
  }
  std::optional<std::vector<int64_t>> norm;
  if (axes.given) {
    Result<std::vector<int64_t>> ax = rules::normalize_axes(*axes.values, rank, "axes");
    if (!ax.ok()) return node_error(ctx, ax.status());
    norm = *ax;
  }
  Result<Shape> out = rules::squeeze(in, norm);
  if (!out.ok()) return node_error(ctx, out.status());
  ctx.set_output(0, ctx.input_dtype(0), *out);
  return {};
}

Status infer_unsqueeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  AxesArg axes = squeeze_axes(ctx);
  if (!axes.given) return ctx.error("axes are required");
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t out_rank = static_cast<int64_t>(in.rank()) + axes.count.value_or(0);
  if (!axes.values) {
    ctx.set_output(0, ctx.input_dtype(0), axes.count ? unknown_dims(out_rank) : Shape());
    return {};
  }
  Result<std::vector<int64_t>> ax = rules::normalize_axes(*axes.values, out_rank, "axes");
  if (!ax.ok()) return node_error(ctx, ax.status());
  Result<Shape> out = rules::unsqueeze(in, *ax);
  if (!out.ok()) return node_error(ctx, out.status());
  ctx.set_output(0, ctx.input_dtype(0), *out);
  return {};
}

Status infer_expand(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (std::optional<std::vector<int64_t>> shape = const_ints(ctx, 1)) {
    for (size_t i = 0; i < shape->size(); ++i)
      if ((*shape)[i] < 0) return ctx.error(fmt::format("shape[{}] is {} (expected >= 0)", i, (*shape)[i]));
    Result<Shape> out = broadcast_shapes(in, Shape::from_dims(*shape));
    if (!out.ok()) return node_error(ctx, out.status());
    ctx.set_output(0, ctx.input_dtype(0), *out);
    return {};
  }
  std::optional<int64_t> len = static_length(ctx, 1);
  if (!len || !in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  // An input extent other than 1 survives whatever the shape values are (they must be 1 or equal to it).
  int64_t rank = std::max<int64_t>(*len, static_cast<int64_t>(in.rank()));
  Shape out = unknown_dims(rank);
  for (size_t i = 0; i < in.rank(); ++i)
    if (in[i].known() && in[i].value != 1) out.dims()[rank - in.rank() + i] = in[i];
  ctx.set_output(0, ctx.input_dtype(0), out);
  return {};
}

Status infer_tile(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  std::optional<std::vector<int64_t>> repeats;
  if (ctx.opset() < 6) {
    // Tile-1: a scalar count of tiles along a scalar axis.
    auto tiles = const_ints(ctx, 1);
    auto axis = ctx.has_input(2) ? const_ints(ctx, 2) : std::nullopt;
    if (tiles && axis && tiles->size() == 1 && axis->size() == 1) {
      Result<int64_t> a = normalize_axis((*axis)[0], rank);
      if (!a.ok()) return node_error(ctx, a.status());
      repeats = std::vector<int64_t>(static_cast<size_t>(rank), 1);
      (*repeats)[*a] = (*tiles)[0];
    }
  } else {
    repeats = const_ints(ctx, 1);
  }
  if (!repeats) {
    ctx.set_output(0, ctx.input_dtype(0), unknown_dims(rank));
    return {};
  }
  if (static_cast<int64_t>(repeats->size()) != rank)
    return ctx.error(fmt::format("repeats has {} values but the input has rank {}", repeats->size(), rank));
  std::vector<Dim> dims;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t r = (*repeats)[i];
    if (r < 0) return ctx.error(fmt::format("repeats[{}] is {} (expected >= 0)", i, r));
    dims.push_back(r == 1 ? in[i] : r == 0 ? Dim(0) : in[i].known() ? Dim(in[i].value * r) : Dim());
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

Status infer_pad(InferContext& ctx) {
  const Node& n = ctx.node();
  const Shape& in = ctx.input_shape(0);
  std::string mode = n.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return ctx.error(fmt::format("mode '{}' is not one of constant, reflect, edge, wrap", mode));
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  std::optional<std::vector<int64_t>> pads;
  std::optional<std::vector<int64_t>> axes;
  if (ctx.opset() < 11) {
    const char* name = ctx.opset() < 2 ? "paddings" : "pads";
    if (!n.has_attr(name)) return ctx.error(fmt::format("attribute '{}' is required", name));
    pads = n.attr_ints(name);
  } else {
    if (!ctx.has_input(1)) return ctx.error("input 'pads' is required");
    pads = const_ints(ctx, 1);
    if (ctx.has_input(3)) {
      axes = const_ints(ctx, 3);
      if (!axes) pads.reset();
    }
  }
  if (!pads) {
    ctx.set_output(0, ctx.input_dtype(0), unknown_dims(rank));
    return {};
  }
  Result<std::vector<int64_t>> full = rules::full_pads(*pads, axes, rank);
  if (!full.ok()) return node_error(ctx, full.status());
  std::vector<Dim> dims;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t extra = (*full)[i] + (*full)[i + rank];
    if (extra == 0) dims.push_back(in[i]);
    else if (!in[i].known()) dims.emplace_back();
    else if (in[i].value + extra < 0)
      return ctx.error(fmt::format("pads {} remove more than the {} elements of axis {}", fmt::join(*full, ","),
                                   in[i].value, i));
    else dims.emplace_back(in[i].value + extra);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(dims));
  return {};
}

// DepthToSpace (to_space = true) and SpaceToDepth.
Status infer_space_depth(InferContext& ctx, bool to_space) {
  const Shape& in = ctx.input_shape(0);
  int64_t b = ctx.node().attr_int("blocksize", 0);
  if (b <= 0) return ctx.error(fmt::format("blocksize must be positive, got {}", b));
  if (to_space) {
    std::string mode = ctx.node().attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.error(fmt::format("mode '{}' is not DCR or CRD", mode));
  }
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), unknown_dims(4));
    return {};
  }
  if (in.rank() != 4) return ctx.error(fmt::format("input must have rank 4 (NCHW), got {}", in.to_string()));
  auto scale = [&](const Dim& d, bool mul) -> Result<Dim> {
    if (!d.known()) return Dim();
    if (mul) return Dim(d.value * b);
    if (d.value % b != 0)
      return Status::invalid_argument(fmt::format("extent {} is not divisible by blocksize {}", d.value, b));
    return Dim(d.value / b);
  };
  Result<Dim> c = to_space ? scale(in[1], false) : Result<Dim>(in[1].known() ? Dim(in[1].value * b * b) : Dim());
  if (to_space && c.ok() && c->known()) c = scale(*c, false);
  Result<Dim> h = scale(in[2], to_space), w = scale(in[3], to_space);
  for (auto* r : {&c, &h, &w})
    if (!r->ok()) return ctx.error(fmt::format("input {}: {}", in.to_string(), r->status().message()));
  ctx.set_output(0, ctx.input_dtype(0), Shape({in[0], *c, *h, *w}));
  return {};
}
Status infer_depth_to_space(InferContext& ctx) { return infer_space_depth(ctx, true); }
Status infer_space_to_depth(InferContext& ctx) { return infer_space_depth(ctx, false); }

Status infer_identity(InferContext& ctx) { return infer_same_as_input0(ctx); }

constexpr int kManyOutputs = std::numeric_limits<int>::max();

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = [] {
    std::vector<OpDef> d = {
        {.op_type = "Concat", .min_inputs = 1, .max_inputs = -1, .attrs = {attr_int("axis")}, .infer = infer_concat},
        {.op_type = "Split",
         .min_inputs = 1,
         .max_inputs = 2,
         .min_outputs = 1,
         .max_outputs = kManyOutputs,
         .attrs = {attr_int("axis", 0), attr_ints("split"), attr_int("num_outputs")},
         .infer = infer_split},
        {.op_type = "Slice",
         .min_inputs = 1,
         .max_inputs = 5,
         .attrs = {attr_ints("starts"), attr_ints("ends"), attr_ints("axes")},
         .infer = infer_slice},
        {.op_type = "Reshape",
         .min_inputs = 1,
         .max_inputs = 2,
         .attrs = {attr_ints("shape"), attr_ints("consumed_inputs"), attr_int("allowzero", 0)},
         .infer = infer_reshape},
        {.op_type = "Flatten", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("axis", 1)}, .infer = infer_flatten},
        {.op_type = "Transpose", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_ints("perm")}, .infer = infer_transpose},
        {.op_type = "Squeeze", .min_inputs = 1, .max_inputs = 2, .attrs = {attr_ints("axes")}, .infer = infer_squeeze},
        {.op_type = "Unsqueeze", .min_inputs = 1, .max_inputs = 2, .attrs = {attr_ints("axes")}, .infer = infer_unsqueeze},
        {.op_type = "Expand", .min_inputs = 2, .max_inputs = 2, .infer = infer_expand, .since_opset = 8},
        {.op_type = "Tile", .min_inputs = 2, .max_inputs = 3, .infer = infer_tile},
        {.op_type = "Pad",
         .min_inputs = 1,
         .max_inputs = 4,
         .attrs = {attr_string("mode", "constant"), attr_ints("pads"), attr_ints("paddings"), attr_float("value", 0.0f)},
         .infer = infer_pad},
        {.op_type = "DepthToSpace",
         .min_inputs = 1,
         .max_inputs = 1,
         .attrs = {required(attr_int("blocksize")), attr_string("mode", "DCR")},
         .infer = infer_depth_to_space},
        {.op_type = "SpaceToDepth",
         .min_inputs = 1,
         .max_inputs = 1,
         .attrs = {required(attr_int("blocksize"))},
         .infer = infer_space_to_depth},
        {.op_type = "Identity", .min_inputs = 1, .max_inputs = 1, .infer = infer_identity},
    };
    for (OpDef& def : index_op_list()) d.push_back(std::move(def));
    return d;
  }();
  return kDefs;
}
}  // namespace

std::span<const OpDef> tensor_op_defs() { return defs(); }

}  // namespace kiln
