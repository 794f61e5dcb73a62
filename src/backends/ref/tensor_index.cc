// Reference kernels of the tensor family, part 2: gathers, scatters, shape queries and generators.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "backends/ref/tensor_util.h"

namespace kiln::ref::tensor_detail {

namespace {

namespace rules = tensor_rules;

Status require_index_dtype(const KernelContext& ctx, size_t i, const char* what) {
  DataType t = ctx.input(i).dtype();
  if (t != DataType::kI32 && t != DataType::kI64)
    return ctx.error(fmt::format("{} must be int32 or int64, got {}", what, ctx.input(i).type_string()));
  return {};
}

// Validates and normalizes one index against an axis of `extent`; `where` names it in the error.
Result<int64_t> checked_index(const KernelContext& ctx, int64_t value, int64_t extent, const std::string& where) {
  if (value < -extent || value >= extent) return index_error(ctx, where, value, extent);
  return value < 0 ? value + extent : value;
}

Status gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  KILN_RETURN_IF_ERROR(require_index_dtype(ctx, 1, "indices"));
  const Tensor& indices = ctx.input(1);
  if (data.rank() == 0) return ctx.error("data must have rank >= 1, got a scalar");
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), data.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indices.to_int64_vector());
  int64_t extent = data.dim(*axis);
  for (size_t k = 0; k < idx.size(); ++k) {
    Result<int64_t> v = checked_index(ctx, idx[k], extent, fmt::format("indices[{}]", k));
    if (!v.ok()) return v.status();
    idx[k] = *v;
  }
  Dims out_dims(data.dims().begin(), data.dims().begin() + *axis);
  for (int64_t d : indices.dims()) out_dims.push_back(d);
  for (int64_t d = *axis + 1; d < data.rank(); ++d) out_dims.push_back(data.dim(d));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < *axis; ++d) outer *= data.dim(d);
  for (int64_t d = *axis + 1; d < data.rank(); ++d) inner *= data.dim(d);
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, data.dtype(), out_dims));
  std::vector<int64_t> src;
  src.reserve(static_cast<size_t>(out->size()));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : idx)
      for (int64_t k = 0; k < inner; ++k) src.push_back((o * extent + i) * inner + k);
  return copy_by_index(data, *out, src);
}

// GatherElements and ScatterElements: the flat offset into data of each element of indices (its own
// position, with its index value in place of the coordinate on the axis), after checking the ranks, the
// axis and every index value.
Result<std::vector<int64_t>> element_offsets(const KernelContext& ctx, const Tensor& data, const Tensor& indices) {
  if (data.rank() == 0) return ctx.error("data must have rank >= 1, got a scalar");
  if (indices.rank() != data.rank())
    return ctx.error(fmt::format("indices {} must have the rank of data {}", indices.type_string(), data.type_string()));
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), data.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  for (int64_t d = 0; d < data.rank(); ++d)
    if (d != *axis && indices.dim(d) > data.dim(d))
      return ctx.error(fmt::format("indices {} exceed data {} on axis {}", indices.type_string(), data.type_string(), d));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indices.to_int64_vector());
  std::vector<int64_t> strides = row_major_strides(data.dims()), offsets;
  IndexCounter it(indices.dims());
  size_t k = 0;
  if (it.count() > 0) do {
      Result<int64_t> v = checked_index(ctx, idx[k], data.dim(*axis), fmt::format("indices[{}]", k));
      if (!v.ok()) return v.status();
      int64_t off = 0;
      for (int64_t d = 0; d < data.rank(); ++d) off += (d == *axis ? *v : it[d]) * strides[d];
      offsets.push_back(off);
      ++k;
    } while (it.next());
  return offsets;
}

Status gather_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  KILN_RETURN_IF_ERROR(require_index_dtype(ctx, 1, "indices"));
  const Tensor& indices = ctx.input(1);
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> src, element_offsets(ctx, data, indices));
  Tensor& out = ctx.allocate_output(0, data.dtype(), indices.dims());
  return copy_by_index(data, out, src);
}

