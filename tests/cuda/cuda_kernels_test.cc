// kiln's own CUDA kernels (src/backends/cuda/kernels/*.cu) against the reference kernels, one node at a time:
// the same inputs through run_single_op (reference backend) and run_node_on_cuda, compared element by element.
//
// Tolerances (what `Tol` below checks):
//   kExact  every element equal (NaN matches NaN). Data movement (Transpose, Concat, copies), Cast, Relu,
//           Abs, Neg, Clip, LeakyRelu, Max/Min, MaxPool, and f32 Add/Sub/Mul/Div: the kernel performs the
//           same IEEE operations as the reference (no FMA contraction, IEEE division), so results are bitwise.
//   kMath   f32: |gpu - ref| <= 1e-6 + 2e-6 * |ref|. CUDA's expf/tanhf/erff/log1pf are within 1-2 ulp
//           (~1.2e-7 relative each) where glibc's are within 1 ulp, and chained or reduced ops (Softplus,
//           Mish, Softmax's float sum against the reference's double sum) add a few ulp more: 2e-6 relative
//           is ~16 ulp, room for those without hiding a wrong formula; 1e-6 absolute covers values near zero
//           (e.g. tanh of tiny inputs, exp(x - max) of the smallest softmax entries).
//           f16: within 1 f16 ulp (adjacent representable values): the reference computes f16 ops in float
//           and rounds once; a float result 1-2 float-ulp away can round to the neighbouring f16 only when
//           it sits at a rounding boundary, never further.
//           Integer outputs: exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "core/float16.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace)

enum class Tol { kExact, kMath };

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
Attribute f(float v) { return Attribute::of_float(v); }
Attribute i(int64_t v) { return Attribute::of_int(v); }
Attribute s(std::string v) { return Attribute::of_string(std::move(v)); }

const SingleOpOptions kKiln{.domain = "kiln"};

// f16 bits mapped to a line where adjacent representable values differ by 1 (+0 and -0 both 0).
int32_t f16_ordinal(uint16_t bits) {
  const int32_t magnitude = bits & 0x7fff;
  return (bits & 0x8000) ? -magnitude : magnitude;
}

float as_float(const Tensor& t, int64_t k) {
  switch (t.dtype()) {
    case DataType::kF32: return t.data<float>()[k];
    case DataType::kF16: return static_cast<float>(t.data<Float16>()[k]);
    default: return static_cast<float>(t.element_as_double(k));
  }
}

// Element-wise comparison under `tol`; the message names the first mismatch and the largest difference.
::testing::AssertionResult close(const Tensor& ref, const Tensor& got, Tol tol) {
  if (ref.dtype() != got.dtype()) return ::testing::AssertionFailure() << "dtypes differ";
  Result<float> worst = max_abs_diff(ref, got);
  if (!worst.ok()) return ::testing::AssertionFailure() << worst.status().message();
  int64_t bad = 0, first = -1;
  for (int64_t k = 0; k < ref.size(); ++k) {
    const float r = as_float(ref, k), g = as_float(got, k);
    bool ok;
    if (std::isnan(r) || std::isnan(g)) {
      ok = std::isnan(r) && std::isnan(g);
    } else if (r == g) {
      ok = true;  // infinities included
    } else if (tol == Tol::kExact || (ref.dtype() != DataType::kF32 && ref.dtype() != DataType::kF16)) {
      ok = ref.dtype() == DataType::kF32 || ref.dtype() == DataType::kF16 ? r == g
                                                                          : ref.element_as_double(k) == got.element_as_double(k);
    } else if (ref.dtype() == DataType::kF16) {
      ok = std::abs(f16_ordinal(ref.data<Float16>()[k].bits) - f16_ordinal(got.data<Float16>()[k].bits)) <= 1;
    } else {
      ok = std::fabs(r - g) <= 1e-6f + 2e-6f * std::fabs(r);
    }
    if (!ok && bad++ == 0) first = k;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << ref.size() << " elements differ; first at " << first
                                       << ": reference " << as_float(ref, first) << ", cuda " << as_float(got, first)
                                       << "; max |diff| " << *worst;
}

// Runs `op` on the reference and on its CUDA kernel and compares every output.
void check_op(const std::string& op, int opset, const std::vector<OpInput>& inputs, const OpAttributes& attrs,
              Tol tol, const SingleOpOptions& options = {}, const std::string& want_tactic = "") {
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, 1, options);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  Result<std::vector<Tensor>> ref = run_single_op(op, opset, inputs, attrs, 1, options);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  std::string tactic;
  Result<std::vector<Tensor>> got = run_node_on_cuda(*graph, {}, &tactic);
  ASSERT_TRUE(got.ok()) << got.status().message();
  if (!want_tactic.empty()) {
    EXPECT_EQ(tactic, want_tactic);
  }
  ASSERT_EQ(ref->size(), got->size());
  for (size_t k = 0; k < ref->size(); ++k) {
    ASSERT_EQ((*ref)[k].dims(), (*got)[k].dims()) << "output " << k;
    EXPECT_TRUE(close((*ref)[k], (*got)[k], tol)) << "output " << k << " (" << tactic << ")";
  }
}

std::string describe(DataType t, const Dims& d) { return std::string(dtype_name(t)) + dims_to_string(d); }

const DataType kFloats[] = {DataType::kF32, DataType::kF16};

