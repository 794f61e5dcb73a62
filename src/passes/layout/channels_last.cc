// Channels-last conversion (see channels_last.h for what it does).
#include "passes/layout/channels_last.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "backends/ref/kernel.h"
#include "ir/op_def.h"
#include "ir/ops/layout_util.h"
#include "passes/pass_util.h"

namespace kiln {

std::string ChannelsLastReport::to_string() const {
  return fmt::format("channels_last: {} convs, {} ops propagated, {} transposes", convs, propagated, transposes);
}

namespace {

using layout::kNchwToNhwc;
using layout::kNhwcToNchw;

bool is_onnx(const Node& n, std::string_view op) { return n.domain.empty() && n.op_type == op; }
bool is_kiln(const Node& n, std::string_view op) { return n.domain == "kiln" && n.op_type == op; }

bool has_rank4(const Value* v) { return v && v->type.shape.has_rank() && v->type.shape.rank() == 4; }

std::vector<int64_t> perm_of(const std::array<int64_t, 4>& p) { return {p.begin(), p.end()}; }

bool is_transpose(const Node* n, const std::array<int64_t, 4>& perm) {
  return n && is_onnx(*n, "Transpose") && n->attr_ints("perm") == perm_of(perm) && n->has_input(0);
}

// Per-tensor quantization parameter: one element, rank 0 or 1 (ONNX treats both as per tensor).
bool per_tensor(const Value* v) {
  if (!v) return true;
  const Shape& s = v->type.shape;
  return s.has_rank() && s.rank() <= 1 && s.is_static() && (s.rank() == 0 || s[0].value == 1);
}

// Ops that act on each element alone (extra inputs, like Clip's bounds, are scalars), so any layout works.
bool is_unary_elementwise(const Node& n) {
  static const std::set<std::string, std::less<>> kOps = {
      "Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu", "Exp",
      "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Cast", "Identity", "Erf", "Gelu", "Mish", "Softplus",
      "Softsign", "Floor", "Ceil", "Round", "Sign", "Shrink", "ThresholdedRelu"};
  return (n.domain.empty() && kOps.count(n.op_type)) || is_kiln(n, "ElementwiseChain") || is_kiln(n, "QLookup");
}

bool is_binary_elementwise(const Node& n) {
  static const std::set<std::string, std::less<>> kOps = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu"};
  return n.domain.empty() && kOps.count(n.op_type);
}

// The ONNX pools kiln.Pool stands for; MaxPool only when its Indices output is not used.
bool is_convertible_pool(const Graph& g, const Node& n) {
  if (!n.domain.empty() || !layout::is_pool_mode(n.op_type)) return false;
  if (n.op_type != "MaxPool" || !n.has_output(1)) return true;
  return passes::reader_count(g, n.outputs[1]) == 0 && !passes::is_graph_output(g, n.outputs[1]);
}

bool is_channel_concat(const Node& n) {
  if (!is_onnx(n, "Concat")) return false;
  int64_t axis = n.attr_int("axis", 1);
  return axis == 1 || axis == -3;
}

// Pad's pads in NHWC order ([begin of each axis..., end of each axis...]), or nothing unless they are known
// (attribute, or constant input without `axes`) and cover rank 4.
std::optional<std::vector<int64_t>> nhwc_pads(const Node& n) {
  std::vector<int64_t> pads;
  if (n.opset >= 11) {
    const Tensor* t = passes::constant_of(n.has_input(1) ? n.inputs[1] : nullptr);
    if (!t || n.has_input(3)) return std::nullopt;
    Result<std::vector<int64_t>> v = t->to_int64_vector();
    if (!v.ok()) return std::nullopt;
    pads = *v;
  } else {
    pads = n.attr_ints(n.has_attr("paddings") ? "paddings" : "pads");
  }
  if (pads.size() != 8) return std::nullopt;
  std::vector<int64_t> out(8);
  for (size_t i = 0; i < 4; ++i) {
    out[i] = pads[static_cast<size_t>(kNchwToNhwc[i])];
    out[4 + i] = pads[4 + static_cast<size_t>(kNchwToNhwc[i])];
  }
  return out;
}

class ChannelsLast {
 public:
  ChannelsLast(Graph& g, ChannelsLastReport& report) : g_(g), report_(report) {}

