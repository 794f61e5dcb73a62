// Choosing cuDNN engine configs for a convolution node, shared by the float (cudnn_conv.cc) and integer
// (cudnn_qconv.cc) kernels. A node offers one or more operation graphs ("paths", most fused first); the
// heuristics' configs for all of them are ranked, offered as build-time candidates (tactic ids, see
// cudnn_tactic.h), and at prepare the configured tactic is re-created or, failing that, the first ranked config
// that runs is taken.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cudnn_graph.h"
#include "backends/cuda/cudnn_tactic.h"

namespace kiln::cuda {

/// Candidate tactics offered per node and shape. Each costs a plan (often a runtime compilation) and a timing
/// at build: 8 made a ResNet-50 FP16 build take 75 s on the H100 (the bar is 60 s), 4 take 45-51 s.
inline constexpr size_t kMaxCudnnCandidates = 4;
/// Convolutions over few input channels per group (<= kFewChannels: a network's stem, e.g. ResNet-50's after
/// space-to-depth, 16 channels) are where cuDNN's heuristics rank worst, and there is one such conv per
/// network: it gets more candidates.
inline constexpr size_t kMaxCudnnCandidatesFewChannels = 12;
inline constexpr int64_t kFewChannels = 16;
inline constexpr size_t kKnobVariantsFewChannels = 24;
inline bool has_few_channels(int64_t group, const std::vector<int64_t>& w_dims) {
  return group == 1 && w_dims.size() > 1 && w_dims[1] <= kFewChannels;
}
/// The candidates offered for a convolution with `group` groups and W's dims [K, C/group, k...].
inline size_t max_cudnn_candidates(int64_t group, const std::vector<int64_t>& w_dims) {
  return has_few_channels(group, w_dims) ? kMaxCudnnCandidatesFewChannels : kMaxCudnnCandidates;
}
/// The knob variants offered on top (see candidate_tactic_ids).
inline size_t cudnn_knob_variants(int64_t group, const std::vector<int64_t>& w_dims) {
  return has_few_channels(group, w_dims) ? kKnobVariantsFewChannels : 0;
}

/// One operation graph and the descriptors it refers to (declared so the graph is destroyed first).
struct BuiltGraph {
  DescList keep;
  BackendDesc graph;
  std::vector<int64_t> uids;  ///< the non-virtual tensors to bind, in order
};

/// A graph of one path.
struct PathGraph {
  ConvPath path;
  BuiltGraph graph;
};

/// One engine config that runs, with its plan.
struct ChosenConfig {
  DescList keep;  ///< engine / knob choices of a re-created config
  BackendDesc config;
  ExecutionPlan plan;
  CudnnTactic tactic;
};

/// A graph with the plan of one of its configs: what a prepared convolution runs. The graph is shared
/// because the plans of several candidates listed on one graph can be kept (CudnnPlanCache).
struct PlannedGraph {
  std::shared_ptr<const BuiltGraph> graph;
  ChosenConfig chosen;  ///< declared after graph: destroyed first
};

class CudnnPlanCache;
/// Where the plans finalized while listing candidates are kept for their timing: a cache (null: nowhere) and
/// the scope that names the node and its shapes there.
struct PlanCacheSlot {
  CudnnPlanCache* cache = nullptr;
  std::string scope;
};

/// The slot of `ctx`'s plan cache for the node named `node` at `input_dims`.
PlanCacheSlot plan_cache_slot(const LaunchContext& ctx, const std::string& node, std::span<const Dims> input_dims);

/// Whether an engine config's numerics are acceptable for the node (e.g. no TF32 for strict FP32).
using ConfigFilter = std::function<bool(const EngineConfigInfo&)>;

/// Up to `max_candidates` tactic ids worth timing: the best config of every distinct (graph, engine) of
/// the heuristics' mode A first, then their second best, then mode FALLBACK's; the generic engines with the
/// STRICT_NAN_PROP note (engine 0 on cuDNN 9.14: 40-500x slower) only when nothing else runs. Configs that
/// need more workspace than `workspace_limit` are left out. Then up to `knob_variants` more: the first
/// candidate's engine with its kernel-config knob (CUDNN_KNOB_TYPE_KERNEL_CFG) set to each other value it
/// takes (the heuristics' pick is not always the fastest: ResNet-50's space-to-depth stem at batch 32 ran
/// 0.176 ms with e7 k24=21, 0.130 with k24=15; H100, session 6). Each candidate's plan, finalized to check
/// that it runs, goes to `slot`'s cache when there is one.
std::vector<std::string> candidate_tactic_ids(cudnnHandle_t handle, std::vector<PathGraph> graphs,
                                              const ConfigFilter& acceptable, size_t workspace_limit,
                                              size_t max_candidates, size_t knob_variants = 0,
                                              const PlanCacheSlot& slot = {});

/// Base of the cuDNN convolution kernels: the tactic id they were created with (KernelOptions::tactic or the
/// node's `tactic` attribute) and its parse; tactic() reports it, or "cudnn:heuristic" when it is not one.
class CudnnTacticKernel : public CudaKernel {
 public:
  std::string tactic() const override { return tactic_ ? tactic_id_ : kCudnnHeuristicTactic; }

 protected:
  CudnnTacticKernel(std::string tactic_id, size_t knob_variants)
      : tactic_id_(std::move(tactic_id)), tactic_(CudnnTactic::parse(tactic_id_)), knob_variants_(knob_variants) {}
  /// The knob variants to offer for a convolution with `group` groups and W's dims: the few-channel default
  /// or the build's --knob-variants, the larger.
  size_t knob_variants(int64_t group, const std::vector<int64_t>& w_dims) const {
    return std::max(cudnn_knob_variants(group, w_dims), knob_variants_);
  }
  std::string tactic_id_;
  std::optional<CudnnTactic> tactic_;
  size_t knob_variants_ = 0;
};

/// `tactic`'s plan from `slot`'s cache when it holds one, else `tactic` re-created on its path's graph when it
/// still runs there, else the first ranked config that does (its graph moved out of `graphs`). An unsupported
/// Status (with the last reason) when none runs; `last_error` collects reasons on the way.
Result<PlannedGraph> choose_plan(cudnnHandle_t handle, std::vector<PathGraph>& graphs,
                                 const std::optional<CudnnTactic>& tactic, const ConfigFilter& acceptable,
                                 size_t workspace_limit, std::string& last_error, const PlanCacheSlot& slot = {});

}  // namespace kiln::cuda
