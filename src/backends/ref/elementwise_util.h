// Helpers shared by the elementwise reference kernels (elementwise*.cc).
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "backends/ref/broadcast.h"
#include "backends/ref/kernel.h"

namespace kiln::ref {

// Kernel tables of the split-out files; elementwise.cc merges them into elementwise_kernels().
std::span<const KernelEntry> elementwise_binary_kernels();
std::span<const KernelEntry> elementwise_cast_kernels();

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <typename T>
constexpr bool is_float_v = std::is_floating_point_v<T> || is_half_v<T>;

/// Converts a double to any numeric storage type. Floats round to nearest; integers truncate toward
/// zero and wrap modulo 2^bits like numpy's casts on x86 (NaN gives 0, +-inf saturates) — never UB.
template <typename T>
T from_double(double d) {
  if constexpr (std::is_same_v<T, bool>) {
    return d != 0;
  } else if constexpr (is_half_v<T>) {
    // Round to odd on the way to float so the second rounding (to half) is exact round-to-nearest-even.
    float f = static_cast<float>(d);
    if (std::isfinite(d) && static_cast<double>(f) != d) {
      if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
      f = bits_float(float_bits(f) | 1u);
    }
    return T(f);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(d);
  } else {
    if (std::isnan(d)) return T(0);
    double t = std::trunc(d);
    if constexpr (std::is_same_v<T, uint64_t>) {
      if (t >= 0) return t >= 18446744073709551616.0 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(t);
    }
    if (t >= 9223372036854775808.0) return static_cast<T>(std::numeric_limits<int64_t>::max());
    if (t < -9223372036854775808.0) return static_cast<T>(std::numeric_limits<int64_t>::min());
    return static_cast<T>(static_cast<int64_t>(t));
  }
}

/// Prefixes a failed Status with the node's description, keeping its error code.
inline Status named(const KernelContext& ctx, const Status& s) {
  return s.ok() ? s : Status(s.code(), ctx.error(s.message()).message());
}

/// The output shape of numpy-style broadcasting of all present inputs; error names every shape.
inline Result<Dims> broadcast_all(KernelContext& ctx, size_t first = 0) {
  Dims out;
  bool any = false;
  for (size_t i = first; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    if (!any) {
      out = ctx.input(i).dims();
      any = true;
      continue;
    }
    Result<Dims> b = broadcast_dims(out, ctx.input(i).dims());
    if (!b.ok()) return ctx.error(b.status().message());
    out = *b;
  }
  return out;
}

/// Checks that present inputs [first, last) share one dtype.
inline Status check_same_dtype(KernelContext& ctx, size_t first, size_t last) {
  for (size_t i = first + 1; i < last && i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.has_input(first) && ctx.input(i).dtype() != ctx.input(first).dtype())
      return ctx.error(fmt::format("input {} is {}, but input {} is {}; they must match", i,
                                   ctx.input(i).type_string(), first, ctx.input(first).type_string()));
  return {};
}

}  // namespace kiln::ref