  Status run() {
    KILN_RETURN_IF_ERROR(g_.topo_sort());  // the walk needs producers before readers
    std::vector<Node*> order;
    for (const auto& n : g_.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      if (!convert_conv(*n)) KILN_RETURN_IF_ERROR(propagate(*n));
      // Readers that still want NCHW (every input of an unconverted node; the non-activation inputs of a
      // converted one, whose activation inputs were switched to twins already).
      for (Value* in : n->inputs) restore_nchw(in);
    }
    for (Value* out : g_.outputs) restore_nchw(out);
    remove_orphans();
    if (kiln_ops_) passes::ensure_kiln_opset(g_);
    return g_.topo_sort();
  }

 private:
  // A 2-D convolution still in NCHW: its activation input slots (X, residual Z), else empty.
  std::vector<size_t> conv_slots(const Node& n) const {
    std::vector<size_t> slots;
    if (is_onnx(n, "Conv")) slots = {0};
    else if (is_kiln(n, "FusedConv")) slots = {0, 3};
    else if (is_kiln(n, "QConv")) slots = {0, 9};
    else return {};
    if (n.attr_string("layout", "NCHW") != "NCHW" || n.outputs.size() != 1 || !has_rank4(n.outputs[0])) return {};
    for (size_t s : slots)
      if (n.has_input(s) && !has_rank4(n.inputs[s])) return {};  // 1-D/3-D conv, or a broadcast residual
    if (!n.has_input(0)) return {};
    return slots;
  }

  bool convert_conv(Node& n) {
    std::vector<size_t> slots = conv_slots(n);
    if (slots.empty()) return false;
    if (is_onnx(n, "Conv")) passes::become_fused(&n, "FusedConv", n.name);
    n.attrs["layout"] = Attribute::of_string("NHWC");
    for (size_t s : slots)
      if (n.has_input(s)) n.inputs[s] = to_nhwc(n.inputs[s]);
    move_output_to_nhwc(n);
    kiln_ops_ = true;
    ++report_.convs;
    return true;
  }

  // Runs a layout-agnostic op on the twins of its inputs when they all have one.
  Status propagate(Node& n) {
    if (flatten_unit_spatial(n)) return {};
    if (n.outputs.empty() || !has_rank4(n.outputs[0])) return {};
    if (is_kiln(n, "PaddedSpaceToDepth") && n.attr_string("output_layout", "NCHW") == "NCHW") {
      // Reads NCHW, can write either layout: writing NHWC costs nothing (the stem conv it feeds wants NHWC).
      n.attrs["output_layout"] = Attribute::of_string("NHWC");
      move_output_to_nhwc(n);
      ++report_.propagated;
      return {};
    }
    std::vector<size_t> slots;  // inputs that switch layout
    std::optional<std::vector<int64_t>> pads;
    if (is_unary_elementwise(n)) {
      slots = {0};
    } else if (is_onnx(n, "Pad")) {
      if (!(pads = nhwc_pads(n))) return {};
      slots = {0};
    } else if (is_onnx(n, "QuantizeLinear") || is_onnx(n, "DequantizeLinear")) {
      if (!per_tensor(n.has_input(1) ? n.inputs[1] : nullptr) || !per_tensor(n.has_input(2) ? n.inputs[2] : nullptr) ||
          n.attr_int("block_size", 0) != 0)
        return {};
      slots = {0};
    } else if (is_binary_elementwise(n) || is_channel_concat(n)) {
      for (size_t i = 0; i < n.inputs.size(); ++i) slots.push_back(i);
    } else if (is_convertible_pool(g_, n) || (is_kiln(n, "Pool") && n.attr_string("layout", "NCHW") == "NCHW")) {
      slots = {0};
    } else {
      return {};
    }
    if (n.outputs.size() != 1 && !is_onnx(n, "MaxPool")) return {};
    // Every slot: a twinned rank-4 value, or (binary ops and Concat) a constant that can be re-laid out.
    const bool constants_ok = is_binary_elementwise(n) || is_channel_concat(n);
    bool any_twin = false;
    for (size_t s : slots) {
      const Value* v = n.has_input(s) ? n.inputs[s] : nullptr;
      if (!v) return {};
      const Shape& vs = v->type.shape;
      if (v->is_constant() && constants_ok) {
        if (!vs.has_rank() || vs.rank() > 4 || (is_channel_concat(n) && vs.rank() != 4)) return {};
        continue;
      }
      if (is_binary_elementwise(n) && vs.has_rank() && vs.rank() == 0) continue;  // a scalar has no layout
      if (!has_rank4(v) || !twin_.count(v)) return {};
      any_twin = true;
    }
    if (!any_twin) return {};
    for (size_t s : slots) {
      if (n.inputs[s]->is_constant()) {
        KILN_ASSIGN_OR_RETURN(n.inputs[s], relayout_constant(n.inputs[s]));
      } else if (auto it = twin_.find(n.inputs[s]); it != twin_.end()) {
        n.inputs[s] = it->second;
      }
    }
    if (is_channel_concat(n)) n.attrs["axis"] = Attribute::of_int(3);
    if (pads && n.opset >= 11)
      n.inputs[1] = add_constant(g_, n.inputs[1]->name + "__nhwc", Tensor::from_vector(*pads, {8}));
    else if (pads)
      n.attrs[n.has_attr("paddings") ? "paddings" : "pads"] = Attribute::of_ints(*pads);
    if (layout::is_pool_mode(n.op_type) || is_kiln(n, "Pool")) become_pool(n);
    move_output_to_nhwc(n);
    ++report_.propagated;
    return {};
  }

