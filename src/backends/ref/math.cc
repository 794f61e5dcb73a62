// Reference kernels of the math family (see ref_kernel_families.inc): Gemm, MatMul, Einsum, Det here;
// reductions in math_reduce.cc, softmax-like ops and TopK in math_softmax.cc.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "backends/ref/broadcast.h"
#include "backends/ref/kernel.h"
#include "backends/ref/math_kernels.h"
#include "ir/ops/math_einsum.h"

namespace kiln::ref {

namespace {

// MatMul and Gemm are defined for float types and 32/64-bit integers; the narrower integers are
// accepted too (they accumulate in their own type, wrapping like the wider ones).
template <typename F>
Status visit_matmul_types(DataType dtype, F&& f) {
  return visit_numeric(dtype, std::forward<F>(f));
}

Status gemm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.rank() != 2 || b.rank() != 2)
    return ctx.error(fmt::format("A and B must be 2-D, got {} and {}", a.type_string(), b.type_string()));
  if (a.dtype() != b.dtype())
    return ctx.error(fmt::format("A and B must have the same dtype, got {} and {}", a.type_string(), b.type_string()));
  bool trans_a = ctx.node().attr_int("transA", 0) != 0;
  bool trans_b = ctx.node().attr_int("transB", 0) != 0;
  double alpha = ctx.node().attr_float("alpha", 1.0f);
  double beta = ctx.node().attr_float("beta", 1.0f);
  int64_t m = trans_a ? a.dim(1) : a.dim(0);
  int64_t k = trans_a ? a.dim(0) : a.dim(1);
  int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if (k != kb)
    return ctx.error(fmt::format("inner dimensions differ: op(A) is {}x{}, op(B) is {}x{}", m, k, kb, n));
  Dims out_dims = {m, n};
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (c) {
    if (c->dtype() != a.dtype()) return ctx.error(fmt::format("C must be {}, got {}", a.type_string(), c->type_string()));
    Result<Dims> bc = broadcast_dims(c->dims(), out_dims);
    if (c->rank() > 2 || !bc.ok() || *bc != out_dims)
      return ctx.error(fmt::format("C {} does not broadcast to (M, N) = ({}, {})", c->type_string(), m, n));
  }
  Tensor& y = ctx.allocate_output(0, a.dtype(), out_dims);
  return visit_matmul_types(a.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using A = math_acc_t<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    BroadcastWalker walk(out_dims, {c ? c->dims() : Dims{}});
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j, walk.next()) {
        A acc = A(0);
        for (int64_t p = 0; p < k; ++p) {
          T av = trans_a ? pa[p * m + i] : pa[i * k + p];
          T bv = trans_b ? pb[j * k + p] : pb[p * n + j];
          acc = acc_add(acc, acc_mul(to_acc(av), to_acc(bv)));
        }
        A cv = c ? to_acc(c->data<T>()[walk.offset(0)]) : A(0);
        if constexpr (std::is_integral_v<T>) {
          if (alpha == 1.0 && beta == 1.0) {
            py[i * n + j] = acc_add(acc, cv);
            continue;
          }
        }
        py[i * n + j] = from_double<T>(alpha * static_cast<double>(acc) + (c ? beta * static_cast<double>(cv) : 0.0));
      }
    }
    return {};
  });
}

