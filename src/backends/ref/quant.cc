// Reference kernels of the quant family (see ref_kernel_families.inc): linear (de)quantization and the
// integer matmul/conv ops. The recurrent ops RNN/GRU/LSTM live in quant_rnn.cc.
//
// Integer ops follow onnxruntime exactly: products (x - x_zp) * (w - w_zp) are summed in int32, and a
// quantized output is round_half_even(float(acc) * (x_scale * w_scale / y_scale)) + y_zp, saturated.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/ref/broadcast.h"
#include "backends/ref/kernel.h"
#include "backends/ref/quant_rnn.h"
#include "ir/ops/conv_geometry.h"

namespace kiln::ref {

namespace {

struct QRange {
  int64_t lo, hi;
};

Result<QRange> quant_range(DataType t) {
  switch (t) {
    case DataType::kU8: return QRange{0, 255};
    case DataType::kI8: return QRange{-128, 127};
    case DataType::kU16: return QRange{0, 65535};
    case DataType::kI16: return QRange{-32768, 32767};
    default:
      return Status::unsupported(
          fmt::format("quantized dtype {} is not supported (expected u8, i8, u16 or i16)", dtype_name(t)));
  }
}

// Rounds half to even (the default FP rounding mode), adds the zero point and saturates. NaN maps to zp.
int64_t round_saturate(float v, int64_t zp, QRange r) {
  if (std::isnan(v)) return std::clamp(zp, r.lo, r.hi);
  double q = static_cast<double>(std::nearbyint(v)) + static_cast<double>(zp);
  q = std::clamp(q, static_cast<double>(r.lo), static_cast<double>(r.hi));
  return static_cast<int64_t>(q);
}

void store_int(Tensor& t, int64_t i, int64_t v) {
  switch (t.dtype()) {
    case DataType::kU8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DataType::kI8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DataType::kU16: t.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
    case DataType::kI16: t.data<int16_t>()[i] = static_cast<int16_t>(v); break;
    case DataType::kI32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    default: break;
  }
}

float float_at(const Tensor& t, int64_t i) { return static_cast<float>(t.element_as_double(i)); }

// ---------------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear: which scale/zero-point element applies to element i of x.

struct ParamIndex {
  enum Mode { kPerTensor, kPerAxis, kBlocked } mode = kPerTensor;
  int64_t axis_dim = 1, inner = 1, block = 1, scale_axis_dim = 1;

  int64_t operator()(int64_t i) const {
    if (mode == kPerTensor) return 0;
    int64_t r = i % inner;
    int64_t a = (i / inner) % axis_dim;
    if (mode == kPerAxis) return a;
    int64_t o = i / (inner * axis_dim);
    return (o * scale_axis_dim + a / block) * inner + r;
  }
};

Result<ParamIndex> make_param_index(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp) {
  if (zp && zp->dims() != scale.dims() && !(zp->size() == 1 && scale.size() == 1))
    return ctx.error(fmt::format("the zero point's shape {} differs from the scale's {}", zp->type_string(),
                                 scale.type_string()));
  int64_t block = ctx.node().attr_int("block_size", 0);
  if (block < 0) return ctx.error(fmt::format("block_size must be >= 0, got {}", block));
  ParamIndex p;
  if (block == 0 && scale.size() == 1 && scale.rank() <= 1) return p;
  if (block == 0 && scale.rank() != 1)
    return ctx.error(fmt::format("the scale must be a scalar or 1-D (per axis) without block_size, got {}",
                                 scale.type_string()));
  Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", 1), x.rank());
  if (!axis.ok()) return ctx.error(axis.status().message());
  p.axis_dim = x.dim(*axis);
  for (int64_t d = *axis + 1; d < x.rank(); ++d) p.inner *= x.dim(d);
  if (block == 0) {
    if (scale.dim(0) != p.axis_dim)
      return ctx.error(fmt::format("per-axis scale has {} elements, expected x's extent {} on axis {} (x is {})",
                                   scale.dim(0), p.axis_dim, *axis, x.type_string()));
    p.mode = ParamIndex::kPerAxis;
    return p;
  }
  if (scale.rank() != x.rank())
    return ctx.error(fmt::format("blocked scale must have x's rank: scale is {}, x is {}", scale.type_string(),
                                 x.type_string()));
  for (int64_t d = 0; d < x.rank(); ++d) {
    int64_t want = d == *axis ? (x.dim(d) + block - 1) / block : x.dim(d);
    if (scale.dim(d) != want)
      return ctx.error(fmt::format("blocked scale {} does not fit x {} with block_size {} on axis {}",
                                   scale.type_string(), x.type_string(), block, *axis));
  }
  p.mode = ParamIndex::kBlocked;
  p.block = block;
  p.scale_axis_dim = scale.dim(*axis);
  return p;
}

Status quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (!is_float(x.dtype()) && x.dtype() != DataType::kI32)
    return ctx.error(fmt::format("x must be a float or int32 tensor, got {}", x.type_string()));
  if (!is_float(scale.dtype()))
    return ctx.error(fmt::format("y_scale must be a float tensor, got {}", scale.type_string()));
  DataType out_t = DataType::kU8;
  int64_t output_dtype = ctx.node().attr_int("output_dtype", 0);
  if (zp) out_t = zp->dtype();
  else if (output_dtype != 0) out_t = static_cast<DataType>(output_dtype);
  KILN_ASSIGN_OR_RETURN(QRange range, quant_range(out_t));
  KILN_ASSIGN_OR_RETURN(ParamIndex pi, make_param_index(ctx, x, scale, zp));
  Tensor& y = ctx.allocate_output(0, out_t, x.dims());
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t p = pi(i);
    float xv = float_at(x, i);
    int64_t z = zp ? zp->element_as_int64(p) : 0;
    store_int(y, i, round_saturate(xv / float_at(scale, p), z, range));  // divide, as onnxruntime does
  }
  return {};
}

