// Tactic selection for the CPU backend: where oneDNN offers more than one implementation of a node
// (brgconv, jit direct, GEMM-based, Winograd, ...), each is timed at the profile's opt shape and the fastest
// is stored in the engine (node attribute "tactic"). A timing cache (JSON, TensorRT's idea) keyed by CPU
// model, oneDNN version, ISA and thread count makes rebuilds skip the timing; entries of other machines in
// the same file are kept.
#pragma once

#include <map>
#include <string>

#include "core/shape.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct TacticReport {
  size_t nodes_with_choice = 0;  ///< nodes where oneDNN offered several implementations
  size_t timed = 0;              ///< implementations timed now
  size_t from_cache = 0;         ///< implementations whose time came from the timing cache
  size_t changed = 0;            ///< nodes whose fastest tactic is not oneDNN's first choice
  double seconds = 0;
  std::string to_string() const;
};

/// Times the candidate implementations of every oneDNN node at `opt_dims` (value name → dims at the
/// profile's opt shapes) and records the fastest as the node's tactic. `timing_cache`: a file to read
/// (when it exists) and update; empty for none.
Status choose_cpu_tactics(Graph& graph, const std::map<std::string, Dims>& opt_dims, const std::string& timing_cache,
                          TacticReport* report);

}  // namespace kiln
