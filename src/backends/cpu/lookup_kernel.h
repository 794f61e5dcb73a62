// kiln.QLookup on the CPU (a threaded table lookup; see lookup_kernel.cc).
#pragma once

#include <memory>

#include "ir/graph.h"
#include "runtime/node_kernel.h"

namespace kiln::cpu {

/// The kernel for a kiln.QLookup node, else null.
std::shared_ptr<const NodeKernel> create_lookup_kernel(const Node& node);

}  // namespace kiln::cpu
