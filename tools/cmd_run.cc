// `kiln run MODEL.onnx --input NAME=FILE ... [--output-dir DIR]`: runs a model on the reference backend and
// writes each output as OUTPUT_NAME.npy.
#include <fmt/format.h>

#include <cctype>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "core/npy.h"
#include "kiln/kiln.h"
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
  int top = 0;
  std::string labels;
};

// Prints the K largest entries of each row of a [N, classes, ...] output ("top-5: 3 tulips 0.98, ...").
Status print_top(const RunArgs& args, const std::string& name, const Tensor& t) {
  if (args.top <= 0 || t.rank() < 1 || t.dtype() == DataType::kString || t.size() == 0) return {};
  std::vector<std::string> labels;
  if (!args.labels.empty()) {
    std::ifstream in(args.labels);
    if (!in) return Status::not_found(fmt::format("labels file not found: {}", args.labels));
    for (std::string line; std::getline(in, line);) labels.push_back(line);
  }
  int64_t rows = t.rank() >= 2 ? t.dim(0) : 1;
  int64_t per_row = t.size() / rows;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> idx(per_row);
    for (int64_t i = 0; i < per_row; ++i) idx[i] = i;
    int64_t k = std::min<int64_t>(args.top, per_row);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
      return t.element_as_double(r * per_row + a) > t.element_as_double(r * per_row + b);
    });
    std::vector<std::string> parts;
    for (int64_t i = 0; i < k; ++i) {
      std::string label = idx[i] < static_cast<int64_t>(labels.size()) ? " " + labels[idx[i]] : "";
      parts.push_back(fmt::format("{}{} {:.4f}", idx[i], label, t.element_as_double(r * per_row + idx[i])));
    }
    std::cout << fmt::format("{}[{}] top-{}: {}\n", name, r, k, fmt::join(parts, ", "));
  }
  return {};
}

// Output names may hold '/' or ':' (e.g. "/model/fc/Gemm_output_0"); keep file names flat.
std::string file_name_for(const std::string& value_name) {
  std::string out;
  for (char c : value_name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  return out.empty() ? "output" : out;
}

bool is_engine_file(const std::string& path) { return std::filesystem::path(path).extension() == ".kiln"; }

// Splits "NAME=FILE" when NAME is one of `names`; otherwise the whole spec is a file for the next input.
std::pair<std::string, std::string> split_input_spec(const std::string& spec, const std::vector<std::string>& names) {
  size_t eq = spec.find('=');
  if (eq != std::string::npos)
    for (const auto& n : names)
      if (n == spec.substr(0, eq)) return {n, spec.substr(eq + 1)};
  return {"", spec};
}

Status write_output(const RunArgs& args, const std::string& name, const Tensor& t,
                    const std::set<std::string>& input_paths) {
  std::error_code ec;
  std::filesystem::create_directories(args.output_dir, ec);
  if (ec) return Status::io_error(fmt::format("cannot create output folder {}: {}", args.output_dir, ec.message()));
  std::string path = (std::filesystem::path(args.output_dir) / (file_name_for(name) + ".npy")).string();
  if (input_paths.count(std::filesystem::weakly_canonical(path).string()))
    return Status::invalid_argument(fmt::format("refusing to overwrite input file {} with output '{}'", path, name));
  KILN_RETURN_IF_ERROR(write_npy(path, t));
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
  return print_top(args, name, t);
}

// The tensors named by --input, matched to `names` (NAME=FILE, or FILE for the next unnamed input); every
// input must be given exactly once. `hints` give each input's expected type for the error message.
struct InputFiles {
  std::map<std::string, Tensor, std::less<>> tensors;
  std::set<std::string> paths;  // canonical, so outputs never overwrite them
};

Result<InputFiles> read_inputs(const RunArgs& args, const std::vector<std::string>& names,
                               const std::vector<std::string>& hints) {
  InputFiles in;
  size_t positional = 0;
  for (const std::string& spec : args.inputs) {
    auto [name, path] = split_input_spec(spec, names);
    if (name.empty()) {
      if (positional >= names.size())
        return Status::invalid_argument(fmt::format("too many inputs: the model has {} ({})", names.size(), spec));
      name = names[positional++];
    }
    if (in.tensors.count(name)) return Status::invalid_argument(fmt::format("input '{}' is given twice", name));
    KILN_ASSIGN_OR_RETURN(in.tensors[name], read_tensor_file(path));
    in.paths.insert(std::filesystem::weakly_canonical(path).string());
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (!in.tensors.count(names[i]))
      return Status::invalid_argument(fmt::format("no value given for input '{}' ({}); pass --input {}=FILE.npy",
                                                  names[i], hints[i], names[i]));
  return in;
}

Status run_engine(const RunArgs& args) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const Engine> engine, Engine::load(args.model));
  std::vector<std::string> names, hints;
  for (const auto& in : engine->inputs()) {
    names.push_back(in.name);
    hints.push_back(std::string(dtype_name(in.dtype)));
  }
  KILN_ASSIGN_OR_RETURN(InputFiles in, read_inputs(args, names, hints));
  KILN_ASSIGN_OR_RETURN(auto context, engine->create_context());
  for (const auto& [name, t] : in.tensors)
    KILN_RETURN_IF_ERROR(context->set_input(name, TensorView{t.dtype(), t.dims(), t.raw()}));
  KILN_RETURN_IF_ERROR(context->run());
  for (const auto& out : engine->outputs()) {
    KILN_ASSIGN_OR_RETURN(TensorView view, context->output(out.name));
    Tensor copy = Tensor::wrap(view.dtype, view.dims, const_cast<void*>(view.data), nullptr);
    KILN_RETURN_IF_ERROR(write_output(args, out.name, copy, in.paths));
  }
  return {};
}

Status run_model(const RunArgs& args) {
  if (is_engine_file(args.model)) return run_engine(args);
  KILN_ASSIGN_OR_RETURN(Graph graph, import_onnx_file(args.model));
  std::vector<std::string> names, hints;
  for (const Value* v : graph.inputs)
    if (!v->is_constant()) {
      names.push_back(v->name);
      hints.push_back(v->type.to_string());
    }
  KILN_ASSIGN_OR_RETURN(InputFiles in, read_inputs(args, names, hints));
  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(graph));
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, runner.run(in.tensors));
  for (size_t i = 0; i < outputs.size(); ++i)
    KILN_RETURN_IF_ERROR(write_output(args, graph.outputs[i]->name, outputs[i], in.paths));
  return {};
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model (.onnx, reference backend) or an engine (.kiln) and save its outputs as .npy");
  cmd->add_option("model", args->model, "ONNX model (.onnx) or engine (.kiln)")->required();
  cmd->add_option("-i,--input", args->inputs,
                  "Input as NAME=FILE or FILE (.npy or ONNX TensorProto .pb); unnamed ones go in graph order");
  cmd->add_option("-o,--output-dir", args->output_dir, "Folder for OUTPUT_NAME.npy files")->capture_default_str();
  cmd->add_option("--top", args->top, "Print the K largest entries of each output row");
  cmd->add_option("--labels", args->labels, "Class names, one per line, for --top");
  cmd->callback([args, &exit_code] {
    Status s = run_model(*args);
    if (!s.ok()) {
      std::cerr << "kiln run: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