// Odd shapes: not multiples of 32, a scalar, an empty one, one long enough for several blocks per thread.
const std::vector<Dims> kShapes = {{1, 3, 7, 5}, {2, 17, 9, 13}, {}, {0, 3}, {70001}};

// ---- Unary ops ----------------------------------------------------------------------------------------

struct UnaryCase {
  const char* op;
  float lo, hi;
  OpAttributes attrs;
  Tol tol;
};

TEST(CudaKernels, UnaryOps) {
  KILN_REQUIRE_GPU();
  const UnaryCase cases[] = {
      {"Relu", -3, 3, {}, Tol::kExact},
      {"LeakyRelu", -3, 3, {{"alpha", f(0.13f)}}, Tol::kExact},
      {"Sigmoid", -12, 12, {}, Tol::kMath},
      {"Tanh", -5, 5, {}, Tol::kMath},
      {"HardSigmoid", -6, 6, {{"alpha", f(0.3f)}, {"beta", f(0.45f)}}, Tol::kMath},
      {"HardSwish", -6, 6, {}, Tol::kMath},
      {"Elu", -4, 3, {{"alpha", f(0.7f)}}, Tol::kMath},
      {"Exp", -8, 8, {}, Tol::kMath},
      {"Log", 0.01f, 50, {}, Tol::kMath},
      {"Sqrt", 0, 50, {}, Tol::kMath},
      {"Abs", -3, 3, {}, Tol::kExact},
      {"Neg", -3, 3, {}, Tol::kExact},
      {"Erf", -3, 3, {}, Tol::kMath},
      {"Softplus", -20, 20, {}, Tol::kMath},
  };
  uint32_t seed = 1;
  for (const UnaryCase& c : cases)
    for (DataType t : kFloats)
      for (const Dims& d : kShapes) {
        SCOPED_TRACE(std::string(c.op) + " " + describe(t, d));
        check_op(c.op, 14, {random_tensor(t, d, c.lo, c.hi, seed++)}, c.attrs, c.tol, {}, "cuda:pointwise");
      }
}