Status dequantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (!is_integer(x.dtype()) || dtype_size(x.dtype()) > 4)
    return ctx.error(fmt::format("x must be an 8/16/32-bit integer tensor, got {}", x.type_string()));
  if (zp && zp->dtype() != x.dtype())
    return ctx.error(fmt::format("x_zero_point is {}, expected x's dtype {}", zp->type_string(), dtype_name(x.dtype())));
  KILN_ASSIGN_OR_RETURN(ParamIndex pi, make_param_index(ctx, x, scale, zp));
  Tensor& y = ctx.allocate_output(0, scale.dtype(), x.dims());
  return visit_float(scale.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    T* out = y.data<T>();
    for (int64_t i = 0; i < x.size(); ++i) {
      int64_t p = pi(i);
      int64_t diff = x.element_as_int64(i) - (zp ? zp->element_as_int64(p) : 0);
      C s = static_cast<C>(scale.data<T>()[p]);
      out[i] = static_cast<T>(static_cast<C>(diff) * s);
    }
    return {};
  });
}

// y_scale = (max(0, max x) - min(0, min x)) / 255; zp = round(-min / scale), as onnxruntime (scale 1 when the
// range is empty).
Status dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DataType::kF32) return ctx.error(fmt::format("x must be f32, got {}", x.type_string()));
  const float* in = x.data<float>();
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < x.size(); ++i) {
    if (std::isnan(in[i])) continue;
    lo = std::min(lo, in[i]);
    hi = std::max(hi, in[i]);
  }
  const QRange range{0, 255};
  float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float initial_zp = 0.0f - lo / scale;
  int64_t zp = static_cast<int64_t>(std::nearbyint(std::clamp(initial_zp, 0.0f, 255.0f)));
  Tensor& y = ctx.allocate_output(0, DataType::kU8, x.dims());
  for (int64_t i = 0; i < x.size(); ++i) y.data<uint8_t>()[i] = static_cast<uint8_t>(round_saturate(in[i] / scale, zp, range));
  ctx.allocate_output(1, DataType::kF32, {}).data<float>()[0] = scale;
  ctx.allocate_output(2, DataType::kU8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
  return {};
}

// ---------------------------------------------------------------------------------------------------
// Integer matmul.

struct MatMulPlan {
  int64_t M = 1, K = 1, N = 1;
  Dims a_batch, b_batch, out;
  std::vector<int64_t> a_index, b_index;  // per output batch: the batch index into a and into b
};

