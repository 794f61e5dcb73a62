#include "passes/pass_util.h"

#include <algorithm>

#include "ir/op_def.h"

namespace kiln::passes {

bool is_graph_output(const Graph& g, const Value* v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

bool is_graph_input(const Graph& g, const Value* v) {
  return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
}

const Tensor* constant_of(const Value* v) { return v && v->is_constant() ? &*v->constant : nullptr; }

Node* sole_reader(const Graph& g, const Value* v) {
  if (!v || is_graph_output(g, v)) return nullptr;
  std::vector<Node*> readers = g.consumers(v);
  return readers.size() == 1 ? readers[0] : nullptr;
}

size_t reader_count(const Graph& g, const Value* v) { return g.consumers(v).size(); }

void make_constant(Value* v, Tensor t) {
  v->type.dtype = t.dtype();
  v->type.shape = Shape::from_dims(t.dims());
  v->constant = std::move(t);
  v->producer = nullptr;
}

bool bypass_node(Graph& g, Node* n, Value* in, Value* out) {
  if (!in || !out || in == out) return false;
  if (!is_graph_output(g, out)) {
    g.replace_all_uses(out, in);
    remove_nodes(g, {n});
    return true;
  }
  // `out` keeps its name: whoever produced `in` writes `out` instead, and readers of `in` read `out`.
  Node* producer = in->producer;
  if (!producer || is_graph_input(g, in) || is_graph_output(g, in) || in->is_constant()) return false;
  if (in->type.dtype != out->type.dtype) return false;
  for (auto& node : g.nodes())
    if (node.get() != n)
      for (Value*& x : node->inputs)
        if (x == in) x = out;
  for (Value*& o : producer->outputs)
    if (o == in) o = out;
  out->type = in->type;
  remove_nodes(g, {n});
  out->producer = producer;
  in->producer = nullptr;
  return true;
}

void remove_nodes(Graph& g, const std::set<const Node*>& doomed) {
  if (doomed.empty()) return;
  g.remove_nodes_if([&](const Node& n) { return doomed.count(&n) > 0; });
}

Status tidy_after_rewrites(Graph& g, size_t rewrites) {
  if (rewrites == 0) return {};
  KILN_RETURN_IF_ERROR(g.topo_sort());
  g.remove_unused_values();
  return {};
}

void ensure_kiln_opset(Graph& g) {
  if (!g.opset_imports.count("kiln")) g.opset_imports["kiln"] = 1;
}

void become_fused(Node* n, const std::string& op_type, std::string name) {
  n->op_type = op_type;
  n->domain = "kiln";
  n->opset = 1;
  n->name = std::move(name);
  n->def = find_op_def("kiln", op_type);
}

bool same_type(const ValueType& a, const ValueType& b) {
  if (a.dtype != b.dtype || !a.shape.has_rank() || !b.shape.has_rank() || a.shape.rank() != b.shape.rank())
    return false;
  for (size_t i = 0; i < a.shape.rank(); ++i) {
    const Dim& x = a.shape[i];
    const Dim& y = b.shape[i];
    if (x.known() ? !(y.known() && x.value == y.value) : (x.symbol.empty() || x.symbol != y.symbol)) return false;
  }
  return true;
}

}  // namespace kiln::passes