TEST(CudaKernels, UnaryDefaultsAndSpecialValues) {
  KILN_REQUIRE_GPU();
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> special = {0.0f, -0.0f, inf, -inf, nan, 1e-30f, -1e-30f, 88.0f, -88.0f, 100.0f, -100.0f, 3.0f};
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Exp", "Abs", "Neg",
                         "Erf", "Softplus"}) {
    SCOPED_TRACE(op);
    check_op(op, 14, {tensor<float>(special, {12})}, {}, Tol::kMath);
  }
  // NaN passes Clip; NaN and infinities through a chain's clamps, scalar steps and activations.
  check_op("Clip", 6, {tensor<float>(special, {12})}, {{"min", f(-1.0f)}, {"max", f(2.0f)}}, Tol::kExact);
  check_op("Clip", 13, {tensor<float>(special, {12}), {Tensor::scalar<float>(-1.0f), true}}, {}, Tol::kExact);
  for (DataType t : kFloats) {
    Tensor x(t, {12});
    for (size_t k = 0; k < special.size(); ++k) {
      if (t == DataType::kF32) x.data<float>()[k] = special[k];
      else x.data<Float16>()[k] = Float16(special[k]);
    }
    check_op("ElementwiseChain", 1, {x},
             {{"ops", Attribute::of_strings({"Clip", "Max", "HardSigmoid", "Min:r", "Relu", "Div:r", "HardSwish"})},
              {"params", Attribute::of_floats({-2.0f, 5.0f, -0.5f, 0, 0.2f, 0.5f, 0.7f, 0, 0, 0, 1.0f, 0, 0, 0})}},
             Tol::kMath, kKiln);
    // Max/Min propagate NaN; division by zero gives infinities.
    for (const char* op : {"Max", "Min", "Div", "Add", "Mul"}) {
      SCOPED_TRACE(op);
      check_op(op, 14, {x, random_tensor(t, {12}, -2, 2, 5)}, {}, Tol::kExact);
      check_op(op, 14, {random_tensor(t, {12}, -2, 2, 6), x}, {}, Tol::kExact);
    }
  }
  check_op("Softmax", 13, {tensor<float>({1.0f, nan, 2.0f, 3.0f, -inf, 0.5f}, {2, 3})}, {}, Tol::kMath);
  // Pools: a NaN first in a window sticks in MaxPool, later ones do not; GlobalMaxPool skips NaN.
  // 8 channels: NHWC takes the 16-byte vector path (f16: two lanes compared at a time).
  for (DataType t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    Tensor p = random_tensor(t, {1, 8, 5, 5}, -3, 3, 7);
    auto set = [&](int64_t k, float v) {
      if (t == DataType::kF16) p.data<Float16>()[k] = Float16(v);
      else p.data<float>()[k] = v;
    };
    for (int64_t k : {0, 6, 12, 31, 49, 57, 130, 131}) set(k, nan);
    set(40, inf);
    for (const char* layout : {"NCHW", "NHWC"}) {
      const Tensor x = std::string(layout) == "NHWC" ? *p.reshaped({1, 5, 5, 8}) : p;  // same values, other order
      check_op("Pool", 1, {x},
               {{"mode", s("MaxPool")}, {"layout", s(layout)}, {"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}},
               Tol::kExact, kKiln);
      check_op("Pool", 1, {x}, {{"mode", s("GlobalMaxPool")}, {"layout", s(layout)}}, Tol::kExact, kKiln);
      check_op("Pool", 1, {x}, {{"mode", s("AveragePool")}, {"layout", s(layout)}, {"kernel_shape", ints({2, 2})}},
               Tol::kMath, kKiln);
    }
  }
}

TEST(CudaKernels, Clip) {
  KILN_REQUIRE_GPU();
  for (DataType t : kFloats) {
    const Dims d = {2, 17, 9, 13};
    Tensor x = random_tensor(t, d, -4, 4, 7);
    // Opset 6: bounds are attributes (rounded to the dtype like the reference).
    check_op("Clip", 6, {x}, {{"min", f(-1.3f)}, {"max", f(2.1f)}}, Tol::kExact);
    check_op("Clip", 6, {x}, {{"max", f(0.7f)}}, Tol::kExact);
    // Opset 13: constant scalar inputs, either omitted.
    Tensor lo = random_tensor(t, {}, -1.5f, -1.0f, 8), hi = random_tensor(t, {}, 1.0f, 1.5f, 9);
    check_op("Clip", 13, {x, {lo, true}, {hi, true}}, {}, Tol::kExact);
    check_op("Clip", 13, {x, std::nullopt, {hi, true}}, {}, Tol::kExact);
    check_op("Clip", 13, {x, {lo, true}}, {}, Tol::kExact);
    check_op("Clip", 13, {x}, {}, Tol::kExact);
  }
}

// ---- kiln.ElementwiseChain ----------------------------------------------------------------------------

TEST(CudaKernels, ElementwiseChain) {
  KILN_REQUIRE_GPU();
  const float inf = std::numeric_limits<float>::infinity();
  struct Chain {
    std::vector<std::string> ops;
    std::vector<float> params;
  };
  const Chain chains[] = {
      {{"Mul", "Add:r", "Sigmoid", "Sub:r", "Max"}, {1.5f, 0, 0.25f, 0, 0, 0, 2.0f, 0, 1.2f, 0}},
      {{"Add", "Clip", "Div:r", "Tanh", "Selu"}, {3, 0, -inf, 6, 6, 0, 0, 0, 1.5f, 1.25f}},
      {{"Div", "Relu", "Pow", "Min:r", "Sqrt"}, {0.7f, 0, 0, 0, 2.0f, 0, 5.5f, 0, 0, 0}},
      {{"HardSwish", "LeakyRelu", "Elu", "Abs", "Neg"}, {0, 0, 0.2f, 0, 0.9f, 0, 0, 0, 0, 0}},
      {{"HardSigmoid", "Pow:r", "Log", "Exp", "Softplus"}, {0.25f, 0.5f, 2.0f, 0, 0, 0, 0, 0, 0, 0}},
      {{"Clip", "Mish", "Softsign", "Celu", "ThresholdedRelu"}, {-2.5f, inf, 0, 0, 0, 0, 0.8f, 0, 0.05f, 0}},
      {{"Erf", "Sign", "Reciprocal", "Floor", "Shrink"}, {0, 0, 0, 0, 0, 0, 0, 0, 0.25f, 0.4f}},
      {{"Max:r", "Sub", "Ceil", "Round", "Mul:r"}, {-1.0f, 0, 0.5f, 0, 0, 0, 0, 0, 0.3f, 0}},
  };
  uint32_t seed = 100;
  for (const Chain& c : chains)
    for (DataType t : kFloats)
      for (const Dims& d : {Dims{2, 17, 9, 13}, Dims{1, 3, 7, 5}, Dims{0, 4}}) {
        SCOPED_TRACE(c.ops[0] + "... " + describe(t, d));
        check_op("ElementwiseChain", 1, {random_tensor(t, d, -3, 3, seed++)},
                 {{"ops", Attribute::of_strings(c.ops)}, {"params", Attribute::of_floats(c.params)}}, Tol::kMath, kKiln,
                 "cuda:chain");
      }
}

// ---- Binary ops ---------------------------------------------------------------------------------------

TEST(CudaKernels, BinaryBroadcasting) {
  KILN_REQUIRE_GPU();
  const std::pair<Dims, Dims> shapes[] = {
      {{2, 17, 9, 13}, {2, 17, 9, 13}},  // same shape
      {{2, 17, 9, 13}, {}},              // scalar operand
      {{1}, {3, 7, 5}},                  // scalar first
      {{2, 3, 7, 5}, {1, 3, 1, 1}},      // per-channel (NCHW bias)
      {{3, 1, 1}, {2, 3, 7, 5}},         // per-channel first
      {{2, 7, 5, 3}, {3}},               // per-channel, innermost (NHWC bias)
      {{3, 1, 5}, {4, 1}},               // both broadcast
      {{2, 1, 4, 1}, {1, 3, 1, 6}},      // both broadcast, alternating
      {{2, 1, 3, 1, 2, 3}, {1, 2, 1, 3, 1, 3}},  // rank 6, general
      {{0, 3}, {3}},                     // empty
      {{65, 33}, {65, 1}},               // per-row
  };
  uint32_t seed = 200;
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"})
    for (DataType t : kFloats)
      for (const auto& [a, b] : shapes) {
        SCOPED_TRACE(std::string(op) + " " + describe(t, a) + " x " + dims_to_string(b));
        // Divisors away from zero; f16 sums and products round once from float, like the reference.
        check_op(op, 14, {random_tensor(t, a, -3, 3, seed++), random_tensor(t, b, 0.5f, 2.5f, seed++)}, {},
                 Tol::kExact, {}, "cuda:binary");
      }
}

TEST(CudaKernels, BinaryConstantOperandAndLegacyBroadcast) {
  KILN_REQUIRE_GPU();
  for (DataType t : kFloats) {
    Tensor x = random_tensor(t, {2, 3, 7, 5}, -2, 2, 300);
    // The constant operand is the kernel's own device copy (the executor passes null for it).
    check_op("Mul", 14, {x, {random_tensor(t, {1, 3, 1, 1}, -2, 2, 301), true}}, {}, Tol::kExact);
    check_op("Sub", 14, {{random_tensor(t, {5}, -2, 2, 302), true}, x}, {}, Tol::kExact);
    // Opset 6: B aligned onto A at `axis`.
    check_op("Add", 6, {x, random_tensor(t, {3, 7}, -2, 2, 303)}, {{"broadcast", i(1)}, {"axis", i(1)}}, Tol::kExact);
    check_op("Div", 6, {x, random_tensor(t, {5}, 0.5f, 2, 304)}, {{"broadcast", i(1)}}, Tol::kExact);
  }
}

TEST(CudaKernels, Pow) {
  KILN_REQUIRE_GPU();
  for (DataType t : kFloats) {
    Tensor base = random_tensor(t, {2, 17, 9, 13}, 0.2f, 3.0f, 400);
    SCOPED_TRACE(dtype_name(t));
    check_op("Pow", 15, {base, random_tensor(t, {2, 17, 9, 13}, -3, 3, 401)}, {}, Tol::kMath);
    check_op("Pow", 15, {base, random_tensor(t, {13}, -3, 3, 402)}, {}, Tol::kMath);
    check_op("Pow", 15, {base, {Tensor::scalar<float>(2.0f), true}}, {}, Tol::kMath);
    check_op("Pow", 15, {base, {Tensor::scalar<int64_t>(3), true}}, {}, Tol::kMath);
    check_op("Pow", 15, {base, tensor<int32_t>({-2, 0, 1, 2, 3, -1, 4, 2, 1, 0, 5, -3, 2}, {13})}, {}, Tol::kMath);
    // Negative bases with integer exponents are exact in both.
    check_op("Pow", 15, {random_tensor(t, {7, 5}, -3, 3, 403), {Tensor::scalar<int64_t>(3), true}}, {}, Tol::kMath);
  }
}

// ---- Cast ---------------------------------------------------------------------------------------------

TEST(CudaKernels, CastPairs) {
  KILN_REQUIRE_GPU();
  const DataType types[] = {DataType::kF32, DataType::kF16, DataType::kI32, DataType::kI64,
                            DataType::kU8,  DataType::kI8,  DataType::kBool};
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  uint32_t seed = 500;
  for (DataType from : types)
    for (DataType to : types) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + std::string(dtype_name(to)));
      // Out of range values too, so wrapping and saturation are exercised (u8/i8 inputs clamp themselves).
      Tensor x = random_tensor(from, {3, 7, 129}, -70000.0f, 70000.0f, seed++);
      if (from == DataType::kF32 || from == DataType::kF16) {
        Tensor small = random_tensor(from, {3, 7, 129}, -300.0f, 300.0f, seed++);
        check_op("Cast", 19, {small}, {{"to", i(static_cast<int64_t>(to))}}, Tol::kExact, {}, from == to ? "" : "cuda:cast");
        const std::vector<float> special = {nan, inf, -inf, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 65519.0f, 65520.0f,
                                            3e9f, -3e9f, 1e20f, -1e20f, 255.9f, 256.0f, -129.0f, 1e-8f};
        Tensor sp(from, {static_cast<int64_t>(special.size())});
        for (size_t k = 0; k < special.size(); ++k) {
          if (from == DataType::kF32) sp.data<float>()[k] = special[k];
          else sp.data<Float16>()[k] = Float16(special[k]);
        }
        check_op("Cast", 19, {sp}, {{"to", i(static_cast<int64_t>(to))}}, Tol::kExact);
      }
      check_op("Cast", 19, {x}, {{"to", i(static_cast<int64_t>(to))}}, Tol::kExact);
    }
  // Large i64 values to f16 / f32 (rounding through double) and to narrower integers (wrapping).
  Tensor big = tensor<int64_t>({(int64_t{1} << 53) + 1, -(int64_t{1} << 40) - 3, 65505, 2049, INT64_MAX, INT64_MIN}, {6});
  for (DataType to : types) check_op("Cast", 19, {big}, {{"to", i(static_cast<int64_t>(to))}}, Tol::kExact);
}

