#include "ir/ops/tensor_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::tensor_rules {

Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(rank, 0)), false);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      return Status::invalid_argument(
          fmt::format("{} value {} is out of range for rank {} (valid: [{}, {}])", what, a, rank, -rank, rank - 1));
    int64_t n = a < 0 ? a + rank : a;
    if (seen[n]) return Status::invalid_argument(fmt::format("{} repeats axis {} ({})", what, n, fmt::join(axes, ",")));
    seen[n] = true;
    out.push_back(n);
  }
  return out;
}

Result<Shape> reshape(const Shape& in, const std::vector<int64_t>& shape, bool allowzero) {
  std::vector<Dim> out(shape.size());
  int64_t infer_axis = -1;
  bool has_zero = false;
  std::vector<bool> copied(shape.size(), false);  // output axis i takes input axis i's extent
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t v = shape[i];
    if (v == -1) {
      if (infer_axis >= 0)
        return Status::invalid_argument(fmt::format("shape {} has more than one -1", fmt::join(shape, ",")));
      infer_axis = static_cast<int64_t>(i);
    } else if (v == 0 && !allowzero) {
      if (in.has_rank() && i >= in.rank())
        return Status::invalid_argument(fmt::format(
            "shape[{}] is 0 (copy the input extent) but the input {} has only rank {}", i, in.to_string(), in.rank()));
      out[i] = in.has_rank() ? in[i] : Dim();
      copied[i] = true;
    } else if (v < 0) {
      return Status::invalid_argument(fmt::format("shape[{}] is {} (expected >= -1)", i, v));
    } else {
      if (v == 0) has_zero = true;
      out[i] = Dim(v);
    }
  }
  if (allowzero && has_zero && infer_axis >= 0)
    return Status::invalid_argument(
        fmt::format("shape {} has both 0 and -1, which is ambiguous with allowzero=1", fmt::join(shape, ",")));
  if (!in.has_rank()) return Shape(out);

  // Element count of the input minus the axes copied by 0 (they appear on both sides).
  bool in_known = true;
  int64_t in_count = 1;
  for (size_t i = 0; i < in.rank(); ++i) {
    if (i < copied.size() && copied[i]) continue;
    if (!in[i].known()) {
      in_known = false;
      continue;
    }
    in_count *= in[i].value;
  }
  int64_t out_count = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (static_cast<int64_t>(i) != infer_axis && !copied[i]) out_count *= out[i].value;
  if (infer_axis >= 0) {
    if (in_known) {
      if (out_count == 0)
        return Status::invalid_argument(fmt::format(
            "cannot infer the -1 in shape {}: the other extents multiply to 0", fmt::join(shape, ",")));
      if (in_count % out_count != 0)
        return Status::invalid_argument(fmt::format("cannot reshape {} to {}: {} elements do not divide into {}",
                                                    in.to_string(), fmt::join(shape, ","), in_count, out_count));
      out[infer_axis] = Dim(in_count / out_count);
    }
  } else if (in_known && in_count != out_count) {
    return Status::invalid_argument(fmt::format("cannot reshape {} to shape {}: element counts differ",
                                                in.to_string(), fmt::join(shape, ",")));
  }
  return Shape(out);
}

SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  SliceRange r;
  if (step == std::numeric_limits<int64_t>::min()) step = -std::numeric_limits<int64_t>::max();
  r.step = step;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    r.count = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    r.count = start > end ? (start - end - 1) / (-step) + 1 : 0;
  }
  r.start = r.count > 0 ? start : 0;
  return r;
}

