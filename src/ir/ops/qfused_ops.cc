// Op definitions of kiln's integer fused ops (domain "kiln"), produced by fold_qdq
// (src/passes/precision/fold_qdq.h) from `DequantizeLinear → Conv/Gemm/MatMul → QuantizeLinear` patterns.
//
//   QConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?, z?, z_scale?, z_zp?)
//   QMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp, bias?)
//
// The first eight inputs are those of ONNX QLinearConv / QLinearMatMul (x/a, z and y per tensor; w per
// tensor or per output channel: w_scale/w_zp scalars or [M] for QConv, scalars or [N] for QMatMul).
// B / bias is int32 [M] / [N] in the accumulator's scale (x_scale * w_scale[c]). z is an optional residual
// (FusedConv's Z) of the output's shape, added in real terms before requantization. `activation` is "",
// "Relu" or "Clip" (activation_params [min, max]) and becomes a clamp on the quantized output:
//
//   acc  = Σ (x - x_zp)(w - w_zp[c]) + B[c]                                  (int32)
//   t    = acc · (x_scale · w_scale[c] / y_scale) + (z - z_zp) · (z_scale / y_scale)   (double)
//   y    = saturate(clamp_activation(round_half_even(t) + y_zp))
//
// `layout` ("NCHW" or "NHWC", see src/ir/ops/layout_util.h) is the memory order of x, z and y; w stays
// [M, C/group, kH, kW].
//
// This is QuantizeLinear(activation(DequantizeLinear(...) ⊛ DequantizeLinear(...) + DQ(B) + DQ(z))) evaluated
// in float64 (the reference kernel is in src/backends/ref/qfused.cc).
//
//   QLookup(x, table) -> y    y[i] = table[x[i] - min(x's dtype)]: an elementwise function of an 8-bit x as a
//                             table of 256 entries (y's dtype: 8-bit, f16 or f32). fold_qdq_lookup builds it from
//                             a per-tensor DequantizeLinear -> elementwise float ops (-> QuantizeLinear) region
//                             by running that region on the reference kernels for all 256 inputs.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/layout_util.h"

namespace kiln {

namespace {

Status infer_like(InferContext& ctx, const char* op_type) {
  const OpDef* def = find_op_def("", op_type);
  if (!def || !def->infer) return ctx.error(fmt::format("no inference for {}", op_type));
  return def->infer(ctx);
}

Status check_activation(InferContext& ctx) {
  std::string act = ctx.node().attr_string("activation");
  if (act.empty() || act == "Relu") return {};
  if (act == "Clip") {
    if (ctx.node().attr_floats("activation_params").size() != 2)
      return ctx.error("activation Clip needs activation_params [min, max]");
    return {};
  }
  return ctx.error(fmt::format("activation '{}' is not supported by integer ops (expected '', Relu or Clip)", act));
}

Status infer_qconv_nchw(InferContext& ctx) {
  if (ctx.num_inputs() > 9 && ctx.has_input(9) && (!ctx.has_input(10) || !ctx.has_input(11)))
    return ctx.error("a residual z needs z_scale and z_zero_point");
  if (ctx.has_input(0) && !is_8bit_integer(ctx.input_dtype(0)))
    return ctx.error(fmt::format("x must be u8 or i8, got {}", dtype_name(ctx.input_dtype(0))));
  if (ctx.has_input(8) && ctx.input_dtype(8) != DataType::kI32)
    return ctx.error(fmt::format("B must be i32, got {}", dtype_name(ctx.input_dtype(8))));
  KILN_RETURN_IF_ERROR(check_activation(ctx));
  return infer_like(ctx, "QLinearConv");
}

Status infer_qconv(InferContext& ctx) { return layout::infer_in_layout(ctx, {0, 9}, infer_qconv_nchw); }

Status infer_qmatmul(InferContext& ctx) {
  if (ctx.has_input(8) && ctx.input_dtype(8) != DataType::kI32)
    return ctx.error(fmt::format("bias must be i32, got {}", dtype_name(ctx.input_dtype(8))));
  KILN_RETURN_IF_ERROR(check_activation(ctx));
  return infer_like(ctx, "QLinearMatMul");
}

Status infer_qlookup(InferContext& ctx) {
  if (!is_8bit_integer(ctx.input_dtype(0)))
    return ctx.error(fmt::format("x must be u8 or i8, got {}", dtype_name(ctx.input_dtype(0))));
  const Shape& t = ctx.input_shape(1);
  const DataType tt = ctx.input_dtype(1);
  const bool plain = tt != DataType::kString && tt != DataType::kUndefined &&
                     (dtype_size(tt) == 1 || dtype_size(tt) == 2 || dtype_size(tt) == 4);
  if (!plain || !t.has_rank() || t.rank() != 1 || !t[0].known() || t[0].value != 256)
    return ctx.error(fmt::format("table must be 256 values of 1, 2 or 4 bytes, got {}",
                                 ctx.node().inputs[1]->type.to_string()));
  ctx.set_output(0, ctx.input_dtype(1), ctx.input_shape(0));
  return {};
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "QLookup", .domain = "kiln", .min_inputs = 2, .max_inputs = 2, .infer = infer_qlookup},
      {.op_type = "QConv",
       .domain = "kiln",
       .min_inputs = 8,
       .max_inputs = 12,
       .attrs = {attr_string("auto_pad", "NOTSET"), attr_ints("dilations"), attr_int("group", 1),
                 attr_ints("kernel_shape"), attr_ints("pads"), attr_ints("strides"), attr_string("activation", ""),
                 attr_floats("activation_params"), attr_string("layout", "NCHW")},
       .infer = infer_qconv},
      {.op_type = "QMatMul",
       .domain = "kiln",
       .min_inputs = 8,
       .max_inputs = 9,
       .attrs = {attr_string("activation", ""), attr_floats("activation_params")},
       .infer = infer_qmatmul},
  };
  return kDefs;
}

}  // namespace

std::span<const OpDef> qfused_op_defs() { return defs(); }

}  // namespace kiln
