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
  if (!is_float(y->type.dtype) || passes::is_graph_output(g, y)) return std::nullopt;
  const std::vector<Node*> readers = g.consumers(y);
  if (readers.size() != 2) return std::nullopt;
  Node* sigmoid = nullptr;
  Node* mul = nullptr;
  for (Node* n : readers) {
    if (passes::is_onnx(n, "Sigmoid") && n->inputs.size() == 1 && n->outputs.size() == 1 && n->has_output(0))
      sigmoid = n;
    else if (passes::is_onnx(n, "Mul") && n->inputs.size() == 2 && n->has_output(0))
      mul = n;
  }
  if (!sigmoid || !mul) return std::nullopt;
  Value* s = sigmoid->outputs[0];
  const bool pair = (mul->inputs[0] == y && mul->inputs[1] == s) || (mul->inputs[0] == s && mul->inputs[1] == y);
  if (!pair || passes::sole_reader(g, s) != mul) return std::nullopt;
  if (!passes::same_type(mul->outputs[0]->type, y->type)) return std::nullopt;
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
  KILN_RETURN_IF_ERROR(passes::tidy_after_rewrites(graph, matches.size()));
  if (fused) *fused = static_cast<int64_t>(matches.size());
  return {};
}

}  // namespace kiln
