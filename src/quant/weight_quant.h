// Int8 weight, bias and requantization helpers shared by the precision pass and the reference int8 kernels.
//
//   KILN_ASSIGN_OR_RETURN(QuantizedWeights w, quantize_weights_per_channel(conv_weight, /*axis=*/0));
//   KILN_ASSIGN_OR_RETURN(QuantizedBias b, quantize_bias(conv_bias, input_scale, w.scales));
//   // kernel: acc = b.values[c] + sum(x_q * w_q);  y_q = requantize(acc, input_scale * w.scales[c] / output_scale)
//
// Conventions (TensorRT's and ONNX QuantizeLinear's): symmetric, zero point 0, round half to even.
// * Weights: per output channel, scale_c = max|w_c| / 127 (float), q = round(w / scale_c) (float division, as
//   QuantizeLinear does it) clamped to [-127, 127]. A channel whose scale would be 0 (all zeros, or so tiny that
//   max/127 underflows below the smallest normal float) gets scale 1 and q = 0, as ONNX Runtime's quantizer
//   does: a 0 scale would make the bias scale 0 and the bias unrepresentable.
// * Bias: bias_scale_c = input_scale * scale_c (float, the value a DequantizeLinear of the bias would carry),
//   q = round(bias / bias_scale_c) (computed in double) saturated to int32.
// * Requantization: round_half_even(acc * multiplier) + zero_point, saturated to [qmin, qmax].
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kiln/status.h"

namespace kiln {

/// Rounds to the nearest integer, ties to even, without depending on the floating-point environment.
double round_half_even(double x);

/// Per-channel int8 weights: `values` has the weight's dims (dtype i8), `scales[c]` belongs to channel c.
struct QuantizedWeights {
  Tensor values;
  std::vector<float> scales;
  int64_t axis = 0;
};

/// Quantizes a float weight (f32/f16/bf16/f64) per channel along `axis` (0 for Conv [M, C/g, kH, kW] and
/// Gemm with transB=1 [N, K]; 1 for Gemm with transB=0 [K, N] and ConvTranspose). Errors: non-float dtype,
/// axis out of range, NaN/Inf in the weight (names the flat index).
Result<QuantizedWeights> quantize_weights_per_channel(const Tensor& weight, int64_t axis);

/// The core of quantize_weights_per_channel on a raw [outer, channels, inner] float buffer (row-major);
/// writes `q` (same size) and returns the scales.
Result<std::vector<float>> quantize_weights_per_channel(std::span<const float> weight, int64_t outer,
                                                        int64_t channels, int64_t inner, std::span<int8_t> q);

/// The per-channel scale for a channel with absolute maximum `abs_max` (see the conventions above).
float weight_channel_scale(float abs_max);

/// Int32 bias for a quantized conv/gemm. `weight_scales` has one entry per output channel, or a single entry
/// (per-tensor weights). Errors: input_scale not finite and > 0, size mismatch, NaN/Inf bias.
struct QuantizedBias {
  std::vector<int32_t> values;
  std::vector<float> scales;  ///< input_scale * weight_scale_c
};
Result<QuantizedBias> quantize_bias(std::span<const float> bias, float input_scale,
                                    std::span<const float> weight_scales);

/// int32 accumulator × real multiplier → int8: round half to even, add zero_point, saturate to [qmin, qmax].
/// The default range is QuantizeLinear's [-128, 127]; pass qmin = -127 for TensorRT's symmetric range.
/// `multiplier` must be finite (typically input_scale * weight_scale / output_scale).
int8_t requantize(int32_t accumulator, double multiplier, int32_t zero_point = 0, int32_t qmin = -128,
                  int32_t qmax = 127);

/// requantize over a span with one multiplier (out.size() must equal accumulators.size()).
void requantize(std::span<const int32_t> accumulators, double multiplier, std::span<int8_t> out,
                int32_t zero_point = 0, int32_t qmin = -128, int32_t qmax = 127);

}  // namespace kiln
