// Engine and ExecutionContext (include/kiln/kiln.h): load a .kiln file, validate inputs against the
// optimization profile, and run the graph with activations placed in the planned arena.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_map>

#include "backends/cpu/cpu_backend.h"
#include "engine/engine_file.h"
#include "kiln/kiln.h"
#include "runtime/graph_runner.h"
#include "runtime/memory_plan.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_engine.h"
#endif

namespace kiln {

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kFP32: return "fp32";
    case Precision::kFP16: return "fp16";
    case Precision::kINT8: return "int8";
    case Precision::kTF32: return "tf32";
  }
  return "?";
}

std::optional<Precision> parse_precision(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "fp32") return Precision::kFP32;
  if (lower == "fp16") return Precision::kFP16;
  if (lower == "int8") return Precision::kINT8;
  if (lower == "tf32") return Precision::kTF32;
  return std::nullopt;
}

int64_t TensorView::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

/// The backends this runtime can execute.
#ifdef KILN_HAVE_CUDA
static const std::vector<std::string> kRuntimeBackends = {"cpu", "cuda"};
#else
static const std::vector<std::string> kRuntimeBackends = {"cpu"};
#endif

struct Engine::Impl {
  LoadedEngineFile file;
  std::vector<TensorInfo> inputs, outputs;
  Precision precision = Precision::kFP32;
  std::string backend;
  MemoryPlan plan;
  std::unordered_map<const Value*, MemorySlot> slots;
  std::optional<GraphRunner> runner;  // cpu
#ifdef KILN_HAVE_CUDA
  std::shared_ptr<cuda::CudaEngine> cuda;  // cuda
#endif
};

struct ExecutionContext::Impl {
  std::shared_ptr<const Engine> keep_engine;  // the engine outlives its contexts
  const Engine::Impl* engine = nullptr;
  std::vector<std::byte> arena_storage;
  std::byte* arena = nullptr;
  std::map<std::string, TensorView, std::less<>> bound;
  std::vector<Tensor> outputs;
  bool profiling = false;
  std::vector<LayerTime> profile;
#ifdef KILN_HAVE_CUDA
  std::unique_ptr<cuda::CudaContext> cuda;
#endif
};

