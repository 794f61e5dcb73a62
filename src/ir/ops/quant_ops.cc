// Op definitions of the quant family (see op_families.inc): the quantization ops here, the recurrent ops
// (RNN, GRU, LSTM) in quant_rnn_ops.cc.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/conv_geometry.h"

namespace kiln {

std::vector<OpDef> quant_rnn_op_defs();  // quant_rnn_ops.cc

namespace {

bool is_quantized_int(DataType t) {
  return t == DataType::kU8 || t == DataType::kI8 || t == DataType::kU16 || t == DataType::kI16;
}

// QuantizeLinear's output type: the zero point's, else output_dtype (opset 21), else uint8.
Status quantize_linear_infer(InferContext& ctx) {
  DataType out = DataType::kU8;
  int64_t output_dtype = ctx.node().attr_int("output_dtype", 0);
  if (ctx.has_input(2)) {
    out = ctx.input_dtype(2);
    if (output_dtype != 0 && output_dtype != static_cast<int64_t>(out))
      return ctx.error(fmt::format("output_dtype {} disagrees with the zero point's dtype {}", output_dtype,
                                   dtype_name(out)));
  } else if (output_dtype != 0) {
    if (!is_known_dtype(static_cast<int32_t>(output_dtype)))
      return ctx.error(fmt::format("output_dtype {} is not a dtype kiln supports", output_dtype));
    out = static_cast<DataType>(output_dtype);
  }
  if (!is_quantized_int(out))
    return ctx.error(fmt::format("quantized dtype {} is not supported (expected u8, i8, u16 or i16)", dtype_name(out)));
  ctx.set_output(0, out, ctx.input_shape(0));
  return {};
}

Status dequantize_linear_infer(InferContext& ctx) {
  DataType out = ctx.input_dtype(1);
  int64_t output_dtype = ctx.node().attr_int("output_dtype", 0);
  if (output_dtype != 0 && output_dtype != static_cast<int64_t>(out))
    return ctx.error(fmt::format("output_dtype {} disagrees with the scale's dtype {}", output_dtype, dtype_name(out)));
  if (!is_float(out)) return ctx.error(fmt::format("x_scale must be a float tensor, got {}", dtype_name(out)));
  ctx.set_output(0, out, ctx.input_shape(0));
  return {};
}

Status dynamic_quantize_linear_infer(InferContext& ctx) {
  ctx.set_output(0, DataType::kU8, ctx.input_shape(0));
  ctx.set_output(1, DataType::kF32, Shape(std::vector<Dim>{}));
  ctx.set_output(2, DataType::kU8, Shape(std::vector<Dim>{}));
  return {};
}

// MatMul's output shape (numpy matmul semantics) from the shapes of inputs a_index and b_index.
Result<Shape> matmul_shape(const InferContext& ctx, size_t a_index, size_t b_index) {
  const Shape& a = ctx.input_shape(a_index);
  const Shape& b = ctx.input_shape(b_index);
  if (!a.has_rank() || !b.has_rank()) return Shape();
  if (a.rank() == 0 || b.rank() == 0) return ctx.error("matmul inputs must have rank >= 1, got a scalar");
  const Dim& ka = a[a.rank() - 1];
  const Dim& kb = b.rank() == 1 ? b[0] : b[b.rank() - 2];
  if (ka.known() && kb.known() && ka.value != kb.value)
    return ctx.error(fmt::format("matmul inner dimensions differ: a is {}, b is {}", a.to_string(), b.to_string()));
  std::vector<Dim> a_batch, b_batch;
  if (a.rank() > 2) a_batch.assign(a.dims().begin(), a.dims().end() - 2);
  if (b.rank() > 2) b_batch.assign(b.dims().begin(), b.dims().end() - 2);
  Result<Shape> batch = broadcast_shapes(Shape(a_batch), Shape(b_batch));
  if (!batch.ok()) return ctx.error("matmul batch dimensions: " + batch.status().message());
  std::vector<Dim> out = batch->dims();
  if (a.rank() >= 2) out.push_back(a[a.rank() - 2]);
  if (b.rank() >= 2) out.push_back(b[b.rank() - 1]);
  return Shape(out);
}

Status matmul_integer_infer(InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Shape s, matmul_shape(ctx, 0, 1));
  ctx.set_output(0, DataType::kI32, s);
  return {};
}

Status qlinear_matmul_infer(InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Shape s, matmul_shape(ctx, 0, 3));
  ctx.set_output(0, ctx.input_dtype(7), s);
  return {};
}

