// Reference kernels of the nn family (see ref_kernel_families.inc): Conv and ConvTranspose here, pools in
// nn_pool.cc, normalizations and Dropout in nn_norm.cc.
#include <vector>

#include "backends/ref/nn_common.h"

namespace kiln::ref {

namespace {

// Checks W (and B) against X for Conv (transposed = false) or ConvTranspose; returns the weight's
// spatial extents.
Result<std::vector<int64_t>> check_conv_operands(const KernelContext& ctx, int64_t group, bool transposed) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  KILN_RETURN_IF_ERROR(nn_spatial_rank(ctx, x, "input X").status());
  if (w.dtype() != x.dtype())
    return ctx.error(fmt::format("weight W is {}, expected X's dtype ({})", w.type_string(), x.type_string()));
  if (w.rank() != x.rank())
    return ctx.error(fmt::format("weight W {} must have the rank of X {}", w.type_string(), x.type_string()));
  if (group < 1) return ctx.error(fmt::format("group must be >= 1, got {}", group));
  const int64_t c = x.dim(1);
  if (!transposed) {
    if (w.dim(1) * group != c)
      return ctx.error(fmt::format("X has {} channels, but W {} with group {} expects {}", c, w.type_string(), group,
                                   w.dim(1) * group));
    if (w.dim(0) % group != 0)
      return ctx.error(fmt::format("W {} output channels are not divisible by group {}", w.type_string(), group));
  } else {
    if (w.dim(0) != c)
      return ctx.error(fmt::format("X has {} channels, but W {} expects {} on axis 0", c, w.type_string(), w.dim(0)));
    if (c % group != 0)
      return ctx.error(fmt::format("X's {} channels are not divisible by group {}", c, group));
  }
  const int64_t out_channels = transposed ? w.dim(1) * group : w.dim(0);
  if (ctx.has_input(2)) {
    const Tensor& b = ctx.input(2);
    if (b.dtype() != x.dtype() || b.rank() != 1 || b.dim(0) != out_channels)
      return ctx.error(fmt::format("bias B is {}, expected {}[{}]", b.type_string(), dtype_name(x.dtype()),
                                   out_channels));
  }
  return std::vector<int64_t>(w.dims().begin() + 2, w.dims().end());
}

template <typename T>
std::vector<double> bias_values(const KernelContext& ctx, int64_t channels) {
  std::vector<double> bias(static_cast<size_t>(channels), 0.0);
  if (ctx.has_input(2))
    for (int64_t m = 0; m < channels; ++m) bias[m] = nn_to_double(ctx.input(2).data<T>()[m]);
  return bias;
}

// What Conv and ConvTranspose both read and check: operands, window geometry and the output extents.
struct ConvSetup {
  std::vector<int64_t> wk;  // kernel spatial extents
  WindowAttrs attrs;
  WindowGeometry geo;
  int64_t group = 1, batch = 0, c_in = 0, c_per_group = 0, m_out = 0, m_per_group = 0;
  Dims in;    // input spatial extents
  Dims out;   // [batch, m_out, spatial...]
};

Result<ConvSetup> conv_setup(const KernelContext& ctx, bool transposed) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  ConvSetup c;
  c.group = ctx.node().attr_int("group", 1);
  KILN_ASSIGN_OR_RETURN(c.wk, check_conv_operands(ctx, c.group, transposed));
  KILN_ASSIGN_OR_RETURN(c.geo, nn_window(ctx, x, c.wk, transposed, &c.attrs));
  c.batch = x.dim(0);
  c.c_in = x.dim(1);
  c.c_per_group = c.c_in / c.group;
  // Conv weights are [M, C/group, k...]; ConvTranspose weights are [C, M/group, k...].
  c.m_out = transposed ? w.dim(1) * c.group : w.dim(0);
  c.m_per_group = c.m_out / c.group;
  c.in = nn_spatial_dims(x);
  c.out = {c.batch, c.m_out};
  c.out.insert(c.out.end(), c.geo.out.begin(), c.geo.out.end());
  return c;
}

