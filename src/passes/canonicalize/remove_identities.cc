// Identity removal: drops nodes that return their input unchanged and rewires their readers.
//
// Removed: Identity; Dropout in inference mode (no training_mode input, or a constant false one) whose mask
// nobody reads; Cast/CastLike to the input's own dtype; Reshape/Flatten/Squeeze/Unsqueeze/Expand whose
// output type equals the input type; Transpose with the identity permutation; Slice (unit steps) and Pad
// (all-zero pads) that keep the shape; single-input Concat, Sum, Max, Min, Mean; Add/Sub of constant zeros
// and Mul/Div by constant ones that broadcast to the input's own shape. Counted per op type. When the
// removed node produces a graph output, the output keeps its name (the input's producer writes it).
#include <set>

#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

using passes::constant_of;

bool all_equal_to(const Tensor* t, double v) {
  if (!t || t->dtype() == DataType::kString || t->dtype() == DataType::kBool) return false;
  for (int64_t i = 0; i < t->size(); ++i)
    if (t->element_as_double(i) != v) return false;
  return true;
}

bool constant_false(const Value* v) {
  const Tensor* t = constant_of(v);
  return t && t->dtype() == DataType::kBool && t->size() == 1 && !t->data<bool>()[0];
}

bool identity_perm(const Node& n) {
  const Shape& s = n.inputs[0]->type.shape;
  if (!s.has_rank()) return false;
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (perm.empty()) return s.rank() <= 1;  // the default reverses the axes
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

bool unit_steps(const Node& n) {
  if (n.opset < 10 || !n.has_input(4)) return true;
  return all_equal_to(constant_of(n.inputs[4]), 1.0);
}

bool zero_pads(const Node& n) {
  if (n.opset < 11) {
    std::vector<int64_t> pads = n.attr_ints(n.opset < 2 ? "paddings" : "pads");
    for (int64_t p : pads)
      if (p != 0) return false;
    return true;
  }
  return all_equal_to(constant_of(n.inputs.size() > 1 ? n.inputs[1] : nullptr), 0.0);
}

// The input a node passes through unchanged, or null.
Value* passthrough_input(const Graph& g, const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || !n.has_input(0) || !n.has_output(0)) return nullptr;
  Value* x = n.inputs[0];
  Value* y = n.outputs[0];
  const std::string& op = n.op_type;
  const bool same = passes::same_type(x->type, y->type);
  const bool single_input = n.inputs.size() == 1;
  if (op == "Identity") return x;
  if (op == "Dropout") {
    bool mask_read = n.has_output(1) && (passes::reader_count(g, n.outputs[1]) > 0 ||
                                         passes::is_graph_output(g, n.outputs[1]));
    bool inference = n.opset < 12 || !n.has_input(2) || constant_false(n.inputs[2]);
    bool training_attr = n.opset < 7 && n.attr_int("is_test", 0) == 0;
    return !mask_read && inference && !training_attr && x->type.dtype == y->type.dtype ? x : nullptr;
  }
  if (!same) return nullptr;
  if (op == "Cast" || op == "CastLike" || op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
      op == "Unsqueeze" || op == "Expand")
    return x;
  if (op == "Transpose") return identity_perm(n) ? x : nullptr;
  if (op == "Slice") return unit_steps(n) ? x : nullptr;
  if (op == "Pad") return zero_pads(n) ? x : nullptr;
  if ((op == "Concat" || op == "Sum" || op == "Max" || op == "Min" || op == "Mean") && single_input) return x;
  if (n.inputs.size() == 2 && (op == "Add" || op == "Sub" || op == "Mul" || op == "Div")) {
    const double neutral = (op == "Add" || op == "Sub") ? 0.0 : 1.0;
    if (all_equal_to(constant_of(n.inputs[1]), neutral)) return x;
    if ((op == "Add" || op == "Mul") && all_equal_to(constant_of(n.inputs[0]), neutral) &&
        passes::same_type(n.inputs[1]->type, y->type))
      return n.inputs[1];
  }
  return nullptr;
}

}  // namespace

Status remove_identities(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::vector<Node*> nodes;
  for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  for (Node* n : nodes) {
    Value* in = passthrough_input(graph, *n);
    if (!in) continue;
    std::string op = n->op_type;
    if (passes::bypass_node(graph, n, in, n->outputs[0])) ++counts[op];
  }
  return {};
}

}  // namespace kiln
