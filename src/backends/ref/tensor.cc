// Reference kernels of the tensor family (see ref_kernel_families.inc): shape and data-movement ops.
// Gathers, scatters and generators are in tensor_index.cc. Output shapes follow ir/ops/tensor_rules.h, the
// same rules type inference uses. Most kernels compute, for every output element, the linear index of the
// input element it copies, then copy with copy_by_index (any dtype, strings included).
#include <fmt/format.h>

#include <limits>

#include "backends/ref/broadcast.h"
#include "backends/ref/tensor_util.h"

namespace kiln::ref {

namespace {

using namespace tensor_detail;  // NOLINT
namespace rules = tensor_rules;

Status concat(KernelContext& ctx) {
  const Tensor& first = ctx.input(0);
  if (!ctx.node().has_attr("axis") && ctx.opset() >= 4) return ctx.error("attribute 'axis' is required");
  int64_t rank = first.rank();
  if (rank == 0) return ctx.error("cannot concatenate scalars (inputs must have rank >= 1)");
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 1), rank);
  if (!axis.ok()) return ctx.error(axis.status().message());
  Dims out_dims = first.dims();
  out_dims[*axis] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype() || t.rank() != rank)
      return ctx.error(fmt::format("input {} is {}, but input 0 is {}", i, t.type_string(), first.type_string()));
    for (int64_t d = 0; d < rank; ++d)
      if (d != *axis && t.dim(d) != first.dim(d))
        return ctx.error(fmt::format("input {} is {}, but input 0 is {}: extents differ on axis {}", i,
                                     t.type_string(), first.type_string(), d));
    out_dims[*axis] += t.dim(*axis);
  }
  Tensor& out = ctx.allocate_output(0, first.dtype(), out_dims);
  int64_t outer = 1;
  for (int64_t d = 0; d < *axis; ++d) outer *= out_dims[d];
  return visit_any(first.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = out.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < ctx.num_inputs(); ++i) {
        const Tensor& t = ctx.input(i);
        int64_t block = outer ? t.size() / outer : 0;  // the input's slab for one outer index
        const T* x = t.data<T>() + o * block;
        for (int64_t k = 0; k < block; ++k) *y++ = x[k];
      }
    }
    return {};
  });
}

Status split(KernelContext& ctx) {
  const Node& n = ctx.node();
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) return ctx.error("cannot split a scalar");
  Result<int64_t> axis = normalize_axis(n.attr_int("axis", 0), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  std::optional<std::vector<int64_t>> split_list;
  if (ctx.has_input(1) && ctx.input(1).size() > 0) {  // an empty split means "not given"
    KILN_ASSIGN_OR_RETURN(split_list, read_ints(ctx, 1, "split"));
  } else if (n.has_attr("split")) {
    split_list = n.attr_ints("split");
  }
  std::optional<int64_t> num_outputs;
  if (n.has_attr("num_outputs")) num_outputs = n.attr_int("num_outputs");
  Result<std::vector<int64_t>> sizes =
      rules::split_sizes(x.dim(*axis), split_list, num_outputs, static_cast<int64_t>(ctx.num_outputs()));
  if (!sizes.ok()) return ctx.error(sizes.status().message());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < *axis; ++d) outer *= x.dim(d);
  for (int64_t d = *axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  int64_t offset = 0;  // along the axis
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    int64_t len = (*sizes)[i];
    Dims dims = x.dims();
    dims[*axis] = len;
    Tensor out(x.dtype(), dims);
    std::vector<int64_t> src;
    src.reserve(static_cast<size_t>(out.size()));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t a = 0; a < len; ++a)
        for (int64_t k = 0; k < inner; ++k) src.push_back((o * x.dim(*axis) + offset + a) * inner + k);
    KILN_RETURN_IF_ERROR(copy_by_index(x, out, src));
    if (ctx.has_output(i)) ctx.set_output(i, std::move(out));
    offset += len;
  }
  return {};
}

