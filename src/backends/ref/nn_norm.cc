// Reference kernels of the nn family: normalizations (Batch, Instance, Layer, Group, LRN, Lp, MVN) and Dropout.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backends/ref/broadcast.h"
#include "backends/ref/nn_common.h"

namespace kiln::ref {

namespace {

// Reads a per-channel parameter as doubles and checks its element count.
Result<std::vector<double>> param_values(const KernelContext& ctx, size_t i, const char* name, int64_t expected) {
  const Tensor& t = ctx.input(i);
  if (!is_float(t.dtype()))
    return ctx.error(fmt::format("{} is {}, expected a float tensor", name, t.type_string()));
  if (t.size() != expected)
    return ctx.error(fmt::format("{} is {}, expected {} elements", name, t.type_string(), expected));
  return t.to_double_vector();
}

// Writes doubles into a new output of the given float dtype.
Status write_output(KernelContext& ctx, size_t i, DataType dtype, const Dims& dims, const std::vector<double>& v) {
  Tensor& t = ctx.allocate_output(i, dtype, dims);
  return visit_float(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t e = 0; e < t.size(); ++e) p[e] = static_cast<T>(v[e]);
    return {};
  });
}

Status batch_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input X must have rank >= 2 (N, C, ...), got {}", x.type_string()));
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = element_count(Dims(x.dims().begin() + 2, x.dims().end()));
  // Before opset 9, spatial = 0 gave every (C, D1, ...) position its own parameters.
  const bool spatial = ctx.opset() >= 9 || ctx.node().attr_int("spatial", 1) != 0;
  const int64_t params = spatial ? channels : channels * inner;
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  const double momentum = ctx.node().attr_float("momentum", 0.9f);
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, param_values(ctx, 1, "scale", params));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, param_values(ctx, 2, "B", params));
  KILN_ASSIGN_OR_RETURN(std::vector<double> mean, param_values(ctx, 3, "input_mean", params));
  KILN_ASSIGN_OR_RETURN(std::vector<double> var, param_values(ctx, 4, "input_var", params));
  const std::vector<double> xv = x.to_double_vector();
  auto param_index = [&](int64_t c, int64_t s) { return spatial ? c : c * inner + s; };

  // Training: opset 14+ says so with training_mode; before, asking for the statistics outputs did.
  bool wants_stats = false;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) wants_stats |= ctx.has_output(i);
  bool training = ctx.opset() >= 14 ? ctx.node().attr_int("training_mode", 0) != 0 : wants_stats;
  std::vector<double> batch_mean, batch_var;
  if (training) {
    if (!spatial) return ctx.error("training mode with spatial = 0 is not supported");
    batch_mean.assign(channels, 0.0);
    batch_var.assign(channels, 0.0);
    const double count = static_cast<double>(batch * inner);
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t s = 0; s < inner; ++s) batch_mean[c] += xv[(n * channels + c) * inner + s];
    for (int64_t c = 0; c < channels; ++c) batch_mean[c] /= count;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t s = 0; s < inner; ++s) {
          double d = xv[(n * channels + c) * inner + s] - batch_mean[c];
          batch_var[c] += d * d;
        }
    for (int64_t c = 0; c < channels; ++c) batch_var[c] /= count;  // population variance, as ONNX defines
  }
  const std::vector<double>& use_mean = training ? batch_mean : mean;
  const std::vector<double>& use_var = training ? batch_var : var;
  std::vector<double> y(xv.size());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) {
        int64_t p = param_index(c, s), e = (n * channels + c) * inner + s;
        y[e] = (xv[e] - use_mean[p]) / std::sqrt(use_var[p] + eps) * scale[p] + bias[p];
      }
  KILN_RETURN_IF_ERROR(write_output(ctx, 0, x.dtype(), x.dims(), y));
  if (!wants_stats) return {};
  // Outside training the statistics outputs (undefined by ONNX) pass the running statistics through.
  std::vector<double> running_mean = mean, running_var = var;
  if (training) {
    for (int64_t c = 0; c < channels; ++c) {
      running_mean[c] = mean[c] * momentum + batch_mean[c] * (1 - momentum);
      running_var[c] = var[c] * momentum + batch_var[c] * (1 - momentum);
    }
  } else {
    batch_mean = mean;
    batch_var = var;
  }
  const DataType stats_type = ctx.opset() >= 14 ? ctx.input(3).dtype() : x.dtype();
  const Dims stats_dims = ctx.input(3).dims();
  const std::vector<double>* stats[] = {&running_mean, &running_var, &batch_mean, &batch_var};
  for (size_t i = 1; i < ctx.num_outputs() && i < 5; ++i)
    if (ctx.has_output(i)) KILN_RETURN_IF_ERROR(write_output(ctx, i, stats_type, stats_dims, *stats[i - 1]));
  return {};
}

