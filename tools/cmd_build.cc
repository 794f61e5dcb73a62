// `kiln build MODEL.onnx --precision fp32|fp16|int8|tf32 | --all [--device cpu|cuda] [--output-dir DIR]
//  [--batch MIN:OPT:MAX] [--dynamic-batch] [--min-shapes/--opt-shapes/--max-shapes NAME:AxBxC,...]
//  [--workspace 1G] [--fp16-io] [--allow-cpu-fallback]`
#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "engine/engine_file.h"
#include "kiln/kiln.h"
#include "tools/commands.h"
#include "tools/parse_flags.h"

namespace kiln::tools {

namespace {

struct BuildArgs {
  std::string model;
  std::string precision = "fp32";
  bool all = false;
  std::string device = "cpu";
  bool allow_cpu_fallback = false;
  bool no_stem_space_to_depth = false;
  std::string output_dir = ".";
  std::string batch;
  bool dynamic_batch = false;
  std::string min_shapes, opt_shapes, max_shapes;
  std::string workspace = "1G";
  bool fp16_io = false;
  std::string timing_cache;
  bool no_tactic_timing = false;
  std::vector<std::string> tactic_sources;
  int knob_variants = 0;
  int threads = 0;
  BuildOptions::Int8 int8;
  std::string keep_fp32;
};

// A progress bar with samples/s and ETA on a terminal; a plain line every 10% otherwise.
void show_progress(int pass, int64_t done, int64_t total, double seconds) {
  static int last_decile = -1;
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  if (isatty(fileno(stderr))) {
    int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    std::fprintf(stderr, "\r  calibrating (pass %d/2: %s) [%s%s] %lld/%lld  %.1f samples/s  ETA %.0fs   ", pass,
                 pass == 1 ? "ranges" : "histograms", std::string(filled, '=').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), rate, eta);
    if (done == total) std::fprintf(stderr, "\n");
  } else {
    int decile = static_cast<int>(10 * done / std::max<int64_t>(total, 1)) + pass * 100;
    if (decile != last_decile) {
      std::fprintf(stderr, "  calibrating pass %d/2: %lld/%lld samples, %.1f samples/s, ETA %.0fs\n", pass,
                   static_cast<long long>(done), static_cast<long long>(total), rate, eta);
      last_decile = decile;
    }
  }
}

Status check_overwrite(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  // Replacing an earlier engine is expected; replacing anything else the user has is not.
  if (!read_engine_metadata(path).ok())
    return Status::invalid_argument(fmt::format("{} exists and is not a kiln engine; refusing to overwrite it", path));
  return {};
}

Status run_build(const BuildArgs& args) {
  BuildOptions base;
  KILN_ASSIGN_OR_RETURN(base.workspace_bytes, parse_size(args.workspace));
  if (!args.batch.empty()) {
    KILN_ASSIGN_OR_RETURN(DimRange r, parse_batch_range(args.batch));
    base.batch = r;
  }
  base.dynamic_batch = args.dynamic_batch;
  base.fp16_io = args.fp16_io;
  base.backend = args.device;
  base.allow_cpu_fallback = args.allow_cpu_fallback;
  base.stem_space_to_depth = !args.no_stem_space_to_depth;
  base.timing_cache = args.timing_cache;
  base.time_tactics = !args.no_tactic_timing;
  base.tactic_sources = args.tactic_sources;
  base.knob_variants = args.knob_variants;
  if (args.threads < 0) return Status::invalid_argument(fmt::format("--threads must be positive, got {}", args.threads));
  if (args.threads > 0) set_cpu_threads(args.threads);
  KILN_ASSIGN_OR_RETURN(base.input_profiles, parse_shape_profiles(args.min_shapes, args.opt_shapes, args.max_shapes));
  base.int8 = args.int8;
  base.int8.progress = show_progress;
  for (size_t start = 0; start < args.keep_fp32.size();) {
    size_t comma = args.keep_fp32.find(',', start);
    std::string item = args.keep_fp32.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) base.int8.keep_fp32.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  bool can_int8 = !args.int8.calib_data.empty() ||
                  (!args.int8.calib_cache.empty() && std::filesystem::exists(args.int8.calib_cache));

  std::vector<Precision> precisions;
  bool gpu = args.device == "cuda";
  if (args.all) {
    // TF32 exists only on the GPU; INT8 needs calibration.
    precisions = {Precision::kFP32, Precision::kFP16};
    if (gpu) precisions.push_back(Precision::kTF32);
    if (can_int8) precisions.push_back(Precision::kINT8);
  } else {
    auto p = parse_precision(args.precision);
    if (!p) return Status::invalid_argument(fmt::format("unknown precision '{}' (fp32, fp16, int8, tf32)", args.precision));
    precisions = {*p};
  }
  std::error_code ec;
  std::filesystem::create_directories(args.output_dir, ec);
  if (ec) return Status::io_error(fmt::format("cannot create {}: {}", args.output_dir, ec.message()));
  std::string stem = std::filesystem::path(args.model).stem().string();

  std::vector<BuildReport> reports;
  for (Precision p : precisions) {
    BuildOptions options = base;
    options.precision = p;
    std::string path = (std::filesystem::path(args.output_dir) / fmt::format("{}_{}.kiln", stem, precision_name(p))).string();
    KILN_RETURN_IF_ERROR(check_overwrite(path));
    auto report = build_engine(args.model, path, options);
    if (!report.ok()) return report.status().with_context(fmt::format("{} build", precision_name(p)));
    for (const std::string& line : report->log) std::cerr << "  [" << precision_name(p) << "] " << line << "\n";
    reports.push_back(*report);
  }
  if (args.all && !can_int8) std::cout << "int8: skipped (give --calib-data or an existing --calib-cache)\n";

  uint64_t fp32_bytes = 0;
  for (const auto& r : reports)
    if (r.precision == Precision::kFP32) fp32_bytes = r.engine_bytes;
  std::cout << fmt::format("{:<9} {:<40} {:>12} {:>9} {:>10}\n", "precision", "file", "size", "vs fp32", "build");
  for (const auto& r : reports) {
    std::string ratio = fp32_bytes ? fmt::format("{:.3f}x", static_cast<double>(r.engine_bytes) / fp32_bytes) : "-";
    std::cout << fmt::format("{:<9} {:<40} {:>12} {:>9} {:>9.2f}s\n", precision_name(r.precision), r.engine_path,
                             format_bytes(r.engine_bytes), ratio, r.build_seconds);
  }
  return {};
}

}  // namespace