// ---- Softmax ------------------------------------------------------------------------------------------

TEST(CudaKernels, Softmax) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 600;
  for (DataType t : kFloats) {
    Tensor x = random_tensor(t, {2, 17, 9, 13}, -6, 6, seed++);
    for (int64_t axis : {-1, 0, 1, 2, 3, -3}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " axis " + std::to_string(axis));
      check_op("Softmax", 13, {x}, {{"axis", i(axis)}}, Tol::kMath, {}, "cuda:softmax");
    }
    // Before opset 13: coerced to 2-D at axis (default 1).
    check_op("Softmax", 11, {x}, {}, Tol::kMath);
    check_op("Softmax", 11, {x}, {{"axis", i(2)}}, Tol::kMath);
    check_op("Softmax", 11, {x}, {{"axis", i(4)}}, Tol::kMath);
    // Long rows (several elements per thread), short rows (one warp), an empty tensor.
    check_op("Softmax", 13, {random_tensor(t, {3, 5001}, -10, 10, seed++)}, {}, Tol::kMath);
    check_op("Softmax", 13, {random_tensor(t, {300, 10}, -10, 10, seed++)}, {}, Tol::kMath);
    check_op("Softmax", 13, {random_tensor(t, {0, 10}, -10, 10, seed++)}, {}, Tol::kMath);
  }
}

