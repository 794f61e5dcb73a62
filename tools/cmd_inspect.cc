// `kiln inspect MODEL.onnx [--json] [--full]`: prints the imported, typed graph in kiln's text form, or a
// JSON summary (I/O, op counts, parameter bytes by dtype, nodes).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "ir/text_format.h"
#include "onnx/importer.h"
#include "tools/commands.h"

namespace kiln::tools {

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  bool full = false;
};

nlohmann::json value_json(const Value& v) {
  return {{"name", v.name}, {"dtype", std::string(dtype_name(v.type.dtype))}, {"shape", v.type.shape.to_string()}};
}

nlohmann::json graph_json(const Graph& g, const std::string& path) {
  nlohmann::json j;
  j["model"] = path;
  j["graph"] = g.name;
  j["producer"] = g.producer;
  for (const auto& [domain, version] : g.opset_imports) j["opsets"][domain.empty() ? "ai.onnx" : domain] = version;
  j["inputs"] = nlohmann::json::array();
  for (const Value* v : g.inputs)
    if (!v->is_constant()) j["inputs"].push_back(value_json(*v));
  j["outputs"] = nlohmann::json::array();
  for (const Value* v : g.outputs) j["outputs"].push_back(value_json(*v));
  std::map<std::string, int> op_counts;
  j["nodes"] = nlohmann::json::array();
  for (const auto& n : g.nodes()) {
    ++op_counts[n->op_type];
    nlohmann::json node = {{"name", n->name}, {"op_type", n->op_type}, {"opset", n->opset}};
    if (!n->domain.empty()) node["domain"] = n->domain;
    for (const Value* v : n->inputs) node["inputs"].push_back(v ? v->name : "");
    for (const Value* v : n->outputs) node["outputs"].push_back(v ? value_json(*v) : nlohmann::json());
    j["nodes"].push_back(node);
  }
  j["op_counts"] = op_counts;
  std::map<std::string, int64_t> bytes_by_dtype;
  int64_t params = 0;
  for (const auto& v : g.values()) {
    if (!v->is_constant()) continue;
    bytes_by_dtype[std::string(dtype_name(v->type.dtype))] += static_cast<int64_t>(v->constant->byte_size());
    params += v->constant->size();
  }
  j["parameters"] = params;
  j["weight_bytes_by_dtype"] = bytes_by_dtype;
  return j;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Print a model's typed graph or an engine's header, profiles, I/O, nodes and memory (--json: JSON)");
  cmd->add_option("model", args->model, "ONNX model (.onnx) or engine (.kiln)")->required();
  cmd->add_flag("--json", args->json, "Print a JSON summary instead of the text form");
  cmd->add_flag("--full", args->full, "Print every constant value (the text form then parses back exactly)");
  cmd->callback([args, &exit_code] {
    if (std::filesystem::path(args->model).extension() == ".kiln") {
      Status s = inspect_engine(args->model, args->json, args->full);
      if (!s.ok()) {
        std::cerr << "kiln inspect: " << s.message() << "\n";
        exit_code = 1;
      }
      return;
    }
    auto graph = import_onnx_file(args->model);
    if (!graph.ok()) {
      std::cerr << "kiln inspect: " << graph.status().message() << "\n";
      exit_code = 1;
      return;
    }
    if (args->json) {
      std::cout << graph_json(*graph, args->model).dump(2) << "\n";
    } else {
      TextOptions options;
      options.max_constant_elements = args->full ? -1 : 16;
      std::cout << print_graph(*graph, options);
    }
  });
}

}  // namespace kiln::tools
