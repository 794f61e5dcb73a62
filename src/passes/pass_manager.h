// Graph optimization passes and the pass manager the engine builder runs.
//
//   kiln::PassReport report;
//   KILN_RETURN_IF_ERROR(kiln::run_optimization_passes(graph, kiln::PassOptions{}, &report));
//   log(report.to_string());   // "fold_constants: 12 nodes -> 3 (folded 9, shape_folded 2)" ...
//
// Every pass rewrites the graph in place and keeps its invariants: nodes in topological order, graph input
// and output names unchanged, every value typed. A pass that cannot apply somewhere leaves that part of the
// graph alone; an error Status means the graph was malformed, never that a pattern did not match.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct PassOptions {
  bool fold_constants = true;
  bool remove_identities = true;
  bool eliminate_dead_code = true;
  bool fold_batchnorm = true;
  bool fuse_bias_activation = true;
  bool fuse_residual_add = true;
  bool fuse_elementwise_chains = true;
  /// Constant folding never creates a constant with more elements than this unless its inputs were at least
  /// as big (keeps Expand/Tile/ConstantOfShape of small inputs from bloating the engine).
  int64_t max_folded_elements = int64_t{1} << 20;
};

/// What one pass did: node counts around it and named counters ("folded": 9).
struct PassRecord {
  std::string pass;
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  std::map<std::string, int64_t> counts;
};

struct PassReport {
  std::vector<PassRecord> records;
  /// One line per pass that changed something: "fold_batchnorm: 120 nodes -> 68 (conv 52)".
  std::string to_string() const;
  /// Sum of a counter over all records of `pass` (all passes when empty).
  int64_t total(const std::string& pass, const std::string& counter) const;
};

/// The record a pass fills in: counters only; the manager sets the node counts.
using PassCounts = std::map<std::string, int64_t>;

// The passes, in the order the manager runs them. Each documents its rewrites in its own file.
Status fold_constants(Graph& graph, const PassOptions& options, PassCounts& counts);
Status remove_identities(Graph& graph, const PassOptions& options, PassCounts& counts);
Status eliminate_dead_code(Graph& graph, const PassOptions& options, PassCounts& counts);
Status fold_batchnorm(Graph& graph, const PassOptions& options, PassCounts& counts);
Status fuse_residual_add(Graph& graph, const PassOptions& options, PassCounts& counts);
Status fuse_bias_activation(Graph& graph, const PassOptions& options, PassCounts& counts);
Status fuse_elementwise_chains(Graph& graph, const PassOptions& options, PassCounts& counts);

/// Runs the enabled passes (canonicalization to a fixed point, then fusion, then a final cleanup) and
/// re-infers every type at the end. `report` may be null.
Status run_optimization_passes(Graph& graph, const PassOptions& options, PassReport* report);

}  // namespace kiln
