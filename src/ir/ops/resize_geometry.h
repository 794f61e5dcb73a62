// Resize/Upsample geometry shared by shape inference and the reference kernel: how the output extents and
// per-axis scales follow from the scales / sizes inputs. The arithmetic mirrors the ONNX reference
// implementation (its test outputs come from it): with scales, out = floor(scale * in) in double; with sizes,
// scale = out / in in double (keep_aspect_ratio_policy: one scale for all axes, out = int(scale * in + 0.5)).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::resize {

struct Request {
  std::vector<int64_t> in;                        ///< input extents; -1 = unknown (inference only)
  std::vector<int64_t> axes;                      ///< normalized axes the scales/sizes/roi refer to
  std::string keep_aspect_ratio_policy = "stretch";
  std::optional<std::vector<double>> scales;      ///< one per entry of `axes`
  std::optional<std::vector<int64_t>> sizes;      ///< one per entry of `axes`
};

struct Geometry {
  std::vector<double> scales;  ///< one per input axis
  std::vector<int64_t> out;    ///< one per input axis; -1 = unknown (inference only)
};

/// Normalizes the `axes` attribute (empty = all axes); error on out-of-range or repeated axes.
inline Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      return Status::invalid_argument(fmt::format("axes entry {} is out of range for rank {}", a, rank));
    int64_t n = a < 0 ? a + rank : a;
    if (std::find(out.begin(), out.end(), n) != out.end())
      return Status::invalid_argument(fmt::format("axes has axis {} more than once", a));
    out.push_back(n);
  }
  return out;
}

/// The element values of a 1-D float tensor (scales, roi) as doubles.
inline Result<std::vector<double>> float_values(const Tensor& t, const char* what) {
  if (!is_float(t.dtype()))
    return Status::invalid_argument(fmt::format("{} must be a float tensor, got {}", what, t.type_string()));
  if (t.rank() != 1)
    return Status::invalid_argument(fmt::format("{} must be 1-D, got {}", what, t.type_string()));
  return t.to_double_vector();
}

/// Output extents and per-axis scales. Unknown input extents (-1) give unknown outputs where they matter.
inline Result<Geometry> compute_geometry(const Request& r) {
  const size_t rank = r.in.size();
  const size_t n = r.axes.size();
  Geometry g;
  g.scales.assign(rank, 1.0);
  g.out = r.in;
  if (r.scales.has_value() == r.sizes.has_value())
    return Status::invalid_argument("exactly one of 'scales' and 'sizes' must be given (non-empty)");
  if (r.scales) {
    const std::vector<double>& s = *r.scales;
    if (s.size() != n)
      return Status::invalid_argument(fmt::format("scales has {} values, expected {}", s.size(), n));
    for (size_t i = 0; i < n; ++i) {
      const size_t axis = static_cast<size_t>(r.axes[i]);
      if (!(s[i] > 0) || !std::isfinite(s[i]))
        return Status::invalid_argument(fmt::format("scales[{}] must be a finite value > 0, got {}", i, s[i]));
      g.scales[axis] = s[i];
      if (r.in[axis] < 0) {
        g.out[axis] = -1;
        continue;
      }
      const double extent = s[i] * static_cast<double>(r.in[axis]);
      if (extent >= 9.0e15)
        return Status::invalid_argument(fmt::format("scales[{}] = {} makes axis {} too large", i, s[i], axis));
      g.out[axis] = static_cast<int64_t>(extent);  // floor: the extent is non-negative
    }
    return g;
  }
  const std::vector<int64_t>& z = *r.sizes;
  if (z.size() != n) return Status::invalid_argument(fmt::format("sizes has {} values, expected {}", z.size(), n));
  for (size_t i = 0; i < n; ++i)
    if (z[i] < 0) return Status::invalid_argument(fmt::format("sizes[{}] must be >= 0, got {}", i, z[i]));
  const std::string& policy = r.keep_aspect_ratio_policy;
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    return Status::invalid_argument(
        fmt::format("keep_aspect_ratio_policy must be stretch, not_larger or not_smaller, got '{}'", policy));
  if (policy == "stretch") {
    for (size_t i = 0; i < n; ++i) {
      const size_t axis = static_cast<size_t>(r.axes[i]);
      g.out[axis] = z[i];
      g.scales[axis] = r.in[axis] > 0 ? static_cast<double>(z[i]) / static_cast<double>(r.in[axis])
                                      : (r.in[axis] == 0 ? 1.0 : NAN);
    }
    return g;
  }
  bool known = true;
  std::optional<double> scale;
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = r.in[static_cast<size_t>(r.axes[i])];
    if (in < 0) {
      known = false;
      continue;
    }
    if (in == 0) return Status::invalid_argument("keep_aspect_ratio_policy needs non-empty resized axes");
    const double s = static_cast<double>(z[i]) / static_cast<double>(in);
    if (!scale) scale = s;
    else scale = policy == "not_larger" ? std::min(*scale, s) : std::max(*scale, s);
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t axis = static_cast<size_t>(r.axes[i]);
    if (!known || !scale) {
      g.out[axis] = -1;
      g.scales[axis] = NAN;
      continue;
    }
    g.scales[axis] = *scale;
    g.out[axis] = static_cast<int64_t>(*scale * static_cast<double>(r.in[axis]) + 0.5);  // round half up
  }
  return g;
}

