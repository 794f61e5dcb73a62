// `kiln inspect ENGINE.kiln [--json] [--full]`: header, profiles, I/O, per-node precision and kernel, memory
// plan, weight bytes by dtype.
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "engine/engine_file.h"
#include "ir/text_format.h"
#include "tools/commands.h"
#include "tools/parse_flags.h"

namespace kiln::tools {

namespace {

// The dtype a node computes in: that of its first float output (else of its first output).
std::string node_precision(const Node& n) {
  for (const Value* v : n.outputs)
    if (v && is_float(v->type.dtype)) return std::string(dtype_name(v->type.dtype));
  for (const Value* v : n.outputs)
    if (v) return std::string(dtype_name(v->type.dtype));
  return "-";
}

}  // namespace

Status inspect_engine(const std::string& path, bool json, bool full) {
  KILN_ASSIGN_OR_RETURN(LoadedEngineFile engine, read_engine(path));  // any backend: inspection only
  const nlohmann::json& meta = engine.metadata;
  const Graph& g = engine.graph;
  std::map<std::string, uint64_t> weight_bytes;
  for (const auto& v : g.values())
    if (v->is_constant()) weight_bytes[std::string(dtype_name(v->type.dtype))] += v->constant->byte_size();
  nlohmann::json nodes = nlohmann::json::array();
  const nlohmann::json kernels = meta.value("kernels", nlohmann::json::object());
  for (const auto& n : g.nodes())
    nodes.push_back({{"name", n->name},
                     {"op_type", n->domain.empty() ? n->op_type : n->domain + "." + n->op_type},
                     {"precision", node_precision(*n)},
                     {"kernel", kernels.value(n->name, "?")}});

  if (json) {
    nlohmann::json out = meta;
    out["file"] = path;
    out["format_version"] = engine.format_version;
    out["nodes"] = nodes;
    out["weight_bytes_by_dtype"] = weight_bytes;
    out.erase("kernels");  // folded into "nodes"
    if (out.contains("memory_plan")) out["memory_plan"].erase("values");
    std::cout << out.dump(2) << "\n";
    return {};
  }
  std::cout << fmt::format("engine      {}\n", path);
  std::cout << fmt::format("format      {} (producer {})\n", engine.format_version, meta.value("producer", "?"));
  if (meta.contains("source_model"))
    std::cout << fmt::format("source      {} (xxh3-128 {})\n", meta["source_model"].value("path", "?"),
                             meta["source_model"].value("xxh3_128", "?"));
  std::cout << fmt::format("backend     {}\n", meta["backend"].dump());
  std::cout << fmt::format("precision   {}\n", meta.value("precision", "?"));
  for (const auto& profile : meta.value("profiles", nlohmann::json::array()))
    for (const auto& [name, p] : profile.items())
      std::cout << fmt::format("profile     {}: min {} opt {} max {}\n", name, p["min"].dump(), p["opt"].dump(),
                               p["max"].dump());
  for (const char* kind : {"inputs", "outputs"})
    for (const auto& t : meta["io"][kind])
      std::cout << fmt::format("{:<11} {}: {}{}\n", std::string(kind).substr(0, std::string(kind).size() - 1),
                               t["name"].get<std::string>(), t["dtype"].get<std::string>(), t["shape"].dump());
  if (meta.contains("memory_plan"))
    std::cout << fmt::format("arena       {} ({} planned values)\n",
                             format_bytes(meta["memory_plan"]["arena_bytes"].get<uint64_t>()),
                             meta["memory_plan"]["values"].size());
  std::string weights;
  for (const auto& [dtype, bytes] : weight_bytes) weights += fmt::format("{} {}  ", dtype, format_bytes(bytes));
  std::cout << fmt::format("weights     {}({} blobs)\n", weights, engine.blob_count);
  if (meta.contains("int8")) {
    const nlohmann::json& q = meta["int8"];
    std::cout << fmt::format("int8        {:.1f}% of {} conv/gemm/matmul MACs (batch 1) run in int8; {} nodes int8, {} float\n",
                             100.0 * q.value("int8_mac_share", 0.0), q.value("macs_total", int64_t{0}),
                             q.value("nodes_int8", int64_t{0}), q.value("nodes_float", int64_t{0}));
    if (q.contains("calibration"))
      std::cout << fmt::format("calibration {} ({}), {} tensors\n", q["calibration"].value("method", "?"),
                               q["calibration"].value("algorithm", "?"), q["calibration"].value("tensors", 0));
    for (const auto& f : q.value("float_nodes", nlohmann::json::array()))
      std::cout << fmt::format("  float: {} '{}' ({} MACs): {}\n", f.value("op_type", "?"), f.value("node", "?"),
                               f.value("macs", int64_t{0}), f.value("reason", "?"));
  }
  std::cout << fmt::format("nodes       {}\n", nodes.size());
  for (const auto& n : nodes)
    std::cout << fmt::format("  {:<48} {:<22} {:<5} {}\n", n["name"].get<std::string>(), n["op_type"].get<std::string>(),
                             n["precision"].get<std::string>(), n["kernel"].get<std::string>());
  if (full) {
    TextOptions options;
    std::cout << "\n" << print_graph(g, options);
  }
  return {};
}

}  // namespace kiln::tools
