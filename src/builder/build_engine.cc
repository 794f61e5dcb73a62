// kiln::build_engine: ONNX model → optimized, typed graph at the chosen precision → memory plan →
// kernel choice → .kiln file (written atomically; the model is never modified).
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <unordered_map>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_kernel.h"
#include "backends/ref/kernel.h"
#ifdef KILN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif
#include "builder/profile.h"
#include "core/file_util.h"
#include "engine/engine_file.h"
#include "kiln/kiln.h"
#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "passes/fusion/fuse_swish.h"
#include "passes/layout/channels_last.h"
#include "passes/pass_manager.h"
#include "builder/calibrate.h"
#include "builder/cpu_tactics.h"
#include "builder/cuda_tactics.h"
#include "builder/tactic_sources.h"
#include "builder/fp16_weight_storage.h"
#include "passes/precision/convert_to_fp16.h"
#include "passes/precision/fold_qdq.h"
#include "passes/precision/fold_qdq_lookup.h"
#include "passes/precision/insert_qdq.h"
#include "passes/layout/stem_space_to_depth.h"
#include "passes/precision/quantize_int8.h"
#include "quant/calibration_cache.h"
#include "runtime/memory_plan.h"

namespace kiln {

namespace {

// What the target backend runs beyond ONNX ops (decides which build passes run).
BackendCapabilities backend_capabilities(const std::string& backend) {
#ifdef KILN_HAVE_CUDA
  if (backend == "cuda") return cuda::kCapabilities;
#endif
  return backend == "cpu" ? cpu::kCapabilities : BackendCapabilities{};
}

// ONNX ops whose output is their first input's bytes under another shape.
bool is_view_op(const Node& n) {
  return n.domain.empty() && (n.op_type == "Flatten" || n.op_type == "Reshape" || n.op_type == "Squeeze" ||
                              n.op_type == "Unsqueeze" || n.op_type == "Identity");
}

nlohmann::json profile_json(const ResolvedProfile& profile) {
  nlohmann::json p = nlohmann::json::object();
  for (const auto& [name, ip] : profile.inputs) p[name] = {{"min", ip.min}, {"opt", ip.opt}, {"max", ip.max}};
  return nlohmann::json::array({p});
}

nlohmann::json io_json(const std::vector<Value*>& values) {
  nlohmann::json list = nlohmann::json::array();
  for (const Value* v : values) {
    if (v->is_constant() && !v->producer) continue;
    nlohmann::json shape = nlohmann::json::array();
    if (v->type.shape.has_rank())
      for (const Dim& d : v->type.shape.dims()) shape.push_back(d.known() ? nlohmann::json(d.value) : nlohmann::json(d.symbol));
    list.push_back({{"name", v->name}, {"dtype", std::string(dtype_name(v->type.dtype))}, {"shape", shape}});
  }
  return list;
}

void log_fp16(const Fp16Report& r, std::vector<std::string>& log) {
  log.push_back(fmt::format("fp16: {} nodes in f16, {} kept in f32, {} casts, {} weights converted", r.nodes_fp16,
                            r.nodes_fp32, r.casts_inserted, r.weights_converted));
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    log.push_back(fmt::format("fp16: {} weight tensor(s) {}: {}", names.size(), what, fmt::join(names, ", ")));
  };
  list("overflow FP16 (values beyond ±65504 become ±inf)", r.overflowed);
  list("have FP16-subnormal values (|x| < 6.1e-5, reduced precision)", r.subnormal);
  list("have nonzero values that become zero in FP16", r.flushed_to_zero);
}

// The calibration table for an INT8 build: from --calib-cache when it exists (and matches), else by
// calibrating on --calib-data (and then written to --calib-cache when given).
// `calibration_graph` makes the graph calibration runs (see its use).
Result<CalibrationTable> obtain_calibration(const Graph& graph, const ResolvedProfile& profile,
                                            const BuildOptions& options,
                                            const std::function<Result<Graph>()>& calibration_graph,
                                            std::vector<std::string>& log) {
  const BuildOptions::Int8& o = options.int8;
  KILN_ASSIGN_OR_RETURN(CalibrationMethod method, parse_calibration_method(o.calib_method));
  std::vector<std::string> tensors = tensors_to_calibrate(graph);
  std::error_code ec;
  if (!o.calib_cache.empty() && std::filesystem::exists(o.calib_cache, ec)) {
    KILN_ASSIGN_OR_RETURN(CalibrationTable table, read_calibration_cache(o.calib_cache));
    Status match = compare_cache_with_model(table, tensors, calibration_algorithm_name(method));
    if (!match.ok())
      return match.with_context(fmt::format("calibration cache {} does not fit this model and method (delete it or "
                                            "give another --calib-cache path to recalibrate)", o.calib_cache));
    log.push_back(fmt::format("int8: read {} scales from calibration cache {}", table.scales.size(), o.calib_cache));
    return table;
  }
  if (o.calib_data.empty())
    return Status::invalid_argument(
        "an INT8 build needs calibration: pass --calib-data PATH (a folder of images with --preprocess, .npy files, "
        "or an MNIST-style IDX file) or --calib-cache FILE (written by kiln or TensorRT)");
  const Value* input = nullptr;
  for (const Value* v : graph.inputs)
    if (!v->is_constant()) input = v;
  if (!input) return Status::invalid_argument("the model has no runtime input to calibrate");
  const InputProfile& p = profile.inputs.at(input->name);
  Dims sample(p.opt.begin() + 1, p.opt.end());
  CalibrationDataOptions data_options;
  data_options.max_samples = o.calib_samples;
  if (!o.preprocess.empty()) {
    auto spec = std::filesystem::exists(o.preprocess, ec) ? load_preprocess_file(o.preprocess)
                                                          : parse_preprocess_string(o.preprocess);
    if (!spec.ok()) return spec.status().with_context("--preprocess");
    data_options.preprocess = *spec;
  }
  KILN_ASSIGN_OR_RETURN(auto source, open_calibration_source(o.calib_data, input->type.dtype, sample, data_options));
  CalibrateOptions calibrate_options;
  // A GPU build calibrates on the GPU (strict FP32, node by node; the CPU's kernels ran ResNet-50 at ~10
  // images/s on the GPU machine's 16 cores).
  calibrate_options.on_gpu = options.backend == "cuda";
  log.push_back(fmt::format("int8: calibrating {} tensors with {} on the {}: {}", tensors.size(), o.calib_method,
                            calibrate_options.on_gpu ? "GPU" : "CPU", source->describe()));
  calibrate_options.calibrator.method = method;
  calibrate_options.calibrator.percentile = o.percentile;
  // A model with a fixed batch (e.g. 1) is calibrated at that batch; the scales do not depend on it.
  calibrate_options.batch = p.min.empty() ? o.calib_batch : std::min(o.calib_batch, p.max[0]);
  if (!p.min.empty() && p.min[0] == p.max[0] && p.max[0] > 1 && o.calib_samples % p.max[0] != 0)
    return Status::invalid_argument(fmt::format(
        "input '{}' has a fixed batch of {}: --calib-samples must be a multiple of it (got {})", input->name,
        p.max[0], o.calib_samples));
  if (o.progress)
    calibrate_options.progress = [&](const CalibrationProgress& pr) { o.progress(pr.pass, pr.done, pr.total, pr.seconds); };
  // Calibration runs the FP32 graph on the CPU backend: in channels-last layout, as its engines do (oneDNN's
  // NCHW convolutions ran ResNet-50 at about half the speed). The rewrite keeps every calibrated tensor's name
  // (its values only change layout: per-tensor statistics do not see it), on a copy re-made from the model.
  KILN_ASSIGN_OR_RETURN(Graph nhwc, calibration_graph());
  KILN_ASSIGN_OR_RETURN(CalibrationTable table, calibrate_channels_last(nhwc, tensors, *source, calibrate_options));
  if (!o.calib_cache.empty()) {
    KILN_RETURN_IF_ERROR(write_calibration_cache(o.calib_cache, table));
    log.push_back(fmt::format("int8: wrote calibration cache {}", o.calib_cache));
  }
  return table;
}

// The model as every graph of a build starts: imported (external data next to the model file), and without
// the initializers that old models (IR < 4) also list as graph inputs: an engine's inputs are the tensors fed
// at run time (TensorRT does the same). `listed_weights` (optional) receives how many were dropped.
Result<Graph> import_model(const std::string& bytes, const std::string& model_path, size_t* listed_weights = nullptr) {
  const std::string base_dir = std::filesystem::path(model_path).parent_path().string();
  KILN_ASSIGN_OR_RETURN(Graph graph, import_onnx_bytes(bytes, base_dir.empty() ? "." : base_dir, model_path));
  const size_t listed = std::erase_if(graph.inputs, [](const Value* v) { return v->is_constant(); });
  if (listed_weights) *listed_weights = listed;
  return graph;
}

// --export-qdq: the calibrated model as standard ONNX with QuantizeLinear/DequantizeLinear (TensorRT's
// explicit-quantization form). Built from the canonicalized but unfused graph, so it has only standard ops.
Status export_qdq_model(const std::string& bytes, const std::string& model_path,
                        const CalibrationTable& table, const BuildOptions& options, std::vector<std::string>& log) {
  KILN_ASSIGN_OR_RETURN(Graph graph, import_model(bytes, model_path));
  PassOptions canonical;
  canonical.fuse_bias_activation = canonical.fuse_residual_add = canonical.fuse_elementwise_chains = false;
  KILN_RETURN_IF_ERROR(run_optimization_passes(graph, canonical, nullptr));
  QdqExportOptions qdq;
  qdq.keep_fp32.insert(options.int8.keep_fp32.begin(), options.int8.keep_fp32.end());
  QdqExportReport qdq_report;
  KILN_RETURN_IF_ERROR(insert_qdq_for_export(graph, table, qdq, &qdq_report).with_context("--export-qdq"));
  KILN_RETURN_IF_ERROR(export_onnx(graph, options.int8.export_qdq).with_context("--export-qdq"));
  log.push_back(fmt::format("int8: wrote Q/DQ ONNX model {} ({} tensors left in float)", options.int8.export_qdq,
                            qdq_report.left_float.size()));
  return {};
}

// --knob-variants' upper bound: cuDNN 9's kernel-config knobs take fewer values than this.
constexpr int kMaxKnobVariants = 64;

// The backend and precision must fit together, and a CUDA build needs a GPU (tactics are timed on it).
Status check_backend_options(const BuildOptions& options) {
  if (options.backend != "cpu" && options.backend != "cuda")
    return Status::invalid_argument(fmt::format("unknown backend '{}' (expected cpu or cuda)", options.backend));
  if (options.backend == "cpu") {
    if (options.precision == Precision::kTF32)
      return Status::invalid_argument("precision tf32 is for GPU engines (--device cuda); the CPU has no TF32 arithmetic");
    if (options.allow_cpu_fallback)
      return Status::invalid_argument("--allow-cpu-fallback is for GPU engines (--device cuda)");
    if (!options.stem_space_to_depth)
      return Status::invalid_argument("--no-stem-space-to-depth is for GPU engines (--device cuda); CPU builds keep "
                                      "the stem convolution as it is");
    if (!options.tactic_sources.empty())
      return Status::invalid_argument("--tactic-sources is for GPU engines (--device cuda); CPU builds choose among "
                                      "oneDNN's implementations and kiln's own kernels");
    if (options.knob_variants != 0)
      return Status::invalid_argument("--knob-variants is for GPU engines (--device cuda): it varies cuDNN's kernel "
                                      "configurations");
    return {};
  }
  if (options.knob_variants < 0 || options.knob_variants > kMaxKnobVariants)
    return Status::invalid_argument(fmt::format("--knob-variants must be 0 to {}, got {}", kMaxKnobVariants,
                                                options.knob_variants));
  KILN_RETURN_IF_ERROR(tactic_source_prefixes(options.tactic_sources).status());
#ifdef KILN_HAVE_CUDA
  Status gpu = cuda::cuda_device_available();
  if (!gpu.ok())
    return Status::unsupported(fmt::format("building a cuda engine needs a GPU, because tactics are timed on it: {}",
                                           gpu.message()));
  return {};
#else
  return Status::unsupported("this kiln was built without the CUDA backend (build it where the CUDA toolkit and cuDNN "
                             "are installed); available backend: cpu");
#endif
}

// CPU kernel choice: oneDNN where the CPU backend supports the node (weights packed into its layout now, so
// loading is a memory map), the reference kernels elsewhere.
Status choose_cpu_kernels(Graph& graph, const std::map<std::string, Dims>& opt_input_dims,
                          const std::map<std::string, Dims>& opt_value_dims, bool fp16_storage_only,
                          const BuildOptions& options, nlohmann::json& kernels, std::vector<std::string>& log) {
  if (fp16_storage_only) {
    Fp16Report fp16;
    KILN_RETURN_IF_ERROR(store_cpu_weights_fp16(graph, &fp16));
    log_fp16(fp16, log);
  }
  if (options.time_tactics) {
    TacticReport tactics;
    KILN_RETURN_IF_ERROR(choose_cpu_tactics(graph, opt_value_dims, options.timing_cache, &tactics));
    log.push_back(tactics.to_string());
  }
  cpu::PackReport packed;
  KILN_RETURN_IF_ERROR(cpu::pack_cpu_weights(graph, opt_input_dims, &packed));
  size_t fast_count = 0, own_count = 0;
  for (const auto& node : graph.nodes()) {
    const Node& n = *node;
    if (auto own = cpu::create_own_cpu_kernel(n)) {  // as create_cpu_kernels picks at load
      kernels[n.name] = own->tactic();
      ++own_count;
      continue;
    }
    KILN_ASSIGN_OR_RETURN(auto fast, cpu::create_cpu_kernel(n));
    if (fast) {
      auto it = opt_input_dims.find(n.name);
      if (it != opt_input_dims.end()) {
        KILN_ASSIGN_OR_RETURN(std::string impl, fast->implementation_at(it->second));
        kernels[n.name] = "onednn:" + impl;
      } else {
        kernels[n.name] = "onednn";
      }
      ++fast_count;
      continue;
    }
    if (!ref::find_kernel(n.domain, n.op_type)) return Status::unsupported(fmt::format("no kernel for {}", n.describe()));
    kernels[n.name] = "ref";
  }
  log.push_back(fmt::format("kernels: {} nodes on oneDNN ({} weight tensors packed, {} -> {} bytes; {} kept "
                            "plain, packed at load), {} on kiln's own, {} on the reference kernels; workspace limit {} "
                            "bytes", fast_count, packed.nodes_packed, packed.bytes_before, packed.bytes_after,
                            packed.nodes_left_plain, own_count, graph.nodes().size() - fast_count - own_count,
                            options.workspace_bytes));
  return {};
}

// GPU kernel choice (cuda_tactics.h); returns the backend's metadata (device, compute capability, versions).
Result<nlohmann::json> choose_gpu_kernels(Graph& graph, const std::map<std::string, Dims>& opt_value_dims,
                                          const BuildOptions& options, nlohmann::json& kernels,
                                          std::vector<std::string>& log) {
#ifdef KILN_HAVE_CUDA
  CudaTacticOptions tactic_options;
  tactic_options.timing_cache = options.timing_cache;
  tactic_options.time_tactics = options.time_tactics;
  tactic_options.allow_tf32 = options.precision == Precision::kTF32;
  tactic_options.allow_cpu_fallback = options.allow_cpu_fallback;
  tactic_options.workspace_limit = options.workspace_bytes;
  KILN_ASSIGN_OR_RETURN(tactic_options.tactic_prefixes, tactic_source_prefixes(options.tactic_sources));
  tactic_options.knob_variants = static_cast<size_t>(options.knob_variants);
  CudaTacticReport tactics;
  KILN_RETURN_IF_ERROR(choose_cuda_tactics(graph, opt_value_dims, tactic_options, &kernels, &tactics));
  log.push_back(tactics.to_string());
  return cuda_backend_metadata();
#else
  return Status::unsupported("this kiln was built without the CUDA backend");
#endif
}

}  // namespace

