#include "passes/pass_manager.h"

#include <fmt/format.h>

#include "ir/shape_inference.h"

namespace kiln {

std::string PassReport::to_string() const {
  std::string out;
  for (const PassRecord& r : records) {
    std::vector<std::string> parts;
    for (const auto& [name, count] : r.counts)
      if (count != 0) parts.push_back(fmt::format("{} {}", name, count));
    if (parts.empty() && r.nodes_before == r.nodes_after) continue;
    out += fmt::format("{}: {} nodes -> {} ({})\n", r.pass, r.nodes_before, r.nodes_after, fmt::join(parts, ", "));
  }
  return out;
}

int64_t PassReport::total(const std::string& pass, const std::string& counter) const {
  int64_t sum = 0;
  for (const PassRecord& r : records)
    if (pass.empty() || r.pass == pass) {
      auto it = r.counts.find(counter);
      if (it != r.counts.end()) sum += it->second;
    }
  return sum;
}

namespace {

using PassFn = Status (*)(Graph&, const PassOptions&, PassCounts&);

// Runs one pass and records it; returns whether it changed anything.
Result<bool> run_pass(const char* name, PassFn fn, Graph& g, const PassOptions& options, PassReport& report) {
  PassRecord record;
  record.pass = name;
  record.nodes_before = g.nodes().size();
  KILN_RETURN_IF_ERROR(fn(g, options, record.counts).with_context(name));
  record.nodes_after = g.nodes().size();
  bool changed = record.nodes_before != record.nodes_after;
  for (const auto& [k, v] : record.counts) changed |= v != 0;
  report.records.push_back(std::move(record));
  return changed;
}

}  // namespace

Status run_optimization_passes(Graph& graph, const PassOptions& options, PassReport* report) {
  PassReport local;
  PassReport& r = report ? *report : local;
  // Canonicalization until nothing changes (each pass can expose work for the others).
  for (int round = 0; round < 4; ++round) {
    bool changed = false;
    if (options.fold_constants) {
      KILN_ASSIGN_OR_RETURN(bool c, run_pass("fold_constants", fold_constants, graph, options, r));
      changed |= c;
    }
    if (options.remove_identities) {
      KILN_ASSIGN_OR_RETURN(bool c, run_pass("remove_identities", remove_identities, graph, options, r));
      changed |= c;
    }
    if (options.eliminate_dead_code) {
      KILN_ASSIGN_OR_RETURN(bool c, run_pass("eliminate_dead_code", eliminate_dead_code, graph, options, r));
      changed |= c;
    }
    if (!changed) break;
  }
  // Fusion: BN into its producer first (it may create bias Adds), then biases and activations (Conv and Gemm
  // keep their ONNX form when only a bias is folded), then residual Adds with their activation (Conv -> Add(Z)
  // is left alone by the bias fusion), then what is left of elementwise chains.
  struct Step {
    bool enabled;
    const char* name;
    PassFn fn;
  };
  const Step fusion[] = {
      {options.fold_batchnorm, "fold_batchnorm", fold_batchnorm},
      {options.fuse_bias_activation, "fuse_bias_activation", fuse_bias_activation},
      {options.fuse_residual_add, "fuse_residual_add", fuse_residual_add},
      {options.fuse_elementwise_chains, "fuse_elementwise_chains", fuse_elementwise_chains},
      {options.eliminate_dead_code, "eliminate_dead_code", eliminate_dead_code},
  };
  for (const Step& s : fusion) {
    if (!s.enabled) continue;
    KILN_ASSIGN_OR_RETURN(bool c, run_pass(s.name, s.fn, graph, options, r));
    (void)c;
  }
  KILN_RETURN_IF_ERROR(graph.topo_sort());
  return infer_shapes(graph).with_context("after optimization passes");
}

}  // namespace kiln
