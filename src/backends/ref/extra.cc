// Reference kernels of the extra family (see ref_kernel_families.inc): NegativeLogLikelihoodLoss,
// SoftmaxCrossEntropyLoss, Unique, NonMaxSuppression. The signal ops live in extra_signal.cc.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "backends/ref/extra_common.h"

namespace kiln::ref {

namespace {

// ---------------------------------------------------------------------------------------------------------
// Losses

/// Negative log-likelihood over log-probabilities `logp` laid out as (N, C, D) with D the product of the
/// trailing extents of `in_dims`; writes output 0 (per-element loss, or its weighted sum / mean).
Status nll_from_log_probs(KernelContext& ctx, const std::vector<double>& logp, const Dims& in_dims,
                          DataType out_dtype) {
  const Tensor& target = ctx.input(1);
  if (in_dims.size() < 2) return ctx.error("input must have rank >= 2 (N, C, ...), got " + dims_to_string(in_dims));
  if (target.dtype() != DataType::kI32 && target.dtype() != DataType::kI64)
    return ctx.error("target must be int32 or int64, got " + target.type_string());
  Dims want_target = in_dims;
  want_target.erase(want_target.begin() + 1);
  if (target.dims() != want_target)
    return ctx.error("target must have shape " + dims_to_string(want_target) + " for input " +
                     dims_to_string(in_dims) + ", got " + target.type_string());
  const int64_t n_batch = in_dims[0], classes = in_dims[1];
  const int64_t inner = element_count(in_dims) / std::max<int64_t>(1, n_batch * classes);
  std::vector<double> weight;
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    if (w.dims() != Dims{classes})
      return ctx.error("weight must have shape [" + std::to_string(classes) + "] (one per class), got " +
                       w.type_string());
    weight = w.to_double_vector();
  }
  std::optional<int64_t> ignore_index;
  if (ctx.node().has_attr("ignore_index")) ignore_index = ctx.node().attr_int("ignore_index");
  std::string reduction = ctx.node().attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return ctx.error("reduction must be 'none', 'sum' or 'mean', got '" + reduction + "'");

  std::vector<double> loss(static_cast<size_t>(target.size()), 0.0);
  double loss_sum = 0.0, weight_sum = 0.0;
  for (int64_t n = 0; n < n_batch; ++n) {
    for (int64_t d = 0; d < inner; ++d) {
      int64_t ti = n * inner + d;
      int64_t t = target.element_as_int64(ti);
      if (ignore_index && t == *ignore_index) continue;  // contributes neither loss nor weight
      if (t < 0 || t >= classes)
        return ctx.error("target value " + std::to_string(t) + " at index " + std::to_string(ti) +
                         " is out of range [0, " + std::to_string(classes) + ")");
      double w = weight.empty() ? 1.0 : weight[t];
      loss[ti] = -logp[(n * classes + t) * inner + d] * w;
      loss_sum += loss[ti];
      weight_sum += w;
    }
  }
  if (reduction == "none") {
    Tensor& out = ctx.allocate_output(0, out_dtype, target.dims());
    return store_doubles(out, loss);
  }
  Tensor& out = ctx.allocate_output(0, out_dtype, {});
  // mean divides by the total weight of the non-ignored targets (0/0 = NaN when all are ignored).
  return store_doubles(out, {reduction == "sum" ? loss_sum : loss_sum / weight_sum});
}

Status check_loss_input(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error("input must be a float tensor, got " + x.type_string());
  if (ctx.has_input(2) && ctx.input(2).dtype() != x.dtype())
    return ctx.error("weight must have the dtype of input " + x.type_string() + ", got " + ctx.input(2).type_string());
  return {};
}

Status negative_log_likelihood_loss(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_loss_input(ctx));
  const Tensor& x = ctx.input(0);
  return nll_from_log_probs(ctx, x.to_double_vector(), x.dims(), x.dtype());
}

