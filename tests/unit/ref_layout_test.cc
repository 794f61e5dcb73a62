// The layout-aware ops in NHWC (kiln.FusedConv, kiln.QConv, kiln.Pool): on random inputs of odd sizes the
// NHWC node's output is exactly the transpose of the NCHW node's output, and bad layouts are errors that
// name the node.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/float16.h"
#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};
const std::vector<int64_t> kToNchw = {0, 3, 1, 2};

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
Attribute str(std::string s) { return Attribute::of_string(std::move(s)); }

// A rank-4 tensor with its axes permuted (output axis i = input axis perm[i]), element bytes copied as is.
Tensor permuted(const Tensor& t, const std::vector<int64_t>& perm) {
  Dims out_dims;
  for (int64_t p : perm) out_dims.push_back(t.dim(p));
  Tensor out(t.dtype(), out_dims);
  const size_t bytes = dtype_size(t.dtype());
  std::vector<int64_t> strides(4, 1);
  for (int d = 2; d >= 0; --d) strides[d] = strides[d + 1] * t.dim(d + 1);
  int64_t i = 0;
  for (int64_t a = 0; a < out_dims[0]; ++a)
    for (int64_t b = 0; b < out_dims[1]; ++b)
      for (int64_t c = 0; c < out_dims[2]; ++c)
        for (int64_t d = 0; d < out_dims[3]; ++d, ++i) {
          const int64_t idx[4] = {a, b, c, d};
          int64_t src = 0;
          for (int k = 0; k < 4; ++k) src += idx[k] * strides[perm[k]];
          std::memcpy(static_cast<char*>(out.raw()) + i * bytes, static_cast<const char*>(t.raw()) + src * bytes,
                      bytes);
        }
  return out;
}

Tensor random_f32(Dims dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Tensor t(DataType::kF32, std::move(dims));
  for (float& x : t.span<float>()) x = dist(rng);
  return t;
}

template <typename T>
Tensor random_int(Dims dims, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  Tensor t(dtype_of<T>(), std::move(dims));
  for (T& x : t.span<T>()) x = static_cast<T>(dist(rng));
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.dims() == b.dims() && std::memcmp(a.raw(), b.raw(), a.byte_size()) == 0;
}

const SingleOpOptions kKiln{.domain = "kiln"};

// Runs `op` in NCHW on `inputs`, then in NHWC with the `activation_inputs` transposed, and expects the NHWC
// output to be the NCHW output transposed, bit for bit.
void expect_nhwc_is_transposed_nchw(const std::string& op, std::vector<OpInput> inputs, OpAttributes attrs,
                                    std::vector<size_t> activation_inputs) {
  auto nchw = first_output(run_single_op(op, 1, inputs, attrs, 1, kKiln));
  ASSERT_TRUE(nchw.ok()) << nchw.status().message();
  for (size_t i : activation_inputs)
    if (i < inputs.size()) inputs[i].value = permuted(inputs[i].value, kToNhwc);
  attrs["layout"] = str("NHWC");
  auto nhwc = first_output(run_single_op(op, 1, inputs, attrs, 1, kKiln));
  ASSERT_TRUE(nhwc.ok()) << nhwc.status().message();
  std::set<double> distinct;  // the case must exercise the kernel, not saturate it into a constant
  for (int64_t i = 0; i < nchw->size(); ++i) distinct.insert(nchw->element_as_double(i));
  EXPECT_GE(distinct.size(), 5u) << op;
  Tensor want = permuted(*nchw, kToNhwc);
  EXPECT_TRUE(same_bytes(*nhwc, want)) << op << ": NHWC " << nhwc->type_string() << " vs transposed NCHW "
                                       << want.type_string();
  EXPECT_TRUE(same_bytes(permuted(*nhwc, kToNchw), *nchw));
}

// The NCHW output shape of a conv (to size its residual).
Dims conv_output_dims(const std::string& op, const std::vector<OpInput>& inputs, const OpAttributes& attrs) {
  auto y = first_output(run_single_op(op, 1, inputs, attrs, 1, kKiln));
  EXPECT_TRUE(y.ok()) << y.status().message();
  return y.ok() ? y->dims() : Dims{};
}

