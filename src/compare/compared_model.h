// One side of a comparison: a built engine (.kiln, run through the public Engine API, as a deployment
// would) or an ONNX model (run on the reference backend: the exact FP32 oracle).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/kiln.h"
#include "runtime/graph_runner.h"

namespace kiln {

class ComparedModel {
 public:
  /// Opens `path` (.kiln engine, else an ONNX model). For an ONNX model, a dynamic batch axis accepts any
  /// size and `onnx_opt_batch` stands in for the profile's opt batch.
  static Result<std::unique_ptr<ComparedModel>> open(const std::string& path, int64_t onnx_opt_batch);
  ~ComparedModel();

  const std::string& path() const { return path_; }
  bool is_engine() const { return engine_ != nullptr; }
  /// "fp32" / "fp16" / "int8" for engines, "onnx" for a model.
  const std::string& precision() const { return precision_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  /// Range of the first input's batch (first) axis: min/opt/max of the profile; fixed axes have min == max.
  DimRange batch_range() const;

  /// Runs one batch through the single input; returns every output converted to f32, in output order.
  Result<std::vector<Tensor>> run(const Tensor& input);
  /// Runs without copying outputs (for timing).
  Status run_only(const Tensor& input);
  /// Runs on the graph with the reference runner, calling `observer` with every computed value (and the
  /// graph inputs): the engine's graph read from its file, or the ONNX model's graph.
  Status run_observed(const Tensor& input, const std::function<void(const Value&, const Tensor&)>& observer);
  /// The graph run_observed uses (loaded on first use).
  Result<const Graph*> graph();

 private:
  ComparedModel() = default;
  struct GraphState;

  std::string path_, precision_;
  uint64_t file_bytes_ = 0;
  std::vector<TensorInfo> inputs_, outputs_;
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<ExecutionContext> context_;
  std::unique_ptr<GraphState> graph_;  // ONNX models: always; engines: for run_observed only
};

/// A float32 copy of any numeric tensor.
Tensor to_f32(const Tensor& t);

}  // namespace kiln
