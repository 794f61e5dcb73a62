// Built only with the CUDA backend (KILN_HAVE_CUDA); build_engine refuses --device cuda otherwise.
#ifdef KILN_HAVE_CUDA
#include "builder/cuda_tactics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/cudnn_plan_cache.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/launch_handles.h"
#include "backends/ref/kernel.h"
#include "builder/tactic_sources.h"
#include "builder/timing_cache.h"
#include "core/float16.h"

namespace kiln {

namespace {

constexpr const char* kTacticAttr = "tactic";

// The handles and stream the timing runs use, the events that time them, and the plans the node being tuned
// listed (its timing takes them instead of finalizing each again).
struct TimingLaunch {
  cuda::LaunchHandles handles;
  cuda::LaunchContext& ctx = handles.ctx;
  cuda::CudnnPlanCache plans;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~TimingLaunch() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
  Status init(uint64_t workspace_limit) {
    KILN_RETURN_IF_ERROR(handles.init(workspace_limit));
    ctx.plan_cache = &plans;
    KILN_CUDA_TRY(cudaEventCreate(&start));
    KILN_CUDA_TRY(cudaEventCreate(&stop));
    return {};
  }
};

std::string machine_key(const cuda::DeviceInfo& d) {
  return fmt::format("{} (sm_{}{}) | driver {} | CUDA {} | cuDNN {} | cuBLASLt {}", d.name, d.major, d.minor,
                     d.driver_version, d.runtime_version, d.cudnn_version, d.cublaslt_version);
}

// Random device data for a node's non-constant inputs (values in [-1, 1): no denormals, no overflow).
Result<cuda::DeviceBuffer> random_device_tensor(DataType dtype, const Dims& dims, std::mt19937& rng) {
  Tensor t(dtype, dims);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  if (dtype == DataType::kF32) {
    for (float& x : t.span<float>()) x = dist(rng);
  } else if (dtype == DataType::kF16) {
    for (int64_t i = 0; i < t.size(); ++i) t.data<Float16>()[i] = Float16(dist(rng));
  } else {
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.byte_size(); ++i) p[i] = static_cast<uint8_t>(rng() & 0x3f);
  }
  return cuda::DeviceBuffer::upload(t.raw(), std::max<size_t>(t.byte_size(), 1));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A node's operands at the opt shapes: their dims, and device buffers (random inputs) made only when a tactic
// is timed (a node whose every candidate is in the timing cache needs none).
struct NodeBuffers {
  std::vector<Dims> in_dims, out_dims;
  std::vector<cuda::DeviceBuffer> storage;
  std::vector<void*> inputs, outputs;
};

Result<NodeBuffers> node_dims(const Node& node, const std::map<std::string, Dims>& opt_dims) {
  NodeBuffers b;
  b.in_dims.resize(node.inputs.size());
  b.out_dims.resize(node.outputs.size());
  auto dims_of = [&](const Value* v) -> Result<Dims> {
    if (v->is_constant()) return v->constant->dims();
    auto d = opt_dims.find(v->name);
    if (d == opt_dims.end()) return Status::internal(fmt::format("{}: no opt shape for '{}'", node.describe(), v->name));
    return d->second;
  };
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i]) {
      KILN_ASSIGN_OR_RETURN(b.in_dims[i], dims_of(node.inputs[i]));
    }
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i]) {
      KILN_ASSIGN_OR_RETURN(b.out_dims[i], dims_of(node.outputs[i]));
    }
  }
  return b;
}

// Makes `b`'s device buffers, once: random runtime inputs, outputs to write (constants are the kernels' own).
Status allocate_node_buffers(const Node& node, NodeBuffers& b, std::mt19937& rng) {
  if (!b.inputs.empty() || !b.outputs.empty()) return {};
  b.inputs.assign(node.inputs.size(), nullptr);
  b.outputs.assign(node.outputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (!v || v->is_constant()) continue;
    KILN_ASSIGN_OR_RETURN(auto buffer, random_device_tensor(v->type.dtype, b.in_dims[i], rng));
    b.inputs[i] = buffer.get();
    b.storage.push_back(std::move(buffer));
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const Value* v = node.outputs[i];
    if (!v) continue;
    uint64_t bytes = static_cast<uint64_t>(element_count(b.out_dims[i])) * dtype_size(v->type.dtype);
    KILN_ASSIGN_OR_RETURN(auto buffer, cuda::DeviceBuffer::allocate(std::max<uint64_t>(bytes, 1)));
    b.outputs[i] = buffer.get();
    b.storage.push_back(std::move(buffer));
  }
  return {};
}

