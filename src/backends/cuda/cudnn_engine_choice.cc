#include "backends/cuda/cudnn_engine_choice.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "backends/cuda/cudnn_plan_cache.h"

namespace kiln::cuda {

namespace {

// An engine config of one of the graphs, with its rank: tier 0 the heuristics' mode A, tier 1 mode
// FALLBACK, tier 2 the generic engines with the STRICT_NAN_PROP note, used only when nothing else runs.
struct RankedConfig {
  size_t graph = 0;  // index into the PathGraph list
  BackendDesc config;
  EngineConfigInfo info;
  int tier = 0;
};

// Every acceptable engine config the heuristics (modes A and FALLBACK) offer for the graphs, best first:
// by tier, then graph (most fused first), then the heuristics' order. Duplicates are dropped.
std::vector<RankedConfig> ranked_configs(const std::vector<PathGraph>& graphs, const ConfigFilter& acceptable,
                                         std::string& last_error) {
  std::vector<RankedConfig> ranked;
  std::set<std::string> seen;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    for (size_t gi = 0; gi < graphs.size(); ++gi) {
      auto configs = heuristic_engine_configs(graphs[gi].graph.graph, mode);
      if (!configs.ok()) {
        last_error = configs.status().message();
        continue;
      }
      for (BackendDesc& cfg : *configs) {
        auto info = engine_config_info(cfg);
        if (!info.ok()) {
          last_error = info.status().message();
          continue;
        }
        if (!acceptable(*info)) {
          last_error = fmt::format("engine {} has numerical notes this precision excludes", info->engine);
          continue;
        }
        CudnnTactic t{graphs[gi].path, info->engine, info->knobs};
        if (!seen.insert(t.to_string()).second) continue;
        RankedConfig r;
        r.graph = gi;
        r.tier = info->has_note(CUDNN_NUMERICAL_NOTE_STRICT_NAN_PROP) ? 2 : mode == CUDNN_HEUR_MODE_A ? 0 : 1;
        r.config = std::move(cfg);
        r.info = std::move(*info);
        ranked.push_back(std::move(r));
      }
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const RankedConfig& a, const RankedConfig& b) { return a.tier < b.tier; });
  return ranked;
}

// The execution plan of a config, when it finalizes within the workspace limit.
Result<ExecutionPlan> plan_for(cudnnHandle_t handle, const BackendDesc& config, int64_t engine,
                               size_t workspace_limit) {
  KILN_ASSIGN_OR_RETURN(ExecutionPlan plan, make_execution_plan(handle, config));
  if (static_cast<uint64_t>(plan.workspace_bytes) > workspace_limit)
    return Status::unsupported(fmt::format("engine {} needs {} bytes of workspace, over the limit of {}", engine,
                                           plan.workspace_bytes, workspace_limit));
  return plan;
}

// The order in which candidates are offered (see candidate_tactic_ids), so a few knob variants of one
// engine do not crowd out other engines and graphs.
std::vector<size_t> candidate_order(const std::vector<RankedConfig>& ranked) {
  struct Group {
    int tier;
    std::vector<size_t> members;
  };
  std::vector<Group> groups;
  std::vector<std::pair<size_t, int64_t>> keys;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (ranked[i].tier > 1) continue;
    std::pair<size_t, int64_t> key{ranked[i].graph, ranked[i].info.engine};
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      groups.push_back({ranked[i].tier, {i}});
    } else {
      groups[static_cast<size_t>(it - keys.begin())].members.push_back(i);
    }
  }
  std::vector<size_t> order;
  auto take = [&](int tier, size_t round) {
    for (const Group& g : groups)
      if (g.tier == tier && round < g.members.size()) order.push_back(g.members[round]);
  };
  take(0, 0);
  take(0, 1);
  take(1, 0);
  for (size_t round = 2;; ++round) {
    const size_t before = order.size();
    take(0, round);
    if (order.size() == before) break;
  }
  for (size_t round = 1;; ++round) {
    const size_t before = order.size();
    take(1, round);
    if (order.size() == before) break;
  }
  if (order.empty())  // only generic engines: offer those
    for (size_t i = 0; i < ranked.size(); ++i) order.push_back(i);
  return order;
}

// Up to `limit` ids of `first`'s engine with its kernel-config knob (CUDNN_KNOB_TYPE_KERNEL_CFG) moved to each
// other value it takes, not in `ids` yet. Only that knob: it picks among the engine's precompiled tile
// configurations, where the heuristics' pick is not always the fastest, while others change how the engine
// runs (CUDNN_KNOB_TYPE_USE_TEX variants create texture objects at execute time and fail under stream capture,
// which every engine's launches go through).
std::vector<std::string> knob_variant_ids(cudnnHandle_t handle, const PathGraph& graph,
                                          const std::shared_ptr<const BuiltGraph>& shared_graph,
                                          const RankedConfig& first, size_t workspace_limit,
                                          const std::vector<std::string>& ids, size_t limit,
                                          const PlanCacheSlot& slot) {
  std::vector<std::string> out;
  auto knob = std::find_if(first.info.knobs.begin(), first.info.knobs.end(),
                           [](const auto& k) { return k.first == CUDNN_KNOB_TYPE_KERNEL_CFG; });
  if (knob == first.info.knobs.end()) return out;
  auto ranges = engine_knob_ranges(graph.graph.graph, first.info.engine);
  if (!ranges.ok()) return out;
  auto range = std::find_if(ranges->begin(), ranges->end(),
                            [](const KnobRange& r) { return r.type == CUDNN_KNOB_TYPE_KERNEL_CFG; });
  if (range == ranges->end()) return out;
  const size_t k = static_cast<size_t>(knob - first.info.knobs.begin());
  for (int64_t v = range->minimum; v <= range->maximum && out.size() < limit; v += range->stride) {
    if (v == knob->second) continue;
    auto knobs = first.info.knobs;
    knobs[k].second = v;
    CudnnTactic tactic{graph.path, first.info.engine, knobs};
    const std::string id = tactic.to_string();
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
    DescList keep;
    auto config = make_engine_config(graph.graph.graph, first.info.engine, knobs, keep);
    if (!config.ok()) continue;
    auto plan = plan_for(handle, *config, first.info.engine, workspace_limit);
    if (!plan.ok()) continue;
    out.push_back(id);
    if (slot.cache)
      slot.cache->put(slot.scope, id,
                      PlannedGraph{shared_graph, ChosenConfig{std::move(keep), std::move(*config), std::move(*plan),
                                                              std::move(tactic)}});
  }
  return out;
}

}  // namespace

