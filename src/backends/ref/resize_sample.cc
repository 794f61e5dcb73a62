// Reference kernels of the resize family that sample at arbitrary points: GridSample (PyTorch's grid_sample,
// which the official test outputs come from) and RoiAlign (onnxruntime's algorithm, which the ONNX reference
// implementation mirrors, including its "max" mode that takes the max of the weighted corner values).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/ref/kernel.h"

namespace kiln::ref {

namespace {

// ---------------------------------------------------------------------------------------------- GridSample

enum class GridMode { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

// Coordinates this far out are certainly outside any tensor and are not converted to integers.
constexpr double kFarOut = 1e15;

double unnormalize(double g, int64_t size, bool align_corners) {
  const double s = static_cast<double>(size);
  return align_corners ? (g + 1) / 2 * (s - 1) : ((g + 1) * s - 1) / 2;
}

// Reflects `x` into [twice_low / 2, twice_high / 2] (PyTorch's reflect_coordinates).
double reflect(double x, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return 0;
  const double min = static_cast<double>(twice_low) / 2;
  const double span = static_cast<double>(twice_high - twice_low) / 2;
  x = std::fabs(x - min);
  const double extra = std::fmod(x, span);
  const int64_t flips = static_cast<int64_t>(std::floor(x / span));
  return flips % 2 == 0 ? extra + min : span - extra + min;
}

// Applies border/reflection padding to an unnormalized coordinate (PyTorch's compute_coordinates).
double pad_coordinate(double x, int64_t size, Padding padding, bool align_corners) {
  const double hi = static_cast<double>(size - 1);
  if (padding == Padding::kBorder) return std::clamp(x, 0.0, hi);
  if (padding == Padding::kReflection) {
    x = align_corners ? reflect(x, 0, 2 * (size - 1)) : reflect(x, -1, 2 * size - 1);
    return std::clamp(x, 0.0, hi);
  }
  return x;
}

struct GridTap {
  int64_t index;  // -1: outside (reads 0)
  double weight;
};

double cubic_conv1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
double cubic_conv2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

// The taps along one spatial axis for normalized grid coordinate g.
std::vector<GridTap> grid_taps(double g, int64_t size, GridMode mode, Padding padding, bool align_corners) {
  auto inside = [&](double c) -> int64_t {
    if (!std::isfinite(c) || std::fabs(c) > kFarOut) return -1;
    const int64_t i = static_cast<int64_t>(c);
    return i >= 0 && i < size ? i : -1;
  };
  double c = unnormalize(g, size, align_corners);
  if (!std::isfinite(c) || std::fabs(c) > kFarOut) return {{-1, 1.0}};
  if (mode == GridMode::kCubic) {
    // Each tap index is padded on its own (PyTorch's get_value_bounded).
    const double i0 = std::floor(c);
    const double t = c - i0;
    const double w[4] = {cubic_conv2(t + 1, -0.75), cubic_conv1(t, -0.75), cubic_conv1(1 - t, -0.75),
                         cubic_conv2(2 - t, -0.75)};
    std::vector<GridTap> taps;
    for (int k = 0; k < 4; ++k)
      taps.push_back({inside(pad_coordinate(i0 - 1 + k, size, padding, align_corners)), w[k]});
    return taps;
  }
  c = pad_coordinate(c, size, padding, align_corners);
  if (mode == GridMode::kNearest) return {{inside(std::nearbyint(c)), 1.0}};
  const double i0 = std::floor(c);
  const double t = c - i0;
  return {{inside(i0), 1 - t}, {inside(i0 + 1), t}};
}

Status grid_sample(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const Node& node = ctx.node();
  if (x.rank() < 3) return ctx.error(fmt::format("X must have rank >= 3 (N, C, spatial...), got {}", x.type_string()));
  const int64_t r = x.rank() - 2;
  if (grid.rank() != x.rank() || grid.dim(0) != x.dim(0) || grid.dim(grid.rank() - 1) != r)
    return ctx.error(fmt::format("grid must be [N={}, out spatial..., {}] for X {}, got {}", x.dim(0), r,
                                 x.type_string(), grid.type_string()));
  if (!is_float(grid.dtype())) return ctx.error(fmt::format("grid must be a float tensor, got {}", grid.type_string()));
  const std::string mode_name = node.attr_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
  GridMode mode;
  if (mode_name == "nearest") mode = GridMode::kNearest;
  else if (mode_name == "bilinear" || mode_name == "linear") mode = GridMode::kLinear;
  else if (mode_name == "bicubic" || mode_name == "cubic") mode = GridMode::kCubic;
  else return ctx.error(fmt::format("mode must be bilinear/linear, nearest or bicubic/cubic, got '{}'", mode_name));
  const std::string pad_name = node.attr_string("padding_mode", "zeros");
  Padding padding;
  if (pad_name == "zeros") padding = Padding::kZeros;
  else if (pad_name == "border") padding = Padding::kBorder;
  else if (pad_name == "reflection") padding = Padding::kReflection;
  else return ctx.error(fmt::format("padding_mode must be zeros, border or reflection, got '{}'", pad_name));
  const bool align_corners = node.attr_int("align_corners", 0) != 0;

  const int64_t n = x.dim(0), channels = x.dim(1);
  Dims out_dims = {n, channels};
  for (int64_t i = 1; i <= r; ++i) out_dims.push_back(grid.dim(i));
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  if (y.size() == 0) return {};
  for (int64_t i = 0; i < r; ++i)
    if (x.dim(2 + i) == 0) return ctx.error(fmt::format("X {} has an empty spatial axis", x.type_string()));

  int64_t in_spatial = 1, out_spatial = 1;
  for (int64_t i = 0; i < r; ++i) {
    in_spatial *= x.dim(2 + i);
    out_spatial *= grid.dim(1 + i);
  }
  const std::vector<double> g = grid.to_double_vector();
  const std::vector<int64_t> in_strides = row_major_strides(Dims(x.dims().begin() + 2, x.dims().end()));
  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<std::vector<GridTap>> taps(static_cast<size_t>(r));
    std::vector<size_t> pick(static_cast<size_t>(r));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t p = 0; p < out_spatial; ++p) {
        // grid's last axis lists coordinates innermost spatial axis first (x, y, z...).
        const double* coords = g.data() + (b * out_spatial + p) * r;
        for (int64_t d = 0; d < r; ++d)
          taps[static_cast<size_t>(d)] = grid_taps(coords[r - 1 - d], x.dim(2 + d), mode, padding, align_corners);
        for (int64_t c = 0; c < channels; ++c) {
          const T* plane = in + (b * channels + c) * in_spatial;
          // Sum over every combination of taps (an odometer over the axes).
          double sum = 0;
          std::fill(pick.begin(), pick.end(), 0);
          while (true) {
            double w = 1;
            int64_t offset = 0;
            bool outside = false;
            for (int64_t d = 0; d < r; ++d) {
              const GridTap& t = taps[static_cast<size_t>(d)][pick[static_cast<size_t>(d)]];
              w *= t.weight;
              outside |= t.index < 0;
              offset += t.index * in_strides[static_cast<size_t>(d)];
            }
            if (!outside) sum += w * static_cast<double>(static_cast<compute_type_t<T>>(plane[offset]));
            int64_t d = r - 1;
            for (; d >= 0; --d) {
              if (++pick[static_cast<size_t>(d)] < taps[static_cast<size_t>(d)].size()) break;
              pick[static_cast<size_t>(d)] = 0;
            }
            if (d < 0) break;
          }
          out[(b * channels + c) * out_spatial + p] = static_cast<T>(sum);
        }
      }
    }
    return {};
  });
}