/// True for an optional tensor input that is given and non-empty (Resize treats empty scales/sizes/roi as
/// absent).
inline bool given(const Tensor* t) { return t != nullptr && t->size() > 0; }

/// Builds the request of a Resize or Upsample node from its input extents and its shape operands (each null
/// when omitted): Upsample-1 height_scale/width_scale, Upsample-7 `scales` attribute, Upsample-9 and
/// Resize-10 input 1 scales, Resize-11+ input 2 scales / input 3 sizes with axes and keep_aspect_ratio_policy.
inline Result<Request> read_request(const Node& node, std::vector<int64_t> in, const Tensor* in1,
                                    const Tensor* in2, const Tensor* in3) {
  Request r;
  r.in = std::move(in);
  const int64_t rank = static_cast<int64_t>(r.in.size());
  const bool upsample = node.op_type == "Upsample";
  if (upsample && node.opset < 7) {
    if (rank != 4) return Status::invalid_argument(fmt::format("Upsample-1 needs a 4-D input, got rank {}", rank));
    r.axes = {0, 1, 2, 3};
    r.scales = std::vector<double>{1.0, 1.0, node.attr_float("height_scale", 1.0f),
                                   node.attr_float("width_scale", 1.0f)};
    return r;
  }
  if (upsample && node.opset < 9) {
    if (!node.has_attr("scales")) return Status::invalid_argument("Upsample-7 needs the 'scales' attribute");
    std::vector<float> s = node.attr_floats("scales");
    r.scales = std::vector<double>(s.begin(), s.end());
  } else if (upsample || node.opset < 11) {
    if (!in1) return Status::invalid_argument("the 'scales' input is required");
    KILN_ASSIGN_OR_RETURN(r.scales, float_values(*in1, "scales"));
  } else {
    if (given(in2)) {
      KILN_ASSIGN_OR_RETURN(r.scales, float_values(*in2, "scales"));
    }
    if (given(in3)) {
      if (!is_integer(in3->dtype()) || in3->rank() != 1)
        return Status::invalid_argument(fmt::format("sizes must be a 1-D int64 tensor, got {}", in3->type_string()));
      KILN_ASSIGN_OR_RETURN(r.sizes, in3->to_int64_vector());
    }
    if (node.opset >= 18) {
      KILN_ASSIGN_OR_RETURN(r.axes, normalize_axes(node.attr_ints("axes"), rank));
      r.keep_aspect_ratio_policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
      return r;
    }
  }
  for (int64_t i = 0; i < rank; ++i) r.axes.push_back(i);
  return r;
}

}  // namespace kiln::resize
