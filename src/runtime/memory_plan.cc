#include "runtime/memory_plan.h"

#include <algorithm>
#include <vector>

namespace kiln {

namespace {
uint64_t align_up(uint64_t x) { return (x + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

struct Interval {
  const Value* value;
  size_t first;  // index of the producing node
  size_t last;   // index of the last reading node (or the end, for graph outputs)
  uint64_t bytes;
};
}  // namespace

MemoryPlan plan_memory(const Graph& graph, const std::unordered_map<const Value*, uint64_t>& max_bytes,
                       const std::unordered_map<const Value*, const Value*>& in_place) {
  const auto& nodes = graph.nodes();
  std::unordered_map<const Value*, Interval> live;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const Value* out : nodes[i]->outputs) {
      auto it = out ? max_bytes.find(out) : max_bytes.end();
      if (it != max_bytes.end()) live[out] = {out, i, i, align_up(std::max<uint64_t>(it->second, 1))};
    }
    for (const Value* in : nodes[i]->inputs) {
      auto it = in ? live.find(in) : live.end();
      if (it != live.end()) it->second.last = i;
    }
  }
  for (const Value* out : graph.outputs) {
    auto it = live.find(out);
    if (it != live.end()) it->second.last = nodes.size();
  }

  // In-place pairs, in node order so a chain (a → b → c) extends its first value's interval to the end.
  std::unordered_map<const Value*, const Value*> shares;  // output -> input whose slot it takes
  auto root_of = [&](const Value* v) {
    while (shares.count(v)) v = shares.at(v);
    return v;
  };
  for (const auto& node : nodes) {
    for (const Value* out : node->outputs) {
      auto pair = out ? in_place.find(out) : in_place.end();
      if (pair == in_place.end()) continue;
      const Value* in = pair->second;
      auto o = live.find(out), i = live.find(in);
      if (o == live.end() || i == live.end() || i->second.bytes != o->second.bytes) continue;
      if (i->second.last != o->second.first) continue;  // the input must die at this node
      if (std::find(graph.outputs.begin(), graph.outputs.end(), in) != graph.outputs.end()) continue;
      Interval& root = live.at(root_of(in));
      root.last = std::max(root.last, o->second.last);
      shares[out] = in;
    }
  }
  std::vector<Interval> order;
  for (auto& [v, iv] : live)
    if (!shares.count(v)) order.push_back(iv);
  // Largest first gives tight packing; ties by position then name keep plans deterministic.
  std::sort(order.begin(), order.end(), [](const Interval& a, const Interval& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.first != b.first) return a.first < b.first;
    return a.value->name < b.value->name;
  });

  MemoryPlan plan;
  struct Placed {
    uint64_t offset, bytes;
    size_t first, last;
  };
  std::vector<Placed> placed;
  for (const Interval& iv : order) {
    // Busy byte ranges during this value's lifetime, sorted by offset.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= iv.last && iv.first <= p.last) busy.push_back({p.offset, p.offset + p.bytes});
    std::sort(busy.begin(), busy.end());
    // Best fit: the smallest gap that holds the value; else after the last busy range.
    uint64_t best = UINT64_MAX, best_gap = UINT64_MAX, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin > cursor && begin - cursor >= iv.bytes && begin - cursor < best_gap) {
        best = cursor;
        best_gap = begin - cursor;
      }
      cursor = std::max(cursor, end);
    }
    if (best == UINT64_MAX) best = cursor;
    placed.push_back({best, iv.bytes, iv.first, iv.last});
    plan.slots[iv.value->name] = {best, iv.bytes};
    plan.arena_bytes = std::max(plan.arena_bytes, best + iv.bytes);
  }
  // Chains (a → b → c) resolve to the first value's slot.
  for (const auto& [out, in] : shares) plan.slots[out->name] = plan.slots.at(root_of(in)->name);
  return plan;
}

}  // namespace kiln
