#include "passes/fusion/fusion_util.h"

#include "passes/pass_util.h"

namespace kiln::passes {

bool is_onnx(const Node* n, const char* op) { return n && n->domain.empty() && n->op_type == op; }
bool is_kiln(const Node* n, const char* op) { return n && n->domain == "kiln" && n->op_type == op; }

std::string fused_form(const Node& n) {
  if (n.outputs.size() != 1 || !n.has_output(0)) return "";
  if (is_onnx(&n, "Conv")) return "FusedConv";
  if (is_onnx(&n, "Gemm")) return "FusedGemm";
  if (is_onnx(&n, "MatMul")) return "FusedMatMul";
  if (n.domain == "kiln" && n.attr_string("activation").empty() &&
      (n.op_type == "FusedConv" || n.op_type == "FusedGemm" || n.op_type == "FusedMatMul"))
    return n.op_type;
  return "";
}

void fuse_into(Graph& g, Node& first, Node& last, const std::string& fused, std::vector<Value*> inputs,
               const Activation* activation) {
  auto attrs = first.attrs;
  attrs.erase("broadcast");  // Gemm's pre-opset-7 flag; broadcasting is the default since
  if (activation) {
    attrs["activation"] = Attribute::of_string(activation->op);
    attrs["activation_params"] = Attribute::of_floats(activation->params);
  }
  std::string name = first.name;
  remove_nodes(g, {&first});
  last.attrs = std::move(attrs);
  last.inputs = std::move(inputs);
  while (!last.inputs.empty() && !last.inputs.back()) last.inputs.pop_back();
  become_fused(&last, fused, name);
  ensure_kiln_opset(g);
}

}  // namespace kiln::passes
