#include "quant/tensor_observer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace kiln {
namespace {

// Calls `f(span<const float>)` on the tensor's elements, converting f16/bf16/f64 in chunks so that a large
// tensor does not need a full float copy.
template <typename F>
Status for_each_float_chunk(const Tensor& tensor, F&& f) {
  if (tensor.dtype() == DataType::kF32) {
    f(tensor.span<float>());
    return Status::ok_status();
  }
  return visit_float(tensor.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    constexpr size_t kChunk = 4096;
    float buffer[kChunk];
    std::span<const T> all = tensor.span<T>();
    for (size_t begin = 0; begin < all.size(); begin += kChunk) {
      size_t n = std::min(kChunk, all.size() - begin);
      for (size_t i = 0; i < n; ++i) buffer[i] = static_cast<float>(all[begin + i]);
      f(std::span<const float>(buffer, n));
    }
    return Status::ok_status();
  });
}

}  // namespace

uint64_t AbsHistogram::total() const { return std::accumulate(counts.begin(), counts.end(), uint64_t{0}); }

TensorObserver::TensorObserver(int num_bins) : num_bins_(num_bins) {}

Status TensorObserver::check_bins() const {
  if (num_bins_ < 1) return Status::invalid_argument("observer needs at least 1 histogram bin, got " + std::to_string(num_bins_));
  return Status::ok_status();
}

float TensorObserver::abs_max() const { return std::max(std::fabs(min()), std::fabs(max())); }

Status TensorObserver::observe_range(std::span<const float> values) {
  KILN_RETURN_IF_ERROR(check_bins());
  if (histogram_pass_) return Status::internal("observe_range called after start_histogram_pass");
  for (float v : values) {
    if (std::isnan(v)) {
      ++nan_count_;
      continue;
    }
    if (std::isinf(v)) {
      ++inf_count_;
      continue;
    }
    if (!seen_finite_) {
      min_ = max_ = v;
      seen_finite_ = true;
    } else {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    ++finite_count_;
  }
  return Status::ok_status();
}

namespace {
// Elements a thread takes at the least: below this, starting threads costs more than it saves.
constexpr size_t kMinPerThread = size_t{1} << 18;
}  // namespace

void TensorObserver::merge(const TensorObserver& part) {
  if (part.seen_finite_) {
    min_ = seen_finite_ ? std::min(min_, part.min_) : part.min_;
    max_ = seen_finite_ ? std::max(max_, part.max_) : part.max_;
    seen_finite_ = true;
  }
  finite_count_ += part.finite_count_;
  nan_count_ += part.nan_count_;
  inf_count_ += part.inf_count_;
  out_of_range_count_ += part.out_of_range_count_;
  for (size_t b = 0; b < part.histogram_.counts.size() && b < histogram_.counts.size(); ++b)
    histogram_.counts[b] += part.histogram_.counts[b];
}

Status TensorObserver::observe_in_parts(std::span<const float> values, bool histogram) {
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                          values.size() / kMinPerThread);
  if (threads < 2) return histogram ? observe_histogram(values) : observe_range(values);
  // Each part starts from this observer's pass state (histogram range, bins) with empty statistics.
  TensorObserver empty(num_bins_);
  empty.histogram_pass_ = histogram_pass_;
  empty.histogram_.range_max = histogram_.range_max;
  empty.histogram_.counts.assign(histogram_.counts.size(), 0);
  empty.bins_per_unit_ = bins_per_unit_;
  std::vector<TensorObserver> parts(threads, empty);
  std::vector<Status> status(threads);
  std::vector<std::thread> pool;
  const size_t per = (values.size() + threads - 1) / threads;
  for (size_t t = 0; t < threads; ++t) {
    const std::span<const float> part = values.subspan(std::min(t * per, values.size()),
                                                       std::min(per, values.size() - std::min(t * per, values.size())));
    pool.emplace_back([&, t, part] {
      status[t] = histogram ? parts[t].observe_histogram(part) : parts[t].observe_range(part);
    });
  }
  for (std::thread& th : pool) th.join();
  for (size_t t = 0; t < threads; ++t) {
    KILN_RETURN_IF_ERROR(status[t]);
    merge(parts[t]);
  }
  return Status::ok_status();
}

Status TensorObserver::observe_range(const Tensor& tensor) {
  KILN_RETURN_IF_ERROR(check_bins());
  if (histogram_pass_) return Status::internal("observe_range called after start_histogram_pass");
  if (tensor.dtype() == DataType::kF32) return observe_in_parts(tensor.span<float>(), /*histogram=*/false);
  Status inner;
  Status outer = for_each_float_chunk(tensor, [&](std::span<const float> chunk) {
    if (inner.ok()) inner = observe_range(chunk);
  });
  KILN_RETURN_IF_ERROR(outer.with_context("observer"));
  return inner;
}

Status TensorObserver::start_histogram_pass() {
  KILN_RETURN_IF_ERROR(check_bins());
  if (histogram_pass_) return Status::internal("start_histogram_pass called twice");
  histogram_pass_ = true;
  histogram_.range_max = abs_max();
  histogram_.counts.assign(static_cast<size_t>(num_bins_), 0);
  // One double multiply per element, the same for every batch split: this is what makes bins reproducible.
  bins_per_unit_ = histogram_.range_max > 0.0f ? num_bins_ / static_cast<double>(histogram_.range_max) : 0.0;
  return Status::ok_status();
}

Status TensorObserver::observe_histogram(std::span<const float> values) {
  if (!histogram_pass_) return Status::internal("observe_histogram called before start_histogram_pass");
  const size_t last = histogram_.counts.size() - 1;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    float a = std::fabs(v);
    if (a > histogram_.range_max) {
      ++out_of_range_count_;
      ++histogram_.counts[last];
      continue;
    }
    // a <= range_max, so the index is at most num_bins (when a == range_max): clamp it into the last bin.
    size_t bin = static_cast<size_t>(static_cast<double>(a) * bins_per_unit_);
    ++histogram_.counts[std::min(bin, last)];
  }
  return Status::ok_status();
}

Status TensorObserver::observe_histogram(const Tensor& tensor) {
  if (!histogram_pass_) return Status::internal("observe_histogram called before start_histogram_pass");
  if (tensor.dtype() == DataType::kF32) return observe_in_parts(tensor.span<float>(), /*histogram=*/true);
  Status inner;
  Status outer = for_each_float_chunk(tensor, [&](std::span<const float> chunk) {
    if (inner.ok()) inner = observe_histogram(chunk);
  });
  KILN_RETURN_IF_ERROR(outer.with_context("observer"));
  return inner;
}

}  // namespace kiln
