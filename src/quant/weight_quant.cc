#include "quant/weight_quant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace kiln {

double round_half_even(double x) {
  if (!std::isfinite(x)) return x;
  double floor_x = std::floor(x);
  double diff = x - floor_x;  // exact: x and floor(x) share the exponent range
  if (diff > 0.5) return floor_x + 1.0;
  if (diff < 0.5) return floor_x;
  return std::fmod(floor_x, 2.0) == 0.0 ? floor_x : floor_x + 1.0;
}

float weight_channel_scale(float abs_max) {
  float scale = abs_max / 127.0f;
  // Below the smallest normal the scale loses precision (or is 0): use 1, every q is then 0.
  return scale >= std::numeric_limits<float>::min() ? scale : 1.0f;
}

Result<std::vector<float>> quantize_weights_per_channel(std::span<const float> weight, int64_t outer,
                                                        int64_t channels, int64_t inner, std::span<int8_t> q) {
  if (outer < 0 || channels < 0 || inner < 0 || static_cast<size_t>(outer * channels * inner) != weight.size() ||
      q.size() != weight.size()) {
    return Status::invalid_argument("quantize_weights_per_channel: buffer sizes do not match the layout");
  }
  auto index = [&](int64_t o, int64_t c, int64_t k) { return static_cast<size_t>((o * channels + c) * inner + k); };
  std::vector<float> scales(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    float abs_max = 0.0f;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) {
        float w = weight[index(o, c, k)];
        if (!std::isfinite(w)) {
          return Status::invalid_model("weight element " + std::to_string(index(o, c, k)) + " is not finite");
        }
        abs_max = std::max(abs_max, std::fabs(w));
      }
    }
    float scale = weight_channel_scale(abs_max);
    scales[c] = scale;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) {
        float ratio = weight[index(o, c, k)] / scale;  // float division, as QuantizeLinear
        q[index(o, c, k)] = static_cast<int8_t>(std::clamp(round_half_even(ratio), -127.0, 127.0));
      }
    }
  }
  return scales;
}

Result<QuantizedWeights> quantize_weights_per_channel(const Tensor& weight, int64_t axis) {
  if (axis < 0 || axis >= weight.rank()) {
    return Status::invalid_argument("weight quantization axis " + std::to_string(axis) + " is out of range for " +
                                    weight.type_string());
  }
  std::vector<float> values;
  KILN_RETURN_IF_ERROR(visit_float(weight.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    values.reserve(static_cast<size_t>(weight.size()));
    for (const T& v : weight.span<T>()) values.push_back(static_cast<float>(v));
    return Status::ok_status();
  }).with_context("quantize_weights_per_channel"));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= weight.dim(d);
  for (int64_t d = axis + 1; d < weight.rank(); ++d) inner *= weight.dim(d);
  QuantizedWeights result;
  result.axis = axis;
  result.values = Tensor(DataType::kI8, weight.dims());
  KILN_ASSIGN_OR_RETURN(result.scales, quantize_weights_per_channel(values, outer, weight.dim(axis), inner,
                                                                    result.values.span<int8_t>()));
  return result;
}

Result<QuantizedBias> quantize_bias(std::span<const float> bias, float input_scale,
                                    std::span<const float> weight_scales) {
  if (!(std::isfinite(input_scale) && input_scale > 0.0f)) {
    return Status::invalid_argument("bias quantization needs a positive input scale, got " +
                                    std::to_string(input_scale));
  }
  if (weight_scales.size() != 1 && weight_scales.size() != bias.size()) {
    return Status::invalid_argument("bias has " + std::to_string(bias.size()) + " channels but there are " +
                                    std::to_string(weight_scales.size()) + " weight scales");
  }
  QuantizedBias result;
  result.values.resize(bias.size());
  result.scales.resize(bias.size());
  constexpr double kMin = std::numeric_limits<int32_t>::min(), kMax = std::numeric_limits<int32_t>::max();
  for (size_t c = 0; c < bias.size(); ++c) {
    float weight_scale = weight_scales.size() == 1 ? weight_scales[0] : weight_scales[c];
    float scale = input_scale * weight_scale;
    if (!std::isfinite(bias[c])) return Status::invalid_model("bias element " + std::to_string(c) + " is not finite");
    if (!(scale > 0.0f && std::isfinite(scale))) {
      return Status::invalid_argument("bias scale of channel " + std::to_string(c) + " is not positive");
    }
    double q = round_half_even(static_cast<double>(bias[c]) / static_cast<double>(scale));
    result.values[c] = static_cast<int32_t>(std::clamp(q, kMin, kMax));
    result.scales[c] = scale;
  }
  return result;
}

int8_t requantize(int32_t accumulator, double multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  // |acc| < 2^31 and a double has 53 bits: the product is rounded once, then the tie rule applies exactly.
  double v = round_half_even(static_cast<double>(accumulator) * multiplier) + static_cast<double>(zero_point);
  if (std::isnan(v)) v = zero_point;  // a NaN multiplier is a caller bug; never cast NaN to an integer
  return static_cast<int8_t>(std::clamp(v, static_cast<double>(qmin), static_cast<double>(qmax)));
}

void requantize(std::span<const int32_t> accumulators, double multiplier, std::span<int8_t> out, int32_t zero_point,
                int32_t qmin, int32_t qmax) {
  size_t n = std::min(accumulators.size(), out.size());
  for (size_t i = 0; i < n; ++i) out[i] = requantize(accumulators[i], multiplier, zero_point, qmin, qmax);
}

}  // namespace kiln
