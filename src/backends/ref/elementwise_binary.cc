// Reference kernels of the elementwise family: broadcasting binary ops (arithmetic, Pow, Mod, BitShift,
// comparisons, logic, PRelu), the variadic Max/Min/Sum/Mean, and Where.
//
// Integer arithmetic wraps modulo 2^bits (computed in the unsigned type, so never UB); integer Div
// truncates toward zero like C (as ONNX Runtime does); division or Mod by zero is an error for integers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "backends/ref/elementwise_util.h"

namespace kiln::ref {

namespace {

// The broadcast geometry of a binary op: each input's dims as seen by BroadcastWalker, and the output dims.
struct BinaryDims {
  Dims a, b, out;
};

// Numpy-style broadcasting from opset 7; before that, B broadcasts onto A only with broadcast=1, its axes
// aligned at `axis` (default: the trailing axes).
Result<BinaryDims> binary_dims(KernelContext& ctx) {
  BinaryDims d{ctx.input(0).dims(), ctx.input(1).dims(), {}};
  if (ctx.opset() >= 7) {
    Result<Dims> out = broadcast_dims(d.a, d.b);
    if (!out.ok()) return ctx.error(out.status().message());
    d.out = *out;
    return d;
  }
  d.out = d.a;
  if (ctx.node().attr_int("broadcast", 0) == 0) {
    if (d.a != d.b)
      return ctx.error(fmt::format("inputs {} and {} differ and broadcast=0 (opset {})", dims_to_string(d.a),
                                   dims_to_string(d.b), ctx.opset()));
    return d;
  }
  int64_t ra = static_cast<int64_t>(d.a.size()), rb = static_cast<int64_t>(d.b.size());
  int64_t axis = ctx.node().has_attr("axis") ? ctx.node().attr_int("axis") : ra - rb;
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    return ctx.error(fmt::format("cannot broadcast {} onto {} at axis {}", dims_to_string(d.b), dims_to_string(d.a),
                                 ctx.node().attr_int("axis")));
  Dims padded(static_cast<size_t>(axis + rb), 1);
  for (int64_t i = 0; i < rb; ++i) padded[static_cast<size_t>(axis + i)] = d.b[static_cast<size_t>(i)];
  padded.resize(static_cast<size_t>(ra), 1);
  for (int64_t i = 0; i < ra; ++i)
    if (padded[i] != 1 && padded[i] != d.a[i])
      return ctx.error(fmt::format("cannot broadcast {} onto {} at axis {}", dims_to_string(d.b),
                                   dims_to_string(d.a), axis));
  d.b = padded;
  return d;
}

// out[i] = f(a[.], b[.]) over the broadcast output.
template <typename A, typename B, typename O, typename F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, const BinaryDims& d, F f) {
  BroadcastWalker w(d.out, {d.a, d.b});
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  O* po = out.data<O>();
  for (int64_t i = 0; i < out.size(); ++i, w.next()) po[i] = f(pa[w.offset(0)], pb[w.offset(1)]);
}

template <typename T>
bool has_zero(const Tensor& t) {
  for (int64_t i = 0; i < t.size(); ++i)
    if (t.data<T>()[i] == T(0)) return true;
  return false;
}

// ---- Add, Sub, Mul, Div ----

enum class Arith { kAdd, kSub, kMul, kDiv };

template <typename T>
T int_arith(Arith op, T x, T y) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case Arith::kAdd: return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
    case Arith::kSub: return static_cast<T>(static_cast<U>(x) - static_cast<U>(y));
    case Arith::kMul:
      // Promote narrow types to unsigned int so the multiply cannot overflow a signed int.
      return static_cast<T>(static_cast<U>(static_cast<std::common_type_t<U, unsigned>>(static_cast<U>(x)) *
                                           static_cast<std::common_type_t<U, unsigned>>(static_cast<U>(y))));
    case Arith::kDiv:
      if constexpr (std::is_signed_v<T>) {
        if (x == std::numeric_limits<T>::min() && y == T(-1)) return x;  // wraps
      }
      return static_cast<T>(x / y);
  }
  return T(0);
}

template <typename C>
C float_arith(Arith op, C x, C y) {
  switch (op) {
    case Arith::kAdd: return x + y;
    case Arith::kSub: return x - y;
    case Arith::kMul: return x * y;
    case Arith::kDiv: return x / y;
  }
  return C(0);
}

