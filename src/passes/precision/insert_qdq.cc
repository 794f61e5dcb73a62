#include "passes/precision/insert_qdq.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "quant/weight_quant.h"

namespace kiln {

namespace {

constexpr int kPerAxisOpset = 13;  // DequantizeLinear's `axis` (per-channel) arrived in opset 13
constexpr int kQdqOpset = 10;      // QuantizeLinear/DequantizeLinear themselves

// Ops whose attributes or meaning changed between an older opset and 13, with the opset of the change: a
// node older than that would mean something else (or be invalid) once the import says 13.
int changed_before_13(const std::string& op) {
  static const std::map<std::string, int> kChanged = {
      {"BatchNormalization", 9}, {"Slice", 10}, {"TopK", 10}, {"Upsample", 10}, {"Clip", 11}, {"Pad", 11},
      {"Resize", 11}, {"Scatter", 11}, {"Dropout", 12}, {"Squeeze", 13}, {"Unsqueeze", 13}, {"Split", 13},
      {"ReduceSum", 13}, {"Softmax", 13}, {"LogSoftmax", 13}, {"Hardmax", 13}};
  auto it = kChanged.find(op);
  return it == kChanged.end() ? 0 : it->second;
}

// Which inputs of a node get Q/DQ, and which of those are weights (with their per-channel axis).
struct Slot {
  size_t input;
  bool weight_capable;  // a constant float input here is a weight, quantized per channel along `axis`
  int64_t axis;
};

std::vector<Slot> slots_of(const Node& n, const QdqExportOptions& options) {
  const std::string& op = n.op_type;
  if (op == "Conv") return {{0, false, 0}, {1, true, 0}};
  if (op == "ConvTranspose") return {{0, false, 0}, {1, true, 1}};  // W is [C, M/group, kH, kW]
  if (op == "Gemm") return {{0, true, 0}, {1, true, n.attr_int("transB", 0) ? 0 : 1}};
  if (op == "MatMul") {
    int64_t b_rank = n.has_input(1) && n.inputs[1]->type.shape.has_rank()
                         ? static_cast<int64_t>(n.inputs[1]->type.shape.rank()) : 2;
    return {{0, true, 0}, {1, true, std::max<int64_t>(b_rank - 1, 0)}};
  }
  if (op == "Add" && options.quantize_residual_add) {
    // Residual adds only: both operands computed (a bias add with a constant stays float).
    if (n.has_input(0) && n.has_input(1) && !n.inputs[0]->is_constant() && !n.inputs[1]->is_constant())
      return {{0, false, 0}, {1, false, 0}};
    return {};
  }
  if ((op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") && options.quantize_pooling)
    return {{0, false, 0}};
  return {};
}

class QdqInserter {
 public:
  QdqInserter(Graph& g, const CalibrationTable& t, const QdqExportOptions& o, QdqExportReport& r)
      : g_(g), table_(t), options_(o), r_(r) {}

  Status run();

 private:
  Value* constant(const std::string& name, Tensor t) { return add_constant(g_, name, std::move(t)); }
  Node* add(const std::string& op, const std::string& name, std::vector<Value*> inputs, Value* output) {
    auto n = make_node(op, name, opset_, std::move(inputs), {output});
    Node* raw = n.get();
    g_.add_node(std::move(n));
    return raw;
  }
  Status raise_opset(int needed);
  // The DQ output standing for activation `v`, or null (and a report line) when `v` stays float.
  Value* activation(Value* v, const Node& reader);
  Result<Value*> weight(Value* w, int64_t axis, const Node& reader);

  Graph& g_;
  const CalibrationTable& table_;
  const QdqExportOptions& options_;
  QdqExportReport& r_;
  int opset_ = kPerAxisOpset;
  std::map<const Value*, Value*> dq_of_;  // activation or weight -> its DequantizeLinear output
};

Status QdqInserter::raise_opset(int needed) {
  int& opset = g_.opset_imports[""];
  if (opset >= needed) {
    opset_ = opset;
    return {};
  }
  std::vector<std::string> blockers;
  for (const auto& n : g_.nodes())
    if (n->domain.empty() && n->opset < changed_before_13(n->op_type))
      blockers.push_back(n->describe());
  if (!blockers.empty())
    return Status::unsupported(fmt::format(
        "Q/DQ export needs ai.onnx opset {} but these nodes change meaning between opset {} and {}: {} "
        "(import the model with ImportOptions::min_opset = {} to convert them with ONNX's version converter)",
        needed, opset, needed, fmt::join(blockers, ", "), needed));
  r_.opset_raised_from = opset;
  opset = opset_ = needed;
  for (const auto& n : g_.nodes())
    if (n->domain.empty()) n->opset = needed;
  return {};
}

Value* QdqInserter::activation(Value* v, const Node& reader) {
  if (auto it = dq_of_.find(v); it != dq_of_.end()) return it->second;
  auto scale_it = table_.scales.find(v->name);
  std::string why;
  if (v->type.dtype != DataType::kF32) why = fmt::format("dtype {} (only f32 is quantized)", dtype_name(v->type.dtype));
  else if (scale_it == table_.scales.end()) why = "no calibration scale";
  else if (!std::isfinite(scale_it->second) || scale_it->second <= 0)
    why = fmt::format("calibration scale {} is not finite and positive", scale_it->second);
  if (!why.empty()) {
    r_.left_float.push_back(fmt::format("{} (read by {}): {}", v->name, reader.name, why));
    return nullptr;
  }
  Value* s = constant(v->name + "_scale", Tensor::scalar<float>(scale_it->second));
  Value* zp = constant(v->name + "_zero_point", Tensor::scalar<int8_t>(0));
  Value* q = g_.add_value(v->name + "_QuantizeLinear_Output", {DataType::kI8, v->type.shape});
  add("QuantizeLinear", v->name + "_QuantizeLinear", {v, s, zp}, q);
  Value* dq = g_.add_value(v->name + "_DequantizeLinear_Output", v->type);
  add("DequantizeLinear", v->name + "_DequantizeLinear", {q, s, zp}, dq);
  ++r_.activations_quantized;
  return dq_of_[v] = dq;
}

Result<Value*> QdqInserter::weight(Value* w, int64_t axis, const Node& reader) {
  if (auto it = dq_of_.find(w); it != dq_of_.end()) return it->second;
  const Tensor& t = *w->constant;
  if (t.dtype() != DataType::kF32) {
    r_.left_float.push_back(fmt::format("{} (weight of {}): dtype {} (only f32 is quantized)", w->name, reader.name,
                                        dtype_name(t.dtype())));
    return nullptr;
  }
  QuantizedWeights qw;
  if (options_.per_channel_weights && t.rank() > axis) {
    auto q = quantize_weights_per_channel(t, axis);
    if (!q.ok()) return q.status().with_context(fmt::format("weight '{}' of {}", w->name, reader.describe()));
    qw = std::move(*q);
  } else {  // one "channel" spanning the whole tensor
    qw.values = Tensor(DataType::kI8, t.dims());
    auto scales = quantize_weights_per_channel(t.span<float>(), 1, 1, t.size(), qw.values.span<int8_t>());
    if (!scales.ok()) return scales.status().with_context(fmt::format("weight '{}' of {}", w->name, reader.describe()));
    qw.scales = std::move(*scales);
  }
  bool per_axis = options_.per_channel_weights && t.rank() > axis;
  int64_t channels = static_cast<int64_t>(qw.scales.size());
  Value* wq = constant(w->name + "_quantized", qw.values);
  Value* s = constant(w->name + "_scale", per_axis ? Tensor::from_vector<float>(qw.scales, {channels})
                                                   : Tensor::scalar<float>(qw.scales[0]));
  Value* zp = constant(w->name + "_zero_point", per_axis ? Tensor(DataType::kI8, {channels}) : Tensor(DataType::kI8, {}));
  Value* dq = g_.add_value(w->name + "_DequantizeLinear_Output", w->type);
  Node* n = add("DequantizeLinear", w->name + "_DequantizeLinear", {wq, s, zp}, dq);
  if (per_axis) n->attrs["axis"] = Attribute::of_int(axis);
  ++r_.weights_quantized;
  return dq_of_[w] = dq;
}

Status QdqInserter::run() {
  std::vector<std::string> kiln_nodes;
  for (const auto& n : g_.nodes())
    if (!n->domain.empty()) kiln_nodes.push_back(n->describe());
  if (!kiln_nodes.empty())
    return Status::invalid_argument(fmt::format(
        "Q/DQ export needs a graph of standard ONNX ops (run it before the fusion passes); found {}",
        fmt::join(kiln_nodes, ", ")));
  KILN_RETURN_IF_ERROR(raise_opset(options_.per_channel_weights ? kPerAxisOpset : kQdqOpset));

  std::vector<Node*> originals;
  for (const auto& n : g_.nodes()) originals.push_back(n.get());
  for (Node* n : originals) {
    if (options_.keep_fp32.count(n->name) || options_.keep_fp32.count(n->op_type)) continue;
    bool quantized = false;
    for (const Slot& slot : slots_of(*n, options_)) {
      if (!n->has_input(slot.input)) continue;
      Value* v = n->inputs[slot.input];
      Value* dq = nullptr;
      if (v->is_constant() && !v->producer) {
        if (!slot.weight_capable) continue;  // a constant where an activation belongs: leave it
        KILN_ASSIGN_OR_RETURN(dq, weight(v, slot.axis, *n));
      } else {
        dq = activation(v, *n);
      }
      if (!dq) continue;
      n->inputs[slot.input] = dq;
      quantized = true;
    }
    if (quantized) ++r_.nodes_quantized;
  }
  g_.remove_unused_values();  // float weights now read by nobody
  KILN_RETURN_IF_ERROR(g_.topo_sort());
  return infer_shapes(g_).with_context("after inserting Q/DQ");
}

}  // namespace

std::string QdqExportReport::to_string() const {
  std::string s = fmt::format("Q/DQ: {} activations, {} weights on {} nodes", activations_quantized, weights_quantized,
                              nodes_quantized);
  if (opset_raised_from) s += fmt::format("; ai.onnx opset raised from {}", opset_raised_from);
  if (!left_float.empty())
    s += fmt::format("; {} input(s) left float: {}", left_float.size(), fmt::join(left_float, "; "));
  return s;
}

Status insert_qdq_for_export(Graph& graph, const CalibrationTable& table, const QdqExportOptions& options,
                             QdqExportReport* report) {
  QdqExportReport local;
  QdqInserter inserter(graph, table, options, report ? *report : local);
  return inserter.run();
}

}  // namespace kiln
