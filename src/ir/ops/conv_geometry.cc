#include "ir/ops/conv_geometry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace kiln {

namespace {

constexpr int64_t kMaxAttrValue = INT32_MAX;

Result<std::vector<int64_t>> per_axis(const Node& node, const char* name, size_t n, int64_t def, int64_t min_value) {
  if (!node.has_attr(name)) return std::vector<int64_t>(n, def);
  std::vector<int64_t> v = node.attr_ints(name);
  if (v.empty()) return std::vector<int64_t>(n, def);  // some exporters write an empty list for "default"
  if (v.size() != n)
    return Status::invalid_argument(
        fmt::format("attribute '{}' has {} values, expected {} (one per spatial axis)", name, v.size(), n));
  // The upper bound keeps every extent computation far from int64 overflow.
  for (int64_t x : v)
    if (x < min_value || x > kMaxAttrValue)
      return Status::invalid_argument(fmt::format("attribute '{}' = [{}]: values must be in [{}, {}]", name,
                                                  fmt::join(v, ","), min_value, kMaxAttrValue));
  return v;
}

// Output extent of a forward window op along one axis; nullopt + message on error.
Result<int64_t> forward_extent(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pad_total, bool ceil_mode,
                               int64_t pad_begin) {
  int64_t span = (k - 1) * d + 1;
  int64_t room = in + pad_total - span;
  if (room < 0)
    return Status::invalid_argument(fmt::format(
        "input extent {} plus pads {} is smaller than the dilated kernel extent {}", in, pad_total, span));
  int64_t out = ceil_mode ? (room + s - 1) / s + 1 : room / s + 1;
  // With ceil_mode, a last window that would start inside the end padding is dropped (as PyTorch and
  // onnxruntime do), so no window sees only padding.
  if (ceil_mode && (out - 1) * s >= in + pad_begin) --out;
  return out;
}

}  // namespace