// Normalizes each run of `inner` elements of each of `groups` (consecutive) groups: (x - mean) / sqrt(var + eps).
// Returns per-group mean and 1/sqrt(var + eps).
void normalize_groups(const std::vector<double>& x, int64_t groups, int64_t inner, double eps, std::vector<double>& y,
                      std::vector<double>* means = nullptr, std::vector<double>* inv_stds = nullptr) {
  y.resize(x.size());
  for (int64_t g = 0; g < groups; ++g) {
    const double* xs = x.data() + g * inner;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += xs[i];
    mean /= static_cast<double>(inner);
    for (int64_t i = 0; i < inner; ++i) var += (xs[i] - mean) * (xs[i] - mean);
    var /= static_cast<double>(inner);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < inner; ++i) y[g * inner + i] = (xs[i] - mean) * inv_std;
    if (means) means->push_back(mean);
    if (inv_stds) inv_stds->push_back(inv_std);
  }
}

Status instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_RETURN_IF_ERROR(nn_spatial_rank(ctx, x, "input X").status());
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  const int64_t batch = x.dim(0), channels = x.dim(1), inner = element_count(nn_spatial_dims(x));
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, param_values(ctx, 1, "scale", channels));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, param_values(ctx, 2, "B", channels));
  std::vector<double> y;
  normalize_groups(x.to_double_vector(), batch * channels, inner, ctx.node().attr_float("epsilon", 1e-5f), y);
  for (int64_t g = 0; g < batch * channels; ++g)
    for (int64_t i = 0; i < inner; ++i) y[g * inner + i] = y[g * inner + i] * scale[g % channels] + bias[g % channels];
  return write_output(ctx, 0, x.dtype(), x.dims(), y);
}

// Broadcasts a Scale/B input to the normalized shape `inner_dims` (unidirectionally).
Result<std::vector<double>> broadcast_to_inner(const KernelContext& ctx, size_t i, const char* name,
                                               const Dims& inner_dims) {
  const Tensor& t = ctx.input(i);
  if (!is_float(t.dtype())) return ctx.error(fmt::format("{} is {}, expected a float tensor", name, t.type_string()));
  auto b = broadcast_dims(inner_dims, t.dims());
  if (t.rank() > static_cast<int64_t>(inner_dims.size()) || !b.ok() || *b != inner_dims)
    return ctx.error(fmt::format("{} {} does not broadcast to the normalized shape {}", name, t.type_string(),
                                 dims_to_string(inner_dims)));
  const std::vector<double> v = t.to_double_vector();
  std::vector<double> out(static_cast<size_t>(element_count(inner_dims)));
  BroadcastWalker w(inner_dims, {t.dims()});
  for (size_t e = 0; e < out.size(); ++e, w.next()) out[e] = v[w.offset(0)];
  return out;
}