Status softmax_cross_entropy_loss(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_loss_input(ctx));
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) return ctx.error("scores must have rank >= 2 (N, C, ...), got " + x.type_string());
  const int64_t n_batch = x.dim(0), classes = x.dim(1);
  const int64_t inner = x.size() / std::max<int64_t>(1, n_batch * classes);
  std::vector<double> v = x.to_double_vector();
  std::vector<double> logp(v.size());
  // log_softmax over the class axis (axis 1), shifted by the max for stability.
  for (int64_t n = 0; n < n_batch; ++n) {
    for (int64_t d = 0; d < inner; ++d) {
      auto at = [&](int64_t c) { return static_cast<size_t>((n * classes + c) * inner + d); };
      double mx = -INFINITY;
      for (int64_t c = 0; c < classes; ++c) mx = std::max(mx, v[at(c)]);
      double sum = 0.0;
      for (int64_t c = 0; c < classes; ++c) sum += std::exp(v[at(c)] - mx);
      double log_sum = std::log(sum);
      for (int64_t c = 0; c < classes; ++c) logp[at(c)] = v[at(c)] - mx - log_sum;
    }
  }
  KILN_RETURN_IF_ERROR(nll_from_log_probs(ctx, logp, x.dims(), x.dtype()));
  if (ctx.has_output(1)) {
    Tensor& lp = ctx.allocate_output(1, x.dtype(), x.dims());
    KILN_RETURN_IF_ERROR(store_doubles(lp, logp));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------------------
// Unique

/// Three-way comparison giving a total order: NaNs sort last and equal each other (as numpy.unique).
template <typename T>
int compare_elements(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_integral_v<T>) {
    return a < b ? -1 : (b < a ? 1 : 0);
  } else {
    double x = static_cast<double>(static_cast<compute_type_t<T>>(a));
    double y = static_cast<double>(static_cast<compute_type_t<T>>(b));
    bool nx = std::isnan(x), ny = std::isnan(y);
    if (nx || ny) return nx == ny ? 0 : (nx ? 1 : -1);
    return x < y ? -1 : (y < x ? 1 : 0);
  }
}

Status unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Dims& dims = x.dims();
  // The input is viewed as (outer, n, inner); the n slices along the axis are what is made unique.
  int64_t outer = 1, n = x.size(), inner = 1, axis = -1;
  if (ctx.node().has_attr("axis")) {
    Result<int64_t> a = normalize_axis(ctx.node().attr_int("axis"), x.rank());
    if (!a.ok()) return ctx.error("axis: " + a.status().message() + " (input " + x.type_string() + ")");
    axis = *a;
    outer = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= dims[i];
    n = dims[axis];
    inner = 1;
    for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= dims[i];
  }
  bool sorted = ctx.node().attr_int("sorted", 1) != 0;
  return visit_any(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* data = x.data<T>();
    // Lexicographic comparison of slices i and j, in row-major order of the remaining axes.
    auto compare_slices = [&](int64_t i, int64_t j) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < inner; ++k) {
          int c = compare_elements<T>(data[(o * n + i) * inner + k], data[(o * n + j) * inner + k]);
          if (c != 0) return c;
        }
      return 0;
    };
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    // Stable, so each group of equal slices starts with its first occurrence.
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return compare_slices(a, b) < 0; });
    std::vector<int64_t> first;                       // per unique slice: first occurrence
    std::vector<int64_t> count;                       // per unique slice: occurrences
    std::vector<int64_t> group_of(static_cast<size_t>(n));  // per input slice: its unique slice (sorted order)
    for (size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || compare_slices(order[i - 1], order[i]) != 0) {
        first.push_back(order[i]);
        count.push_back(0);
      }
      group_of[order[i]] = static_cast<int64_t>(first.size()) - 1;
      ++count.back();
    }
    const int64_t u = static_cast<int64_t>(first.size());
    // rank[g] = output position of group g: sorted order, or order of first occurrence.
    std::vector<int64_t> groups(static_cast<size_t>(u)), rank(static_cast<size_t>(u));
    std::iota(groups.begin(), groups.end(), 0);
    if (!sorted) std::sort(groups.begin(), groups.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
    for (int64_t p = 0; p < u; ++p) rank[groups[p]] = p;

    Dims y_dims = axis < 0 ? Dims{u} : dims;
    if (axis >= 0) y_dims[axis] = u;
    Tensor& y = ctx.allocate_output(0, x.dtype(), y_dims);
    T* out = y.data<T>();
    for (int64_t p = 0; p < u; ++p) {
      int64_t src = first[groups[p]];
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < inner; ++k) out[(o * u + p) * inner + k] = data[(o * n + src) * inner + k];
    }
    if (ctx.has_output(1)) {
      int64_t* ind = ctx.allocate_output(1, DataType::kI64, {u}).data<int64_t>();
      for (int64_t p = 0; p < u; ++p) ind[p] = first[groups[p]];
    }
    if (ctx.has_output(2)) {
      int64_t* inv = ctx.allocate_output(2, DataType::kI64, {n}).data<int64_t>();
      for (int64_t i = 0; i < n; ++i) inv[i] = rank[group_of[i]];
    }
    if (ctx.has_output(3)) {
      int64_t* cnt = ctx.allocate_output(3, DataType::kI64, {u}).data<int64_t>();
      for (int64_t p = 0; p < u; ++p) cnt[p] = count[groups[p]];
    }
    return {};
  });
}

// ---------------------------------------------------------------------------------------------------------
// NonMaxSuppression

struct Box {
  double x_min, y_min, x_max, y_max;
};

