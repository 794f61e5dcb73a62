// Requantization parameters of kiln's integer fused ops (kiln.QMatMul, kiln.QConv; definitions in
// src/ir/ops/qfused_ops.cc) as the GPU kernels apply them, computed on the host the way the reference does
// (src/backends/ref/qfused.cc), so the kernels only multiply, round and clamp.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::cuda {

/// kiln.QConv's inputs (src/ir/ops/qfused_ops.cc).
enum QConvInput : size_t { kX = 0, kXScale, kXZp, kW, kWScale, kWZp, kYScale, kYZp, kB, kZ, kZScale, kZZp };

/// An inclusive range of quantized output values.
struct QuantRange {
  int32_t lo, hi;
};

/// y's saturation range (u8 [0, 255], i8 [-128, 127]) narrowed by the node's `activation`, as the reference's
/// activation_range: Relu keeps q >= y_zp; Clip [min, max] keeps q within round_half_even(bound / y_scale) + y_zp
/// (computed in double; an infinite bound leaves its side open; min > max gives min everywhere). An error for y
/// other than u8 / i8 or an activation other than "", Relu and Clip with two params.
Result<QuantRange> quantized_output_range(const Node& node, DataType y, double y_scale, int64_t y_zp);

/// Per output channel c < channels: float(x_scale * w_scale[c] / y_scale), the product and quotient in double
/// as the reference computes its multiplier (w_scale of one element applies to every channel).
std::vector<float> requant_multipliers(double x_scale, const Tensor& w_scale, double y_scale, int64_t channels);

/// A kiln.QConv in kiln's INT8 scheme (i8 X / W / Y / Z with zero points 0, constant per-tensor x / y / z
/// scales, per-tensor or per-channel w scales, a constant i32 B or none) with its requantization as the GPU
/// kernels apply it: y = clamp(rint(acc * mult[k] + scaled_bias[k] + z * z_mult), lo, hi).
struct SymmetricQConv {
  const Tensor* w = nullptr;  ///< [K, C/group, kh, kw] i8
  const Value* z = nullptr;   ///< the residual input, or null
  bool has_bias = false;
  std::vector<float> mult;         ///< [K]: x_scale * w_scale[k] / y_scale
  std::vector<float> scaled_bias;  ///< [K]: B[k] * mult[k] (zeros without B)
  float z_mult = 0.0f;             ///< z_scale / y_scale
  float lo = -128.0f, hi = 127.0f;  ///< the output range in quantized units (the activation folded in)
};
/// nullopt when the node is not such a QConv (the caller's kernel does not run it); an invalid-model error for
/// scales or a bias of the wrong size. The layout is the caller's to check.
Result<std::optional<SymmetricQConv>> read_symmetric_qconv(const Node& node);

}  // namespace kiln::cuda
