// Runs an engine's graph on the GPU.
//
// CudaEngine (one per loaded engine): a kernel per node, weights on the device, the memory plan. Nodes
// without a CUDA kernel run on the reference kernels on the host (only in engines built with
// --allow-cpu-fallback), with the copies that implies.
// CudaContext (one per ExecutionContext): its own stream, cuDNN and cuBLASLt handles, device arena,
// pinned staging buffers, and per input shape the prepared nodes and a CUDA graph of the whole network,
// captured on the first run at that shape and replayed afterwards. A run: inputs → pinned → device (H2D),
// graph replay (compute), outputs → pinned (D2H); events time the three phases.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/launch_handles.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"
#include "runtime/memory_plan.h"

namespace kiln::cuda {

struct CudaEngineOptions {
  bool allow_tf32 = false;
  size_t workspace_limit = size_t{1} << 30;
  /// Run nodes without a CUDA kernel on the host (else loading refuses them, naming each).
  bool allow_cpu_fallback = false;
};

/// Milliseconds of the last run's phases, measured with CUDA events on the context's stream.
struct PhaseTimes {
  double h2d_ms = 0, compute_ms = 0, d2h_ms = 0;
};

class CudaContext;

class CudaEngine {
 public:
  /// `graph` must outlive the engine; its value types are rewritten (under a lock) when a new input shape is
  /// resolved. `max_input_dims`: the profile's largest shape per graph input.
  static Result<std::shared_ptr<CudaEngine>> create(Graph& graph, const MemoryPlan& plan,
                                                    std::map<std::string, Dims> max_input_dims,
                                                    const CudaEngineOptions& options);
  Result<std::unique_ptr<CudaContext>> create_context() const;
  /// The tactic of node i ("host:ref" for a host-fallback node).
  std::string tactic(size_t node_index) const;

 private:
  friend class CudaContext;
  CudaEngine() = default;
  /// Every value's dims when the graph inputs have `input_dims` (shape inference on the graph, serialized).
  Result<std::unordered_map<const Value*, Dims>> resolve_shapes(const std::map<std::string, Dims>& input_dims) const;

  Graph* graph_ = nullptr;
  CudaEngineOptions options_;
  std::vector<std::unique_ptr<CudaKernel>> kernels_;  // null: host fallback
  std::unordered_map<const Value*, MemorySlot> slots_;
  uint64_t arena_bytes_ = 0;
  std::map<std::string, Dims> max_input_dims_;
  mutable std::mutex shape_mutex_;
};

class CudaContext {
 public:
  ~CudaContext();
  /// Runs on host inputs (graph input name → tensor, dtypes and shapes already checked against the
  /// profile); afterwards output(i) views the pinned host copy of graph output i.
  Status run(const std::map<std::string, Tensor, std::less<>>& inputs);
  const Tensor& output(size_t i) const { return outputs_[i]; }
  size_t num_outputs() const { return outputs_.size(); }
  const PhaseTimes& last_times() const { return times_; }
  /// When on, each node is timed with events (no CUDA graph replay while profiling).
  void enable_profiling(bool on) { profiling_ = on; }
  /// Per node of the last profiled run: milliseconds (empty when profiling is off).
  const std::vector<double>& node_ms() const { return node_ms_; }

 private:
  friend class CudaEngine;
  struct ShapeState;
  CudaContext() = default;
  Status init(const CudaEngine& engine);
  Result<ShapeState*> state_for(const std::map<std::string, Tensor, std::less<>>& inputs);
  Status enqueue_nodes(const ShapeState& state);
  Status enqueue_nodes_profiled(const ShapeState& state);
  Status capture(ShapeState& state);

  const CudaEngine* engine_ = nullptr;
  LaunchHandles handles_;  // destroyed last: the states' plans and graphs were made with its handles
  DeviceBuffer arena_, workspace_;
  std::unordered_map<const Value*, DeviceBuffer> input_buffers_;
  std::unordered_map<const Value*, PinnedBuffer> pinned_inputs_;
  std::vector<PinnedBuffer> pinned_outputs_;
  std::map<std::string, std::unique_ptr<ShapeState>> states_;  // by input-shape key
  std::vector<Tensor> outputs_;
  uint64_t workspace_generation_ = 0;  // bumped when the workspace moves (captured graphs hold its address)
  cudaEvent_t events_[4] = {};
  std::vector<cudaEvent_t> node_events_;  // profiling: one before the first node, one after each
  PhaseTimes times_;
  bool profiling_ = false;
  std::vector<double> node_ms_;
};

}  // namespace kiln::cuda
