// Calibration data: representative inputs for INT8 calibration, from
//   - a folder of images (JPEG/PNG/BMP, recursive) with a preprocessing spec (src/data/image.h),
//   - .npy files (a file, or a folder of them): each holds one sample or a batch of samples,
//   - an MNIST/Fashion-MNIST IDX image file (optionally .gz), scaled by the preprocessing spec.
// Every source yields samples shaped like one item of the model input (its shape without the batch axis).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/image.h"
#include "kiln/status.h"

namespace kiln {

class CalibrationSource {
 public:
  virtual ~CalibrationSource() = default;
  /// Number of samples this source will yield.
  virtual int64_t size() const = 0;
  /// Samples [first, first + count) stacked into one batch tensor [count, ...sample shape].
  virtual Result<Tensor> batch(int64_t first, int64_t count) = 0;
  /// "412 images from photos/ (imagenet preset)" for logs.
  virtual std::string describe() const = 0;
};

struct CalibrationDataOptions {
  /// How to turn images (and IDX pixels) into model inputs; required for images, optional for IDX
  /// (default: pixel / 255).
  std::optional<PreprocessSpec> preprocess;
  /// Use at most this many samples (the first ones, in sorted file order).
  int64_t max_samples = 500;
};

/// Opens `path` as a calibration source for an input of `dtype` whose per-sample shape (without the batch
/// axis) is `sample_dims`. Errors name the file: missing, empty, unreadable, or of the wrong shape/dtype.
Result<std::unique_ptr<CalibrationSource>> open_calibration_source(const std::string& path, DataType dtype,
                                                                  const Dims& sample_dims,
                                                                  const CalibrationDataOptions& options);

/// Reads an MNIST/Fashion-MNIST IDX label file (magic 0x00000801, optionally .gz): one class index per item.
/// Errors name the file: missing, not an IDX label file, truncated.
Result<std::vector<int64_t>> read_idx_labels(const std::string& path);

}  // namespace kiln
