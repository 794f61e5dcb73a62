#include "passes/precision/quantize_int8.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "quant/weight_quant.h"

namespace kiln {

namespace {

std::string op_key(const Node& n) { return n.domain.empty() ? n.op_type : n.domain + "." + n.op_type; }

enum class Kind { kNone, kCompute, kData };

Kind kind_of(const Node& n) {
  static const std::set<std::string> compute = {"Conv", "kiln.FusedConv", "Gemm", "kiln.FusedGemm", "MatMul",
                                                "kiln.FusedMatMul"};
  // Exact on int8 data when the output keeps the input's scale (fold_qdq moves them onto the int8 data).
  static const std::set<std::string> data = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze",
                                             "Unsqueeze", "Relu", "Pad", "Concat"};
  std::string key = op_key(n);
  if (compute.count(key)) return Kind::kCompute;
  if (data.count(key)) return Kind::kData;
  return Kind::kNone;
}

// The inputs that carry quantized activations: x (and FusedConv's residual Z), or every Concat input.
std::vector<size_t> activation_inputs(const Node& n) {
  if (n.op_type == "Concat") {
    std::vector<size_t> all(n.inputs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }
  if (op_key(n) == "kiln.FusedConv" && n.has_input(3)) return {0, 3};
  return {0};
}

bool is_gemm(const Node& n) { return op_key(n) == "Gemm" || op_key(n) == "kiln.FusedGemm"; }

// The channel axis of the weight (input 1) of a compute node.
int64_t weight_axis(const Node& n) {
  if (n.op_type.find("Conv") != std::string::npos) return 0;
  if (is_gemm(n) && n.attr_int("transB", 0) != 0) return 0;
  return 1;
}

int64_t extent_or_1(const Shape& s, size_t i) { return s.has_rank() && i < s.rank() && s[i].known() ? s[i].value : 1; }

// Why a compute node cannot run in int8 for structural reasons (empty: it can).
std::string compute_blocker(const Node& n) {
  if (!n.has_input(1) || !n.inputs[1]->is_constant() || n.inputs[1]->producer) return "weights are not constant";
  const Tensor& w = *n.inputs[1]->constant;
  if (w.dtype() != DataType::kF32) return "weights are not f32";
  bool conv = n.op_type.find("Conv") != std::string::npos;
  if (conv && w.rank() < 3) return "conv weight rank < 3";
  if (!conv && w.rank() != 2) return "weight is not 2-D";
  if (is_gemm(n) && (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.0f) != 1.0f ||
                     (n.has_input(2) && n.attr_float("beta", 1.0f) != 1.0f)))
    return "Gemm with transA or alpha/beta != 1";
  int64_t channels = w.dim(weight_axis(n));
  if (n.has_input(2)) {
    const Value* b = n.inputs[2];
    if (!b->is_constant() || b->producer || b->constant->dtype() != DataType::kF32 ||
        (b->constant->size() != channels && b->constant->size() != 1))
      return fmt::format("bias is not a constant f32 of {} elements", channels);
  }
  if (n.domain == "kiln") {
    std::string act = n.attr_string("activation");
    if (!act.empty() && act != "Relu" && !(act == "Clip" && n.attr_floats("activation_params").size() == 2))
      return fmt::format("activation {} has no int8 form (Relu and Clip do)", act);
  }
  if (op_key(n) == "kiln.FusedConv" && n.has_input(3)) {
    const Shape& z = n.inputs[3]->type.shape;
    const Shape& y = n.outputs[0]->type.shape;
    // Same extents or the same symbols (the batch N): the kernel adds Z element by element.
    if (!z.has_rank() || z.to_string() != y.to_string() || z.to_string().find('?') != std::string::npos)
      return "residual Z does not have the output's shape";
  }
  return "";
}

std::string data_blocker(const Node& n) {
  if (n.op_type == "MaxPool" && n.has_output(1)) return "MaxPool with Indices output";
  if (n.op_type == "Pad" && n.attr_string("mode", "constant") == "constant" && n.has_input(2)) {
    const Value* c = n.inputs[2];
    if (!c->is_constant() || c->constant->size() > 1 || (c->constant->size() == 1 && c->constant->element_as_double(0) != 0))
      return "Pad value is not a constant 0";
  }
  return "";
}

class Rewriter {
 public:
  Rewriter(Graph& g, const Int8Options& o, Int8Report& r) : g_(g), options_(o), r_(r) {
    int opset = g.opset_imports.count("") ? g.opset_imports.at("") : 13;
    opset_ = std::max(opset, 13);  // per-axis DequantizeLinear
  }

  std::map<const Value*, float> scale;  // per-tensor activation scales (calibrated, then propagated)
  std::set<const Node*> int8;

  Status rewrite();

 private:
  Value* scalar(const std::string& name, Tensor t) { return add_constant(g_, name, std::move(t)); }
  Node* add(const std::string& op, const std::string& name, std::vector<Value*> inputs, Value* output) {
    auto n = make_node(op, name, opset_, std::move(inputs), {output});
    output->producer = n.get();
    new_nodes_.push_back(std::move(n));
    return new_nodes_.back().get();
  }
  // Q(from) -> q -> DQ -> `to` (created when null) with the scale of `key`. Returns `to`.
  Value* qdq(Value* from, const Value* key, Value* to, const std::string& base);
  Result<Value*> quantized_weight(Node& n);

