#include "passes/precision/fold_qdq_lookup.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "backends/ref/kernel.h"
#include "backends/ref/qlookup.h"
#include "ir/op_def.h"
#include "passes/fusion/fusion_util.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

using passes::is_onnx;

// A constant with one element (a scale, a zero point).
bool one_element_constant(const Value* v) {
  const Tensor* t = passes::constant_of(v);
  return t && t->size() == 1;
}

// Whether `n` computes each element from the same element of region values alone: a chain step (an
// activation, a unary float op, a binary op with a scalar constant) on a region value, or a binary op of two
// region values of the same shape.
bool elementwise_in(const Node& n, const std::set<Value*>& region) {
  if (auto step = passes::match_chain_step(n)) return region.count(step->data) > 0;
  return passes::is_binary_elementwise(n) && region.count(n.inputs[0]) && region.count(n.inputs[1]) &&
         passes::same_type(n.inputs[0]->type, n.inputs[1]->type);
}

// A per-tensor QuantizeLinear / DequantizeLinear (one-element constant scale and zero point, no block size).
bool per_tensor_qdq(const Node& n) {
  if (!n.has_input(0) || !n.has_input(1) || !one_element_constant(n.inputs[1])) return false;
  if (n.has_input(2) && !one_element_constant(n.inputs[2])) return false;
  return n.attr_int("block_size", 0) == 0 && n.outputs.size() == 1 && n.has_output(0);
}

struct Region {
  Node* dq;
  std::vector<Node*> nodes;  // in topological order
  Node* q;                   // the QuantizeLinear that ends it (an 8-bit table), or null (a float table)
  Value* exit = nullptr;     // what the lookup computes: q's output, or the one region value read outside
};

std::optional<Region> match(const Graph& g, Node& dq) {
  if (!is_onnx(&dq, "DequantizeLinear") || !per_tensor_qdq(dq) || !is_8bit_integer(dq.inputs[0]->type.dtype))
    return std::nullopt;
  Value* v = dq.outputs[0];
  const Shape& shape = v->type.shape;
  if (!shape.has_rank() || passes::is_graph_output(g, v)) return std::nullopt;
  std::set<Value*> in_region = {v};
  Region r{&dq, {}, nullptr};
  // Walk readers in topological order (g.nodes() is sorted): a node joins when it reads a region value.
  for (const auto& up : g.nodes()) {
    Node& n = *up;
    if (&n == &dq) continue;
    bool reads = false;
    for (Value* in : n.inputs) reads = reads || (in && in_region.count(in));
    if (!reads) continue;
    if (is_onnx(&n, "QuantizeLinear")) {
      if (r.q || !per_tensor_qdq(n) || !in_region.count(n.inputs[0]) || !is_8bit_integer(n.outputs[0]->type.dtype))
        return std::nullopt;
      r.q = &n;
      continue;
    }
    if (r.q) return std::nullopt;  // nothing of the region after its QuantizeLinear
    // A reader that is not elementwise in region values alone (a pool, squeeze-excite's Mul by another
    // tensor) stays outside: what it reads is the region's exit (checked below).
    if (!elementwise_in(n, in_region)) continue;
    Value* out = n.outputs[0];
    if (out->type.dtype != v->type.dtype || !(out->type.shape == shape) || passes::is_graph_output(g, out))
      return std::nullopt;
    in_region.insert(out);
    r.nodes.push_back(&n);
  }
  if (r.nodes.empty()) return std::nullopt;
  // Every region value is read inside the region only, except the exit: the Q's output, or without a Q the one
  // value read outside.
  for (Value* rv : in_region) {
    bool outside = false;
    for (const Node* reader : g.consumers(rv))
      if (reader != r.q && std::find(r.nodes.begin(), r.nodes.end(), reader) == r.nodes.end()) outside = true;
    if (!outside) continue;
    if (r.q || r.exit) return std::nullopt;
    r.exit = rv;
  }
  if (r.q) r.exit = r.q->outputs[0];
  if (!r.exit || r.exit == v) return std::nullopt;
  return r;
}

// The region's output for each of the 256 inputs: its nodes run in order on the reference kernels.
Result<Tensor> lookup_table(const Region& r) {
  const DataType x_type = r.dq->inputs[0]->type.dtype;
  Tensor x(x_type, {256});
  auto* p = static_cast<uint8_t*>(x.raw());
  const uint8_t flip = ref::qlookup_index_flip(x_type);  // table index i holds the input whose byte is i ^ flip
  for (int i = 0; i < 256; ++i) p[i] = static_cast<uint8_t>(i) ^ flip;
  std::map<const Value*, Tensor> values = {{r.dq->inputs[0], x}};
  std::vector<Node*> chain = {r.dq};
  chain.insert(chain.end(), r.nodes.begin(), r.nodes.end());
  if (r.q) chain.push_back(r.q);
  for (const Node* n : chain) {
    std::vector<const Tensor*> inputs;
    for (const Value* in : n->inputs) {
      if (!in) { inputs.push_back(nullptr); continue; }
      auto it = values.find(in);
      inputs.push_back(it != values.end() ? &it->second : passes::constant_of(in));
    }
    ref::KernelFn fn = ref::find_kernel(n->domain, n->op_type);
    if (!fn) return Status::internal(fmt::format("{}: no reference kernel", n->describe()));
    std::vector<Tensor> outs(1);
    ref::KernelContext ctx(*n, std::move(inputs), &outs);
    KILN_RETURN_IF_ERROR(fn(ctx));
    values[n->outputs[0]] = std::move(outs[0]);
  }
  Tensor table = values.at(r.exit);
  if (table.size() != 256)
    return Status::internal(fmt::format("{}: the table is {}, expected 256 values", r.dq->describe(),
                                        table.type_string()));
  return table;
}

}  // namespace

Status fold_qdq_lookup(Graph& graph, int64_t* folded) {
  // Regions are disjoint: each node of one reads only values of its own DequantizeLinear's region.
  std::vector<Region> regions;
  for (const auto& n : graph.nodes())
    if (auto r = match(graph, *n)) regions.push_back(*r);
  for (const Region& r : regions) {
    KILN_ASSIGN_OR_RETURN(Tensor table, lookup_table(r));
    Value* t = add_constant(graph, r.exit->name + "__lookup", std::move(table));
    // The node that wrote the exit becomes the lookup (keeping its output); the rest of the region goes.
    Node& last = r.q ? *r.q : *r.exit->producer;
    std::set<const Node*> doomed(r.nodes.begin(), r.nodes.end());
    doomed.insert(r.dq);
    doomed.erase(&last);
    Value* x = r.dq->inputs[0];
    passes::remove_nodes(graph, doomed);
    last.inputs = {x, t};
    last.attrs.clear();
    passes::become_fused(&last, "QLookup", last.name);
    passes::ensure_kiln_opset(graph);
  }
  KILN_RETURN_IF_ERROR(passes::tidy_after_rewrites(graph, regions.size()));
  if (folded) *folded = static_cast<int64_t>(regions.size());
  return {};
}

}  // namespace kiln
