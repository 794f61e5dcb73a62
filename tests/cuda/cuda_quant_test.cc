// The CUDA backend's INT8 kernels against the reference kernels, one node at a time: QuantizeLinear /
// DequantizeLinear (kernels/quantize.cu), max pooling on i8 / u8 (kernels/pool.cu) and kiln.QMatMul
// (kernels/qmatmul.cu). Each case runs eagerly, captured in a CUDA graph, or captured with misaligned buffers.
//
// Tolerances:
//   QuantizeLinear, DequantizeLinear, int8 MaxPool: exact. Every element equal (f32 / f16 outputs bitwise;
//       NaN matches NaN): the kernels perform the reference's IEEE operations in its order (float division,
//       rint half to even, saturation; float(x - zp) * scale; integer comparisons).
//   kiln.QMatMul: within one quantization step everywhere, and at least 99% of the elements equal. The int32
//       accumulator is exact on both sides, but the GPU multiplies float(acc) by a float multiplier where the
//       reference uses double, so a value within ~1e-5 of a rounding tie may round to the neighbouring step.
//       Each case also requires the reference output to spread over many values, so an all-saturated output
//       cannot pass by accident. One case (multipliers 0.5 and 0.25, small accumulators) is computed exactly
//       in float and must match exactly: it has many exact ties, so it checks the rounding mode.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/float16.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace)

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
Attribute i(int64_t v) { return Attribute::of_int(v); }
Attribute s(std::string v) { return Attribute::of_string(std::move(v)); }

const SingleOpOptions kKiln{.domain = "kiln"};
const std::vector<Launch> kAllLaunches = {Launch::kEager, Launch::kCaptured, Launch::kCapturedMisaligned};

const char* launch_name(Launch l) {
  switch (l) {
    case Launch::kEager: return "eager";
    case Launch::kCaptured: return "captured";
    case Launch::kCapturedMisaligned: return "captured, misaligned";
  }
  return "?";
}

std::string describe(DataType t, const Dims& d) { return std::string(dtype_name(t)) + dims_to_string(d); }

// A tensor of `dtype` holding `values` (f16 rounded to nearest even; integers must be in range).
Tensor make_tensor(DataType dtype, const Dims& dims, const std::vector<double>& values) {
  Tensor t(dtype, dims);
  EXPECT_EQ(t.size(), static_cast<int64_t>(values.size()));
  for (int64_t k = 0; k < t.size(); ++k) {
    const double v = values[static_cast<size_t>(k)];
    switch (dtype) {
      case DataType::kF32: t.data<float>()[k] = static_cast<float>(v); break;
      case DataType::kF16: t.data<Float16>()[k] = Float16(static_cast<float>(v)); break;
      case DataType::kI8: t.data<int8_t>()[k] = static_cast<int8_t>(v); break;
      case DataType::kU8: t.data<uint8_t>()[k] = static_cast<uint8_t>(v); break;
      case DataType::kI16: t.data<int16_t>()[k] = static_cast<int16_t>(v); break;
      case DataType::kI32: t.data<int32_t>()[k] = static_cast<int32_t>(v); break;
      default: ADD_FAILURE() << "make_tensor: unexpected dtype " << dtype_name(dtype);
    }
  }
  return t;
}

Tensor scalar_of(DataType dtype, double v) { return make_tensor(dtype, {}, {v}); }

bool is_nan_at(const Tensor& t, int64_t k) {
  if (t.dtype() == DataType::kF32) return std::isnan(t.data<float>()[k]);
  if (t.dtype() == DataType::kF16) return std::isnan(static_cast<float>(t.data<Float16>()[k]));
  return false;
}