Status matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype())
    return ctx.error(fmt::format("A and B must have the same dtype, got {} and {}", a.type_string(), b.type_string()));
  if (a.rank() == 0 || b.rank() == 0)
    return ctx.error(fmt::format("operands must have rank >= 1, got {} and {}", a.type_string(), b.type_string()));
  // numpy.matmul: a 1-D A is a row vector, a 1-D B a column vector; the added axes are dropped after.
  Dims ad = a.dims(), bd = b.dims();
  bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  int64_t m = ad[ad.size() - 2], k = ad[ad.size() - 1], n = bd[bd.size() - 1];
  if (bd[bd.size() - 2] != k)
    return ctx.error(fmt::format("inner dimensions differ: A {} and B {}", a.type_string(), b.type_string()));
  Dims a_batch(ad.begin(), ad.end() - 2), b_batch(bd.begin(), bd.end() - 2);
  Result<Dims> batch = broadcast_dims(a_batch, b_batch);
  if (!batch.ok()) return ctx.error("batch dimensions do not broadcast: " + batch.status().message());
  Dims out_dims = *batch;
  if (!a_vec) out_dims.push_back(m);
  if (!b_vec) out_dims.push_back(n);
  Tensor& y = ctx.allocate_output(0, a.dtype(), out_dims);
  int64_t batches = element_count(*batch);
  return visit_matmul_types(a.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using A = math_acc_t<T>;
    BroadcastWalker walk(*batch, {a_batch, b_batch});
    for (int64_t bi = 0; bi < batches; ++bi, walk.next()) {
      const T* pa = a.data<T>() + walk.offset(0) * m * k;
      const T* pb = b.data<T>() + walk.offset(1) * k * n;
      T* py = y.data<T>() + bi * m * n;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          A acc = A(0);
          for (int64_t p = 0; p < k; ++p) acc = acc_add(acc, acc_mul(to_acc(pa[i * k + p]), to_acc(pb[p * n + j])));
          py[i * n + j] = from_acc<T>(acc);
        }
      }
    }
    return {};
  });
}

// Einsum: one loop over every label (output labels outermost, in output order, then the summed ones);
// each input element is found through per-label strides (a label repeated in one input sums its strides,
// which walks the diagonal).
Status einsum(KernelContext& ctx) {
  std::vector<int64_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
    if (ctx.input(i).dtype() != ctx.input(0).dtype())
      return ctx.error(fmt::format("all inputs must have the same dtype; input 0 is {}, input {} is {}",
                                   ctx.input(0).type_string(), i, ctx.input(i).type_string()));
    ranks.push_back(ctx.input(i).rank());
  }
  if (ranks.empty()) return ctx.error("Einsum needs at least one input");
  Result<EinsumSpec> parsed = parse_einsum(ctx.node().attr_string("equation"), ranks);
  if (!parsed.ok()) return ctx.error(parsed.status().message());
  const EinsumSpec& spec = *parsed;
  int num_labels = spec.num_labels();
  std::vector<int64_t> size(num_labels, -1);
  std::vector<bool> used(num_labels, false);
  for (size_t i = 0; i < ranks.size(); ++i) {
    for (size_t axis = 0; axis < spec.input_labels[i].size(); ++axis) {
      int l = spec.input_labels[i][axis];
      int64_t d = ctx.input(i).dim(static_cast<int64_t>(axis));
      used[l] = true;
      bool ellipsis = l >= kEinsumLetterCount;
      if (ellipsis && d == 1) continue;  // broadcasts
      if (size[l] >= 0 && size[l] != d && !(ellipsis && size[l] == 1))
        return ctx.error(fmt::format("equation '{}': {} has extent {} in one place and {} in another (input {} is {})",
                                     ctx.node().attr_string("equation"), einsum_label_name(l), size[l], d, i,
                                     ctx.input(i).type_string()));
      size[l] = d;
    }
  }
  for (int l = kEinsumLetterCount; l < num_labels; ++l)
    if (size[l] < 0) size[l] = 1;
  std::vector<int> loop = spec.output_labels;
  std::vector<bool> in_output(num_labels, false);
  for (int l : loop) in_output[l] = true;
  for (int l = 0; l < num_labels; ++l)
    if (used[l] && !in_output[l]) loop.push_back(l);
  Dims out_dims;
  for (int l : spec.output_labels) out_dims.push_back(size[l]);
  // strides[i][j]: step in input i when loop label j advances.
  std::vector<std::vector<int64_t>> strides(ranks.size(), std::vector<int64_t>(loop.size(), 0));
  for (size_t i = 0; i < ranks.size(); ++i) {
    std::vector<int64_t> rm = row_major_strides(ctx.input(i).dims());
    for (size_t axis = 0; axis < spec.input_labels[i].size(); ++axis) {
      int l = spec.input_labels[i][axis];
      if (ctx.input(i).dim(static_cast<int64_t>(axis)) == 1 && size[l] != 1) continue;  // broadcast axis
      for (size_t j = 0; j < loop.size(); ++j)
        if (loop[j] == l) strides[i][j] += rm[axis];
    }
  }
  Tensor& y = ctx.allocate_output(0, ctx.input(0).dtype(), out_dims);
  int64_t out_count = element_count(out_dims);
  int64_t total = 1;
  for (int l : loop) {
    if (size[l] == 0) total = 0;
    else if (total > 0 && size[l] > (int64_t{1} << 40) / total)
      return ctx.error("the einsum loop nest is too large for the reference kernel");
    else total *= size[l];
  }
  if (total == 0) return {};
  int64_t per_output = total / out_count;
  return visit_numeric(y.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using A = math_acc_t<T>;
    std::vector<A> acc(out_count, A(0));
    std::vector<int64_t> index(loop.size(), 0), offset(ranks.size(), 0);
    for (int64_t it = 0; it < total; ++it) {
      A prod = to_acc(ctx.input(0).data<T>()[offset[0]]);
      for (size_t i = 1; i < ranks.size(); ++i) prod = acc_mul(prod, to_acc(ctx.input(i).data<T>()[offset[i]]));
      acc[it / per_output] = acc_add(acc[it / per_output], prod);
      for (int64_t j = static_cast<int64_t>(loop.size()) - 1; j >= 0; --j) {
        for (size_t i = 0; i < ranks.size(); ++i) offset[i] += strides[i][j];
        if (++index[j] < size[loop[j]]) break;
        for (size_t i = 0; i < ranks.size(); ++i) offset[i] -= strides[i][j] * size[loop[j]];
        index[j] = 0;
      }
    }
    for (int64_t o = 0; o < out_count; ++o) y.data<T>()[o] = from_acc<T>(acc[o]);
    return {};
  });
}

