// Calibrators: turn one tensor's |x| histogram (tensor_observer.h) into amax, the clipping threshold, and the
// scale amax / 127 stored in the CalibrationTable.
//
//   KILN_ASSIGN_OR_RETURN(CalibrationMethod m, parse_calibration_method("entropy"));
//   CalibratorOptions opt{.method = m};
//   KILN_ASSIGN_OR_RETURN(float amax, compute_amax(observer.histogram(), opt));
//
// Methods (all deterministic functions of the histogram, so batch-split independent like the histogram):
//
// * minmax — amax = max |x| (the exact pass-1 maximum, not a bin edge).
//
// * entropy — TensorRT's EntropyCalibration2 as published by NVIDIA (Migacz, "8-bit Inference with TensorRT",
//   GTC 2017), with the two details the slides leave open taken from NVIDIA's pytorch-quantization
//   `_compute_amax_entropy` and MXNet's `_get_optimal_threshold`. With N bins of width w and L = 128 levels,
//   for every candidate i in [128, N]:
//     P[j] = h[j] for j < i, plus the tail sum(h[i:]) added to P[i-1]            (reference, clipped)
//     level(j) = floor(j * L / i)                                                (pytorch-quantization's grouping:
//                                                                                 levels differ by at most 1 bin)
//     Q[j] = (sum of h over level(j)'s bins, tail NOT included) / (number of bins of that level with P != 0)
//            for P[j] != 0, else 0                                               (expand over non-zero bins)
//     both smoothed as MXNet's _smooth_distribution (eps = 1e-4: zero bins get eps, taken evenly from the
//     non-zero ones), then normalized; D(i) = KL(P || Q) = sum P log(P / Q).
//   The smallest D wins; ties go to the largest i (least clipping, as pytorch-quantization's last argmin).
//   amax = (i + 0.5) * w as in the slides, capped at max |x| (for i = N it would lie past the data).
//   Differences from pytorch-quantization: it sets h[0] = h[1] (kept here as an option, off by default) and
//   returns i * w; with 2048 bins the two answers differ by half a bin (0.025 % of the range).
//
// * percentile — the p-th percentile of |x|: the first point where the cumulative count reaches p% of the
//   total, interpolated linearly inside its bin (pytorch-quantization returns that bin's lower edge instead).
//
// * mse — the amax that minimizes sum_k h[k] * (c_k - fq(c_k, amax))^2 over bin centres c_k, where fq is
//   symmetric int8 fake quantization (round half to even, clamp to [-127, 127]). Candidates are the bin centres
//   from bin start_bin on (pytorch-quantization's `_compute_amax_mse`), plus max |x|.
//
// A histogram with no data or an all-zero one gives amax 0 (scale 0: "all zeros" in the CalibrationTable).
//
// On 1M samples of N(0, 1) plus six outliers up to 20 σ (2048 bins; tests/unit/quant_calibrators_test.cc):
// entropy 4.40 σ (a port of pytorch-quantization's variant: 4.39 σ), percentile 99.99 → 3.91 σ (closed form
// 3.89 σ), minmax 20, mse 6.8 (the outliers dominate the squared error; 3.93 σ without them, ACIQ's 3.92 σ).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "kiln/status.h"
#include "quant/calibration_table.h"
#include "quant/tensor_observer.h"

namespace kiln {

/// "entropy" | "minmax" | "percentile" | "mse" (case-sensitive) → the method; error names the valid choices.
Result<CalibrationMethod> parse_calibration_method(std::string_view text);
/// The inverse of parse_calibration_method ("entropy", ...).
const char* calibration_method_name(CalibrationMethod method);
/// TensorRT's cache algorithm name: "EntropyCalibration2", "MinMaxCalibration", "PercentileCalibration",
/// "MseCalibration".
const char* calibration_algorithm_name(CalibrationMethod method);

struct CalibratorOptions {
  CalibrationMethod method = CalibrationMethod::kEntropy;
  /// percentile: in (0, 100].
  double percentile = 99.99;
  /// entropy, mse: the first candidate bin (TensorRT and pytorch-quantization use 128).
  int start_bin = 128;
  /// entropy: number of quantized levels of |x| (2^(bits-1) = 128 for int8).
  int num_levels = 128;
  /// entropy: replace h[0] by h[1] first (pytorch-quantization does, so that the zeros a ReLU produces do not
  /// dominate the divergence). On by default: without it, on ReLU6 networks (flowers MobileNetV2) the zero bin
  /// dominates and the minimum-KL threshold collapses to the first candidate (amax = 6% of the range),
  /// giving 41% top-1 agreement with FP32 instead of 100%.
  bool flatten_zero_bin = true;
};

/// amax (>= 0) for one histogram. Errors: invalid options (percentile out of range, num_levels < 1,
/// entropy with fewer bins than num_levels).
Result<float> compute_amax(const AbsHistogram& histogram, const CalibratorOptions& options);

/// The individual methods (compute_amax dispatches to these).
float amax_minmax(const AbsHistogram& histogram);
Result<float> amax_entropy(const AbsHistogram& histogram, int num_levels = 128, int start_bin = 128,
                           bool flatten_zero_bin = false);
Result<float> amax_percentile(const AbsHistogram& histogram, double percentile);
Result<float> amax_mse(const AbsHistogram& histogram, int start_bin = 128);

/// scale = amax / 127 in float (TensorRT's convention, see calibration_table.h).
inline float scale_from_amax(float amax) { return amax / 127.0f; }

/// Runs compute_amax on every histogram and returns the table (algorithm name from the method).
/// The error names the tensor that failed.
Result<CalibrationTable> make_calibration_table(const std::map<std::string, AbsHistogram>& histograms,
                                                const CalibratorOptions& options);

}  // namespace kiln