struct ConvCase {
  int64_t c, m, group, kh, kw;
  OpAttributes attrs;
  bool residual;
};

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases = {
      {3, 4, 1, 3, 3,
       {{"strides", ints({2, 2})}, {"pads", ints({1, 0, 2, 1})}, {"dilations", ints({1, 2})},
        {"activation", str("Relu")}},
       true},
      // Depthwise, MobileNet's Clip(0, 6).
      {5, 5, 5, 3, 3,
       {{"pads", ints({1, 1, 1, 1})}, {"activation", str("Clip")},
        {"activation_params", Attribute::of_floats({0.0f, 6.0f})}},
       false},
      // Grouped, rectangular kernel, SAME_UPPER with stride 2.
      {6, 4, 2, 1, 3, {{"auto_pad", str("SAME_UPPER")}, {"strides", ints({2, 1})}}, true},
      // Pointwise with a residual, no activation.
      {5, 3, 1, 1, 1, {}, true},
  };
  for (ConvCase& k : cases) k.attrs["group"] = Attribute::of_int(k.group);
  return cases;
}

TEST(RefLayout, FusedConvNhwcIsTheTransposedNchwResult) {
  uint32_t seed = 1;
  for (const ConvCase& k : conv_cases()) {
    SCOPED_TRACE(::testing::Message() << "C=" << k.c << " M=" << k.m << " group=" << k.group);
    std::vector<OpInput> inputs = {{random_f32({2, k.c, 7, 5}, seed++)},
                                   {random_f32({k.m, k.c / k.group, k.kh, k.kw}, seed++), true},
                                   {random_f32({k.m}, seed++), true}};
    if (k.residual) inputs.push_back({random_f32(conv_output_dims("FusedConv", inputs, k.attrs), seed++)});
    expect_nhwc_is_transposed_nchw("FusedConv", inputs, k.attrs, {0, 3});
  }
}

// QConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B, z, z_scale, z_zp) in int8 and uint8.
template <typename T>
void check_qconv(int lo, int hi) {
  uint32_t seed = 100;
  for (const ConvCase& k : conv_cases()) {
    SCOPED_TRACE(::testing::Message() << "C=" << k.c << " M=" << k.m << " group=" << k.group);
    OpAttributes attrs = k.attrs;
    if (attrs.count("activation") && attrs["activation"].s == "Clip")
      attrs["activation_params"] = Attribute::of_floats({0.0f, 0.75f});
    const T zp = static_cast<T>(lo + 3);
    std::vector<OpInput> inputs = {{random_int<T>({2, k.c, 7, 5}, seed++, lo, hi)},
                                   {Tensor::scalar(0.02f), true},
                                   {Tensor::scalar<T>(zp), true},
                                   {random_int<int8_t>({k.m, k.c / k.group, k.kh, k.kw}, seed++, -127, 127), true},
                                   {random_f32({k.m}, seed++), true},
                                   {Tensor(DataType::kI8, {k.m}), true},
                                   {Tensor::scalar(0.05f), true},
                                   {Tensor::scalar<T>(zp), true},
                                   {random_int<int32_t>({k.m}, seed++, -500, 500), true}};
    for (float& s : inputs[4].value.span<float>()) s = std::abs(s) * 0.01f + 0.001f;  // per-channel scales
    if (k.residual) {
      inputs.push_back({random_int<T>(conv_output_dims("QConv", inputs, attrs), seed++, lo, hi)});
      inputs.push_back({Tensor::scalar(0.03f), true});
      inputs.push_back({Tensor::scalar<T>(zp), true});
    }
    expect_nhwc_is_transposed_nchw("QConv", inputs, attrs, {0, 9});
  }
}

TEST(RefLayout, QConvInt8NhwcIsTheTransposedNchwResult) { check_qconv<int8_t>(-128, 127); }
TEST(RefLayout, QConvUint8NhwcIsTheTransposedNchwResult) { check_qconv<uint8_t>(0, 255); }

