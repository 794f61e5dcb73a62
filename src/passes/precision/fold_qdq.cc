#include "passes/precision/fold_qdq.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "ir/op_def.h"
#include "ir/shape_inference.h"

namespace kiln {

namespace {

bool is_onnx(const Node* n, const char* op) { return n && n->domain.empty() && n->op_type == op; }

// The quantization parameters of a QuantizeLinear or DequantizeLinear node, when they are constants.
struct QParams {
  Value* scale = nullptr;
  Value* zp = nullptr;  // null: the zero point is 0 (created on demand)
  DataType qtype = DataType::kUndefined;
  int64_t axis = 1;  // normalized against the quantized tensor's rank when per axis
  bool per_tensor() const { return scale->constant->size() == 1; }
  double scale_at(int64_t c) const { return scale->constant->element_as_double(per_tensor() ? 0 : c); }
  int64_t zp_at(int64_t c) const {
    if (!zp) return 0;
    return zp->constant->element_as_int64(zp->constant->size() == 1 ? 0 : c);
  }
};

// Reads a Q or DQ node's parameters; nullopt when they are not constant, blocked, or not 8-bit.
std::optional<QParams> qparams(const Node* n) {
  if (!is_onnx(n, "QuantizeLinear") && !is_onnx(n, "DequantizeLinear")) return std::nullopt;
  if (n->attr_int("block_size", 0) != 0 || !n->has_input(0) || !n->has_input(1) || !n->has_output(0))
    return std::nullopt;
  QParams p;
  p.scale = n->inputs[1];
  p.zp = n->has_input(2) ? n->inputs[2] : nullptr;
  if (!p.scale->is_constant() || (p.zp && !p.zp->is_constant())) return std::nullopt;
  if (p.scale->constant->rank() > 1 || (p.zp && p.zp->constant->size() != p.scale->constant->size()))
    return std::nullopt;
  for (int64_t i = 0; i < p.scale->constant->size(); ++i) {
    double s = p.scale->constant->element_as_double(i);
    if (!(s > 0) || !std::isfinite(s)) return std::nullopt;
  }
  const Value* q = is_onnx(n, "QuantizeLinear") ? n->outputs[0] : n->inputs[0];
  p.qtype = q->type.dtype;
  if (!is_8bit_integer(p.qtype)) return std::nullopt;
  if (!p.per_tensor()) {
    if (!q->type.shape.has_rank()) return std::nullopt;
    Result<int64_t> axis = normalize_axis(n->attr_int("axis", 1), static_cast<int64_t>(q->type.shape.rank()));
    if (!axis.ok()) return std::nullopt;
    p.axis = *axis;
  }
  return p;
}

// A per-tensor DQ producing `v` (an activation entering an integer op).
const Node* per_tensor_dq(const Value* v, std::optional<QParams>& p) {
  if (!v || !is_onnx(v->producer, "DequantizeLinear")) return nullptr;
  p = qparams(v->producer);
  if (!p || !p->per_tensor()) return nullptr;
  return v->producer;
}

bool same_params(const QParams& a, const QParams& b) {
  return a.per_tensor() && b.per_tensor() && a.qtype == b.qtype &&
         static_cast<float>(a.scale_at(0)) == static_cast<float>(b.scale_at(0)) && a.zp_at(0) == b.zp_at(0);
}

class Folder {
 public:
  Folder(Graph& g, FoldQdqReport& r) : g_(g), r_(r) {}

  // One sweep over the nodes; true when something changed.
  Result<bool> sweep();
  void remove_dead();