// Every element equal: bitwise (so -0 and +0 differ, and f16 results are compared as stored), except that
// any NaN matches any NaN (the reference's and the GPU's NaN payloads may differ).
::testing::AssertionResult identical(const Tensor& ref, const Tensor& got) {
  if (ref.dtype() != got.dtype() || ref.dims() != got.dims())
    return ::testing::AssertionFailure() << "expected " << describe(ref.dtype(), ref.dims()) << ", got "
                                         << describe(got.dtype(), got.dims());
  const size_t bytes = dtype_size(ref.dtype());
  int64_t bad = 0, first = -1;
  for (int64_t k = 0; k < ref.size(); ++k) {
    if (is_nan_at(ref, k) && is_nan_at(got, k)) continue;
    const auto* r = static_cast<const char*>(ref.raw()) + k * static_cast<int64_t>(bytes);
    const auto* g = static_cast<const char*>(got.raw()) + k * static_cast<int64_t>(bytes);
    if (std::memcmp(r, g, bytes) != 0 && bad++ == 0) first = k;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << ref.size() << " elements differ; first at " << first
                                       << ": reference " << ref.element_as_double(first) << ", cuda "
                                       << got.element_as_double(first);
}

// Integer outputs within one step everywhere and equal in at least 99% of the elements (see the top).
::testing::AssertionResult within_one_step(const Tensor& ref, const Tensor& got) {
  if (ref.dtype() != got.dtype() || ref.dims() != got.dims())
    return ::testing::AssertionFailure() << "expected " << describe(ref.dtype(), ref.dims()) << ", got "
                                         << describe(got.dtype(), got.dims());
  int64_t far = 0, off_by_one = 0, first_far = -1;
  for (int64_t k = 0; k < ref.size(); ++k) {
    const int64_t d = std::abs(ref.element_as_int64(k) - got.element_as_int64(k));
    if (d == 1) ++off_by_one;
    if (d > 1 && far++ == 0) first_far = k;
  }
  if (far > 0)
    return ::testing::AssertionFailure() << far << " of " << ref.size() << " elements differ by more than one step; "
                                         << "first at " << first_far << ": reference " << ref.element_as_int64(first_far)
                                         << ", cuda " << got.element_as_int64(first_far);
  if (static_cast<double>(off_by_one) > 0.01 * static_cast<double>(ref.size()))
    return ::testing::AssertionFailure() << off_by_one << " of " << ref.size()
                                         << " elements differ by one step (at most 1% may)";
  return ::testing::AssertionSuccess() << off_by_one << " off by one";
}

size_t distinct_values(const Tensor& t) {
  std::set<int64_t> seen;
  for (int64_t k = 0; k < t.size(); ++k) seen.insert(t.element_as_int64(k));
  return seen.size();
}

enum class Compare { kExact, kOneStep };

// Runs the node on the reference and on its CUDA kernel with each launch in `launches` and compares.
// `min_distinct`: the reference output must take at least this many values (else the case tests little).
void check(const std::string& op, int opset, const std::vector<OpInput>& inputs, const OpAttributes& attrs,
           Compare compare, const std::vector<Launch>& launches = kAllLaunches, const SingleOpOptions& options = {},
           const std::string& want_tactic = "", size_t min_distinct = 0) {
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, 1, options);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  Result<Tensor> ref = first_output(run_single_op(op, opset, inputs, attrs, 1, options));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  if (min_distinct > 0) {
    ASSERT_GE(distinct_values(*ref), min_distinct) << "the reference output barely varies: a weak case";
  }
  for (Launch launch : launches) {
    SCOPED_TRACE(launch_name(launch));
    std::string tactic;
    Result<std::vector<Tensor>> got = run_node_on_cuda(*graph, {}, &tactic, launch);
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_EQ(got->size(), 1u);
    if (!want_tactic.empty()) {
      EXPECT_EQ(tactic, want_tactic);
    }
    EXPECT_TRUE(compare == Compare::kExact ? identical(*ref, (*got)[0]) : within_one_step(*ref, (*got)[0]));
  }
}

// Whether the backend has a kernel for the node (an error counts as a failure).
::testing::AssertionResult has_kernel(const std::string& op, int opset, const std::vector<OpInput>& inputs,
                                      const OpAttributes& attrs, const SingleOpOptions& options = {}) {
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, 1, options);
  if (!graph.ok()) return ::testing::AssertionFailure() << graph.status().message();
  auto kernel = cuda::create_cuda_kernel(*graph->graph->nodes()[0]);
  if (!kernel.ok()) return ::testing::AssertionFailure() << kernel.status().message();
  if (!*kernel) return ::testing::AssertionFailure() << "no kernel";
  return ::testing::AssertionSuccess();
}

// The factory's error for a malformed node ("" when it made a kernel or returned none).
std::string kernel_error(const std::string& op, int opset, const std::vector<OpInput>& inputs, const OpAttributes& attrs,
                         const SingleOpOptions& options = {}) {
  Result<SingleOpGraph> graph = build_single_op(op, opset, inputs, attrs, 1, options);
  if (!graph.ok()) return "graph: " + graph.status().message();
  auto kernel = cuda::create_cuda_kernel(*graph->graph->nodes()[0]);
  return kernel.ok() ? "" : kernel.status().message();
}

const Dims kOddShapes[] = {{1, 3, 7, 5}, {2, 17, 9, 11}};

// ---- QuantizeLinear -----------------------------------------------------------------------------------

// QuantizeLinear's inputs: x, the scale (x's dtype), and the zero point when `zp` is set; without one the
// output type comes from output_dtype (opset 21).
std::vector<OpInput> q_inputs(Tensor x, Tensor scale, const Tensor* zp) {
  std::vector<OpInput> in = {std::move(x), {std::move(scale), true}};
  if (zp) in.emplace_back(*zp, true);
  return in;
}

