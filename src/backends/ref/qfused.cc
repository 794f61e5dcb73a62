// Reference kernels of kiln's integer fused ops QConv and QMatMul (domain "kiln"; defined in
// src/ir/ops/qfused_ops.cc).
//
// The int32 accumulators come from the ONNX ConvInteger / MatMulInteger reference kernels (run on a temporary
// node, so the convolution and matmul loops exist once). Requantization is then
//
//   t = acc · (x_scale · w_scale[c] / y_scale) + (z - z_zp) · (z_scale / y_scale)      in double
//   y = saturate(clamp_activation(round_half_even(t) + y_zp))
//
// Rounding: half to even (std::nearbyint in the default rounding mode), as ONNX QuantizeLinear. The
// multiplier is computed in double from the float32 scales, so the result is exactly
// QuantizeLinear(DequantizeLinear(...)) of the unfused graph evaluated in float64 (the accumulator is an
// exact integer; the only double roundings are of the multiplier and the product, far below the 0.5 step
// except at exact ties). ONNX QLinearConv (and onnxruntime) compute float(acc) · float multiplier in float32
// instead, so on rare near-ties the two differ by one quantization step.
//
// QConv in NHWC runs its NCHW form between transposes (run_in_layout).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/ref/kernel.h"
#include "backends/ref/layout_util.h"
#include "backends/ref/qlookup.h"
#include "backends/ref/temp_op.h"
#include "ir/op_def.h"