 private:
  Node* single_q_reader(const Value* v) {
    if (is_graph_output(v)) return nullptr;
    std::vector<Node*> readers = g_.consumers(v);
    if (readers.size() != 1 || !is_onnx(readers[0], "QuantizeLinear") || readers[0]->inputs[0] != v) return nullptr;
    return removed_.count(readers[0]) ? nullptr : readers[0];
  }
  bool is_graph_output(const Value* v) const {
    for (const Value* o : g_.outputs)
      if (o == v) return true;
    return false;
  }
  Value* zp_value(const QParams& p) {
    if (p.zp) return p.zp;
    Value* v = g_.add_value(fmt::format("zero_point_{}", dtype_name(p.qtype)), {p.qtype, Shape(std::vector<Dim>{})});
    v->constant = Tensor(p.qtype, {});
    return v;
  }
  Value* constant(const std::string& name, Tensor t) {
    Value* v = g_.add_value(name, {t.dtype(), Shape::from_dims(t.dims())});
    v->constant = std::move(t);
    return v;
  }
  std::optional<Tensor> quantize_bias(Value* bias, int64_t channels, double x_scale, const QParams& w);
  bool fold_conv(Node* n);
  bool fold_matmul(Node* n);
  bool fold_data_op(Node* n);
  bool cancel_pair(Node* q);

