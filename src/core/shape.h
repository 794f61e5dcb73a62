// Shapes: concrete (`Dims`, used at run time) and symbolic (`Shape`, used in the IR).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

/// A concrete shape: one non-negative extent per axis.
using Dims = std::vector<int64_t>;

/// Number of elements of a concrete shape (1 for a scalar). Assumes the extents were validated.
int64_t element_count(const Dims& dims);
/// Element count with overflow and negative-extent checks, for shapes that came from user input.
Result<int64_t> checked_element_count(const Dims& dims);
/// "1x3x224x224" (a scalar prints as "scalar").
std::string dims_to_string(const Dims& dims);
/// Row-major strides in elements.
std::vector<int64_t> row_major_strides(const Dims& dims);
/// Normalizes a possibly negative axis into [0, rank); error if out of range.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank);
/// Numpy-style broadcast of two concrete shapes; error names both shapes.
Result<Dims> broadcast_dims(const Dims& a, const Dims& b);

/// One axis of a symbolic shape: a known extent, a named symbol ("batch"), or unknown.
struct Dim {
  int64_t value = -1;  ///< >= 0 when known
  std::string symbol;  ///< set when the extent is a named symbol

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: implicit from an extent
  static Dim symbolic(std::string name) {
    Dim d;
    d.symbol = std::move(name);
    return d;
  }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
  std::string to_string() const;
};

/// A symbolic shape: unknown rank, or a rank with one Dim per axis.
class Shape {
 public:
  Shape() = default;  ///< unknown rank
  explicit Shape(std::vector<Dim> dims) : dims_(std::move(dims)) {}
  static Shape from_dims(const Dims& d);

  bool has_rank() const { return dims_.has_value(); }
  size_t rank() const { return dims_ ? dims_->size() : 0; }
  const std::vector<Dim>& dims() const { return *dims_; }
  std::vector<Dim>& dims() { return *dims_; }
  const Dim& operator[](size_t i) const { return (*dims_)[i]; }
  /// True when the rank and every extent are known.
  bool is_static() const;
  /// The concrete extents; only valid when is_static().
  Dims static_dims() const;
  std::string to_string() const;  ///< "[N,3,224,224]" or "[*]" for unknown rank
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }

 private:
  std::optional<std::vector<Dim>> dims_;
};

/// Numpy-style broadcast of symbolic shapes (unknown where it cannot be decided).
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace kiln
