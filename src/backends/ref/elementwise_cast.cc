// Reference kernels of the elementwise family: Cast and CastLike between every numeric, bool and string type.
//
// Numeric -> string prints like numpy's astype(str) (which produced ONNX's reference data): the shortest
// digits that round-trip in the source type, positional for 1e-4 <= |x| < 1e16, else scientific.
// String -> numeric accepts what strtod does ("1.5", "NaN", "+INF", ...); anything else is an error.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "backends/ref/elementwise_util.h"

namespace kiln::ref {

namespace {

// ---- numeric -> string ----

// Shortest scientific digits ("d.ddde+XX") that read back to the same value of type T.
template <typename T>
std::string shortest_scientific(T v) {
  char buf[64];
  if constexpr (is_half_v<T>) {
    float f = static_cast<float>(v);
    for (int precision = 0; precision < 9; ++precision) {
      auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific, precision);
      std::string s(buf, r.ptr);
      float back = std::strtof(s.c_str(), nullptr);
      if (T(back).bits == v.bits) return s;
    }
    auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
    return std::string(buf, r.ptr);
  } else {
    auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    return std::string(buf, r.ptr);
  }
}

template <typename T>
std::string float_to_string(T v) {
  double d = static_cast<double>(static_cast<compute_type_t<T>>(v));
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string sci = shortest_scientific(v);
  double mag = std::fabs(d);
  if (mag != 0 && (mag < 1e-4 || mag >= 1e16)) return sci;
  // Positional: rebuild from the scientific digits and exponent.
  bool negative = sci[0] == '-';
  size_t start = negative ? 1 : 0;
  size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = start; i < e_pos; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exponent = std::atoi(sci.c_str() + e_pos + 1);
  std::string out = negative ? "-" : "";
  if (mag == 0) return out + "0.0";
  if (exponent >= 0) {
    size_t int_len = static_cast<size_t>(exponent) + 1;
    if (digits.size() < int_len) digits.append(int_len - digits.size(), '0');
    std::string frac = digits.substr(int_len);
    out += digits.substr(0, int_len) + "." + (frac.empty() ? "0" : frac);
  } else {
    out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  }
  return out;
}

template <typename T>
std::string to_string_value(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "True" : "False";
  } else if constexpr (is_float_v<T>) {
    return float_to_string(v);
  } else {
    return std::to_string(v);
  }
}

// ---- string -> numeric ----

template <typename T>
Result<T> parse_value(const std::string& s) {
  auto fail = [&]() -> Status {
    return Status::invalid_argument(fmt::format("cannot parse the string '{}' as {}", s, dtype_name(dtype_of<T>())));
  };
  if constexpr (std::is_same_v<T, bool>) {
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Exact integer syntax first (doubles cannot hold every int64).
    const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    Wide w = 0;
    auto r = std::from_chars(begin, end, w);
    if (r.ec == std::errc() && r.ptr == end) return static_cast<T>(w);
  }
  if (s.empty()) return fail();
  char* end = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    float f = std::strtof(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return fail();
    return f;
  } else {
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return fail();
    return from_double<T>(d);
  }
}

// ---- numeric -> numeric ----

// Cast to bf16 before opset 19 truncated the float (ONNX's reference data for those opsets, and ONNX
// Runtime at the time); from opset 19 it rounds to nearest even.
BFloat16 bf16_truncate(float f) {
  if (std::isnan(f)) return BFloat16::from_bits(static_cast<uint16_t>((float_bits(f) >> 16) | 0x40u));
  return BFloat16::from_bits(static_cast<uint16_t>(float_bits(f) >> 16));
}

template <typename S, typename D>
D convert_value(S s, bool truncate_bf16) {
  if constexpr (std::is_same_v<D, bool>) {
    return static_cast<compute_type_t<S>>(s) != compute_type_t<S>(0);
  } else if constexpr (std::is_same_v<S, bool>) {
    return from_double<D>(s ? 1.0 : 0.0);
  } else if constexpr (std::is_integral_v<S> && std::is_integral_v<D>) {
    return static_cast<D>(s);  // modulo 2^bits (well defined since C++20)
  } else if constexpr (std::is_integral_v<S> && std::is_floating_point_v<D>) {
    return static_cast<D>(s);
  } else if constexpr (std::is_same_v<S, D>) {
    return s;
  } else {
    double d = static_cast<double>(static_cast<compute_type_t<S>>(s));
    if constexpr (std::is_same_v<D, BFloat16>) {
      if (truncate_bf16) return bf16_truncate(static_cast<float>(d));
    }
    return from_double<D>(d);
  }
}

Status convert(const Tensor& in, Tensor& out, bool truncate_bf16) {
  const DataType from = in.dtype();
  const DataType to = out.dtype();
  const int64_t n = in.size();
  if (from == DataType::kString && to == DataType::kString) {
    for (int64_t i = 0; i < n; ++i) out.data<std::string>()[i] = in.data<std::string>()[i];
    return {};
  }
  if (from == DataType::kString) {
    return visit_numeric_or_bool(to, [&](auto dtag) -> Status {
      using D = decltype(dtag);
      for (int64_t i = 0; i < n; ++i) {
        KILN_ASSIGN_OR_RETURN(D v, parse_value<D>(in.data<std::string>()[i]));
        out.data<D>()[i] = v;
      }
      return {};
    });
  }
  if (to == DataType::kString) {
    return visit_numeric_or_bool(from, [&](auto stag) -> Status {
      using S = decltype(stag);
      for (int64_t i = 0; i < n; ++i) out.data<std::string>()[i] = to_string_value(in.data<S>()[i]);
      return {};
    });
  }
  return visit_numeric_or_bool(from, [&](auto stag) -> Status {
    using S = decltype(stag);
    return visit_numeric_or_bool(to, [&](auto dtag) -> Status {
      using D = decltype(dtag);
      const S* src = in.data<S>();
      D* dst = out.data<D>();
      for (int64_t i = 0; i < n; ++i) dst[i] = convert_value<S, D>(src[i], truncate_bf16);
      return {};
    });
  });
}

bool castable(DataType t) {
  return is_float(t) || is_integer(t) || t == DataType::kBool || t == DataType::kString;
}

Status cast_to(KernelContext& ctx, DataType to) {
  const Tensor& x = ctx.input(0);
  if (!castable(x.dtype())) return ctx.error("cannot cast from " + x.type_string());
  Tensor& y = ctx.allocate_output(0, to, x.dims());
  return named(ctx, convert(x, y, ctx.opset() < 19));
}

Status cast(KernelContext& ctx) {
  int64_t to = ctx.node().attr_int("to", 0);
  if (to < 0 || to > 0x7fffffff || !is_known_dtype(static_cast<int32_t>(to)) || !castable(static_cast<DataType>(to)))
    return ctx.error(fmt::format("attribute 'to' = {} is not a data type kiln can cast to", to));
  return cast_to(ctx, static_cast<DataType>(to));
}

Status cast_like(KernelContext& ctx) {
  DataType to = ctx.input(1).dtype();
  if (!castable(to)) return ctx.error("cannot cast to the type of " + ctx.input(1).type_string());
  return cast_to(ctx, to);
}

constexpr KernelEntry kKernels[] = {
    {"Cast", "", cast},
    {"CastLike", "", cast_like},
};

}  // namespace

std::span<const KernelEntry> elementwise_cast_kernels() { return kKernels; }

}  // namespace kiln::ref