Result<MatMulPlan> plan_matmul(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (a.rank() < 1 || b.rank() < 1)
    return ctx.error(fmt::format("matmul inputs must have rank >= 1, got {} and {}", a.type_string(), b.type_string()));
  MatMulPlan p;
  p.K = a.dim(a.rank() - 1);
  int64_t kb = b.rank() == 1 ? b.dim(0) : b.dim(b.rank() - 2);
  if (p.K != kb)
    return ctx.error(fmt::format("matmul inner dimensions differ: a is {}, b is {}", a.type_string(), b.type_string()));
  if (a.rank() >= 2) p.M = a.dim(a.rank() - 2);
  if (b.rank() >= 2) p.N = b.dim(b.rank() - 1);
  if (a.rank() > 2) p.a_batch.assign(a.dims().begin(), a.dims().end() - 2);
  if (b.rank() > 2) p.b_batch.assign(b.dims().begin(), b.dims().end() - 2);
  Result<Dims> batch = broadcast_dims(p.a_batch, p.b_batch);
  if (!batch.ok()) return ctx.error("matmul batch dimensions: " + batch.status().message());
  p.out = *batch;
  if (a.rank() >= 2) p.out.push_back(p.M);
  if (b.rank() >= 2) p.out.push_back(p.N);
  int64_t count = element_count(*batch);
  BroadcastWalker w(*batch, {p.a_batch, p.b_batch});
  for (int64_t i = 0; i < count; ++i, w.next()) {
    p.a_index.push_back(w.offset(0));
    p.b_index.push_back(w.offset(1));
  }
  return p;
}

// For a parameter (scale or zero point) that is per tensor, or per row of a / per column of b: its element
// index for each (batch index, row-or-column). `target` is the matrix batch + [M, 1] (a) or + [1, N] (b).
Result<std::vector<int64_t>> param_table(const KernelContext& ctx, const Tensor& p, Dims target, bool per_row,
                                         const char* name) {
  int64_t count = element_count(target);
  if (p.size() == 1) return std::vector<int64_t>(static_cast<size_t>(count), 0);
  Dims pd = p.dims();
  if (per_row && pd.size() == 1) pd = {pd[0], 1};  // an M-vector is per row
  bool ok = pd.size() <= target.size();
  for (size_t i = 0; ok && i < pd.size(); ++i) {
    int64_t t = target[target.size() - pd.size() + i];
    ok = pd[i] == 1 || pd[i] == t;
  }
  if (!ok)
    return ctx.error(fmt::format("{} {} must be a scalar or per {} (broadcastable to {})", name, p.type_string(),
                                 per_row ? "row" : "column", dims_to_string(target)));
  std::vector<int64_t> table;
  BroadcastWalker w(target, {pd});
  for (int64_t i = 0; i < count; ++i, w.next()) table.push_back(w.offset(0));
  return table;
}

Dims row_target(const MatMulPlan& p) {
  Dims t = p.a_batch;
  t.push_back(p.M);
  t.push_back(1);
  return t;
}
Dims col_target(const MatMulPlan& p) {
  Dims t = p.b_batch;
  t.push_back(1);
  t.push_back(p.N);
  return t;
}

// acc[i] for each output element: sum over k of (a - a_zp) * (b - b_zp), wrapping like int32.
std::vector<int32_t> integer_matmul(const MatMulPlan& p, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                    const Tensor* a_zp, const std::vector<int64_t>& a_zp_idx, const Tensor* b_zp,
                                    const std::vector<int64_t>& b_zp_idx) {
  std::vector<int32_t> acc;
  acc.reserve(p.a_index.size() * p.M * p.N);
  for (size_t bi = 0; bi < p.a_index.size(); ++bi) {
    int64_t ai = p.a_index[bi], bj = p.b_index[bi];
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = 0; n < p.N; ++n) {
        int64_t za = a_zp ? a_zp->element_as_int64(a_zp_idx[ai * p.M + m]) : 0;
        int64_t zb = b_zp ? b_zp->element_as_int64(b_zp_idx[bj * p.N + n]) : 0;
        uint32_t sum = 0;  // unsigned: int32 wrap-around without undefined behaviour
        for (int64_t k = 0; k < p.K; ++k) {
          int64_t av = a[(ai * p.M + m) * p.K + k] - za;
          int64_t bv = b[(bj * p.K + k) * p.N + n] - zb;
          sum += static_cast<uint32_t>(av * bv);
        }
        acc.push_back(static_cast<int32_t>(sum));
      }
  }
  return acc;
}

Status check_zp(const KernelContext& ctx, const Tensor* zp, const Tensor& x, const char* zp_name, const char* x_name) {
  if (zp && zp->dtype() != x.dtype())
    return ctx.error(fmt::format("{} is {}, expected {}'s dtype {}", zp_name, zp->type_string(), x_name,
                                 dtype_name(x.dtype())));
  return {};
}

