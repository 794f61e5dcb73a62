// The build-time memory plan: overlapping lifetimes never share bytes; in-place pairs share a slot only
// when the input dies at the node that writes the output.
#include <gtest/gtest.h>

#include "ir/text_format.h"
#include "runtime/memory_plan.h"

namespace kiln {
namespace {

// x → a = Relu(x) → b = Relu(a) → c = Add(b, a) → d = Relu(c): a lives until c, so b may not take a's slot,
// but c may take b's (b dies at c) and d may take c's.
Graph chain() {
  auto g = parse_graph(R"(kiln-ir 1
graph "g"
opset "" 13
input %x: f32[4]
node "r1" Relu<13>(%x) -> (%a: f32[4])
node "r2" Relu<13>(%a) -> (%b: f32[4])
node "add" Add<13>(%b, %a) -> (%c: f32[4])
node "r3" Relu<13>(%c) -> (%d: f32[4])
output %d
)");
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::move(g).value();
}

std::unordered_map<const Value*, uint64_t> sizes(const Graph& g) {
  std::unordered_map<const Value*, uint64_t> m;
  for (const char* name : {"a", "b", "c", "d"}) m[g.find_value(name)] = 16;
  return m;
}

bool overlap(const MemorySlot& p, const MemorySlot& q) { return p.offset < q.offset + q.bytes && q.offset < p.offset + p.bytes; }

TEST(MemoryPlan, LiveValuesNeverShareBytes) {
  Graph g = chain();
  MemoryPlan plan = plan_memory(g, sizes(g));
  EXPECT_FALSE(overlap(plan.slots.at("a"), plan.slots.at("b")));
  EXPECT_FALSE(overlap(plan.slots.at("a"), plan.slots.at("c")));  // a is read by the node writing c
  EXPECT_FALSE(overlap(plan.slots.at("b"), plan.slots.at("c")));
}

TEST(MemoryPlan, InPlaceOnlyWhenTheInputDiesThere) {
  Graph g = chain();
  auto v = [&](const char* n) { return static_cast<const Value*>(g.find_value(n)); };
  // b → a is refused (a is still read by "add"); c → b and d → c are granted, forming a chain.
  MemoryPlan plan = plan_memory(g, sizes(g), {{v("b"), v("a")}, {v("c"), v("b")}, {v("d"), v("c")}});
  EXPECT_FALSE(overlap(plan.slots.at("a"), plan.slots.at("b")));
  EXPECT_EQ(plan.slots.at("c").offset, plan.slots.at("b").offset);
  EXPECT_EQ(plan.slots.at("d").offset, plan.slots.at("b").offset);
  // The shared slot stays reserved for the whole chain: a (live until "add") never overlaps it.
  EXPECT_FALSE(overlap(plan.slots.at("a"), plan.slots.at("d")));
}

TEST(MemoryPlan, GraphOutputsAreNeverTakenOver) {
  Graph g = chain();
  g.outputs.push_back(g.find_value("c"));
  auto v = [&](const char* n) { return static_cast<const Value*>(g.find_value(n)); };
  MemoryPlan plan = plan_memory(g, sizes(g), {{v("d"), v("c")}});
  EXPECT_FALSE(overlap(plan.slots.at("c"), plan.slots.at("d")));
}

}  // namespace
}  // namespace kiln