Status check_slice_spec(SliceSpec& spec, int64_t rank) {
  size_t n = spec.starts.size();
  if (spec.ends.size() != n)
    return Status::invalid_argument(
        fmt::format("starts has {} values but ends has {}", spec.starts.size(), spec.ends.size()));
  if (spec.axes.empty() && n > 0) {
    if (static_cast<int64_t>(n) > rank)
      return Status::invalid_argument(fmt::format("{} starts given for an input of rank {}", n, rank));
    for (size_t i = 0; i < n; ++i) spec.axes.push_back(static_cast<int64_t>(i));
  }
  if (spec.axes.size() != n)
    return Status::invalid_argument(fmt::format("starts has {} values but axes has {}", n, spec.axes.size()));
  if (spec.steps.empty()) spec.steps.assign(n, 1);
  if (spec.steps.size() != n)
    return Status::invalid_argument(fmt::format("starts has {} values but steps has {}", n, spec.steps.size()));
  for (size_t i = 0; i < n; ++i)
    if (spec.steps[i] == 0) return Status::invalid_argument(fmt::format("steps[{}] is 0", i));
  KILN_ASSIGN_OR_RETURN(spec.axes, normalize_axes(spec.axes, rank, "axes"));
  return {};
}

Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split,
                                         std::optional<int64_t> num_outputs, int64_t n_outputs) {
  if (split) {
    if (static_cast<int64_t>(split->size()) != n_outputs)
      return Status::invalid_argument(
          fmt::format("split has {} values but the node has {} outputs", split->size(), n_outputs));
    int64_t sum = 0;
    for (size_t i = 0; i < split->size(); ++i) {
      if ((*split)[i] < 0) return Status::invalid_argument(fmt::format("split[{}] is negative ({})", i, (*split)[i]));
      sum += (*split)[i];
    }
    if (dim >= 0 && sum != dim)
      return Status::invalid_argument(
          fmt::format("split values {} sum to {}, but the axis has extent {}", fmt::join(*split, ","), sum, dim));
    return *split;
  }
  if (num_outputs && *num_outputs != n_outputs)
    return Status::invalid_argument(
        fmt::format("num_outputs is {} but the node has {} outputs", *num_outputs, n_outputs));
  if (n_outputs <= 0) return Status::invalid_argument("Split needs at least one output");
  if (dim < 0) return std::vector<int64_t>(static_cast<size_t>(n_outputs), -1);
  if (num_outputs) {
    // Opset 18: chunks of ceil(dim / n); the last one may be smaller.
    int64_t chunk = (dim + n_outputs - 1) / n_outputs;
    std::vector<int64_t> sizes(static_cast<size_t>(n_outputs), chunk);
    sizes.back() = dim - chunk * (n_outputs - 1);
    if (sizes.back() < 0)
      return Status::invalid_argument(
          fmt::format("an axis of extent {} cannot be split into {} outputs", dim, n_outputs));
    return sizes;
  }
  if (dim % n_outputs != 0)
    return Status::invalid_argument(
        fmt::format("an axis of extent {} cannot be split into {} equal parts", dim, n_outputs));
  return std::vector<int64_t>(static_cast<size_t>(n_outputs), dim / n_outputs);
}

Result<Shape> squeeze(const Shape& in, const std::optional<std::vector<int64_t>>& axes) {
  if (!in.has_rank()) return Shape();
  std::vector<Dim> out;
  if (axes) {
    std::vector<bool> drop(in.rank(), false);
    for (int64_t a : *axes) {
      if (in[a].known() && in[a].value != 1)
        return Status::invalid_argument(
            fmt::format("cannot squeeze axis {} of {}: its extent is {}, not 1", a, in.to_string(), in[a].value));
      drop[a] = true;
    }
    for (size_t i = 0; i < in.rank(); ++i)
      if (!drop[i]) out.push_back(in[i]);
    return Shape(out);
  }
  for (size_t i = 0; i < in.rank(); ++i) {
    if (!in[i].known()) return Shape();  // may or may not be 1: the rank is unknown
    if (in[i].value != 1) out.push_back(in[i]);
  }
  return Shape(out);
}

Result<Shape> unsqueeze(const Shape& in, const std::vector<int64_t>& axes) {
  if (!in.has_rank()) return Shape();
  size_t out_rank = in.rank() + axes.size();
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : axes) inserted[a] = true;
  std::vector<Dim> out;
  size_t k = 0;
  for (size_t i = 0; i < out_rank; ++i) out.push_back(inserted[i] ? Dim(1) : in[k++]);
  return Shape(out);
}