Status check_8bit(const KernelContext& ctx, const Tensor& t, const char* name) {
  if (!is_8bit_integer(t.dtype())) return ctx.error(fmt::format("{} must be u8 or i8, got {}", name, t.type_string()));
  return {};
}

Status check_scale(const KernelContext& ctx, const Tensor& t, const char* name) {
  if (!is_float(t.dtype())) return ctx.error(fmt::format("{} must be a float tensor, got {}", name, t.type_string()));
  return {};
}

Status check_per_tensor(const KernelContext& ctx, const Tensor& t, const char* name) {
  if (t.size() != 1 || t.rank() > 1)
    return ctx.error(fmt::format("{} must be a scalar (per tensor), got {}", name, t.type_string()));
  return {};
}

Status matmul_integer(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* a_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const Tensor* b_zp = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  KILN_RETURN_IF_ERROR(check_8bit(ctx, a, "A"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, b, "B"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, a_zp, a, "a_zero_point", "A"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, b_zp, b, "b_zero_point", "B"));
  KILN_ASSIGN_OR_RETURN(MatMulPlan p, plan_matmul(ctx, a, b));
  std::vector<int64_t> a_idx, b_idx;
  if (a_zp) {
    KILN_ASSIGN_OR_RETURN(a_idx, param_table(ctx, *a_zp, row_target(p), true, "a_zero_point"));
  }
  if (b_zp) {
    KILN_ASSIGN_OR_RETURN(b_idx, param_table(ctx, *b_zp, col_target(p), false, "b_zero_point"));
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> av, a.to_int64_vector());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bv, b.to_int64_vector());
  std::vector<int32_t> acc = integer_matmul(p, av, bv, a_zp, a_idx, b_zp, b_idx);
  Tensor& y = ctx.allocate_output(0, DataType::kI32, p.out);
  std::copy(acc.begin(), acc.end(), y.data<int32_t>());
  return {};
}

// Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
Status qlinear_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& a_scale = ctx.input(1);
  const Tensor& a_zp = ctx.input(2);
  const Tensor& b = ctx.input(3);
  const Tensor& b_scale = ctx.input(4);
  const Tensor& b_zp = ctx.input(5);
  const Tensor& y_scale = ctx.input(6);
  const Tensor& y_zp = ctx.input(7);
  KILN_RETURN_IF_ERROR(check_8bit(ctx, a, "a"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, b, "b"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, y_zp, "y_zero_point"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, &a_zp, a, "a_zero_point", "a"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, &b_zp, b, "b_zero_point", "b"));
  for (const auto& [t, name] : {std::pair{&a_scale, "a_scale"}, std::pair{&b_scale, "b_scale"}, std::pair{&y_scale, "y_scale"}})
    KILN_RETURN_IF_ERROR(check_scale(ctx, *t, name));
  KILN_RETURN_IF_ERROR(check_per_tensor(ctx, y_scale, "y_scale"));
  KILN_RETURN_IF_ERROR(check_per_tensor(ctx, y_zp, "y_zero_point"));
  KILN_ASSIGN_OR_RETURN(MatMulPlan p, plan_matmul(ctx, a, b));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> as_idx, param_table(ctx, a_scale, row_target(p), true, "a_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> az_idx, param_table(ctx, a_zp, row_target(p), true, "a_zero_point"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bs_idx, param_table(ctx, b_scale, col_target(p), false, "b_scale"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bz_idx, param_table(ctx, b_zp, col_target(p), false, "b_zero_point"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> av, a.to_int64_vector());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bv, b.to_int64_vector());
  std::vector<int32_t> acc = integer_matmul(p, av, bv, &a_zp, az_idx, &b_zp, bz_idx);
  KILN_ASSIGN_OR_RETURN(QRange range, quant_range(y_zp.dtype()));
  Tensor& y = ctx.allocate_output(0, y_zp.dtype(), p.out);
  const float ys = float_at(y_scale, 0);
  const int64_t yz = y_zp.element_as_int64(0);
  int64_t i = 0;
  for (size_t bi = 0; bi < p.a_index.size(); ++bi)
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = 0; n < p.N; ++n, ++i) {
        float multiplier = float_at(a_scale, as_idx[p.a_index[bi] * p.M + m]) *
                           float_at(b_scale, bs_idx[p.b_index[bi] * p.N + n]) / ys;
        store_int(y, i, round_saturate(static_cast<float>(acc[i]) * multiplier, yz, range));
      }
  return {};
}