Status gather_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (!is_integer(indices.dtype())) return ctx.error("indices must be int64, got " + indices.type_string());
  int64_t b = ctx.node().attr_int("batch_dims", 0);
  int64_t r = data.rank(), q = indices.rank();
  if (q < 1) return ctx.error("indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error(fmt::format("batch_dims {} must be in [0, {})", b, std::min(r, q)));
  for (int64_t d = 0; d < b; ++d)
    if (data.dim(d) != indices.dim(d))
      return ctx.error(fmt::format("batch axis {} differs: data {}, indices {}", d, data.type_string(),
                                   indices.type_string()));
  int64_t last = indices.dim(q - 1);
  if (last < 1 || last > r - b)
    return ctx.error(fmt::format("the last extent of indices {} is {}, must be in [1, {}] for data {}",
                                 indices.type_string(), last, r - b, data.type_string()));
  Dims out_dims(indices.dims().begin(), indices.dims().end() - 1);
  int64_t slab = 1;  // elements copied per index tuple
  for (int64_t d = b + last; d < r; ++d) {
    out_dims.push_back(data.dim(d));
    slab *= data.dim(d);
  }
  int64_t batch = 1;
  for (int64_t d = 0; d < b; ++d) batch *= data.dim(d);
  int64_t batch_stride = 1;  // elements of data per batch entry
  for (int64_t d = b; d < r; ++d) batch_stride *= data.dim(d);
  int64_t tuples = batch ? indices.size() / last / batch : 0;  // tuples per batch entry
  std::vector<int64_t> strides = row_major_strides(data.dims());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indices.to_int64_vector());
  Tensor& out = ctx.allocate_output(0, data.dtype(), out_dims);
  std::vector<int64_t> src;
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = bi * batch_stride;
      for (int64_t j = 0; j < last; ++j) {
        int64_t pos = (bi * tuples + t) * last + j;
        Result<int64_t> v = checked_index(ctx, idx[pos], data.dim(b + j), fmt::format("indices[{}]", pos));
        if (!v.ok()) return v.status();
        off += *v * strides[b + j];
      }
      for (int64_t k = 0; k < slab; ++k) src.push_back(off + k);
    }
  return copy_by_index(data, out, src);
}

// Applies `reduction` of `u` into `y` (none: overwrite). Numeric types compute via compute_type_t.
template <typename T>
void reduce_into(T& y, const T& u, const std::string& reduction) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
    y = u;
    (void)reduction;
  } else {
    using C = compute_type_t<T>;
    C a = static_cast<C>(y), b = static_cast<C>(u);
    if (reduction == "add") y = static_cast<T>(a + b);
    else if (reduction == "mul") y = static_cast<T>(a * b);
    else if (reduction == "max") y = static_cast<T>(std::max(a, b));
    else if (reduction == "min") y = static_cast<T>(std::min(a, b));
    else y = u;
  }
}

Status check_reduction(const KernelContext& ctx, const std::string& reduction, DataType dtype) {
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    return ctx.error(fmt::format("reduction '{}' is not one of none, add, mul, max, min", reduction));
  if (reduction != "none" && (dtype == DataType::kString || dtype == DataType::kBool))
    return ctx.error(fmt::format("reduction '{}' is not defined for {}", reduction, dtype_name(dtype)));
  return {};
}

// ScatterElements, and the deprecated Scatter (opset 9-10) which is the same with reduction none.
Status scatter_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  KILN_RETURN_IF_ERROR(require_index_dtype(ctx, 1, "indices"));
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  std::string reduction = ctx.node().op_type == "Scatter" ? "none" : ctx.node().attr_string("reduction", "none");
  KILN_RETURN_IF_ERROR(check_reduction(ctx, reduction, data.dtype()));
  if (updates.dtype() != data.dtype() || updates.dims() != indices.dims())
    return ctx.error(fmt::format("updates {} must have the dtype of data {} and the shape of indices {}",
                                 updates.type_string(), data.type_string(), indices.type_string()));
  // Destination offset of each update, validated before anything is written.
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dst, element_offsets(ctx, data, indices));
  Tensor out = data.clone();
  KILN_RETURN_IF_ERROR(visit_any(data.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = out.data<T>();
    const T* u = updates.data<T>();
    for (size_t i = 0; i < dst.size(); ++i) reduce_into(y[dst[i]], u[i], reduction);
    return {};
  }));
  ctx.set_output(0, out);
  return {};
}

