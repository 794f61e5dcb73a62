#include "quant/calibrators.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/weight_quant.h"

namespace kiln {
namespace {

// MXNet's _smooth_distribution: move eps onto every zero bin, taken evenly from the non-zero bins, so that
// KL(P || Q) stays finite where one side is zero. Returns false if every bin is zero.
bool smooth(std::vector<double>& d) {
  constexpr double kEps = 1e-4;
  size_t zeros = static_cast<size_t>(std::count(d.begin(), d.end(), 0.0));
  size_t nonzeros = d.size() - zeros;
  if (nonzeros == 0) return false;
  double take = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : d) v = (v == 0.0) ? kEps : v - take;
  return true;
}

// KL(P || Q) after normalizing both; assumes every entry positive (smoothed).
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0.0, sq = 0.0;
  for (size_t j = 0; j < p.size(); ++j) {
    sp += p[j];
    sq += q[j];
  }
  double kl = 0.0;
  for (size_t j = 0; j < p.size(); ++j) {
    double pn = p[j] / sp, qn = q[j] / sq;
    kl += pn * std::log(pn / qn);
  }
  return kl;
}

bool is_empty(const AbsHistogram& h) { return h.counts.empty() || h.range_max <= 0.0f || h.total() == 0; }

}  // namespace

Result<CalibrationMethod> parse_calibration_method(std::string_view text) {
  if (text == "entropy") return CalibrationMethod::kEntropy;
  if (text == "minmax") return CalibrationMethod::kMinMax;
  if (text == "percentile") return CalibrationMethod::kPercentile;
  if (text == "mse") return CalibrationMethod::kMse;
  return Status::invalid_argument("unknown calibration method '" + std::string(text) +
                                  "' (expected entropy, minmax, percentile or mse)");
}

const char* calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kEntropy: return "entropy";
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kMse: return "mse";
  }
  return "unknown";
}

const char* calibration_algorithm_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kEntropy: return "EntropyCalibration2";
    case CalibrationMethod::kMinMax: return "MinMaxCalibration";
    case CalibrationMethod::kPercentile: return "PercentileCalibration";
    case CalibrationMethod::kMse: return "MseCalibration";
  }
  return "UnknownCalibration";
}

float amax_minmax(const AbsHistogram& histogram) { return is_empty(histogram) ? 0.0f : histogram.range_max; }

// Share of the non-zero values in the top bin above which entropy keeps the whole range (see below).
constexpr double kSaturationShare = 0.001;

Result<float> amax_entropy(const AbsHistogram& histogram, int num_levels, int start_bin, bool flatten_zero_bin) {
  const int n = static_cast<int>(histogram.counts.size());
  if (num_levels < 1) return Status::invalid_argument("entropy calibration needs num_levels >= 1");
  if (is_empty(histogram)) return 0.0f;
  if (n < num_levels) {
    return Status::invalid_argument("entropy calibration needs at least " + std::to_string(num_levels) +
                                    " histogram bins, got " + std::to_string(n));
  }
  std::vector<double> h(histogram.counts.begin(), histogram.counts.end());
  if (flatten_zero_bin && n > 1) h[0] = h[1];
  // A saturating activation (ReLU6, Clip) piles values at its ceiling, the top of the range. That spike is
  // signal, not an outlier tail: clipping below it maps every saturated value to a smaller one. Keep the
  // full range when the top bin holds a visible share of the non-zero values.
  double nonzero = 0;
  for (int j = 1; j < n; ++j) nonzero += h[j];
  if (nonzero > 0 && h[n - 1] >= kSaturationShare * nonzero) return histogram.range_max;

  // suffix[i] = sum(h[i:]): the tail that candidate i clips into its last bin.
  std::vector<double> suffix(static_cast<size_t>(n) + 1, 0.0);
  for (int j = n - 1; j >= 0; --j) suffix[j] = suffix[j + 1] + h[j];

  const int first = std::clamp(start_bin, num_levels, n);
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = n;
  std::vector<double> p, q, level_sum(num_levels), level_nonzero(num_levels);
  for (int i = first; i <= n; ++i) {
    p.assign(h.begin(), h.begin() + i);
    p[i - 1] += suffix[i];
    std::fill(level_sum.begin(), level_sum.end(), 0.0);
    std::fill(level_nonzero.begin(), level_nonzero.end(), 0.0);
    for (int j = 0; j < i; ++j) {
      int level = static_cast<int>(static_cast<int64_t>(j) * num_levels / i);
      level_sum[level] += h[j];
      if (p[j] != 0.0) level_nonzero[level] += 1.0;
    }
    q.assign(static_cast<size_t>(i), 0.0);
    for (int j = 0; j < i; ++j) {
      int level = static_cast<int>(static_cast<int64_t>(j) * num_levels / i);
      if (p[j] != 0.0) q[j] = level_sum[level] / level_nonzero[level];
    }
    double kl = std::numeric_limits<double>::infinity();
    if (smooth(p) && smooth(q)) kl = kl_divergence(p, q);
    if (kl <= best_kl) {  // `<=`: ties go to the larger threshold
      best_kl = kl;
      best_i = i;
    }
  }
  double amax = (best_i + 0.5) * histogram.bin_width();
  return static_cast<float>(std::min(amax, static_cast<double>(histogram.range_max)));
}

