// Residual-add fusion: Conv -> Add(Z) [-> activation] becomes kiln.FusedConv(X, W, B, Z) with the
// activation, computing activation(Conv(X, W, B) + Z) in one node. Z must have exactly the Conv output's
// type (no broadcasting: a broadcast addend is a bias, see fuse_bias_activation) and must not be a
// constant. Counted "residual" and "residual+<activation>".
#include "passes/fusion/fusion_util.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

bool fuse_residual(Graph& g, Node& conv, PassCounts& counts) {
  const bool bare = passes::is_onnx(&conv, "Conv") ||
                    (passes::is_kiln(&conv, "FusedConv") && !conv.has_input(3) &&
                     conv.attr_string("activation").empty());
  if (!bare || conv.outputs.size() != 1 || !conv.has_output(0)) return false;
  Value* out = conv.outputs[0];
  Node* add = passes::sole_reader(g, out);
  if (!passes::is_onnx(add, "Add") || add->inputs.size() != 2 || add->inputs[0] == add->inputs[1]) return false;
  Value* z = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
  if (!z || z->is_constant() || !passes::same_type(z->type, out->type) ||
      !passes::same_type(add->outputs[0]->type, out->type))
    return false;
  std::vector<Value*> inputs = {conv.inputs[0], conv.inputs[1], conv.has_input(2) ? conv.inputs[2] : nullptr, z};
  Node* last = add;
  std::optional<passes::Activation> act;
  if (Node* r = passes::sole_reader(g, add->outputs[0])) {
    act = passes::match_activation(*r);
    if (act && r->inputs[0] == add->outputs[0] && r->outputs[0]->type.dtype == out->type.dtype) {
      last = r;
      passes::remove_nodes(g, {add});
    } else {
      act.reset();
    }
  }
  passes::fuse_into(g, conv, *last, "FusedConv", inputs, act ? &*act : nullptr);
  ++counts[act ? "residual+" + act->op : "residual"];
  return true;
}

}  // namespace

Status fuse_residual_add(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::vector<Node*> nodes;
  for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  std::set<const Node*> gone;
  for (Node* n : nodes) {
    if (gone.count(n)) continue;
    Node* add = n->outputs.size() == 1 && n->has_output(0) ? passes::sole_reader(graph, n->outputs[0]) : nullptr;
    if (fuse_residual(graph, *n, counts)) gone.insert(add);  // the Add went (or became the fused node)
  }
  return {};
}

}  // namespace kiln
