#include "onnx/exporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/file_util.h"
#include "ir/fused_activation.h"
#include "core/logging.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/tensor_proto.h"

namespace kiln {

namespace {

// The newest ai.onnx opset Debian's libonnx (1.12) has schemas for (its checker only warns above it).
constexpr int kLibOnnxMaxOpset = 17;

// First ai.onnx opset of the unary ops a fused op may name that are newer than opset 7.
int since_opset(const std::string& op) {
  if (op == "Celu") return 12;
  if (op == "HardSwish") return 14;
  if (op == "Mish") return 18;
  if (op == "Gelu") return 20;
  return 1;
}

bool is_binary_step(const std::string& op) {
  static const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};
  return kBinary.count(op) > 0;
}

void fill_attribute(const std::string& name, const Attribute& a, onnx::AttributeProto& p) {
  using A = onnx::AttributeProto;
  p.set_name(name);
  switch (a.type) {
    case AttrType::kFloat: p.set_type(A::FLOAT); p.set_f(a.f); break;
    case AttrType::kInt: p.set_type(A::INT); p.set_i(a.i); break;
    case AttrType::kString: p.set_type(A::STRING); p.set_s(a.s); break;
    case AttrType::kTensor: p.set_type(A::TENSOR); tensor_to_proto(a.t, *p.mutable_t()); break;
    case AttrType::kFloats: p.set_type(A::FLOATS); for (float f : a.floats) p.add_floats(f); break;
    case AttrType::kInts: p.set_type(A::INTS); for (int64_t i : a.ints) p.add_ints(i); break;
    case AttrType::kStrings: p.set_type(A::STRINGS); for (const auto& s : a.strings) p.add_strings(s); break;
    case AttrType::kTensors:
      p.set_type(A::TENSORS);
      for (const Tensor& t : a.tensors) tensor_to_proto(t, *p.add_tensors());
      break;
    case AttrType::kGraph:
    case AttrType::kGraphs: break;  // refused before we get here
  }
}

void fill_type(const ValueType& vt, onnx::TypeProto& tp) {
  auto* tt = tp.mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(vt.dtype));
  if (!vt.shape.has_rank()) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : vt.shape.dims()) {
    auto* dp = shape->add_dim();
    if (d.known()) dp->set_dim_value(d.value);
    else if (!d.symbol.empty()) dp->set_dim_param(d.symbol);
  }
}

// Writes the nodes of one graph, expanding kiln's fused ops on the way.
class NodeWriter {
 public:
  NodeWriter(const Graph& g, onnx::GraphProto& gp, int ai_opset) : gp_(gp), ai_opset_(ai_opset) {
    for (const auto& v : g.values()) taken_.insert(v->name);
  }

  // The standard node(s) for `n`; problems are appended to `problems` (the caller lists them all).
  void write(const Node& n, bool expand, std::vector<std::string>& problems) {
    for (const auto& [name, a] : n.attrs)
      if (a.type == AttrType::kGraph || a.type == AttrType::kGraphs) {
        problems.push_back(fmt::format("{}: subgraph attribute '{}' is not carried by kiln's IR", n.describe(), name));
        return;
      }
    if (n.domain != "kiln") {
      copy_node(n);
      return;
    }
    static const std::set<std::string> kExpandable = {"FusedConv", "FusedGemm", "FusedMatMul", "ElementwiseChain"};
    // ONNX's Conv is NCHW only: a channels-last FusedConv has no standard form.
    const bool channels_last = n.attr_string("layout", "NCHW") != "NCHW";
    if (!expand || !kExpandable.count(n.op_type) || channels_last) {
      problems.push_back(fmt::format("{} (kiln.{}{})", n.describe(), n.op_type,
                                     kExpandable.count(n.op_type) && !channels_last ? ": set expand_kiln_ops"
                                                                                     : ": no standard form"));
      return;
    }
    Status s = n.op_type == "ElementwiseChain" ? expand_chain(n) : expand_fused(n);
    if (!s.ok()) problems.push_back(s.message());
  }

