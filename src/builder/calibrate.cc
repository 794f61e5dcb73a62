#include "builder/calibrate.h"

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

#include "backends/cpu/cpu_backend.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/gpu_node_kernels.h"
#endif
#include "ir/shape_inference.h"
#include "passes/layout/channels_last.h"
#include "quant/tensor_observer.h"
#include "runtime/graph_runner.h"

namespace kiln {

namespace {

// The kernels calibration runs the graph with: the CPU backend's, or the GPU's one node at a time.
Result<NodeKernels> calibration_kernels(const Graph& graph, bool on_gpu) {
  if (!on_gpu) return cpu::create_cpu_kernels(graph);
#ifdef KILN_HAVE_CUDA
  return cuda::create_gpu_node_kernels(graph);
#else
  return Status::unsupported("calibration on the GPU needs kiln built with the CUDA backend");
#endif
}

// calibrate(), calling `before_run` (when set) with each run's batch size before it runs.
Result<CalibrationTable> calibrate_runs(const Graph& graph, const std::vector<std::string>& tensors,
                                        CalibrationSource& source, const CalibrateOptions& options,
                                        const std::function<Status(int64_t)>& before_run) {
  std::vector<const Value*> inputs;
  for (const Value* v : graph.inputs)
    if (!v->is_constant()) inputs.push_back(v);
  if (inputs.size() != 1)
    return Status::unsupported(fmt::format("calibration supports models with one input; this one has {}", inputs.size()));
  if (source.size() == 0) return Status::invalid_argument("the calibration data holds no samples");
  if (options.batch <= 0) return Status::invalid_argument(fmt::format("--calib-batch must be positive, got {}", options.batch));

  std::map<std::string, TensorObserver> observers;
  std::unordered_map<const Value*, TensorObserver*> by_value;
  for (const std::string& name : tensors) {
    const Value* v = graph.find_value(name);
    if (!v) return Status::invalid_argument(fmt::format("calibration tensor '{}' is not in the graph", name));
    if (v->is_constant()) continue;  // weights are quantized from their values, not calibrated
    auto [it, inserted] = observers.try_emplace(name);
    by_value[v] = &it->second;
  }
  // The FP32 graph runs on the fast CPU kernels (the reference kernels make large models take hours), or the GPU.
  KILN_ASSIGN_OR_RETURN(NodeKernels kernels, calibration_kernels(graph, options.on_gpu));
  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(graph, std::move(kernels)));
  Status observe_status;
  int pass = 1;
  RunOptions run_options;
  run_options.observer = [&](const Value& v, const Tensor& t) {
    auto it = by_value.find(&v);
    if (it == by_value.end() || !observe_status.ok()) return;
    Status s = pass == 1 ? it->second->observe_range(t) : it->second->observe_histogram(t);
    if (!s.ok()) observe_status = s.with_context(fmt::format("calibration tensor '{}'", v.name));
  };
  // Graph inputs are not node outputs, so the runner's observer never sees them: observe them here.
  auto observe_input = [&](const Tensor& t) -> Status {
    auto it = by_value.find(inputs[0]);
    if (it == by_value.end()) return {};
    return pass == 1 ? it->second->observe_range(t) : it->second->observe_histogram(t);
  };

  int64_t total = source.size();
  for (pass = 1; pass <= 2; ++pass) {
    auto start = std::chrono::steady_clock::now();
    for (int64_t first = 0; first < total; first += options.batch) {
      int64_t count = std::min(options.batch, total - first);
      KILN_ASSIGN_OR_RETURN(Tensor batch, source.batch(first, count));
      KILN_RETURN_IF_ERROR(observe_input(batch));
      if (before_run) KILN_RETURN_IF_ERROR(before_run(count));
      auto outputs = runner.run({{inputs[0]->name, batch}}, run_options);
      if (!outputs.ok()) return outputs.status().with_context("calibration run");
      KILN_RETURN_IF_ERROR(observe_status);
      if (options.progress)
        options.progress({pass, first + count, total,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()});
    }
    if (pass == 1)
      for (auto& [name, obs] : observers) {
        if (obs.finite_count() == 0 && obs.nan_count() == 0 && obs.inf_count() == 0)
          return Status::internal(fmt::format("calibration tensor '{}' was never computed", name));
        KILN_RETURN_IF_ERROR(obs.start_histogram_pass());
      }
  }
  std::map<std::string, AbsHistogram> histograms;
  for (auto& [name, obs] : observers) histograms[name] = obs.histogram();
  return make_calibration_table(histograms, options.calibrator);
}

}  // namespace

Result<CalibrationTable> calibrate(const Graph& graph, const std::vector<std::string>& tensors,
                                   CalibrationSource& source, const CalibrateOptions& options) {
  if (options.on_gpu)
    return Status::invalid_argument("calibration on the GPU re-infers shapes on a private copy of the graph: use "
                                    "calibrate_channels_last");
  return calibrate_runs(graph, tensors, source, options, nullptr);
}

Result<CalibrationTable> calibrate_channels_last(Graph& nhwc, const std::vector<std::string>& tensors,
                                                 CalibrationSource& source, const CalibrateOptions& options) {
  std::vector<std::string> observed;
  std::map<std::string, std::string> given_name;
  for (const std::string& name : tensors) {
    const std::string twin = channels_last_twin(name);
    observed.push_back(nhwc.find_value(twin) ? twin : name);
    given_name[observed.back()] = name;
  }
  // The GPU kernels write the graph's inferred shapes: infer them for each batch size run.
  int64_t inferred_batch = -1;
  auto infer_batch = [&](int64_t batch) -> Status {
    if (batch == inferred_batch) return {};
    for (Value* in : nhwc.inputs) {
      if (in->is_constant() || !in->type.shape.has_rank() || in->type.shape.rank() == 0) continue;
      std::vector<Dim> dims = in->type.shape.dims();
      dims[0] = Dim(batch);
      in->type.shape = Shape(dims);
    }
    KILN_RETURN_IF_ERROR(infer_shapes(nhwc).with_context(fmt::format("shapes at batch {}", batch)));
    inferred_batch = batch;
    return {};
  };
  KILN_ASSIGN_OR_RETURN(CalibrationTable by_observed,
                        calibrate_runs(nhwc, observed, source, options,
                                       options.on_gpu ? std::function<Status(int64_t)>(infer_batch) : nullptr));
  CalibrationTable table;
  table.algorithm = by_observed.algorithm;
  for (const auto& [name, scale] : by_observed.scales) table.scales[given_name.at(name)] = scale;
  return table;
}

}  // namespace kiln