TEST(CudaQuant, QuantizeLinearPerTensor) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 100;
  for (DataType xt : {DataType::kF32, DataType::kF16})
    for (DataType yt : {DataType::kI8, DataType::kU8})
      for (bool with_zp : {false, true})
        for (const Dims& d : {Dims{1, 3, 7, 5}, Dims{2, 17, 9, 11}, Dims{70001}, Dims{}, Dims{0, 3}}) {
          SCOPED_TRACE(fmt::format("{} -> {}{}", describe(xt, d), dtype_name(yt), with_zp ? " with zp" : " without zp"));
          // x / scale spans about +-160: saturates at both ends for some elements, not for most.
          const Tensor zp = scalar_of(yt, yt == DataType::kI8 ? 3 : 128);
          const OpAttributes attrs = with_zp ? OpAttributes{} : OpAttributes{{"output_dtype", i(static_cast<int64_t>(yt))}};
          check("QuantizeLinear", 21, q_inputs(random_tensor(xt, d, -60, 60, seed++), scalar_of(xt, 0.37), with_zp ? &zp : nullptr),
                attrs, Compare::kExact, kAllLaunches, {}, "cuda:quantize");
        }
}

TEST(CudaQuant, QuantizeLinearTiesLimitsAndSpecialValues) {
  KILN_REQUIRE_GPU();
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  // Ties (x / scale exactly k + 0.5 for scales 1, 0.5 and 3), the int8 / uint8 limits and just beyond,
  // huge values, infinities, NaN (-> the zero point), signed zero, a denormal.
  const std::vector<double> xs = {0.5,    1.5,    2.5,    3.5,    -0.5,  -1.5,   -2.5,   0.49999997, -0.49999997,
                                      4.5,    7.5,    -7.5,   126.4,  126.5, 127.49, 127.5,  128.5,      -127.5,
                                      -128.4, -128.5, -129.5, 254.5,  255.5, 256.5,  -63.75, 63.75,      3e9,
                                      -3e9,   1e38,   -1e38,  inf,    -inf,  nan,    -0.0,   1e-45,      65504};
  const Dims d = {static_cast<int64_t>(xs.size())};
  for (DataType xt : {DataType::kF32, DataType::kF16})
    for (DataType yt : {DataType::kI8, DataType::kU8})
      for (double scale : {1.0, 0.5, 3.0, 0.1, 0.0})
        for (double zp_value : {0.0, yt == DataType::kI8 ? 5.0 : 128.0}) {
          SCOPED_TRACE(fmt::format("{} -> {}, scale {}, zero point {}", dtype_name(xt), dtype_name(yt), scale, zp_value));
          const Tensor zp = scalar_of(yt, zp_value);
          check("QuantizeLinear", 21, q_inputs(make_tensor(xt, d, xs), scalar_of(xt, scale), &zp), {}, Compare::kExact,
                {Launch::kEager});
        }
  // The reference rounds half to even and saturates: a wrong rounding mode must not pass.
  const Tensor zp = scalar_of(DataType::kI8, 0);
  Result<Tensor> ref = first_output(run_single_op(
      "QuantizeLinear", 21, q_inputs(make_tensor(DataType::kF32, {4}, {0.5, 1.5, -2.5, 127.5}), scalar_of(DataType::kF32, 1), &zp)));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  EXPECT_EQ(values<int8_t>(*ref), (std::vector<int8_t>{0, 2, -2, 127}));
}

TEST(CudaQuant, QuantizeLinearNearTies) {
  KILN_REQUIRE_GPU();
  // Per row (axis 0) a scale s and x = float((k + 0.5) * s) and its two float neighbours, k in [-130, 130]:
  // x / s lands on or next to a tie, so a kernel that multiplies by 1/s (or fuses differently) rounds some
  // of them the other way (3-18% of these for these scales, on the host).
  const std::vector<double> scales = {0.1, 0.37, 3.0, 0.0123, 0.7};
  std::vector<double> xs;
  for (double scale : scales) {
    const float s = static_cast<float>(scale);
    for (int k = -130; k <= 130; ++k) {
      const float x = static_cast<float>((k + 0.5) * static_cast<double>(s));
      for (float v : {std::nextafter(x, -INFINITY), x, std::nextafter(x, INFINITY)}) xs.push_back(v);
    }
  }
  const int64_t rows = static_cast<int64_t>(scales.size()), cols = static_cast<int64_t>(xs.size()) / rows;
  for (DataType yt : {DataType::kI8, DataType::kU8}) {
    SCOPED_TRACE(dtype_name(yt));
    const Tensor zp = make_tensor(yt, {rows}, std::vector<double>(scales.size(), yt == DataType::kI8 ? 0 : 128));
    check("QuantizeLinear", 21,
          q_inputs(make_tensor(DataType::kF32, {rows, cols}, xs), make_tensor(DataType::kF32, {rows}, scales), &zp),
          {{"axis", i(0)}}, Compare::kExact);
  }
}