  Graph& g_;
  FoldQdqReport& r_;
  std::set<const Node*> removed_;
  std::vector<std::unique_ptr<Node>> new_nodes_;
};

// The bias as int32 at scale x_scale · w_scale[c]; nullopt when it is not a constant of `channels` elements
// (or a DQ of one) or does not fit int32.
std::optional<Tensor> Folder::quantize_bias(Value* bias, int64_t channels, double x_scale, const QParams& w) {
  const Tensor* values = bias->is_constant() ? &*bias->constant : nullptr;
  std::optional<QParams> bq;
  if (!values && is_onnx(bias->producer, "DequantizeLinear") && bias->producer->inputs[0]->is_constant()) {
    const Node* dq = bias->producer;
    if (dq->attr_int("block_size", 0) != 0 || !dq->inputs[1]->is_constant()) return std::nullopt;
    if (dq->has_input(2) && !dq->inputs[2]->is_constant()) return std::nullopt;
    bq = QParams{dq->inputs[1], dq->has_input(2) ? dq->inputs[2] : nullptr, DataType::kI32, 0};
    values = &*dq->inputs[0]->constant;
    if (bq->scale->constant->size() != 1 && bq->scale->constant->size() != channels) return std::nullopt;
  }
  if (!values || (values->size() != channels && values->size() != 1)) return std::nullopt;
  Tensor out(DataType::kI32, {channels});
  for (int64_t c = 0; c < channels; ++c) {
    int64_t i = values->size() == 1 ? 0 : c;
    double acc_scale = x_scale * w.scale_at(c);
    double q;
    if (bq) {
      int64_t b = values->element_as_int64(i) - bq->zp_at(i);
      float bs = static_cast<float>(bq->scale_at(i));
      // Already at the accumulator's scale (what quantizers emit): keep the integer as is.
      q = bs == static_cast<float>(acc_scale) ? static_cast<double>(b) : std::nearbyint(b * static_cast<double>(bs) / acc_scale);
    } else {
      q = std::nearbyint(values->element_as_double(i) / acc_scale);
    }
    if (!(std::fabs(q) <= std::numeric_limits<int32_t>::max())) return std::nullopt;
    out.data<int32_t>()[c] = static_cast<int32_t>(q);
  }
  return out;
}

bool activation_ok(const Node* n) {
  std::string act = n->attr_string("activation");
  return act.empty() || act == "Relu" || (act == "Clip" && n->attr_floats("activation_params").size() == 2);
}

void copy_activation(const Node* from, Node& to) {
  if (from->domain != "kiln") return;
  if (const Attribute* a = from->find_attr("activation")) to.attrs["activation"] = *a;
  if (const Attribute* a = from->find_attr("activation_params")) to.attrs["activation_params"] = *a;
}

// A per-channel-or-tensor DQ of a constant 8-bit weight whose channel axis is `axis`.
const Node* weight_dq(const Value* v, int64_t axis, std::optional<QParams>& p) {
  if (!v || !is_onnx(v->producer, "DequantizeLinear") || !v->producer->inputs[0]->is_constant()) return nullptr;
  p = qparams(v->producer);
  if (!p || (!p->per_tensor() && p->axis != axis)) return nullptr;
  const Tensor& w = *v->producer->inputs[0]->constant;
  if (w.rank() <= axis || (!p->per_tensor() && p->scale->constant->size() != w.dim(axis))) return nullptr;
  return v->producer;
}

bool Folder::fold_conv(Node* n) {
  bool fused = n->domain == "kiln" && n->op_type == "FusedConv";
  if (!is_onnx(n, "Conv") && !fused) return false;
  if (!n->has_input(0) || !n->has_input(1) || !n->has_output(0) || (fused && !activation_ok(n))) return false;
  std::optional<QParams> xp, wp, zpar;
  const Node* xdq = per_tensor_dq(n->inputs[0], xp);
  const Node* wdq = weight_dq(n->inputs[1], 0, wp);
  Node* q = single_q_reader(n->outputs[0]);
  std::optional<QParams> yp = q ? qparams(q) : std::nullopt;
  if (!xdq || !wdq || !yp || !yp->per_tensor()) return false;
  const Tensor& w = *wdq->inputs[0]->constant;
  const int64_t M = w.dim(0);
  std::optional<Tensor> bias;
  if (n->has_input(2)) {
    bias = quantize_bias(n->inputs[2], M, xp->scale_at(0), *wp);
    if (!bias) return false;
  }
  const Node* zdq = nullptr;
  if (fused && n->has_input(3)) {
    zdq = per_tensor_dq(n->inputs[3], zpar);
    const Shape& zs = n->inputs[3]->type.shape;
    const Shape& ys = n->outputs[0]->type.shape;
    // Same extents or the same symbols: QConv adds z element by element (checked again at run time).
    if (!zdq || !zs.has_rank() || zs.to_string() != ys.to_string() || zs.to_string().find('?') != std::string::npos)
      return false;
  }
  auto node = std::make_unique<Node>();
  node->name = n->name;
  node->op_type = "QConv";
  node->domain = "kiln";
  node->opset = 1;
  node->def = find_op_def("kiln", "QConv");
  for (const auto& [name, a] : n->attrs)
    if (name != "activation" && name != "activation_params") node->attrs[name] = a;
  copy_activation(n, *node);
  node->inputs = {xdq->inputs[0], xp->scale, zp_value(*xp), wdq->inputs[0], wp->scale, zp_value(*wp),
                  yp->scale, zp_value(*yp)};
  node->inputs.push_back(bias ? constant(n->name + "_bias_int32", std::move(*bias)) : nullptr);
  if (zdq) {
    node->inputs.insert(node->inputs.end(), {zdq->inputs[0], zpar->scale, zp_value(*zpar)});
  }
  node->outputs = {q->outputs[0]};
  q->outputs[0]->producer = node.get();
  new_nodes_.push_back(std::move(node));
  removed_.insert(n);
  removed_.insert(q);
  ++r_.qconv;
  return true;
}

bool Folder::fold_matmul(Node* n) {
  bool gemm = is_onnx(n, "Gemm") || (n->domain == "kiln" && n->op_type == "FusedGemm");
  bool matmul = is_onnx(n, "MatMul") || (n->domain == "kiln" && n->op_type == "FusedMatMul");
  if ((!gemm && !matmul) || !n->has_input(0) || !n->has_input(1) || !n->has_output(0)) return false;
  if (n->domain == "kiln" && !activation_ok(n)) return false;
  bool trans_b = gemm && n->attr_int("transB", 0) != 0;
  if (gemm && (n->attr_int("transA", 0) != 0 || n->attr_float("alpha", 1.0f) != 1.0f ||
               (n->has_input(2) && n->attr_float("beta", 1.0f) != 1.0f)))
    return false;
  std::optional<QParams> ap, bp;
  const Node* adq = per_tensor_dq(n->inputs[0], ap);
  const Node* bdq = weight_dq(n->inputs[1], trans_b ? 0 : 1, bp);
  Node* q = single_q_reader(n->outputs[0]);
  std::optional<QParams> yp = q ? qparams(q) : std::nullopt;
  if (!adq || !bdq || !yp || !yp->per_tensor()) return false;
  const Tensor& b = *bdq->inputs[0]->constant;
  if (b.rank() != 2) return false;
  const int64_t N = trans_b ? b.dim(0) : b.dim(1), K = trans_b ? b.dim(1) : b.dim(0);
  std::optional<Tensor> bias;
  if (n->has_input(2)) {
    bias = quantize_bias(n->inputs[2], N, ap->scale_at(0), *bp);
    if (!bias) return false;
  }
  Value* weight = bdq->inputs[0];
  if (trans_b) {  // QMatMul wants [K, N]; the per-channel scales stay per column
    Tensor t(b.dtype(), {K, N});
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        auto* dst = static_cast<uint8_t*>(t.raw()) + k * N + j;
        *dst = static_cast<const uint8_t*>(b.raw())[j * K + k];  // 8-bit: bytes copy exactly
      }
    weight = constant(weight->name + "_t", std::move(t));
  }
  auto node = std::make_unique<Node>();
  node->name = n->name;
  node->op_type = "QMatMul";
  node->domain = "kiln";
  node->opset = 1;
  node->def = find_op_def("kiln", "QMatMul");
  copy_activation(n, *node);
  node->inputs = {adq->inputs[0], ap->scale, zp_value(*ap), weight, bp->scale, zp_value(*bp), yp->scale, zp_value(*yp)};
  if (bias) node->inputs.push_back(constant(n->name + "_bias_int32", std::move(*bias)));
  node->outputs = {q->outputs[0]};
  q->outputs[0]->producer = node.get();
  new_nodes_.push_back(std::move(node));
  removed_.insert(n);
  removed_.insert(q);
  ++r_.qmatmul;
  return true;
}

// DQ → op → Q with one scale and zero point on both sides, op exact on quantized data ⇒ op on the data.
bool Folder::fold_data_op(Node* n) {
  static const std::set<std::string> kOps = {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze",
                                             "Unsqueeze", "Relu", "Pad", "Concat"};
  if (!n->domain.empty() || !kOps.count(n->op_type) || !n->has_output(0) || n->outputs.size() > 1) return false;
  if (n->op_type == "MaxPool" && n->has_output(1)) return false;
  Node* q = single_q_reader(n->outputs[0]);
  std::optional<QParams> yp = q ? qparams(q) : std::nullopt;
  if (!yp || !yp->per_tensor()) return false;
  size_t data_inputs = n->op_type == "Concat" ? n->inputs.size() : 1;
  std::vector<Value*> quantized;
  for (size_t i = 0; i < data_inputs; ++i) {
    std::optional<QParams> xp;
    const Node* dq = per_tensor_dq(n->inputs[i], xp);
    if (!dq || !same_params(*xp, *yp)) return false;
    quantized.push_back(dq->inputs[0]);
  }
  if (n->op_type == "Relu" && yp->zp_at(0) != 0) return false;  // max(q, 0) is Relu only at zero point 0
  Value* pad_value = nullptr;
  if (n->op_type == "Pad" && n->attr_string("mode", "constant") == "constant") {
    if (n->has_input(2)) {
      const Value* c = n->inputs[2];
      if (!c->is_constant() || c->constant->size() > 1 || (c->constant->size() == 1 && c->constant->element_as_double(0) != 0))
        return false;
    }
    Tensor zp(yp->qtype, {});  // real 0 is the zero point
    if (yp->zp_at(0) != 0) {
      if (yp->qtype == DataType::kU8) zp.data<uint8_t>()[0] = static_cast<uint8_t>(yp->zp_at(0));
      else zp.data<int8_t>()[0] = static_cast<int8_t>(yp->zp_at(0));
    }
    pad_value = constant(n->name + "_pad_value", std::move(zp));
  }
  for (size_t i = 0; i < data_inputs; ++i) n->inputs[i] = quantized[i];
  if (pad_value) {
    if (n->inputs.size() < 3) n->inputs.resize(3, nullptr);
    n->inputs[2] = pad_value;
  }
  n->outputs[0]->producer = nullptr;
  n->outputs[0] = q->outputs[0];
  q->outputs[0]->producer = n;
  removed_.insert(q);
  ++r_.int8_data_ops;
  return true;
}

// DQ(q; s, z) → Q(s, z) ⇒ q, unless the Q's output is a graph output (its name must stay).
bool Folder::cancel_pair(Node* q) {
  if (!is_onnx(q, "QuantizeLinear") || is_graph_output(q->outputs[0])) return false;
  std::optional<QParams> xp, yp = qparams(q);
  const Node* dq = per_tensor_dq(q->inputs[0], xp);
  if (!dq || !yp || !same_params(*xp, *yp)) return false;
  g_.replace_all_uses(q->outputs[0], dq->inputs[0]);
  removed_.insert(q);
  ++r_.qdq_cancelled;
  return true;
}

Result<bool> Folder::sweep() {
  bool changed = false;
  // Two phases, each committed before the next: cancelling a pair rewires readers, which must not happen
  // while folded nodes that captured those readers' inputs are still outside the graph.
  for (int phase = 0; phase < 2; ++phase) {
    std::vector<Node*> nodes;
    for (const auto& n : g_.nodes()) nodes.push_back(n.get());
    for (Node* n : nodes) {
      if (removed_.count(n)) continue;
      changed |= phase == 0 ? fold_conv(n) || fold_matmul(n) || fold_data_op(n) : cancel_pair(n);
    }
    for (auto& n : new_nodes_) g_.add_node(std::move(n));
    new_nodes_.clear();
    size_t before = g_.nodes().size();
    g_.remove_nodes_if([&](const Node& n) { return removed_.count(&n) > 0; });
    r_.nodes_removed += static_cast<int64_t>(before - g_.nodes().size());
    removed_.clear();
    if (changed) KILN_RETURN_IF_ERROR(g_.topo_sort());
  }
  return changed;
}

// Q and DQ nodes whose outputs nothing reads any more (the folded ops read the quantized data directly).
void Folder::remove_dead() {
  for (bool again = true; again;) {
    again = false;
    std::set<const Value*> read;
    for (const auto& n : g_.nodes())
      for (const Value* v : n->inputs) read.insert(v);
    for (const Value* v : g_.outputs) read.insert(v);
    size_t before = g_.nodes().size();
    g_.remove_nodes_if([&](const Node& n) {
      return (is_onnx(&n, "DequantizeLinear") || is_onnx(&n, "QuantizeLinear")) && n.has_output(0) &&
             !read.count(n.outputs[0]);
    });
    r_.nodes_removed += static_cast<int64_t>(before - g_.nodes().size());
    again = g_.nodes().size() != before;
  }
}

}  // namespace

Status fold_qdq(Graph& graph, FoldQdqReport* report) {
  FoldQdqReport local;
  FoldQdqReport& r = report ? *report : local;
  KILN_RETURN_IF_ERROR(infer_shapes(graph));  // the matchers read dtypes and static shapes
  Folder folder(graph, r);
  for (int i = 0; i < 16; ++i) {  // each sweep folds at least one node; real graphs settle in 2-3
    KILN_ASSIGN_OR_RETURN(bool changed, folder.sweep());
    if (!changed) break;
  }
  folder.remove_dead();
  if (r.qconv + r.qmatmul > 0 && !graph.opset_imports.count("kiln")) graph.opset_imports["kiln"] = 1;
  graph.remove_unused_values();
  KILN_RETURN_IF_ERROR(graph.topo_sort());
  return infer_shapes(graph);
}

}  // namespace kiln
