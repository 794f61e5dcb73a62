#include "core/tensor.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

namespace kiln {

namespace {
constexpr size_t kAlignment = 64;
}

Tensor::Storage::~Storage() {
  if (!owned) return;
  if (strings) {
    for (int64_t i = 0; i < count; ++i) strings[i].~basic_string();
  }
  std::free(bytes);
}

Tensor::Tensor(DataType dtype, Dims dims) : dtype_(dtype), dims_(std::move(dims)) {
  size_ = element_count(dims_);
  auto storage = std::make_shared<Storage>();
  size_t bytes = static_cast<size_t>(size_) * dtype_size(dtype);
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  storage->bytes = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
  if (!storage->bytes) throw std::bad_alloc();
  storage->owned = true;
  storage->count = size_;
  if (dtype == DataType::kString) {
    storage->strings = reinterpret_cast<std::string*>(storage->bytes);
    for (int64_t i = 0; i < size_; ++i) new (&storage->strings[i]) std::string();
  } else {
    std::memset(storage->bytes, 0, rounded);
  }
  storage_ = std::move(storage);
}

Tensor Tensor::wrap(DataType dtype, Dims dims, void* data, std::shared_ptr<void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.size_ = element_count(t.dims_);
  t.storage_ = std::make_shared<Storage>();
  t.storage_->bytes = static_cast<std::byte*>(data);
  t.storage_->keepalive = std::move(keepalive);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(dtype_, dims_);
  if (dtype_ == DataType::kString) {
    for (int64_t i = 0; i < size_; ++i) t.data<std::string>()[i] = data<std::string>()[i];
  } else if (size_ > 0) {
    std::memcpy(t.raw(), raw(), byte_size());
  }
  return t;
}

Result<Tensor> Tensor::reshaped(Dims dims) const {
  if (element_count(dims) != size_)
    return Status::shape_mismatch(fmt::format("cannot reshape {} into {}: element counts differ", type_string(),
                                              dims_to_string(dims)));
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

double Tensor::element_as_double(int64_t i) const {
  double out = 0;
  Status s = visit_numeric_or_bool(dtype_, [&](auto tag) -> Status {
    using T = decltype(tag);
    out = static_cast<double>(static_cast<compute_type_t<T>>(data<T>()[i]));
    return {};
  });
  (void)s;
  return out;
}

int64_t Tensor::element_as_int64(int64_t i) const {
  int64_t out = 0;
  Status s = visit_numeric_or_bool(dtype_, [&](auto tag) -> Status {
    using T = decltype(tag);
    out = static_cast<int64_t>(static_cast<compute_type_t<T>>(data<T>()[i]));
    return {};
  });
  (void)s;
  return out;
}

Result<std::vector<int64_t>> Tensor::to_int64_vector() const {
  if (!is_integer(dtype_) && dtype_ != DataType::kBool)
    return Status::invalid_argument(fmt::format("expected an integer tensor, got {}", type_string()));
  std::vector<int64_t> out(static_cast<size_t>(size_));
  for (int64_t i = 0; i < size_; ++i) out[i] = element_as_int64(i);
  return out;
}

std::vector<double> Tensor::to_double_vector() const {
  std::vector<double> out(static_cast<size_t>(size_));
  for (int64_t i = 0; i < size_; ++i) out[i] = element_as_double(i);
  return out;
}

std::string Tensor::type_string() const {
  return fmt::format("{}[{}]", dtype_name(dtype_), dims_to_string(dims_));
}

bool all_zero(const Tensor* t) {
  if (!t) return true;
  for (int64_t i = 0; i < t->size(); ++i)
    if (t->element_as_double(i) != 0) return false;
  return true;
}

}  // namespace kiln
