// Internal to the math family's reference kernels: the per-file kernel tables and small numeric helpers.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

#include "backends/ref/kernel.h"

namespace kiln::ref {

std::span<const KernelEntry> math_reduce_kernels();   // math_reduce.cc: Reduce*, ArgMax/ArgMin, CumSum
std::span<const KernelEntry> math_softmax_kernels();  // math_softmax.cc: Softmax, LogSoftmax, Hardmax, TopK

/// Accumulator for sums and dot products: double for float types, the integer type itself for integers
/// (integer MatMul/Gemm/ReduceSum wrap around like ONNX Runtime's integer kernels).
template <typename T>
using math_acc_t = std::conditional_t<std::is_integral_v<T>, T, double>;

/// a + b and a * b that wrap modulo 2^bits for integers (no signed-overflow UB); plain for doubles.
template <typename A>
A acc_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}
template <typename A>
A acc_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return a * b;
}

/// Converts a storage element to its accumulator type.
template <typename T>
math_acc_t<T> to_acc(T v) {
  if constexpr (std::is_integral_v<T>) return v;
  else return static_cast<double>(static_cast<compute_type_t<T>>(v));
}

/// Converts a double result to storage type T: floats round (f16/bf16 via float), integers saturate
/// (NaN becomes 0) so out-of-range values never invoke undefined behaviour.
template <typename T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(static_cast<compute_type_t<T>>(v));
  }
}

/// Converts an accumulator back to storage type T.
template <typename T>
T from_acc(math_acc_t<T> v) {
  if constexpr (std::is_integral_v<T>) return v;
  else return from_double<T>(v);
}

}  // namespace kiln::ref
