// `kiln compare`: run several engines (or ONNX models, on the exact reference backend) on the same inputs
// and report, per engine, file size, accuracy, agreement with and error against the first (reference)
// engine, latency and throughput; optionally the per-layer error of exactly two engines.
//
//   kiln::CompareOptions o;
//   o.models = {"m_fp32.kiln", "m_int8.kiln"};
//   o.data = "photos/";  o.preprocess = "imagenet";  o.labels = "photos/labels.csv";
//   KILN_ASSIGN_OR_RETURN(kiln::CompareResult r, kiln::run_compare(o));
//   std::cout << kiln::format_console_report(r);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compare/metrics.h"
#include "compare/per_layer.h"
#include "compare/timing.h"

namespace kiln {

struct CompareOptions {
  /// Engines (.kiln) or ONNX models; the first is the reference the others are measured against.
  std::vector<std::string> models;
  /// Evaluation inputs: a folder of images (with `preprocess`), .npy files, or an IDX image file (.gz ok).
  std::string data;
  /// Optional labels (see compare/labels.h) and class names for labels given as names.
  std::string labels;
  std::string class_names;
  /// Preprocessing spec: preset, key=value list, or a JSON file (data/image.h).
  std::string preprocess;
  /// Evaluate the first N samples.
  int64_t samples = 500;
  /// Samples per run for the accuracy pass (clamped to each engine's batch range).
  int64_t batch = 16;
  /// Seconds of timing per engine (half latency, half throughput); 0 skips timing.
  double time_budget_s = 2.0;
  /// Per-layer comparison of the two models (exactly two).
  bool per_layer = false;
  int64_t per_layer_samples = 8;
  /// Progress lines ("fp16.kiln: 128/500 samples").
  std::function<void(const std::string&)> progress;
};

struct OutputError {
  std::string name;
  ErrorStats stats;
};

struct EngineResult {
  std::string path;
  std::string precision;  ///< "fp32" / "fp16" / "int8" / "onnx"
  uint64_t file_bytes = 0;
  int64_t samples = 0;
  int64_t eval_batch = 0;
  std::optional<double> top1, top5;  ///< with labels and a classification output
  double top1_agreement = 1;         ///< same top-1 as the reference (1 for the reference itself)
  std::vector<OutputError> output_errors;  ///< vs the reference, per output
  TimingResult timing;
};

struct CompareResult {
  std::string data_description;
  int64_t samples = 0;
  bool has_labels = false;
  std::string input;   ///< "input: f32[N,3,128,128]"
  std::string output;  ///< the output used for accuracy/agreement
  std::vector<EngineResult> engines;
  std::optional<PerLayerResult> per_layer;
};

/// Checks that every model has the reference's inputs and outputs (same names, dtypes, and per-sample
/// shapes: every axis but the batch axis). The error names the model, the tensor and what differs.
Status check_same_io(const std::vector<std::unique_ptr<ComparedModel>>& models);

Result<CompareResult> run_compare(const CompareOptions& options);

}  // namespace kiln
