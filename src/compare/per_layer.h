// Per-layer comparison of two models (typically an FP32 engine and its INT8 or FP16 build): which layers
// ADD the most error, i.e. which should stay in higher precision (`kiln build --keep-fp32 NODE`).
//
// Values are matched by name: a candidate value named like the reference value, or `<name>_quantized` (the
// int8 tensor kiln's INT8 rewrite gives a quantized node's output). Int8 values are dequantized with the
// scale / zero point of the QuantizeLinear, kiln.QConv or kiln.QMatMul that produced them (int8 data ops
// such as MaxPool or Reshape keep their input's scale, so the search walks up through them).
//
// Error measure: relative RMS error e(v) = |b - a|₂ / |a|₂ over all compared samples (a: reference, b:
// candidate), so layers of very different magnitudes compare fairly. A layer's ADDED error is
// e(output) - max e(inputs), where the inputs are the nearest matched values upstream in the reference
// graph (graph inputs count as 0). A layer that merely passes on its inputs' error adds ~0; a layer that
// is sensitive to reduced precision adds much.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "builder/calibration_data.h"
#include "compare/compared_model.h"
#include "compare/metrics.h"

namespace kiln {

struct LayerError {
  std::string value;            ///< value name in the reference graph
  std::string candidate_value;  ///< its counterpart in the candidate ("conv1_out_quantized")
  std::string candidate_dtype;  ///< "i8", "f16", "f32", ...
  std::string node;             ///< the node to keep in float: the candidate's compute node for this value
  std::string op_type;          ///< that node's op type ("kiln.QConv", "kiln.FusedConv", ...)
  int64_t position = 0;         ///< topological position of the reference producer (graph order)
  ErrorStats stats;             ///< candidate vs reference
  double error = 0;             ///< relative RMS error (stats.rel_rms)
  double input_error = 0;       ///< largest error of its nearest matched inputs
  double added = 0;             ///< error - input_error
};

struct PerLayerResult {
  std::string reference, candidate;  ///< paths
  int64_t samples = 0;
  int64_t reference_values = 0;      ///< computed values in the reference graph
  std::vector<LayerError> layers;    ///< matched values, largest added error first
  std::string metric = "relative RMS error |b-a|/|a|; added = error(output) - max error(inputs)";
};

/// Runs both models on the first `samples` samples of `data` (one at a time) and ranks matched values.
Result<PerLayerResult> compare_layers(ComparedModel& reference, ComparedModel& candidate, CalibrationSource& data,
                                      int64_t samples);

}  // namespace kiln