Status arith(KernelContext& ctx, Arith op) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return named(ctx, visit_numeric(a.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 if constexpr (std::is_integral_v<T>) {
                   if (op == Arith::kDiv && has_zero<T>(b)) return Status::invalid_argument("integer division by zero");
                 }
                 Tensor& y = ctx.allocate_output(0, a.dtype(), d.out);
                 broadcast_apply<T, T, T>(a, b, y, d, [op](T x, T z) -> T {
                   if constexpr (std::is_integral_v<T>) {
                     return int_arith(op, x, z);
                   } else {
                     using C = compute_type_t<T>;
                     return static_cast<T>(float_arith<C>(op, static_cast<C>(x), static_cast<C>(z)));
                   }
                 });
                 return {};
               }));
}

Status add(KernelContext& ctx) { return arith(ctx, Arith::kAdd); }
Status sub(KernelContext& ctx) { return arith(ctx, Arith::kSub); }
Status mul(KernelContext& ctx) { return arith(ctx, Arith::kMul); }
Status div(KernelContext& ctx) { return arith(ctx, Arith::kDiv); }

// ---- Pow ----

// Exact integer power by squaring, wrapping on overflow. Negative exponents give 1/x^n truncated.
template <typename T, typename E>
T int_pow(T x, E n) {
  if constexpr (std::is_signed_v<E>) {
    if (n < 0) {
      if (x == T(1)) return T(1);
      if constexpr (std::is_signed_v<T>) {
        if (x == T(-1)) return (n % 2 == 0) ? T(1) : T(-1);
      }
      return T(0);  // |x| >= 2 (or 0, where ONNX Runtime and numpy also give 0 or an error)
    }
  }
  using U = std::make_unsigned_t<T>;
  using W = std::common_type_t<U, unsigned>;
  W result = 1, base = static_cast<U>(x);
  uint64_t e = static_cast<uint64_t>(n);
  while (e) {
    if (e & 1u) result = static_cast<U>(result * base);
    base = static_cast<U>(base * base);
    e >>= 1;
  }
  return static_cast<T>(static_cast<U>(result));
}

// Integer powers are exact; anything with a float computes in double and rounds (or truncates) once.
template <typename T, typename E>
T pow_value(T x, E n) {
  if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
    return int_pow(x, n);
  } else {
    double xv = static_cast<double>(static_cast<compute_type_t<T>>(x));
    double nv = static_cast<double>(static_cast<compute_type_t<E>>(n));
    return from_double<T>(std::pow(xv, nv));
  }
}

Status pow_kernel(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return named(ctx, visit_numeric(a.dtype(), [&](auto base_tag) -> Status {
                 using T = decltype(base_tag);
                 return visit_numeric(b.dtype(), [&](auto exp_tag) -> Status {
                   using E = decltype(exp_tag);
                   Tensor& y = ctx.allocate_output(0, a.dtype(), d.out);
                   broadcast_apply<T, E, T>(a, b, y, d, [](T x, E n) { return pow_value(x, n); });
                   return {};
                 });
               }));
}

// ---- Mod ----

Status mod(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  const bool use_fmod = ctx.node().attr_int("fmod", 0) != 0;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return named(ctx, visit_numeric(a.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 Tensor& y = ctx.allocate_output(0, a.dtype(), d.out);
                 if constexpr (std::is_integral_v<T>) {
                   if (has_zero<T>(b)) return Status::invalid_argument("integer Mod by zero");
                   broadcast_apply<T, T, T>(a, b, y, d, [use_fmod](T x, T z) -> T {
                     if constexpr (std::is_signed_v<T>) {
                       if (z == T(-1)) return T(0);  // also avoids MIN % -1 overflow
                     }
                     T r = static_cast<T>(x % z);
                     // fmod=0: the result takes the divisor's sign (Python/numpy mod).
                     if (!use_fmod && r != 0 && ((r < 0) != (z < 0))) r = static_cast<T>(r + z);
                     return r;
                   });
                 } else {
                   using C = compute_type_t<T>;
                   broadcast_apply<T, T, T>(a, b, y, d, [use_fmod](T x, T z) -> T {
                     C xv = static_cast<C>(x), zv = static_cast<C>(z);
                     C r = std::fmod(xv, zv);
                     if (!use_fmod && r != C(0) && ((r < C(0)) != (zv < C(0)))) r += zv;
                     return static_cast<T>(r);
                   });
                 }
                 return {};
               }));
}

// ---- BitShift ----

Status bit_shift(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  std::string dir = ctx.node().attr_string("direction");
  if (dir != "LEFT" && dir != "RIGHT")
    return ctx.error("attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
  const bool left = dir == "LEFT";
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return named(ctx, visit_numeric(a.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 if constexpr (!std::is_integral_v<T> || std::is_signed_v<T>) {
                   return Status::unsupported("BitShift needs unsigned integers, got " + a.type_string());
                 } else {
                   Tensor& y = ctx.allocate_output(0, a.dtype(), d.out);
                   broadcast_apply<T, T, T>(a, b, y, d, [left](T x, T n) -> T {
                     using W = std::common_type_t<T, unsigned>;
                     if (n >= sizeof(T) * 8) return T(0);  // shifting out every bit
                     return static_cast<T>(left ? static_cast<W>(x) << n : static_cast<W>(x) >> n);
                   });
                   return {};
                 }
               }));
}