namespace kiln::ref {

namespace {

struct QRange {
  int64_t lo, hi;
};

Result<QRange> range_of(const KernelContext& ctx, DataType t) {
  if (t == DataType::kU8) return QRange{0, 255};
  if (t == DataType::kI8) return QRange{-128, 127};
  return ctx.error(fmt::format("y_zero_point must be u8 or i8, got {}", dtype_name(t)));
}

// The activation as a clamp of the quantized output: Relu keeps q >= y_zp (real 0); Clip(lo, hi) keeps
// round(lo / y_scale) + y_zp <= q <= round(hi / y_scale) + y_zp. Rounding is monotonic and round(0) = 0, so
// this equals quantizing the activated real value.
Result<QRange> activation_range(const KernelContext& ctx, QRange r, double y_scale, int64_t y_zp) {
  std::string act = ctx.node().attr_string("activation");
  if (act.empty()) return r;
  if (act == "Relu") return QRange{std::max(r.lo, y_zp), r.hi};
  std::vector<float> p = ctx.node().attr_floats("activation_params");
  if (act != "Clip" || p.size() != 2)
    return ctx.error(fmt::format("activation '{}' with {} params is not supported (expected Relu or Clip [min, max])",
                                 act, p.size()));
  auto bound = [&](float v, int64_t fallback) -> int64_t {
    if (std::isinf(v)) return fallback;
    double q = std::nearbyint(static_cast<double>(v) / y_scale) + static_cast<double>(y_zp);
    return static_cast<int64_t>(std::clamp(q, static_cast<double>(r.lo), static_cast<double>(r.hi)));
  };
  QRange out{bound(p[0], r.lo), bound(p[1], r.hi)};
  if (out.lo > out.hi) out.hi = out.lo;  // Clip with min > max gives min everywhere
  return out;
}

void store(Tensor& y, int64_t i, int64_t v) {
  if (y.dtype() == DataType::kU8) y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
  else y.data<int8_t>()[i] = static_cast<int8_t>(v);
}

Status check_param(const KernelContext& ctx, const Tensor& t, int64_t channels, const char* name) {
  if (t.size() == 1 || (t.rank() == 1 && t.dim(0) == channels)) return {};
  return ctx.error(fmt::format("{} must be a scalar or have {} elements, got {}", name, channels, t.type_string()));
}

Status check_scalar(const KernelContext& ctx, const Tensor& t, const char* name) {
  if (t.size() == 1) return {};
  return ctx.error(fmt::format("{} must be a scalar (per tensor), got {}", name, t.type_string()));
}

// Requantizes `acc` (row-major over y's dims; channel of element i is (i / inner) % channels) into y.
Status requantize(KernelContext& ctx, const Tensor& acc, const Tensor& x_scale, const Tensor& w_scale,
                  const Tensor& y_scale, const Tensor& y_zp, const Tensor* bias, int64_t channels, int64_t inner,
                  const Tensor* z, const Tensor* z_scale, const Tensor* z_zp) {
  KILN_ASSIGN_OR_RETURN(QRange range, range_of(ctx, y_zp.dtype()));
  if (bias && (bias->dtype() != DataType::kI32 || bias->size() != channels))
    return ctx.error(fmt::format("bias must be i32 with {} elements, got {}", channels, bias->type_string()));
  if (z && z->dims() != acc.dims())
    return ctx.error(fmt::format("residual z {} must have the output's shape {}", z->type_string(),
                                 dims_to_string(acc.dims())));
  if (z && (!z_scale || !z_zp)) return ctx.error("a residual z needs z_scale and z_zero_point");
  const double ys = y_scale.element_as_double(0);
  const int64_t yz = y_zp.element_as_int64(0);
  KILN_ASSIGN_OR_RETURN(QRange clamp, activation_range(ctx, range, ys, yz));
  const double xs = x_scale.element_as_double(0);
  std::vector<double> multiplier(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    multiplier[c] = xs * w_scale.element_as_double(w_scale.size() == 1 ? 0 : c) / ys;
  const double z_mult = z ? z_scale->element_as_double(0) / ys : 0.0;
  const int64_t zz = z ? z_zp->element_as_int64(0) : 0;
  Tensor& y = ctx.allocate_output(0, y_zp.dtype(), acc.dims());
  const int32_t* a = acc.data<int32_t>();
  for (int64_t i = 0; i < acc.size(); ++i) {
    const int64_t c = (i / inner) % channels;
    uint32_t sum = static_cast<uint32_t>(a[i]);  // int32 wrap-around, as the accumulator itself
    if (bias) sum += static_cast<uint32_t>(bias->data<int32_t>()[c]);
    double t = static_cast<double>(static_cast<int32_t>(sum)) * multiplier[c];
    if (z) t += static_cast<double>(z->element_as_int64(i) - zz) * z_mult;
    double q = std::nearbyint(t) + static_cast<double>(yz);
    store(y, i, static_cast<int64_t>(std::clamp(q, static_cast<double>(clamp.lo), static_cast<double>(clamp.hi))));
  }
  return {};
}

const Tensor* optional_input(const KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

Status qconv_nchw(KernelContext& ctx) {
  const Tensor& w = ctx.input(3);
  if (w.rank() < 3) return ctx.error(fmt::format("w must have rank >= 3, got {}", w.type_string()));
  const int64_t M = w.dim(0);
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(1), "x_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(2), "x_zero_point"));
  KILN_RETURN_IF_ERROR(check_param(ctx, ctx.input(4), M, "w_scale"));
  KILN_RETURN_IF_ERROR(check_param(ctx, ctx.input(5), M, "w_zero_point"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(6), "y_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(7), "y_zero_point"));
  TempOp conv("ConvInteger", 10);
  for (const auto& [name, a] : ctx.node().attrs)
    if (name != "activation" && name != "activation_params") conv.node.attrs[name] = a;
  // ConvInteger wants a per-tensor x_zero_point of x's dtype and w_zero_point scalar or [M].
  KILN_ASSIGN_OR_RETURN(Tensor x_zp, ctx.input(2).reshaped({}));
  KILN_ASSIGN_OR_RETURN(Tensor acc, conv.run(ctx, {&ctx.input(0), &w, &x_zp, &ctx.input(5)}));
  if (acc.rank() < 2) return ctx.error("ConvInteger returned a tensor of rank < 2");
  int64_t inner = 1;
  for (int64_t d = 2; d < acc.rank(); ++d) inner *= acc.dim(d);
  const Tensor* z = optional_input(ctx, 9);
  if (z) KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(10), "z_scale"));
  return requantize(ctx, acc, ctx.input(1), ctx.input(4), ctx.input(6), ctx.input(7), optional_input(ctx, 8), M,
                    inner, z, optional_input(ctx, 10), optional_input(ctx, 11));
}

Status qconv(KernelContext& ctx) { return run_in_layout(ctx, {0, 9}, qconv_nchw); }

Status qmatmul(KernelContext& ctx) {
  const Tensor& b = ctx.input(3);
  if (b.rank() != 2) return ctx.error(fmt::format("b must be a 2-D weight [K, N], got {}", b.type_string()));
  const int64_t N = b.dim(1);
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(1), "a_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(2), "a_zero_point"));
  KILN_RETURN_IF_ERROR(check_param(ctx, ctx.input(4), N, "b_scale"));
  KILN_RETURN_IF_ERROR(check_param(ctx, ctx.input(5), N, "b_zero_point"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(6), "y_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(ctx, ctx.input(7), "y_zero_point"));
  TempOp mm("MatMulInteger", 10);
  KILN_ASSIGN_OR_RETURN(Tensor a_zp, ctx.input(2).reshaped({}));
  Tensor b_zp = ctx.input(5);
  if (b_zp.size() == 1) {
    KILN_ASSIGN_OR_RETURN(b_zp, b_zp.reshaped({}));
  }
  KILN_ASSIGN_OR_RETURN(Tensor acc, mm.run(ctx, {&ctx.input(0), &b, &a_zp, &b_zp}));
  return requantize(ctx, acc, ctx.input(1), ctx.input(4), ctx.input(6), ctx.input(7), optional_input(ctx, 8), N, 1,
                    nullptr, nullptr, nullptr);
}

// kiln.QLookup: y[i] = table[x[i] - min(x's dtype)] (qlookup.h).
Status qlookup(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& table = ctx.input(1);
  if (std::string e = qlookup_operand_error(x, table); !e.empty()) return ctx.error(e);
  Tensor& y = ctx.allocate_output(0, table.dtype(), x.dims());
  qlookup_range(x, table, y, 0, x.size());
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"QLookup", "kiln", qlookup},
    {"QConv", "kiln", qconv},
    {"QMatMul", "kiln", qmatmul},
};

}  // namespace

std::span<const KernelEntry> qfused_kernels() { return kKernels; }

namespace {
template <typename T>
void lookup(const uint8_t* in, uint8_t flip, const T* table, T* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = table[static_cast<uint8_t>(in[i] ^ flip)];
}
}  // namespace

std::string qlookup_operand_error(const Tensor& x, const Tensor& table) {
  const size_t es = table.dtype() == DataType::kString ? 0 : dtype_size(table.dtype());
  if ((x.dtype() != DataType::kI8 && x.dtype() != DataType::kU8) || table.size() != 256 || table.rank() != 1 ||
      (es != 1 && es != 2 && es != 4))
    return fmt::format("needs an 8-bit x and a table of 256 values of 1, 2 or 4 bytes, got {} and {}", x.type_string(),
                       table.type_string());
  return "";
}

void qlookup_range(const Tensor& x, const Tensor& table, Tensor& y, int64_t begin, int64_t end) {
  const auto* in = static_cast<const uint8_t*>(x.raw());
  const uint8_t flip = qlookup_index_flip(x.dtype());
  switch (dtype_size(table.dtype())) {
    case 1: lookup(in, flip, static_cast<const uint8_t*>(table.raw()), static_cast<uint8_t*>(y.raw()), begin, end); break;
    case 2: lookup(in, flip, static_cast<const uint16_t*>(table.raw()), static_cast<uint16_t*>(y.raw()), begin, end); break;
    case 4: lookup(in, flip, static_cast<const uint32_t*>(table.raw()), static_cast<uint32_t*>(y.raw()), begin, end); break;
    default: break;
  }
}

}  // namespace kiln::ref
