// Reference kernels of the resize family (see ref_kernel_families.inc): Resize and Upsample here,
// GridSample and RoiAlign in resize_sample.cc.
//
// Resize follows the ONNX reference implementation (onnx/reference/ops/op_resize.py), whose results the
// official tests hold: each output coordinate is mapped to a source coordinate x_ori per axis, a set of
// coefficients is formed from ratio = x_ori - floor(x_ori) (ratio = 1 when x_ori is an integer, which makes
// the neighbours lean left), and applied to the n nearest source indices in an edge-padded axis. Axes are
// combined innermost first, as the reference's recursion does.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "backends/ref/kernel.h"
#include "ir/ops/resize_geometry.h"

namespace kiln::ref {

std::span<const KernelEntry> resize_sample_kernels();

namespace {

enum class Coord { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfCropAndResize,
                   kTfHalfPixelForNN };
enum class Mode { kNearest, kLinear, kCubic };
// kLegacy: Upsample and Resize-10, which had no nearest_mode: floor when upsampling, ceil when downsampling
// (what onnxruntime does; the reference only covers integer upsampling, where both agree).
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kLegacy };

struct Options {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0.0;
};

// One source index (already clamped into the axis) and its weight.
struct Tap {
  int64_t index;
  double weight;
};

// How one output coordinate of one axis reads the input: taps, or the extrapolation value (tf_crop_and_resize
// outside the image).
struct AxisSample {
  bool extrapolate = false;
  std::vector<Tap> taps;
};

// The source coordinate of output coordinate x, as the reference computes it; nullopt = extrapolate.
std::optional<double> source_coordinate(const Options& o, int64_t x, double scale, int64_t in, int64_t out,
                                        double roi_start, double roi_end, bool roi_is_f32) {
  const double xd = static_cast<double>(x);
  const double in_w = static_cast<double>(in);
  const double out_w = scale * in_w;  // the reference's float output width
  switch (o.coord) {
    case Coord::kAlignCorners:
      return out_w == 1 ? 0.0 : static_cast<double>(x * (in - 1)) / (out_w - 1);
    case Coord::kAsymmetric: return xd / scale;
    case Coord::kTfHalfPixelForNN: return (xd + 0.5) / scale;
    case Coord::kPytorchHalfPixel: return out_w == 1 ? -0.5 : (xd + 0.5) / scale - 0.5;
    case Coord::kHalfPixel: return (xd + 0.5) / scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out) / out_w;
      const double center = in_w / 2;
      const double offset = center * (1 - adjustment);
      return offset + (xd + 0.5) / scale - 0.5;
    }
    case Coord::kTfCropAndResize: {
      // The reference subtracts the roi bounds in the roi's own precision.
      const double span = roi_is_f32 ? static_cast<double>(static_cast<float>(roi_end) - static_cast<float>(roi_start))
                                     : roi_end - roi_start;
      double x_ori = out_w == 1 ? span * static_cast<double>(in - 1) / 2
                                : xd * span * static_cast<double>(in - 1) / (out_w - 1);
      x_ori += roi_start * static_cast<double>(in - 1);
      if (x_ori < 0 || x_ori > in_w - 1) return std::nullopt;
      return x_ori;
    }
  }
  return std::nullopt;
}

// Coefficients for the neighbours of a source coordinate with the given ratio in (0, 1].
std::vector<double> coefficients(const Options& o, double ratio, double scale) {
  const double a = o.cubic_a;
  if (o.mode == Mode::kLinear && !o.antialias) return {1 - ratio, ratio};
  if (o.mode == Mode::kCubic && !o.antialias) {
    const double r = ratio, s = 1 - ratio;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * s - (a + 3)) * s * s + 1, ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
  }
  // Antialias: the filter is stretched by 1/scale when downsampling, and normalized.
  const double sc = std::min(scale, 1.0);
  std::vector<double> c;
  if (o.mode == Mode::kLinear) {
    const int64_t start = static_cast<int64_t>(std::floor(-1 / sc) + 1);
    const int64_t footprint = 2 - 2 * start;
    for (int64_t i = start; i < start + footprint; ++i)
      c.push_back(std::clamp(1 - std::abs((static_cast<double>(i) - ratio) * sc), 0.0, 1.0));
  } else {
    const int64_t start = static_cast<int64_t>(std::floor(-2 / sc) + 1);
    const int64_t end = 2 - start;
    for (int64_t i = start; i < end; ++i) {
      const double x = std::abs(sc * (static_cast<double>(i) - ratio));
      const double x2 = x * x, x3 = x * x2;
      c.push_back(x <= 1 ? (a + 2) * x3 - (a + 3) * x2 + 1 : x < 2 ? a * x3 - 5 * a * x2 + 8 * a * x - 4 * a : 0.0);
    }
  }
  double sum = 0;
  for (double v : c) sum += v;
  for (double& v : c) v /= sum;
  return c;
}