TEST(CudaQuant, QuantizeLinearPerAxis) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 200;
  for (DataType xt : {DataType::kF32, DataType::kF16})
    for (DataType yt : {DataType::kI8, DataType::kU8})
      for (const Dims& d : kOddShapes)
        for (int64_t axis : {1, 0, 2, -1})
          for (bool with_zp : {true, false}) {
            SCOPED_TRACE(fmt::format("{} -> {}, axis {}{}", describe(xt, d), dtype_name(yt), axis,
                                     with_zp ? ", zero points" : ""));
            const int64_t c = d[static_cast<size_t>(axis < 0 ? axis + 4 : axis)];
            std::mt19937 rng(seed++);
            std::uniform_real_distribution<double> sd(0.05, 0.5), zd(yt == DataType::kI8 ? -20 : 100, yt == DataType::kI8 ? 20 : 150);
            std::vector<double> scales, zps;
            for (int64_t k = 0; k < c; ++k) {
              scales.push_back(sd(rng));
              zps.push_back(std::round(zd(rng)));
            }
            const Tensor zp = make_tensor(yt, {c}, zps);
            OpAttributes attrs = {{"axis", i(axis)}};
            if (!with_zp) attrs["output_dtype"] = i(static_cast<int64_t>(yt));
            check("QuantizeLinear", 21,
                  q_inputs(random_tensor(xt, d, -30, 30, seed++), make_tensor(xt, {c}, scales), with_zp ? &zp : nullptr),
                  attrs, Compare::kExact);
          }
}

// ---- DequantizeLinear ---------------------------------------------------------------------------------

// x over its dtype's full range; i32: +-2e9 (x - zero_point needs 64 bits, and its float rounds), or
// +-1e6 for f16 outputs, which the scales then keep mostly below f16's largest value.
Tensor random_quantized(DataType t, DataType out, const Dims& d, uint32_t seed) {
  if (t == DataType::kI8) return random_tensor(t, d, -128, 128, seed);
  if (t == DataType::kU8) return random_tensor(t, d, 0, 256, seed);
  const float r = out == DataType::kF16 ? 1e6f : 2e9f;
  return random_tensor(t, d, -r, r, seed);
}

constexpr int64_t kPerTensor = -100;  // not an axis: one scale for the tensor

TEST(CudaQuant, DequantizeLinear) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 300;
  for (DataType xt : {DataType::kI8, DataType::kU8, DataType::kI32})
    for (DataType st : {DataType::kF32, DataType::kF16})
      for (const Dims& d : kOddShapes)
        for (int64_t axis : std::initializer_list<int64_t>{kPerTensor, 0, 1, 2, 3})
          for (bool with_zp : {true, false}) {
            SCOPED_TRACE(fmt::format("{} with {} scales, axis {}{}", describe(xt, d), dtype_name(st), axis,
                                     with_zp ? ", zero points" : ""));
            const bool per_axis = axis != kPerTensor;
            const int64_t c = per_axis ? d[static_cast<size_t>(axis)] : 1;
            std::mt19937 rng(seed++);
            const bool small = xt == DataType::kI32 && st == DataType::kF16;
            std::uniform_real_distribution<double> sd(small ? 1e-5 : 0.001, small ? 0.05 : 0.7);
            std::vector<double> scales, zps;
            for (int64_t k = 0; k < c; ++k) {
              scales.push_back(sd(rng));
              zps.push_back(xt == DataType::kI8 ? -7 + 3 * (k % 5) : xt == DataType::kU8 ? 131 - 2 * (k % 7) : -2e9 + 1e8 * k);
            }
            const Dims pd = per_axis ? Dims{c} : Dims{};
            std::vector<OpInput> in = {random_quantized(xt, st, d, seed++), {make_tensor(st, pd, scales), true}};
            if (with_zp) in.emplace_back(make_tensor(xt, pd, zps), true);
            check("DequantizeLinear", 21, in, per_axis ? OpAttributes{{"axis", i(axis)}} : OpAttributes{}, Compare::kExact,
                  kAllLaunches, {}, "cuda:dequantize");
          }
}

TEST(CudaQuant, DequantizeLinearExtremes) {
  KILN_REQUIRE_GPU();
  // The ends of each range against zero points at the other end: i32 differences beyond int32, rounded
  // to float (and overflowing f16 to infinity).
  struct Case {
    DataType x;
    std::vector<double> values;
    double zp;
  };
  const Case cases[] = {
      {DataType::kI8, {-128, -127, -1, 0, 1, 126, 127}, 127},
      {DataType::kI8, {-128, -127, -1, 0, 1, 126, 127}, -128},
      {DataType::kU8, {0, 1, 127, 128, 129, 254, 255}, 255},
      {DataType::kU8, {0, 1, 127, 128, 129, 254, 255}, 0},
      {DataType::kI32, {-2147483648.0, -2147483647.0, -16777217, 16777217, 33554435, 2147483646, 2147483647}, -2147483648.0},
      {DataType::kI32, {-2147483648.0, -2147483647.0, -16777217, 16777217, 33554435, 2147483646, 2147483647}, 2147483647},
      {DataType::kI32, {-2147483648.0, -2147483647.0, -16777217, 16777217, 33554435, 2147483646, 2147483647}, 0},
  };
  for (const Case& c : cases)
    for (DataType st : {DataType::kF32, DataType::kF16})
      for (double scale : {1.0, 0.1, 3e-5, -0.25}) {
        SCOPED_TRACE(fmt::format("{} zero point {} scale {} ({})", dtype_name(c.x), c.zp, scale, dtype_name(st)));
        const Dims d = {static_cast<int64_t>(c.values.size())};
        check("DequantizeLinear", 21,
              {make_tensor(c.x, d, c.values), {scalar_of(st, scale), true}, {scalar_of(c.x, c.zp), true}}, {},
              Compare::kExact, {Launch::kEager});
      }
}

