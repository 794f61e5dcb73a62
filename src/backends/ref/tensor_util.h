// Helpers shared by the tensor family's reference kernels (tensor.cc, tensor_index.cc).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "backends/ref/kernel.h"
#include "ir/ops/tensor_rules.h"

namespace kiln::ref::tensor_detail {

/// Kernels of tensor_index.cc, appended to tensor_kernels().
std::span<const KernelEntry> index_kernels();

/// An integer input (int32/int64, or any integer dtype) as int64 values; `what` names it in errors.
inline Result<std::vector<int64_t>> read_ints(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (!is_integer(t.dtype()))
    return ctx.error(std::string(what) + " must be an integer tensor, got " + t.type_string());
  return t.to_int64_vector();
}

/// A scalar (or one-element) integer input.
inline Result<int64_t> read_scalar_int(const KernelContext& ctx, size_t i, const char* what) {
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> v, read_ints(ctx, i, what));
  if (v.size() != 1) return ctx.error(std::string(what) + " must hold one value, got " + ctx.input(i).type_string());
  return v[0];
}

/// Allocates output i after checking a value-dependent shape (negative extents, overflow, huge sizes).
inline Result<Tensor*> allocate_checked(KernelContext& ctx, size_t i, DataType dtype, const Dims& dims) {
  Status s = tensor_rules::check_alloc(dims, dtype);
  if (!s.ok()) return ctx.error(s.message());
  return &ctx.allocate_output(i, dtype, dims);
}

/// out[k] = in[src[k]] for every output element; src[k] < 0 writes `fill` (element 0 of a tensor of the same
/// dtype) or the zero value when `fill` is null. Works for every dtype, strings included.
inline Status copy_by_index(const Tensor& in, Tensor& out, const std::vector<int64_t>& src,
                            const Tensor* fill = nullptr) {
  return visit_any(in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
    T fill_value = fill ? fill->data<T>()[0] : T{};
    for (size_t k = 0; k < src.size(); ++k) y[k] = src[k] >= 0 ? x[src[k]] : fill_value;
    return {};
  });
}

/// Walks every multi-index of `dims` in row-major order: `do { use(idx) } while (c.next());`
/// (check `count() > 0` first: a shape with a zero extent has no index at all).
class IndexCounter {
 public:
  explicit IndexCounter(Dims dims) : dims_(std::move(dims)), idx_(dims_.size(), 0) {}
  const std::vector<int64_t>& index() const { return idx_; }
  int64_t operator[](size_t axis) const { return idx_[axis]; }
  int64_t count() const { return element_count(dims_); }
  bool next() {
    for (int64_t a = static_cast<int64_t>(dims_.size()) - 1; a >= 0; --a) {
      if (++idx_[a] < dims_[a]) return true;
      idx_[a] = 0;
    }
    return false;
  }

 private:
  Dims dims_;
  std::vector<int64_t> idx_;
};

/// The error for an index outside [-extent, extent - 1].
inline Status index_error(const KernelContext& ctx, const std::string& where, int64_t value, int64_t extent) {
  return ctx.error(where + " = " + std::to_string(value) + " is out of range for an axis of extent " +
                   std::to_string(extent) + " (valid: [" + std::to_string(-extent) + ", " +
                   std::to_string(extent - 1) + "])");
}

}  // namespace kiln::ref::tensor_detail
