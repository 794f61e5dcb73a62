#include "onnx/importer.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/file_util.h"
#include "core/logging.h"
#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/tensor_proto.h"
#include "onnx/version_converter/convert.h"

namespace onnx::checker {
// Exported by libonnx but not declared in its header: the checker with a context (for the model folder).
void check_model(const ModelProto& model, CheckerContext& ctx);
}  // namespace onnx::checker

namespace kiln {

namespace {

// The newest ai.onnx opset Debian's libonnx (1.12) has schemas for.
constexpr int kLibOnnxMaxOpset = 17;

int ai_onnx_opset(const onnx::ModelProto& model) {
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") return static_cast<int>(op.version());
  return 0;
}

Result<Attribute> convert_attribute(const onnx::AttributeProto& a, const std::string& base_dir) {
  Attribute out;
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::FLOAT: out = Attribute::of_float(a.f()); break;
    case A::INT: out = Attribute::of_int(a.i()); break;
    case A::STRING: out = Attribute::of_string(a.s()); break;
    case A::FLOATS: out = Attribute::of_floats({a.floats().begin(), a.floats().end()}); break;
    case A::INTS: out = Attribute::of_ints({a.ints().begin(), a.ints().end()}); break;
    case A::STRINGS: out = Attribute::of_strings({a.strings().begin(), a.strings().end()}); break;
    case A::TENSOR: {
      KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(a.t(), base_dir));
      out = Attribute::of_tensor(std::move(t));
      break;
    }
    case A::TENSORS: {
      out.type = AttrType::kTensors;
      for (const auto& tp : a.tensors()) {
        KILN_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, base_dir));
        out.tensors.push_back(std::move(t));
      }
      break;
    }
    case A::GRAPH: out.type = AttrType::kGraph; break;     // subgraphs: carried as a marker only
    case A::GRAPHS: out.type = AttrType::kGraphs; break;
    default:
      return Status::unsupported(fmt::format("attribute '{}' has unsupported type {}", a.name(), static_cast<int>(a.type())));
  }
  return out;
}

ValueType convert_type(const onnx::TypeProto& tp) {
  ValueType vt;
  if (!tp.has_tensor_type()) return vt;
  const auto& tt = tp.tensor_type();
  if (is_known_dtype(tt.elem_type())) vt.dtype = static_cast<DataType>(tt.elem_type());
  if (tt.has_shape()) {
    std::vector<Dim> dims;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0) dims.emplace_back(d.dim_value());
      else if (d.has_dim_param() && !d.dim_param().empty()) dims.push_back(Dim::symbolic(d.dim_param()));
      else dims.emplace_back();
    }
    vt.shape = Shape(std::move(dims));
  }
  return vt;
}

Status check_and_upgrade(onnx::ModelProto& model, const std::string& base_dir, const std::string& label,
                         const ImportOptions& options) {
  int opset = ai_onnx_opset(model);
  if (opset > kMaxSupportedOpset)
    return Status::unsupported(fmt::format("{}: ai.onnx opset {} is newer than the newest kiln supports ({})", label,
                                           opset, kMaxSupportedOpset));
  if (options.run_checker) {
    try {
      onnx::checker::CheckerContext ctx;
      ctx.set_model_dir(base_dir);
      onnx::checker::check_model(model, ctx);
    } catch (const std::exception& e) {
      if (opset > kLibOnnxMaxOpset)
        log_warning(fmt::format("{}: ONNX checker (which knows opsets up to {}) reported: {}", label,
                                kLibOnnxMaxOpset, e.what()));
      else
        return Status::invalid_model(fmt::format("{}: the ONNX checker rejected the model: {}", label, e.what()));
    }
  }
  if (opset > 0 && opset < options.min_opset) {
    try {
      // The converter's adapters need input shapes (e.g. for old-style broadcasting); ONNX's own shape
      // inference provides them for these old opsets. kiln's inference runs after the upgrade.
      try {
        onnx::shape_inference::InferShapes(model);
      } catch (const std::exception& e) {
        log_info(fmt::format("{}: ONNX shape inference before the upgrade failed: {}", label, e.what()));
      }
      model = onnx::version_conversion::ConvertVersion(model, options.min_opset);
      log_info(fmt::format("{}: upgraded from opset {} to {}", label, opset, options.min_opset));
    } catch (const std::exception& e) {
      return Status::unsupported(fmt::format("{}: opset {} model could not be upgraded to opset {}: {}", label, opset,
                                             options.min_opset, e.what()));
    }
  }
  return {};
}

}  // namespace