Result<std::vector<int64_t>> full_pads(const std::vector<int64_t>& pads, const std::optional<std::vector<int64_t>>& axes,
                                       int64_t rank) {
  if (!axes) {
    if (static_cast<int64_t>(pads.size()) != 2 * rank)
      return Status::invalid_argument(
          fmt::format("pads has {} values, expected {} (2 x rank {})", pads.size(), 2 * rank, rank));
    return pads;
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> ax, normalize_axes(*axes, rank, "axes"));
  if (pads.size() != 2 * ax.size())
    return Status::invalid_argument(
        fmt::format("pads has {} values, expected {} (2 x {} axes)", pads.size(), 2 * ax.size(), ax.size()));
  std::vector<int64_t> out(static_cast<size_t>(2 * rank), 0);
  for (size_t k = 0; k < ax.size(); ++k) {
    out[ax[k]] = pads[k];
    out[ax[k] + rank] = pads[k + ax.size()];
  }
  return out;
}

namespace {
constexpr int64_t kMaxRangeCount = int64_t{1} << 40;
}

Result<int64_t> range_count(double start, double limit, double delta) {
  if (delta == 0) return Status::invalid_argument("Range delta is 0");
  double n = std::ceil((limit - start) / delta);
  if (std::isnan(n)) return Status::invalid_argument("Range start, limit or delta is NaN");
  if (n <= 0) return int64_t{0};
  if (n > static_cast<double>(kMaxRangeCount))
    return Status::invalid_argument(fmt::format("Range would have {} elements", n));
  return static_cast<int64_t>(n);
}

Result<int64_t> range_count_int(int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0) return Status::invalid_argument("Range delta is 0");
  // In long double to avoid int64 overflow of limit - start; exact enough for any count we would allocate.
  long double diff = static_cast<long double>(limit) - static_cast<long double>(start);
  long double n = std::ceil(diff / static_cast<long double>(delta));
  if (n <= 0) return int64_t{0};
  if (n > static_cast<long double>(kMaxRangeCount))
    return Status::invalid_argument(fmt::format("Range would have {} elements", static_cast<double>(n)));
  return static_cast<int64_t>(n);
}

std::pair<int64_t, int64_t> shape_op_range(const Node& node, int64_t rank) {
  int64_t start = node.attr_int("start", 0);
  int64_t end = node.has_attr("end") ? node.attr_int("end", rank) : rank;
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  if (end < start) end = start;
  return {start, end};
}

Status check_alloc(const Dims& dims, DataType dtype) {
  Result<int64_t> n = checked_element_count(dims);
  if (!n.ok()) return n.status();
  int64_t elem = std::max<int64_t>(1, static_cast<int64_t>(dtype_size(dtype)));
  if (*n > kMaxAllocBytes / elem)
    return Status::invalid_argument(fmt::format("output shape {} ({} elements) is too large to allocate",
                                                dims_to_string(dims), *n));
  return {};
}

Result<Tensor> constant_value(const Node& node) {
  static const char* kNames[] = {"value",      "value_float",  "value_floats",  "value_int",
                                 "value_ints", "value_string", "value_strings", "sparse_value"};
  int count = 0;
  for (const char* n : kNames) count += node.attrs.count(n) ? 1 : 0;
  if (count != 1)
    return Status::invalid_argument(fmt::format(
        "a Constant needs exactly one of value, value_float(s), value_int(s), value_string(s); it has {}", count));
  if (node.attrs.count("sparse_value"))
    return Status::unsupported("Constant with sparse_value is not supported (sparse tensors are not implemented)");
  const Attribute& a = node.attrs.begin()->second;
  const std::string& name = node.attrs.begin()->first;
  if (name == "value") return a.t;
  if (name == "value_float") return Tensor::scalar<float>(a.f);
  if (name == "value_floats")
    return Tensor::from_vector<float>(a.floats, {static_cast<int64_t>(a.floats.size())});
  if (name == "value_int") return Tensor::scalar<int64_t>(a.i);
  if (name == "value_ints") return Tensor::from_vector<int64_t>(a.ints, {static_cast<int64_t>(a.ints.size())});
  if (name == "value_string") return Tensor::scalar<std::string>(a.s);
  return Tensor::from_vector<std::string>(a.strings, {static_cast<int64_t>(a.strings.size())});
}

