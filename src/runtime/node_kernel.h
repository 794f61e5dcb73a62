// NodeKernel: one node's fast implementation (a backend "tactic"), created once per engine — weights
// already packed — and run by any number of execution contexts at once, so `run` must not mutate shared
// state without synchronization. Nodes without one run on the reference kernels.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/ref/kernel.h"
#include "kiln/status.h"

namespace kiln {

class NodeKernel {
 public:
  virtual ~NodeKernel() = default;
  /// Computes the node's outputs from ctx's inputs (same contract as a reference kernel).
  virtual Status run(ref::KernelContext& ctx) const = 0;
  /// The tactic id shown by `kiln inspect` and profiles, e.g. "onednn:brgconv:avx512_core".
  virtual std::string tactic() const = 0;
};

/// Per node of a graph (same order as graph.nodes()): its fast kernel, or null for the reference kernel.
using NodeKernels = std::vector<std::shared_ptr<const NodeKernel>>;

}  // namespace kiln
