// Tensor: a dense, row-major host tensor with shared storage (copies are cheap and alias; use clone()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "core/data_type.h"
#include "core/float16.h"
#include "core/shape.h"
#include "kiln/status.h"

namespace kiln {

/// Maps a C++ element type to its DataType.
template <typename T> constexpr DataType dtype_of();
template <> constexpr DataType dtype_of<float>() { return DataType::kF32; }
template <> constexpr DataType dtype_of<double>() { return DataType::kF64; }
template <> constexpr DataType dtype_of<Float16>() { return DataType::kF16; }
template <> constexpr DataType dtype_of<BFloat16>() { return DataType::kBF16; }
template <> constexpr DataType dtype_of<int8_t>() { return DataType::kI8; }
template <> constexpr DataType dtype_of<int16_t>() { return DataType::kI16; }
template <> constexpr DataType dtype_of<int32_t>() { return DataType::kI32; }
template <> constexpr DataType dtype_of<int64_t>() { return DataType::kI64; }
template <> constexpr DataType dtype_of<uint8_t>() { return DataType::kU8; }
template <> constexpr DataType dtype_of<uint16_t>() { return DataType::kU16; }
template <> constexpr DataType dtype_of<uint32_t>() { return DataType::kU32; }
template <> constexpr DataType dtype_of<uint64_t>() { return DataType::kU64; }
template <> constexpr DataType dtype_of<bool>() { return DataType::kBool; }
template <> constexpr DataType dtype_of<std::string>() { return DataType::kString; }

class Tensor {
 public:
  /// An empty tensor (dtype undefined). `defined()` is false.
  Tensor() = default;
  /// A zero-filled tensor (empty strings for kString).
  Tensor(DataType dtype, Dims dims);

  /// A tensor holding a copy of `values` with the given shape (element count must match).
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, Dims dims) {
    Tensor t(dtype_of<T>(), std::move(dims));
    for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.size()); ++i) t.data<T>()[i] = values[i];
    return t;
  }
  template <typename T>
  static Tensor scalar(T value) {
    return from_vector<T>({value}, {});
  }

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t dim(int64_t axis) const { return dims_[axis]; }
  /// Number of elements.
  int64_t size() const { return size_; }
  size_t byte_size() const { return static_cast<size_t>(size_) * dtype_size(dtype_); }

  template <typename T>
  T* data() {
    return static_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }
  template <typename T>
  std::span<T> span() {
    return {data<T>(), static_cast<size_t>(size_)};
  }
  template <typename T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<size_t>(size_)};
  }
  void* raw() { return storage_ ? storage_->bytes + offset_ : nullptr; }
  const void* raw() const { return storage_ ? storage_->bytes + offset_ : nullptr; }

  /// A deep copy.
  Tensor clone() const;
  /// A view with another shape of the same element count (shares storage).
  Result<Tensor> reshaped(Dims dims) const;

  /// Element `i` converted to double (any numeric dtype; 0 for strings).
  double element_as_double(int64_t i) const;
  /// Element `i` converted to int64 (any numeric dtype, floats truncate).
  int64_t element_as_int64(int64_t i) const;
  /// All elements as int64 (any integer or bool dtype); error for other dtypes.
  Result<std::vector<int64_t>> to_int64_vector() const;
  /// All elements converted to double (numeric dtypes).
  std::vector<double> to_double_vector() const;

  /// Wraps existing memory without copying; `keepalive` owns it (may be null if the caller guarantees
  /// the memory outlives every copy of the tensor).
  static Tensor wrap(DataType dtype, Dims dims, void* data, std::shared_ptr<void> keepalive);

  /// "f32[1x3x224x224]"
  std::string type_string() const;

 private:
  struct Storage {
    std::byte* bytes = nullptr;
    std::string* strings = nullptr;  // for kString: array of size_ strings (bytes points at it)
    int64_t count = 0;
    std::shared_ptr<void> keepalive;  // set for wrapped memory
    bool owned = false;
    ~Storage();
  };

  DataType dtype_ = DataType::kUndefined;
  Dims dims_;
  int64_t size_ = 0;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
};

/// Calls `f(T{})` with T the element type of `dtype`, over the numeric dtypes (no string/bool).
/// Returns an unsupported Status for other dtypes.
template <typename F>
Status visit_numeric(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kF32: return f(float{});
    case DataType::kF64: return f(double{});
    case DataType::kF16: return f(Float16{});
    case DataType::kBF16: return f(BFloat16{});
    case DataType::kI8: return f(int8_t{});
    case DataType::kI16: return f(int16_t{});
    case DataType::kI32: return f(int32_t{});
    case DataType::kI64: return f(int64_t{});
    case DataType::kU8: return f(uint8_t{});
    case DataType::kU16: return f(uint16_t{});
    case DataType::kU32: return f(uint32_t{});
    case DataType::kU64: return f(uint64_t{});
    default: return Status::unsupported(std::string("dtype ") + std::string(dtype_name(dtype)) + " is not supported here");
  }
}

/// As visit_numeric, plus bool.
template <typename F>
Status visit_numeric_or_bool(DataType dtype, F&& f) {
  if (dtype == DataType::kBool) return f(bool{});
  return visit_numeric(dtype, std::forward<F>(f));
}

/// As visit_numeric_or_bool, plus string (for data-movement ops that only copy elements).
template <typename F>
Status visit_any(DataType dtype, F&& f) {
  if (dtype == DataType::kString) return f(std::string{});
  return visit_numeric_or_bool(dtype, std::forward<F>(f));
}

/// Float dtypes only: f16, bf16, f32, f64.
template <typename F>
Status visit_float(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kF32: return f(float{});
    case DataType::kF64: return f(double{});
    case DataType::kF16: return f(Float16{});
    case DataType::kBF16: return f(BFloat16{});
    default: return Status::unsupported(std::string("dtype ") + std::string(dtype_name(dtype)) + " is not a float type");
  }
}

/// Arithmetic type used to compute on storage type T: float for f16/bf16, T otherwise.
template <typename T>
using compute_type_t = std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>, float, T>;

/// True when `t` is null or all its elements are zero (absent or zero zero points).
bool all_zero(const Tensor* t);

}  // namespace kiln