Status scatter_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  if (!is_integer(indices.dtype())) return ctx.error("indices must be int64, got " + indices.type_string());
  std::string reduction = ctx.node().attr_string("reduction", "none");
  KILN_RETURN_IF_ERROR(check_reduction(ctx, reduction, data.dtype()));
  int64_t r = data.rank(), q = indices.rank();
  if (q < 1) return ctx.error("indices must have rank >= 1");
  int64_t last = indices.dim(q - 1);
  if (last > r) return ctx.error(fmt::format("indices {} index {} axes of data {}", indices.type_string(), last,
                                             data.type_string()));
  Dims want(indices.dims().begin(), indices.dims().end() - 1);
  for (int64_t d = last; d < r; ++d) want.push_back(data.dim(d));
  if (updates.dtype() != data.dtype() || updates.dims() != want)
    return ctx.error(fmt::format("updates are {}, expected {}[{}]", updates.type_string(), dtype_name(data.dtype()),
                                 dims_to_string(want)));
  int64_t slab = 1;
  for (int64_t d = last; d < r; ++d) slab *= data.dim(d);
  std::vector<int64_t> strides = row_major_strides(data.dims());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, indices.to_int64_vector());
  int64_t tuples = last ? indices.size() / last : element_count(want) / std::max<int64_t>(slab, 1);
  std::vector<int64_t> base(static_cast<size_t>(tuples), 0);
  for (int64_t t = 0; t < tuples; ++t)
    for (int64_t j = 0; j < last; ++j) {
      Result<int64_t> v = checked_index(ctx, idx[t * last + j], data.dim(j), fmt::format("indices[{}]", t * last + j));
      if (!v.ok()) return v.status();
      base[t] += *v * strides[j];
    }
  Tensor out = data.clone();
  KILN_RETURN_IF_ERROR(visit_any(data.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = out.data<T>();
    const T* u = updates.data<T>();
    for (int64_t t = 0; t < tuples; ++t)
      for (int64_t k = 0; k < slab; ++k) reduce_into(y[base[t] + k], u[t * slab + k], reduction);
    return {};
  }));
  ctx.set_output(0, out);
  return {};
}

Status shape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto [start, end] = rules::shape_op_range(ctx.node(), x.rank());
  std::vector<int64_t> v(x.dims().begin() + start, x.dims().begin() + end);
  ctx.set_output(0, Tensor::from_vector<int64_t>(v, {end - start}));
  return {};
}

Status size(KernelContext& ctx) {
  ctx.set_output(0, Tensor::scalar<int64_t>(ctx.input(0).size()));
  return {};
}

Status constant(KernelContext& ctx) {
  Result<Tensor> t = rules::constant_value(ctx.node());
  if (!t.ok()) return ctx.error(t.status().message());
  ctx.set_output(0, *t);
  return {};
}

Status constant_of_shape(KernelContext& ctx) {
  if (ctx.input(0).rank() != 1) return ctx.error("the shape input must be 1-D, got " + ctx.input(0).type_string());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, read_ints(ctx, 0, "shape"));
  Tensor value = Tensor::scalar<float>(0.0f);
  if (const Tensor* v = ctx.node().attr_tensor("value")) {
    if (v->size() != 1) return ctx.error(fmt::format("value must hold one element, got {}", v->type_string()));
    value = *v;
  }
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, value.dtype(), dims));
  std::vector<int64_t> src(static_cast<size_t>(out->size()), 0);
  return copy_by_index(value, *out, src);
}

Status range(KernelContext& ctx) {
  const Tensor& s = ctx.input(0);
  for (size_t i = 0; i < 3; ++i) {
    if (ctx.input(i).size() != 1 || ctx.input(i).dtype() != s.dtype())
      return ctx.error(fmt::format("input {} must be a scalar of dtype {}, got {}", i, dtype_name(s.dtype()),
                                   ctx.input(i).type_string()));
  }
  return visit_numeric(s.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    C start = static_cast<C>(s.data<T>()[0]);
    C limit = static_cast<C>(ctx.input(1).data<T>()[0]);
    C delta = static_cast<C>(ctx.input(2).data<T>()[0]);
    Result<int64_t> n = std::is_floating_point_v<C>
                            ? rules::range_count(static_cast<double>(start), static_cast<double>(limit),
                                                 static_cast<double>(delta))
                            : rules::range_count_int(static_cast<int64_t>(start), static_cast<int64_t>(limit),
                                                     static_cast<int64_t>(delta));
    if (!n.ok()) return ctx.error(n.status().message());
    KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, s.dtype(), {*n}));
    T* y = out->data<T>();
    for (int64_t i = 0; i < *n; ++i) y[i] = static_cast<T>(start + static_cast<C>(i) * delta);
    return {};
  });
}

