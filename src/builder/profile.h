// Optimization profiles: which input dimensions are dynamic and the range each may take.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/kiln.h"

namespace kiln {

/// Per input: the min/opt/max shape (dynamic dims resolved; fixed dims repeated).
struct ResolvedProfile {
  std::map<std::string, InputProfile> inputs;
};

/// Decides every input's range from the options (batch, dynamic_batch, per-input shapes) and the model,
/// and names each dynamic dimension with a symbol in the graph's input types. Errors name the input and
/// dimension, and say which flag provides the missing range.
Result<ResolvedProfile> resolve_profile(Graph& graph, const BuildOptions& options);

/// Sets every dynamic input dimension to its `min`, `opt` or `max` value (pick = 0, 1, 2) and re-infers
/// shapes; `restore_symbolic_inputs` undoes it. Used to check the profile and to size the memory plan.
Status specialize_inputs(Graph& graph, const ResolvedProfile& profile, int pick);
Status restore_symbolic_inputs(Graph& graph, const std::map<std::string, std::vector<Dim>>& symbolic);

}  // namespace kiln
