#include "passes/fusion/fuse_swish.h"

#include <optional>
#include <vector>

#include "passes/fusion/fusion_util.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

struct SwishMatch {
  Node* producer;
  Node* sigmoid;
  Node* mul;
};


std::optional<SwishMatch> match(const Graph& g, Node& producer) {
  if (passes::fused_form(producer).empty()) return std::nullopt;
  Value* y = producer.outputs[0];
  if (!is_float(y->type.dtype) || passes::is_graph_output(g, y) || passes::reader_count(g, y) != 2)
    return std::nullopt;
  Node* sigmoid = nullptr;
  Node* mul = nullptr;
  for (const auto& n : g.nodes()) {
    if (passes::is_onnx(n.get(), "Sigmoid") && n->has_input(0) && n->inputs[0] == y) sigmoid = n.get();
    if (passes::is_onnx(n.get(), "Mul") && n->inputs.size() == 2 && (n->inputs[0] == y || n->inputs[1] == y))
      mul = n.get();
  }
  if (!sigmoid || !mul || sigmoid->outputs.size() != 1 || !sigmoid->has_output(0)) return std::nullopt;
  Value* s = sigmoid->outputs[0];
  const bool pair = (mul->inputs[0] == y && mul->inputs[1] == s) || (mul->inputs[0] == s && mul->inputs[1] == y);
  if (!pair || passes::is_graph_output(g, s) || passes::reader_count(g, s) != 1) return std::nullopt;
  if (!mul->has_output(0) || !passes::same_type(mul->outputs[0]->type, y->type)) return std::nullopt;
  return SwishMatch{&producer, sigmoid, mul};
}

}  // namespace

Status fuse_swish(Graph& graph, int64_t* fused) {
  std::vector<SwishMatch> matches;
  for (const auto& n : graph.nodes())
    if (auto m = match(graph, *n)) matches.push_back(*m);
  const passes::Activation swish{"Swish", {}};
  for (const SwishMatch& m : matches) {
    const std::string form = passes::fused_form(*m.producer);
    std::vector<Value*> inputs = m.producer->inputs;
    passes::remove_nodes(graph, {m.sigmoid});
    passes::fuse_into(graph, *m.producer, *m.mul, form, std::move(inputs), &swish);
  }
  if (!matches.empty()) {
    KILN_RETURN_IF_ERROR(graph.topo_sort());
    graph.remove_unused_values();
  }
  if (fused) *fused = static_cast<int64_t>(matches.size());
  return {};
}

}  // namespace kiln
