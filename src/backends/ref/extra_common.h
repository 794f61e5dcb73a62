// Helpers shared by the extra family's reference kernels (extra.cc, extra_signal.cc).
#pragma once

#include <string>
#include <vector>

#include "backends/ref/kernel.h"

namespace kiln::ref {

/// Reads a scalar (or one-element) int32/int64 input; `what` names it in the error.
inline Result<int64_t> read_scalar_int(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DataType::kI32 && t.dtype() != DataType::kI64)
    return ctx.error(std::string(what) + " must be int32 or int64, got " + t.type_string());
  if (t.size() != 1) return ctx.error(std::string(what) + " must hold one value, got " + t.type_string());
  return t.element_as_int64(0);
}

/// Reads a scalar (or one-element) float input.
inline Result<double> read_scalar_float(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (!is_float(t.dtype())) return ctx.error(std::string(what) + " must be a float tensor, got " + t.type_string());
  if (t.size() != 1) return ctx.error(std::string(what) + " must hold one value, got " + t.type_string());
  return t.element_as_double(0);
}

/// Stores values computed in double into `t` (any numeric dtype; f16/bf16 round through float).
inline Status store_doubles(Tensor& t, const std::vector<double>& values) {
  return visit_numeric(t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    T* out = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(static_cast<C>(values[i]));
    return {};
  });
}

// Signal kernels (extra_signal.cc), listed in extra.cc's kernel table.
Status hann_window(KernelContext& ctx);
Status hamming_window(KernelContext& ctx);
Status blackman_window(KernelContext& ctx);
Status dft(KernelContext& ctx);
Status stft(KernelContext& ctx);
Status mel_weight_matrix(KernelContext& ctx);

}  // namespace kiln::ref
