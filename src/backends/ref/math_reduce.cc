// Reference kernels of the math family's reductions: Reduce*, ArgMax/ArgMin, and the CumSum scan.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "backends/ref/kernel.h"
#include "backends/ref/math_kernels.h"
#include "ir/ops/math_ops.h"

namespace kiln::ref {

namespace {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The reduced axes, or nullopt for "no reduction" (empty axes with noop_with_empty_axes).
Result<std::optional<std::vector<bool>>> reduced_axes(KernelContext& ctx, int64_t rank) {
  const Node& node = ctx.node();
  std::vector<int64_t> axes;
  if (ctx.opset() >= reduce_axes_input_opset(node.op_type)) {
    if (ctx.has_input(1)) {
      const Tensor& t = ctx.input(1);
      if (t.rank() > 1) return ctx.error(fmt::format("axes must be 1-D, got {}", t.type_string()));
      Result<std::vector<int64_t>> v = t.to_int64_vector();
      if (!v.ok()) return ctx.error("axes: " + v.status().message());
      axes = *v;
    }
  } else {
    axes = node.attr_ints("axes");
  }
  if (axes.empty()) {
    if (node.attr_int("noop_with_empty_axes", 0) != 0) return std::optional<std::vector<bool>>();
    return std::optional<std::vector<bool>>(std::vector<bool>(rank, true));
  }
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) {
    Result<int64_t> n = normalize_axis(a, rank);
    if (!n.ok()) return ctx.error("axes: " + n.status().message());
    if (reduced[*n]) return ctx.error(fmt::format("axes lists axis {} twice", *n));
    reduced[*n] = true;
  }
  return std::optional<std::vector<bool>>(std::move(reduced));
}

// Applies the reduction to one group of values (in input order). Floats compute in double; integers stay
// in their type (sums wrap), and results that need real arithmetic (mean, L2, logs) are converted back.
template <typename T>
T reduce_group(ReduceKind kind, const std::vector<T>& v) {
  using A = math_acc_t<T>;
  if constexpr (std::is_same_v<T, bool>) {  // ReduceMax/ReduceMin only (checked by the caller): any / all
    bool any = false, all = true;
    for (bool x : v) {
      any = any || x;
      all = all && x;
    }
    return kind == ReduceKind::kMax ? any : all;
  } else if constexpr (std::is_integral_v<T>) {
    switch (kind) {
      case ReduceKind::kMax: {
        T m = std::numeric_limits<T>::lowest();
        for (T x : v) m = x > m ? x : m;
        return m;
      }
      case ReduceKind::kMin: {
        T m = std::numeric_limits<T>::max();
        for (T x : v) m = x < m ? x : m;
        return m;
      }
      case ReduceKind::kProd: {
        A p = 1;
        for (T x : v) p = acc_mul(p, x);
        return p;
      }
      case ReduceKind::kSum:
      case ReduceKind::kMean:
      case ReduceKind::kL1:
      case ReduceKind::kSumSquare: {
        A s = 0;
        for (T x : v) {
          A term = kind == ReduceKind::kSumSquare ? acc_mul(x, x)
                   : kind == ReduceKind::kL1 && x < 0 ? acc_mul(x, static_cast<T>(-1))
                                                      : x;
          s = acc_add(s, term);
        }
        if (kind == ReduceKind::kMean) {  // integer division of the (wrapped) sum, as ONNX Runtime does
          using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
          return v.empty() ? T(0) : static_cast<T>(static_cast<W>(s) / static_cast<W>(v.size()));
        }
        return s;
      }
      default: break;  // L2, LogSum, LogSumExp: real-valued, computed below
    }
  }
  std::vector<double> d;
  d.reserve(v.size());
  for (T x : v) d.push_back(static_cast<double>(to_acc(x)));
  double r = 0.0;
  switch (kind) {
    case ReduceKind::kSum:
    case ReduceKind::kMean:
    case ReduceKind::kLogSum:
      for (double x : d) r += x;
      if (kind == ReduceKind::kMean) r /= static_cast<double>(d.size());  // empty: 0/0 = NaN
      if (kind == ReduceKind::kLogSum) r = std::log(r);
      break;
    case ReduceKind::kL1:
      for (double x : d) r += std::fabs(x);
      break;
    case ReduceKind::kL2:
    case ReduceKind::kSumSquare:
      for (double x : d) r += x * x;
      if (kind == ReduceKind::kL2) r = std::sqrt(r);
      break;
    case ReduceKind::kProd:
      r = 1.0;
      for (double x : d) r *= x;
      break;
    case ReduceKind::kMax:
      r = -std::numeric_limits<double>::infinity();
      for (double x : d)
        if (std::isnan(x) || x > r) r = x;  // NaN propagates (once r is NaN, no x > r)
      break;
    case ReduceKind::kMin:
      r = std::numeric_limits<double>::infinity();
      for (double x : d)
        if (std::isnan(x) || x < r) r = x;
      break;
    case ReduceKind::kLogSumExp: {
      double m = -std::numeric_limits<double>::infinity();
      for (double x : d) m = x > m ? x : m;
      if (std::isinf(m)) {  // empty or all -inf gives -inf; any +inf gives +inf
        r = m;
        for (double x : d) r = std::isnan(x) ? x : r;
        break;
      }
      for (double x : d) r += std::exp(x - m);
      r = m + std::log(r);
      break;
    }
  }
  return from_double<T>(r);
}

template <ReduceKind kKind>
Status reduce(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(std::optional<std::vector<bool>> reduced, reduced_axes(ctx, x.rank()));
  bool keepdims = ctx.node().attr_int("keepdims", 1) != 0;
  // No reduction: every element is reduced on its own (e.g. ReduceSumSquare squares it), as in ONNX's reference.
  if (!reduced) reduced = std::vector<bool>(x.rank(), false);
  Dims kept_dims, out_dims;
  for (int64_t a = 0; a < x.rank(); ++a) {
    bool r = (*reduced)[a];
    kept_dims.push_back(r ? 1 : x.dim(a));
    if (!r || keepdims) out_dims.push_back(r ? 1 : x.dim(a));
  }
  if (x.dtype() == DataType::kBool && kKind != ReduceKind::kMax && kKind != ReduceKind::kMin)
    return ctx.error("bool input is only supported by ReduceMax and ReduceMin");
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  return visit_numeric_or_bool(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    int64_t out_count = element_count(kept_dims);
    std::vector<std::vector<T>> groups(out_count);
    std::vector<int64_t> out_strides = row_major_strides(kept_dims);
    std::vector<int64_t> index(x.rank(), 0);
    for (int64_t i = 0; i < x.size(); ++i) {
      int64_t o = 0;
      for (int64_t a = 0; a < x.rank(); ++a)
        if (!(*reduced)[a]) o += index[a] * out_strides[a];
      groups[o].push_back(x.data<T>()[i]);
      for (int64_t a = x.rank() - 1; a >= 0; --a) {
        if (++index[a] < x.dim(a)) break;
        index[a] = 0;
      }
    }
    for (int64_t o = 0; o < out_count; ++o) y.data<T>()[o] = reduce_group<T>(kKind, groups[o]);
    return {};
  });
}