// y[n, m, o] = B[m] + sum over c in m's group and kernel taps k of x[n, c, o*s - pad_begin + k*d] * W[m, c, k]
Status conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  KILN_ASSIGN_OR_RETURN(const ConvSetup s, conv_setup(ctx, false));
  const auto& [wk, attrs, geo, group, batch, c_in, c_per_group, m_out, m_per_group, in, out_dims] = s;
  const size_t n = wk.size();
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);

  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    T* yp = y.data<T>();
    const std::vector<double> bias = bias_values<T>(ctx, m_out);
    const int64_t in_size = element_count(in), out_size = element_count(geo.out), k_size = element_count(wk);
    const std::vector<int64_t> in_strides = row_major_strides(in);

    // For each output position, the (kernel offset, input offset) pairs that fall inside the input.
    std::vector<std::pair<int64_t, int64_t>> taps;
    std::vector<int64_t> o(n, 0);
    for (int64_t op = 0; op < out_size; ++op, nn_next_index(o, geo.out)) {
      taps.clear();
      std::vector<int64_t> k(n, 0);
      for (int64_t kp = 0; kp < k_size; ++kp, nn_next_index(k, wk)) {
        int64_t off = 0;
        bool inside = true;
        for (size_t a = 0; a < n && inside; ++a) {
          int64_t i = o[a] * attrs.strides[a] - geo.pads[a] + k[a] * attrs.dilations[a];
          inside = i >= 0 && i < in[a];
          off += i * in_strides[a];
        }
        if (inside) taps.emplace_back(kp, off);
      }
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t m = 0; m < m_out; ++m) {
          const int64_t g = m / m_per_group;
          double acc = bias[m];
          for (int64_t c = 0; c < c_per_group; ++c) {
            const T* xc = xp + (b * c_in + g * c_per_group + c) * in_size;
            const T* wc = wp + (m * c_per_group + c) * k_size;
            for (auto [kp, off] : taps) acc += nn_to_double(xc[off]) * nn_to_double(wc[kp]);
          }
          yp[(b * m_out + m) * out_size + op] = static_cast<T>(acc);
        }
      }
    }
    return {};
  });
}

// The adjoint of Conv: each x[n, c, i] scatters x * W[c, m, k] into y[n, m, i*s - pad_begin + k*d].
Status conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  KILN_ASSIGN_OR_RETURN(const ConvSetup s, conv_setup(ctx, true));
  const auto& [wk, attrs, geo, group, batch, c_in, c_per_group, m_out, m_per_group, in, out_dims] = s;
  const size_t n = wk.size();
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);

  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    const T* wp = w.data<T>();
    const std::vector<double> bias = bias_values<T>(ctx, m_out);
    const int64_t in_size = element_count(in), out_size = element_count(geo.out), k_size = element_count(wk);
    const std::vector<int64_t> out_strides = row_major_strides(geo.out);
    std::vector<double> acc(static_cast<size_t>(y.size()));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t m = 0; m < m_out; ++m)
        for (int64_t op = 0; op < out_size; ++op) acc[(b * m_out + m) * out_size + op] = bias[m];

    std::vector<std::pair<int64_t, int64_t>> taps;  // (kernel offset, output offset) inside the output
    std::vector<int64_t> i(n, 0);
    for (int64_t ip = 0; ip < in_size; ++ip, nn_next_index(i, in)) {
      taps.clear();
      std::vector<int64_t> k(n, 0);
      for (int64_t kp = 0; kp < k_size; ++kp, nn_next_index(k, wk)) {
        int64_t off = 0;
        bool inside = true;
        for (size_t a = 0; a < n && inside; ++a) {
          int64_t o = i[a] * attrs.strides[a] - geo.pads[a] + k[a] * attrs.dilations[a];
          inside = o >= 0 && o < geo.out[a];
          off += o * out_strides[a];
        }
        if (inside) taps.emplace_back(kp, off);
      }
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t c = 0; c < c_in; ++c) {
          const int64_t g = c / c_per_group;
          const double xv = nn_to_double(xp[(b * c_in + c) * in_size + ip]);
          for (int64_t m = 0; m < m_per_group; ++m) {
            const T* wc = wp + (c * m_per_group + m) * k_size;
            double* yc = acc.data() + (b * m_out + g * m_per_group + m) * out_size;
            for (auto [kp, off] : taps) yc[off] += xv * nn_to_double(wc[kp]);
          }
        }
      }
    }
    T* yp = y.data<T>();
    for (int64_t e = 0; e < y.size(); ++e) yp[e] = static_cast<T>(acc[e]);
    return {};
  });
}

constexpr KernelEntry kConvKernels[] = {
    {"Conv", "", conv},
    {"ConvTranspose", "", conv_transpose},
};

}  // namespace

std::span<const KernelEntry> nn_kernels() {
  static const std::vector<KernelEntry> all = [] {
    std::vector<KernelEntry> v(std::begin(kConvKernels), std::end(kConvKernels));
    for (const KernelEntry& e : nn_pool_kernels()) v.push_back(e);
    for (const KernelEntry& e : nn_norm_kernels()) v.push_back(e);
    return v;
  }();
  return all;
}

}  // namespace kiln::ref
