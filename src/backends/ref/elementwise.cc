// Reference kernels of the elementwise family (see ref_kernel_families.inc): unary math and activations.
// Binary/variadic ops live in elementwise_binary.cc, Cast/CastLike in elementwise_cast.cc.
//
// Values are computed in compute_type_t<T>: float for f16/bf16/f32, double for f64, T for integers.
#include <cmath>
#include <limits>
#include <numbers>

#include "backends/ref/elementwise_util.h"

namespace kiln::ref {

namespace {

// y = f(x) over a float tensor; f receives and returns the compute type.
template <typename F>
Status map_float(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  return named(ctx, visit_float(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 const T* in = x.data<T>();
                 T* out = y.data<T>();
                 for (int64_t i = 0; i < x.size(); ++i) out[i] = static_cast<T>(f(static_cast<C>(in[i])));
                 return {};
               }));
}

// y = f(x) over any numeric tensor; f receives the compute type and returns a value convertible to it.
template <typename F>
Status map_numeric(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  return named(ctx, visit_numeric(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 const T* in = x.data<T>();
                 T* out = y.data<T>();
                 for (int64_t i = 0; i < x.size(); ++i) out[i] = static_cast<T>(static_cast<C>(f(static_cast<C>(in[i]))));
                 return {};
               }));
}

// y = pred(x) over a float tensor, producing bool.
template <typename F>
Status map_float_to_bool(KernelContext& ctx, F pred) {
  const Tensor& x = ctx.input(0);
  return named(ctx, visit_float(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 Tensor& y = ctx.allocate_output(0, DataType::kBool, x.dims());
                 const T* in = x.data<T>();
                 bool* out = y.data<bool>();
                 for (int64_t i = 0; i < x.size(); ++i) out[i] = pred(static_cast<C>(in[i]));
                 return {};
               }));
}

// ---- Activations ----

Status relu(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
}

Status leaky_relu(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 0.01f);
  return map_float(ctx, [alpha](auto v) {
    using C = decltype(v);
    return v < C(0) ? static_cast<C>(alpha) * v : v;
  });
}

Status elu(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 1.0f);
  return map_float(ctx, [alpha](auto v) {
    using C = decltype(v);
    return v < C(0) ? static_cast<C>(alpha) * std::expm1(v) : v;
  });
}

Status selu(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 1.67326319217681884765625f);
  float gamma = ctx.node().attr_float("gamma", 1.05070102519989013671875f);
  return map_float(ctx, [alpha, gamma](auto v) {
    using C = decltype(v);
    return v > C(0) ? static_cast<C>(gamma) * v : static_cast<C>(gamma) * static_cast<C>(alpha) * std::expm1(v);
  });
}

Status celu(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 1.0f);
  if (alpha == 0.0f) return ctx.error("attribute 'alpha' must be non-zero (Celu divides by it)");
  return map_float(ctx, [alpha](auto v) {
    using C = decltype(v);
    C a = static_cast<C>(alpha);
    return v > C(0) ? v : a * std::expm1(v / a);
  });
}

Status sigmoid(KernelContext& ctx) {
  // Two branches so exp never overflows.
  return map_float(ctx, [](auto v) {
    using C = decltype(v);
    if (v >= C(0)) return C(1) / (C(1) + std::exp(-v));
    C e = std::exp(v);
    return e / (C(1) + e);
  });
}

Status hard_sigmoid(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 0.2f);
  float beta = ctx.node().attr_float("beta", 0.5f);
  return map_float(ctx, [alpha, beta](auto v) {
    using C = decltype(v);
    C y = static_cast<C>(alpha) * v + static_cast<C>(beta);
    return std::max(C(0), std::min(C(1), y));
  });
}

Status hard_swish(KernelContext& ctx) {
  return map_float(ctx, [](auto v) {
    using C = decltype(v);
    C y = v / C(6) + C(0.5);
    return v * std::max(C(0), std::min(C(1), y));
  });
}

Status tanh_kernel(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return std::tanh(v); });
}

// log(1 + exp(x)) without overflow for large x.
template <typename C>
C softplus_value(C v) {
  return v > C(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

Status softplus(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return softplus_value(v); });
}

Status softsign(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return v / (decltype(v)(1) + std::fabs(v)); });
}

Status mish(KernelContext& ctx) {
  return map_float(ctx, [](auto v) { return v * std::tanh(softplus_value(v)); });
}