// Whether `prepared`'s launches can be captured into a CUDA graph (some library configs create resources at
// execute time, which capture forbids); the capture is discarded.
Status check_capturable(const cuda::PreparedNode& prepared, const cuda::LaunchContext& ctx, NodeBuffers& buffers) {
  KILN_CUDA_TRY(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal));
  Status enqueued = prepared.enqueue(ctx, buffers.inputs, buffers.outputs);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(ctx.stream, &graph);
  if (graph) cudaGraphDestroy(graph);
  if (!enqueued.ok()) return enqueued.with_context("under stream capture");
  if (ended != cudaSuccess)
    return Status::unsupported(fmt::format("its launches cannot be captured: {}", cudaGetErrorString(ended)));
  return {};
}

// Median of 5 timed batches of runs, after a warm-up; milliseconds per run.
Result<double> time_tactic(const Node& node, const std::string& tactic, bool allow_tf32, NodeBuffers& buffers,
                           TimingLaunch& launch, double& planning_seconds) {
  cuda::KernelOptions options;
  options.tactic = tactic;
  options.allow_tf32 = allow_tf32;
  const auto planning_start = std::chrono::steady_clock::now();
  KILN_ASSIGN_OR_RETURN(auto kernel, cuda::create_cuda_kernel(node, options));
  if (!kernel) return Status::internal("no kernel");
  KILN_ASSIGN_OR_RETURN(auto prepared, kernel->prepare(launch.ctx, buffers.in_dims, buffers.out_dims));
  planning_seconds += seconds_since(planning_start);
  cuda::DeviceBuffer workspace;
  cuda::LaunchContext ctx = launch.ctx;
  if (size_t ws = prepared->workspace_bytes()) {
    KILN_ASSIGN_OR_RETURN(workspace, cuda::DeviceBuffer::allocate(ws));
    ctx.workspace = workspace.get();
    ctx.workspace_bytes = ws;
  }
  for (int i = 0; i < 3; ++i) KILN_RETURN_IF_ERROR(prepared->enqueue(ctx, buffers.inputs, buffers.outputs));
  KILN_CUDA_TRY(cudaStreamSynchronize(ctx.stream));
  // Engines replay their launches from a CUDA graph: a tactic whose launches cannot be captured is no candidate.
  KILN_RETURN_IF_ERROR(check_capturable(*prepared, ctx, buffers));
  // Enough runs per batch to outlast launch overhead (~0.2 ms of work), at most 50.
  KILN_CUDA_TRY(cudaEventRecord(launch.start, ctx.stream));
  KILN_RETURN_IF_ERROR(prepared->enqueue(ctx, buffers.inputs, buffers.outputs));
  KILN_CUDA_TRY(cudaEventRecord(launch.stop, ctx.stream));
  KILN_CUDA_TRY(cudaEventSynchronize(launch.stop));
  float one = 0;
  KILN_CUDA_TRY(cudaEventElapsedTime(&one, launch.start, launch.stop));
  int runs = std::clamp(static_cast<int>(0.2 / std::max(one, 1e-3f)), 1, 50);
  std::vector<double> samples;
  for (int batch = 0; batch < 5; ++batch) {
    KILN_CUDA_TRY(cudaEventRecord(launch.start, ctx.stream));
    for (int i = 0; i < runs; ++i) KILN_RETURN_IF_ERROR(prepared->enqueue(ctx, buffers.inputs, buffers.outputs));
    KILN_CUDA_TRY(cudaEventRecord(launch.stop, ctx.stream));
    KILN_CUDA_TRY(cudaEventSynchronize(launch.stop));
    float ms = 0;
    KILN_CUDA_TRY(cudaEventElapsedTime(&ms, launch.start, launch.stop));
    samples.push_back(ms / runs);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

std::string CudaTacticReport::to_string() const {
  std::string s = fmt::format("cuda kernels: {} nodes on the GPU, {} on the host; tactics: {} nodes with a choice, {} "
                              "timed ({} with the plan made when listing them), {} from the timing cache ({:.2f} s, "
                              "{:.2f} s of it building plans)",
                              nodes_on_gpu, nodes_on_host, nodes_with_choice, timed, timed_with_listed_plan,
                              from_cache, seconds, planning_seconds);
  if (nodes_outside_sources > 0)
    s += fmt::format("; {} node(s) kept their kernel's default: no candidate from --tactic-sources",
                     nodes_outside_sources);
  return s;
}

Result<nlohmann::json> cuda_backend_metadata() {
  KILN_ASSIGN_OR_RETURN(cuda::DeviceInfo d, cuda::current_device_info());
  return nlohmann::json{{"name", "cuda"},
                        {"compute_capability", fmt::format("{}.{}", d.major, d.minor)},
                        {"device", d.name},
                        {"driver_version", d.driver_version},
                        {"cuda_runtime_version", d.runtime_version},
                        {"cudnn_version", d.cudnn_version},
                        {"cublaslt_version", d.cublaslt_version}};
}

Status choose_cuda_tactics(Graph& graph, const std::map<std::string, Dims>& opt_dims, const CudaTacticOptions& options,
                           nlohmann::json* kernels, CudaTacticReport* report) {
  auto start = std::chrono::steady_clock::now();
  CudaTacticReport local;
  CudaTacticReport& r = report ? *report : local;
  KILN_ASSIGN_OR_RETURN(cuda::DeviceInfo device, cuda::current_device_info());
  KILN_ASSIGN_OR_RETURN(nlohmann::json cache, read_timing_cache(options.timing_cache));
  nlohmann::json& entries = cache["machines"][machine_key(device)];
  TimingLaunch launch;
  KILN_RETURN_IF_ERROR(launch.init(options.workspace_limit));
  std::mt19937 rng(1);
  std::vector<std::string> unsupported;
  cuda::KernelOptions kernel_options;
  kernel_options.allow_tf32 = options.allow_tf32;
  kernel_options.knob_variants = options.knob_variants;
  std::map<std::string, std::vector<std::string>> offered_by_signature;  // candidate lists of this build
  for (const auto& node : graph.nodes()) {
    KILN_ASSIGN_OR_RETURN(auto kernel, cuda::create_cuda_kernel(*node, kernel_options));
    if (!kernel) {
      if (!options.allow_cpu_fallback || !ref::find_kernel(node->domain, node->op_type)) unsupported.push_back(node->describe());
      ++r.nodes_on_host;
      if (kernels) (*kernels)[node->name] = "host:ref";
      continue;
    }
    ++r.nodes_on_gpu;
    std::string tactic = kernel->tactic();  // the library's own choice unless timing finds a faster one
    if (options.time_tactics) {
      KILN_ASSIGN_OR_RETURN(NodeBuffers buffers, node_dims(*node, opt_dims));
      const std::string signature = node_signature(*node, opt_dims, kTacticAttr);
      // Candidates depend on the node's types, shapes and attributes only (its signature), and listing them
      // finalizes a cuDNN plan per candidate: a node like one listed before (ResNet-50: 53 convolutions, 24
      // distinct) takes that list (the key also tells constant inputs apart, which kernels treat differently).
      std::string listing_key = signature + " constants:";
      for (const Value* v : node->inputs) listing_key += v && v->is_constant() ? 'c' : '-';
      auto listed = offered_by_signature.find(listing_key);
      if (listed == offered_by_signature.end()) {
        const auto listing_start = std::chrono::steady_clock::now();
        KILN_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                              kernel->candidate_tactics(launch.ctx, buffers.in_dims, buffers.out_dims));
        r.planning_seconds += seconds_since(listing_start);
        listed = offered_by_signature.emplace(listing_key, std::move(ids)).first;
      }
      const std::vector<std::string> offered = tactics_from_sources(listed->second, options.tactic_prefixes);
      if (offered.empty() && !listed->second.empty()) ++r.nodes_outside_sources;
      if (!offered.empty()) {
        ++r.nodes_with_choice;
        nlohmann::json& times = entries[signature];
        FastestTactic fastest = choose_fastest(offered, times, [&](const std::string& tactic, double) -> Result<double> {
          KILN_RETURN_IF_ERROR(allocate_node_buffers(*node, buffers, rng));
          auto timed = time_tactic(*node, tactic, options.allow_tf32, buffers, launch, r.planning_seconds);
          if (!timed.ok()) cudaGetLastError();  // a config that fails to run here is no candidate
          return timed;
        });
        r.timed += fastest.timed;
        r.from_cache += fastest.from_cache;
        if (!fastest.tactic.empty()) {
          node->attrs[kTacticAttr] = Attribute::of_string(fastest.tactic);
          tactic = fastest.tactic;  // what a kernel created from the node now reports
        }
      }
    }
    launch.plans.clear();  // plans are kept for the node they were listed for only
    if (kernels) (*kernels)[node->name] = tactic;
  }
  if (!unsupported.empty())
    return Status::unsupported(fmt::format("{} node(s) have no CUDA kernel: {} (build with --allow-cpu-fallback to run "
                                           "them on the CPU, with a copy to the host and back for each)",
                                           unsupported.size(), fmt::join(unsupported, ", ")));
  r.timed_with_listed_plan = launch.plans.taken();
  KILN_RETURN_IF_ERROR(write_timing_cache(options.timing_cache, cache));
  r.seconds = seconds_since(start);
  return {};
}

}  // namespace kiln
#endif  // KILN_HAVE_CUDA