// Integer convolutions: [N, M, out spatial...] from x (input x_index) and w (input w_index).
Result<Shape> int_conv_shape(const InferContext& ctx, size_t x_index, size_t w_index) {
  const Shape& x = ctx.input_shape(x_index);
  const Shape& w = ctx.input_shape(w_index);
  if (!x.has_rank()) return Shape();
  if (x.rank() < 3) return ctx.error(fmt::format("x must have rank >= 3 (N, C, spatial...), got {}", x.to_string()));
  if (w.has_rank() && w.rank() != x.rank())
    return ctx.error(fmt::format("w has rank {}, expected the rank of x ({})", w.rank(), x.rank()));
  size_t n = x.rank() - 2;
  std::vector<int64_t> weight_kernel(n, -1);
  if (w.has_rank())
    for (size_t i = 0; i < n; ++i) weight_kernel[i] = w[i + 2].known() ? w[i + 2].value : -1;
  Result<WindowAttrs> attrs = read_window_attrs(ctx.node(), n, weight_kernel, false);
  if (!attrs.ok()) return ctx.error(attrs.status().message());
  std::vector<Dim> in_spatial(x.dims().begin() + 2, x.dims().end());
  Result<std::vector<Dim>> spatial = window_output_dims(*attrs, in_spatial);
  if (!spatial.ok()) return ctx.error(spatial.status().message());
  std::vector<Dim> out = {x[0], w.has_rank() ? w[0] : Dim()};
  out.insert(out.end(), spatial->begin(), spatial->end());
  return Shape(out);
}

Status conv_integer_infer(InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Shape s, int_conv_shape(ctx, 0, 1));
  ctx.set_output(0, DataType::kI32, s);
  return {};
}

Status qlinear_conv_infer(InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(Shape s, int_conv_shape(ctx, 0, 3));
  ctx.set_output(0, ctx.input_dtype(7), s);
  return {};
}

std::vector<AttrSpec> conv_attrs() {
  return {attr_string("auto_pad", "NOTSET"), attr_ints("dilations"), attr_int("group", 1), attr_ints("kernel_shape"),
          attr_ints("pads"), attr_ints("strides")};
}

std::vector<OpDef> make_defs() {
  std::vector<OpDef> defs = {
      {.op_type = "QuantizeLinear", .min_inputs = 2, .max_inputs = 3,
       .attrs = {attr_int("axis", 1), attr_int("saturate", 1), attr_int("block_size", 0), attr_int("output_dtype", 0)},
       .infer = quantize_linear_infer, .since_opset = 10},
      {.op_type = "DequantizeLinear", .min_inputs = 2, .max_inputs = 3,
       .attrs = {attr_int("axis", 1), attr_int("block_size", 0), attr_int("output_dtype", 0)},
       .infer = dequantize_linear_infer, .since_opset = 10},
      {.op_type = "DynamicQuantizeLinear", .min_inputs = 1, .max_inputs = 1, .min_outputs = 3, .max_outputs = 3,
       .infer = dynamic_quantize_linear_infer, .since_opset = 11},
      {.op_type = "MatMulInteger", .min_inputs = 2, .max_inputs = 4, .infer = matmul_integer_infer, .since_opset = 10},
      {.op_type = "QLinearMatMul", .min_inputs = 8, .max_inputs = 8, .infer = qlinear_matmul_infer, .since_opset = 10},
      {.op_type = "ConvInteger", .min_inputs = 2, .max_inputs = 4, .attrs = conv_attrs(), .infer = conv_integer_infer,
       .since_opset = 10},
      {.op_type = "QLinearConv", .min_inputs = 8, .max_inputs = 9, .attrs = conv_attrs(), .infer = qlinear_conv_infer,
       .since_opset = 10},
  };
  for (OpDef& d : quant_rnn_op_defs()) defs.push_back(std::move(d));
  return defs;
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = make_defs();
  return kDefs;
}
}  // namespace

std::span<const OpDef> quant_op_defs() { return defs(); }

}  // namespace kiln
