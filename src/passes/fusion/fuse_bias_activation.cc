// Bias and activation fusion into Conv, Gemm and MatMul.
//
// Bias: Conv -> Add(per-channel constant [C,1,..] or [1,C,1,..]) folds the constant into Conv's bias
// ("conv_bias"); Gemm without C -> Add(constant along N) becomes Gemm's C ("gemm_bias"); MatMul ->
// Add(constant that broadcasts into the product) becomes kiln.FusedMatMul(A, B, bias) ("matmul_bias").
// Activation: Conv/Gemm/MatMul (or a fused form without an activation yet) whose only reader is one of the
// activations of activation.h becomes kiln.FusedConv/FusedGemm/FusedMatMul with `activation` set
// (counted per activation, e.g. "Conv+Relu"). Only values read by nothing else are swallowed.
#include "passes/fusion/fusion_util.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

using passes::constant_of;

// The Add reading `v` as its only reader, and the other operand; null when there is none.
std::pair<Node*, Value*> sole_add(const Graph& g, Value* v) {
  Node* add = passes::sole_reader(g, v);
  if (!passes::is_onnx(add, "Add") || add->inputs.size() != 2 || add->inputs[0] == add->inputs[1]) return {};
  return {add, add->inputs[0] == v ? add->inputs[1] : add->inputs[0]};
}

// Values of a constant that varies along `axis` of an output of rank `rank` only; nullopt otherwise.
std::optional<std::vector<double>> along_axis(const Tensor* t, size_t rank, size_t axis, int64_t extent) {
  if (!t || t->rank() > static_cast<int64_t>(rank)) return std::nullopt;
  const int64_t offset = static_cast<int64_t>(rank) - t->rank();
  for (int64_t a = 0; a < t->rank(); ++a)
    if (a + offset != static_cast<int64_t>(axis) && t->dim(a) != 1) return std::nullopt;
  if (t->size() == 1) return std::vector<double>(static_cast<size_t>(extent), t->element_as_double(0));
  if (t->size() != extent) return std::nullopt;
  return t->to_double_vector();
}

Result<Tensor> doubles_as(DataType dtype, const std::vector<double>& v) {
  Tensor t(dtype, {static_cast<int64_t>(v.size())});
  KILN_RETURN_IF_ERROR(visit_float(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = static_cast<T>(static_cast<compute_type_t<T>>(v[i]));
    return {};
  }));
  return t;
}

// The producer takes over the Add's output and the Add goes.
void absorb_add(Graph& g, Node& producer, Node& add) {
  Value* y = add.outputs[0];
  passes::remove_nodes(g, {&add});
  producer.outputs[0] = y;
  y->producer = &producer;
}

Result<bool> fuse_conv_bias(Graph& g, Node& conv, PassCounts& counts) {
  Value* out = conv.outputs[0];
  auto [add, other] = sole_add(g, out);
  const Shape& s = out->type.shape;
  if (!add || !s.has_rank() || s.rank() < 3 || !s[1].known()) return false;
  if (!passes::same_type(add->outputs[0]->type, out->type)) return false;
  auto bias = along_axis(constant_of(other), s.rank(), 1, s[1].value);
  if (!bias || other->type.dtype != out->type.dtype) return false;
  if (conv.has_input(2)) {
    const Tensor* b = constant_of(conv.inputs[2]);
    if (!b || b->size() != s[1].value) return false;
    for (size_t c = 0; c < bias->size(); ++c) (*bias)[c] += b->element_as_double(static_cast<int64_t>(c));
  }
  KILN_ASSIGN_OR_RETURN(Tensor bt, doubles_as(out->type.dtype, *bias));
  conv.inputs.resize(3);
  conv.inputs[2] = kiln::add_constant(g, conv.name + "_bias", std::move(bt));
  absorb_add(g, conv, *add);
  ++counts["conv_bias"];
  return true;
}

bool fuse_gemm_bias(Graph& g, Node& gemm, PassCounts& counts) {
  Value* out = gemm.outputs[0];
  auto [add, other] = sole_add(g, out);
  const Shape& s = out->type.shape;
  if (!add || gemm.has_input(2) || !s.has_rank() || s.rank() != 2 || !s[1].known()) return false;
  if (!passes::same_type(add->outputs[0]->type, out->type) || other->type.dtype != out->type.dtype) return false;
  if (!along_axis(constant_of(other), 2, 1, s[1].value)) return false;
  gemm.inputs.resize(3);
  gemm.inputs[2] = other;
  gemm.attrs["beta"] = Attribute::of_float(1.0f);
  absorb_add(g, gemm, *add);
  ++counts["gemm_bias"];
  return true;
}

bool fuse_matmul_bias(Graph& g, Node& matmul, PassCounts& counts) {
  Value* out = matmul.outputs[0];
  auto [add, other] = sole_add(g, out);
  if (!add || !other->is_constant() || other->type.dtype != out->type.dtype) return false;
  if (!passes::same_type(add->outputs[0]->type, out->type)) return false;  // the bias must not broadcast up
  passes::fuse_into(g, matmul, *add, "FusedMatMul", {matmul.inputs[0], matmul.inputs[1], other}, nullptr);
  ++counts["matmul_bias"];
  return true;
}

bool fuse_activation(Graph& g, Node& producer, PassCounts& counts) {
  std::string fused = passes::fused_form(producer);
  if (fused.empty()) return false;
  Node* act = passes::sole_reader(g, producer.outputs[0]);
  if (!act) return false;
  auto a = passes::match_activation(*act);
  if (!a || act->inputs[0] != producer.outputs[0]) return false;
  if (act->outputs[0]->type.dtype != producer.outputs[0]->type.dtype) return false;
  std::string label = (producer.domain.empty() ? producer.op_type : producer.op_type.substr(5)) + "+" + a->op;
  passes::fuse_into(g, producer, *act, fused, producer.inputs, &*a);
  ++counts[label];
  return true;
}

}  // namespace

Status fuse_bias_activation(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::vector<Node*> nodes;
  for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  // Biases first, so the activation fusion sees the biased op. Nodes removed by a fusion are never
  // visited again: a fusion only removes the node being visited or a later one, which is skipped below.
  std::set<const Node*> gone;
  for (Node* n : nodes) {
    if (gone.count(n) || n->outputs.size() != 1 || !n->has_output(0)) continue;
    Node* next = passes::sole_reader(graph, n->outputs[0]);
    if (passes::is_onnx(n, "Conv")) {
      KILN_ASSIGN_OR_RETURN(bool done, fuse_conv_bias(graph, *n, counts));
      if (done) gone.insert(next);
    } else if (passes::is_onnx(n, "Gemm")) {
      if (fuse_gemm_bias(graph, *n, counts)) gone.insert(next);
    } else if (passes::is_onnx(n, "MatMul")) {
      if (fuse_matmul_bias(graph, *n, counts)) gone.insert(n);
    }
  }
  nodes.clear();
  for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  gone.clear();
  for (Node* n : nodes) {
    if (gone.count(n)) continue;
    if (fuse_activation(graph, *n, counts)) gone.insert(n);
  }
  return {};
}

}  // namespace kiln