// ---- Comparisons and logic ----

enum class Cmp { kEq, kLt, kLe, kGt, kGe };

Status compare(KernelContext& ctx, Cmp op) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (op != Cmp::kEq && a.dtype() == DataType::kString)
    return ctx.error("ordering comparisons need numeric inputs, got " + a.type_string());
  return named(ctx, visit_any(a.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 Tensor& y = ctx.allocate_output(0, DataType::kBool, d.out);
                 if constexpr (std::is_same_v<T, std::string>) {
                   broadcast_apply<T, T, bool>(a, b, y, d, [](const T& x, const T& z) { return x == z; });
                 } else {
                   using C = compute_type_t<T>;
                   broadcast_apply<T, T, bool>(a, b, y, d, [op](T x, T z) {
                     C xv = static_cast<C>(x), zv = static_cast<C>(z);
                     switch (op) {
                       case Cmp::kEq: return xv == zv;
                       case Cmp::kLt: return xv < zv;
                       case Cmp::kLe: return xv <= zv;
                       case Cmp::kGt: return xv > zv;
                       case Cmp::kGe: return xv >= zv;
                     }
                     return false;
                   });
                 }
                 return {};
               }));
}

Status equal(KernelContext& ctx) { return compare(ctx, Cmp::kEq); }
Status less(KernelContext& ctx) { return compare(ctx, Cmp::kLt); }
Status less_or_equal(KernelContext& ctx) { return compare(ctx, Cmp::kLe); }
Status greater(KernelContext& ctx) { return compare(ctx, Cmp::kGt); }
Status greater_or_equal(KernelContext& ctx) { return compare(ctx, Cmp::kGe); }

enum class Logic { kAnd, kOr, kXor };

Status logic(KernelContext& ctx, Logic op) {
  for (size_t i = 0; i < 2; ++i)
    if (ctx.input(i).dtype() != DataType::kBool)
      return ctx.error(fmt::format("input {} must be bool, got {}", i, ctx.input(i).type_string()));
  KILN_ASSIGN_OR_RETURN(BinaryDims d, binary_dims(ctx));
  Tensor& y = ctx.allocate_output(0, DataType::kBool, d.out);
  broadcast_apply<bool, bool, bool>(ctx.input(0), ctx.input(1), y, d, [op](bool x, bool z) {
    switch (op) {
      case Logic::kAnd: return x && z;
      case Logic::kOr: return x || z;
      case Logic::kXor: return x != z;
    }
    return false;
  });
  return {};
}

Status and_kernel(KernelContext& ctx) { return logic(ctx, Logic::kAnd); }
Status or_kernel(KernelContext& ctx) { return logic(ctx, Logic::kOr); }
Status xor_kernel(KernelContext& ctx) { return logic(ctx, Logic::kXor); }

// ---- PRelu ----

Status prelu(KernelContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  BinaryDims d{x.dims(), slope.dims(), x.dims()};
  // Before opset 7 a 1-D slope held one value per channel (axis 1); models upgraded from those opsets keep
  // it, so apply it per channel where numpy-style broadcasting fails (or always, before opset 7).
  Result<Dims> out = broadcast_dims(x.dims(), d.b);
  bool numpy_ok = out.ok() && *out == x.dims();
  if ((ctx.opset() < 7 || !numpy_ok) && slope.rank() == 1 && x.rank() >= 2 && slope.dim(0) == x.dim(1)) {
    d.b = Dims(static_cast<size_t>(x.rank() - 1), 1);
    d.b[0] = slope.dim(0);
    out = broadcast_dims(x.dims(), d.b);
  }
  if (!out.ok() || *out != x.dims())
    return ctx.error(fmt::format("slope {} does not broadcast to the input {}", slope.type_string(), x.type_string()));
  return named(ctx, visit_numeric(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
                 broadcast_apply<T, T, T>(x, slope, y, d, [](T v, T s) -> T {
                   C cv = static_cast<C>(v);
                   if constexpr (std::is_integral_v<T>) {
                     return cv < C(0) ? int_arith(Arith::kMul, v, s) : v;
                   } else {
                     return static_cast<T>(cv < C(0) ? static_cast<C>(s) * cv : cv);
                   }
                 });
                 return {};
               }));
}

// ---- Max, Min, Sum, Mean (variadic, broadcasting) ----

