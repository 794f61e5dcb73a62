// The result of calibration: one scale per activation tensor, in TensorRT's convention.
//
// scale = amax / 127, where amax is the calibrated absolute range of the tensor; int8 values are
// round(x / scale) clamped to [-127, 127] (symmetric, zero point 0). This is what TensorRT's calibration
// cache stores (as the big-endian bit pattern of the float32 scale) and what ONNX Runtime's TensorRT
// provider reads (as scale × 127 = dynamic range).
#pragma once

#include <map>
#include <string>

namespace kiln {

enum class CalibrationMethod { kEntropy, kMinMax, kPercentile, kMse };

struct CalibrationTable {
  /// TensorRT's algorithm name: "EntropyCalibration2", "MinMaxCalibration", "PercentileCalibration",
  /// "MseCalibration" (the last two are kiln's names; TensorRT has no such calibrators).
  std::string algorithm;
  /// Tensor name -> scale (amax / 127). A scale of 0 means the tensor was all zeros.
  std::map<std::string, float> scales;
};

}  // namespace kiln