// ---- Pooling ------------------------------------------------------------------------------------------

struct PoolCase {
  const char* mode;
  OpAttributes attrs;
};

std::vector<PoolCase> window_cases() {
  return {
      {"MaxPool", {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}},
      {"MaxPool", {{"kernel_shape", ints({2, 3})}, {"strides", ints({2, 1})}, {"ceil_mode", i(1)}}},
      {"MaxPool", {{"kernel_shape", ints({3, 2})}, {"dilations", ints({2, 1})}, {"pads", ints({0, 1, 2, 0})}}},
      {"MaxPool", {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", s("SAME_UPPER")}}},
      {"AveragePool", {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}},
      {"AveragePool",
       {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}, {"count_include_pad", i(1)}}},
      {"AveragePool",
       {{"kernel_shape", ints({2, 3})}, {"strides", ints({3, 2})}, {"pads", ints({1, 0, 1, 2})}, {"ceil_mode", i(1)}}},
      {"AveragePool",
       {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})}, {"ceil_mode", i(1)}, {"count_include_pad", i(1)},
        {"pads", ints({1, 1, 1, 1})}}},
      {"AveragePool", {{"kernel_shape", ints({3, 3})}, {"auto_pad", s("SAME_LOWER")}}},
  };
}

// NCHW dims -> the same tensor's NHWC dims.
Dims to_nhwc(const Dims& d) { return {d[0], d[2], d[3], d[1]}; }

TEST(CudaKernels, KilnPoolBothLayouts) {
  KILN_REQUIRE_GPU();
  // 40 and 64 channels: NHWC max pooling takes the 16-byte vector path (f32 4 lanes, f16 8).
  const Dims shapes[] = {{1, 3, 7, 5}, {2, 17, 9, 13}, {1, 40, 14, 14}, {2, 64, 11, 9}};
  uint32_t seed = 700;
  for (const PoolCase& c : window_cases())
    for (DataType t : kFloats)
      for (const Dims& d : shapes)
        for (const char* layout : {"NCHW", "NHWC"}) {
          SCOPED_TRACE(std::string(c.mode) + " " + layout + " " + describe(t, d));
          OpAttributes attrs = c.attrs;
          attrs["mode"] = s(c.mode);
          attrs["layout"] = s(layout);
          const Dims dims = std::string(layout) == "NHWC" ? to_nhwc(d) : d;
          check_op("Pool", 1, {random_tensor(t, dims, -3, 3, seed++)}, attrs,
                   std::string(c.mode) == "MaxPool" ? Tol::kExact : Tol::kMath, kKiln, "cuda:pool");
        }
}

TEST(CudaKernels, KilnGlobalPoolBothLayouts) {
  KILN_REQUIRE_GPU();
  // Small planes (warp per plane in NCHW), large ones (block per plane), channels not a multiple of 32; in
  // NHWC, channels a multiple of 8 over at most 256 positions take the vector kernel (a classifier's 7x7, a
  // 3x5 map), over more the tiled one.
  const Dims shapes[] = {{1, 3, 7, 5},   {2, 17, 9, 13}, {2, 70, 1, 1},  {1, 5, 45, 47},
                         {3, 33, 7, 7},  {2, 64, 7, 7},  {3, 24, 3, 5},  {1, 16, 20, 20}};
  uint32_t seed = 800;
  for (const char* mode : {"GlobalAveragePool", "GlobalMaxPool"})
    for (DataType t : kFloats)
      for (const Dims& d : shapes)
        for (const char* layout : {"NCHW", "NHWC"}) {
          SCOPED_TRACE(std::string(mode) + " " + layout + " " + describe(t, d));
          const Dims dims = std::string(layout) == "NHWC" ? to_nhwc(d) : d;
          check_op("Pool", 1, {random_tensor(t, dims, -3, 3, seed++)}, {{"mode", s(mode)}, {"layout", s(layout)}},
                   std::string(mode) == "GlobalMaxPool" ? Tol::kExact : Tol::kMath, kKiln);
        }
}

TEST(CudaKernels, OnnxPools) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 900;
  for (DataType t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    Tensor x2 = random_tensor(t, {2, 17, 9, 13}, -3, 3, seed++);
    for (const PoolCase& c : window_cases()) {
      SCOPED_TRACE(c.mode);
      check_op(c.mode, 19, {x2}, c.attrs, std::string(c.mode) == "MaxPool" ? Tol::kExact : Tol::kMath);
    }
    // 1-D and 3-D windows.
    Tensor x1 = random_tensor(t, {2, 5, 29}, -3, 3, seed++);
    check_op("MaxPool", 12, {x1}, {{"kernel_shape", ints({4})}, {"strides", ints({3})}, {"pads", ints({1, 2})}},
             Tol::kExact);
    check_op("AveragePool", 19, {x1}, {{"kernel_shape", ints({4})}, {"ceil_mode", i(1)}, {"strides", ints({3})}},
             Tol::kMath);
    Tensor x3 = random_tensor(t, {1, 3, 6, 7, 9}, -3, 3, seed++);
    check_op("MaxPool", 12, {x3},
             {{"kernel_shape", ints({2, 3, 2})}, {"strides", ints({2, 2, 3})}, {"pads", ints({0, 1, 1, 1, 1, 0})}},
             Tol::kExact);
    check_op("AveragePool", 19, {x3},
             {{"kernel_shape", ints({3, 2, 2})}, {"pads", ints({1, 1, 0, 1, 0, 1})}, {"count_include_pad", i(1)}},
             Tol::kMath);
    // Global pools in NCHW, rank 3 to 5.
    for (const Tensor& x : {x1, x2, x3}) {
      check_op("GlobalAveragePool", 1, {x}, {}, Tol::kMath);
      check_op("GlobalMaxPool", 1, {x}, {}, Tol::kExact);
    }
  }
}

