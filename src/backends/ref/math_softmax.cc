// Reference kernels of the math family: Softmax, LogSoftmax, Hardmax and TopK.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "backends/ref/kernel.h"
#include "backends/ref/math_kernels.h"

namespace kiln::ref {

namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// The groups the op normalizes over, as (outer, extent, inner): element (o, e, i) is at (o*extent + e)*inner + i.
struct Groups {
  int64_t outer = 1, extent = 1, inner = 1;
};

// Before opset 13 the input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] and each row is one
// group (default axis 1); from opset 13 the op works along one axis (default -1).
Result<Groups> softmax_groups(KernelContext& ctx, const Dims& dims) {
  auto rank = static_cast<int64_t>(dims.size());
  bool legacy = ctx.opset() < 13;
  int64_t axis = ctx.node().attr_int("axis", legacy ? 1 : -1);
  if (axis < -rank || axis > (legacy ? rank : rank - 1))
    return ctx.error(fmt::format("axis {} is out of range for input of rank {}", axis, rank));
  if (axis < 0) axis += rank;
  Groups g;
  for (int64_t a = 0; a < rank; ++a) {
    if (a < axis) g.outer *= dims[a];
    else if (a == axis || legacy) g.extent *= dims[a];
    else g.inner *= dims[a];
  }
  return g;
}

template <SoftmaxKind kKind>
Status softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(Groups g, softmax_groups(ctx, x.dims()));
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        auto at = [&](int64_t e) { return (o * g.extent + e) * g.inner + i; };
        if (g.extent == 0) continue;
        double max = to_acc(in[at(0)]);
        int64_t argmax = 0;
        for (int64_t e = 1; e < g.extent; ++e) {
          double v = to_acc(in[at(e)]);
          if (v > max) {
            max = v;
            argmax = e;
          }
        }
        if constexpr (kKind == SoftmaxKind::kHardmax) {
          for (int64_t e = 0; e < g.extent; ++e) out[at(e)] = from_double<T>(e == argmax ? 1.0 : 0.0);
        } else {
          double sum = 0.0;
          for (int64_t e = 0; e < g.extent; ++e) sum += std::exp(to_acc(in[at(e)]) - max);
          for (int64_t e = 0; e < g.extent; ++e) {
            double shifted = to_acc(in[at(e)]) - max;
            out[at(e)] = from_double<T>(kKind == SoftmaxKind::kSoftmax ? std::exp(shifted) / sum
                                                                       : shifted - std::log(sum));
          }
        }
      }
    }
    return {};
  });
}

// Orders (value, index) pairs for TopK: NaN counts as larger than every number; ties go to the lower index.
template <typename C>
bool value_greater(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

Status topk(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t k = 0;
  if (ctx.opset() < 10) {
    if (!ctx.node().has_attr("k")) return ctx.error("attribute k is required before opset 10");
    k = ctx.node().attr_int("k", 0);
  } else {
    if (!ctx.has_input(1)) return ctx.error("input K is required from opset 10");
    const Tensor& kt = ctx.input(1);
    Result<std::vector<int64_t>> kv = kt.to_int64_vector();
    if (!kv.ok() || kv->size() != 1 || kt.rank() > 1)
      return ctx.error(fmt::format("K must be a 1-element integer tensor, got {}", kt.type_string()));
    k = (*kv)[0];
  }
  if (x.rank() == 0) return ctx.error("input must have rank >= 1, got a scalar");
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", -1), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  if (k < 0 || k > x.dim(*axis))
    return ctx.error(fmt::format("k = {} is out of range [0, {}] for axis {} of {}", k, x.dim(*axis), *axis,
                                 x.type_string()));
  bool largest = ctx.node().attr_int("largest", 1) != 0;
  Dims out_dims = x.dims();
  out_dims[*axis] = k;
  Tensor& values = ctx.allocate_output(0, x.dtype(), out_dims);
  Tensor& indices = ctx.allocate_output(1, DataType::kI64, out_dims);
  int64_t outer = 1, inner = 1, extent = x.dim(*axis);
  for (int64_t a = 0; a < *axis; ++a) outer *= x.dim(a);
  for (int64_t a = *axis + 1; a < x.rank(); ++a) inner *= x.dim(a);
  // `sorted` = 0 allows any order; the sorted order is one such order, so results are always sorted.
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    const T* in = x.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(extent));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        auto at = [&](int64_t e) { return (o * extent + e) * inner + i; };
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          C va = static_cast<C>(in[at(a)]), vb = static_cast<C>(in[at(b)]);
          return largest ? value_greater(va, vb) : value_greater(vb, va);
        });
        for (int64_t j = 0; j < k; ++j) {
          int64_t dst = (o * k + j) * inner + i;
          values.data<T>()[dst] = in[at(order[j])];
          indices.data<int64_t>()[dst] = order[j];
        }
      }
    }
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"Softmax", "", softmax<SoftmaxKind::kSoftmax>},
    {"LogSoftmax", "", softmax<SoftmaxKind::kLogSoftmax>},
    {"Hardmax", "", softmax<SoftmaxKind::kHardmax>},
    {"TopK", "", topk},
};
}  // namespace

std::span<const KernelEntry> math_softmax_kernels() { return kKernels; }

}  // namespace kiln::ref
