#include "core/shape.h"

#include <fmt/format.h>

#include <limits>

namespace kiln {

int64_t element_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Result<int64_t> checked_element_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return Status::invalid_argument(fmt::format("negative extent in shape {}", dims_to_string(dims)));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return Status::invalid_argument(fmt::format("shape {} has too many elements", dims_to_string(dims)));
    n *= d;
  }
  return n;
}

std::string dims_to_string(const Dims& dims) {
  if (dims.empty()) return "scalar";
  return fmt::format("{}", fmt::join(dims, "x"));
}

std::vector<int64_t> row_major_strides(const Dims& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return Status::invalid_argument(fmt::format("axis {} is out of range for rank {}", axis, rank));
  return a;
}

Result<Dims> broadcast_dims(const Dims& a, const Dims& b) {
  size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return Status::shape_mismatch(
          fmt::format("shapes {} and {} cannot be broadcast", dims_to_string(a), dims_to_string(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string Dim::to_string() const {
  if (known()) return std::to_string(value);
  return symbol.empty() ? "?" : symbol;
}

Shape Shape::from_dims(const Dims& d) {
  std::vector<Dim> v(d.begin(), d.end());
  return Shape(std::move(v));
}

bool Shape::is_static() const {
  if (!dims_) return false;
  for (const Dim& d : *dims_)
    if (!d.known()) return false;
  return true;
}

Dims Shape::static_dims() const {
  Dims out;
  for (const Dim& d : *dims_) out.push_back(d.value);
  return out;
}

std::string Shape::to_string() const {
  if (!dims_) return "[*]";
  std::string s = "[";
  for (size_t i = 0; i < dims_->size(); ++i) s += (i ? "," : "") + (*dims_)[i].to_string();
  return s + "]";
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  if (!a.has_rank() || !b.has_rank()) return Shape();
  size_t rank = std::max(a.rank(), b.rank());
  std::vector<Dim> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    Dim da = i < rank - a.rank() ? Dim(1) : a[i - (rank - a.rank())];
    Dim db = i < rank - b.rank() ? Dim(1) : b[i - (rank - b.rank())];
    if (da.known() && db.known()) {
      if (da.value != db.value && da.value != 1 && db.value != 1)
        return Status::shape_mismatch(
            fmt::format("shapes {} and {} cannot be broadcast", a.to_string(), b.to_string()));
      out[i] = da.value == 1 ? db : da;
    } else if (da.known() && da.value == 1) {
      out[i] = db;
    } else if (db.known() && db.value == 1) {
      out[i] = da;
    } else if (da == db) {
      out[i] = da;
    } else if (da.known()) {
      out[i] = da;  // the other side must be 1 or equal
    } else if (db.known()) {
      out[i] = db;
    } else {
      out[i] = Dim();
    }
  }
  return Shape(std::move(out));
}

}  // namespace kiln
