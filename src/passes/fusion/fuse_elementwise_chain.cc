// Elementwise-chain fusion: two or more consecutive elementwise steps on one float tensor (unary ops,
// activations, and binary ops with a one-element constant; see activation.h) become one
// kiln.ElementwiseChain, so the data is read and written once. Intermediate values must have no other
// reader. Counted "chains" and "ops" (steps swallowed).
#include "passes/fusion/activation.h"
#include "passes/fusion/fusion_util.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

Status fuse_elementwise_chains(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::vector<Node*> nodes;
  for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  std::set<const Node*> gone;
  for (Node* first : nodes) {
    if (gone.count(first)) continue;
    auto step = passes::match_chain_step(*first);
    if (!step) continue;
    Value* x = step->data;
    std::vector<Node*> chain = {first};
    std::vector<passes::ChainStep> steps = {*step};
    for (;;) {
      Node* next = passes::sole_reader(graph, chain.back()->outputs[0]);
      if (!next) break;
      auto s = passes::match_chain_step(*next);
      if (!s || s->data != chain.back()->outputs[0] || next->outputs[0]->type.dtype != x->type.dtype) break;
      chain.push_back(next);
      steps.push_back(*s);
    }
    if (chain.size() < 2) continue;
    std::vector<std::string> ops;
    std::vector<float> params;
    for (const auto& s : steps) {
      ops.push_back(s.op);
      params.push_back(s.p0);
      params.push_back(s.p1);
    }
    Node* last = chain.back();
    std::string name = first->name;
    std::set<const Node*> doomed(chain.begin(), chain.end() - 1);
    gone.insert(chain.begin(), chain.end());
    passes::remove_nodes(graph, doomed);
    last->attrs.clear();
    last->attrs["ops"] = Attribute::of_strings(ops);
    last->attrs["params"] = Attribute::of_floats(params);
    last->inputs = {x};
    passes::become_fused(last, "ElementwiseChain", name + "_chain");
    passes::ensure_kiln_opset(graph);
    ++counts["chains"];
    counts["ops"] += static_cast<int64_t>(chain.size());
  }
  return {};
}

}  // namespace kiln
