// Runs an existing reference kernel on a one-output node built on the fly, so composite kernels (kiln's fused
// ops, the integer ops) reuse the ONNX kernels instead of repeating their math.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "backends/ref/kernel.h"
#include "ir/op_def.h"

namespace kiln::ref {

struct TempOp {
  Node node;
  Value out;
  Value in[4];  // placeholders so node.has_input() agrees with the tensors passed

  TempOp(const std::string& op_type, int opset) {
    node.name = op_type;
    node.op_type = op_type;
    node.opset = opset;
    node.def = find_op_def("", op_type);
    node.outputs = {&out};
  }

  /// Runs the kernel on `inputs` (null = omitted); errors carry `parent`'s node description.
  Result<Tensor> run(const KernelContext& parent, std::vector<const Tensor*> inputs) {
    KernelFn fn = find_kernel("", node.op_type);
    if (!fn || !node.def) return parent.error(fmt::format("no reference kernel for {}", node.op_type));
    node.inputs.clear();
    for (size_t i = 0; i < inputs.size() && i < 4; ++i) node.inputs.push_back(inputs[i] ? &in[i] : nullptr);
    std::vector<Tensor> outs(1);
    KernelContext ctx(node, std::move(inputs), &outs);
    Status s = fn(ctx);
    if (!s.ok()) return s.with_context(parent.node().describe());
    return outs[0];
  }
};

}  // namespace kiln::ref