// ---------------------------------------------------------------------------------------------------
// Integer convolution.

struct ConvResult {
  Dims out;                 // [N, M, spatial...]
  std::vector<int32_t> acc;  // row-major over `out`
};

// Advances a multi-index over `extent` (row-major); false after the last one.
bool next_index(std::vector<int64_t>& idx, const Dims& extent) {
  for (size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < extent[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Sums (x - x_zp) * (w - w_zp[m]) over each window; padding contributes zero (it holds x_zp).
Result<ConvResult> integer_conv(const KernelContext& ctx, const Tensor& x, const Tensor& w, int64_t x_zp,
                                const Tensor* w_zp) {
  if (x.rank() < 3) return ctx.error(fmt::format("x must have rank >= 3 (N, C, spatial...), got {}", x.type_string()));
  if (w.rank() != x.rank())
    return ctx.error(fmt::format("w must have x's rank {}, got {}", x.rank(), w.type_string()));
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0);
  const int64_t group = ctx.node().attr_int("group", 1);
  if (group < 1 || C % group != 0 || M % group != 0 || w.dim(1) != C / group)
    return ctx.error(fmt::format("group {} does not fit x {} and w {} (need C % group == 0, M % group == 0, "
                                 "w.dim(1) == C / group)", group, x.type_string(), w.type_string()));
  if (w_zp && w_zp->size() != 1 && !(w_zp->rank() == 1 && w_zp->dim(0) == M))
    return ctx.error(fmt::format("w_zero_point must be a scalar or have M = {} elements, got {}", M, w_zp->type_string()));
  const size_t n = static_cast<size_t>(x.rank() - 2);
  Dims in_sp(x.dims().begin() + 2, x.dims().end());
  Dims k_sp(w.dims().begin() + 2, w.dims().end());
  Result<WindowAttrs> attrs = read_window_attrs(ctx.node(), n, k_sp, false);
  if (!attrs.ok()) return ctx.error(attrs.status().message());
  Result<WindowGeometry> geo = window_geometry(*attrs, in_sp);
  if (!geo.ok()) return ctx.error(geo.status().message());
  ConvResult r;
  r.out = {N, M};
  r.out.insert(r.out.end(), geo->out.begin(), geo->out.end());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> xv, x.to_int64_vector());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> wv, w.to_int64_vector());
  const std::vector<int64_t> x_strides = row_major_strides(x.dims());
  const std::vector<int64_t> w_strides = row_major_strides(w.dims());
  const int64_t cg = C / group, mg = M / group;
  r.acc.reserve(static_cast<size_t>(element_count(r.out)));
  const bool empty_out = element_count(geo->out) == 0 || element_count(k_sp) == 0;
  if (empty_out) return r;
  for (int64_t b = 0; b < N; ++b)
    for (int64_t m = 0; m < M; ++m) {
      const int64_t g = m / mg;
      const int64_t wz = w_zp ? w_zp->element_as_int64(w_zp->size() == 1 ? 0 : m) : 0;
      std::vector<int64_t> o(n, 0);
      std::vector<int64_t> k(n, 0);  // reused: allocating per window made this loop allocation-bound
      do {
        uint32_t sum = 0;  // int32 wrap-around without undefined behaviour
        for (int64_t c = 0; c < cg; ++c) {
          std::fill(k.begin(), k.end(), 0);
          do {
            int64_t x_off = b * x_strides[0] + (g * cg + c) * x_strides[1];
            bool inside = true;
            for (size_t d = 0; d < n && inside; ++d) {
              int64_t pos = o[d] * attrs->strides[d] - geo->pads[d] + k[d] * attrs->dilations[d];
              inside = pos >= 0 && pos < in_sp[d];
              x_off += pos * x_strides[d + 2];
            }
            if (!inside) continue;
            int64_t w_off = m * w_strides[0] + c * w_strides[1];
            for (size_t d = 0; d < n; ++d) w_off += k[d] * w_strides[d + 2];
            sum += static_cast<uint32_t>((xv[x_off] - x_zp) * (wv[w_off] - wz));
          } while (next_index(k, k_sp));
        }
        r.acc.push_back(static_cast<int32_t>(sum));
      } while (next_index(o, geo->out));
    }
  return r;
}