 private:
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; !taken_.insert(name).second; ++i) name = fmt::format("{}_{}", base, i);
    return name;
  }

  onnx::NodeProto& add(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                       const std::string& name) {
    onnx::NodeProto& p = *gp_.add_node();
    p.set_op_type(op);
    p.set_name(name);
    for (const auto& in : inputs) p.add_input(in);
    p.add_output(output);
    return p;
  }

  void copy_node(const Node& n) {
    onnx::NodeProto& p = *gp_.add_node();
    p.set_op_type(n.op_type);
    p.set_name(n.name);
    if (!n.domain.empty()) p.set_domain(n.domain);
    for (const Value* in : n.inputs) p.add_input(in ? in->name : "");
    for (const Value* out : n.outputs) p.add_output(out ? out->name : "");
    for (const auto& [name, a] : n.attrs) fill_attribute(name, a, *p.add_attribute());
  }

  // An initializer holding one element of `dtype` (converted from float as the reference kernels do).
  Result<std::string> scalar(const std::string& base, DataType dtype, float v) {
    Tensor t(dtype, {});
    KILN_RETURN_IF_ERROR(visit_numeric(dtype, [&](auto tag) -> Status {
      using T = decltype(tag);
      t.data<T>()[0] = static_cast<T>(static_cast<compute_type_t<T>>(v));
      return {};
    }));
    std::string name = fresh(base);
    onnx::TensorProto& tp = *gp_.add_initializer();
    tensor_to_proto(t, tp);
    tp.set_name(name);
    return name;
  }

  // A value between two expanded nodes: same type as the fused node's output (Add and activations keep it).
  std::string intermediate(const Value& out, const std::string& suffix) {
    std::string name = fresh(out.name + suffix);
    if (out.type.dtype != DataType::kUndefined) {
      auto* vi = gp_.add_value_info();
      vi->set_name(name);
      fill_type(out.type, *vi->mutable_type());
    }
    return name;
  }

  // One unary step `op` with params (p0, p1) from `in` to `out`; binary ops use p0 as a scalar operand.
  Status step(const Node& n, std::string op, float p0, float p1, const std::string& in, const std::string& out,
              DataType dtype, const std::string& node_name) {
    bool reversed = op.size() > 2 && op.ends_with(":r");
    if (reversed) op.resize(op.size() - 2);
    if (is_binary_step(op)) {
      KILN_ASSIGN_OR_RETURN(std::string c, scalar(node_name + "/c", dtype, p0));
      add(op, reversed ? std::vector<std::string>{c, in} : std::vector<std::string>{in, c}, out, node_name);
      return {};
    }
    if (reversed) return Status::invalid_model(fmt::format("{}: '{}:r' is not a binary op", n.describe(), op));
    if (op == "Swish") {  // kiln's SiLU activation, x * Sigmoid(x), in any opset
      const std::string s = fresh(out + "/Sigmoid");
      add("Sigmoid", {in}, s, node_name + "/Sigmoid");
      add("Mul", {in, s}, out, node_name);
      return {};
    }
    if (since_opset(op) > ai_opset_)
      return Status::unsupported(fmt::format("{}: {} needs ai.onnx opset {}, the graph imports {}", n.describe(), op,
                                             since_opset(op), ai_opset_));
    if (op == "Clip") {
      const float inf = std::numeric_limits<float>::infinity();
      if (ai_opset_ < 11) {  // Clip-6: bounds are attributes
        onnx::NodeProto& p = add(op, {in}, out, node_name);
        if (p0 != -inf) fill_attribute("min", Attribute::of_float(p0), *p.add_attribute());
        if (p1 != inf) fill_attribute("max", Attribute::of_float(p1), *p.add_attribute());
        return {};
      }
      std::vector<std::string> inputs = {in, "", ""};
      if (p0 != -inf) { KILN_ASSIGN_OR_RETURN(inputs[1], scalar(node_name + "/min", dtype, p0)); }
      if (p1 != inf) { KILN_ASSIGN_OR_RETURN(inputs[2], scalar(node_name + "/max", dtype, p1)); }
      while (inputs.back().empty()) inputs.pop_back();
      add(op, inputs, out, node_name);
      return {};
    }
    onnx::NodeProto& p = add(op, {in}, out, node_name);
    std::vector<std::string> names = activation_param_names(op);
    const float params[2] = {p0, p1};
    for (size_t i = 0; i < names.size(); ++i) fill_attribute(names[i], Attribute::of_float(params[i]), *p.add_attribute());
    return {};
  }

  Status expand_fused(const Node& n) {
    const Value& out = *n.outputs[0];
    std::string act = n.attr_string("activation");
    std::vector<float> params = n.attr_floats("activation_params");
    size_t want = act == "Clip" ? 2 : activation_param_names(act).size();
    if (!act.empty() && params.size() != want)
      return Status::invalid_model(
          fmt::format("{}: activation {} takes {} params, got {}", n.describe(), act, want, params.size()));
    params.resize(2, 0.0f);
    std::string base_op = n.op_type == "FusedConv" ? "Conv" : n.op_type == "FusedGemm" ? "Gemm" : "MatMul";
    // FusedConv's Z (input 3) and FusedMatMul's bias (input 2) are added after the base op.
    size_t addend = n.op_type == "FusedConv" ? 3 : n.op_type == "FusedMatMul" ? 2 : SIZE_MAX;
    size_t base_inputs = base_op == "MatMul" ? 2 : 3;
    bool has_add = n.has_input(addend);

    std::vector<std::string> inputs;
    for (size_t i = 0; i < std::min(base_inputs, n.inputs.size()); ++i)
      inputs.push_back(n.inputs[i] ? n.inputs[i]->name : "");
    while (!inputs.empty() && inputs.back().empty()) inputs.pop_back();

    std::string y = (has_add || !act.empty()) ? intermediate(out, "/" + base_op) : out.name;
    onnx::NodeProto& p = add(base_op, inputs, y, n.name + (y == out.name ? "" : "/" + base_op));
    for (const auto& [name, a] : n.attrs)
      if (name != "activation" && name != "activation_params" && name != "layout")
        fill_attribute(name, a, *p.add_attribute());
    if (has_add) {
      std::string sum = act.empty() ? out.name : intermediate(out, "/Add");
      add("Add", {y, n.inputs[addend]->name}, sum, n.name + "/Add");
      y = sum;
    }
    if (!act.empty()) KILN_RETURN_IF_ERROR(step(n, act, params[0], params[1], y, out.name, out.type.dtype, n.name + "/" + act));
    return {};
  }

  Status expand_chain(const Node& n) {
    std::vector<std::string> ops = n.attr_strings("ops");
    std::vector<float> params = n.attr_floats("params");
    if (ops.empty() || params.size() != 2 * ops.size())
      return Status::invalid_model(fmt::format("{}: {} ops need {} params, got {}", n.describe(), ops.size(),
                                               2 * ops.size(), params.size()));
    const Value& out = *n.outputs[0];
    std::string y = n.inputs[0]->name;
    for (size_t k = 0; k < ops.size(); ++k) {
      std::string next = k + 1 == ops.size() ? out.name : intermediate(out, fmt::format("/{}", k));
      KILN_RETURN_IF_ERROR(step(n, ops[k], params[2 * k], params[2 * k + 1], y, next, n.inputs[0]->type.dtype,
                                fmt::format("{}/{}_{}", n.name, k, ops[k].substr(0, ops[k].find(':')))));
      y = next;
    }
    return {};
  }

  onnx::GraphProto& gp_;
  int ai_opset_;
  std::set<std::string> taken_;
};