Status slice(KernelContext& ctx) {
  const Node& n = ctx.node();
  const Tensor& x = ctx.input(0);
  rules::SliceSpec spec;
  if (ctx.opset() < 10) {
    if (!n.has_attr("starts") || !n.has_attr("ends")) return ctx.error("attributes 'starts' and 'ends' are required");
    spec = {n.attr_ints("starts"), n.attr_ints("ends"), n.attr_ints("axes"), {}};
  } else {
    if (!ctx.has_input(1) || !ctx.has_input(2)) return ctx.error("inputs 'starts' and 'ends' are required");
    KILN_ASSIGN_OR_RETURN(spec.starts, read_ints(ctx, 1, "starts"));
    KILN_ASSIGN_OR_RETURN(spec.ends, read_ints(ctx, 2, "ends"));
    if (ctx.has_input(3)) {
      KILN_ASSIGN_OR_RETURN(spec.axes, read_ints(ctx, 3, "axes"));
    }
    if (ctx.has_input(4)) {
      KILN_ASSIGN_OR_RETURN(spec.steps, read_ints(ctx, 4, "steps"));
    }
  }
  Status s = rules::check_slice_spec(spec, x.rank());
  if (!s.ok()) return ctx.error(s.message());
  // Per axis: first index, step, count (unsliced axes take everything).
  std::vector<rules::SliceRange> ranges(static_cast<size_t>(x.rank()));
  for (int64_t d = 0; d < x.rank(); ++d) ranges[d] = {0, 1, x.dim(d)};
  for (size_t i = 0; i < spec.axes.size(); ++i)
    ranges[spec.axes[i]] = rules::slice_range(x.dim(spec.axes[i]), spec.starts[i], spec.ends[i], spec.steps[i]);
  Dims out_dims;
  for (const auto& r : ranges) out_dims.push_back(r.count);
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  std::vector<int64_t> strides = row_major_strides(x.dims()), src;
  IndexCounter it(out_dims);
  if (it.count() > 0) do {
      int64_t off = 0;
      for (size_t d = 0; d < ranges.size(); ++d) off += (ranges[d].start + it[d] * ranges[d].step) * strides[d];
      src.push_back(off);
    } while (it.next());
  return copy_by_index(x, out, src);
}

// Sets output 0 to a view of input 0 with another shape (element order unchanged).
Status view_as(KernelContext& ctx, const Dims& dims) {
  Result<Tensor> view = ctx.input(0).reshaped(dims);
  if (!view.ok()) return ctx.error(view.status().message());
  ctx.set_output(0, *view);
  return {};
}

Status reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> shape;
  if (ctx.opset() < 5) {
    if (!ctx.node().has_attr("shape")) return ctx.error("attribute 'shape' is required");
    shape = ctx.node().attr_ints("shape");
  } else {
    if (!ctx.has_input(1)) return ctx.error("input 'shape' is required");
    KILN_ASSIGN_OR_RETURN(shape, read_ints(ctx, 1, "shape"));
  }
  Result<Shape> out = rules::reshape(Shape::from_dims(x.dims()), shape, ctx.node().attr_int("allowzero", 0) != 0);
  if (!out.ok()) return ctx.error(out.status().message());
  if (!out->is_static()) return ctx.error(fmt::format("cannot reshape {} to {}", x.type_string(), out->to_string()));
  return view_as(ctx, out->static_dims());
}

Status flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -x.rank() || axis > x.rank())
    return ctx.error(fmt::format("axis {} is out of range for rank {} (valid: [{}, {}])", axis, x.rank(), -x.rank(),
                                 x.rank()));
  if (axis < 0) axis += x.rank();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  int64_t inner = 1;
  for (int64_t d = axis; d < x.rank(); ++d) inner *= x.dim(d);
  return view_as(ctx, {outer, inner});
}