// ---- Transpose, Concat, copies ------------------------------------------------------------------------

TEST(CudaKernels, TransposeLayoutFastPath) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1000;
  const Dims shapes[] = {{1, 3, 7, 5}, {2, 17, 9, 13}, {1, 3, 224, 224}, {3, 64, 1, 1}, {2, 1, 33, 65}};
  for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI64, DataType::kU8})
    for (const Dims& d : shapes) {
      SCOPED_TRACE(describe(t, d));
      Tensor x = random_tensor(t, d, -100, 100, seed++);
      check_op("Transpose", 13, {x}, {{"perm", ints({0, 2, 3, 1})}}, Tol::kExact, {}, "cuda:transpose");
      check_op("Transpose", 13, {x}, {{"perm", ints({0, 3, 1, 2})}}, Tol::kExact);
    }
}

TEST(CudaKernels, TransposeGeneral) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1100;
  std::mt19937 rng(42);
  for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI32, DataType::kI8, DataType::kI64}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor x5 = random_tensor(t, {2, 3, 4, 5, 6}, -100, 100, seed++);
    for (int k = 0; k < 4; ++k) {
      std::vector<int64_t> perm = {0, 1, 2, 3, 4};
      std::shuffle(perm.begin(), perm.end(), rng);
      SCOPED_TRACE(::testing::PrintToString(perm));
      check_op("Transpose", 13, {x5}, {{"perm", ints(perm)}}, Tol::kExact);
    }
    check_op("Transpose", 13, {x5}, {{"perm", ints({4, 1, 3, 0, -3})}}, Tol::kExact);  // negative axis
    check_op("Transpose", 13, {x5}, {}, Tol::kExact);                                   // default: reversed
    check_op("Transpose", 13, {random_tensor(t, {3, 1, 5, 1, 7, 2}, -9, 9, seed++)},
             {{"perm", ints({5, 3, 0, 4, 1, 2})}}, Tol::kExact);  // rank 6 with unit axes
    check_op("Transpose", 13, {random_tensor(t, {67, 45}, -9, 9, seed++)}, {}, Tol::kExact);
    check_op("Transpose", 13, {random_tensor(t, {2, 0, 3}, -9, 9, seed++)}, {{"perm", ints({2, 0, 1})}}, Tol::kExact);
    check_op("Transpose", 13, {random_tensor(t, {4, 5, 6}, -9, 9, seed++)}, {{"perm", ints({0, 1, 2})}}, Tol::kExact);
  }
}

TEST(CudaKernels, SpaceToDepth) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1150;
  for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI8})
    for (const Dims& d : {Dims{1, 3, 230, 230}, Dims{2, 4, 6, 10}, Dims{3, 1, 9, 3}}) {
      SCOPED_TRACE(describe(t, d));
      Tensor x = random_tensor(t, d, -100, 100, seed++);
      if (d[2] % 2 == 0) check_op("SpaceToDepth", 13, {x}, {{"blocksize", Attribute::of_int(2)}}, Tol::kExact, {}, "cuda:space_to_depth");
      if (d[2] % 3 == 0 && d[3] % 3 == 0) check_op("SpaceToDepth", 13, {x}, {{"blocksize", Attribute::of_int(3)}}, Tol::kExact);
    }
}

