// The timing cache shared by the CPU and CUDA tactic choosers (TensorRT's idea): a JSON file
// {"format": "kiln-timing-cache-1", "machines": {<machine key>: {<node signature>: {<tactic>: ms}}}}.
// Timings are only comparable on one machine key (CPU or GPU model and library versions); entries of
// other machines in the same file are kept.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// Reads the cache (an empty one when `path` is empty or does not exist); refuses a file of another format.
Result<nlohmann::json> read_timing_cache(const std::string& path);
/// Writes it atomically (no-op for an empty path).
Status write_timing_cache(const std::string& path, const nlohmann::json& cache);

/// What determines a node's timings: op, attributes (except `skip_attr`, the tactic itself), and the dtypes
/// and opt dims of its inputs (`opt_dims`: value name → dims).
std::string node_signature(const Node& node, const std::map<std::string, Dims>& opt_dims, std::string_view skip_attr);

/// The fastest of a node's `offered` tactics. `times` is the node's entry in the cache: a tactic timed before
/// is not timed again; the others are timed with `time(tactic, best_ms_so_far)` and recorded. A tactic whose
/// timing fails cannot run the node and is no candidate.
struct FastestTactic {
  std::string tactic;  ///< empty when none could run
  double ms = 0;
  size_t timed = 0, from_cache = 0;
};
FastestTactic choose_fastest(const std::vector<std::string>& offered, nlohmann::json& times,
                             const std::function<Result<double>(const std::string& tactic, double best_ms)>& time);

}  // namespace kiln
