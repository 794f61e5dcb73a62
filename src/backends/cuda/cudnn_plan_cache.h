// CudnnPlanCache: the cuDNN execution plans a node's candidate listing finalized, kept for the timing that
// follows. Finalizing a plan is the costly part of a build (often a runtime compilation): listing finalizes
// each candidate's plan to check that it runs, and timing used to finalize it again; with this cache the
// timing takes the listing's plan. Only the builder sets LaunchContext::plan_cache, for the node it is tuning
// (it clears the cache before the next node); engines never do.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "backends/cuda/cudnn_engine_choice.h"

namespace kiln::cuda {

class CudnnPlanCache {
 public:
  /// Keeps `planned`, the plan of tactic `tactic` for the node and shapes `scope` names.
  void put(const std::string& scope, const std::string& tactic, PlannedGraph planned);
  /// The plan kept for `tactic` in `scope`, removed from the cache (a plan runs in one PreparedNode); nullopt
  /// when there is none.
  std::optional<PlannedGraph> take(const std::string& scope, const std::string& tactic);
  /// Drops every plan kept (the counts stay).
  void clear() { plans_.clear(); }
  size_t size() const { return plans_.size(); }
  /// How many plans take() has handed out since the cache was made.
  size_t taken() const { return taken_; }

 private:
  static std::string key(const std::string& scope, const std::string& tactic) { return scope + '\n' + tactic; }
  std::map<std::string, PlannedGraph> plans_;
  size_t taken_ = 0;
};

}  // namespace kiln::cuda