std::vector<std::pair<std::string, OpAttributes>> pool_cases() {
  return {
      {"MaxPool", {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}}},
      {"MaxPool",
       {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})}, {"pads", ints({1, 0, 1, 1})},
        {"ceil_mode", Attribute::of_int(1)}, {"dilations", ints({1, 2})}}},
      {"MaxPool", {{"kernel_shape", ints({2, 2})}, {"auto_pad", str("SAME_LOWER")}, {"strides", ints({2, 2})}}},
      {"AveragePool", {{"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 1, 1})}}},
      {"AveragePool",
       {{"kernel_shape", ints({3, 2})}, {"strides", ints({2, 2})}, {"pads", ints({1, 1, 0, 1})},
        {"ceil_mode", Attribute::of_int(1)}, {"count_include_pad", Attribute::of_int(1)}}},
      {"AveragePool", {{"kernel_shape", ints({2, 3})}, {"dilations", ints({2, 1})}, {"ceil_mode", Attribute::of_int(1)}}},
      {"GlobalAveragePool", {}},
      {"GlobalMaxPool", {}},
  };
}

TEST(RefLayout, PoolNchwIsTheOnnxOpAndNhwcIsItsTranspose) {
  uint32_t seed = 200;
  for (auto [mode, attrs] : pool_cases()) {
    SCOPED_TRACE(mode);
    Tensor x = random_f32({2, 5, 7, 5}, seed++);
    auto onnx = first_output(run_single_op(mode, 19, {{x}}, attrs));
    ASSERT_TRUE(onnx.ok()) << onnx.status().message();
    attrs["mode"] = str(mode);
    auto pool = first_output(run_single_op("Pool", 1, {{x}}, attrs, 1, kKiln));
    ASSERT_TRUE(pool.ok()) << pool.status().message();
    EXPECT_TRUE(same_bytes(*pool, *onnx));
    expect_nhwc_is_transposed_nchw("Pool", {{x}}, attrs, {0});
  }
}

TEST(RefLayout, NhwcOutputShapesAreInferredChannelsLast) {
  auto b = build_single_op("Pool", 1, {{Tensor(DataType::kF32, {2, 7, 5, 3})}},
                           {{"mode", str("MaxPool")}, {"kernel_shape", ints({3, 3})}, {"strides", ints({2, 2})},
                            {"ceil_mode", Attribute::of_int(1)}, {"layout", str("NHWC")}},
                           1, kKiln);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->outputs[0]->type.to_string(), "f32[2,3,2,3]");
  b = build_single_op("FusedConv", 1,
                      {{Tensor(DataType::kF32, {2, 7, 5, 3})}, {Tensor(DataType::kF32, {4, 3, 3, 3}), true}},
                      {{"strides", ints({2, 2})}, {"layout", str("NHWC")}}, 1, kKiln);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->outputs[0]->type.to_string(), "f32[2,3,2,4]");
}

TEST(RefLayout, BadLayoutsAreErrorsNamingTheNode) {
  std::vector<OpInput> conv = {{Tensor(DataType::kF32, {1, 3, 4, 4})}, {Tensor(DataType::kF32, {2, 3, 1, 1}), true}};
  auto s = trace_single_op("FusedConv", 1, conv, {{"layout", str("NWHC")}}, 1, kKiln).status;
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(mentions(s, "kiln.FusedConv node 'n'") && mentions(s, "\"NWHC\"")) << s.message();
  // NHWC is 2-D only.
  std::vector<OpInput> conv1d = {{Tensor(DataType::kF32, {1, 3, 4})}, {Tensor(DataType::kF32, {2, 3, 1}), true}};
  s = trace_single_op("FusedConv", 1, conv1d, {{"layout", str("NHWC")}}, 1, kKiln).status;
  EXPECT_TRUE(mentions(s, "kiln.FusedConv node 'n'") && mentions(s, "rank-4")) << s.message();
  // The kernel checks too (inputs of unknown rank get past inference).
  s = trace_single_op("Pool", 1, {{Tensor(DataType::kF32, {1, 3, 4})}},
                      {{"mode", str("GlobalMaxPool")}, {"layout", str("NHWC")}}, 1,
                      {.domain = "kiln", .unknown_input_shapes = true})
          .status;
  EXPECT_TRUE(mentions(s, "kiln.Pool node 'n'") && mentions(s, "rank-4")) << s.message();
}

