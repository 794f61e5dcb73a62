// Requantization parameters of kiln's integer fused ops (kiln.QMatMul, kiln.QConv; definitions in
// src/ir/ops/qfused_ops.cc) as the GPU kernels apply them, computed on the host the way the reference does
// (src/backends/ref/qfused.cc), so the kernels only multiply, round and clamp.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::cuda {

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

}  // namespace kiln::cuda
