#include "backends/cuda/kernels/quant_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/kernels/kernel_util.h"

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

Result<std::optional<SymmetricQConv>> read_symmetric_qconv(const Node& node) {
  const std::optional<SymmetricQConv> none;
  if (node.domain != "kiln" || node.op_type != "QConv" || !node.has_input(kX) || !node.has_output(0)) return none;
  if (node.inputs[kX]->type.dtype != DataType::kI8 || node.outputs[0]->type.dtype != DataType::kI8) return none;
  const Tensor* xs = constant_input(node, kXScale);
  const Tensor* xz = constant_input(node, kXZp);
  const Tensor* wt = constant_input(node, kW);
  const Tensor* ws = constant_input(node, kWScale);
  const Tensor* wz = constant_input(node, kWZp);
  const Tensor* ys = constant_input(node, kYScale);
  const Tensor* yz = constant_input(node, kYZp);
  if (!xs || !xz || !wt || !ws || !wz || !ys || !yz) return none;
  if (wt->dtype() != DataType::kI8 || wt->rank() != 4 || !all_zero(xz) || !all_zero(wz) || !all_zero(yz))
    return none;
  const Value* b = input_value(node, kB);
  const Value* z = input_value(node, kZ);
  if (b && (!b->is_constant() || b->type.dtype != DataType::kI32)) return none;
  if (z && (z->type.dtype != DataType::kI8 || z->is_constant())) return none;
  const Tensor* zs = z ? constant_input(node, kZScale) : nullptr;
  const Tensor* zz = z ? constant_input(node, kZZp) : nullptr;
  if (z && (!zs || !zz || !all_zero(zz))) return none;

  SymmetricQConv q;
  q.w = wt;
  q.z = z;
  const int64_t k = wt->dim(0);
  if (ws->size() != 1 && ws->size() != k)
    return Status::invalid_model(fmt::format("w_scale is {}, expected a scalar or [{}]", ws->type_string(), k));
  if (xs->size() != 1 || ys->size() != 1 || (zs && zs->size() != 1))
    return Status::invalid_model("x_scale, y_scale and z_scale must be scalars (per tensor)");
  if (b && b->constant->size() != k)
    return Status::invalid_model(fmt::format("B is {}, expected [{}]", b->constant->type_string(), k));
  const double y_scale = ys->element_as_double(0);
  auto range = quantized_output_range(node, DataType::kI8, y_scale, 0);
  if (!range.ok()) return none;
  q.lo = static_cast<float>(range->lo);
  q.hi = static_cast<float>(range->hi);
  q.mult = requant_multipliers(xs->element_as_double(0), *ws, y_scale, k);
  q.scaled_bias.assign(static_cast<size_t>(k), 0.0f);
  for (int64_t c = 0; b && c < k; ++c)
    q.scaled_bias[static_cast<size_t>(c)] =
        static_cast<float>(static_cast<double>(b->constant->element_as_int64(c)) * q.mult[static_cast<size_t>(c)]);
  q.has_bias = b != nullptr;
  q.z_mult = z ? static_cast<float>(zs->element_as_double(0) / y_scale) : 0.0f;
  return std::optional<SymmetricQConv>(std::move(q));
}

}  // namespace kiln::cuda