// kiln.PaddedSpaceToDepth: the inferred type (padded, space-to-depth'd, in output_layout, in `to`), its
// reference against the chain it stands for written out by hand, and each bad attribute named.
TEST(RefLayout, PaddedSpaceToDepthInfersAndChecks) {
  const Tensor x = random_f32({1, 3, 5, 6}, 300);
  const OpAttributes attrs = {{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, 1, 0, 1, 0, 2})},
                              {"output_layout", str("NHWC")}, {"to", Attribute::of_int(10)}};
  auto b = build_single_op("PaddedSpaceToDepth", 1, {{x}}, attrs, 1, kKiln);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->outputs[0]->type.to_string(), "f16[1,3,4,16]");
  auto y = first_output(run_single_op("PaddedSpaceToDepth", 1, {{x}}, attrs, 1, kKiln));
  ASSERT_TRUE(y.ok()) << y.status().message();
  // y[0, h, w, (u*2 + v)*4 + c] = f16(x[0, c, 2h + u - 1, 2w + v]), 0 outside X and for the padded channel.
  for (int64_t h = 0; h < 3; ++h)
    for (int64_t w = 0; w < 4; ++w)
      for (int64_t u = 0; u < 2; ++u)
        for (int64_t v = 0; v < 2; ++v)
          for (int64_t c = 0; c < 4; ++c) {
            const int64_t ih = 2 * h + u - 1, iw = 2 * w + v;
            const bool inside = c < 3 && ih >= 0 && ih < 5 && iw < 6;
            const float want = inside ? float(Float16(x.data<float>()[(c * 5 + ih) * 6 + iw])) : 0.0f;
            EXPECT_EQ(float(y->data<Float16>()[((h * 4 + w) * 4 + u * 2 + v) * 4 + c]), want) << h << w << u << v << c;
          }
  struct Bad {
    OpAttributes attrs;
    const char* says;
  };
  const Bad bad[] = {
      {{{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, 0, 0, 0, 1, 0})}}, "not divisible by blocksize 2"},
      {{{"blocksize", Attribute::of_int(0)}}, "blocksize must be positive"},
      {{{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, 1, 1})}}, "pads must have 6 values"},
      {{{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, -1, 0, 0, 1, 0})}}, "non-negative"},
      {{{"blocksize", Attribute::of_int(2)}, {"to", Attribute::of_int(6)}}, "only FLOAT to FLOAT16, INT8 or UINT8"},
      {{{"blocksize", Attribute::of_int(2)}, {"to", Attribute::of_int(3)}}, "scale inputs are required"},
      {{{"blocksize", Attribute::of_int(2)}, {"output_layout", str("NWHC")}}, "\"NWHC\""},
  };
  const Tensor even = random_f32({1, 3, 4, 6}, 301);
  for (const Bad& c : bad) {
    auto s = trace_single_op("PaddedSpaceToDepth", 1, {{even}}, c.attrs, 1, kKiln).status;
    EXPECT_TRUE(mentions(s, "kiln.PaddedSpaceToDepth node 'n'") && mentions(s, c.says)) << s.message();
  }
}

