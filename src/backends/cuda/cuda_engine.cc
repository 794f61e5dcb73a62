#include "backends/cuda/cuda_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/host_fallback_node.h"
#include "backends/ref/kernel.h"
#include "ir/shape_inference.h"

namespace kiln::cuda {

// Everything a context needs to run one input shape.
struct CudaContext::ShapeState {
  std::vector<std::unique_ptr<PreparedNode>> nodes;
  std::vector<std::vector<void*>> node_inputs, node_outputs;  // device pointers per node
  std::vector<DeviceBuffer> extra;                            // values the plan left unplanned
  std::unordered_map<const Value*, Dims> dims;
  std::unordered_map<const Value*, void*> pointers;
  size_t workspace_bytes = 0;
  bool has_host_nodes = false;
  cudaGraphExec_t graph = nullptr;
  uint64_t graph_workspace_generation = 0;  // the workspace the graph was captured with
  bool capture_failed = false;
  ~ShapeState() {
    if (graph) cudaGraphExecDestroy(graph);
  }
};

namespace {

uint64_t byte_count(DataType dtype, const Dims& dims) {
  return static_cast<uint64_t>(element_count(dims)) * dtype_size(dtype);
}

std::string shape_key(const std::map<std::string, Tensor, std::less<>>& inputs) {
  std::string key;
  for (const auto& [name, t] : inputs) key += name + "=" + dims_to_string(t.dims()) + ";";
  return key;
}

}  // namespace

Result<std::shared_ptr<CudaEngine>> CudaEngine::create(Graph& graph, const MemoryPlan& plan,
                                                       std::map<std::string, Dims> max_input_dims,
                                                       const CudaEngineOptions& options) {
  KILN_RETURN_IF_ERROR(cuda_device_available());
  std::shared_ptr<CudaEngine> engine(new CudaEngine());
  engine->graph_ = &graph;
  engine->options_ = options;
  engine->max_input_dims_ = std::move(max_input_dims);
  std::vector<std::string> unsupported;
  KernelOptions kernel_options;
  kernel_options.allow_tf32 = options.allow_tf32;
  for (const auto& node : graph.nodes()) {
    KILN_ASSIGN_OR_RETURN(auto kernel, create_cuda_kernel(*node, kernel_options));
    if (!kernel && !(options.allow_cpu_fallback && ref::find_kernel(node->domain, node->op_type)))
      unsupported.push_back(node->describe());
    engine->kernels_.push_back(std::move(kernel));
  }
  if (!unsupported.empty())
    return Status::unsupported(fmt::format("{} node(s) have no CUDA kernel: {} (rebuild with --allow-cpu-fallback to "
                                           "run them on the CPU)", unsupported.size(), fmt::join(unsupported, ", ")));
  for (const auto& [name, slot] : plan.slots)
    if (const Value* v = graph.find_value(name)) engine->slots_[v] = slot;
  engine->arena_bytes_ = plan.arena_bytes;
  for (const Value* out : graph.outputs)
    if (out->is_constant() || std::find(graph.inputs.begin(), graph.inputs.end(), out) != graph.inputs.end())
      return Status::unsupported(fmt::format("graph output '{}' is a constant or an input, which the CUDA backend "
                                             "does not run", out->name));
  return engine;
}

std::string CudaEngine::tactic(size_t i) const {
  return i < kernels_.size() && kernels_[i] ? kernels_[i]->tactic() : "host:ref";
}

Result<std::unordered_map<const Value*, Dims>> CudaEngine::resolve_shapes(
    const std::map<std::string, Dims>& input_dims) const {
  std::lock_guard lock(shape_mutex_);
  std::vector<Shape> saved;
  for (Value* in : graph_->inputs) {
    saved.push_back(in->type.shape);
    auto it = input_dims.find(in->name);
    if (it != input_dims.end()) in->type.shape = Shape::from_dims(it->second);
  }
  Status inferred = infer_shapes(*graph_);
  std::unordered_map<const Value*, Dims> dims;
  if (inferred.ok()) {
    for (const auto& v : graph_->values()) {
      if (v->is_constant()) dims[v.get()] = v->constant->dims();
      else if (v->type.shape.is_static()) dims[v.get()] = v->type.shape.static_dims();
    }
  }
  for (size_t i = 0; i < graph_->inputs.size(); ++i) graph_->inputs[i]->type.shape = saved[i];
  Status restored = infer_shapes(*graph_);
  KILN_RETURN_IF_ERROR(inferred.with_context("resolving the graph's shapes for the given inputs"));
  KILN_RETURN_IF_ERROR(restored);
  return dims;
}

Result<std::unique_ptr<CudaContext>> CudaEngine::create_context() const {
  std::unique_ptr<CudaContext> ctx(new CudaContext());
  KILN_RETURN_IF_ERROR(ctx->init(*this));
  return ctx;
}

CudaContext::~CudaContext() {
  states_.clear();
  for (cudaEvent_t& e : events_)
    if (e) cudaEventDestroy(e);
  for (cudaEvent_t e : node_events_) cudaEventDestroy(e);
}

Status CudaContext::init(const CudaEngine& engine) {
  engine_ = &engine;
  KILN_RETURN_IF_ERROR(handles_.init(engine.options_.workspace_limit));
  for (cudaEvent_t& e : events_) KILN_CUDA_TRY(cudaEventCreate(&e));
  KILN_ASSIGN_OR_RETURN(arena_, DeviceBuffer::allocate(engine.arena_bytes_));
  for (const Value* in : engine.graph_->inputs) {
    if (in->is_constant()) continue;
    auto it = engine.max_input_dims_.find(in->name);
    if (it == engine.max_input_dims_.end())
      return Status::internal(fmt::format("no profile for input '{}'", in->name));
    uint64_t bytes = byte_count(in->type.dtype, it->second);
    KILN_ASSIGN_OR_RETURN(input_buffers_[in], DeviceBuffer::allocate(bytes));
    KILN_ASSIGN_OR_RETURN(pinned_inputs_[in], PinnedBuffer::allocate(bytes));
  }
  pinned_outputs_.resize(engine.graph_->outputs.size());
  outputs_.resize(engine.graph_->outputs.size());
  return {};
}

Result<CudaContext::ShapeState*> CudaContext::state_for(const std::map<std::string, Tensor, std::less<>>& inputs) {
  std::string key = shape_key(inputs);
  auto found = states_.find(key);
  if (found != states_.end()) return found->second.get();

  const CudaEngine& engine = *engine_;
  const Graph& graph = *engine.graph_;
  std::map<std::string, Dims> input_dims;
  for (const auto& [name, t] : inputs) input_dims[name] = t.dims();
  auto state = std::make_unique<ShapeState>();
  KILN_ASSIGN_OR_RETURN(state->dims, engine.resolve_shapes(input_dims));

  // Where every value lives at this shape: graph inputs in their buffers, planned values in the arena,
  // the rest in buffers of their own; constants belong to their kernels.
  for (const auto& v : graph.values()) {
    const Value* value = v.get();
    if (value->is_constant()) continue;
    auto d = state->dims.find(value);
    if (d == state->dims.end()) continue;  // not computed at run time (e.g. an omitted output)
    uint64_t need = byte_count(value->type.dtype, d->second);
    if (auto in = input_buffers_.find(value); in != input_buffers_.end()) {
      state->pointers[value] = in->second.get();
    } else if (auto slot = engine.slots_.find(value); slot != engine.slots_.end() && need <= slot->second.bytes) {
      state->pointers[value] = static_cast<std::byte*>(arena_.get()) + slot->second.offset;
    } else {
      KILN_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(std::max<uint64_t>(need, 1)));
      state->pointers[value] = b.get();
      state->extra.push_back(std::move(b));
    }
  }
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    std::vector<Dims> in_dims(node.inputs.size()), out_dims(node.outputs.size());
    std::vector<void*> in_ptrs(node.inputs.size(), nullptr), out_ptrs(node.outputs.size(), nullptr);
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const Value* v = node.inputs[k];
      if (!v) continue;
      auto d = state->dims.find(v);
      if (d == state->dims.end())
        return Status::internal(fmt::format("{}: input '{}' has no shape at {}", node.describe(), v->name, key));
      in_dims[k] = d->second;
      if (!v->is_constant()) in_ptrs[k] = state->pointers.at(v);
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const Value* v = node.outputs[k];
      if (!v) continue;
      auto d = state->dims.find(v);
      if (d == state->dims.end())
        return Status::unsupported(fmt::format("{}: output '{}' has a data-dependent shape, which the CUDA backend "
                                               "does not run", node.describe(), v->name));
      out_dims[k] = d->second;
      out_ptrs[k] = state->pointers.at(v);
    }
    std::unique_ptr<PreparedNode> prepared;
    if (const auto& kernel = engine.kernels_[i]) {
      auto p = kernel->prepare(handles_.ctx, in_dims, out_dims);
      if (!p.ok()) return p.status().with_context(node.describe());
      prepared = std::move(*p);
    } else {
      KILN_ASSIGN_OR_RETURN(prepared, make_host_fallback_node(node, in_dims, out_dims));
      state->has_host_nodes = true;
    }
    state->workspace_bytes = std::max(state->workspace_bytes, prepared->workspace_bytes());
    state->nodes.push_back(std::move(prepared));
    state->node_inputs.push_back(std::move(in_ptrs));
    state->node_outputs.push_back(std::move(out_ptrs));
  }
  if (state->workspace_bytes > workspace_.bytes()) {
    // Captured graphs hold the old workspace's address: they are re-captured (generation check).
    KILN_CUDA_TRY(cudaStreamSynchronize(handles_.ctx.stream));
    workspace_ = DeviceBuffer();
    KILN_ASSIGN_OR_RETURN(workspace_, DeviceBuffer::allocate(state->workspace_bytes));
    handles_.ctx.workspace = workspace_.get();
    handles_.ctx.workspace_bytes = workspace_.bytes();
    ++workspace_generation_;
  }
  ShapeState* raw = state.get();
  states_[key] = std::move(state);
  return raw;
}