Status trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", x.type_string()));
  int64_t k = 0;
  if (ctx.has_input(1)) {
    KILN_ASSIGN_OR_RETURN(k, read_scalar_int(ctx, 1, "k"));
  }
  bool upper = ctx.node().attr_int("upper", 1) != 0;
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
  std::vector<int64_t> src(static_cast<size_t>(x.size()));
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t col = i % cols, row = (i / cols) % rows;
    bool keep = upper ? col - row >= k : col - row <= k;  // compared as differences: no overflow for huge k
    src[i] = keep ? i : -1;
  }
  return copy_by_index(x, out, src);
}

Status one_hot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.size() != 1) return ctx.error(fmt::format("depth must hold one value, got {}", depth_t.type_string()));
  if (values.size() != 2 || values.rank() != 1)
    return ctx.error(fmt::format("values must be [off_value, on_value], got {}", values.type_string()));
  if (indices.dtype() == DataType::kString || indices.dtype() == DataType::kBool)
    return ctx.error("indices must be numeric, got " + indices.type_string());
  double depth_v = depth_t.element_as_double(0);
  if (!(depth_v >= 1) || depth_v > 1e12) return ctx.error(fmt::format("depth must be >= 1, got {}", depth_v));
  int64_t depth = static_cast<int64_t>(depth_v);
  int64_t out_rank = indices.rank() + 1;
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", -1), out_rank);
  if (!axis.ok()) return ctx.error(axis.status().message());
  Dims out_dims = indices.dims();
  out_dims.insert(out_dims.begin() + *axis, depth);
  KILN_ASSIGN_OR_RETURN(Tensor * out, allocate_checked(ctx, 0, values.dtype(), out_dims));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < *axis; ++d) outer *= indices.dim(d);
  for (int64_t d = *axis; d < indices.rank(); ++d) inner *= indices.dim(d);
  std::vector<int64_t> src;  // 0 = off_value, 1 = on_value
  src.reserve(static_cast<size_t>(out->size()));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t v = indices.element_as_int64(o * inner + i);
        if (v < 0) v += depth;  // out-of-range indices give an all-off row, as the spec says
        src.push_back(v == d ? 1 : 0);
      }
  return copy_by_index(values, *out, src);
}

Status non_zero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> hits;  // linear indices of non-zero elements
  KILN_RETURN_IF_ERROR(visit_numeric_or_bool(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.size(); ++i)
      if (static_cast<compute_type_t<T>>(p[i]) != compute_type_t<T>(0)) hits.push_back(i);
    return {};
  }));
  int64_t nnz = static_cast<int64_t>(hits.size());
  Tensor& out = ctx.allocate_output(0, DataType::kI64, {x.rank(), nnz});
  int64_t* y = out.data<int64_t>();
  std::vector<int64_t> strides = row_major_strides(x.dims());
  for (int64_t j = 0; j < nnz; ++j)
    for (int64_t d = 0; d < x.rank(); ++d) y[d * nnz + j] = (hits[j] / strides[d]) % x.dim(d);
  return {};
}

Status compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DataType::kBool || cond.rank() != 1)
    return ctx.error("condition must be a 1-D bool tensor, got " + cond.type_string());
  bool has_axis = ctx.node().has_attr("axis");
  int64_t axis = 0;
  Dims in_dims = {x.size()};  // without axis: the flattened input
  if (has_axis) {
    Result<int64_t> a = normalize_axis(ctx.node().attr_int("axis"), x.rank());
    if (!a.ok()) return ctx.error(a.status().message());
    axis = *a;
    in_dims = x.dims();
  }
  int64_t extent = in_dims[axis];
  std::vector<int64_t> keep;
  const bool* c = cond.data<bool>();
  for (int64_t i = 0; i < cond.size(); ++i) {
    if (!c[i]) continue;
    if (i >= extent)
      return ctx.error(fmt::format("condition[{}] is true but the axis has only {} elements", i, extent));
    keep.push_back(i);
  }
  Dims out_dims = in_dims;
  out_dims[axis] = static_cast<int64_t>(keep.size());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= in_dims[d];
  for (size_t d = axis + 1; d < in_dims.size(); ++d) inner *= in_dims[d];
  Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
  std::vector<int64_t> src;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : keep)
      for (int64_t i = 0; i < inner; ++i) src.push_back((o * extent + k) * inner + i);
  return copy_by_index(x, out, src);
}