  Graph& g_;
  const Int8Options& options_;
  Int8Report& r_;
  int opset_;
  std::map<const Value*, Value*> dq_of_;      // float value -> its Q/DQ'd copy (for int8 readers)
  std::map<const Value*, Value*> weight_of_;  // float weight -> DQ of its int8 version
  std::vector<std::unique_ptr<Node>> new_nodes_;
};

Value* Rewriter::qdq(Value* from, const Value* key, Value* to, const std::string& base) {
  Value* s = scalar(base + "_scale", Tensor::scalar<float>(scale.at(key)));
  Value* zp = scalar(base + "_zero_point", Tensor::scalar<int8_t>(0));
  Value* q = g_.add_value(base + "_quantized", {DataType::kI8, from->type.shape});
  add("QuantizeLinear", base + "_quantize", {from, s, zp}, q);
  if (!to) to = g_.add_value(base + "_dequantized", from->type);
  add("DequantizeLinear", base + "_dequantize", {q, s, zp}, to);
  ++r_.qdq_pairs_inserted;
  return to;
}

Result<Value*> Rewriter::quantized_weight(Node& n) {
  Value* w = n.inputs[1];
  if (auto it = weight_of_.find(w); it != weight_of_.end()) return it->second;
  const Tensor& t = *w->constant;
  int64_t axis = weight_axis(n);
  QuantizedWeights qw;
  if (options_.per_channel_weights) {
    KILN_ASSIGN_OR_RETURN(qw, quantize_weights_per_channel(t, axis));
  } else {  // one channel spanning the whole tensor
    qw.values = Tensor(DataType::kI8, t.dims());
    KILN_ASSIGN_OR_RETURN(qw.scales, quantize_weights_per_channel(t.span<float>(), 1, 1, t.size(), qw.values.span<int8_t>()));
  }
  int64_t channels = static_cast<int64_t>(qw.scales.size());
  Value* wq = scalar(w->name + "_int8", qw.values);
  Value* s = scalar(w->name + "_scale", channels == 1 ? Tensor::scalar<float>(qw.scales[0])
                                                      : Tensor::from_vector<float>(qw.scales, {channels}));
  Value* zp = scalar(w->name + "_zero_point", channels == 1 ? Tensor(DataType::kI8, {}) : Tensor(DataType::kI8, {channels}));
  Value* out = g_.add_value(w->name + "_dequantized", w->type);
  Node* dq = add("DequantizeLinear", w->name + "_dequantize", {wq, s, zp}, out);
  dq->attrs["axis"] = Attribute::of_int(axis);
  weight_of_[w] = out;
  ++r_.weights_quantized;
  return out;
}

Status Rewriter::rewrite() {
  std::vector<Node*> nodes;
  for (const auto& n : g_.nodes())
    if (int8.count(n.get())) nodes.push_back(n.get());
  for (Node* n : nodes) {
    // Activations from float producers (or graph inputs) are quantized at the border; those from int8
    // producers are already the DQ output written below.
    for (size_t i : activation_inputs(*n)) {
      Value* v = n->inputs[i];
      if (v->producer && int8.count(v->producer)) continue;
      auto it = dq_of_.find(v);
      if (it == dq_of_.end()) it = dq_of_.emplace(v, qdq(v, v, nullptr, v->name)).first;
      n->inputs[i] = it->second;
    }
    if (kind_of(*n) == Kind::kCompute) {
      KILN_ASSIGN_OR_RETURN(n->inputs[1], quantized_weight(*n));
    }
    // The node now writes `<y>_prequant`; Q/DQ writes the original value, so readers and the graph output
    // keep their name and see exactly what the int8 node produces.
    Value* y = n->outputs[0];
    Value* pre = g_.add_value(y->name + "_prequant", y->type);
    pre->producer = n;
    n->outputs[0] = pre;
    qdq(pre, y, y, y->name);
  }
  for (auto& n : new_nodes_) g_.add_node(std::move(n));
  g_.remove_unused_values();
  KILN_RETURN_IF_ERROR(g_.topo_sort());
  return infer_shapes(g_);
}

bool valid_scale(float s) { return std::isfinite(s) && s > 0; }

}  // namespace

int64_t node_macs(const Node& n) {
  if (kind_of(n) != Kind::kCompute || !n.has_input(1) || !n.has_output(0)) return 0;
  const Shape& w = n.inputs[1]->type.shape;
  const Shape& y = n.outputs[0]->type.shape;
  if (!w.has_rank() || !y.has_rank()) return 0;
  int64_t macs = 1;
  for (size_t i = 1; i < y.rank(); ++i) macs *= extent_or_1(y, i);  // output elements, batch (dim 0) as 1
  if (n.op_type.find("Conv") != std::string::npos) {
    for (size_t i = 1; i < w.rank(); ++i) macs *= extent_or_1(w, i);  // C/group · kernel per output element
  } else if (is_gemm(n)) {
    macs *= extent_or_1(w, n.attr_int("transB", 0) ? 1 : 0);
  } else {
    macs *= extent_or_1(w, w.rank() >= 2 ? w.rank() - 2 : 0);
    if (y.rank() == 1) macs = extent_or_1(y, 0) * extent_or_1(w, 0);  // vector result: nothing is the batch
  }
  return macs;
}

