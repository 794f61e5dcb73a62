// `kiln compare ENGINE_OR_MODEL... --data PATH [--labels PATH] [--class-names FILE] [--preprocess SPEC]
//  [--samples N] [--batch B] [--time-budget S] [--per-layer] [--json FILE] [--report FILE.html]`:
// runs each engine (an .onnx model runs on the reference backend, the exact FP32 oracle) on the same inputs
// and prints size, accuracy, agreement with and error against the first engine, latency and throughput.
#include <fmt/format.h>

#include <iostream>

#include "compare/compare.h"
#include "compare/report.h"
#include "tools/commands.h"

namespace kiln::tools {

namespace {

struct CompareArgs {
  CompareOptions options;
  std::string json, report;
  int top_layers = 15;
  bool quiet_progress = false;
};

Status run_compare_command(CompareArgs& args) {
  if (!args.quiet_progress) args.options.progress = [](const std::string& line) { std::cerr << "  " << line << "\n"; };
  KILN_ASSIGN_OR_RETURN(CompareResult result, run_compare(args.options));
  std::cout << format_console_report(result, args.top_layers);
  if (!args.json.empty()) {
    KILN_RETURN_IF_ERROR(write_json_report(result, args.json));
    std::cout << "wrote " << args.json << "\n";
  }
  if (!args.report.empty()) {
    KILN_RETURN_IF_ERROR(write_html_report(result, args.report));
    std::cout << "wrote " << args.report << "\n";
  }
  return {};
}

}  // namespace

void add_compare_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CompareArgs>();
  CompareOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare engines (.kiln) or ONNX models on the same data: accuracy, error, size, speed");
  cmd->add_option("models", o.models, "Engines or .onnx models; the first is the reference")->required();
  cmd->add_option("--data", o.data, "Evaluation inputs: folder of images or .npy files, a .npy file, or an IDX image file")
      ->required();
  cmd->add_option("--labels", o.labels,
                  "Labels: IDX label file (with IDX --data), or text/CSV: 'path.jpg,INDEX' / 'path.jpg NAME' per "
                  "image (image folders) or one label per line");
  cmd->add_option("--class-names", o.class_names, "Class names, one per line (for labels given as names)");
  cmd->add_option("--preprocess", o.preprocess, "Image preprocessing: preset, key=value pairs, or a JSON file");
  cmd->add_option("--samples", o.samples, "Evaluate the first N samples")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Samples per run in the accuracy pass")->capture_default_str();
  cmd->add_option("--time-budget", o.time_budget_s, "Seconds of timing per engine (0: skip timing)")->capture_default_str();
  cmd->add_flag("--per-layer", o.per_layer, "Compare every intermediate tensor of exactly two engines");
  cmd->add_option("--per-layer-samples", o.per_layer_samples, "Samples for --per-layer")->capture_default_str();
  cmd->add_option("--top-layers", args->top_layers, "Layers to print in the per-layer ranking")->capture_default_str();
  cmd->add_option("--json", args->json, "Write the results as JSON");
  cmd->add_option("--report", args->report, "Write a self-contained HTML report with charts");
  cmd->add_flag("--no-progress", args->quiet_progress, "Do not print progress to stderr");
  cmd->callback([args, &exit_code] {
    Status s = run_compare_command(*args);
    if (!s.ok()) {
      std::cerr << "kiln compare: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
