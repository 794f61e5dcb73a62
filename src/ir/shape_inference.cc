#include "ir/shape_inference.h"

#include <fmt/format.h>

#include "ir/op_def.h"

namespace kiln {

Status infer_shapes(Graph& graph) {
  for (const auto& node_ptr : graph.nodes()) {
    Node& node = *node_ptr;
    if (!node.def || !node.def->infer)
      return Status::unsupported(fmt::format("{}: no type inference for this op", node.describe()));
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] && node.inputs[i]->type.dtype == DataType::kUndefined)
        return Status::invalid_model(
            fmt::format("{}: input {} ('{}') has no known type", node.describe(), i, node.inputs[i]->name));
    }
    InferContext ctx(node);
    KILN_RETURN_IF_ERROR(node.def->infer(ctx));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] && node.outputs[i]->type.dtype == DataType::kUndefined)
        return Status::internal(fmt::format("{}: inference left output {} untyped", node.describe(), i));
    }
  }
  return {};
}

}  // namespace kiln
