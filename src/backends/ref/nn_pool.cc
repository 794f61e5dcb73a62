// Reference kernels of the nn family: pools (windowed and global) and MaxUnpool.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/ref/nn_common.h"

namespace kiln::ref {

namespace {

// One pooling window: the taps that fall inside the input, and how many taps fall inside the padded input
// (the divisor of AveragePool with count_include_pad).
struct PoolWindow {
  std::vector<int64_t> offsets;      // row-major spatial offsets of the in-bounds taps
  std::vector<int64_t> col_offsets;  // the same taps' column-major offsets (MaxPool storage_order = 1)
  int64_t padded_count = 0;
};

// Calls f(out_offset, window) for every output position of a windowed pool over spatial extents `in`.
template <typename F>
void for_each_window(const WindowAttrs& a, const WindowGeometry& g, const Dims& in, F&& f) {
  const size_t n = in.size();
  const std::vector<int64_t> row = row_major_strides(in);
  std::vector<int64_t> col(n, 1);
  for (size_t d = 1; d < n; ++d) col[d] = col[d - 1] * in[d - 1];
  const int64_t out_size = element_count(g.out), k_size = element_count(a.kernel);
  PoolWindow win;
  std::vector<int64_t> o(n, 0);
  for (int64_t op = 0; op < out_size; ++op, nn_next_index(o, g.out)) {
    win.offsets.clear();
    win.col_offsets.clear();
    win.padded_count = 0;
    std::vector<int64_t> k(n, 0);
    for (int64_t kp = 0; kp < k_size; ++kp, nn_next_index(k, a.kernel)) {
      bool inside = true, in_padded = true;
      int64_t r = 0, c = 0;
      for (size_t d = 0; d < n; ++d) {
        int64_t i = o[d] * a.strides[d] - g.pads[d] + k[d] * a.dilations[d];
        inside = inside && i >= 0 && i < in[d];
        in_padded = in_padded && i >= -g.pads[d] && i < in[d] + g.pads[d + n];
        r += i * row[d];
        c += i * col[d];
      }
      if (in_padded) ++win.padded_count;
      if (inside) {
        win.offsets.push_back(r);
        win.col_offsets.push_back(c);
      }
    }
    f(op, win);
  }
}

struct PoolSetup {
  WindowAttrs attrs;
  WindowGeometry geo;
  Dims in;
  int64_t planes = 0;  // N * C
  int64_t in_size = 0, out_size = 0;
};

Result<PoolSetup> pool_setup(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  PoolSetup s;
  KILN_ASSIGN_OR_RETURN(s.geo, nn_window(ctx, x, {}, false, &s.attrs));
  s.in = nn_spatial_dims(x);
  s.planes = x.dim(0) * x.dim(1);
  s.in_size = element_count(s.in);
  s.out_size = element_count(s.geo.out);
  return s;
}

Dims pool_output_dims(const Tensor& x, const Dims& spatial) {
  Dims d = {x.dim(0), x.dim(1)};
  d.insert(d.end(), spatial.begin(), spatial.end());
  return d;
}

Status max_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PoolSetup s, pool_setup(ctx));
  const int64_t storage_order = ctx.node().attr_int("storage_order", 0);
  if (storage_order != 0 && storage_order != 1)
    return ctx.error(fmt::format("storage_order must be 0 (row major) or 1 (column major), got {}", storage_order));
  Tensor& y = ctx.allocate_output(0, x.dtype(), pool_output_dims(x, s.geo.out));
  int64_t* indices = nullptr;
  if (ctx.has_output(1)) indices = ctx.allocate_output(1, DataType::kI64, y.dims()).data<int64_t>();
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for_each_window(s.attrs, s.geo, s.in, [&](int64_t op, const PoolWindow& w) {
      for (int64_t p = 0; p < s.planes; ++p) {
        const T* plane = xp + p * s.in_size;
        C best = std::numeric_limits<C>::lowest();
        int64_t best_tap = -1;
        for (size_t t = 0; t < w.offsets.size(); ++t) {
          C v = static_cast<C>(plane[w.offsets[t]]);
          if (best_tap < 0 || v > best) {
            best = v;
            best_tap = static_cast<int64_t>(t);
          }
        }
        yp[p * s.out_size + op] = static_cast<T>(best);
        if (indices) {
          // Indices are flat over the whole input (N and C included), row- or column-major spatially.
          int64_t spatial = best_tap < 0 ? 0 : storage_order ? w.col_offsets[best_tap] : w.offsets[best_tap];
          indices[p * s.out_size + op] = p * s.in_size + spatial;
        }
      }
    });
    return {};
  });
}

Status average_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PoolSetup s, pool_setup(ctx));
  const bool include_pad = ctx.node().attr_int("count_include_pad", 0) != 0;
  Tensor& y = ctx.allocate_output(0, x.dtype(), pool_output_dims(x, s.geo.out));
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for_each_window(s.attrs, s.geo, s.in, [&](int64_t op, const PoolWindow& w) {
      const int64_t count = include_pad ? w.padded_count : static_cast<int64_t>(w.offsets.size());
      for (int64_t p = 0; p < s.planes; ++p) {
        double sum = 0;
        for (int64_t off : w.offsets) sum += nn_to_double(xp[p * s.in_size + off]);
        // A window with no counted tap has no average (only possible with pads as large as the kernel).
        double avg = count > 0 ? sum / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();
        yp[p * s.out_size + op] = static_cast<T>(avg);
      }
    });
    return {};
  });
}

