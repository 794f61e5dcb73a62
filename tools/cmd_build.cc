// `kiln build MODEL.onnx --precision fp32|fp16|int8 | --all [--output-dir DIR] [--batch MIN:OPT:MAX]
//  [--dynamic-batch] [--min-shapes/--opt-shapes/--max-shapes NAME:AxBxC,...] [--workspace 1G] [--fp16-io]`
#include <fmt/format.h>

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
  std::string output_dir = ".";
  std::string batch;
  bool dynamic_batch = false;
  std::string min_shapes, opt_shapes, max_shapes;
  std::string workspace = "1G";
  bool fp16_io = false;
};

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
  KILN_ASSIGN_OR_RETURN(base.input_profiles, parse_shape_profiles(args.min_shapes, args.opt_shapes, args.max_shapes));

  std::vector<Precision> precisions;
  if (args.all) {
    precisions = {Precision::kFP32, Precision::kFP16};
  } else {
    auto p = parse_precision(args.precision);
    if (!p) return Status::invalid_argument(fmt::format("unknown precision '{}' (fp32, fp16, int8)", args.precision));
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
  if (args.all) std::cout << "int8: skipped (needs calibration, not available in this version)\n";

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
  auto* precision = cmd->add_option("-p,--precision", args->precision, "fp32, fp16 or int8")->capture_default_str();
  cmd->add_flag("--all", args->all, "Build every precision this build can make")->excludes(precision);
  cmd->add_option("-o,--output-dir", args->output_dir, "Folder for the engines")->capture_default_str();
  cmd->add_option("--batch", args->batch, "Batch range MIN:OPT:MAX (default 1:16:32 when the batch is dynamic)");
  cmd->add_flag("--dynamic-batch", args->dynamic_batch, "Make a fixed batch dimension dynamic");
  cmd->add_option("--min-shapes", args->min_shapes, "Per-input min shapes, NAME:1x3x224x224[,NAME:...]");
  cmd->add_option("--opt-shapes", args->opt_shapes, "Per-input opt shapes");
  cmd->add_option("--max-shapes", args->max_shapes, "Per-input max shapes");
  cmd->add_option("--workspace", args->workspace, "Scratch memory kernels may use (e.g. 512M, 1G)")->capture_default_str();
  cmd->add_flag("--fp16-io", args->fp16_io, "FP16 engines take and return FP16 tensors");
  cmd->callback([args, &exit_code] {
    Status s = run_build(*args);
    if (!s.ok()) {
      std::cerr << "kiln build: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