Status gelu(KernelContext& ctx) {
  std::string approx = ctx.node().attr_string("approximate", "none");
  if (approx == "tanh") {
    return map_float(ctx, [](auto v) {
      using C = decltype(v);
      C k = static_cast<C>(std::sqrt(2.0 / std::numbers::pi));
      return C(0.5) * v * (C(1) + std::tanh(k * (v + C(0.044715) * v * v * v)));
    });
  }
  if (approx != "none") return ctx.error("attribute 'approximate' must be \"none\" or \"tanh\", got \"" + approx + "\"");
  return map_float(ctx, [](auto v) {
    using C = decltype(v);
    return C(0.5) * v * (C(1) + std::erf(v / static_cast<C>(std::numbers::sqrt2)));
  });
}

Status thresholded_relu(KernelContext& ctx) {
  float alpha = ctx.node().attr_float("alpha", 1.0f);
  return map_float(ctx, [alpha](auto v) {
    using C = decltype(v);
    return v > static_cast<C>(alpha) ? v : C(0);
  });
}

Status shrink(KernelContext& ctx) {
  double bias = ctx.node().attr_float("bias", 0.0f);
  double lambd = ctx.node().attr_float("lambd", 0.5f);
  const Tensor& x = ctx.input(0);
  return named(ctx, visit_numeric(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 const T* in = x.data<T>();
                 T* out = y.data<T>();
                 for (int64_t i = 0; i < x.size(); ++i) {
                   double v = static_cast<double>(static_cast<compute_type_t<T>>(in[i]));
                   double r = v < -lambd ? v + bias : v > lambd ? v - bias : 0.0;
                   out[i] = from_double<T>(r);
                 }
                 return {};
               }));
}

// Clip's bound i (1 = min, 2 = max): an attribute before opset 11, an optional scalar input after.
template <typename T>
Result<std::optional<T>> clip_bound(KernelContext& ctx, size_t i) {
  const char* name = i == 1 ? "min" : "max";
  if (ctx.opset() < 11) {
    if (!ctx.node().has_attr(name)) return std::optional<T>();
    return std::optional<T>(from_double<T>(ctx.node().attr_float(name)));
  }
  if (!ctx.has_input(i)) return std::optional<T>();
  const Tensor& b = ctx.input(i);
  if (b.dtype() != ctx.input(0).dtype())
    return ctx.error(fmt::format("input '{}' is {}, but the data is {}; they must match", name, b.type_string(),
                                 ctx.input(0).type_string()));
  if (b.size() != 1)
    return ctx.error(fmt::format("input '{}' must be a scalar (one element), got {}", name, b.type_string()));
  return std::optional<T>(b.data<T>()[0]);
}

Status clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return named(ctx, visit_numeric(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 KILN_ASSIGN_OR_RETURN(std::optional<T> lo_opt, clip_bound<T>(ctx, 1));
                 KILN_ASSIGN_OR_RETURN(std::optional<T> hi_opt, clip_bound<T>(ctx, 2));
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 const T* in = x.data<T>();
                 T* out = y.data<T>();
                 for (int64_t i = 0; i < x.size(); ++i) {
                   // min then max, like numpy: min > max gives max everywhere; NaN passes through.
                   C v = static_cast<C>(in[i]);
                   if (lo_opt && v < static_cast<C>(*lo_opt)) v = static_cast<C>(*lo_opt);
                   if (hi_opt && v > static_cast<C>(*hi_opt)) v = static_cast<C>(*hi_opt);
                   out[i] = static_cast<T>(v);
                 }
                 return {};
               }));
}

// ---- Unary math ----

Status erf_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (is_float(x.dtype())) return map_float(ctx, [](auto v) { return std::erf(v); });
  // Integer inputs (allowed by the spec): erf of the value, truncated back.
  return named(ctx, visit_numeric(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 for (int64_t i = 0; i < x.size(); ++i)
                   y.data<T>()[i] = from_double<T>(std::erf(static_cast<double>(x.data<T>()[i])));
                 return {};
               }));
}

Status abs_kernel(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>) {
      return v;
    } else if constexpr (std::is_integral_v<C>) {
      // Wraps for the most negative value (as numpy does) instead of overflowing.
      using U = std::make_unsigned_t<C>;
      return v < 0 ? static_cast<C>(U(0) - static_cast<U>(v)) : v;
    } else {
      return std::fabs(v);
    }
  });
}