// ---- What the Q / DQ factories refuse -------------------------------------------------------------------

TEST(CudaQuant, LinearQuantUnsupportedAndMalformed) {
  KILN_REQUIRE_GPU();
  Tensor x = random_tensor(DataType::kF32, {2, 4, 3, 3}, -1, 1, 1);
  Tensor q = random_tensor(DataType::kI8, {2, 4, 3, 3}, -100, 100, 2);
  const Tensor s = scalar_of(DataType::kF32, 0.1), zi8 = scalar_of(DataType::kI8, 0);
  EXPECT_TRUE(has_kernel("QuantizeLinear", 21, {x, {s, true}, {zi8, true}}, {}));
  EXPECT_TRUE(has_kernel("DequantizeLinear", 21, {q, {s, true}, {zi8, true}}, {}));
  // Parameters that are not constants.
  EXPECT_FALSE(has_kernel("QuantizeLinear", 21, {x, s, {zi8, true}}, {}));
  EXPECT_FALSE(has_kernel("QuantizeLinear", 21, {x, {s, true}, zi8}, {}));
  EXPECT_FALSE(has_kernel("DequantizeLinear", 21, {q, s, {zi8, true}}, {}));
  // Blocked quantization.
  Tensor blocked_scale = make_tensor(DataType::kF32, {2, 2, 3, 3}, std::vector<double>(36, 0.1));
  EXPECT_FALSE(has_kernel("QuantizeLinear", 21, {x, {blocked_scale, true}},
                          {{"axis", i(1)}, {"block_size", i(2)}, {"output_dtype", i(static_cast<int64_t>(DataType::kI8))}}));
  // Dtypes the kernels do not run: Q of i32 data, 16-bit quantized types, f64 output.
  EXPECT_FALSE(has_kernel("QuantizeLinear", 21, {random_tensor(DataType::kI32, {4}, -9, 9, 3), {s, true}, {zi8, true}}, {}));
  EXPECT_FALSE(has_kernel("QuantizeLinear", 21, {x, {s, true}, {scalar_of(DataType::kI16, 0), true}}, {}));
  EXPECT_FALSE(has_kernel("DequantizeLinear", 21,
                          {make_tensor(DataType::kI16, {3}, {1, 2, 3}), {s, true}, {scalar_of(DataType::kI16, 0), true}}, {}));
  EXPECT_FALSE(has_kernel("DequantizeLinear", 21, {q, {Tensor::scalar<double>(0.1), true}, {zi8, true}}, {}));
  // Malformed: a zero point of another dtype than x, zero point and scale of different shapes, a 2-D scale.
  EXPECT_NE(kernel_error("DequantizeLinear", 21, {q, {s, true}, {scalar_of(DataType::kU8, 0), true}}, {}), "");
  EXPECT_NE(kernel_error("QuantizeLinear", 21,
                         {x, {make_tensor(DataType::kF32, {4}, {0.1, 0.2, 0.3, 0.4}), true}, {zi8, true}}, {}),
            "");
  EXPECT_NE(kernel_error("QuantizeLinear", 21, {x, {make_tensor(DataType::kF32, {2, 2}, {0.1, 0.2, 0.3, 0.4}), true}},
                         {{"output_dtype", i(static_cast<int64_t>(DataType::kI8))}}),
            "");
}

// ---- int8 max pooling ---------------------------------------------------------------------------------

// The windows of the float pool tests, plus one whose border windows see only padding (pads as large as
// the kernel): those give the type's lowest value.
std::vector<OpAttributes> max_pool_windows() {
  return {
      {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}},
      {{"kernel_shape", ints({2, 3})}, {"strides", ints({2, 1})}, {"ceil_mode", i(1)}},
      {{"kernel_shape", ints({3, 2})}, {"dilations", ints({2, 1})}, {"pads", ints({0, 1, 2, 0})}},
      {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"auto_pad", s("SAME_UPPER")}},
      {{"kernel_shape", ints({2, 2})}, {"pads", ints({2, 2, 2, 2})}},
  };
}

Dims to_nhwc(const Dims& d) { return {d[0], d[2], d[3], d[1]}; }

TEST(CudaQuant, Int8MaxPoolBothLayouts) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 400;
  for (DataType t : {DataType::kI8, DataType::kU8})
    for (const OpAttributes& window : max_pool_windows())
      // 32 channels: NHWC takes the 16-byte vector path.
      for (const Dims& d : {kOddShapes[0], kOddShapes[1], Dims{2, 32, 9, 11}})
        for (const char* layout : {"NCHW", "NHWC"})
          for (bool low_values : {false, true}) {
            SCOPED_TRACE(fmt::format("{} {}{}", layout, describe(t, d), low_values ? ", values near the lowest" : ""));
            // Values near the lowest (i8: -128..-100): a zero pad value would win every padded window.
            const float lo = t == DataType::kI8 ? -128 : 0, hi = low_values ? lo + 28 : lo + 256;
            OpAttributes attrs = window;
            attrs["mode"] = s("MaxPool");
            attrs["layout"] = s(layout);
            const Dims dims = std::string(layout) == "NHWC" ? to_nhwc(d) : d;
            check("Pool", 1, {random_tensor(t, dims, lo, hi, seed++)}, attrs, Compare::kExact, kAllLaunches, kKiln,
                  "cuda:pool");
          }
}

