#include "passes/precision/convert_to_fp16.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "ir/op_def.h"
#include "ir/shape_inference.h"

namespace kiln {

namespace {

constexpr int kAllInputs = -1;

// Ops that run in f16, with the inputs that carry float data of the op's main type. Other float inputs
// (Resize scales, ROIs) stay as they are: rounding a scale to f16 could change an output size.
const std::map<std::string, std::vector<int>>& fp16_ops() {
  static const std::map<std::string, std::vector<int>> ops = {
      {"Conv", {kAllInputs}}, {"ConvTranspose", {kAllInputs}}, {"Gemm", {kAllInputs}}, {"MatMul", {kAllInputs}},
      {"BatchNormalization", {kAllInputs}}, {"InstanceNormalization", {kAllInputs}},
      {"Relu", {0}}, {"LeakyRelu", {0}}, {"PRelu", {0, 1}}, {"Elu", {0}}, {"Selu", {0}}, {"Celu", {0}},
      {"Sigmoid", {0}}, {"HardSigmoid", {0}}, {"HardSwish", {0}}, {"Tanh", {0}}, {"Clip", {0, 1, 2}},
      {"Softsign", {0}}, {"Abs", {0}}, {"Neg", {0}}, {"Sqrt", {0}}, {"Reciprocal", {0}},
      {"Add", {0, 1}}, {"Sub", {0, 1}}, {"Mul", {0, 1}}, {"Div", {0, 1}}, {"Max", {kAllInputs}},
      {"Min", {kAllInputs}}, {"Sum", {kAllInputs}}, {"Mean", {kAllInputs}}, {"Where", {1, 2}},
      {"MaxPool", {0}}, {"AveragePool", {0}}, {"GlobalAveragePool", {0}}, {"GlobalMaxPool", {0}},
      {"Concat", {kAllInputs}}, {"Split", {0}}, {"Slice", {0}}, {"Reshape", {0}}, {"Flatten", {0}},
      {"Transpose", {0}}, {"Squeeze", {0}}, {"Unsqueeze", {0}}, {"Expand", {0}}, {"Tile", {0}}, {"Pad", {0, 2}},
      {"Gather", {0}}, {"Identity", {0}}, {"Dropout", {0}}, {"DepthToSpace", {0}}, {"SpaceToDepth", {0}},
      {"Resize", {0}}, {"Upsample", {0}},
      // kiln's fused ops (domain "kiln") compute what their unfused parts compute.
      {"kiln.FusedConv", {kAllInputs}}, {"kiln.FusedGemm", {kAllInputs}}, {"kiln.FusedMatMul", {kAllInputs}},
      {"kiln.ElementwiseChain", {0}},
  };
  return ops;
}

const std::vector<int>* fp16_inputs(const Node& n) {
  std::string key = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
  auto it = fp16_ops().find(key);
  return it == fp16_ops().end() ? nullptr : &it->second;
}

bool is_data_input(const std::vector<int>& inputs, size_t i) {
  for (int k : inputs)
    if (k == kAllInputs || k == static_cast<int>(i)) return true;
  return false;
}

}  // namespace

Tensor to_f16(const Tensor& t, const std::string& name, Fp16Report& r) {
  Tensor out(DataType::kF16, t.dims());
  int64_t overflow = 0, subnormal = 0, zeroed = 0;
  for (int64_t i = 0; i < t.size(); ++i) {
    double x = t.element_as_double(i);
    Float16 h(static_cast<float>(x));
    out.data<Float16>()[i] = h;
    double back = static_cast<float>(h);
    if (std::isfinite(x) && std::isinf(back)) ++overflow;
    else if (x != 0 && back == 0) ++zeroed;
    else if (back != 0 && std::fabs(back) < 6.103515625e-05) ++subnormal;
  }
  auto note = [&](std::vector<std::string>& list, int64_t n) {
    if (n) list.push_back(fmt::format("{} ({} of {})", name, n, t.size()));
  };
  note(r.overflowed, overflow);
  note(r.subnormal, subnormal);
  note(r.flushed_to_zero, zeroed);
  ++r.weights_converted;
  return out;
}

namespace {

std::unique_ptr<Node> make_cast(Graph& g, Value* from, DataType to, const std::string& out_name, int opset) {
  Value* out = g.add_value(out_name, {to, from->type.shape});
  auto n = make_node("Cast", fmt::format("cast_{}_{}", from->name, dtype_name(to)), opset, {from}, {out});
  n->attrs["to"] = Attribute::of_int(static_cast<int64_t>(to));
  return n;
}

}  // namespace

Status convert_to_fp16(Graph& g, bool fp16_io, Fp16Report* report) {
  Fp16Report local;
  Fp16Report& r = report ? *report : local;
  int opset = g.opset_imports.count("") ? g.opset_imports.at("") : 13;

  // Which nodes run in f16.
  std::set<const Node*> half;
  for (const auto& n : g.nodes()) {
    bool has_float = false;
    for (const Value* v : n->outputs)
      if (v && v->type.dtype == DataType::kF32) has_float = true;
    if (has_float && fp16_inputs(*n)) {
      half.insert(n.get());
      ++r.nodes_fp16;
    } else {
      ++r.nodes_fp32;
    }
  }
  if (fp16_io)
    for (Value* in : g.inputs)
      if (!in->is_constant() && in->type.dtype == DataType::kF32) in->type.dtype = DataType::kF16;

  // Values produced in f16 get the f16 dtype now, so the border checks below see it.
  for (const auto& n : g.nodes())
    if (half.count(n.get()))
      for (Value* v : n->outputs)
        if (v && v->type.dtype == DataType::kF32) v->type.dtype = DataType::kF16;

  std::map<std::pair<Value*, DataType>, Value*> converted;  // memoized casts and converted constants
  std::vector<std::unique_ptr<Node>> new_nodes;
  auto convert = [&](Value* v, DataType to) -> Value* {
    auto key = std::make_pair(v, to);
    if (auto it = converted.find(key); it != converted.end()) return it->second;
    Value* out;
    if (v->is_constant() && !v->producer) {
      out = g.add_value(fmt::format("{}_{}", v->name, dtype_name(to)), {to, v->type.shape});
      if (to == DataType::kF16) {
        out->constant = to_f16(*v->constant, v->name, r);
      } else {
        Tensor t(DataType::kF32, v->constant->dims());
        for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(v->constant->element_as_double(i));
        out->constant = std::move(t);
      }
    } else {
      new_nodes.push_back(make_cast(g, v, to, fmt::format("{}_{}", v->name, dtype_name(to)), opset));
      out = new_nodes.back()->outputs[0];
      ++r.casts_inserted;
    }
    converted[key] = out;
    return out;
  };

  for (const auto& n : g.nodes()) {
    bool is_half = half.count(n.get()) > 0;
    const std::vector<int>* data_inputs = fp16_inputs(*n);
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Value* v = n->inputs[i];
      if (!v) continue;
      if (is_half && is_data_input(*data_inputs, i) && v->type.dtype == DataType::kF32) {
        n->inputs[i] = convert(v, DataType::kF16);
      } else if (!is_half && v->type.dtype == DataType::kF16 && (!v->is_constant() || v->producer) &&
                 (v->producer ? half.count(v->producer) > 0 : fp16_io)) {
        n->inputs[i] = convert(v, DataType::kF32);  // an f16 activation entering an f32 node
      }
    }
  }
  // Outputs keep their names and (unless fp16_io) f32: the f16 value is renamed and a Cast takes the name.
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    Value* out = g.outputs[k];
    if (out->type.dtype != DataType::kF16 || fp16_io || !out->producer || !half.count(out->producer)) continue;
    Node* producer = out->producer;
    Value* half_value = g.add_value(out->name + "_fp16", out->type);
    g.replace_all_uses(out, half_value);  // in-graph readers now read the f16 value
    for (Value*& pv : producer->outputs)
      if (pv == out) pv = half_value;
    half_value->producer = producer;
    auto cast = make_cast(g, half_value, DataType::kF32, out->name + "_cast_tmp", opset);
    cast->outputs[0] = out;  // the cast writes the original output Value, so its name stays
    out->type.dtype = DataType::kF32;
    new_nodes.push_back(std::move(cast));
    ++r.casts_inserted;
    g.outputs[k] = out;
  }
  for (auto& n : new_nodes) g.add_node(std::move(n));
  g.remove_unused_values();
  KILN_RETURN_IF_ERROR(g.topo_sort());
  return infer_shapes(g);
}

}  // namespace kiln