Status conv_integer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* x_zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const Tensor* w_zp = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  KILN_RETURN_IF_ERROR(check_8bit(ctx, x, "x"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, w, "w"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, x_zp, x, "x_zero_point", "x"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, w_zp, w, "w_zero_point", "w"));
  if (x_zp) KILN_RETURN_IF_ERROR(check_per_tensor(ctx, *x_zp, "x_zero_point"));
  KILN_ASSIGN_OR_RETURN(ConvResult r, integer_conv(ctx, x, w, x_zp ? x_zp->element_as_int64(0) : 0, w_zp));
  Tensor& y = ctx.allocate_output(0, DataType::kI32, r.out);
  std::copy(r.acc.begin(), r.acc.end(), y.data<int32_t>());
  return {};
}

// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32, optional).
Status qlinear_conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& x_scale = ctx.input(1);
  const Tensor& x_zp = ctx.input(2);
  const Tensor& w = ctx.input(3);
  const Tensor& w_scale = ctx.input(4);
  const Tensor& w_zp = ctx.input(5);
  const Tensor& y_scale = ctx.input(6);
  const Tensor& y_zp = ctx.input(7);
  const Tensor* bias = ctx.has_input(8) ? &ctx.input(8) : nullptr;
  KILN_RETURN_IF_ERROR(check_8bit(ctx, x, "x"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, w, "w"));
  KILN_RETURN_IF_ERROR(check_8bit(ctx, y_zp, "y_zero_point"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, &x_zp, x, "x_zero_point", "x"));
  KILN_RETURN_IF_ERROR(check_zp(ctx, &w_zp, w, "w_zero_point", "w"));
  for (const auto& [t, name] : {std::pair{&x_scale, "x_scale"}, std::pair{&w_scale, "w_scale"}, std::pair{&y_scale, "y_scale"}})
    KILN_RETURN_IF_ERROR(check_scale(ctx, *t, name));
  for (const auto& [t, name] : {std::pair{&x_scale, "x_scale"}, std::pair{&x_zp, "x_zero_point"},
                                std::pair{&y_scale, "y_scale"}, std::pair{&y_zp, "y_zero_point"}})
    KILN_RETURN_IF_ERROR(check_per_tensor(ctx, *t, name));
  if (w.rank() < 1) return ctx.error(fmt::format("w must have rank >= 3, got {}", w.type_string()));
  const int64_t M = w.dim(0);
  if (w_scale.size() != 1 && !(w_scale.rank() == 1 && w_scale.dim(0) == M))
    return ctx.error(fmt::format("w_scale must be a scalar or have M = {} elements, got {}", M, w_scale.type_string()));
  if (bias && (bias->dtype() != DataType::kI32 || bias->rank() != 1 || bias->dim(0) != M))
    return ctx.error(fmt::format("B must be i32[{}], got {}", M, bias->type_string()));
  KILN_ASSIGN_OR_RETURN(ConvResult r, integer_conv(ctx, x, w, x_zp.element_as_int64(0), &w_zp));
  KILN_ASSIGN_OR_RETURN(QRange range, quant_range(y_zp.dtype()));
  Tensor& y = ctx.allocate_output(0, y_zp.dtype(), r.out);
  const int64_t spatial = element_count(Dims(r.out.begin() + 2, r.out.end()));
  const float xs = float_at(x_scale, 0), ys = float_at(y_scale, 0);
  const int64_t yz = y_zp.element_as_int64(0);
  for (int64_t i = 0; i < static_cast<int64_t>(r.acc.size()); ++i) {
    const int64_t m = (i / spatial) % M;
    const float multiplier = xs * float_at(w_scale, w_scale.size() == 1 ? 0 : m) / ys;
    uint32_t acc = static_cast<uint32_t>(r.acc[i]);
    if (bias) acc += static_cast<uint32_t>(bias->data<int32_t>()[m]);
    store_int(y, i, round_saturate(static_cast<float>(static_cast<int32_t>(acc)) * multiplier, yz, range));
  }
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"QuantizeLinear", "", quantize_linear},
    {"DequantizeLinear", "", dequantize_linear},
    {"DynamicQuantizeLinear", "", dynamic_quantize_linear},
    {"MatMulInteger", "", matmul_integer},
    {"QLinearMatMul", "", qlinear_matmul},
    {"ConvInteger", "", conv_integer},
    {"QLinearConv", "", qlinear_conv},
    {"RNN", "", rnn_kernel},
    {"GRU", "", gru_kernel},
    {"LSTM", "", lstm_kernel},
};
}  // namespace

std::span<const KernelEntry> quant_kernels() { return kKernels; }

}  // namespace kiln::ref