namespace {

constexpr int kMaxFoldDepth = 32;
constexpr int64_t kMaxFoldElements = 1024;

std::optional<Tensor> known_value_at(const Value* v, int depth);

// Small integer tensors only: folding is for shape computations, not for data.
bool foldable(const std::optional<Tensor>& t) {
  return t && (is_integer(t->dtype()) || t->dtype() == DataType::kBool) && t->size() <= kMaxFoldElements;
}

std::optional<std::vector<int64_t>> folded_ints(const Node& p, size_t i, int depth) {
  if (i >= p.inputs.size() || !p.inputs[i]) return std::nullopt;
  std::optional<Tensor> t = known_value_at(p.inputs[i], depth + 1);
  if (!foldable(t)) return std::nullopt;
  Result<std::vector<int64_t>> v = t->to_int64_vector();
  if (!v.ok()) return std::nullopt;
  return *v;
}

// Evaluates the integer shape arithmetic that exporters put between Shape and Reshape/Expand/...:
// Identity, Cast, Concat, Unsqueeze, Squeeze, Gather and Slice of known 0-D/1-D integer tensors.
std::optional<Tensor> fold_node(const Node& p, int depth) {
  if (p.inputs.empty() || !p.inputs[0]) return std::nullopt;
  std::optional<Tensor> x = known_value_at(p.inputs[0], depth + 1);
  if (!foldable(x) || x->rank() > 1) return std::nullopt;
  Result<std::vector<int64_t>> xv_r = x->to_int64_vector();
  if (!xv_r.ok()) return std::nullopt;
  std::vector<int64_t> xv = *xv_r;
  const std::string& op = p.op_type;
  if (op == "Identity") return x;
  if (op == "Cast") {
    int64_t to = p.attr_int("to", 0);
    if (to == static_cast<int64_t>(DataType::kI64)) return Tensor::from_vector<int64_t>(xv, x->dims());
    if (to == static_cast<int64_t>(DataType::kI32)) {
      std::vector<int32_t> v(xv.begin(), xv.end());
      return Tensor::from_vector<int32_t>(v, x->dims());
    }
    return std::nullopt;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    // For 0-D/1-D values the result is [n] or a scalar; the element order never changes.
    if (op == "Unsqueeze" && x->rank() == 0) {
      size_t n_axes = p.opset < 13 ? p.attr_ints("axes").size() : folded_ints(p, 1, depth).value_or(std::vector<int64_t>{}).size();
      if (n_axes != 1) return std::nullopt;
      return Tensor::from_vector<int64_t>(xv, {1});
    }
    if (op == "Squeeze" && x->rank() == 1 && x->size() == 1) return Tensor::from_vector<int64_t>(xv, {});
    return std::nullopt;
  }
  if (op == "Concat") {
    std::vector<int64_t> all;
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      std::optional<std::vector<int64_t>> v = folded_ints(p, i, depth);
      if (!v || !p.inputs[i] || p.inputs[i]->type.dtype != x->dtype()) return std::nullopt;
      all.insert(all.end(), v->begin(), v->end());
    }
    if (x->rank() != 1) return std::nullopt;
    return Tensor::from_vector<int64_t>(all, {static_cast<int64_t>(all.size())});
  }
  if ((op == "Add" || op == "Sub" || op == "Mul") && x->dtype() == DataType::kI64) {
    std::optional<Tensor> y = known_value_at(p.inputs.size() > 1 ? p.inputs[1] : nullptr, depth + 1);
    if (!foldable(y) || y->dtype() != DataType::kI64 || y->rank() > 1) return std::nullopt;
    const Tensor& big = x->rank() >= y->rank() && x->size() >= y->size() ? *x : *y;
    if (x->size() != y->size() && x->size() != 1 && y->size() != 1) return std::nullopt;
    std::vector<int64_t> out(static_cast<size_t>(big.size()));
    for (int64_t i = 0; i < big.size(); ++i) {
      int64_t a = xv[x->size() == 1 ? 0 : i], b = y->element_as_int64(y->size() == 1 ? 0 : i);
      out[i] = op == "Add" ? a + b : op == "Sub" ? a - b : a * b;
    }
    return Tensor::from_vector<int64_t>(out, big.dims());
  }
  if (op == "ConstantOfShape" && x->rank() == 1) {
    const Tensor* value = p.attr_tensor("value");
    if (!value || value->size() != 1 || value->dtype() != DataType::kI64) return std::nullopt;
    Result<int64_t> n = checked_element_count(xv);
    if (!n.ok() || *n > kMaxFoldElements) return std::nullopt;
    return Tensor::from_vector<int64_t>(std::vector<int64_t>(static_cast<size_t>(*n), value->data<int64_t>()[0]), xv);
  }
  if (op == "Gather" && x->rank() == 1) {
    if (p.inputs.size() < 2) return std::nullopt;
    std::optional<Tensor> idx = known_value_at(p.inputs[1], depth + 1);
    if (!foldable(idx) || idx->rank() > 1) return std::nullopt;
    std::vector<int64_t> out;
    int64_t n = x->size();
    for (int64_t k = 0; k < idx->size(); ++k) {
      int64_t i = idx->element_as_int64(k);
      if (i < -n || i >= n) return std::nullopt;  // the kernel reports the error
      out.push_back(xv[i < 0 ? i + n : i]);
    }
    return Tensor::from_vector<int64_t>(out, idx->dims());
  }
  if (op == "Slice" && x->rank() == 1 && p.opset >= 10) {
    auto starts = folded_ints(p, 1, depth), ends = folded_ints(p, 2, depth);
    std::optional<std::vector<int64_t>> axes = std::vector<int64_t>{}, steps = std::vector<int64_t>{};
    if (p.inputs.size() > 3 && p.inputs[3]) axes = folded_ints(p, 3, depth);
    if (p.inputs.size() > 4 && p.inputs[4]) steps = folded_ints(p, 4, depth);
    if (!starts || !ends || !axes || !steps) return std::nullopt;
    SliceSpec spec{*starts, *ends, *axes, *steps};
    if (!check_slice_spec(spec, 1).ok() || spec.axes.size() != 1) return std::nullopt;
    SliceRange r = slice_range(x->size(), spec.starts[0], spec.ends[0], spec.steps[0]);
    std::vector<int64_t> out;
    for (int64_t k = 0; k < r.count; ++k) out.push_back(xv[r.start + k * r.step]);
    return Tensor::from_vector<int64_t>(out, {r.count});
  }
  return std::nullopt;
}

