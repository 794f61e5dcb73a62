// Metrics of `kiln compare`: how far a candidate's outputs are from the reference's, and classification
// accuracy / agreement. Everything accumulates in double over any number of batches.
//
//   kiln::ErrorAccumulator acc;
//   acc.add(reference_values, candidate_values);   // spans of equal length, any number of times
//   kiln::ErrorStats s = acc.stats();              // max_abs 0.0012, mean_abs 1e-4, cosine 0.99999, snr 62 dB
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace kiln {

/// Error of a candidate tensor b against a reference a (n elements in all).
struct ErrorStats {
  int64_t count = 0;
  double max_abs = 0;   ///< max |b - a|
  double mean_abs = 0;  ///< mean |b - a|
  /// (a·b) / (|a| |b|); 1 when both are all zero, 0 when exactly one is.
  double cosine = 1;
  /// 10 log10(Σa² / Σ(b-a)²): signal-to-noise ratio in dB; +inf when b == a.
  double snr_db = std::numeric_limits<double>::infinity();
  /// |b - a|₂ / |a|₂ (relative RMS error): 0 when equal, +inf when a is all zero and b is not.
  double rel_rms = 0;
};

/// Streams pairs of (reference, candidate) values; order does not matter.
class ErrorAccumulator {
 public:
  void add(std::span<const float> reference, std::span<const float> candidate);
  void add(float reference, float candidate);
  ErrorStats stats() const;
  bool empty() const { return count_ == 0; }

 private:
  int64_t count_ = 0;
  double max_abs_ = 0, sum_abs_ = 0, sum_sq_err_ = 0, sum_sq_ref_ = 0, sum_sq_cand_ = 0, dot_ = 0;
};

/// Indices of the k largest values, largest first (ties: lower index first). k is clipped to the size.
std::vector<int64_t> top_k_indices(std::span<const float> values, int64_t k);

/// Counts top-1 / top-5 hits against labels and top-1 agreement with a reference's predictions.
struct ClassificationCounter {
  int64_t samples = 0;
  int64_t top1_hits = 0, top5_hits = 0;
  int64_t agree = 0;  ///< same top-1 as the reference
  /// One sample's scores; `label` < 0 means unlabelled; `reference_top1` < 0 means no reference.
  void add(std::span<const float> scores, int64_t label, int64_t reference_top1);
  double top1() const { return samples ? static_cast<double>(top1_hits) / static_cast<double>(samples) : 0; }
  double top5() const { return samples ? static_cast<double>(top5_hits) / static_cast<double>(samples) : 0; }
  double agreement() const { return samples ? static_cast<double>(agree) / static_cast<double>(samples) : 0; }
};

/// The p-th percentile (0..100) of `values` by linear interpolation between order statistics (numpy's
/// default); 0 for an empty vector.
double percentile(std::vector<double> values, double p);

}  // namespace kiln
