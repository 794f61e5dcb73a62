// Kernel choice for CUDA engines: every node must have a CUDA kernel (those that do not are listed
// together; with --allow-cpu-fallback they run on the host), and where a kernel offers several tactics
// (cuDNN engine configs, cuBLASLt algorithms) each is timed on the GPU at the profile's opt shapes and the
// fastest stored in the node's `tactic` attribute. The timing cache (builder/timing_cache.h) is keyed by
// GPU, driver, CUDA, cuDNN and cuBLASLt versions.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "core/shape.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct CudaTacticOptions {
  std::string timing_cache;
  bool time_tactics = true;
  bool allow_tf32 = false;
  bool allow_cpu_fallback = false;
  uint64_t workspace_limit = uint64_t{1} << 30;
  /// Only candidates whose ids start with one of these (tactic_sources.h); empty: all.
  std::vector<std::string> tactic_prefixes;
  /// Kernel-config variants every cuDNN convolution offers (KernelOptions::knob_variants).
  size_t knob_variants = 0;
};

struct CudaTacticReport {
  size_t nodes_on_gpu = 0, nodes_on_host = 0;
  size_t nodes_with_choice = 0, timed = 0, from_cache = 0;
  /// Of `timed`: tactics that ran the cuDNN plan the candidate listing had finalized (CudnnPlanCache).
  size_t timed_with_listed_plan = 0;
  /// Nodes whose candidates all came from sources --tactic-sources leaves out (they keep the default).
  size_t nodes_outside_sources = 0;
  double seconds = 0;
  /// Of `seconds`: listing candidates (cuDNN finalizes each plan it offers) and creating the timed kernels
  /// (plans the listing did not keep), as opposed to running them; runtime-compiled cuDNN engines make this the
  /// larger part.
  double planning_seconds = 0;
  std::string to_string() const;
};

/// The GPU this build runs on, for the engine's metadata ("backend": name, compute capability, versions).
Result<nlohmann::json> cuda_backend_metadata();

/// Chooses and records the tactics (see above); `kernels` receives node name → tactic for the metadata.
/// `opt_dims`: every non-constant value's dims at the profile's opt shapes.
Status choose_cuda_tactics(Graph& graph, const std::map<std::string, Dims>& opt_dims, const CudaTacticOptions& options,
                           nlohmann::json* kernels, CudaTacticReport* report);

}  // namespace kiln