// Determinant by LU decomposition with partial pivoting, in double.
double determinant(std::vector<double> a, int64_t n) {
  double det = 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::fabs(a[r * n + col]) > std::fabs(a[pivot * n + col])) pivot = r;
    if (a[pivot * n + col] == 0.0) return 0.0;
    if (pivot != col) {
      for (int64_t c = 0; c < n; ++c) std::swap(a[col * n + c], a[pivot * n + c]);
      det = -det;
    }
    double p = a[col * n + col];
    det *= p;
    for (int64_t r = col + 1; r < n; ++r) {
      double f = a[r * n + col] / p;
      for (int64_t c = col; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
    }
  }
  return det;
}

Status det(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2 || x.dim(x.rank() - 1) != x.dim(x.rank() - 2))
    return ctx.error(fmt::format("input must be [*, M, M] (square matrices), got {}", x.type_string()));
  int64_t n = x.dim(x.rank() - 1);
  Dims out_dims(x.dims().begin(), x.dims().end() - 2);
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    int64_t count = element_count(out_dims);
    for (int64_t b = 0; b < count; ++b) {
      std::vector<double> m(static_cast<size_t>(n * n));
      for (int64_t i = 0; i < n * n; ++i) m[i] = to_acc(x.data<T>()[b * n * n + i]);
      y.data<T>()[b] = from_double<T>(determinant(std::move(m), n));
    }
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"Gemm", "", gemm},
    {"MatMul", "", matmul},
    {"Einsum", "", einsum},
    {"Det", "", det},
};

std::vector<KernelEntry> all_math_kernels() {
  std::vector<KernelEntry> all(std::begin(kKernels), std::end(kKernels));
  for (const KernelEntry& e : math_reduce_kernels()) all.push_back(e);
  for (const KernelEntry& e : math_softmax_kernels()) all.push_back(e);
  return all;
}
}  // namespace

std::span<const KernelEntry> math_kernels() {
  static const std::vector<KernelEntry> kAll = all_math_kernels();
  return kAll;
}

}  // namespace kiln::ref
