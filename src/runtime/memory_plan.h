// Build-time memory planning: every intermediate value gets a fixed offset in one arena per context,
// sized for the optimization profile's largest shapes. Values whose lifetimes overlap never share bytes;
// graph outputs live until the end of the run (so they are never overwritten) and graph inputs stay in
// the caller's memory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct MemorySlot {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

struct MemoryPlan {
  uint64_t arena_bytes = 0;
  std::map<std::string, MemorySlot> slots;  ///< by value name; values without a slot use the heap
};

/// Alignment of every slot (cache line, and what SIMD kernels want).
constexpr uint64_t kArenaAlignment = 64;

/// Plans the arena. `max_bytes` gives each plannable value's size at the profile's max shapes; values
/// missing from it (data-dependent sizes) are left to the heap. Best fit, largest first.
/// `in_place` maps an output to an input of the same node whose bytes it may take over (a convolution
/// that adds a residual into its output): they share a slot when the input dies at that node, has the same
/// size and is not a graph output.
MemoryPlan plan_memory(const Graph& graph, const std::unordered_map<const Value*, uint64_t>& max_bytes,
                       const std::unordered_map<const Value*, const Value*>& in_place = {});

}  // namespace kiln
