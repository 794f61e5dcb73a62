#include "compare/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln {

void ErrorAccumulator::add(float reference, float candidate) {
  double a = reference, b = candidate, d = std::abs(b - a);
  ++count_;
  max_abs_ = std::max(max_abs_, d);
  sum_abs_ += d;
  sum_sq_err_ += d * d;
  sum_sq_ref_ += a * a;
  sum_sq_cand_ += b * b;
  dot_ += a * b;
}

void ErrorAccumulator::add(std::span<const float> reference, std::span<const float> candidate) {
  size_t n = std::min(reference.size(), candidate.size());
  for (size_t i = 0; i < n; ++i) add(reference[i], candidate[i]);
}

ErrorStats ErrorAccumulator::stats() const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ErrorStats s;
  s.count = count_;
  if (count_ == 0) return s;
  s.max_abs = max_abs_;
  s.mean_abs = sum_abs_ / static_cast<double>(count_);
  if (sum_sq_ref_ == 0 && sum_sq_cand_ == 0) s.cosine = 1;
  else if (sum_sq_ref_ == 0 || sum_sq_cand_ == 0) s.cosine = 0;
  else s.cosine = std::clamp(dot_ / (std::sqrt(sum_sq_ref_) * std::sqrt(sum_sq_cand_)), -1.0, 1.0);
  if (sum_sq_err_ == 0) {
    s.snr_db = kInf;
    s.rel_rms = 0;
  } else {
    s.snr_db = sum_sq_ref_ == 0 ? -kInf : 10 * std::log10(sum_sq_ref_ / sum_sq_err_);
    s.rel_rms = sum_sq_ref_ == 0 ? kInf : std::sqrt(sum_sq_err_ / sum_sq_ref_);
  }
  return s;
}

std::vector<int64_t> top_k_indices(std::span<const float> values, int64_t k) {
  std::vector<int64_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(idx.size()));
  // NaN sorts last so a broken engine never "wins" a class by producing NaN.
  auto greater = [&](int64_t a, int64_t b) {
    float x = values[a], y = values[b];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return x > y || (x == y && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), greater);
  idx.resize(k);
  return idx;
}

void ClassificationCounter::add(std::span<const float> scores, int64_t label, int64_t reference_top1) {
  std::vector<int64_t> top = top_k_indices(scores, 5);
  ++samples;
  if (top.empty()) return;
  if (label >= 0) {
    top1_hits += top[0] == label;
    top5_hits += std::find(top.begin(), top.end(), label) != top.end();
  }
  if (reference_top1 >= 0) agree += top[0] == reference_top1;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, values.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

}  // namespace kiln