enum class Fold { kMax, kMin, kSum, kMean };

Status fold(KernelContext& ctx, Fold op) {
  const size_t n = ctx.num_inputs();
  if (n == 0) return ctx.error("expected at least one input");
  for (size_t i = 0; i < n; ++i)
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, n));
  KILN_ASSIGN_OR_RETURN(Dims out_dims, broadcast_all(ctx));
  const DataType dtype = ctx.input(0).dtype();
  if (op == Fold::kMean && !is_float(dtype)) return ctx.error("Mean needs float inputs, got " + ctx.input(0).type_string());
  std::vector<Dims> in_dims;
  for (size_t i = 0; i < n; ++i) in_dims.push_back(ctx.input(i).dims());
  return named(ctx, visit_numeric(dtype, [&](auto tag) -> Status {
                 using T = decltype(tag);
                 using C = compute_type_t<T>;
                 Tensor& y = ctx.allocate_output(0, dtype, out_dims);
                 T* out = y.data<T>();
                 BroadcastWalker w(out_dims, in_dims);
                 for (int64_t i = 0; i < y.size(); ++i, w.next()) {
                   if constexpr (std::is_integral_v<T>) {
                     T acc = ctx.input(0).data<T>()[w.offset(0)];
                     for (size_t k = 1; k < n; ++k) {
                       T v = ctx.input(k).data<T>()[w.offset(k)];
                       if (op == Fold::kMax) acc = std::max(acc, v);
                       else if (op == Fold::kMin) acc = std::min(acc, v);
                       else acc = int_arith(Arith::kAdd, acc, v);
                     }
                     out[i] = acc;
                   } else {
                     // Sums accumulate in double; Max/Min propagate NaN like numpy.
                     double acc = static_cast<double>(static_cast<C>(ctx.input(0).data<T>()[w.offset(0)]));
                     for (size_t k = 1; k < n; ++k) {
                       double v = static_cast<double>(static_cast<C>(ctx.input(k).data<T>()[w.offset(k)]));
                       if (op == Fold::kSum || op == Fold::kMean) acc += v;
                       else if (std::isnan(acc) || std::isnan(v)) acc = std::numeric_limits<double>::quiet_NaN();
                       else acc = op == Fold::kMax ? std::max(acc, v) : std::min(acc, v);
                     }
                     if (op == Fold::kMean) acc /= static_cast<double>(n);
                     out[i] = from_double<T>(acc);
                   }
                 }
                 return {};
               }));
}

Status max_kernel(KernelContext& ctx) { return fold(ctx, Fold::kMax); }
Status min_kernel(KernelContext& ctx) { return fold(ctx, Fold::kMin); }
Status sum_kernel(KernelContext& ctx) { return fold(ctx, Fold::kSum); }
Status mean_kernel(KernelContext& ctx) { return fold(ctx, Fold::kMean); }

// ---- Where ----

Status where(KernelContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (cond.dtype() != DataType::kBool) return ctx.error("condition must be bool, got " + cond.type_string());
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 3));
  KILN_ASSIGN_OR_RETURN(Dims out_dims, broadcast_all(ctx));
  return named(ctx, visit_any(x.dtype(), [&](auto tag) -> Status {
                 using T = decltype(tag);
                 Tensor& out = ctx.allocate_output(0, x.dtype(), out_dims);
                 BroadcastWalker w(out_dims, {cond.dims(), x.dims(), y.dims()});
                 for (int64_t i = 0; i < out.size(); ++i, w.next())
                   out.data<T>()[i] = cond.data<bool>()[w.offset(0)] ? x.data<T>()[w.offset(1)] : y.data<T>()[w.offset(2)];
                 return {};
               }));
}

constexpr KernelEntry kKernels[] = {
    {"Add", "", add},
    {"Sub", "", sub},
    {"Mul", "", mul},
    {"Div", "", div},
    {"Pow", "", pow_kernel},
    {"Mod", "", mod},
    {"BitShift", "", bit_shift},
    {"Equal", "", equal},
    {"Less", "", less},
    {"LessOrEqual", "", less_or_equal},
    {"Greater", "", greater},
    {"GreaterOrEqual", "", greater_or_equal},
    {"And", "", and_kernel},
    {"Or", "", or_kernel},
    {"Xor", "", xor_kernel},
    {"PRelu", "", prelu},
    {"Max", "", max_kernel},
    {"Min", "", min_kernel},
    {"Sum", "", sum_kernel},
    {"Mean", "", mean_kernel},
    {"Where", "", where},
};

}  // namespace

std::span<const KernelEntry> elementwise_binary_kernels() { return kKernels; }

}  // namespace kiln::ref