Result<double> lp_order(const KernelContext& ctx) {
  const int64_t p = ctx.node().attr_int("p", 2);
  if (p < 1) return ctx.error(fmt::format("p must be >= 1, got {}", p));
  return static_cast<double>(p);
}

Status lp_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(double p, lp_order(ctx));
  KILN_ASSIGN_OR_RETURN(PoolSetup s, pool_setup(ctx));
  Tensor& y = ctx.allocate_output(0, x.dtype(), pool_output_dims(x, s.geo.out));
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for_each_window(s.attrs, s.geo, s.in, [&](int64_t op, const PoolWindow& w) {
      for (int64_t pl = 0; pl < s.planes; ++pl) {
        double sum = 0;
        for (int64_t off : w.offsets) sum += std::pow(std::abs(nn_to_double(xp[pl * s.in_size + off])), p);
        yp[pl * s.out_size + op] = static_cast<T>(std::pow(sum, 1.0 / p));
      }
    });
    return {};
  });
}

enum class GlobalKind { kAverage, kMax, kLp };

Status global_pool(KernelContext& ctx, GlobalKind kind) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(size_t n, nn_spatial_rank(ctx, x, "input X"));
  double p = 2;
  if (kind == GlobalKind::kLp) {
    KILN_ASSIGN_OR_RETURN(p, lp_order(ctx));
  }
  const int64_t planes = x.dim(0) * x.dim(1), in_size = element_count(nn_spatial_dims(x));
  if (in_size == 0 && kind == GlobalKind::kMax)
    return ctx.error(fmt::format("GlobalMaxPool of an input with an empty spatial extent ({})", x.type_string()));
  Tensor& y = ctx.allocate_output(0, x.dtype(), pool_output_dims(x, Dims(n, 1)));
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* plane = xp + pl * in_size;
      double acc = kind == GlobalKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t i = 0; i < in_size; ++i) {
        double v = nn_to_double(plane[i]);
        if (kind == GlobalKind::kMax) acc = v > acc ? v : acc;
        else if (kind == GlobalKind::kAverage) acc += v;
        else acc += std::pow(std::abs(v), p);
      }
      if (kind == GlobalKind::kAverage) acc /= static_cast<double>(in_size);
      if (kind == GlobalKind::kLp) acc = std::pow(acc, 1.0 / p);
      yp[pl] = static_cast<T>(acc);
    }
    return {};
  });
}

Status global_average_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kAverage); }
Status global_max_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kMax); }
Status global_lp_pool(KernelContext& ctx) { return global_pool(ctx, GlobalKind::kLp); }

// Scatters X into a zero tensor at the flat positions given by I (as MaxPool's Indices output).
Status max_unpool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  KILN_ASSIGN_OR_RETURN(size_t n, nn_spatial_rank(ctx, x, "input X"));
  if (ind.dtype() != DataType::kI64 || ind.dims() != x.dims())
    return ctx.error(fmt::format("indices I is {}, expected i64 with X's shape {}", ind.type_string(),
                                 x.type_string()));
  Dims out_dims;
  if (ctx.has_input(2)) {
    auto v = ctx.input(2).to_int64_vector();
    if (!v.ok() || ctx.input(2).rank() != 1)
      return ctx.error(fmt::format("output_shape must be a 1-D integer tensor, got {}", ctx.input(2).type_string()));
    if (v->size() != x.dims().size())
      return ctx.error(fmt::format("output_shape [{}] must have X's rank {}", fmt::join(*v, ","), x.rank()));
    out_dims = *v;
    auto count = checked_element_count(out_dims);
    if (!count.ok()) return ctx.error("output_shape: " + count.status().message());
  } else {
    auto attrs = read_window_attrs(ctx.node(), n, {}, false);
    if (!attrs.ok()) return ctx.error(attrs.status().message());
    out_dims = {x.dim(0), x.dim(1)};
    for (size_t a = 0; a < n; ++a) {
      int64_t e = (x.dim(a + 2) - 1) * attrs->strides[a] + attrs->kernel[a] - attrs->pads[a] - attrs->pads[a + n];
      if (e < 0) return ctx.error(fmt::format("output extent {} on spatial axis {} is negative", e, a));
      out_dims.push_back(e);
    }
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  const int64_t* ip = ind.data<int64_t>();
  for (int64_t e = 0; e < x.size(); ++e)
    if (ip[e] < 0 || ip[e] >= y.size())
      return ctx.error(fmt::format("index {} at position {} is outside the output {} ({} elements)", ip[e], e,
                                   dims_to_string(out_dims), y.size()));
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t e = 0; e < x.size(); ++e) yp[ip[e]] = xp[e];
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"MaxPool", "", max_pool},
    {"AveragePool", "", average_pool},
    {"LpPool", "", lp_pool},
    {"GlobalAveragePool", "", global_average_pool},
    {"GlobalMaxPool", "", global_max_pool},
    {"GlobalLpPool", "", global_lp_pool},
    {"MaxUnpool", "", max_unpool},
};

}  // namespace

std::span<const KernelEntry> nn_pool_kernels() { return kKernels; }

}  // namespace kiln::ref