std::optional<Tensor> known_value_at(const Value* v, int depth) {
  if (!v || depth > kMaxFoldDepth) return std::nullopt;
  if (v->constant) return *v->constant;
  const Node* p = v->producer;
  if (!p || !p->domain.empty()) return std::nullopt;
  if (p->op_type == "Constant") {
    Result<Tensor> t = constant_value(*p);
    if (t.ok()) return *t;
    return std::nullopt;
  }
  if (p->op_type == "Shape") {
    if (p->inputs.empty() || !p->inputs[0] || !p->inputs[0]->type.shape.is_static()) return std::nullopt;
    Dims d = p->inputs[0]->type.shape.static_dims();
    auto [start, end] = shape_op_range(*p, static_cast<int64_t>(d.size()));
    std::vector<int64_t> vals(d.begin() + start, d.begin() + end);
    return Tensor::from_vector<int64_t>(vals, {end - start});
  }
  if (p->op_type == "Size") {
    if (p->inputs.empty() || !p->inputs[0] || !p->inputs[0]->type.shape.is_static()) return std::nullopt;
    return Tensor::scalar<int64_t>(element_count(p->inputs[0]->type.shape.static_dims()));
  }
  std::optional<Tensor> t = fold_node(*p, depth);
  // Only trust a fold whose dtype matches what inference assigned to the value.
  if (t && t->dtype() != v->type.dtype) return std::nullopt;
  return t;
}

}  // namespace

std::optional<Tensor> known_value(const Value* v) { return known_value_at(v, 0); }

}  // namespace kiln::tensor_rules