Status CudaContext::enqueue_nodes(const ShapeState& state) {
  const auto& nodes = engine_->graph_->nodes();
  for (size_t i = 0; i < state.nodes.size(); ++i) {
    Status s = state.nodes[i]->enqueue(handles_.ctx, state.node_inputs[i], state.node_outputs[i]);
    if (!s.ok()) return s.with_context(nodes[i]->describe());
  }
  return {};
}

Status CudaContext::enqueue_nodes_profiled(const ShapeState& state) {
  size_t n = state.nodes.size();
  while (node_events_.size() < n + 1) {
    cudaEvent_t e;
    KILN_CUDA_TRY(cudaEventCreate(&e));
    node_events_.push_back(e);
  }
  const auto& nodes = engine_->graph_->nodes();
  KILN_CUDA_TRY(cudaEventRecord(node_events_[0], handles_.ctx.stream));
  for (size_t i = 0; i < n; ++i) {
    Status s = state.nodes[i]->enqueue(handles_.ctx, state.node_inputs[i], state.node_outputs[i]);
    if (!s.ok()) return s.with_context(nodes[i]->describe());
    KILN_CUDA_TRY(cudaEventRecord(node_events_[i + 1], handles_.ctx.stream));
  }
  return {};
}

// Captures the whole network once; a failure (a kernel that cannot be captured) leaves the shape running
// eagerly, which is slower but correct.
Status CudaContext::capture(ShapeState& state) {
  if (state.graph) {
    cudaGraphExecDestroy(state.graph);
    state.graph = nullptr;
  }
  KILN_CUDA_TRY(cudaStreamBeginCapture(handles_.ctx.stream, cudaStreamCaptureModeThreadLocal));
  Status enqueued = enqueue_nodes(state);
  cudaGraph_t graph = nullptr;
  cudaError_t ended = cudaStreamEndCapture(handles_.ctx.stream, &graph);
  if (!enqueued.ok() || ended != cudaSuccess || !graph) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // clear the capture error
    state.capture_failed = true;
    return {};
  }
  cudaError_t inst = cudaGraphInstantiate(&state.graph, graph, 0);
  cudaGraphDestroy(graph);
  if (inst != cudaSuccess) {
    cudaGetLastError();
    state.graph = nullptr;
    state.capture_failed = true;
    return {};
  }
  state.graph_workspace_generation = workspace_generation_;
  return {};
}