Result<BuildReport> build_engine(const std::string& model_path, const std::string& engine_path,
                                 const BuildOptions& options) {
  auto start = std::chrono::steady_clock::now();
  BuildReport report;
  report.engine_path = engine_path;
  report.precision = options.precision;
  KILN_RETURN_IF_ERROR(check_backend_options(options));
  const bool cuda = options.backend == "cuda";
  const BackendCapabilities caps = backend_capabilities(options.backend);
  std::error_code ec;
  if (std::filesystem::exists(engine_path, ec) &&
      std::filesystem::equivalent(engine_path, model_path, ec))
    return Status::invalid_argument(fmt::format("refusing to overwrite the input model {} with an engine", model_path));

  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(model_path, "ONNX model"));
  size_t listed = 0;
  KILN_ASSIGN_OR_RETURN(Graph graph, import_model(bytes, model_path, &listed));
  if (listed) report.log.push_back(fmt::format("{} initializers listed as graph inputs are fixed weights", listed));
  KILN_ASSIGN_OR_RETURN(ResolvedProfile profile, resolve_profile(graph, options));
  std::map<std::string, std::vector<Dim>> symbolic;
  for (const Value* in : graph.inputs)
    if (!in->is_constant()) symbolic[in->name] = in->type.shape.dims();

  PassReport passes;
  KILN_RETURN_IF_ERROR(run_optimization_passes(graph, PassOptions{}, &passes).with_context(model_path));
  for (const PassRecord& r : passes.records)
    if (r.nodes_before != r.nodes_after || !r.counts.empty())
      report.log.push_back(fmt::format("{}: {} nodes -> {}", r.pass, r.nodes_before, r.nodes_after));

  // FP16 on the CPU stores weights in f16 and computes in f32 (see fp16_weight_storage.h); with --fp16-io
  // the whole graph is retyped to f16 instead (f16 tensors in and out; those nodes run on the reference
  // kernels).
  // On the GPU FP16 is the whole graph in f16 (tensor cores), with casts at the graph's FP32 inputs and
  // outputs unless --fp16-io.
  bool fp16_storage_only = options.precision == Precision::kFP16 && !options.fp16_io && !cuda;
  if (options.precision == Precision::kFP16 && (options.fp16_io || cuda)) {
    Fp16Report fp16;
    KILN_RETURN_IF_ERROR(convert_to_fp16(graph, options.fp16_io, &fp16).with_context(model_path));
    log_fp16(fp16, report.log);
  }
  nlohmann::json int8_meta;
  if (options.precision == Precision::kINT8) {
    // The FP32 graph as it stands (same import, inputs and passes), in channels-last layout.
    auto calibration_graph = [&]() -> Result<Graph> {
      KILN_ASSIGN_OR_RETURN(Graph g, import_model(bytes, model_path));
      for (Value* in : g.inputs)
        if (const Value* built = graph.find_value(in->name)) in->type = built->type;
      KILN_RETURN_IF_ERROR(run_optimization_passes(g, PassOptions{}, nullptr));
      KILN_RETURN_IF_ERROR(convert_to_channels_last(g, nullptr));
      return g;
    };
    KILN_ASSIGN_OR_RETURN(CalibrationTable table,
                          obtain_calibration(graph, profile, options, calibration_graph, report.log));
    if (!options.int8.export_qdq.empty()) {
      if (std::filesystem::exists(options.int8.export_qdq, ec) &&
          std::filesystem::equivalent(options.int8.export_qdq, model_path, ec))
        return Status::invalid_argument(fmt::format("--export-qdq would overwrite the input model {}", model_path));
      KILN_RETURN_IF_ERROR(export_qdq_model(bytes, model_path, table, options,
                                            report.log));
    }
    Int8Options int8_options;
    int8_options.keep_fp32.insert(options.int8.keep_fp32.begin(), options.int8.keep_fp32.end());
    Int8Report int8;
    KILN_RETURN_IF_ERROR(quantize_int8(graph, table, int8_options, &int8).with_context(model_path));
    FoldQdqReport folded;
    KILN_RETURN_IF_ERROR(fold_qdq(graph, &folded).with_context(model_path));
    if (caps.lookup_tables) {
      int64_t lookups = 0;
      KILN_RETURN_IF_ERROR(fold_qdq_lookup(graph, &lookups).with_context(model_path));
      if (lookups)
        report.log.push_back(fmt::format("fold_qdq_lookup: {} dequantize -> float ops -> quantize region(s) as "
                                         "256-entry lookups", lookups));
    }
    report.log.push_back(int8.to_string());
    nlohmann::json floats = nlohmann::json::array();
    for (const Int8NodeDecision& d : int8.nodes)
      if (!d.int8) floats.push_back({{"node", d.node}, {"op_type", d.op_type}, {"reason", d.reason}, {"macs", d.macs}});
    int8_meta = {{"calibration", {{"method", options.int8.calib_method}, {"algorithm", table.algorithm},
                                  {"tensors", table.scales.size()}}},
                 {"macs_total", int8.macs_total}, {"macs_int8", int8.macs_int8},
                 {"int8_mac_share", int8.int8_mac_share()}, {"nodes_int8", int8.nodes_int8},
                 {"nodes_float", int8.nodes_float}, {"float_nodes", floats}};
  }
  // After the precision rewrites: an INT8 build calibrates the model's own tensors.
  if (caps.space_to_depth_stems && options.stem_space_to_depth) {
    StemSpaceToDepthReport stems;
    KILN_RETURN_IF_ERROR(stem_space_to_depth(graph, &stems).with_context(model_path));
    if (stems.rewritten)
      report.log.push_back(fmt::format("stem_space_to_depth: {} convolution(s) as space-to-depth + stride 1",
                                       stems.rewritten));
  }
  // x * Sigmoid(x) after a convolution or product as the fused op's Swish activation.
  if (caps.swish_activation) {
    int64_t swish = 0;
    KILN_RETURN_IF_ERROR(fuse_swish(graph, &swish).with_context(model_path));
    if (swish) report.log.push_back(fmt::format("fuse_swish: {} Sigmoid + Mul pair(s) as a Swish activation", swish));
  }
  // The CPU backend's convolutions want channels-last activations: keep them NHWC between convolutions
  // (after the precision rewrites, so the NHWC ops carry their final types).
  ChannelsLastReport layout;
  KILN_RETURN_IF_ERROR(convert_to_channels_last(graph, &layout).with_context(model_path));
  report.log.push_back(layout.to_string());
  for (Value* in : graph.inputs)  // fp16_io changes input dtypes, not shapes
    if (symbolic.count(in->name)) symbolic[in->name] = in->type.shape.dims();

  // The profile must be valid for the whole graph at its extremes; size the arena at the max. Kernels are
  // chosen (and weights packed) for the opt shapes.
  KILN_RETURN_IF_ERROR(specialize_inputs(graph, profile, 0));
  KILN_RETURN_IF_ERROR(specialize_inputs(graph, profile, 1));
  std::map<std::string, Dims> opt_input_dims, opt_value_dims;
  for (const auto& n : graph.nodes())
    if (!n->inputs.empty() && n->inputs[0] && n->inputs[0]->type.shape.is_static())
      opt_input_dims[n->name] = n->inputs[0]->type.shape.static_dims();
  for (const auto& v : graph.values())
    if (!v->is_constant() && v->type.shape.is_static()) opt_value_dims[v->name] = v->type.shape.static_dims();
  KILN_RETURN_IF_ERROR(specialize_inputs(graph, profile, 2));
  std::unordered_map<const Value*, uint64_t> max_bytes;
  for (const auto& v : graph.values())
    if (!v->is_constant() && v->type.shape.is_static() && v->type.dtype != DataType::kString)
      max_bytes[v.get()] = static_cast<uint64_t>(element_count(v->type.shape.static_dims())) * dtype_size(v->type.dtype);
  KILN_RETURN_IF_ERROR(restore_symbolic_inputs(graph, symbolic));
  // A oneDNN convolution adds its residual in place (a `sum` post-op on its output): let the output take
  // the residual's slot when the residual dies there, which saves copying it. (cuDNN reads the residual as a
  // separate operand: GPU engines keep them apart.) On the GPU, a view op's output takes its input's slot
  // when the input dies there: its copy kernel then sees one pointer and launches nothing (the CPU's kernels
  // return views already).
  std::unordered_map<const Value*, const Value*> in_place;
  for (const auto& n : graph.nodes()) {
    if (cuda) {
      if (is_view_op(*n) && n->has_input(0) && !n->inputs[0]->is_constant() && n->outputs.size() == 1)
        in_place[n->outputs[0]] = n->inputs[0];
      continue;
    }
    size_t z = n->op_type == "FusedConv" ? 3 : n->op_type == "QConv" ? 9 : 0;
    if (n->domain != "kiln" || !z || !n->has_input(z)) continue;
    KILN_ASSIGN_OR_RETURN(auto kernel, cpu::create_cpu_kernel(*n));
    if (kernel) in_place[n->outputs[0]] = n->inputs[z];
  }
  MemoryPlan plan = plan_memory(graph, max_bytes, in_place);

  nlohmann::json kernels = nlohmann::json::object();
  nlohmann::json backend_meta = {{"name", "cpu"}};
  if (cuda) {
    KILN_ASSIGN_OR_RETURN(backend_meta, choose_gpu_kernels(graph, opt_value_dims, options, kernels, report.log));
  } else {
    KILN_RETURN_IF_ERROR(choose_cpu_kernels(graph, opt_input_dims, opt_value_dims, fp16_storage_only, options, kernels,
                                            report.log).with_context(model_path));
  }

  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, slot] : plan.slots) values[name] = {{"offset", slot.offset}, {"size", slot.bytes}};
  uint64_t weight_bytes = 0;
  for (const auto& v : graph.values())
    if (v->is_constant()) weight_bytes += v->constant->byte_size();
  report.weight_bytes = weight_bytes;

  nlohmann::json meta = {
      {"source_model", {{"path", std::filesystem::path(model_path).filename().string()}, {"xxh3_128", source_model_hash(bytes)}}},
      {"backend", backend_meta},
      {"precision", std::string(precision_name(options.precision))},
      {"profiles", profile_json(profile)},
      {"io", {{"inputs", io_json(graph.inputs)}, {"outputs", io_json(graph.outputs)}}},
      {"kernels", kernels},
      {"memory_plan", {{"arena_bytes", plan.arena_bytes}, {"values", values}}},
      {"build", {{"workspace_bytes", options.workspace_bytes}, {"fp16_io", options.fp16_io},
                 {"allow_cpu_fallback", options.allow_cpu_fallback}}},
  };
  if (!int8_meta.is_null()) meta["int8"] = int8_meta;
  KILN_RETURN_IF_ERROR(write_engine(engine_path, graph, meta));
  report.engine_bytes = std::filesystem::file_size(engine_path, ec);
  report.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace kiln