PlanCacheSlot plan_cache_slot(const LaunchContext& ctx, const std::string& node, std::span<const Dims> input_dims) {
  if (!ctx.plan_cache) return {};
  std::string scope = node;
  for (const Dims& d : input_dims) scope += ' ' + dims_to_string(d);
  return {ctx.plan_cache, std::move(scope)};
}

std::vector<std::string> candidate_tactic_ids(cudnnHandle_t handle, std::vector<PathGraph> graphs,
                                              const ConfigFilter& acceptable, size_t workspace_limit,
                                              size_t max_candidates, size_t knob_variants,
                                              const PlanCacheSlot& slot) {
  // On the heap: plans kept in the cache share their graph (an aliasing pointer into this list keeps it alive).
  const auto shared = std::make_shared<const std::vector<PathGraph>>(std::move(graphs));
  auto graph_of = [&](size_t gi) { return std::shared_ptr<const BuiltGraph>(shared, &(*shared)[gi].graph); };
  std::string last_error;
  std::vector<RankedConfig> ranked = ranked_configs(*shared, acceptable, last_error);
  std::vector<std::string> ids;
  const RankedConfig* first = nullptr;
  for (size_t i : candidate_order(ranked)) {
    if (ids.size() >= max_candidates) break;
    RankedConfig& r = ranked[i];
    auto plan = plan_for(handle, r.config, r.info.engine, workspace_limit);
    if (!plan.ok()) continue;
    CudnnTactic tactic{(*shared)[r.graph].path, r.info.engine, r.info.knobs};
    ids.push_back(tactic.to_string());
    if (!first) first = &r;
    // The ranked list keeps the config's info (the knob variants start from it); the descriptor goes with the plan.
    if (slot.cache)
      slot.cache->put(slot.scope, ids.back(),
                      PlannedGraph{graph_of(r.graph), ChosenConfig{{}, std::move(r.config), std::move(*plan),
                                                                    std::move(tactic)}});
  }
  if (first && knob_variants > 0) {
    std::vector<std::string> more = knob_variant_ids(handle, (*shared)[first->graph], graph_of(first->graph), *first,
                                                     workspace_limit, ids, knob_variants, slot);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  return ids;
}

Result<PlannedGraph> choose_plan(cudnnHandle_t handle, std::vector<PathGraph>& graphs,
                                 const std::optional<CudnnTactic>& tactic, const ConfigFilter& acceptable,
                                 size_t workspace_limit, std::string& last_error, const PlanCacheSlot& slot) {
  auto take_graph = [&](size_t gi) { return std::make_shared<const BuiltGraph>(std::move(graphs[gi].graph)); };
  // The plan the candidate listing made for this tactic, when the builder kept it.
  if (tactic && slot.cache) {
    if (std::optional<PlannedGraph> kept = slot.cache->take(slot.scope, tactic->to_string())) return std::move(*kept);
  }
  // The configured tactic, when its graph is one of this node's and it still runs at these shapes.
  if (tactic) {
    for (size_t gi = 0; gi < graphs.size(); ++gi) {
      if (graphs[gi].path != tactic->path) continue;
      DescList keep;
      auto config = make_engine_config(graphs[gi].graph.graph, tactic->engine, tactic->knobs, keep);
      if (!config.ok()) {
        last_error = config.status().message();
        break;
      }
      auto info = engine_config_info(*config);
      if (!info.ok() || !acceptable(*info)) {
        last_error = info.ok() ? "the tactic's engine has numerical notes this precision excludes"
                               : info.status().message();
        break;
      }
      auto plan = plan_for(handle, *config, tactic->engine, workspace_limit);
      if (!plan.ok()) {
        last_error = plan.status().message();
        break;
      }
      return PlannedGraph{take_graph(gi), ChosenConfig{std::move(keep), std::move(*config), std::move(*plan), *tactic}};
    }
  }
  // Else the first ranked config that runs.
  std::vector<RankedConfig> ranked = ranked_configs(graphs, acceptable, last_error);
  for (RankedConfig& r : ranked) {
    auto plan = plan_for(handle, r.config, r.info.engine, workspace_limit);
    if (!plan.ok()) {
      last_error = plan.status().message();
      continue;
    }
    CudnnTactic t{graphs[r.graph].path, r.info.engine, r.info.knobs};
    return PlannedGraph{take_graph(r.graph), ChosenConfig{{}, std::move(r.config), std::move(*plan), std::move(t)}};
  }
  return Status::unsupported(last_error.empty() ? "no engine config offered" : last_error);
}

}  // namespace kiln::cuda
