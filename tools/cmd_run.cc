// `kiln run MODEL.onnx --input NAME=FILE ... [--output-dir DIR]`: runs a model on the reference backend and
// writes each output as OUTPUT_NAME.npy.
#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "core/npy.h"
#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "runtime/graph_runner.h"
#include "tools/commands.h"

namespace kiln::tools {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir = ".";
};

// Output names may hold '/' or ':' (e.g. "/model/fc/Gemm_output_0"); keep file names flat.
std::string file_name_for(const std::string& value_name) {
  std::string out;
  for (char c : value_name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  return out.empty() ? "output" : out;
}

Status run_model(const RunArgs& args) {
  KILN_ASSIGN_OR_RETURN(Graph graph, import_onnx_file(args.model));
  std::vector<const Value*> runtime_inputs;
  for (const Value* v : graph.inputs)
    if (!v->is_constant()) runtime_inputs.push_back(v);

  std::map<std::string, Tensor, std::less<>> feeds;
  std::set<std::string> input_paths;
  size_t positional = 0;
  for (const std::string& spec : args.inputs) {
    std::string name, path;
    size_t eq = spec.find('=');
    if (eq != std::string::npos && graph.find_value(spec.substr(0, eq))) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    } else {
      if (positional >= runtime_inputs.size())
        return Status::invalid_argument(fmt::format("too many inputs: the model has {} ({})", runtime_inputs.size(),
                                                    spec));
      name = runtime_inputs[positional++]->name;
      path = spec;
    }
    if (feeds.count(name)) return Status::invalid_argument(fmt::format("input '{}' is given twice", name));
    auto t = read_tensor_file(path);
    if (!t.ok()) return t.status();
    feeds[name] = *t;
    input_paths.insert(std::filesystem::weakly_canonical(path).string());
  }
  for (const Value* v : runtime_inputs)
    if (!feeds.count(v->name))
      return Status::invalid_argument(fmt::format("no value given for input '{}' ({}); pass --input {}=FILE.npy",
                                                  v->name, v->type.to_string(), v->name));

  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(graph));
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, runner.run(feeds));

  std::error_code ec;
  std::filesystem::create_directories(args.output_dir, ec);
  if (ec) return Status::io_error(fmt::format("cannot create output folder {}: {}", args.output_dir, ec.message()));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string& name = graph.outputs[i]->name;
    std::string path = (std::filesystem::path(args.output_dir) / (file_name_for(name) + ".npy")).string();
    if (input_paths.count(std::filesystem::weakly_canonical(path).string()))
      return Status::invalid_argument(fmt::format("refusing to overwrite input file {} with output '{}'", path, name));
    KILN_RETURN_IF_ERROR(write_npy(path, outputs[i]));
    const Tensor& t = outputs[i];
    std::string stats;
    if (t.dtype() != DataType::kString && t.size() > 0) {
      double lo = t.element_as_double(0), hi = lo, sum = 0;
      for (int64_t k = 0; k < t.size(); ++k) {
        double x = t.element_as_double(k);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        sum += x;
      }
      stats = fmt::format("  min {:.6g}  max {:.6g}  mean {:.6g}", lo, hi, sum / static_cast<double>(t.size()));
    }
    std::cout << fmt::format("{}: {} -> {}{}\n", name, t.type_string(), path, stats);
  }
  return {};
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on the reference backend and save its outputs as .npy");
  cmd->add_option("model", args->model, "ONNX model (.onnx)")->required();
  cmd->add_option("-i,--input", args->inputs,
                  "Input as NAME=FILE or FILE (.npy or ONNX TensorProto .pb); unnamed ones go in graph order");
  cmd->add_option("-o,--output-dir", args->output_dir, "Folder for OUTPUT_NAME.npy files")->capture_default_str();
  cmd->callback([args, &exit_code] {
    Status s = run_model(*args);
    if (!s.ok()) {
      std::cerr << "kiln run: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