// Splits dims around `axis` into (outer, extent, inner) for loops along one axis.
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};
AxisSplit split_at(const Dims& dims, int64_t axis) {
  AxisSplit s;
  for (int64_t a = 0; a < static_cast<int64_t>(dims.size()); ++a) {
    if (a < axis) s.outer *= dims[a];
    else if (a == axis) s.extent = dims[a];
    else s.inner *= dims[a];
  }
  return s;
}

template <bool kMax>
Status arg_reduce(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 0), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  if (x.dim(*axis) == 0)
    return ctx.error(fmt::format("cannot take the arg{} over axis {} of extent 0 ({})", kMax ? "max" : "min", *axis,
                                 x.type_string()));
  bool keepdims = ctx.node().attr_int("keepdims", 1) != 0;
  bool last = ctx.node().attr_int("select_last_index", 0) != 0;
  Dims out_dims = x.dims();
  if (keepdims) out_dims[*axis] = 1;
  else out_dims.erase(out_dims.begin() + *axis);
  Tensor& y = ctx.allocate_output(0, DataType::kI64, out_dims);
  AxisSplit s = split_at(x.dims(), *axis);
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    const T* in = x.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* base = in + o * s.extent * s.inner + i;
        int64_t best = 0;
        C best_v = static_cast<C>(base[0]);
        for (int64_t e = 1; e < s.extent; ++e) {
          C v = static_cast<C>(base[e * s.inner]);
          bool better = kMax ? (last ? v >= best_v : v > best_v) : (last ? v <= best_v : v < best_v);
          if constexpr (std::is_floating_point_v<C>) {
            // NaN wins both ArgMax and ArgMin, as in numpy: the first NaN, or the last with select_last_index.
            if (std::isnan(best_v)) better = last && std::isnan(v);
            else if (std::isnan(v)) better = true;
          }
          if (better) {
            best = e;
            best_v = v;
          }
        }
        y.data<int64_t>()[o * s.inner + i] = best;
      }
    }
    return {};
  });
}

Status cumsum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& axis_t = ctx.input(1);
  if (axis_t.size() != 1 || axis_t.rank() > 1)
    return ctx.error(fmt::format("axis must be a scalar or a 1-element 1-D tensor, got {}", axis_t.type_string()));
  Result<std::vector<int64_t>> axis_v = axis_t.to_int64_vector();
  if (!axis_v.ok()) return ctx.error("axis: " + axis_v.status().message());
  Result<int64_t> axis = normalize_axis((*axis_v)[0], x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  bool exclusive = ctx.node().attr_int("exclusive", 0) != 0;
  bool reverse = ctx.node().attr_int("reverse", 0) != 0;
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  AxisSplit s = split_at(x.dims(), *axis);
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using A = math_acc_t<T>;
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        A acc = A(0);
        for (int64_t step = 0; step < s.extent; ++step) {
          int64_t e = reverse ? s.extent - 1 - step : step;
          int64_t at = (o * s.extent + e) * s.inner + i;
          A v = to_acc(x.data<T>()[at]);
          if (!exclusive) acc = acc_add(acc, v);
          y.data<T>()[at] = from_acc<T>(acc);
          if (exclusive) acc = acc_add(acc, v);
        }
      }
    }
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"ReduceSum", "", reduce<ReduceKind::kSum>},
    {"ReduceMean", "", reduce<ReduceKind::kMean>},
    {"ReduceMax", "", reduce<ReduceKind::kMax>},
    {"ReduceMin", "", reduce<ReduceKind::kMin>},
    {"ReduceProd", "", reduce<ReduceKind::kProd>},
    {"ReduceL1", "", reduce<ReduceKind::kL1>},
    {"ReduceL2", "", reduce<ReduceKind::kL2>},
    {"ReduceLogSum", "", reduce<ReduceKind::kLogSum>},
    {"ReduceLogSumExp", "", reduce<ReduceKind::kLogSumExp>},
    {"ReduceSumSquare", "", reduce<ReduceKind::kSumSquare>},
    {"ArgMax", "", arg_reduce<true>},
    {"ArgMin", "", arg_reduce<false>},
    {"CumSum", "", cumsum},
};
}  // namespace

std::span<const KernelEntry> math_reduce_kernels() { return kKernels; }

}  // namespace kiln::ref