  // Flatten (axis 1) of an [N, C, 1, 1] value: its NHWC twin [N, 1, 1, C] holds the same bytes in the same
  // order, so Flatten reads the twin and gives the same [N, C] without a Transpose back to NCHW (a global
  // pool in front of the classifier: one kernel less per run on the GPU).
  bool flatten_unit_spatial(Node& n) {
    if (!is_onnx(n, "Flatten") || !n.has_input(0) || n.outputs.size() != 1) return false;
    const int64_t axis = n.attr_int("axis", 1);
    Value* v = n.inputs[0];
    if ((axis != 1 && axis != -3) || !has_rank4(v)) return false;
    auto twin = twin_.find(v);
    const Shape& s = v->type.shape;
    if (twin == twin_.end() || !s[2].known() || !s[3].known() || s[2].value != 1 || s[3].value != 1) return false;
    n.inputs[0] = twin->second;
    ++report_.propagated;
    return true;
  }

  // An ONNX pool (or an NCHW kiln.Pool) becomes kiln.Pool in NHWC.
  void become_pool(Node& n) {
    if (n.domain.empty()) {
      n.attrs.erase("storage_order");  // only affects MaxPool's Indices, which Pool does not produce
      n.attrs["mode"] = Attribute::of_string(n.op_type);
      if (n.has_output(1)) n.outputs[1]->producer = nullptr;  // the unused Indices go
      n.outputs.resize(1);
      passes::become_fused(&n, "Pool", n.name);
      kiln_ops_ = true;
    }
    n.attrs["layout"] = Attribute::of_string("NHWC");
  }

  // n's output 0 becomes a new NHWC value, the twin of the old one (which nothing produces for now).
  void move_output_to_nhwc(Node& n) {
    Value* y = n.outputs[0];
    Value* t =
        g_.add_value(channels_last_twin(y->name), {y->type.dtype, layout::permute(y->type.shape, kNchwToNhwc)});
    n.outputs[0] = t;
    t->producer = &n;
    y->producer = nullptr;
    twin_[y] = t;
  }