Status eye_like(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) return ctx.error(fmt::format("input must be 2-D, got {}", x.type_string()));
  DataType dtype = x.dtype();
  if (ctx.node().has_attr("dtype")) {
    int64_t d = ctx.node().attr_int("dtype");
    if (d <= 0 || d > 1000 || !is_known_dtype(static_cast<int32_t>(d)) || d == static_cast<int64_t>(DataType::kString))
      return ctx.error(fmt::format("dtype {} is not a supported numeric data type", d));
    dtype = static_cast<DataType>(d);
  }
  int64_t k = ctx.node().attr_int("k", 0);
  Tensor& out = ctx.allocate_output(0, dtype, x.dims());
  return visit_numeric_or_bool(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    T* y = out.data<T>();
    for (int64_t i = 0; i < x.dim(0); ++i)
      for (int64_t j = 0; j < x.dim(1); ++j)
        if (j - i == k) y[i * x.dim(1) + j] = static_cast<T>(compute_type_t<T>(1));
    return {};
  });
}

Status reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t batch_axis = ctx.node().attr_int("batch_axis", 1), time_axis = ctx.node().attr_int("time_axis", 0);
  if (x.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", x.type_string()));
  if ((batch_axis != 0 && batch_axis != 1) || (time_axis != 0 && time_axis != 1) || batch_axis == time_axis)
    return ctx.error(fmt::format("batch_axis ({}) and time_axis ({}) must be 0 and 1 in some order", batch_axis,
                                 time_axis));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> lens, read_ints(ctx, 1, "sequence_lens"));
  int64_t batch = x.dim(batch_axis), time = x.dim(time_axis);
  if (static_cast<int64_t>(lens.size()) != batch)
    return ctx.error(fmt::format("sequence_lens has {} values, expected the batch size {}", lens.size(), batch));
  for (size_t b = 0; b < lens.size(); ++b)
    if (lens[b] < 0 || lens[b] > time)
      return ctx.error(fmt::format("sequence_lens[{}] = {} is out of range [0, {}]", b, lens[b], time));
  Tensor& out = ctx.allocate_output(0, x.dtype(), x.dims());
  std::vector<int64_t> strides = row_major_strides(x.dims()), src;
  IndexCounter it(x.dims());
  if (it.count() > 0) do {
      int64_t b = it[batch_axis], t = it[time_axis];
      int64_t from_t = t < lens[b] ? lens[b] - 1 - t : t;
      int64_t off = 0;
      for (int64_t d = 0; d < x.rank(); ++d) off += (d == time_axis ? from_t : it[d]) * strides[d];
      src.push_back(off);
    } while (it.next());
  return copy_by_index(x, out, src);
}

constexpr KernelEntry kKernels[] = {
    {"Gather", "", gather},
    {"GatherElements", "", gather_elements},
    {"GatherND", "", gather_nd},
    {"ScatterElements", "", scatter_elements},
    {"Scatter", "", scatter_elements},
    {"ScatterND", "", scatter_nd},
    {"Shape", "", shape},
    {"Size", "", size},
    {"Constant", "", constant},
    {"ConstantOfShape", "", constant_of_shape},
    {"Range", "", range},
    {"Trilu", "", trilu},
    {"OneHot", "", one_hot},
    {"NonZero", "", non_zero},
    {"Compress", "", compress},
    {"EyeLike", "", eye_like},
    {"ReverseSequence", "", reverse_sequence},
};

}  // namespace

std::span<const KernelEntry> index_kernels() { return kKernels; }

}  // namespace kiln::ref::tensor_detail