// kiln.PaddedSpaceToDepth (the stem's Cast + Pad + SpaceToDepth (+ NHWC)) vs its reference, the ONNX chain:
// every element type it copies, FLOAT -> FLOAT16, both output layouts, channel counts that take the 16-byte
// vector stores and ones that do not, a fill value, and ResNet-50's stem at batch 2.
TEST(CudaKernels, PaddedSpaceToDepth) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1170;
  struct Case {
    Dims x;
    std::vector<int64_t> pads;  // [c, h, w begin, c, h, w end]
  };
  const Case cases[] = {{{2, 3, 224, 224}, {0, 3, 3, 1, 3, 3}},  // ResNet-50's stem: 16 channels out
                        {{1, 3, 9, 7}, {0, 1, 2, 0, 2, 1}},      // 12 channels: no vector stores in f16
                        {{3, 1, 5, 6}, {1, 1, 0, 2, 0, 0}},      // leading channel padding
                        {{1, 4, 4, 4}, {0, 0, 0, 0, 0, 0}}};
  const SingleOpOptions kiln_op{.domain = "kiln"};
  for (const Case& c : cases)
    for (const char* layout : {"NCHW", "NHWC"}) {
      OpAttributes attrs = {{"blocksize", i(2)}, {"pads", ints(c.pads)}, {"output_layout", s(layout)}};
      for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI8}) {
        SCOPED_TRACE(describe(t, c.x) + " " + layout);
        Tensor x = random_tensor(t, c.x, -100, 100, seed++);
        check_op("PaddedSpaceToDepth", 1, {x}, attrs, Tol::kExact, kiln_op, "cuda:padded_space_to_depth");
        if (t == DataType::kI8)  // a zero point as the fill value
          check_op("PaddedSpaceToDepth", 1, {x, {tensor<int8_t>({-7}, {}), true}}, attrs, Tol::kExact, kiln_op);
      }
      SCOPED_TRACE(describe(DataType::kF32, c.x) + " to f16 " + layout);
      OpAttributes to_f16 = attrs;
      to_f16["to"] = i(static_cast<int64_t>(DataType::kF16));
      check_op("PaddedSpaceToDepth", 1, {random_tensor(DataType::kF32, c.x, -3, 3, seed++)}, to_f16, Tol::kExact, kiln_op);
      // Quantizing (the INT8 stem's input QuantizeLinear absorbed): bit-exact with the reference's
      // QuantizeLinear, ties and saturation included (x up to +-3 at scale 0.02 saturates; x * 100 on a
      // 0.01 grid gives exact .5 ties at scale 0.02), int8 with a zero point and uint8.
      for (DataType q : {DataType::kI8, DataType::kU8}) {
        SCOPED_TRACE(describe(DataType::kF32, c.x) + " quantized to " + std::string(dtype_name(q)) + " " + layout);
        OpAttributes quantize = attrs;
        quantize["to"] = i(static_cast<int64_t>(q));
        Tensor x = random_tensor(DataType::kF32, c.x, -3, 3, seed++);
        for (int64_t e = 0; e < x.size(); e += 3) x.data<float>()[e] = std::round(x.data<float>()[e] * 100) / 100;
        OpInput zero_point = q == DataType::kI8 ? OpInput(tensor<int8_t>({-7}, {}), true)
                                                : OpInput(tensor<uint8_t>({120}, {}), true);
        check_op("PaddedSpaceToDepth", 1, {x, zero_point, {tensor<float>({0.02f}, {}), true}}, quantize, Tol::kExact,
                 kiln_op, "cuda:padded_space_to_depth");
      }
    }
}

TEST(CudaKernels, Concat) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 1200;
  for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI64, DataType::kU8, DataType::kBool}) {
    SCOPED_TRACE(dtype_name(t));
    for (int64_t axis : {0, 1, 2, -1}) {
      SCOPED_TRACE(axis);
      auto with_axis = [&](Dims d, int64_t e) {
        d[static_cast<size_t>(axis < 0 ? axis + 3 : axis)] = e;
        return d;
      };
      const Dims base = {3, 5, 7};
      check_op("Concat", 13,
               {random_tensor(t, with_axis(base, 2), -50, 50, seed++), random_tensor(t, with_axis(base, 5), -50, 50, seed++),
                {random_tensor(t, with_axis(base, 1), -50, 50, seed++), true},  // a constant input
                random_tensor(t, with_axis(base, 0), -50, 50, seed++)},         // an empty one
               {{"axis", i(axis)}}, Tol::kExact, {}, "cuda:concat");
    }
  }
  // Odd byte counts (u8, unaligned rows) and a single input.
  check_op("Concat", 13, {random_tensor(DataType::kU8, {2, 3}, 0, 200, 1), random_tensor(DataType::kU8, {2, 5}, 0, 200, 2)},
           {{"axis", i(1)}}, Tol::kExact);
  check_op("Concat", 13, {random_tensor(DataType::kF32, {4, 9}, -1, 1, 3)}, {{"axis", i(0)}}, Tol::kExact);
}

TEST(CudaKernels, ShapeOnlyOpsCopy) {
  KILN_REQUIRE_GPU();
  for (DataType t : {DataType::kF32, DataType::kF16, DataType::kI64, DataType::kU8}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor x = random_tensor(t, {2, 3, 1, 5}, -9, 9, 1300);
    check_op("Flatten", 13, {x}, {{"axis", i(2)}}, Tol::kExact, {}, "cuda:copy");
    check_op("Reshape", 14, {x, {tensor<int64_t>({6, -1}, {2}), true}}, {}, Tol::kExact);
    check_op("Squeeze", 13, {x, {tensor<int64_t>({2}, {1}), true}}, {}, Tol::kExact);
    check_op("Unsqueeze", 13, {x, {tensor<int64_t>({0, 5}, {2}), true}}, {}, Tol::kExact);
    check_op("Identity", 14, {x}, {}, Tol::kExact);
    check_op("Identity", 14, {random_tensor(t, {0, 4}, -9, 9, 1301)}, {}, Tol::kExact);
  }
}

// ---- CUDA graph capture -------------------------------------------------------------------------------

void check_captured(const std::string& op, int opset, const std::vector<OpInput>& inputs, const OpAttributes& attrs,
                    Tol tol, const SingleOpOptions& options = {}) {
  SCOPED_TRACE(op + " captured");
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, 1, options);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  Result<std::vector<Tensor>> ref = run_single_op(op, opset, inputs, attrs, 1, options);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  for (bool misalign : {false, true}) {
    Result<std::vector<Tensor>> got =
        run_node_on_cuda(*graph, {}, nullptr, misalign ? Launch::kCapturedMisaligned : Launch::kCaptured);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_TRUE(close((*ref)[0], (*got)[0], tol)) << (misalign ? "misaligned" : "aligned");
  }
}