void add_build_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand("build", "Build engine(s) <model-stem>_<precision>.kiln from an ONNX model");
  cmd->add_option("model", args->model, "ONNX model (.onnx)")->required();
  auto* precision = cmd->add_option("-p,--precision", args->precision, "fp32, fp16, int8, or tf32 (cuda)")->capture_default_str();
  cmd->add_option("--device", args->device, "Backend: cpu, or cuda (needs a GPU: tactics are timed on it)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_flag("--allow-cpu-fallback", args->allow_cpu_fallback,
                "cuda: run nodes without a CUDA kernel on the CPU (copies per node, no CUDA graph)");
  cmd->add_flag("--no-stem-space-to-depth", args->no_stem_space_to_depth,
                "cuda: keep a few-channel stride-2 stem convolution as it is (default: space-to-depth + stride 1)");
  cmd->add_option("--tactic-sources", args->tactic_sources,
                  "cuda: tactic sources to choose among, comma-separated: cudnn, cublaslt, kiln (default: all)")
      ->delimiter(',');
  cmd->add_option("--knob-variants", args->knob_variants,
                  "cuda: also time up to N kernel-config variants of each cuDNN convolution's first candidate (0-64; "
                  "default 0: longer builds, sometimes faster engines)");
  cmd->add_flag("--all", args->all, "Build every precision this build can make")->excludes(precision);
  cmd->add_option("-o,--output-dir", args->output_dir, "Folder for the engines")->capture_default_str();
  cmd->add_option("--batch", args->batch, "Batch range MIN:OPT:MAX (default 1:16:32 when the batch is dynamic)");
  cmd->add_flag("--dynamic-batch", args->dynamic_batch, "Make a fixed batch dimension dynamic");
  cmd->add_option("--min-shapes", args->min_shapes, "Per-input min shapes, NAME:1x3x224x224[,NAME:...]");
  cmd->add_option("--opt-shapes", args->opt_shapes, "Per-input opt shapes");
  cmd->add_option("--max-shapes", args->max_shapes, "Per-input max shapes");
  cmd->add_option("--workspace", args->workspace, "Scratch memory kernels may use (e.g. 512M, 1G)")->capture_default_str();
  cmd->add_flag("--fp16-io", args->fp16_io, "FP16 engines take and return FP16 tensors");
  cmd->add_option("--timing-cache", args->timing_cache,
                  "Tactic timings to reuse and update (JSON; keyed by CPU, oneDNN version and threads, or by GPU, "
                  "driver, CUDA, cuDNN and cuBLASLt versions)");
  cmd->add_flag("--no-tactic-timing", args->no_tactic_timing,
                "Take the library's first choice (oneDNN, cuDNN heuristics) instead of timing each at the opt shape");
  cmd->add_option("--threads", args->threads, "CPU threads for calibration and tactic timing (default: all cores)");
  auto& q = args->int8;
  cmd->add_option("--calib-data", q.calib_data, "INT8: folder of images or .npy files, a .npy file, or an IDX file");
  cmd->add_option("--preprocess", q.preprocess,
                  "INT8: image preprocessing: a preset (imagenet, imagenet_bgr_mean, ...), key=value pairs, or a JSON file");
  cmd->add_option("--calib-samples", q.calib_samples, "INT8: samples to calibrate on")->capture_default_str();
  cmd->add_option("--calib-batch", q.calib_batch, "INT8: samples per calibration run")->capture_default_str();
  cmd->add_option("--calib-method", q.calib_method, "INT8: mse, percentile, entropy or minmax")->capture_default_str();
  cmd->add_option("--percentile", q.percentile, "INT8: percentile for --calib-method percentile")->capture_default_str();
  cmd->add_option("--calib-cache", q.calib_cache, "INT8: TensorRT-format calibration cache to read (if it exists) or write");
  cmd->add_option("--keep-fp32", args->keep_fp32, "INT8: node names or op types to keep in float, comma-separated");
  cmd->add_option("--export-qdq", q.export_qdq, "INT8: also write the calibrated model as a Q/DQ ONNX model");
  cmd->callback([args, &exit_code] {
    Status s = run_build(*args);
    if (!s.ok()) {
      std::cerr << "kiln build: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