Status neg(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_integral_v<C>) {
      using U = std::make_unsigned_t<C>;
      return static_cast<C>(U(0) - static_cast<U>(v));
    } else {
      return -v;
    }
  });
}

Status sign(KernelContext& ctx) {
  return map_numeric(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(v)) return v;
    }
    return v > C(0) ? C(1) : v < C(0) ? static_cast<C>(-1) : C(0);
  });
}

Status sqrt_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::sqrt(v); }); }
Status reciprocal(KernelContext& ctx) { return map_float(ctx, [](auto v) { return decltype(v)(1) / v; }); }
Status exp_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::exp(v); }); }
Status log_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::log(v); }); }
Status floor_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::floor(v); }); }
Status ceil_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::ceil(v); }); }
// nearbyint uses the default rounding mode: to nearest, ties to even.
Status round_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::nearbyint(v); }); }
Status sin_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::sin(v); }); }
Status cos_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::cos(v); }); }
Status tan_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::tan(v); }); }
Status asin_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::asin(v); }); }
Status acos_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::acos(v); }); }
Status atan_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::atan(v); }); }
Status sinh_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::sinh(v); }); }
Status cosh_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::cosh(v); }); }
Status asinh_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::asinh(v); }); }
Status acosh_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::acosh(v); }); }
Status atanh_kernel(KernelContext& ctx) { return map_float(ctx, [](auto v) { return std::atanh(v); }); }

Status is_nan(KernelContext& ctx) {
  return map_float_to_bool(ctx, [](auto v) { return std::isnan(v); });
}

Status is_inf(KernelContext& ctx) {
  bool neg = ctx.node().attr_int("detect_negative", 1) != 0;
  bool pos = ctx.node().attr_int("detect_positive", 1) != 0;
  return map_float_to_bool(ctx, [neg, pos](auto v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

Status not_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kBool) return ctx.error("expected a bool tensor, got " + x.type_string());
  Tensor& y = ctx.allocate_output(0, DataType::kBool, x.dims());
  for (int64_t i = 0; i < x.size(); ++i) y.data<bool>()[i] = !x.data<bool>()[i];
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"Relu", "", relu},
    {"LeakyRelu", "", leaky_relu},
    {"Elu", "", elu},
    {"Selu", "", selu},
    {"Celu", "", celu},
    {"Sigmoid", "", sigmoid},
    {"HardSigmoid", "", hard_sigmoid},
    {"HardSwish", "", hard_swish},
    {"Tanh", "", tanh_kernel},
    {"Softplus", "", softplus},
    {"Softsign", "", softsign},
    {"Mish", "", mish},
    {"Gelu", "", gelu},
    {"ThresholdedRelu", "", thresholded_relu},
    {"Shrink", "", shrink},
    {"Clip", "", clip},
    {"Erf", "", erf_kernel},
    {"Abs", "", abs_kernel},
    {"Neg", "", neg},
    {"Sign", "", sign},
    {"Sqrt", "", sqrt_kernel},
    {"Reciprocal", "", reciprocal},
    {"Exp", "", exp_kernel},
    {"Log", "", log_kernel},
    {"Floor", "", floor_kernel},
    {"Ceil", "", ceil_kernel},
    {"Round", "", round_kernel},
    {"Sin", "", sin_kernel},
    {"Cos", "", cos_kernel},
    {"Tan", "", tan_kernel},
    {"Asin", "", asin_kernel},
    {"Acos", "", acos_kernel},
    {"Atan", "", atan_kernel},
    {"Sinh", "", sinh_kernel},
    {"Cosh", "", cosh_kernel},
    {"Asinh", "", asinh_kernel},
    {"Acosh", "", acosh_kernel},
    {"Atanh", "", atanh_kernel},
    {"IsNaN", "", is_nan},
    {"IsInf", "", is_inf},
    {"Not", "", not_kernel},
};
}  // namespace

std::span<const KernelEntry> elementwise_kernels() {
  static const std::vector<KernelEntry> all = [] {
    std::vector<KernelEntry> v(std::begin(kKernels), std::end(kKernels));
    for (const KernelEntry& e : elementwise_binary_kernels()) v.push_back(e);
    for (const KernelEntry& e : elementwise_cast_kernels()) v.push_back(e);
    return v;
  }();
  return all;
}

}  // namespace kiln::ref