Result<float> amax_percentile(const AbsHistogram& histogram, double percentile) {
  if (!(percentile > 0.0 && percentile <= 100.0)) {
    return Status::invalid_argument("percentile must be in (0, 100], got " + std::to_string(percentile));
  }
  if (is_empty(histogram)) return 0.0f;
  const double target = static_cast<double>(histogram.total()) * percentile / 100.0;
  const double width = histogram.bin_width();
  double below = 0.0;  // count in bins before k
  for (size_t k = 0; k < histogram.counts.size(); ++k) {
    double c = static_cast<double>(histogram.counts[k]);
    if (c > 0.0 && below + c >= target) {
      double frac = std::clamp((target - below) / c, 0.0, 1.0);
      double amax = (static_cast<double>(k) + frac) * width;
      return static_cast<float>(std::min(amax, static_cast<double>(histogram.range_max)));
    }
    below += c;
  }
  return histogram.range_max;  // only reached through rounding of `target`
}

Result<float> amax_mse(const AbsHistogram& histogram, int start_bin) {
  if (is_empty(histogram)) return 0.0f;
  const size_t n = histogram.counts.size();
  const double width = histogram.bin_width();
  auto error_for = [&](double amax) {
    double scale = amax / 127.0;
    double err = 0.0;
    for (size_t k = 0; k < n; ++k) {
      if (histogram.counts[k] == 0) continue;
      double c = (static_cast<double>(k) + 0.5) * width;
      double fq = std::clamp(round_half_even(c / scale), -127.0, 127.0) * scale;
      err += static_cast<double>(histogram.counts[k]) * (c - fq) * (c - fq);
    }
    return err;
  };
  // max |x| first so that it wins ties (no clipping when clipping does not help).
  double best_amax = histogram.range_max;
  double best_err = error_for(best_amax);
  for (size_t i = static_cast<size_t>(std::max(start_bin, 0)); i < n; ++i) {
    double amax = (static_cast<double>(i) + 0.5) * width;
    double err = error_for(amax);
    if (err < best_err) {
      best_err = err;
      best_amax = amax;
    }
  }
  return static_cast<float>(best_amax);
}

Result<float> compute_amax(const AbsHistogram& histogram, const CalibratorOptions& options) {
  switch (options.method) {
    case CalibrationMethod::kEntropy:
      return amax_entropy(histogram, options.num_levels, options.start_bin, options.flatten_zero_bin);
    case CalibrationMethod::kMinMax: return amax_minmax(histogram);
    case CalibrationMethod::kPercentile: return amax_percentile(histogram, options.percentile);
    case CalibrationMethod::kMse: return amax_mse(histogram, options.start_bin);
  }
  return Status::invalid_argument("unknown calibration method");
}

Result<CalibrationTable> make_calibration_table(const std::map<std::string, AbsHistogram>& histograms,
                                                const CalibratorOptions& options) {
  CalibrationTable table;
  table.algorithm = calibration_algorithm_name(options.method);
  for (const auto& [name, histogram] : histograms) {
    Result<float> amax = compute_amax(histogram, options);
    if (!amax.ok()) return amax.status().with_context("calibrating tensor '" + name + "'");
    table.scales[name] = scale_from_amax(*amax);
  }
  return table;
}

}  // namespace kiln
