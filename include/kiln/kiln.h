// kiln/kiln.h — build inference engines from ONNX models and run them.
//
// Build once (links the builder: libkiln_builder, which pulls in protobuf/libonnx):
//
//   kiln::BuildOptions options;
//   options.precision = kiln::Precision::kFP16;
//   options.batch = kiln::DimRange{1, 16, 32};          // dynamic-batch optimization profile
//   kiln::Result<kiln::BuildReport> report = kiln::build_engine("model.onnx", "model_fp16.kiln", options);
//   if (!report.ok()) { std::cerr << report.status().message() << "\n"; return 1; }
//
// Deploy (links only the runtime: libkiln_runtime; no protobuf, no ONNX, no optimizer):
//
//   auto engine = kiln::Engine::load("model_fp16.kiln");           // weights are memory-mapped
//   if (!engine.ok()) { ... }
//   auto context = (*engine)->create_context();                   // one per thread
//   std::vector<float> image(1 * 3 * 224 * 224);
//   kiln::Status s = (*context)->set_input("input", kiln::TensorView::of(image.data(), {1, 3, 224, 224}));
//   s = (*context)->run();
//   kiln::Result<kiln::TensorView> logits = (*context)->output("logits");   // valid until the next run
//
// One Engine may serve many ExecutionContexts concurrently from different threads; a context is used by
// one thread at a time. Every call reports failure as a Status; nothing here throws or aborts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/data_type.h"
#include "kiln/status.h"