Status transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  std::vector<int64_t> perm;
  if (ctx.node().has_attr("perm")) {
    perm = ctx.node().attr_ints("perm");
    if (static_cast<int64_t>(perm.size()) != rank)
      return ctx.error(fmt::format("perm has {} values but the input {} has rank {}", perm.size(), x.type_string(),
                                   rank));
    Result<std::vector<int64_t>> p = rules::normalize_axes(perm, rank, "perm");
    if (!p.ok()) return ctx.error(p.status().message());
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  Dims out_dims;
  for (int64_t p : perm) out_dims.push_back(x.dim(p));
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  std::vector<int64_t> strides = row_major_strides(x.dims()), src;
  IndexCounter it(out_dims);
  if (it.count() > 0) do {
      int64_t off = 0;
      for (int64_t d = 0; d < rank; ++d) off += it[d] * strides[perm[d]];
      src.push_back(off);
    } while (it.next());
  return copy_by_index(x, out, src);
}

// Squeeze/Unsqueeze axes: attribute before opset 13, input after (nullopt when the node has none).
Result<std::optional<std::vector<int64_t>>> squeeze_axes(const KernelContext& ctx) {
  if (ctx.opset() < 13) {
    if (!ctx.node().has_attr("axes")) return std::optional<std::vector<int64_t>>();
    return std::optional(ctx.node().attr_ints("axes"));
  }
  if (!ctx.has_input(1)) return std::optional<std::vector<int64_t>>();
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, read_ints(ctx, 1, "axes"));
  return std::optional(axes);
}

Status squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(std::optional<std::vector<int64_t>> axes, squeeze_axes(ctx));
  if (axes) {
    Result<std::vector<int64_t>> norm = rules::normalize_axes(*axes, x.rank(), "axes");
    if (!norm.ok()) return ctx.error(norm.status().message());
    axes = *norm;
  }
  Result<Shape> out = rules::squeeze(Shape::from_dims(x.dims()), axes);
  if (!out.ok()) return ctx.error(out.status().message());
  return view_as(ctx, out->static_dims());
}

Status unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(std::optional<std::vector<int64_t>> axes, squeeze_axes(ctx));
  if (!axes) return ctx.error("axes are required");
  Result<std::vector<int64_t>> norm =
      rules::normalize_axes(*axes, x.rank() + static_cast<int64_t>(axes->size()), "axes");
  if (!norm.ok()) return ctx.error(norm.status().message());
  Result<Shape> out = rules::unsqueeze(Shape::from_dims(x.dims()), *norm);
  if (!out.ok()) return ctx.error(out.status().message());
  return view_as(ctx, out->static_dims());
}

Status identity(KernelContext& ctx) {
  ctx.set_output(0, ctx.input(0));
  return {};
}

Status expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> shape, read_ints(ctx, 1, "shape"));
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) return ctx.error(fmt::format("shape[{}] is {} (expected >= 0)", i, shape[i]));
  Result<Dims> out_dims = broadcast_dims(x.dims(), shape);
  if (!out_dims.ok()) return ctx.error(out_dims.status().message());
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, x.dtype(), *out_dims));
  std::vector<int64_t> src(static_cast<size_t>(out->size()));
  BroadcastWalker walker(*out_dims, {x.dims()});
  for (auto& s : src) {
    s = walker.offset(0);
    walker.next();
  }
  return copy_by_index(x, *out, src);
}