int64_t ir_version_for(int ai_opset) {
  if (ai_opset >= 21) return 10;
  if (ai_opset >= 19) return 9;
  return 8;
}

bool is_graph_io(const std::vector<Value*>& list, const Value* v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

Result<std::string> export_onnx_bytes(const Graph& g, const ExportOptions& options) {
  onnx::ModelProto model;
  std::map<std::string, int> opsets(g.opset_imports.begin(), g.opset_imports.end());
  // A node a pass created at a newer opset than the import needs that opset.
  for (const auto& n : g.nodes())
    if (n->opset > opsets[n->domain]) opsets[n->domain] = n->opset;
  int ai_opset = opsets[""];
  if (ai_opset == 0) ai_opset = opsets[""] = 13;  // no default-domain import: any opset works for no nodes

  onnx::GraphProto& gp = *model.mutable_graph();
  gp.set_name(g.name.empty() ? "kiln" : g.name);
  NodeWriter writer(g, gp, ai_opset);
  std::vector<std::string> problems;
  for (const auto& n : g.nodes()) writer.write(*n, options.expand_kiln_ops, problems);
  if (!problems.empty())
    return Status::unsupported(fmt::format("cannot export {} node(s) as standard ONNX: {}", problems.size(),
                                           fmt::join(problems, "; ")));
  bool kiln_nodes_left = std::any_of(gp.node().begin(), gp.node().end(),
                                     [](const onnx::NodeProto& p) { return p.domain() == "kiln"; });
  if (!kiln_nodes_left) opsets.erase("kiln");

  model.set_ir_version(options.ir_version > 0 ? options.ir_version : ir_version_for(ai_opset));
  model.set_producer_name(options.producer_name);
  model.set_producer_version(options.producer_version);
  for (const auto& [domain, version] : opsets) {
    auto* op = model.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }

  // Initializers: every constant something reads, in the graph's value order.
  std::set<const Value*> used;
  for (const auto& n : g.nodes())
    for (const Value* in : n->inputs)
      if (in) used.insert(in);
  for (const Value* v : g.outputs) used.insert(v);
  for (const Value* v : g.inputs) used.insert(v);
  for (const auto& v : g.values()) {
    if (!v->is_constant() || v->producer || !used.count(v.get())) continue;
    onnx::TensorProto& tp = *gp.add_initializer();
    tensor_to_proto(*v->constant, tp);
    tp.set_name(v->name);
  }
  for (const Value* v : g.inputs) {
    auto* vi = gp.add_input();
    vi->set_name(v->name);
    fill_type(v->type, *vi->mutable_type());
  }
  for (const Value* v : g.outputs) {
    if (v->type.dtype == DataType::kUndefined)
      return Status::invalid_model(fmt::format("graph output '{}' has no dtype", v->name));
    auto* vi = gp.add_output();
    vi->set_name(v->name);
    fill_type(v->type, *vi->mutable_type());
  }
  if (options.write_value_info) {
    for (const auto& n : g.nodes())
      for (const Value* v : n->outputs)
        if (v && v->type.dtype != DataType::kUndefined && !is_graph_io(g.outputs, v)) {
          auto* vi = gp.add_value_info();
          vi->set_name(v->name);
          fill_type(v->type, *vi->mutable_type());
        }
  } else {
    gp.clear_value_info();  // the expansion's intermediates too
  }

  if (options.run_checker) {
    try {
      onnx::checker::check_model(model);
    } catch (const std::exception& e) {
      if (ai_opset > kLibOnnxMaxOpset)
        log_warning(fmt::format("export: ONNX checker (which knows opsets up to {}) reported: {}", kLibOnnxMaxOpset,
                                e.what()));
      else
        return Status::internal(fmt::format("export produced a model the ONNX checker rejects: {}", e.what()));
    }
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    return Status::internal("export: protobuf serialization failed (a model over 2 GB needs external data)");
  return bytes;
}

Status export_onnx(const Graph& graph, const std::string& path, const ExportOptions& options) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, export_onnx_bytes(graph, options));
  return write_file_atomic(path, bytes);
}

}  // namespace kiln