Status CudaContext::run(const std::map<std::string, Tensor, std::less<>>& inputs) {
  KILN_ASSIGN_OR_RETURN(ShapeState* state, state_for(inputs));
  cudaStream_t stream = handles_.ctx.stream;
  // Inputs are staged in pinned memory first, so the H2D phase times the transfer alone.
  std::vector<std::pair<const Value*, size_t>> staged;
  for (const auto& [name, t] : inputs) {
    const Value* v = engine_->graph_->find_value(name);
    auto pinned = pinned_inputs_.find(v);
    if (pinned == pinned_inputs_.end()) return Status::internal(fmt::format("no buffer for input '{}'", name));
    if (t.byte_size() > pinned->second.bytes())
      return Status::shape_mismatch(fmt::format("input '{}' ({}) exceeds the profile's largest shape", name,
                                                t.type_string()));
    std::memcpy(pinned->second.get(), t.raw(), t.byte_size());
    staged.emplace_back(v, t.byte_size());
  }
  KILN_CUDA_TRY(cudaEventRecord(events_[0], stream));
  for (const auto& [v, bytes] : staged)
    KILN_CUDA_TRY(cudaMemcpyAsync(input_buffers_.at(v).get(), pinned_inputs_.at(v).get(), bytes,
                                  cudaMemcpyHostToDevice, stream));
  KILN_CUDA_TRY(cudaEventRecord(events_[1], stream));
  bool graph_ready = state->graph && state->graph_workspace_generation == workspace_generation_;
  if (profiling_) {
    KILN_RETURN_IF_ERROR(enqueue_nodes_profiled(*state));
  } else if (graph_ready) {
    KILN_CUDA_TRY(cudaGraphLaunch(state->graph, stream));
  } else {
    // First run at this shape (or after the workspace moved): run eagerly — it also warms up the libraries,
    // which must not initialize lazily during capture — then capture for the next runs.
    KILN_RETURN_IF_ERROR(enqueue_nodes(*state));
    if (!state->has_host_nodes && !state->capture_failed) {
      KILN_CUDA_TRY(cudaStreamSynchronize(stream));
      KILN_RETURN_IF_ERROR(capture(*state));
    }
  }
  KILN_CUDA_TRY(cudaEventRecord(events_[2], stream));
  const Graph& graph = *engine_->graph_;
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    const Value* v = graph.outputs[i];
    const Dims& dims = state->dims.at(v);
    uint64_t bytes = byte_count(v->type.dtype, dims);
    if (bytes > pinned_outputs_[i].bytes()) {
      KILN_CUDA_TRY(cudaStreamSynchronize(stream));
      pinned_outputs_[i] = PinnedBuffer();
      KILN_ASSIGN_OR_RETURN(pinned_outputs_[i], PinnedBuffer::allocate(bytes));
    }
    if (bytes)
      KILN_CUDA_TRY(cudaMemcpyAsync(pinned_outputs_[i].get(), state->pointers.at(v), bytes, cudaMemcpyDeviceToHost,
                                    stream));
    outputs_[i] = Tensor::wrap(v->type.dtype, dims, pinned_outputs_[i].get(), nullptr);
  }
  KILN_CUDA_TRY(cudaEventRecord(events_[3], stream));
  KILN_CUDA_TRY(cudaStreamSynchronize(stream));
  KILN_CUDA_TRY(cudaGetLastError());
  float ms[3] = {};
  for (int k = 0; k < 3; ++k) KILN_CUDA_TRY(cudaEventElapsedTime(&ms[k], events_[k], events_[k + 1]));
  times_ = {ms[0], ms[1], ms[2]};
  node_ms_.clear();
  if (profiling_)
    for (size_t i = 0; i < state->nodes.size(); ++i) {
      float t = 0;
      KILN_CUDA_TRY(cudaEventElapsedTime(&t, node_events_[i], node_events_[i + 1]));
      node_ms_.push_back(t);
    }
  return {};
}

}  // namespace kiln::cuda