Status layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  auto axis = normalize_axis(ctx.node().attr_int("axis", -1), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  const Dims outer_dims(x.dims().begin(), x.dims().begin() + *axis), inner_dims(x.dims().begin() + *axis, x.dims().end());
  const int64_t outer = element_count(outer_dims), inner = element_count(inner_dims);
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, broadcast_to_inner(ctx, 1, "Scale", inner_dims));
  std::vector<double> bias(static_cast<size_t>(inner), 0.0);
  if (ctx.has_input(2)) {
    KILN_ASSIGN_OR_RETURN(bias, broadcast_to_inner(ctx, 2, "B", inner_dims));
  }
  std::vector<double> y, means, inv_stds;
  normalize_groups(x.to_double_vector(), outer, inner, ctx.node().attr_float("epsilon", 1e-5f), y, &means, &inv_stds);
  for (int64_t g = 0; g < outer; ++g)
    for (int64_t i = 0; i < inner; ++i) y[g * inner + i] = y[g * inner + i] * scale[i] + bias[i];
  KILN_RETURN_IF_ERROR(write_output(ctx, 0, x.dtype(), x.dims(), y));
  Dims stats_dims = x.dims();
  std::fill(stats_dims.begin() + *axis, stats_dims.end(), 1);
  const auto stash = static_cast<DataType>(ctx.node().attr_int("stash_type", 1));
  if (!is_float(stash)) return ctx.error(fmt::format("stash_type {} is not a float dtype", static_cast<int>(stash)));
  if (ctx.has_output(1)) KILN_RETURN_IF_ERROR(write_output(ctx, 1, stash, stats_dims, means));
  if (ctx.has_output(2)) KILN_RETURN_IF_ERROR(write_output(ctx, 2, stash, stats_dims, inv_stds));
  return {};
}

// Opset 18 has per-group scale and bias (G values), opset 21 per-channel (C values); told apart by size.
Status group_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input X must have rank >= 2 (N, C, ...), got {}", x.type_string()));
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  const int64_t groups = ctx.node().attr_int("num_groups", 0);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  if (groups < 1 || channels % groups != 0)
    return ctx.error(fmt::format("num_groups {} must be >= 1 and divide the {} channels", groups, channels));
  const int64_t spatial = element_count(Dims(x.dims().begin() + 2, x.dims().end()));
  const int64_t per_channel = ctx.input(1).size() == channels;
  KILN_ASSIGN_OR_RETURN(std::vector<double> scale, param_values(ctx, 1, "scale", per_channel ? channels : groups));
  KILN_ASSIGN_OR_RETURN(std::vector<double> bias, param_values(ctx, 2, "bias", per_channel ? channels : groups));
  std::vector<double> y;
  const int64_t group_size = channels / groups * spatial;
  normalize_groups(x.to_double_vector(), batch * groups, group_size, ctx.node().attr_float("epsilon", 1e-5f), y);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t p = per_channel ? c : c / (channels / groups);
      for (int64_t s = 0; s < spatial; ++s) {
        double& v = y[(n * channels + c) * spatial + s];
        v = v * scale[p] + bias[p];
      }
    }
  return write_output(ctx, 0, x.dtype(), x.dims(), y);
}

// y = x / (bias + alpha / size * sum of x^2 over the `size` neighbouring channels) ^ beta
Status lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error(fmt::format("input X must have rank >= 2 (N, C, ...), got {}", x.type_string()));
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  const int64_t size = ctx.node().attr_int("size", 0);
  if (size < 1) return ctx.error(fmt::format("size must be >= 1, got {}", size));
  const double alpha = ctx.node().attr_float("alpha", 1e-4f), beta = ctx.node().attr_float("beta", 0.75f),
               bias = ctx.node().attr_float("bias", 1.0f);
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const int64_t inner = element_count(Dims(x.dims().begin() + 2, x.dims().end()));
  const int64_t below = (size - 1) / 2, above = size - 1 - below;
  const std::vector<double> xv = x.to_double_vector();
  std::vector<double> y(xv.size());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < inner; ++s) {
        double sq = 0;
        for (int64_t j = std::max<int64_t>(0, c - below); j <= std::min(channels - 1, c + above); ++j) {
          double v = xv[(n * channels + j) * inner + s];
          sq += v * v;
        }
        int64_t e = (n * channels + c) * inner + s;
        y[e] = xv[e] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta);
      }
  return write_output(ctx, 0, x.dtype(), x.dims(), y);
}

