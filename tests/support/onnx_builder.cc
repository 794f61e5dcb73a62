#include "tests/support/onnx_builder.h"

#include <fstream>

#include "onnx/tensor_proto.h"

namespace kiln::testing {

OnnxBuilder::OnnxBuilder(int opset, int ir_version) {
  model_.set_ir_version(ir_version);
  model_.set_producer_name("kiln-tests");
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

OnnxBuilder& OnnxBuilder::input(const std::string& name, DataType dtype, const std::vector<int64_t>& dims,
                                const std::vector<std::string>& symbols) {
  auto* in = model_.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(dtype));
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] >= 0) d->set_dim_value(dims[i]);
    else if (i < symbols.size() && !symbols[i].empty()) d->set_dim_param(symbols[i]);
  }
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name, DataType dtype) {
  auto* out = model_.mutable_graph()->add_output();
  out->set_name(name);
  auto* tt = out->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(dtype));
  tt->mutable_shape();  // the checker wants a shape field; kiln infers the real one
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer(const std::string& name, const Tensor& value, bool also_graph_input) {
  auto* init = model_.mutable_graph()->add_initializer();
  tensor_to_proto(value, *init);
  init->set_name(name);
  if (also_graph_input) input(name, value.dtype(), value.dims());
  return *this;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op_type);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

void OnnxBuilder::attr_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void OnnxBuilder::attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void OnnxBuilder::attr_float(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

std::string OnnxBuilder::bytes() const { return model_.SerializeAsString(); }

void OnnxBuilder::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  out << bytes();
}

}  // namespace kiln::testing