TEST(CudaQuant, Int8OnnxMaxPool) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 500;
  for (DataType t : {DataType::kI8, DataType::kU8}) {
    SCOPED_TRACE(dtype_name(t));
    const float lo = t == DataType::kI8 ? -128 : 0;
    for (const OpAttributes& window : max_pool_windows())
      check("MaxPool", 12, {random_tensor(t, {2, 17, 9, 11}, lo, lo + 256, seed++)}, window, Compare::kExact,
            {Launch::kEager});
    // 1-D and 3-D windows.
    check("MaxPool", 12, {random_tensor(t, {2, 5, 29}, lo, lo + 256, seed++)},
          {{"kernel_shape", ints({4})}, {"strides", ints({3})}, {"pads", ints({1, 2})}}, Compare::kExact);
    check("MaxPool", 12, {random_tensor(t, {1, 3, 6, 7, 9}, lo, lo + 30, seed++)},
          {{"kernel_shape", ints({2, 3, 2})}, {"strides", ints({2, 2, 3})}, {"pads", ints({0, 1, 1, 1, 1, 0})}},
          Compare::kExact);
  }
  // The all-padding windows give the type's lowest: check the reference agrees, so the comparison above
  // means what it says.
  Result<Tensor> ref = first_output(run_single_op("MaxPool", 12, {make_tensor(DataType::kI8, {1, 1, 1, 1}, {-5})},
                                                  {{"kernel_shape", ints({1, 1})}, {"pads", ints({1, 1, 1, 1})}}));
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  EXPECT_EQ(values<int8_t>(*ref), (std::vector<int8_t>{-128, -128, -128, -128, -5, -128, -128, -128, -128}));
}

