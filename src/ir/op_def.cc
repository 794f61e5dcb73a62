#include "ir/op_def.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

namespace kiln {

#define KILN_OP_FAMILY(family) std::span<const OpDef> family##_op_defs();
#include "ir/ops/op_families.inc"
#undef KILN_OP_FAMILY

AttrSpec attr_int(std::string name, std::optional<int64_t> def) {
  return {std::move(name), AttrType::kInt, def ? std::optional(Attribute::of_int(*def)) : std::nullopt};
}
AttrSpec attr_float(std::string name, std::optional<float> def) {
  return {std::move(name), AttrType::kFloat, def ? std::optional(Attribute::of_float(*def)) : std::nullopt};
}
AttrSpec attr_string(std::string name, std::optional<std::string> def) {
  return {std::move(name), AttrType::kString, def ? std::optional(Attribute::of_string(*def)) : std::nullopt};
}
AttrSpec attr_ints(std::string name) { return {std::move(name), AttrType::kInts, std::nullopt}; }
AttrSpec attr_floats(std::string name) { return {std::move(name), AttrType::kFloats, std::nullopt}; }
AttrSpec attr_strings(std::string name) { return {std::move(name), AttrType::kStrings, std::nullopt}; }
AttrSpec attr_tensor(std::string name) { return {std::move(name), AttrType::kTensor, std::nullopt}; }
AttrSpec required(AttrSpec spec) {
  spec.required = true;
  return spec;
}

namespace {
using Registry = std::map<std::pair<std::string, std::string>, const OpDef*, std::less<>>;

const Registry& registry() {
  static const Registry reg = [] {
    Registry r;
#define KILN_OP_FAMILY(family) \
  for (const OpDef& d : family##_op_defs()) r[{d.domain, d.op_type}] = &d;
#include "ir/ops/op_families.inc"
#undef KILN_OP_FAMILY
    return r;
  }();
  return reg;
}
}  // namespace

const OpDef* find_op_def(std::string_view domain, std::string_view op_type) {
  std::string dom(domain == "ai.onnx" ? "" : domain);
  auto it = registry().find(std::pair<std::string, std::string>(dom, std::string(op_type)));
  return it == registry().end() ? nullptr : it->second;
}

std::vector<const OpDef*> all_op_defs() {
  std::vector<const OpDef*> out;
  for (auto& [key, def] : registry()) out.push_back(def);
  return out;
}

Status validate_node(const Node& node, const OpDef& def) {
  int n_in = static_cast<int>(node.inputs.size());
  // Trailing omitted inputs do not count.
  while (n_in > 0 && !node.inputs[n_in - 1]) --n_in;
  if (n_in < def.min_inputs || (def.max_inputs >= 0 && n_in > def.max_inputs)) {
    std::string expected = def.max_inputs < 0 ? fmt::format("at least {}", def.min_inputs)
                           : def.min_inputs == def.max_inputs
                               ? fmt::format("{}", def.min_inputs)
                               : fmt::format("{} to {}", def.min_inputs, def.max_inputs);
    return Status::invalid_model(fmt::format("{} has {} inputs, expected {}", node.describe(), n_in, expected));
  }
  for (int i = 0; i < def.min_inputs && i < n_in; ++i)
    if (!node.inputs[i])
      return Status::invalid_model(fmt::format("{}: required input {} is missing", node.describe(), i));
  int n_out = static_cast<int>(node.outputs.size());
  if (n_out < def.min_outputs || n_out > def.max_outputs)
    return Status::invalid_model(fmt::format("{} has {} outputs, expected {} to {}", node.describe(), n_out,
                                             def.min_outputs, def.max_outputs));
  for (const auto& [name, attr] : node.attrs) {
    const AttrSpec* spec = nullptr;
    for (const AttrSpec& s : def.attrs)
      if (s.name == name) spec = &s;
    if (!spec)
      return Status::invalid_model(fmt::format("{}: unknown attribute '{}'", node.describe(), name));
    if (spec->type != attr.type)
      return Status::invalid_model(fmt::format("{}: attribute '{}' is {}, expected {}", node.describe(), name,
                                               attr_type_name(attr.type), attr_type_name(spec->type)));
  }
  for (const AttrSpec& s : def.attrs)
    if (s.required && !node.attrs.count(s.name))
      return Status::invalid_model(fmt::format("{}: required attribute '{}' is missing", node.describe(), s.name));
  return {};
}

std::unique_ptr<Node> make_node(const std::string& op_type, const std::string& name, int opset,
                                std::vector<Value*> inputs, std::vector<Value*> outputs, const std::string& domain) {
  auto n = std::make_unique<Node>();
  n->op_type = op_type;
  n->name = name;
  n->domain = domain;
  n->opset = opset;
  n->def = find_op_def(domain, op_type);
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  return n;
}

Value* add_constant(Graph& graph, const std::string& name, Tensor t) {
  Value* v = graph.add_value(name, {t.dtype(), Shape::from_dims(t.dims())});
  v->constant = std::move(t);
  return v;
}

const Tensor* InferContext::input_value(size_t i) const {
  if (!has_input(i) || !node_.inputs[i]->constant) return nullptr;
  return &*node_.inputs[i]->constant;
}

void InferContext::set_output(size_t i, DataType dtype, Shape shape) {
  if (!has_output(i)) return;
  node_.outputs[i]->type.dtype = dtype;
  node_.outputs[i]->type.shape = std::move(shape);
}

Status InferContext::error(const std::string& message) const {
  return Status::invalid_model(fmt::format("{}: {}", node_.describe(), message));
}

Status infer_same_as_input0(InferContext& ctx) {
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return {};
}

static Status broadcast_all(InferContext& ctx, Shape& out) {
  out = ctx.input_shape(0);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    Result<Shape> b = broadcast_shapes(out, ctx.input_shape(i));
    if (!b.ok()) return ctx.error(b.status().message());
    out = *b;
  }
  return {};
}

Status infer_broadcast_inputs(InferContext& ctx) {
  Shape out;
  KILN_RETURN_IF_ERROR(broadcast_all(ctx, out));
  ctx.set_output(0, ctx.input_dtype(0), out);
  return {};
}

Status infer_broadcast_to_bool(InferContext& ctx) {
  Shape out;
  KILN_RETURN_IF_ERROR(broadcast_all(ctx, out));
  ctx.set_output(0, DataType::kBool, out);
  return {};
}

}  // namespace kiln