// Offsets of the elements of `dims` grouped by their position on the axes not in `reduced`: calls
// f(group, element) for every element.
template <typename F>
void for_each_grouped(const Dims& dims, const std::vector<bool>& reduced, F&& f) {
  Dims kept;
  for (size_t a = 0; a < dims.size(); ++a) kept.push_back(reduced[a] ? 1 : dims[a]);
  const std::vector<int64_t> kept_strides = row_major_strides(kept);
  std::vector<int64_t> idx(dims.size(), 0);
  const int64_t count = element_count(dims);
  for (int64_t e = 0; e < count; ++e, nn_next_index(idx, dims)) {
    int64_t g = 0;
    for (size_t a = 0; a < dims.size(); ++a)
      if (!reduced[a]) g += idx[a] * kept_strides[a];
    f(g, e);
  }
}

// y = x / ||x||_p along `axis` (p = 1 or 2)
Status lp_normalization(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  auto axis = normalize_axis(ctx.node().attr_int("axis", -1), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  const int64_t p = ctx.node().attr_int("p", 2);
  if (p != 1 && p != 2) return ctx.error(fmt::format("p must be 1 or 2, got {}", p));
  std::vector<bool> reduced(x.rank(), false);
  reduced[*axis] = true;
  const std::vector<double> xv = x.to_double_vector();
  std::vector<double> norm(xv.size() ? static_cast<size_t>(x.size() / std::max<int64_t>(1, x.dim(*axis))) : 0, 0.0);
  for_each_grouped(x.dims(), reduced, [&](int64_t g, int64_t e) { norm[g] += p == 1 ? std::abs(xv[e]) : xv[e] * xv[e]; });
  if (p == 2)
    for (double& v : norm) v = std::sqrt(v);
  std::vector<double> y(xv.size());
  // A zero vector stays zero rather than becoming NaN.
  for_each_grouped(x.dims(), reduced, [&](int64_t g, int64_t e) { y[e] = norm[g] == 0 ? 0.0 : xv[e] / norm[g]; });
  return write_output(ctx, 0, x.dtype(), x.dims(), y);
}

// y = (x - mean) / (std + 1e-9) over `axes` (opset 9+); opset 1 used across_channels / normalize_variance.
Status mean_variance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error(fmt::format("input X is {}, expected a float tensor", x.type_string()));
  std::vector<int64_t> axes;
  bool normalize_variance = true;
  if (ctx.opset() < 9) {
    axes = ctx.node().attr_int("across_channels", 0) ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{2, 3};
    normalize_variance = ctx.node().attr_int("normalize_variance", 1) != 0;
  } else {
    axes = ctx.node().has_attr("axes") ? ctx.node().attr_ints("axes") : std::vector<int64_t>{0, 2, 3};
  }
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes) {
    auto na = normalize_axis(a, x.rank());
    if (!na.ok())
      return ctx.error(fmt::format("axes [{}] do not fit input {}: {}", fmt::join(axes, ","), x.type_string(),
                                   na.status().message()));
    reduced[*na] = true;
  }
  int64_t group_count = 1, group_size = 1;
  for (int64_t a = 0; a < x.rank(); ++a) (reduced[a] ? group_size : group_count) *= x.dim(a);
  const std::vector<double> xv = x.to_double_vector();
  std::vector<double> mean(group_count, 0.0), var(group_count, 0.0);
  for_each_grouped(x.dims(), reduced, [&](int64_t g, int64_t e) { mean[g] += xv[e]; });
  for (double& m : mean) m /= static_cast<double>(group_size);
  for_each_grouped(x.dims(), reduced, [&](int64_t g, int64_t e) { var[g] += (xv[e] - mean[g]) * (xv[e] - mean[g]); });
  for (double& v : var) v /= static_cast<double>(group_size);
  std::vector<double> y(xv.size());
  for_each_grouped(x.dims(), reduced, [&](int64_t g, int64_t e) {
    y[e] = normalize_variance ? (xv[e] - mean[g]) / (std::sqrt(var[g]) + 1e-9) : xv[e] - mean[g];
  });
  return write_output(ctx, 0, x.dtype(), x.dims(), y);
}