  // The NHWC form of rank-4 `v`: its twin, else the input of a Transpose that made `v` from NHWC, else a new
  // Transpose (inserted once; later readers share the twin).
  Value* to_nhwc(Value* v) {
    if (auto it = twin_.find(v); it != twin_.end()) return it->second;
    if (is_transpose(v->producer, kNhwcToNchw) && has_rank4(v->producer->inputs[0])) {
      maybe_orphaned_.insert(v->producer);
      return twin_[v] = v->producer->inputs[0];
    }
    Value* t =
        g_.add_value(channels_last_twin(v->name), {v->type.dtype, layout::permute(v->type.shape, kNchwToNhwc)});
    add_transpose(v, t, kNchwToNhwc);
    return twin_[v] = t;
  }

  // Makes `v` exist in NCHW again when a converted op stopped producing it and something still reads it.
  void restore_nchw(Value* v) {
    if (!v || v->producer || v->is_constant() || passes::is_graph_input(g_, v)) return;
    auto it = twin_.find(v);
    if (it == twin_.end()) return;
    add_transpose(it->second, v, kNhwcToNchw);
  }

  void add_transpose(Value* in, Value* out, const std::array<int64_t, 4>& perm) {
    // Named after the NCHW value: "x__to_nhwc" reads x, "y__to_nchw" writes y.
    std::string name = perm == kNchwToNhwc ? in->name + "__to_nhwc" : out->name + "__to_nchw";
    auto node = make_node("Transpose", name, onnx_opset(), {in}, {out});
    node->attrs["perm"] = Attribute::of_ints(perm_of(perm));
    g_.add_node(std::move(node));
    ++report_.transposes;
  }

  int onnx_opset() const {
    auto it = g_.opset_imports.find("");
    return it == g_.opset_imports.end() ? 13 : it->second;
  }

  // A constant operand of a binary op (or Concat) in NHWC: scalars as they are; rank < 4 left-padded with 1s
  // to rank 4 (what broadcasting does), then transposed. Shared by every reader (cached as its twin).
  Result<Value*> relayout_constant(Value* c) {
    if (auto it = twin_.find(c); it != twin_.end()) return it->second;
    const Tensor& t = *c->constant;
    if (t.rank() == 0) return c;
    Dims padded(static_cast<size_t>(4 - t.rank()), 1);
    padded.insert(padded.end(), t.dims().begin(), t.dims().end());
    KILN_ASSIGN_OR_RETURN(Tensor rank4, t.reshaped(padded));
    KILN_ASSIGN_OR_RETURN(Tensor nhwc, transpose_tensor(rank4));
    return twin_[c] = add_constant(g_, c->name + "__nhwc", std::move(nhwc));
  }

  // Transposes a constant NCHW -> NHWC with the reference Transpose kernel.
  static Result<Tensor> transpose_tensor(const Tensor& t) {
    Value in, out;
    auto node = make_node("Transpose", "relayout", 13, {&in}, {&out});
    node->attrs["perm"] = Attribute::of_ints(perm_of(kNchwToNhwc));
    std::vector<Tensor> outs(1);
    ref::KernelContext ctx(*node, {&t}, &outs);
    ref::KernelFn fn = ref::find_kernel("", "Transpose");
    if (!fn) return Status::internal("no reference Transpose kernel");
    KILN_RETURN_IF_ERROR(fn(ctx));
    return outs[0].clone();
  }

  // Drops the Transposes whose outputs nobody reads any more (see to_nhwc), then every unused value.
  void remove_orphans() {
    std::set<const Node*> dead;
    for (Node* n : maybe_orphaned_)
      if (passes::reader_count(g_, n->outputs[0]) == 0 && !passes::is_graph_output(g_, n->outputs[0]))
        dead.insert(n);
    passes::remove_nodes(g_, dead);
    g_.remove_unused_values();
  }

  Graph& g_;
  ChannelsLastReport& report_;
  std::map<const Value*, Value*> twin_;  // NCHW value -> the same data in NHWC
  std::set<Node*> maybe_orphaned_;
  bool kiln_ops_ = false;
};

}  // namespace

Status convert_to_channels_last(Graph& graph, ChannelsLastReport* report) {
  ChannelsLastReport local;
  if (report) *report = {};
  return ChannelsLast(graph, report ? *report : local).run();
}

}  // namespace kiln