namespace kiln {

/// The precision an engine computes in. FP16 stores weights and activations in half precision (graph
/// inputs and outputs stay FP32 unless BuildOptions::fp16_io); INT8 needs calibration (see the INT8 docs).
/// TF32 (GPU only): FP32 tensors, matrix products on TF32 tensor cores (10-bit mantissa inputs, FP32
/// accumulation); FP32 on the GPU is strict IEEE FP32 arithmetic.
enum class Precision { kFP32, kFP16, kINT8, kTF32 };

/// "fp32", "fp16", "int8", "tf32".
std::string_view precision_name(Precision p);
/// Parses "fp32"/"fp16"/"int8" (case-insensitive).
std::optional<Precision> parse_precision(std::string_view name);

/// A min/opt/max range for one dimension. The engine accepts any value in [min, max]; opt is the size
/// tactics are chosen for.
struct DimRange {
  int64_t min = 1;
  int64_t opt = 1;
  int64_t max = 1;
};

/// The optimization profile of one input: a shape per bound, same rank (trtexec's --min/opt/maxShapes).
struct InputProfile {
  std::vector<int64_t> min;
  std::vector<int64_t> opt;
  std::vector<int64_t> max;
};

struct BuildOptions {
  Precision precision = Precision::kFP32;
  /// Range of the batch (first) dimension of every input whose first dimension is dynamic. When unset and
  /// the model's batch is dynamic, 1:16:32 is used.
  std::optional<DimRange> batch;
  /// Make a fixed first dimension dynamic (with `batch`, or 1:16:32).
  bool dynamic_batch = false;
  /// Per-input profiles for any dynamic dimension; overrides `batch` for the inputs it names.
  std::map<std::string, InputProfile> input_profiles;
  /// The most scratch memory kernels may use (TensorRT's workspace); kernels that need more are not chosen.
  uint64_t workspace_bytes = uint64_t{1} << 30;
  /// FP16 engines only: take and return FP16 tensors instead of FP32.
  bool fp16_io = false;
  /// Backend to build for: "cpu" or "cuda" (needs a GPU at build time: tactics are timed on it; the
  /// engine then runs on GPUs of the same compute-capability major version).
  std::string backend = "cpu";
  /// CUDA only: run nodes that have no CUDA kernel on the CPU (with a copy to the host and back per node,
  /// and no CUDA-graph replay). Off: such nodes make the build fail, listing all of them.
  bool allow_cpu_fallback = false;
  /// CUDA only: run a stem convolution (<= 4 input channels, stride 2) as a space-to-depth and a stride-1
  /// convolution with 4x the channels, which tensor cores run fast (src/passes/layout/stem_space_to_depth.h).
  bool stem_space_to_depth = true;
  /// CUDA only: the tactic sources timing may choose among: "cudnn" (engine configs), "cublaslt" (algorithms),
  /// "kiln" (kiln's own kernels); empty: all. A node with no candidate from them keeps its kernel's default.
  std::vector<std::string> tactic_sources;
  /// CUDA only: every cuDNN convolution also offers up to this many kernel-config variants of its first
  /// candidate for timing (0..64; more tactics, longer builds: cuDNN's heuristics do not always pick the
  /// fastest tile configuration). Few-channel stem convolutions get 24 regardless.
  int knob_variants = 0;
  /// Tactic timings from earlier builds, keyed by CPU model and library versions: read when it exists,
  /// updated after the build (TensorRT's timing cache). Empty: time every candidate.
  std::string timing_cache;
  /// Time every implementation oneDNN offers for a node at the opt shapes and keep the fastest (off:
  /// oneDNN's own first choice, which also makes rebuilds byte-identical without a timing cache).
  bool time_tactics = true;
  /// INT8 only: calibration and quantization settings.
  struct Int8 {
    /// Representative inputs: a folder of images (with `preprocess`), .npy files (a file or a folder; one
    /// sample or a batch per file), or an MNIST/Fashion-MNIST IDX image file (.gz allowed).
    std::string calib_data;
    /// How to turn images into inputs: a preset ("imagenet", "imagenet_bgr_mean", ...), key=value pairs
    /// ("resize=crop,channels=bgr,mean=104/117/123"), or a JSON file. IDX data uses only scale/mean/std.
    std::string preprocess;
    int64_t calib_samples = 500;  ///< MLPerf's calibration set size
    int64_t calib_batch = 32;     ///< samples per calibration run; the scales do not depend on it
    /// "mse" (default: the only calibrator that met the INT8 bar — top-1 agreement >= 95%, cosine >= 0.99 —
    /// on every real model kiln measured, docs/int8.md), "percentile", "entropy" (TensorRT's
    /// EntropyCalibration2), "minmax".
    std::string calib_method = "mse";
    double percentile = 99.99;
    /// TensorRT-format calibration cache: read instead of calibrating when the file exists (and matches the
    /// model and method), written after calibrating otherwise.
    std::string calib_cache;
    /// Node names or op types that stay in float (with Q/DQ at their borders).
    std::vector<std::string> keep_fp32;
    /// When set, also write the calibrated model as a standard Q/DQ ONNX model here.
    std::string export_qdq;
    /// Called during calibration: pass (1 ranges, 2 histograms), samples done, samples per pass, seconds.
    std::function<void(int pass, int64_t done, int64_t total, double seconds)> progress;
  } int8;
};

/// What a build did and produced.
struct BuildReport {
  std::string engine_path;
  Precision precision = Precision::kFP32;
  uint64_t engine_bytes = 0;
  uint64_t weight_bytes = 0;
  double build_seconds = 0;
  /// Human-readable notes: passes applied, FP16 weights that overflowed / became subnormal or zero, ...
  std::vector<std::string> log;
};

/// Builds an engine from an ONNX model and writes it atomically to `engine_path`. The model is never
/// modified. Errors name the file, node or input concerned.
Result<BuildReport> build_engine(const std::string& model_path, const std::string& engine_path,
                                 const BuildOptions& options);

/// A non-owning view of a dense, row-major tensor in host memory.
struct TensorView {
  DataType dtype = DataType::kUndefined;
  std::vector<int64_t> dims;
  const void* data = nullptr;

