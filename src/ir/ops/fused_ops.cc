// Op definitions of kiln's own fused ops (domain "kiln"), produced by the fusion passes (src/passes/fusion).
//
//   FusedConv(X, W, B?, Z?)  = activation(Conv(X, W, B) + Z)        Conv's attributes
//   FusedGemm(A, B, C?)      = activation(Gemm(A, B, C))            Gemm's attributes
//   FusedMatMul(A, B, bias?) = activation(MatMul(A, B) + bias)      bias broadcasts into the product
//   ElementwiseChain(X)      = ops[n-1](...ops[0](X))               unary ops, 2 params per op
//
// `activation` names an ONNX op ("" = none), or "Swish" (x * Sigmoid(x), SiLU; made by fuse_swish);
// `activation_params` are its float attributes in a fixed order (the ORT convention):
// LeakyRelu/Elu/Celu/ThresholdedRelu [alpha], HardSigmoid [alpha, beta], Selu [alpha, gamma],
// Shrink [bias, lambd], Clip [min, max] (±inf when absent), others [].
// FusedConv's `layout` ("NCHW" or "NHWC", see src/ir/ops/layout_util.h) is the memory order of X, Z and Y;
// W stays [M, C/group, kH, kW].
// ElementwiseChain's `ops` are unary ONNX ops with the same parameters in `params` (two slots per op,
// unused slots 0), or a binary op with a constant scalar: "Add" (x + c) or "Add:r" (c + x), likewise
// Sub, Mul, Div, Pow, Max, Min; the scalar is params[2k] in the input's dtype.
#include <fmt/format.h>

#include "ir/fused_activation.h"
#include "ir/op_def.h"
#include "ir/ops/layout_util.h"

namespace kiln {

namespace {

AttrSpec activation_attr() { return attr_string("activation", ""); }

// Runs an ONNX op's inference on the fused node (it carries the same attribute names and leading inputs).
Status infer_like(InferContext& ctx, const char* op_type) {
  const OpDef* def = find_op_def("", op_type);
  if (!def || !def->infer) return ctx.error(fmt::format("no inference for {}", op_type));
  return def->infer(ctx);
}

// The extra operand (Z or bias) must broadcast into the output without changing its shape.
Status check_addend(InferContext& ctx, size_t input, const Shape& out) {
  if (!ctx.has_input(input) || !out.has_rank()) return {};
  const Shape& s = ctx.input_shape(input);
  if (!s.has_rank()) return {};
  if (s.rank() > out.rank())
    return ctx.error(fmt::format("input {} {} has a higher rank than the output {}", input, s.to_string(),
                                 out.to_string()));
  for (size_t i = 0; i < s.rank(); ++i) {
    const Dim& d = s[i];
    const Dim& o = out[out.rank() - s.rank() + i];
    if (d.known() && d.value != 1 && o.known() && d.value != o.value)
      return ctx.error(fmt::format("input {} {} does not broadcast into the output {}", input, s.to_string(),
                                   out.to_string()));
  }
  return {};
}

Status infer_fused_conv_nchw(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(infer_like(ctx, "Conv"));
  return check_addend(ctx, 3, ctx.node().outputs[0]->type.shape);
}

Status infer_fused_conv(InferContext& ctx) { return layout::infer_in_layout(ctx, {0, 3}, infer_fused_conv_nchw); }

Status infer_fused_gemm(InferContext& ctx) { return infer_like(ctx, "Gemm"); }

Status infer_fused_matmul(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(infer_like(ctx, "MatMul"));
  return check_addend(ctx, 2, ctx.node().outputs[0]->type.shape);
}

Status infer_chain(InferContext& ctx) {
  const Node& n = ctx.node();
  if (n.attr_strings("ops").empty()) return ctx.error("ops must name at least one op");
  if (n.attr_floats("params").size() != 2 * n.attr_strings("ops").size())
    return ctx.error("params must hold two values per op");
  return infer_same_as_input0(ctx);
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "FusedConv",
       .domain = "kiln",
       .min_inputs = 2,
       .max_inputs = 4,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_ints("dilations"), attr_int("group", 1),
                 attr_ints("kernel_shape"), attr_ints("pads"), attr_ints("strides"), activation_attr(),
                 attr_floats("activation_params"), attr_string("layout", "NCHW")},
       .infer = infer_fused_conv},
      {.op_type = "FusedGemm",
       .domain = "kiln",
       .min_inputs = 2,
       .max_inputs = 3,
       .attrs = {attr_float("alpha", 1.0f), attr_float("beta", 1.0f), attr_int("transA", 0), attr_int("transB", 0),
                 activation_attr(), attr_floats("activation_params")},
       .infer = infer_fused_gemm},
      {.op_type = "FusedMatMul",
       .domain = "kiln",
       .min_inputs = 2,
       .max_inputs = 3,
       .attrs = {activation_attr(), attr_floats("activation_params")},
       .infer = infer_fused_matmul},
      {.op_type = "ElementwiseChain",
       .domain = "kiln",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {required(attr_strings("ops")), attr_floats("params")},
       .infer = infer_chain},
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> fused_op_defs() { return defs(); }

std::vector<std::string> activation_param_names(const std::string& op) {
  if (op == "LeakyRelu" || op == "Elu" || op == "Celu" || op == "ThresholdedRelu") return {"alpha"};
  if (op == "HardSigmoid") return {"alpha", "beta"};
  if (op == "Selu") return {"alpha", "gamma"};
  if (op == "Shrink") return {"bias", "lambd"};
  return {};
}

}  // namespace kiln
