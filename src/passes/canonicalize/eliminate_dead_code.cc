// Dead-code elimination: removes nodes none of whose outputs is read (by a node or as a graph output),
// walking backwards so whole dead branches go in one pass; omits unread optional outputs (a Dropout mask,
// MaxPool indices, BatchNormalization's training statistics) so kernels may skip them; then drops values
// nothing uses, unused constants included (constants listed as graph inputs stay: the names are the
// model's interface).
#include <set>
#include <unordered_map>

#include "ir/op_def.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

Status eliminate_dead_code(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::unordered_map<const Value*, int> reads;
  for (const auto& n : graph.nodes())
    for (const Value* v : n->inputs)
      if (v) ++reads[v];
  for (const Value* v : graph.outputs) ++reads[v];

  std::set<const Node*> dead;
  const auto& nodes = graph.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node& n = **it;
    bool live = false;
    for (const Value* out : n.outputs) live |= out && reads[out] > 0;
    if (live) {
      // Trailing optional outputs nobody reads become omitted.
      const size_t required = n.def ? static_cast<size_t>(std::max(n.def->min_outputs, 1)) : n.outputs.size();
      for (size_t i = required; i < n.outputs.size(); ++i) {
        if (n.outputs[i] && reads[n.outputs[i]] == 0) {
          n.outputs[i]->producer = nullptr;
          n.outputs[i] = nullptr;
          ++counts["unread_outputs"];
        }
      }
      while (n.outputs.size() > required && !n.outputs.back()) n.outputs.pop_back();
      continue;
    }
    dead.insert(&n);
    for (const Value* v : n.inputs)
      if (v) --reads[v];
  }
  counts["nodes"] += static_cast<int64_t>(dead.size());
  passes::remove_nodes(graph, dead);

  size_t before = graph.values().size();
  size_t constants_before = 0;
  for (const auto& v : graph.values()) constants_before += v->is_constant() && !v->producer;
  graph.remove_unused_values();
  size_t constants_after = 0;
  for (const auto& v : graph.values()) constants_after += v->is_constant() && !v->producer;
  counts["constants"] += static_cast<int64_t>(constants_before - constants_after);
  counts["values"] += static_cast<int64_t>(before - graph.values().size());
  return {};
}

}  // namespace kiln