  template <typename T>
  static TensorView of(const T* data, std::vector<int64_t> dims);
  /// Number of elements.
  int64_t size() const;
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
};

/// Describes one engine input or output.
struct TensorInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  /// Per dimension: the allowed range (min == max for a fixed dimension). A dynamic dimension of an output
  /// follows from the inputs and is given as {0, 0, -1}.
  std::vector<DimRange> dims;
  /// Per dimension: the symbol from the model ("batch", "N"), empty when fixed or unnamed.
  std::vector<std::string> dim_names;
};

class ExecutionContext;

/// Threads the CPU kernels use (process-wide; default: all cores). Returns the previous setting.
int set_cpu_threads(int threads);
/// The current CPU thread count.
int cpu_threads();

/// The time one node took in a profiled run (ExecutionContext::enable_profiling).
struct LayerTime {
  std::string node;
  std::string op_type;
  std::string kernel;  ///< tactic that ran it, e.g. "onednn:brgconv:avx512_core" or "ref"
  double seconds = 0;
};

/// How long the phases of a GPU run took (trtexec's H2D / GPU compute / D2H split), from CUDA events.
struct GpuPhaseTimes {
  double h2d_ms = 0;      ///< inputs: host → device
  double compute_ms = 0;  ///< the network (a CUDA-graph replay)
  double d2h_ms = 0;      ///< outputs: device → host
};

/// A loaded engine: immutable, shareable between threads. Contexts keep their engine alive.
class Engine : public std::enable_shared_from_this<Engine> {
 public:
  /// Loads and validates an engine file (memory-mapped). Refuses a wrong magic, a newer format, a
  /// truncated or corrupted file, or a backend this runtime cannot run, each with its own message.
  static Result<std::shared_ptr<const Engine>> load(const std::string& path);

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  Precision precision() const;
  /// The backend the engine was built for ("cpu" or "cuda").
  const std::string& backend() const;
  /// Bytes of the arena each context allocates (planned for the profile's largest shapes).
  uint64_t arena_bytes() const;

  /// A new context with its own activation memory.
  Result<std::unique_ptr<ExecutionContext>> create_context() const;

  ~Engine();

 private:
  friend class ExecutionContext;
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Per-thread execution state: input bindings, the activation arena, outputs of the last run.
class ExecutionContext {
 public:
  /// Binds an input; its shape must lie within the engine's profile (the error names the input, the
  /// dimension and the allowed range). The data is read during run() and must stay valid until then.
  Status set_input(const std::string& name, const TensorView& view);
  /// Runs the engine on the bound inputs.
  Status run();
  /// An output of the last run(); valid until the next run() or the context's destruction.
  Result<TensorView> output(const std::string& name) const;
  /// When on, run() times every node (adds a clock read per node); see last_profile().
  void enable_profiling(bool on);
  /// Per-node times of the last profiled run, in execution order.
  const std::vector<LayerTime>& last_profile() const;
  /// GPU engines: the phases of the last run; nullopt for CPU engines.
  std::optional<GpuPhaseTimes> last_gpu_times() const;

  ~ExecutionContext();

 private:
  friend class Engine;
  struct Impl;
  explicit ExecutionContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The DataType of a C++ element type (float → kF32, ...), for TensorView::of.
template <typename T>
constexpr DataType data_type_of();
template <> constexpr DataType data_type_of<float>() { return DataType::kF32; }
template <> constexpr DataType data_type_of<double>() { return DataType::kF64; }
template <> constexpr DataType data_type_of<int8_t>() { return DataType::kI8; }
template <> constexpr DataType data_type_of<uint8_t>() { return DataType::kU8; }
template <> constexpr DataType data_type_of<int32_t>() { return DataType::kI32; }
template <> constexpr DataType data_type_of<int64_t>() { return DataType::kI64; }
template <> constexpr DataType data_type_of<uint16_t>() { return DataType::kF16; }  // raw FP16 bits

template <typename T>
TensorView TensorView::of(const T* data, std::vector<int64_t> dims) {
  return TensorView{data_type_of<T>(), std::move(dims), data};
}

}  // namespace kiln