TEST(CudaKernels, EnqueueIsGraphCapturable) {
  KILN_REQUIRE_GPU();
  Tensor x = random_tensor(DataType::kF16, {2, 17, 9, 13}, -3, 3, 1400);
  check_captured("Transpose", 13, {x}, {{"perm", ints({0, 2, 3, 1})}}, Tol::kExact);
  check_captured("Transpose", 13, {x}, {{"perm", ints({3, 1, 0, 2})}}, Tol::kExact);
  check_captured("Transpose", 13, {x}, {{"perm", ints({0, 1, 2, 3})}}, Tol::kExact);  // a memcpy node
  check_captured("Add", 14, {x, {random_tensor(DataType::kF16, {17, 1, 1}, -1, 1, 1401), true}}, {}, Tol::kExact);
  check_captured("Add", 14, {x, random_tensor(DataType::kF16, {2, 17, 9, 13}, -1, 1, 1403)}, {}, Tol::kExact);
  check_captured("Mul", 14, {random_tensor(DataType::kF32, {3, 1001}, -1, 1, 1404), {Tensor::scalar<float>(1.5f), true}},
                 {}, Tol::kExact);
  check_captured("Relu", 14, {x}, {}, Tol::kExact);
  check_captured("Tanh", 14, {random_tensor(DataType::kF32, {1001}, -3, 3, 1405)}, {}, Tol::kMath);
  check_captured("Transpose", 13, {random_tensor(DataType::kU8, {2, 3, 17, 19}, 0, 255, 1406)},
                 {{"perm", ints({0, 2, 3, 1})}}, Tol::kExact);
  check_captured("ElementwiseChain", 1, {x}, {{"ops", Attribute::of_strings({"Mul", "Sigmoid"})},
                                            {"params", Attribute::of_floats({2.0f, 0, 0, 0})}},
                 Tol::kMath, kKiln);
  check_captured("Cast", 19, {x}, {{"to", i(static_cast<int64_t>(DataType::kF32))}}, Tol::kExact);
  check_captured("Cast", 19, {x}, {{"to", i(static_cast<int64_t>(DataType::kF16))}}, Tol::kExact);
  check_captured("Softmax", 13, {x}, {{"axis", i(1)}}, Tol::kMath);
  check_captured("Softmax", 13, {x}, {}, Tol::kMath);
  check_captured("Pool", 1, {x}, {{"mode", s("MaxPool")}, {"layout", s("NHWC")}, {"kernel_shape", ints({3, 3})}},
                 Tol::kExact, kKiln);
  check_captured("GlobalAveragePool", 1, {x}, {}, Tol::kMath);
  check_captured("Concat", 13, {x, {random_tensor(DataType::kF16, {2, 3, 9, 13}, -1, 1, 1402), true}},
                 {{"axis", i(1)}}, Tol::kExact);
  check_captured("Reshape", 14, {x, {tensor<int64_t>({-1}, {1}), true}}, {}, Tol::kExact);
}

// ---- What the factories refuse ------------------------------------------------------------------------

// Whether the backend has a kernel for the single node of `op` (an error counts as a failure).
::testing::AssertionResult has_kernel(const std::string& op, int opset, const std::vector<OpInput>& inputs,
                                      const OpAttributes& attrs, int num_outputs = 1, const SingleOpOptions& options = {}) {
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, num_outputs, options);
  if (!graph.ok()) return ::testing::AssertionFailure() << graph.status().message();
  auto kernel = cuda::create_cuda_kernel(*graph->graph->nodes()[0]);
  if (!kernel.ok()) return ::testing::AssertionFailure() << kernel.status().message();
  if (!*kernel) return ::testing::AssertionFailure() << "no kernel";
  return ::testing::AssertionSuccess();
}

TEST(CudaKernels, UnsupportedCombinationsReturnNull) {
  KILN_REQUIRE_GPU();
  Tensor x = random_tensor(DataType::kF32, {1, 3, 8, 8}, -1, 1, 1);
  const OpAttributes pool = {{"kernel_shape", ints({2, 2})}};
  EXPECT_TRUE(has_kernel("MaxPool", 12, {x}, pool, 1));
  EXPECT_FALSE(has_kernel("MaxPool", 12, {x}, pool, 2));  // Indices requested
  // Clip with a bound that is not a constant.
  EXPECT_FALSE(has_kernel("Clip", 13, {x, Tensor::scalar<float>(0.0f)}, {}));
  EXPECT_TRUE(has_kernel("Clip", 13, {x, {Tensor::scalar<float>(0.0f), true}}, {}));
  // Dtypes the kernels do not run.
  EXPECT_FALSE(has_kernel("Relu", 14, {random_tensor(DataType::kI32, {4}, -5, 5, 2)}, {}));
  EXPECT_FALSE(has_kernel("Add", 14, {random_tensor(DataType::kI64, {4}, -5, 5, 3), random_tensor(DataType::kI64, {4}, -5, 5, 4)}, {}));
  EXPECT_FALSE(has_kernel("Cast", 19, {x}, {{"to", i(static_cast<int64_t>(DataType::kF64))}}));
  EXPECT_FALSE(has_kernel("Max", 13, {x, x, x}, {}));  // variadic
  EXPECT_FALSE(has_kernel("ElementwiseChain", 1, {x}, {{"ops", Attribute::of_strings({"Gelu"})}, {"params", Attribute::of_floats({0, 0})}},
                          1, kKiln));
}

}  // namespace
}  // namespace kiln
