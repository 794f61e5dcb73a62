// The CPU backend's entry points: kernels for a graph (at engine load, or for calibration), and weight
// packing at build time.
#pragma once

#include "backends/backend_capabilities.h"
#include "ir/graph.h"
#include "kiln/status.h"
#include "runtime/node_kernel.h"

namespace kiln::cpu {

/// The CPU backend runs Swish as a oneDNN post-op and lookup tables with its own kernel; a space-to-depth stem
/// gains nothing on oneDNN's direct convolutions.
inline constexpr BackendCapabilities kCapabilities{.swish_activation = true, .lookup_tables = true,
                                                    .space_to_depth_stems = false};

/// A kernel of kiln's own (not a oneDNN primitive) for the node, else null: kiln.QLookup (lookup_kernel.h).
std::shared_ptr<const NodeKernel> create_own_cpu_kernel(const Node& node);

/// Per node: kiln's own kernel, else a oneDNN kernel, else null (the reference kernel runs it).
Result<NodeKernels> create_cpu_kernels(const Graph& graph);

struct PackReport {
  size_t nodes_packed = 0;
  size_t nodes_left_plain = 0;  ///< packing would have grown them by over 1% (padding); packed at load
  uint64_t bytes_before = 0, bytes_after = 0;
};

/// Build time: replaces the weights of every oneDNN-run node by a blob in the layout its primitive wants at
/// the profile's opt shapes, unless that layout is over 1% larger than the plain weights;  (`opt_input_dims`: node input 0's dims at opt, per node name; nodes missing there
/// are packed for their declared static shape or left plain). Marks packed nodes with `weight_packing`.
Status pack_cpu_weights(Graph& graph, const std::map<std::string, Dims>& opt_input_dims, PackReport* report = nullptr);

}  // namespace kiln::cpu