namespace {

Result<std::vector<TensorInfo>> parse_io(const nlohmann::json& list, const nlohmann::json& profile,
                                         const std::string& path) {
  std::vector<TensorInfo> out;
  for (const auto& item : list) {
    TensorInfo info;
    info.name = item.at("name").get<std::string>();
    auto dtype = parse_dtype(item.at("dtype").get<std::string>());
    if (!dtype) return Status::invalid_model(fmt::format("{}: I/O tensor '{}' has an unknown dtype", path, info.name));
    info.dtype = *dtype;
    const auto& shape = item.at("shape");
    const nlohmann::json* range = profile.contains(info.name) ? &profile.at(info.name) : nullptr;
    for (size_t d = 0; d < shape.size(); ++d) {
      DimRange r;
      if (shape[d].is_number_integer()) {
        r = {shape[d].get<int64_t>(), shape[d].get<int64_t>(), shape[d].get<int64_t>()};
        info.dim_names.emplace_back();
      } else {
        info.dim_names.push_back(shape[d].is_string() ? shape[d].get<std::string>() : "");
        if (range) r = {(*range)["min"][d].get<int64_t>(), (*range)["opt"][d].get<int64_t>(), (*range)["max"][d].get<int64_t>()};
        else r = {0, 0, -1};  // outputs: extent follows from the inputs
      }
      info.dims.push_back(r);
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::string range_text(const DimRange& r) {
  return r.min == r.max ? std::to_string(r.min) : fmt::format("{}..{}", r.min, r.max);
}

}  // namespace

#ifdef KILN_HAVE_CUDA
// A CUDA engine: refuses a GPU of another architecture family, then creates the kernels (weights uploaded).
Result<std::shared_ptr<cuda::CudaEngine>> load_cuda_engine(LoadedEngineFile& file, Precision precision,
                                                           const std::vector<TensorInfo>& inputs,
                                                           const MemoryPlan& plan) {
  const nlohmann::json& meta = file.metadata;
  KILN_ASSIGN_OR_RETURN(cuda::DeviceInfo device, cuda::current_device_info());
  std::string built_for = meta["backend"].value("compute_capability", "");
  std::string here = fmt::format("{}.{}", device.major, device.minor);
  if (built_for.empty() || built_for.substr(0, built_for.find('.')) != std::to_string(device.major))
    return Status::unsupported(fmt::format(
        "the engine was built for compute capability {} ({}), this GPU is {} ({}): rebuild it on this GPU",
        built_for.empty() ? "?" : built_for, meta["backend"].value("device", "?"), here, device.name));
  cuda::CudaEngineOptions options;
  const nlohmann::json build = meta.value("build", nlohmann::json::object());
  options.allow_tf32 = precision == Precision::kTF32;
  options.workspace_limit = build.value("workspace_bytes", uint64_t{1} << 30);
  options.allow_cpu_fallback = build.value("allow_cpu_fallback", false);
  std::map<std::string, Dims> max_dims;
  for (const TensorInfo& in : inputs) {
    Dims d;
    for (const DimRange& r : in.dims) d.push_back(r.max);
    max_dims[in.name] = d;
  }
  return cuda::CudaEngine::create(file.graph, plan, std::move(max_dims), options);
}
#endif

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;
const std::vector<TensorInfo>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Engine::outputs() const { return impl_->outputs; }
Precision Engine::precision() const { return impl_->precision; }
const std::string& Engine::backend() const { return impl_->backend; }
uint64_t Engine::arena_bytes() const { return impl_->plan.arena_bytes; }

Result<std::shared_ptr<const Engine>> Engine::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  KILN_ASSIGN_OR_RETURN(impl->file, read_engine(path, {.supported_backends = kRuntimeBackends}));
  const nlohmann::json& meta = impl->file.metadata;
  try {
    impl->backend = meta.at("backend").at("name").get<std::string>();
    auto precision = parse_precision(meta.value("precision", "fp32"));
    if (!precision) return Status::invalid_model(fmt::format("{}: unknown precision in metadata", path));
    impl->precision = *precision;
    nlohmann::json profile = meta.contains("profiles") && !meta["profiles"].empty() ? meta["profiles"][0]
                                                                                   : nlohmann::json::object();
    KILN_ASSIGN_OR_RETURN(impl->inputs, parse_io(meta.at("io").at("inputs"), profile, path));
    KILN_ASSIGN_OR_RETURN(impl->outputs, parse_io(meta.at("io").at("outputs"), profile, path));
    if (meta.contains("memory_plan")) {
      impl->plan.arena_bytes = meta["memory_plan"].at("arena_bytes").get<uint64_t>();
      for (const auto& [name, slot] : meta["memory_plan"].at("values").items()) {
        MemorySlot s{slot.at("offset").get<uint64_t>(), slot.at("size").get<uint64_t>()};
        if (s.offset + s.bytes > impl->plan.arena_bytes || s.offset % kArenaAlignment)
          return Status::invalid_model(fmt::format("{}: memory plan slot of '{}' lies outside the arena", path, name));
        impl->plan.slots[name] = s;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid_model(fmt::format("{}: malformed engine metadata: {}", path, e.what()));
  }
  for (const auto& [name, slot] : impl->plan.slots)
    if (const Value* v = impl->file.graph.find_value(name)) impl->slots[v] = slot;
  if (impl->backend == "cuda") {
#ifdef KILN_HAVE_CUDA
    auto cuda_engine = load_cuda_engine(impl->file, impl->precision, impl->inputs, impl->plan);
    if (!cuda_engine.ok()) return cuda_engine.status().with_context(path);
    impl->cuda = std::move(*cuda_engine);
    return std::shared_ptr<const Engine>(new Engine(std::move(impl)));
#else
    return Status::unsupported(fmt::format("{}: a CUDA engine, and this kiln was built without the CUDA backend "
                                           "(build it where the CUDA toolkit and cuDNN are installed)", path));
#endif
  }
  auto kernels = cpu::create_cpu_kernels(impl->file.graph);
  if (!kernels.ok()) return kernels.status().with_context(path);
  auto runner = GraphRunner::create(impl->file.graph, std::move(*kernels));
  if (!runner.ok()) return runner.status().with_context(path);
  impl->runner.emplace(std::move(*runner));
  return std::shared_ptr<const Engine>(new Engine(std::move(impl)));
}

Result<std::unique_ptr<ExecutionContext>> Engine::create_context() const {
  auto impl = std::make_unique<ExecutionContext::Impl>();
  impl->engine = impl_.get();
  impl->keep_engine = shared_from_this();
#ifdef KILN_HAVE_CUDA
  if (impl_->cuda) {
    KILN_ASSIGN_OR_RETURN(impl->cuda, impl_->cuda->create_context());
    return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(impl)));
  }
#endif
  // Over-allocate so the arena base can be aligned; slots are aligned relative to it.
  impl->arena_storage.resize(impl_->plan.arena_bytes + kArenaAlignment);
  auto base = reinterpret_cast<uintptr_t>(impl->arena_storage.data());
  impl->arena = impl->arena_storage.data() + (kArenaAlignment - base % kArenaAlignment) % kArenaAlignment;
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(impl)));
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

Status ExecutionContext::set_input(const std::string& name, const TensorView& view) {
  const TensorInfo* info = nullptr;
  for (const TensorInfo& t : impl_->engine->inputs)
    if (t.name == name) info = &t;
  if (!info) {
    std::vector<std::string> names;
    for (const TensorInfo& t : impl_->engine->inputs) names.push_back(t.name);
    return Status::invalid_argument(fmt::format("the engine has no input '{}' (inputs: {})", name, fmt::join(names, ", ")));
  }
  if (view.dtype != info->dtype)
    return Status::shape_mismatch(fmt::format("input '{}': expected dtype {}, got {}", name, dtype_name(info->dtype),
                                              dtype_name(view.dtype)));
  if (view.dims.size() != info->dims.size())
    return Status::shape_mismatch(fmt::format("input '{}': expected rank {}, got {} ({})", name, info->dims.size(),
                                              view.dims.size(), dims_to_string(view.dims)));
  for (size_t d = 0; d < view.dims.size(); ++d) {
    const DimRange& r = info->dims[d];
    if (view.dims[d] < r.min || view.dims[d] > r.max) {
      std::vector<std::string> profile;
      for (const DimRange& x : info->dims) profile.push_back(range_text(x));
      return Status::shape_mismatch(fmt::format(
          "input '{}': dimension {}{} is {}, outside the engine's profile {} (allowed [{}]; rebuild with a "
          "wider --batch or --max-shapes)",
          name, d, info->dim_names[d].empty() ? "" : " ('" + info->dim_names[d] + "')", view.dims[d],
          range_text(r), fmt::join(profile, ", ")));
    }
  }
  if (!view.data && view.size() > 0) return Status::invalid_argument(fmt::format("input '{}': null data", name));
  impl_->bound[name] = view;
  return {};
}

Status ExecutionContext::run() {
  const Engine::Impl& engine = *impl_->engine;
  std::map<std::string, Tensor, std::less<>> feeds;
  for (const TensorInfo& info : engine.inputs) {
    auto it = impl_->bound.find(info.name);
    if (it == impl_->bound.end())
      return Status::invalid_argument(fmt::format("input '{}' is not set; call set_input first", info.name));
    // Kernels never write their inputs, and views of inputs are copied into the arena (see `place`).
    feeds[info.name] = Tensor::wrap(info.dtype, it->second.dims, const_cast<void*>(it->second.data), nullptr);
  }
#ifdef KILN_HAVE_CUDA
  if (impl_->cuda) {
    cuda::CudaContext& ctx = *impl_->cuda;
    ctx.enable_profiling(impl_->profiling);
    KILN_RETURN_IF_ERROR(ctx.run(feeds));
    impl_->outputs.assign(ctx.num_outputs(), Tensor());
    for (size_t i = 0; i < ctx.num_outputs(); ++i) impl_->outputs[i] = ctx.output(i);
    if (impl_->profiling) {
      impl_->profile.clear();
      const auto& nodes = engine.file.graph.nodes();
      for (size_t i = 0; i < ctx.node_ms().size() && i < nodes.size(); ++i)
        impl_->profile.push_back({nodes[i]->name, nodes[i]->op_type, engine.cuda->tactic(i), ctx.node_ms()[i] / 1e3});
    }
    return {};
  }
#endif
  std::byte* arena = impl_->arena;
  auto slot_tensor = [&](const Value& v, DataType dtype, const Dims& dims, bool zero_fill) -> std::optional<Tensor> {
    auto it = engine.slots.find(&v);
    if (it == engine.slots.end()) return std::nullopt;
    uint64_t need = static_cast<uint64_t>(element_count(dims)) * dtype_size(dtype);
    if (dtype == DataType::kString || need > it->second.bytes) return std::nullopt;
    std::byte* p = arena + it->second.offset;
    if (zero_fill) std::memset(p, 0, need);
    return Tensor::wrap(dtype, dims, p, nullptr);
  };
  RunOptions options;
  options.allocate = [&](const Value& v, DataType dtype, const Dims& dims, bool zero_fill) {
    auto t = slot_tensor(v, dtype, dims, zero_fill);
    return t ? *t : Tensor(dtype, dims);
  };
  options.place = [&](const Value& v, Tensor t) {
    auto it = engine.slots.find(&v);
    if (it == engine.slots.end() || !t.defined()) return t;
    const std::byte* p = arena + it->second.offset;
    if (t.raw() == p) return t;  // already in its slot
    auto slot = slot_tensor(v, t.dtype(), t.dims(), /*zero_fill=*/false);
    if (!slot) return t;
    if (t.byte_size()) std::memcpy(slot->raw(), t.raw(), t.byte_size());
    return *slot;
  };
  if (impl_->profiling) {
    impl_->profile.clear();
    options.node_timer = [&](const Node& node, size_t index, double seconds) {
      impl_->profile.push_back({node.name, node.op_type, engine.runner->tactic(index), seconds});
    };
  }
  KILN_ASSIGN_OR_RETURN(impl_->outputs, engine.runner->run(feeds, options));
  return {};
}

std::optional<GpuPhaseTimes> ExecutionContext::last_gpu_times() const {
#ifdef KILN_HAVE_CUDA
  if (impl_->cuda) {
    const cuda::PhaseTimes& t = impl_->cuda->last_times();
    return GpuPhaseTimes{t.h2d_ms, t.compute_ms, t.d2h_ms};
  }
#endif
  return std::nullopt;
}

void ExecutionContext::enable_profiling(bool on) { impl_->profiling = on; }
const std::vector<LayerTime>& ExecutionContext::last_profile() const { return impl_->profile; }

Result<TensorView> ExecutionContext::output(const std::string& name) const {
  const auto& outs = impl_->engine->outputs;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (outs[i].name != name) continue;
    if (i >= impl_->outputs.size()) return Status::invalid_argument("no outputs yet: call run() first");
    const Tensor& t = impl_->outputs[i];
    return TensorView{t.dtype(), t.dims(), t.raw()};
  }
  return Status::invalid_argument(fmt::format("the engine has no output '{}'", name));
}

}  // namespace kiln