Status tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> repeats;
  if (ctx.opset() < 6) {
    // Tile-1: a scalar number of tiles along a scalar axis.
    if (!ctx.has_input(2)) return ctx.error("Tile-1 needs inputs 'tiles' and 'axis'");
    KILN_ASSIGN_OR_RETURN(int64_t tiles, read_scalar_int(ctx, 1, "tiles"));
    KILN_ASSIGN_OR_RETURN(int64_t axis, read_scalar_int(ctx, 2, "axis"));
    Result<int64_t> a = normalize_axis(axis, x.rank());
    if (!a.ok()) return ctx.error(a.status().message());
    repeats.assign(static_cast<size_t>(x.rank()), 1);
    repeats[*a] = tiles;
  } else {
    KILN_ASSIGN_OR_RETURN(repeats, read_ints(ctx, 1, "repeats"));
  }
  if (static_cast<int64_t>(repeats.size()) != x.rank())
    return ctx.error(fmt::format("repeats has {} values but the input {} has rank {}", repeats.size(),
                                 x.type_string(), x.rank()));
  Dims out_dims;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (repeats[d] < 0) return ctx.error(fmt::format("repeats[{}] is {} (expected >= 0)", d, repeats[d]));
    if (repeats[d] > 0 && x.dim(d) > std::numeric_limits<int64_t>::max() / repeats[d])
      return ctx.error(fmt::format("repeats[{}] = {} overflows the output extent", d, repeats[d]));
    out_dims.push_back(x.dim(d) * repeats[d]);
  }
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, x.dtype(), out_dims));
  std::vector<int64_t> strides = row_major_strides(x.dims()), src;
  IndexCounter it(out_dims);
  if (it.count() > 0) do {
      int64_t off = 0;
      for (int64_t d = 0; d < x.rank(); ++d) off += (it[d] % x.dim(d)) * strides[d];
      src.push_back(off);
    } while (it.next());
  return copy_by_index(x, *out, src);
}

// Maps a position outside [0, n) back into the input for the non-constant pad modes; -1 for constant.
int64_t pad_source(int64_t pos, int64_t n, const std::string& mode) {
  if (pos >= 0 && pos < n) return pos;
  if (mode == "edge") return pos < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((pos % n) + n) % n;
  if (mode == "reflect") {
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);  // reflection without repeating the edge
    int64_t m = ((pos % period) + period) % period;
    return m < n ? m : period - m;
  }
  return -1;
}

Status pad(KernelContext& ctx) {
  const Node& n = ctx.node();
  const Tensor& x = ctx.input(0);
  int64_t rank = x.rank();
  std::string mode = n.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return ctx.error(fmt::format("mode '{}' is not one of constant, reflect, edge, wrap", mode));
  std::vector<int64_t> pads;
  std::optional<std::vector<int64_t>> axes;
  Tensor fill(x.dtype(), {});  // the constant value, zero by default
  if (ctx.opset() < 11) {
    const char* name = ctx.opset() < 2 ? "paddings" : "pads";
    if (!n.has_attr(name)) return ctx.error(fmt::format("attribute '{}' is required", name));
    pads = n.attr_ints(name);
    double value = n.attr_float("value", 0.0f);
    KILN_RETURN_IF_ERROR(visit_numeric(x.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      fill.data<T>()[0] = static_cast<T>(static_cast<compute_type_t<T>>(value));
      return {};
    }));
  } else {
    if (!ctx.has_input(1)) return ctx.error("input 'pads' is required");
    KILN_ASSIGN_OR_RETURN(pads, read_ints(ctx, 1, "pads"));
    if (ctx.has_input(2)) {
      const Tensor& v = ctx.input(2);
      if (v.dtype() != x.dtype() || v.size() != 1)
        return ctx.error(fmt::format("constant_value must be one {} value, got {}", dtype_name(x.dtype()),
                                     v.type_string()));
      fill = v;
    }
    if (ctx.has_input(3)) {
      KILN_ASSIGN_OR_RETURN(std::vector<int64_t> a, read_ints(ctx, 3, "axes"));
      axes = a;
    }
  }
  Result<std::vector<int64_t>> full = rules::full_pads(pads, axes, rank);
  if (!full.ok()) return ctx.error(full.status().message());
  Dims out_dims;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t extent = x.dim(d) + (*full)[d] + (*full)[d + rank];
    if (extent < 0)
      return ctx.error(fmt::format("pads {} remove more than the {} elements of axis {}", fmt::join(*full, ","),
                                   x.dim(d), d));
    if (mode != "constant" && x.dim(d) == 0 && extent > 0)
      return ctx.error(fmt::format("cannot pad the empty axis {} in {} mode", d, mode));
    out_dims.push_back(extent);
  }
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, x.dtype(), out_dims));
  std::vector<int64_t> strides = row_major_strides(x.dims()), src;
  IndexCounter it(out_dims);
  if (it.count() > 0) do {
      int64_t off = 0;
      for (int64_t d = 0; d < rank && off >= 0; ++d) {
        int64_t s = pad_source(it[d] - (*full)[d], x.dim(d), mode);
        off = s < 0 ? -1 : off + s * strides[d];
      }
      src.push_back(off);
    } while (it.next());
  return copy_by_index(x, *out, src, &fill);
}