// The taps of output coordinate x along one axis.
AxisSample sample_axis(const Options& o, int64_t x, double scale, int64_t in, int64_t out, double roi_start,
                       double roi_end, bool roi_is_f32) {
  AxisSample s;
  std::optional<double> src = source_coordinate(o, x, scale, in, out, roi_start, roi_end, roi_is_f32);
  if (!src) {
    s.extrapolate = true;
    return s;
  }
  const double x_ori = *src;
  auto clamp_index = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  if (o.mode == Mode::kNearest && o.nearest == Nearest::kLegacy) {
    const int64_t i = static_cast<int64_t>(scale < 1 ? std::ceil(x_ori) : std::floor(x_ori));
    s.taps.push_back({clamp_index(i), 1.0});
    return s;
  }
  const bool integral = x_ori == std::floor(x_ori);
  const double ratio = integral ? 1.0 : x_ori - std::floor(x_ori);
  // The neighbour left of x_ori: x_ori - 1 when x_ori is an integer (ratio 1).
  const int64_t base = static_cast<int64_t>(std::floor(x_ori)) - (integral ? 1 : 0);

  std::vector<double> c;
  if (o.mode == Mode::kNearest) {
    bool right = true;  // integral: the coefficients are [0, 1]
    if (!integral) {
      switch (o.nearest) {
        case Nearest::kRoundPreferFloor: right = ratio > 0.5; break;
        case Nearest::kRoundPreferCeil: right = ratio >= 0.5; break;
        case Nearest::kFloor: right = false; break;
        case Nearest::kCeil: right = true; break;
        case Nearest::kLegacy: break;
      }
    }
    c = {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
  } else {
    c = coefficients(o, ratio, scale);
  }
  // The n nearest indices of the edge-padded axis [-pad, in + pad), ties to the smaller index: a window
  // centred on `base`, shifted back inside the padded axis when it sticks out.
  const int64_t n = static_cast<int64_t>(c.size());
  const int64_t pad = (n + 1) / 2;
  int64_t first = base - n / 2 + 1;
  first = std::clamp<int64_t>(first, -pad, in + pad - n);
  if (o.exclude_outside && o.mode != Mode::kNearest) {
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = first + k;
      if (i < 0 || i >= in) c[static_cast<size_t>(k)] = 0;
      sum += c[static_cast<size_t>(k)];
    }
    for (double& v : c) v /= sum;
  }
  for (int64_t k = 0; k < n; ++k) {
    // Zero-weight taps are dropped (the reference multiplies them by 0): keeps N-d resizes affordable.
    if (c[static_cast<size_t>(k)] == 0.0) continue;
    s.taps.push_back({clamp_index(first + k), c[static_cast<size_t>(k)]});
  }
  return s;
}

Result<Options> read_options(KernelContext& ctx) {
  const Node& node = ctx.node();
  Options o;
  const bool legacy = node.op_type == "Upsample" || ctx.opset() < 11;
  std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest") o.mode = Mode::kNearest;
  else if (mode == "linear" || (legacy && mode == "bilinear")) o.mode = Mode::kLinear;
  else if (mode == "cubic" && !legacy) o.mode = Mode::kCubic;
  else return ctx.error(fmt::format("mode must be nearest, linear{}, got '{}'", legacy ? "" : " or cubic", mode));
  if (legacy) {
    o.coord = Coord::kAsymmetric;
    o.nearest = Nearest::kLegacy;
    return o;
  }
  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") o.coord = Coord::kHalfPixel;
  else if (coord == "half_pixel_symmetric" && ctx.opset() >= 19) o.coord = Coord::kHalfPixelSymmetric;
  else if (coord == "pytorch_half_pixel") o.coord = Coord::kPytorchHalfPixel;
  else if (coord == "align_corners") o.coord = Coord::kAlignCorners;
  else if (coord == "asymmetric") o.coord = Coord::kAsymmetric;
  else if (coord == "tf_crop_and_resize") o.coord = Coord::kTfCropAndResize;
  else if (coord == "tf_half_pixel_for_nn" && ctx.opset() < 18) o.coord = Coord::kTfHalfPixelForNN;
  else return ctx.error(fmt::format("coordinate_transformation_mode '{}' is not valid in opset {}", coord, ctx.opset()));
  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") o.nearest = Nearest::kRoundPreferFloor;
  else if (nearest == "round_prefer_ceil") o.nearest = Nearest::kRoundPreferCeil;
  else if (nearest == "floor") o.nearest = Nearest::kFloor;
  else if (nearest == "ceil") o.nearest = Nearest::kCeil;
  else return ctx.error(fmt::format("nearest_mode must be round_prefer_floor, round_prefer_ceil, floor or ceil, got '{}'",
                                    nearest));
  o.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
  o.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  o.extrapolation_value = node.attr_float("extrapolation_value", 0.0f);
  // Antialias only changes the linear and cubic filters.
  o.antialias = ctx.opset() >= 18 && node.attr_int("antialias", 0) != 0 && o.mode != Mode::kNearest;
  return o;
}

