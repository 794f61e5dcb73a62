#include "backends/cuda/kernels/quant_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace kiln::cuda {

Result<QuantRange> quantized_output_range(const Node& node, DataType y, double y_scale, int64_t y_zp) {
  QuantRange r{};
  if (y == DataType::kU8) r = {0, 255};
  else if (y == DataType::kI8) r = {-128, 127};
  else return Status::invalid_model(fmt::format("y_zero_point must be u8 or i8, got {}", dtype_name(y)));
  const std::string act = node.attr_string("activation");
  if (act.empty()) return r;
  if (act == "Relu") return QuantRange{static_cast<int32_t>(std::max<int64_t>(r.lo, y_zp)), r.hi};
  const std::vector<float> p = node.attr_floats("activation_params");
  if (act != "Clip" || p.size() != 2)
    return Status::invalid_model(fmt::format(
        "activation '{}' with {} params is not supported (expected Relu or Clip [min, max])", act, p.size()));
  if (std::isnan(p[0]) || std::isnan(p[1])) return Status::invalid_model("Clip's activation_params must not be NaN");
  auto bound = [&](float v, int32_t fallback) -> int32_t {
    if (std::isinf(v)) return fallback;
    const double q = std::nearbyint(static_cast<double>(v) / y_scale) + static_cast<double>(y_zp);
    return static_cast<int32_t>(std::clamp(q, static_cast<double>(r.lo), static_cast<double>(r.hi)));
  };
  QuantRange out{bound(p[0], r.lo), bound(p[1], r.hi)};
  if (out.lo > out.hi) out.hi = out.lo;  // Clip with min > max gives min everywhere
  return out;
}

std::vector<float> requant_multipliers(double x_scale, const Tensor& w_scale, double y_scale, int64_t channels) {
  std::vector<float> m(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    m[static_cast<size_t>(c)] =
        static_cast<float>(x_scale * w_scale.element_as_double(w_scale.size() == 1 ? 0 : c) / y_scale);
  return m;
}

}  // namespace kiln::cuda