// DepthToSpace (to_space) and SpaceToDepth on NCHW.
Status space_depth(KernelContext& ctx, bool to_space) {
  const Tensor& x = ctx.input(0);
  int64_t b = ctx.node().attr_int("blocksize", 0);
  if (b <= 0) return ctx.error(fmt::format("blocksize must be positive, got {}", b));
  if (x.rank() != 4) return ctx.error(fmt::format("input must have rank 4 (NCHW), got {}", x.type_string()));
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  std::vector<int64_t> src;
  Dims out_dims;
  if (to_space) {
    std::string mode = ctx.node().attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD") return ctx.error(fmt::format("mode '{}' is not DCR or CRD", mode));
    if (C % (b * b) != 0)
      return ctx.error(fmt::format("channels {} of {} are not divisible by blocksize^2 = {}", C, x.type_string(), b * b));
    int64_t oc = C / (b * b);
    out_dims = {N, oc, H * b, W * b};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < oc; ++c)
        for (int64_t h = 0; h < H * b; ++h)
          for (int64_t w = 0; w < W * b; ++w) {
            int64_t i = h % b, j = w % b;
            int64_t ic = mode == "DCR" ? (i * b + j) * oc + c : c * b * b + i * b + j;
            src.push_back(((n * C + ic) * H + h / b) * W + w / b);
          }
  } else {
    if (H % b != 0 || W % b != 0)
      return ctx.error(fmt::format("height and width of {} are not divisible by blocksize {}", x.type_string(), b));
    int64_t oh = H / b, ow = W / b;
    out_dims = {N, C * b * b, oh, ow};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oc = 0; oc < C * b * b; ++oc)
        for (int64_t h = 0; h < oh; ++h)
          for (int64_t w = 0; w < ow; ++w) {
            int64_t c = oc % C, ij = oc / C, i = ij / b, j = ij % b;
            src.push_back(((n * C + c) * H + h * b + i) * W + w * b + j);
          }
  }
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  return copy_by_index(x, out, src);
}
Status depth_to_space(KernelContext& ctx) { return space_depth(ctx, true); }
Status space_to_depth(KernelContext& ctx) { return space_depth(ctx, false); }

constexpr KernelEntry kKernels[] = {
    {"Concat", "", concat},       {"Split", "", split},
    {"Slice", "", slice},         {"Reshape", "", reshape},
    {"Flatten", "", flatten},     {"Transpose", "", transpose},
    {"Squeeze", "", squeeze},     {"Unsqueeze", "", unsqueeze},
    {"Identity", "", identity},   {"Expand", "", expand},
    {"Tile", "", tile},           {"Pad", "", pad},
    {"DepthToSpace", "", depth_to_space}, {"SpaceToDepth", "", space_to_depth},
};

}  // namespace

std::span<const KernelEntry> tensor_kernels() {
  static const std::vector<KernelEntry> all = [] {
    std::vector<KernelEntry> v(std::begin(kKernels), std::end(kKernels));
    for (const KernelEntry& e : tensor_detail::index_kernels()) v.push_back(e);
    return v;
  }();
  return all;
}

}  // namespace kiln::ref
