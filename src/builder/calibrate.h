// Calibration = runtime + observers: runs the FP32 graph on representative data and turns the observed
// activation ranges into per-tensor INT8 scales with a calibrator (entropy, minmax, percentile, mse).
//
// Two passes over the data: pass 1 records each tensor's range, pass 2 fills histograms over that fixed
// range. The scales therefore do not depend on the calibration batch size or the order of batches
// (TensorRT's calibrators size their histograms from the first batch, so theirs do).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "builder/calibration_data.h"
#include "ir/graph.h"
#include "quant/calibration_table.h"
#include "quant/calibrators.h"

namespace kiln {

struct CalibrationProgress {
  int pass = 1;            ///< 1 (ranges) or 2 (histograms)
  int64_t done = 0;        ///< samples done in this pass
  int64_t total = 0;       ///< samples per pass
  double seconds = 0;      ///< elapsed in this pass
};

struct CalibrateOptions {
  CalibratorOptions calibrator;
  /// Samples per run of the graph (any value gives the same scales).
  int64_t batch = 32;
  /// Run the graph's nodes on the GPU (cuda/gpu_node_kernels.h; strict FP32) instead of the CPU backend's
  /// kernels. Only in a kiln built with the CUDA backend, and the graph must be calibrate_channels_last's.
  bool on_gpu = false;
  std::function<void(const CalibrationProgress&)> progress;
};

/// Calibrates `tensors` (value names of `graph`, an FP32 graph with one runtime input whose first axis is the
/// batch) on `source`. Errors: a tensor that is never computed, non-float tensors, a source that fails.
Result<CalibrationTable> calibrate(const Graph& graph, const std::vector<std::string>& tensors,
                                   CalibrationSource& source, const CalibrateOptions& options);

/// calibrate() on `nhwc`, the graph that names `tensors` after convert_to_channels_last: a tensor is observed
/// as its channels-last twin where `nhwc` has one (the same values in NHWC: per-tensor statistics do not see
/// the layout), and the table keeps the names given. With options.on_gpu the graph's shapes are re-inferred
/// for each batch size run (the GPU kernels take the inferred output shapes), so it must be a private copy.
Result<CalibrationTable> calibrate_channels_last(Graph& nhwc, const std::vector<std::string>& tensors,
                                                 CalibrationSource& source, const CalibrateOptions& options);

}  // namespace kiln