template <typename T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    // The reference truncates (astype); out-of-range values are clamped instead of wrapping.
    if (std::isnan(v)) return T(0);
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

// Weighted sum over the taps of axes [axis, rank), innermost axes first, as the reference's recursion.
template <typename T>
double interpolate(const T* in, const std::vector<int64_t>& strides, const std::vector<const AxisSample*>& samples,
                   size_t axis, int64_t offset) {
  double sum = 0;
  for (const Tap& t : samples[axis]->taps) {
    const int64_t at = offset + t.index * strides[axis];
    const double v = axis + 1 == samples.size() ? static_cast<double>(static_cast<compute_type_t<T>>(in[at]))
                                                 : interpolate(in, strides, samples, axis + 1, at);
    sum += t.weight * v;
  }
  return sum;
}

Status resize(KernelContext& ctx) {
  const Node& node = ctx.node();
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(Options o, read_options(ctx));
  auto opt = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  auto request = resize::read_request(node, x.dims(), opt(1), opt(2), opt(3));
  if (!request.ok()) return ctx.error(request.status().message());
  auto geometry = resize::compute_geometry(*request);
  if (!geometry.ok()) return ctx.error(geometry.status().message());
  const Dims& in_dims = x.dims();
  const Dims out_dims = geometry->out;
  const size_t rank = in_dims.size();
  if (rank == 0) return ctx.error("X must have rank >= 1");
  auto count = checked_element_count(out_dims);
  if (!count.ok() || *count > (int64_t{1} << 34))
    return ctx.error(fmt::format("output {} is too large", dims_to_string(out_dims)));

  // roi: starts then ends, one pair per entry of axes; only tf_crop_and_resize reads it.
  std::vector<double> roi_start(rank, 0.0), roi_end(rank, 1.0);
  bool roi_is_f32 = false;
  if (o.coord == Coord::kTfCropAndResize) {
    const Tensor* roi = opt(1);
    if (!resize::given(roi)) return ctx.error("tf_crop_and_resize needs the 'roi' input");
    auto values = resize::float_values(*roi, "roi");
    if (!values.ok()) return ctx.error(values.status().message());
    const size_t n = request->axes.size();
    if (values->size() != 2 * n)
      return ctx.error(fmt::format("roi has {} values, expected {} (2 x {} axes)", values->size(), 2 * n, n));
    for (size_t i = 0; i < n; ++i) {
      roi_start[static_cast<size_t>(request->axes[i])] = (*values)[i];
      roi_end[static_cast<size_t>(request->axes[i])] = (*values)[n + i];
    }
    roi_is_f32 = roi->dtype() == DataType::kF32;
  }

  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  if (y.size() == 0) return {};
  if (x.size() == 0) return ctx.error(fmt::format("cannot resize the empty input {} to {}", x.type_string(),
                                                  dims_to_string(out_dims)));

  // Per axis, per output coordinate: where to read.
  std::vector<std::vector<AxisSample>> samples(rank);
  for (size_t d = 0; d < rank; ++d)
    for (int64_t i = 0; i < out_dims[d]; ++i)
      samples[d].push_back(sample_axis(o, i, geometry->scales[d], in_dims[d], out_dims[d], roi_start[d], roi_end[d],
                                       roi_is_f32));
  const std::vector<int64_t> strides = row_major_strides(in_dims);

  auto run = [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<int64_t> index(rank, 0);
    std::vector<const AxisSample*> at(rank);
    for (int64_t e = 0; e < y.size(); ++e) {
      bool extrapolate = false;
      for (size_t d = 0; d < rank; ++d) {
        at[d] = &samples[d][static_cast<size_t>(index[d])];
        extrapolate |= at[d]->extrapolate;
      }
      if (extrapolate) {
        if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) out[e] = T{};
        else out[e] = from_double<T>(o.extrapolation_value);
      } else if (o.mode == Mode::kNearest) {
        // A pure gather: exact for every dtype.
        int64_t offset = 0;
        for (size_t d = 0; d < rank; ++d) offset += at[d]->taps.front().index * strides[d];
        out[e] = in[offset];
      } else {
        if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
          return ctx.error(fmt::format("mode linear/cubic needs a numeric input, got {}", x.type_string()));
        } else {
          out[e] = from_double<T>(interpolate(in, strides, at, 0, 0));
        }
      }
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < out_dims[d]) break;
        index[d] = 0;
      }
    }
    return {};
  };
  return visit_any(x.dtype(), run);
}

constexpr KernelEntry kKernels[] = {
    {"Resize", "", resize},
    {"Upsample", "", resize},
};
}  // namespace

std::span<const KernelEntry> resize_kernels() {
  // The family's table is this file's kernels plus those of resize_sample.cc.
  static const std::vector<KernelEntry> all = [] {
    std::vector<KernelEntry> v(std::begin(kKernels), std::end(kKernels));
    for (const KernelEntry& e : resize_sample_kernels()) v.push_back(e);
    return v;
  }();
  return all;
}

}  // namespace kiln::ref