// ------------------------------------------------------------------------------------------------ RoiAlign

Status roi_align(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& batch_indices = ctx.input(2);
  const Node& node = ctx.node();
  if (x.rank() != 4) return ctx.error(fmt::format("X must be 4-D (N, C, H, W), got {}", x.type_string()));
  if (rois.rank() != 2 || rois.dim(1) != 4)
    return ctx.error(fmt::format("rois must be [num_rois, 4], got {}", rois.type_string()));
  if (!is_float(rois.dtype())) return ctx.error(fmt::format("rois must be a float tensor, got {}", rois.type_string()));
  if (!is_integer(batch_indices.dtype()) || batch_indices.rank() != 1 || batch_indices.dim(0) != rois.dim(0))
    return ctx.error(fmt::format("batch_indices must be an integer tensor [num_rois={}], got {}", rois.dim(0),
                                 batch_indices.type_string()));
  const std::string mode = node.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") return ctx.error(fmt::format("mode must be avg or max, got '{}'", mode));
  const std::string coord = node.attr_string("coordinate_transformation_mode",
                                             ctx.opset() >= 16 ? "half_pixel" : "output_half_pixel");
  if (coord != "half_pixel" && coord != "output_half_pixel")
    return ctx.error(fmt::format("coordinate_transformation_mode must be half_pixel or output_half_pixel, got '{}'",
                                 coord));
  const bool half_pixel = coord == "half_pixel";
  const int64_t out_h = node.attr_int("output_height", 1);
  const int64_t out_w = node.attr_int("output_width", 1);
  const int64_t sampling_ratio = node.attr_int("sampling_ratio", 0);
  const double spatial_scale = node.attr_float("spatial_scale", 1.0f);
  if (out_h < 1 || out_w < 1) return ctx.error(fmt::format("output_height/width must be >= 1, got {}x{}", out_h, out_w));
  if (sampling_ratio < 0) return ctx.error(fmt::format("sampling_ratio must be >= 0, got {}", sampling_ratio));

  const int64_t num_rois = rois.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  Tensor& y = ctx.allocate_output(0, x.dtype(), {num_rois, channels, out_h, out_w});
  if (y.size() == 0) return {};
  if (height == 0 || width == 0) return ctx.error(fmt::format("X {} has an empty spatial axis", x.type_string()));
  const std::vector<double> box = rois.to_double_vector();

  return visit_float(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    auto value = [&](const T* plane, int64_t pos) { return static_cast<double>(static_cast<compute_type_t<T>>(plane[pos])); };
    for (int64_t n = 0; n < num_rois; ++n) {
      const int64_t batch = batch_indices.element_as_int64(n);
      if (batch < 0 || batch >= x.dim(0))
        return ctx.error(fmt::format("batch_indices[{}] = {} is out of range for X {}", n, batch, x.type_string()));
      const double* b = box.data() + n * 4;
      for (int k = 0; k < 4; ++k)
        if (!std::isfinite(b[k])) return ctx.error(fmt::format("rois[{}] has a non-finite coordinate", n));
      const double offset = half_pixel ? 0.5 : 0.0;
      const double start_w = b[0] * spatial_scale - offset, start_h = b[1] * spatial_scale - offset;
      const double end_w = b[2] * spatial_scale - offset, end_h = b[3] * spatial_scale - offset;
      double roi_w = end_w - start_w, roi_h = end_h - start_h;
      if (!half_pixel) {  // legacy mode forces malformed rois to be 1x1
        roi_w = std::max(roi_w, 1.0);
        roi_h = std::max(roi_h, 1.0);
      }
      const double bin_h = roi_h / static_cast<double>(out_h), bin_w = roi_w / static_cast<double>(out_w);
      const double grid_h_d = sampling_ratio > 0 ? static_cast<double>(sampling_ratio) : std::ceil(roi_h / out_h);
      const double grid_w_d = sampling_ratio > 0 ? static_cast<double>(sampling_ratio) : std::ceil(roi_w / out_w);
      if (grid_h_d * grid_w_d > double(1 << 24))
        return ctx.error(fmt::format("rois[{}] needs {} x {} samples per bin; too many", n, grid_h_d, grid_w_d));
      const int64_t grid_h = std::max<int64_t>(static_cast<int64_t>(grid_h_d), 0);
      const int64_t grid_w = std::max<int64_t>(static_cast<int64_t>(grid_w_d), 0);
      const double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));

      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = in + (batch * channels + c) * height * width;
        for (int64_t ph = 0; ph < out_h; ++ph) {
          for (int64_t pw = 0; pw < out_w; ++pw) {
            double result = 0;
            bool first = true;
            for (int64_t iy = 0; iy < grid_h; ++iy) {
              for (int64_t ix = 0; ix < grid_w; ++ix) {
                double yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / static_cast<double>(grid_h);
                double xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / static_cast<double>(grid_w);
                // Bilinear corners and weights; a sample outside [-1, size] contributes zeros.
                double w[4] = {0, 0, 0, 0};
                int64_t pos[4] = {0, 0, 0, 0};
                if (!(yy < -1.0 || yy > static_cast<double>(height) || xx < -1.0 || xx > static_cast<double>(width))) {
                  yy = std::max(yy, 0.0);
                  xx = std::max(xx, 0.0);
                  int64_t y_low = static_cast<int64_t>(yy), x_low = static_cast<int64_t>(xx), y_high, x_high;
                  if (y_low >= height - 1) {
                    y_high = y_low = height - 1;
                    yy = static_cast<double>(y_low);
                  } else {
                    y_high = y_low + 1;
                  }
                  if (x_low >= width - 1) {
                    x_high = x_low = width - 1;
                    xx = static_cast<double>(x_low);
                  } else {
                    x_high = x_low + 1;
                  }
                  const double ly = yy - static_cast<double>(y_low), lx = xx - static_cast<double>(x_low);
                  const double hy = 1 - ly, hx = 1 - lx;
                  w[0] = hy * hx, w[1] = hy * lx, w[2] = ly * hx, w[3] = ly * lx;
                  pos[0] = y_low * width + x_low, pos[1] = y_low * width + x_high;
                  pos[2] = y_high * width + x_low, pos[3] = y_high * width + x_high;
                }
                if (mode == "avg") {
                  for (int k = 0; k < 4; ++k) result += w[k] * value(plane, pos[k]);
                } else {
                  double v = w[0] * value(plane, pos[0]);
                  for (int k = 1; k < 4; ++k) v = std::max(v, w[k] * value(plane, pos[k]));
                  result = first ? v : std::max(result, v);
                  first = false;
                }
              }
            }
            if (mode == "avg") result /= count;
            out[((n * channels + c) * out_h + ph) * out_w + pw] = static_cast<T>(result);
          }
        }
      }
    }
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"GridSample", "", grid_sample},
    {"RoiAlign", "", roi_align},
};
}  // namespace

std::span<const KernelEntry> resize_sample_kernels() { return kKernels; }

}  // namespace kiln::ref