Result<WindowAttrs> read_window_attrs(const Node& node, size_t spatial_rank, const std::vector<int64_t>& weight_kernel,
                                      bool transposed) {
  const size_t n = spatial_rank;
  WindowAttrs a;
  a.transposed = transposed;
  std::string ap = node.attr_string("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty()) a.auto_pad = AutoPad::kNotSet;
  else if (ap == "SAME_UPPER") a.auto_pad = AutoPad::kSameUpper;
  else if (ap == "SAME_LOWER") a.auto_pad = AutoPad::kSameLower;
  else if (ap == "VALID") a.auto_pad = AutoPad::kValid;
  else
    return Status::invalid_argument(
        fmt::format("auto_pad '{}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap));
  a.ceil_mode = node.attr_int("ceil_mode", 0) != 0;

  if (node.has_attr("kernel_shape")) {
    KILN_ASSIGN_OR_RETURN(a.kernel, per_axis(node, "kernel_shape", n, 1, 1));
    if (!node.attr_ints("kernel_shape").size())
      return Status::invalid_argument("attribute 'kernel_shape' is empty");
    if (weight_kernel.size() == n)
      for (size_t i = 0; i < n; ++i)
        if (weight_kernel[i] >= 0 && weight_kernel[i] != a.kernel[i])
          return Status::invalid_argument(fmt::format("kernel_shape [{}] disagrees with the weight's spatial extents [{}]",
                                                      fmt::join(a.kernel, ","), fmt::join(weight_kernel, ",")));
  } else {
    if (weight_kernel.size() != n)
      return Status::invalid_argument(fmt::format("attribute 'kernel_shape' is required ({} spatial axes)", n));
    a.kernel = weight_kernel;
  }
  KILN_ASSIGN_OR_RETURN(a.strides, per_axis(node, "strides", n, 1, 1));
  KILN_ASSIGN_OR_RETURN(a.dilations, per_axis(node, "dilations", n, 1, 1));
  KILN_ASSIGN_OR_RETURN(a.pads, per_axis(node, "pads", 2 * n, 0, transposed ? -kMaxAttrValue : 0));
  if (transposed) {
    KILN_ASSIGN_OR_RETURN(a.output_padding, per_axis(node, "output_padding", n, 0, 0));
    std::vector<int64_t> os = node.attr_ints("output_shape");
    // Spatial extents only per the spec; some exporters write the full N,C,... shape, so take the tail.
    if (!os.empty()) {
      if (os.size() < n)
        return Status::invalid_argument(
            fmt::format("attribute 'output_shape' has {} values, expected {}", os.size(), n));
      a.output_shape.assign(os.end() - static_cast<std::ptrdiff_t>(n), os.end());
      for (int64_t x : a.output_shape)
        if (x < 0 || x > kMaxAttrValue)
          return Status::invalid_argument(fmt::format("output_shape [{}] has an extent outside [0, {}]",
                                                      fmt::join(os, ","), kMaxAttrValue));
    }
    for (size_t i = 0; i < n; ++i)
      if (a.output_padding[i] >= std::max(a.strides[i], a.dilations[i]))
        return Status::invalid_argument(fmt::format("output_padding [{}] must be smaller than the stride or dilation",
                                                    fmt::join(a.output_padding, ",")));
  }
  return a;
}

Result<WindowGeometry> window_geometry(const WindowAttrs& a, const Dims& in_spatial) {
  const size_t n = a.kernel.size();
  if (in_spatial.size() != n)
    return Status::invalid_argument(
        fmt::format("input has {} spatial axes, the window attributes describe {}", in_spatial.size(), n));
  WindowGeometry g;
  g.pads.assign(2 * n, 0);
  g.out.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = in_spatial[i], k = a.kernel[i], s = a.strides[i], d = a.dilations[i];
    if (k < 1) return Status::invalid_argument(fmt::format("kernel extent {} on spatial axis {} must be >= 1", k, i));
    const int64_t span = (k - 1) * d + 1;
    int64_t& pb = g.pads[i];
    int64_t& pe = g.pads[i + n];
    if (!a.transposed) {
      if (a.auto_pad == AutoPad::kNotSet) {
        pb = a.pads[i];
        pe = a.pads[i + n];
      } else if (a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
        int64_t out = (in + s - 1) / s;
        int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
        pb = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        pe = total - pb;
      }
      KILN_ASSIGN_OR_RETURN(g.out[i], forward_extent(in, k, s, d, pb + pe, a.ceil_mode, pb));
      continue;
    }
    // Transposed: the output extent is s*(in-1) + output_padding + span - pads.
    const int64_t natural = s * (in - 1) + a.output_padding[i] + span;
    int64_t out;
    if (!a.output_shape.empty() || a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      out = !a.output_shape.empty() ? a.output_shape[i] : in * s;
      int64_t total = natural - out;
      // total / 2 rounds down (as the spec's Python does), so a negative total (an output larger than the
      // natural one) grows the end: pads (0, -1) for total = -1, matching output_padding.
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      // The spec puts the odd pad at the end for SAME_UPPER, at the beginning otherwise.
      if (a.auto_pad == AutoPad::kSameUpper) {
        pb = half;
        pe = total - pb;
      } else {
        pe = half;
        pb = total - pe;
      }
    } else {
      if (a.auto_pad == AutoPad::kNotSet) {
        pb = a.pads[i];
        pe = a.pads[i + n];
      }
      out = natural - pb - pe;
    }
    if (out < 0)
      return Status::invalid_argument(fmt::format("output extent {} on spatial axis {} is negative", out, i));
    g.out[i] = out;
  }
  return g;
}

Result<std::vector<Dim>> window_output_dims(const WindowAttrs& a, const std::vector<Dim>& in_spatial) {
  const size_t n = a.kernel.size();
  if (in_spatial.size() != n)
    return Status::invalid_argument(
        fmt::format("input has {} spatial axes, the window attributes describe {}", in_spatial.size(), n));
  std::vector<Dim> out(n);
  for (size_t i = 0; i < n; ++i) {
    // An explicit output_shape fixes the extent whatever the input.
    if (a.transposed && !a.output_shape.empty()) {
      out[i] = Dim(a.output_shape[i]);
      continue;
    }
    if (!in_spatial[i].known()) continue;
    // SAME output extents do not depend on the kernel.
    bool same = a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower;
    if (a.kernel[i] < 0 && !same) continue;
    WindowAttrs one = a;
    auto pick = [i](const std::vector<int64_t>& v) { return std::vector<int64_t>{v[i]}; };
    one.kernel = {a.kernel[i] < 0 ? 1 : a.kernel[i]};
    one.strides = pick(a.strides);
    one.dilations = pick(a.dilations);
    one.pads = {a.pads[i], a.pads[i + n]};
    if (a.transposed) one.output_padding = pick(a.output_padding);
    KILN_ASSIGN_OR_RETURN(WindowGeometry g, window_geometry(one, {in_spatial[i].value}));
    out[i] = Dim(g.out[0]);
  }
  return out;
}

}  // namespace kiln