TEST(CudaQuant, Int8PoolsWithoutKernel) {
  KILN_REQUIRE_GPU();
  for (DataType t : {DataType::kI8, DataType::kU8}) {
    SCOPED_TRACE(dtype_name(t));
    Tensor x = random_tensor(t, {1, 3, 8, 8}, 0, 100, 1);
    const OpAttributes window = {{"kernel_shape", ints({2, 2})}};
    EXPECT_TRUE(has_kernel("MaxPool", 12, {x}, window));
    EXPECT_FALSE(has_kernel("AveragePool", 19, {x}, window));
    EXPECT_FALSE(has_kernel("GlobalMaxPool", 1, {x}, {}));
    EXPECT_FALSE(has_kernel("GlobalAveragePool", 1, {x}, {}));
    for (const char* mode : {"AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
      OpAttributes attrs = {{"mode", s(mode)}, {"layout", s("NHWC")}};
      if (std::string(mode) == "AveragePool") attrs["kernel_shape"] = ints({2, 2});
      EXPECT_FALSE(has_kernel("Pool", 1, {x}, attrs, kKiln)) << mode;
    }
  }
}

// ---- kiln.QMatMul -------------------------------------------------------------------------------------

enum class BZeroPoint { kZero, kTensor, kColumn };

struct QMatMulCase {
  DataType a = DataType::kI8, b = DataType::kI8, y = DataType::kI8;
  Dims a_dims;  // [..., K]
  int64_t n = 0;
  bool per_column_scale = true;
  BZeroPoint b_zp = BZeroPoint::kZero;
  int64_t a_zp = 0;
  bool bias = false;
  std::string activation;  // "", "Relu" or "Clip"

  std::string describe() const {
    return fmt::format("a {} (zp {}) x b {}[{}x{}] (scale per {}, zp {}) -> {}{}{}", kiln::describe(a, a_dims), a_zp,
                       dtype_name(b), a_dims.back(), n, per_column_scale ? "column" : "tensor",
                       b_zp == BZeroPoint::kZero ? "0" : b_zp == BZeroPoint::kTensor ? "per tensor" : "per column",
                       dtype_name(y), bias ? ", bias" : "", activation.empty() ? "" : ", " + activation);
  }
};

struct NodeInputs {
  std::vector<OpInput> inputs;
  OpAttributes attrs;
};

// Random a and b over their full ranges; y_scale set so the outputs spread over most of y's range (about
// 3 standard deviations of the accumulator at 127 steps), a bias of about the accumulator's size.
NodeInputs qmatmul_inputs(const QMatMulCase& c, uint32_t seed) {
  const int64_t K = c.a_dims.back(), N = c.n;
  std::mt19937 rng(seed);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  const bool a_u8 = c.a == DataType::kU8, b_u8 = c.b == DataType::kU8;
  Tensor a = random_tensor(c.a, c.a_dims, a_u8 ? 0 : -128, a_u8 ? 256 : 128, seed + 1);
  Tensor b = random_tensor(c.b, {K, N}, b_u8 ? 0 : -127, b_u8 ? 256 : 128, seed + 2);
  const double a_scale = 0.02;
  std::vector<double> b_scales(static_cast<size_t>(c.per_column_scale ? N : 1));
  for (double& v : b_scales) v = c.per_column_scale ? uniform(0.004, 0.012) : 0.008;
  std::vector<double> b_zps(static_cast<size_t>(c.b_zp == BZeroPoint::kColumn ? N : 1), 0.0);
  for (double& v : b_zps) {
    if (c.b_zp == BZeroPoint::kTensor) v = b_u8 ? 128 : 3;
    if (c.b_zp == BZeroPoint::kColumn) v = std::round(b_u8 ? uniform(120, 136) : uniform(-6, 6));
  }
  const double acc_std = std::sqrt(static_cast<double>(K)) * 74.0 * 74.0;  // (a - a_zp), (b - b_zp) ~ U(-128, 128)
  const double y_scale = 3.0 * acc_std * a_scale * 0.008 / 127.0;
  const double y_zp = c.y == DataType::kI8 ? -5 : 128;
  const Dims col = c.per_column_scale ? Dims{N} : Dims{};
  NodeInputs r;
  r.inputs = {std::move(a),
              {scalar_of(DataType::kF32, a_scale), true},
              {scalar_of(c.a, static_cast<double>(c.a_zp)), true},
              {std::move(b), true},
              {make_tensor(DataType::kF32, col, b_scales), true},
              {make_tensor(c.b, c.b_zp == BZeroPoint::kColumn ? Dims{N} : Dims{}, b_zps), true},
              {scalar_of(DataType::kF32, y_scale), true},
              {scalar_of(c.y, y_zp), true}};
  if (c.bias) {
    std::vector<double> bias(static_cast<size_t>(N));
    for (double& v : bias) v = std::round(uniform(-2 * acc_std, 2 * acc_std));
    r.inputs.emplace_back(make_tensor(DataType::kI32, {N}, bias), true);
  }
  if (!c.activation.empty()) r.attrs["activation"] = s(c.activation);
  if (c.activation == "Clip")  // about -50 and +70 steps around the zero point, not on a tie
    r.attrs["activation_params"] = Attribute::of_floats({static_cast<float>(-50.3 * y_scale), static_cast<float>(70.2 * y_scale)});
  return r;
}

void check_qmatmul(const QMatMulCase& c, uint32_t seed, const std::vector<Launch>& launches) {
  SCOPED_TRACE(c.describe());
  const NodeInputs in = qmatmul_inputs(c, seed);
  const int64_t outputs = element_count(Dims(c.a_dims.begin(), c.a_dims.end() - 1)) * c.n;
  check("QMatMul", 1, in.inputs, in.attrs, Compare::kOneStep, launches, kKiln, "cuda:qmatmul_dp4a",
        static_cast<size_t>(std::min<int64_t>(20, outputs / 4)));
}

TEST(CudaQuant, QMatMulDtypesAndParameters) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 600;
  int run = 0;
  for (DataType a : {DataType::kI8, DataType::kU8})
    for (DataType b : {DataType::kI8, DataType::kU8})
      for (BZeroPoint zp : {BZeroPoint::kZero, BZeroPoint::kTensor, BZeroPoint::kColumn})
        for (bool per_column : {true, false})
          for (bool bias : {false, true})
            for (const char* act : {"", "Relu", "Clip"})
              for (DataType y : {DataType::kI8, DataType::kU8}) {
                if (b == DataType::kU8 && zp == BZeroPoint::kZero) continue;  // u8 weights are centred on ~128
                QMatMulCase c;
                c.a = a;
                c.b = b;
                c.y = y;
                c.a_dims = {3, 37};
                c.n = 29;
                c.per_column_scale = per_column;
                c.b_zp = zp;
                c.a_zp = a == DataType::kU8 ? (run % 2 ? 128 : 120) : (run % 2 ? 0 : -3);
                c.bias = bias;
                c.activation = act;
                // Launch modes in turn: every one of them meets every dtype combination somewhere.
                check_qmatmul(c, seed++, {kAllLaunches[static_cast<size_t>(run++ % 3)]});
              }
}

TEST(CudaQuant, QMatMulShapes) {
  KILN_REQUIRE_GPU();
  uint32_t seed = 700;
  // Tile edges (M one past a 32-row tile, N one past a 64-column tile, K below one 128-byte step, K over
  // three steps with the last partial), a batched and a 1-D a, one exact tile.
  const std::pair<Dims, int64_t> shapes[] = {{{33, 5}, 65},    {{2, 5, 37}, 29}, {{37}, 29},    {{32, 64}, 64},
                                             {{7, 100}, 130}, {{64, 33}, 1},    {{9, 300}, 70}};
  for (const auto& [a_dims, n] : shapes)
    for (DataType a : {DataType::kI8, DataType::kU8}) {
      QMatMulCase c;
      c.a = a;
      c.a_dims = a_dims;
      c.n = n;
      c.a_zp = a == DataType::kU8 ? 128 : 0;
      c.bias = true;
      c.b_zp = a == DataType::kU8 ? BZeroPoint::kColumn : BZeroPoint::kZero;
      check_qmatmul(c, seed++, kAllLaunches);
    }
}