std::vector<std::string> tensors_to_calibrate(const Graph& graph) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  auto add = [&](const Value* v) {
    if (v && v->type.dtype == DataType::kF32 && !v->is_constant() && seen.insert(v->name).second) names.push_back(v->name);
  };
  for (const auto& n : graph.nodes()) {
    if (kind_of(*n) == Kind::kNone) continue;
    for (size_t i : activation_inputs(*n))
      if (n->has_input(i)) add(n->inputs[i]);
    if (n->has_output(0)) add(n->outputs[0]);
  }
  return names;
}

std::string Int8Report::to_string() const {
  std::string s = fmt::format("int8: {} of {} nodes in int8, {:.1f}% of {} MACs", nodes_int8, nodes_int8 + nodes_float,
                              100.0 * int8_mac_share(), macs_total);
  for (const Int8NodeDecision& d : nodes)
    if (!d.int8) s += fmt::format("\n  {} '{}': float ({})", d.op_type, d.node, d.reason);
  return s;
}

Status quantize_int8(Graph& graph, const CalibrationTable& table, const Int8Options& options, Int8Report* report) {
  Int8Report local;
  Int8Report& r = report ? *report : local;
  KILN_RETURN_IF_ERROR(infer_shapes(graph));
  Rewriter rw(graph, options, r);
  for (const auto& v : graph.values())
    if (auto it = table.scales.find(v->name); it != table.scales.end() && valid_scale(it->second))
      rw.scale[v.get()] = it->second;
  auto scale_name = [&](const Value* v) {
    auto it = table.scales.find(v->name);
    return it == table.scales.end() ? fmt::format("no calibration scale for '{}'", v->name)
                                    : fmt::format("calibration scale for '{}' is {} (not > 0)", v->name, it->second);
  };
  // TensorRT unifies a Concat's input and output scales so the concatenation is a plain copy; the largest
  // scale keeps every input inside its range.
  for (const auto& n : graph.nodes()) {
    if (n->op_type != "Concat" || !n->domain.empty() || !n->has_output(0)) continue;
    float m = 0;
    bool all = rw.scale.count(n->outputs[0]) > 0;
    for (const Value* v : n->inputs) all = all && v && rw.scale.count(v);
    if (!all) continue;
    m = rw.scale[n->outputs[0]];
    for (const Value* v : n->inputs) m = std::max(m, rw.scale[v]);
    for (const Value* v : n->inputs) rw.scale[v] = m;
    rw.scale[n->outputs[0]] = m;
  }

  for (const auto& n : graph.nodes()) {
    Int8NodeDecision d{n->name, op_key(*n), false, "", node_macs(*n)};
    Kind kind = kind_of(*n);
    if (kind == Kind::kNone) {
      d.reason = fmt::format("no int8 kernel for {}", d.op_type);
    } else if (options.keep_fp32.count(n->name) || options.keep_fp32.count(d.op_type)) {
      d.reason = fmt::format("kept in float by keep_fp32 ('{}')", options.keep_fp32.count(n->name) ? n->name : d.op_type);
    } else if (!n->has_output(0) || n->outputs[0]->type.dtype != DataType::kF32 || !n->has_input(0) ||
               n->inputs[0]->type.dtype != DataType::kF32) {
      d.reason = "not an f32 node";
    } else if (std::string b = kind == Kind::kCompute ? compute_blocker(*n) : data_blocker(*n); !b.empty()) {
      d.reason = b;
    } else {
      for (size_t i : activation_inputs(*n))
        if (d.reason.empty() && (!n->has_input(i) || !rw.scale.count(n->inputs[i])))
          d.reason = n->has_input(i) ? scale_name(n->inputs[i]) : "missing input";
      const Value* y = n->outputs[0];
      if (d.reason.empty() && kind == Kind::kCompute && !rw.scale.count(y)) d.reason = scale_name(y);
      if (d.reason.empty() && n->op_type == "Concat") {
        for (const Value* v : n->inputs)
          if (rw.scale[v] != rw.scale[n->inputs[0]]) d.reason = "Concat inputs have different scales";
      }
      // An exact int8 data op keeps its input's scale: its readers see that scale.
      if (d.reason.empty() && kind == Kind::kData) rw.scale[y] = rw.scale[n->inputs[0]];
    }
    d.int8 = d.reason.empty();
    if (d.int8) rw.int8.insert(n.get());
    (d.int8 ? r.nodes_int8 : r.nodes_float)++;
    r.macs_total += d.macs;
    if (d.int8) r.macs_int8 += d.macs;
    r.nodes.push_back(std::move(d));
  }
  return rw.rewrite();
}

}  // namespace kiln