/// Box `i` of one batch in corner form; center_point_box 0 is [y1, x1, y2, x2] (either corner order),
/// 1 is [x_center, y_center, width, height].
Box read_box(const double* b, bool center_point_box) {
  if (center_point_box) {
    double half_w = b[2] / 2, half_h = b[3] / 2;
    return {b[0] - half_w, b[1] - half_h, b[0] + half_w, b[1] + half_h};
  }
  return {std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]), std::max(b[0], b[2])};
}

/// True when the boxes overlap with IOU > threshold (degenerate boxes never suppress).
bool suppresses(const Box& a, const Box& b, double iou_threshold) {
  double ix_min = std::max(a.x_min, b.x_min), ix_max = std::min(a.x_max, b.x_max);
  double iy_min = std::max(a.y_min, b.y_min), iy_max = std::min(a.y_max, b.y_max);
  if (ix_max <= ix_min || iy_max <= iy_min) return false;
  double inter = (ix_max - ix_min) * (iy_max - iy_min);
  double area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min);
  double area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  double uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

Status non_max_suppression(KernelContext& ctx) {
  const Tensor& boxes = ctx.input(0);
  const Tensor& scores = ctx.input(1);
  if (!is_float(boxes.dtype()))
    return ctx.error("boxes must be a float tensor, got " + boxes.type_string());
  if (!is_float(scores.dtype())) return ctx.error("scores must be a float tensor, got " + scores.type_string());
  if (boxes.rank() != 3 || boxes.dim(2) != 4)
    return ctx.error("boxes must have shape [batch, boxes, 4], got " + boxes.type_string());
  if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1))
    return ctx.error("scores must have shape [" + std::to_string(boxes.dim(0)) + ", classes, " +
                     std::to_string(boxes.dim(1)) + "] for boxes " + boxes.type_string() + ", got " +
                     scores.type_string());
  int64_t max_per_class = 0;  // an omitted max_output_boxes_per_class selects nothing
  if (ctx.has_input(2) && ctx.input(2).size() > 0) {
    KILN_ASSIGN_OR_RETURN(max_per_class, read_scalar_int(ctx, 2, "max_output_boxes_per_class"));
    max_per_class = std::max<int64_t>(max_per_class, 0);
  }
  double iou_threshold = 0.0;
  if (ctx.has_input(3) && ctx.input(3).size() > 0) {
    KILN_ASSIGN_OR_RETURN(iou_threshold, read_scalar_float(ctx, 3, "iou_threshold"));
    if (!(iou_threshold >= 0.0 && iou_threshold <= 1.0))
      return ctx.error("iou_threshold must be in [0, 1], got " + std::to_string(iou_threshold));
  }
  std::optional<double> score_threshold;
  if (ctx.has_input(4) && ctx.input(4).size() > 0) {
    KILN_ASSIGN_OR_RETURN(score_threshold, read_scalar_float(ctx, 4, "score_threshold"));
  }
  bool center = ctx.node().attr_int("center_point_box", 0) != 0;

  const int64_t batches = boxes.dim(0), n_boxes = boxes.dim(1), classes = scores.dim(1);
  std::vector<double> b = boxes.to_double_vector(), s = scores.to_double_vector();
  std::vector<int64_t> selected;  // (batch, class, box) triples
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t c = 0; c < classes; ++c) {
      const double* sc = s.data() + (bi * classes + c) * n_boxes;
      std::vector<int64_t> candidates;
      for (int64_t i = 0; i < n_boxes; ++i)
        if (!std::isnan(sc[i]) && (!score_threshold || sc[i] > *score_threshold)) candidates.push_back(i);
      // Highest score first; equal scores keep the lower box index first. (NaN scores were dropped: unrankable.)
      std::stable_sort(candidates.begin(), candidates.end(), [&](int64_t i, int64_t j) { return sc[i] > sc[j]; });
      std::vector<Box> kept;
      for (int64_t i : candidates) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        Box box = read_box(b.data() + (bi * n_boxes + i) * 4, center);
        bool suppressed = false;
        for (const Box& k : kept) suppressed = suppressed || suppresses(k, box, iou_threshold);
        if (suppressed) continue;
        kept.push_back(box);
        selected.insert(selected.end(), {bi, c, i});
      }
    }
  }
  Tensor& out = ctx.allocate_output(0, DataType::kI64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), out.data<int64_t>());
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"NegativeLogLikelihoodLoss", "", negative_log_likelihood_loss},
    {"SoftmaxCrossEntropyLoss", "", softmax_cross_entropy_loss},
    {"Unique", "", unique},
    {"NonMaxSuppression", "", non_max_suppression},
    {"HannWindow", "", hann_window},
    {"HammingWindow", "", hamming_window},
    {"BlackmanWindow", "", blackman_window},
    {"DFT", "", dft},
    {"STFT", "", stft},
    {"MelWeightMatrix", "", mel_weight_matrix},
};
}  // namespace

std::span<const KernelEntry> extra_kernels() { return kKernels; }

}  // namespace kiln::ref