TEST(CudaQuant, QMatMulRoundsTiesToEven) {
  KILN_REQUIRE_GPU();
  // Multipliers 0.5 and 0.25 (a_scale 1, b_scale 0.5 / 0.25, y_scale 1) and small accumulators: float and
  // double compute every t exactly, so the result must be exact, and many t are ties (k + 0.5), where a
  // rounding mode other than half to even would differ. The one-step tolerance of the other cases cannot
  // see that.
  uint32_t seed = 900;
  for (DataType y : {DataType::kI8, DataType::kU8})
    for (bool bias : {false, true}) {
      SCOPED_TRACE(fmt::format("y {}{}", dtype_name(y), bias ? ", bias" : ""));
      const int64_t K = 37, N = 23;
      std::vector<double> b_scales;
      for (int64_t n = 0; n < N; ++n) b_scales.push_back(n % 2 ? 0.5 : 0.25);
      std::vector<OpInput> in = {random_tensor(DataType::kI8, {5, K}, -3, 4, seed++),
                                 {scalar_of(DataType::kF32, 1), true},
                                 {scalar_of(DataType::kI8, 0), true},
                                 {random_tensor(DataType::kI8, {K, N}, -3, 4, seed++), true},
                                 {make_tensor(DataType::kF32, {N}, b_scales), true},
                                 {scalar_of(DataType::kI8, 0), true},
                                 {scalar_of(DataType::kF32, 1), true},
                                 {scalar_of(y, y == DataType::kI8 ? 0 : 128), true}};
      if (bias) in.emplace_back(random_tensor(DataType::kI32, {N}, -5, 5, seed++), true);
      check("QMatMul", 1, in, {}, Compare::kExact, kAllLaunches, kKiln, "cuda:qmatmul_dp4a", 10);
    }
}

TEST(CudaQuant, QMatMulResNet50Classifier) {
  KILN_REQUIRE_GPU();
  // kiln's ResNet-50 classifier: [batch, 2048] x [2048, 1000], i8 per-column weights with zero point 0,
  // an int32 bias; batch 128 and 1.
  uint32_t seed = 800;
  for (int64_t batch : {128, 1})
    for (const char* act : {"", "Relu"}) {
      QMatMulCase c;
      c.a_dims = {batch, 2048};
      c.n = 1000;
      c.bias = true;
      c.activation = act;
      check_qmatmul(c, seed++, batch == 128 && std::string(act).empty() ? kAllLaunches : std::vector<Launch>{Launch::kEager});
    }
  // u8 activations with a zero point and a clipped u8 output.
  QMatMulCase c;
  c.a = DataType::kU8;
  c.a_zp = 128;
  c.y = DataType::kU8;
  c.a_dims = {128, 2048};
  c.n = 1000;
  c.bias = true;
  c.activation = "Clip";
  check_qmatmul(c, seed++, {Launch::kCapturedMisaligned});
}

TEST(CudaQuant, QMatMulUnsupportedAndMalformed) {
  KILN_REQUIRE_GPU();
  QMatMulCase c;
  c.a_dims = {3, 37};
  c.n = 29;
  c.bias = true;
  NodeInputs in = qmatmul_inputs(c, 1);
  EXPECT_TRUE(has_kernel("QMatMul", 1, in.inputs, in.attrs, kKiln));
  // b, or a scale, that is not a constant.
  for (size_t k : {3u, 4u, 6u}) {
    std::vector<OpInput> changed = in.inputs;
    changed[k].constant = false;
    EXPECT_FALSE(has_kernel("QMatMul", 1, changed, in.attrs, kKiln)) << "input " << k;
  }
  // Malformed: a bias of the wrong length, a per-tensor scale with several elements, a zero point of
  // another dtype than its operand.
  std::vector<OpInput> bad = in.inputs;
  bad[8] = OpInput(make_tensor(DataType::kI32, {30}, std::vector<double>(30, 1.0)), true);
  EXPECT_NE(kernel_error("QMatMul", 1, bad, in.attrs, kKiln), "");
  bad = in.inputs;
  bad[6] = OpInput(make_tensor(DataType::kF32, {2}, {0.1, 0.2}), true);
  EXPECT_NE(kernel_error("QMatMul", 1, bad, in.attrs, kKiln), "");
  bad = in.inputs;
  bad[2] = OpInput(scalar_of(DataType::kU8, 0), true);
  EXPECT_NE(kernel_error("QMatMul", 1, bad, in.attrs, kKiln), "");
}

}  // namespace
}  // namespace kiln
