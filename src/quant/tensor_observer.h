// TensorObserver: the statistics calibration collects for one activation tensor, in two passes.
//
//   TensorObserver obs(/*num_bins=*/2048);
//   for (const Tensor& batch : batches) KILN_RETURN_IF_ERROR(obs.observe_range(batch));      // pass 1
//   KILN_RETURN_IF_ERROR(obs.start_histogram_pass());
//   for (const Tensor& batch : batches) KILN_RETURN_IF_ERROR(obs.observe_histogram(batch));  // pass 2
//   Result<float> amax = compute_amax(obs.histogram(), options);                            // calibrators.h
//
// Why two passes: pass 1 finds the absolute maximum over *all* calibration data; pass 2 bins |x| over the
// fixed range [0, amax]. TensorRT (and pytorch-quantization) take the histogram range from the first batch
// and grow it afterwards, so their scales depend on the batch size and on the order of the data. Here the bin
// of every element depends only on its value and the global amax, and counts are integers, so the histogram —
// and every scale computed from it — is identical bit for bit however the data is split into batches.
//
// NaN and ±Inf elements are skipped and counted (pass 1 counts them; pass 2 skips the same elements).
// Empty tensors are accepted and change nothing. Accepted dtypes: f32, f16, bf16, f64 (converted to float).
// A large f32 tensor is observed by several threads, each over its own part, merged after: min, max and integer
// counts merge exactly, so the statistics are the same bit for bit as one thread's.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kiln/status.h"

namespace kiln {

/// A histogram of |x| over [0, range_max] with equal-width bins. Bin k holds values in
/// [k * width, (k + 1) * width), the last bin also holds range_max itself.
struct AbsHistogram {
  /// The absolute maximum seen in pass 1 (exact, not a bin edge). 0 when every value was 0 or none was seen.
  float range_max = 0.0f;
  /// Counts per bin; size() is the number of bins.
  std::vector<uint64_t> counts;

  /// Width of one bin (range_max / number of bins); 0 for an empty range.
  double bin_width() const {
    return counts.empty() ? 0.0 : static_cast<double>(range_max) / static_cast<double>(counts.size());
  }
  /// Sum of all counts.
  uint64_t total() const;
};

/// Collects min/max (pass 1) then the |x| histogram (pass 2) of one tensor. Not thread-safe.
class TensorObserver {
 public:
  /// TensorRT's entropy calibrator uses 2048 bins.
  static constexpr int kDefaultNumBins = 2048;

  /// `num_bins` must be >= 1 (observe_* returns an error otherwise; the entropy calibrator needs >= 128).
  explicit TensorObserver(int num_bins = kDefaultNumBins);

  /// Pass 1: folds the tensor's finite elements into min, max and the finite/non-finite counts.
  /// Error for non-float dtypes or after start_histogram_pass().
  Status observe_range(const Tensor& tensor);
  Status observe_range(std::span<const float> values);

  /// Ends pass 1: fixes the histogram range to [0, abs_max()]. Error if called twice.
  Status start_histogram_pass();

  /// Pass 2: adds the tensor's finite elements to the histogram. Values above the pass-1 range (the data
  /// changed between passes) go to the last bin and are counted in out_of_range_count().
  /// Error before start_histogram_pass() or for non-float dtypes.
  Status observe_histogram(const Tensor& tensor);
  Status observe_histogram(std::span<const float> values);

  int num_bins() const { return num_bins_; }
  bool in_histogram_pass() const { return histogram_pass_; }
  /// Smallest / largest finite value seen in pass 1 (both 0 before any finite value).
  float min() const { return seen_finite_ ? min_ : 0.0f; }
  float max() const { return seen_finite_ ? max_ : 0.0f; }
  /// max(|min|, |max|).
  float abs_max() const;
  /// Finite elements seen in pass 1.
  uint64_t finite_count() const { return finite_count_; }
  /// NaN / ±Inf elements skipped in pass 1.
  uint64_t nan_count() const { return nan_count_; }
  uint64_t inf_count() const { return inf_count_; }
  /// Pass-2 values that exceeded the pass-1 range (0 when both passes saw the same data).
  uint64_t out_of_range_count() const { return out_of_range_count_; }
  /// The pass-2 histogram (its range is abs_max(); counts are all 0 before pass 2).
  const AbsHistogram& histogram() const { return histogram_; }

 private:
  Status check_bins() const;
  // Observes `values` in parts on several threads (pass 1 or 2 by `histogram`), merging each part's
  // statistics into this one.
  Status observe_in_parts(std::span<const float> values, bool histogram);
  void merge(const TensorObserver& part);

  int num_bins_;
  bool histogram_pass_ = false;
  bool seen_finite_ = false;
  float min_ = 0.0f;
  float max_ = 0.0f;
  uint64_t finite_count_ = 0;
  uint64_t nan_count_ = 0;
  uint64_t inf_count_ = 0;
  uint64_t out_of_range_count_ = 0;
  double bins_per_unit_ = 0.0;  // num_bins / range_max, fixed by start_histogram_pass()
  AbsHistogram histogram_;
};

}  // namespace kiln