// to = INT8 with a FLOAT X: QuantizeLinear(X, scale, fill) padded with the fill (the zero point), computed here
// by hand: rint(x / scale) + zp (half to even), saturated; and a scale input without quantizing is refused.
TEST(RefLayout, PaddedSpaceToDepthQuantizes) {
  Tensor x = random_f32({1, 2, 4, 4}, 302);
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] *= 4.0f;  // some saturate at scale 0.02
  x.data<float>()[0] = 0.05f;  // 2.5: a tie, rounds to 2
  x.data<float>()[1] = 0.07f;  // 3.5: rounds to 4
  const Tensor scale = Tensor::scalar<float>(0.02f), zp = Tensor::scalar<int8_t>(-3);
  const OpAttributes attrs = {{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, 1, 1, 0, 1, 1})},
                              {"to", Attribute::of_int(3)}};
  auto b = build_single_op("PaddedSpaceToDepth", 1, {{x}, {zp, true}, {scale, true}}, attrs, 1, kKiln);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->outputs[0]->type.to_string(), "i8[1,8,3,3]");
  auto y = first_output(run_single_op("PaddedSpaceToDepth", 1, {{x}, {zp, true}, {scale, true}}, attrs, 1, kKiln));
  ASSERT_TRUE(y.ok()) << y.status().message();
  int saturated = 0;
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t u = 0; u < 2; ++u)
      for (int64_t v = 0; v < 2; ++v)
        for (int64_t h = 0; h < 3; ++h)
          for (int64_t w = 0; w < 3; ++w) {
            const int64_t ih = 2 * h + u - 1, iw = 2 * w + v - 1;
            int want = -3;
            if (ih >= 0 && ih < 4 && iw >= 0 && iw < 4) {
              const float q = std::nearbyint(x.data<float>()[(c * 4 + ih) * 4 + iw] / 0.02f) - 3.0f;
              want = static_cast<int>(std::clamp(q, -128.0f, 127.0f));
              saturated += q < -128.0f || q > 127.0f;
            }
            EXPECT_EQ(y->data<int8_t>()[(((u * 2 + v) * 2 + c) * 3 + h) * 3 + w], want) << c << u << v << h << w;
          }
  EXPECT_GT(saturated, 0);
  // x[0] (c 0, row 0, column 0) lands at h = w = 0 through u = v = 1 (the leading pads): 2.5 -> 2, 3.5 -> 4.
  EXPECT_EQ(y->data<int8_t>()[(((1 * 2 + 1) * 2 + 0) * 3 + 0) * 3 + 0], int8_t{2 - 3});
  EXPECT_EQ(y->data<int8_t>()[(((1 * 2 + 0) * 2 + 0) * 3 + 0) * 3 + 1], int8_t{4 - 3});  // x[1]: column 1
  const OpAttributes plain = {{"blocksize", Attribute::of_int(2)}, {"pads", ints({0, 0, 0, 0, 0, 0})}};
  auto s = trace_single_op("PaddedSpaceToDepth", 1, {{x}, {Tensor::scalar<float>(0.0f), true}, {scale, true}}, plain,
                           1, kKiln)
               .status;
  EXPECT_TRUE(mentions(s, "only taken when to is INT8 or UINT8")) << s.message();
}

TEST(RefLayout, PoolRejectsUnknownModesAndForeignAttributes) {
  Tensor x(DataType::kF32, {1, 3, 4, 4});
  auto s = trace_single_op("Pool", 1, {{x}}, {{"mode", str("LpPool")}, {"kernel_shape", ints({2, 2})}}, 1, kKiln)
               .status;
  EXPECT_TRUE(mentions(s, "kiln.Pool node 'n'") && mentions(s, "LpPool")) << s.message();
  s = trace_single_op("Pool", 1, {{x}},
                      {{"mode", str("MaxPool")}, {"kernel_shape", ints({2, 2})}, {"count_include_pad", Attribute::of_int(1)}},
                      1, kKiln)
          .status;
  EXPECT_TRUE(mentions(s, "count_include_pad")) << s.message();
  s = trace_single_op("Pool", 1, {{x}}, {{"mode", str("AveragePool")}}, 1, kKiln).status;
  EXPECT_TRUE(mentions(s, "kernel_shape")) << s.message();
  s = trace_single_op("Pool", 1, {{x}}, {}, 1, kKiln).status;
  EXPECT_TRUE(mentions(s, "mode")) << s.message();
}

}  // namespace
}  // namespace kiln