Result<Graph> import_onnx_bytes(const std::string& bytes, const std::string& base_dir, const std::string& label,
                                const ImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.empty()) return Status::invalid_model(fmt::format("{}: the file is empty, not an ONNX model", label));
  if (!model.ParseFromString(bytes))
    return Status::invalid_model(
        fmt::format("{}: not an ONNX model, or a truncated one (protobuf parsing failed)", label));
  if (model.ir_version() <= 0 || !model.has_graph())
    return Status::invalid_model(fmt::format("{}: not an ONNX model (no IR version or no graph)", label));
  KILN_RETURN_IF_ERROR(check_and_upgrade(model, base_dir, label, options));

  Graph g;
  const onnx::GraphProto& gp = model.graph();
  g.name = gp.name();
  g.producer = model.producer_name() + (model.producer_version().empty() ? "" : " " + model.producer_version());
  for (const auto& op : model.opset_import())
    g.opset_imports[op.domain() == "ai.onnx" ? "" : op.domain()] = static_cast<int>(op.version());

  for (const auto& init : gp.initializer()) {
    auto t = tensor_from_proto(init, base_dir);
    if (!t.ok()) return t.status().with_context(fmt::format("{}: initializer '{}'", label, init.name()));
    Value* v = g.add_value(init.name(), {t->dtype(), Shape::from_dims(t->dims())});
    v->constant = std::move(*t);
  }
  for (const auto& in : gp.input()) {
    if (Value* v = g.find_value(in.name())) {
      // IR < 4: initializers are also listed as inputs. Keep the initializer's type; the input is optional.
      g.inputs.push_back(v);
      continue;
    }
    ValueType vt = convert_type(in.type());
    if (vt.dtype == DataType::kUndefined)
      return Status::unsupported(fmt::format("{}: graph input '{}' is not a tensor of a supported dtype", label,
                                             in.name()));
    g.inputs.push_back(g.add_value(in.name(), vt));
  }

  std::vector<std::string> unsupported;
  std::set<std::string> produced_names;
  int index = 0;
  for (const auto& np : gp.node()) {
    auto node = std::make_unique<Node>();
    node->op_type = np.op_type();
    node->domain = np.domain() == "ai.onnx" ? "" : np.domain();
    node->name = np.name().empty() ? fmt::format("{}_{}", np.op_type(), index) : np.name();
    ++index;
    auto opset_it = g.opset_imports.find(node->domain);
    node->opset = opset_it == g.opset_imports.end() ? 1 : opset_it->second;
    node->def = find_op_def(node->domain, node->op_type);
    if (!node->def) {
      unsupported.push_back(fmt::format("'{}' ({}{}, opset {})", node->name,
                                        node->domain.empty() ? "" : node->domain + ".", node->op_type, node->opset));
    }
    for (const auto& in_name : np.input()) {
      if (in_name.empty()) {
        node->inputs.push_back(nullptr);
        continue;
      }
      Value* v = g.find_value(in_name);
      if (!v) v = g.add_value(in_name);  // produced by a later node (unsorted graph); checked below
      node->inputs.push_back(v);
    }
    for (const auto& out_name : np.output()) {
      if (out_name.empty()) {
        node->outputs.push_back(nullptr);
        continue;
      }
      if (!produced_names.insert(out_name).second)
        return Status::invalid_model(fmt::format("{}: value '{}' is produced by more than one node", label, out_name));
      Value* v = g.find_value(out_name);
      if (v && (v->is_constant() || std::count(g.inputs.begin(), g.inputs.end(), v)))
        return Status::invalid_model(
            fmt::format("{}: node '{}' writes '{}', which is a graph input or initializer", label, node->name, out_name));
      if (!v) v = g.add_value(out_name);
      node->outputs.push_back(v);
    }
    for (const auto& ap : np.attribute()) {
      auto attr = convert_attribute(ap, base_dir);
      if (!attr.ok()) return attr.status().with_context(fmt::format("{}: {}", label, node->describe()));
      node->attrs[ap.name()] = std::move(*attr);
    }
    g.add_node(std::move(node));
  }
  if (!unsupported.empty())
    return Status::unsupported(fmt::format("{}: {} unsupported node(s): {}", label, unsupported.size(),
                                           fmt::join(unsupported, ", ")));

  for (const auto& out : gp.output()) {
    Value* v = g.find_value(out.name());
    if (!v) return Status::invalid_model(fmt::format("{}: graph output '{}' is never produced", label, out.name()));
    g.outputs.push_back(v);
  }
  // Every value read must come from an input, an initializer or a node.
  for (const auto& n : g.nodes())
    for (Value* v : n->inputs)
      if (v && !v->producer && !v->is_constant() && !std::count(g.inputs.begin(), g.inputs.end(), v))
        return Status::invalid_model(fmt::format("{}: {} reads '{}', which no node, input or initializer provides",
                                                 label, n->describe(), v->name));
  for (const auto& n : g.nodes()) {
    Status s = validate_node(*n, *n->def);
    if (!s.ok()) return s.with_context(label);
  }
  KILN_RETURN_IF_ERROR(g.topo_sort().with_context(label));
  Status inferred = infer_shapes(g);
  if (!inferred.ok()) return inferred.with_context(label);
  // Keep the symbolic names the model declared for its outputs where inference could not name them.
  for (const auto& out : gp.output()) {
    Value* v = g.find_value(out.name());
    ValueType declared = convert_type(out.type());
    if (!v->type.shape.has_rank() && declared.shape.has_rank() && declared.dtype == v->type.dtype)
      v->type.shape = declared.shape;
  }
  return g;
}

Result<Graph> import_onnx_file(const std::string& path, const ImportOptions& options) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path, "ONNX model"));
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  return import_onnx_bytes(bytes, base_dir.empty() ? "." : base_dir, path, options);
}

}  // namespace kiln