// numpy's legacy RandomState(seed).uniform(0, 1): MT19937 seeded with init_genrand and 53-bit doubles, so a
// model's `seed` attribute reproduces the reference outputs made with numpy.
class NumpyUniform {
 public:
  explicit NumpyUniform(uint32_t seed) : mt_(seed) {}
  double next() {
    uint32_t a = static_cast<uint32_t>(mt_()) >> 5, b = static_cast<uint32_t>(mt_()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

 private:
  std::mt19937 mt_;
};

// Inference: a copy with an all-true mask. Training (opset 12+ training_mode input): y = x * mask / (1 - ratio).
Status dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool training = false;
  double ratio = ctx.opset() < 12 ? ctx.node().attr_float("ratio", 0.5f) : 0.5;
  if (ctx.opset() >= 12) {
    if (ctx.has_input(1)) {
      const Tensor& r = ctx.input(1);
      if (!is_float(r.dtype()) || r.size() != 1)
        return ctx.error(fmt::format("ratio must be a float scalar, got {}", r.type_string()));
      ratio = r.element_as_double(0);
    }
    if (ctx.has_input(2)) {
      const Tensor& t = ctx.input(2);
      if (t.dtype() != DataType::kBool || t.size() != 1)
        return ctx.error(fmt::format("training_mode must be a bool scalar, got {}", t.type_string()));
      training = t.data<bool>()[0];
    }
  }
  if (training && !(ratio >= 0 && ratio < 1))
    return ctx.error(fmt::format("ratio must be in [0, 1), got {}", ratio));
  std::vector<bool> keep(static_cast<size_t>(x.size()), true);
  if (training && ratio > 0) {
    std::random_device rd;
    NumpyUniform uniform(ctx.node().has_attr("seed") ? static_cast<uint32_t>(ctx.node().attr_int("seed")) : rd());
    for (size_t e = 0; e < keep.size(); ++e) keep[e] = uniform.next() >= ratio;
  }
  if (!training || ratio == 0) {
    ctx.set_output(0, x);
  } else {
    Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
    const double scale = 1.0 / (1.0 - ratio);
    KILN_RETURN_IF_ERROR(visit_float(x.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* xp = x.data<T>();
      T* yp = y.data<T>();
      for (int64_t e = 0; e < x.size(); ++e) yp[e] = static_cast<T>(keep[e] ? nn_to_double(xp[e]) * scale : 0.0);
      return {};
    }));
  }
  if (ctx.has_output(1)) {
    // Opset 10+ masks are bool; older ones have X's type (1 = kept).
    const DataType mask_type = ctx.opset() >= 10 ? DataType::kBool : x.dtype();
    Tensor& m = ctx.allocate_output(1, mask_type, x.dims());
    return visit_numeric_or_bool(mask_type, [&](auto tag) -> Status {
      using T = decltype(tag);
      T* mp = m.data<T>();
      for (int64_t e = 0; e < m.size(); ++e) mp[e] = static_cast<T>(keep[e] ? 1.0f : 0.0f);
      return {};
    });
  }
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"BatchNormalization", "", batch_norm},
    {"InstanceNormalization", "", instance_norm},
    {"LayerNormalization", "", layer_norm},
    {"GroupNormalization", "", group_norm},
    {"LRN", "", lrn},
    {"LpNormalization", "", lp_normalization},
    {"MeanVarianceNormalization", "", mean_variance_norm},
    {"Dropout", "", dropout},
};

}  // namespace

std::span<const KernelEntry> nn_norm_kernels() { return kKernels; }

}  // namespace kiln::ref
