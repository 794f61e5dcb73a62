#include "backends/cuda/cudnn_plan_cache.h"

namespace kiln::cuda {

void CudnnPlanCache::put(const std::string& scope, const std::string& tactic, PlannedGraph planned) {
  plans_.insert_or_assign(key(scope, tactic), std::move(planned));
}

std::optional<PlannedGraph> CudnnPlanCache::take(const std::string& scope, const std::string& tactic) {
  auto it = plans_.find(key(scope, tactic));
  if (it == plans_.end()) return std::nullopt;
  PlannedGraph planned = std::move(it->second);
  plans_.erase(it);
  ++taken_;
  return planned;
}

}  // namespace kiln::cuda
