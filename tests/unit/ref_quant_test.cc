// Focused tests of the quant family (quantization, integer matmul/conv, RNN/GRU/LSTM): cases the official
// backend tests miss, and bad input that must give an error Status rather than a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

TEST(RefQuant, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  auto x = tensor<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, 3.49f}, {8});
  auto out = run_single_op("QuantizeLinear", 13, {{x}, {Tensor::scalar(1.0f)}, {Tensor::scalar<uint8_t>(0)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 2, 2, 0, 0, 255, 0, 3}));
  out = run_single_op("QuantizeLinear", 13, {{x}, {Tensor::scalar(1.0f)}, {Tensor::scalar<int8_t>(1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{1, 3, 3, 1, -1, 127, -128, 4}));
}

TEST(RefQuant, QuantizeLinearWithoutZeroPointIsUint8) {
  auto out = run_single_op("QuantizeLinear", 13, {{tensor<float>({-1.0f, 4.0f, 600.0f}, {3})}, {Tensor::scalar(2.0f)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dtype(), DataType::kU8);
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 2, 255}));
}

TEST(RefQuant, QuantizeLinearPerAxisNegativeAxis) {
  // x [2,3], per-column scales on axis -1.
  auto x = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto out = run_single_op("QuantizeLinear", 13,
                    {{x}, {tensor<float>({1.0f, 2.0f, 4.0f}, {3})}, {tensor<uint8_t>({0, 10, 20}, {3})}},
                    {{"axis", Attribute::of_int(-1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{1, 11, 21, 4, 12, 22}));  // 2/2=1, 3/4=.75->1...
}

TEST(RefQuant, QuantizeLinearBadAxisOrScaleIsAnError) {
  auto x = tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto out = run_single_op("QuantizeLinear", 13, {{x}, {tensor<float>({1, 1, 1}, {3})}}, {{"axis", Attribute::of_int(2)}});
  EXPECT_FALSE(out.ok());
  out = run_single_op("QuantizeLinear", 13, {{x}, {tensor<float>({1, 1, 1, 1}, {4})}}, {{"axis", Attribute::of_int(1)}});
  EXPECT_FALSE(out.ok());
  out = run_single_op("QuantizeLinear", 13, {{x}, {tensor<float>({1, 1, 1}, {3})}, {tensor<uint8_t>({1, 1}, {2})}});
  EXPECT_FALSE(out.ok());
}

TEST(RefQuant, QuantizeLinearBlocked) {
  // x [1,4] in blocks of 2 along axis 1: scales [1,2].
  auto out = run_single_op("QuantizeLinear", 21,
                    {{tensor<float>({2, 4, 2, 4}, {1, 4})}, {tensor<float>({2.0f, 1.0f}, {1, 2})}},
                    {{"axis", Attribute::of_int(1)}, {"block_size", Attribute::of_int(2)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{1, 2, 2, 4}));
}

TEST(RefQuant, DequantizeLinearInt32AndPerAxis) {
  auto out = run_single_op("DequantizeLinear", 13, {{tensor<int32_t>({-5, 0, 7}, {3})}, {Tensor::scalar(0.5f)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{-2.5f, 0.0f, 3.5f}));
  out = run_single_op("DequantizeLinear", 13,
               {{tensor<uint8_t>({10, 20, 30, 40}, {2, 2})}, {tensor<float>({1.0f, 0.5f}, {2})},
                {tensor<uint8_t>({10, 20}, {2})}},
               {{"axis", Attribute::of_int(0)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{0.0f, 10.0f, 5.0f, 10.0f}));
}

TEST(RefQuant, DynamicQuantizeLinearAllZeros) {
  auto out = run_single_op("DynamicQuantizeLinear", 11, {{tensor<float>({0, 0, 0}, {3})}}, {}, 3);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_TRUE(std::isfinite((*out)[1].data<float>()[0]));
}

TEST(RefQuant, MatMulIntegerPerColumnZeroPointMatchesNaive) {
  // A [2,3] u8 with scalar zp 3; B [3,2] i8 with per-column zp [1,-2].
  std::vector<uint8_t> a = {1, 2, 3, 250, 4, 0};
  std::vector<int8_t> b = {-128, 127, 5, -6, 0, 3};
  std::vector<int8_t> bz = {1, -2};
  auto out = run_single_op("MatMulInteger", 10,
                    {{tensor(a, {2, 3})}, {tensor(b, {3, 2})}, {Tensor::scalar<uint8_t>(3)}, {tensor(bz, {2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 2}));
  std::vector<int32_t> want(4, 0);
  for (int m = 0; m < 2; ++m)
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 3; ++k) want[m * 2 + n] += (a[m * 3 + k] - 3) * (b[k * 2 + n] - bz[n]);
  EXPECT_EQ(values<int32_t>((*out)[0]), want);
}

TEST(RefQuant, MatMulIntegerShapeMismatchIsAnError) {
  auto out = run_single_op("MatMulInteger", 10, {{tensor<uint8_t>({1, 2, 3}, {1, 3})}, {tensor<uint8_t>({1, 2}, {2, 1})}});
  EXPECT_FALSE(out.ok());
  out = run_single_op("MatMulInteger", 10,
               {{tensor<uint8_t>({1, 2}, {1, 2})}, {tensor<uint8_t>({1, 2}, {2, 1})}, {tensor<uint8_t>({1, 2, 3}, {3})}});
  EXPECT_FALSE(out.ok());
}

TEST(RefQuant, QLinearMatMulSaturatesAndRoundsHalfToEven) {
  // 1x1 matmuls: acc = (a - 0) * (b - 0); y = round(acc * 0.5) + 0.
  auto run = [](uint8_t a, uint8_t b) {
    auto out = run_single_op("QLinearMatMul", 10,
                      {{tensor<uint8_t>({a}, {1, 1})}, {Tensor::scalar(1.0f)}, {Tensor::scalar<uint8_t>(0)},
                       {tensor<uint8_t>({b}, {1, 1})}, {Tensor::scalar(1.0f)}, {Tensor::scalar<uint8_t>(0)},
                       {Tensor::scalar(2.0f)}, {Tensor::scalar<uint8_t>(0)}});
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? (*out)[0].data<uint8_t>()[0] : uint8_t{77};
  };
  EXPECT_EQ(run(5, 1), 2);      // 2.5 -> 2
  EXPECT_EQ(run(7, 1), 4);      // 3.5 -> 4
  EXPECT_EQ(run(200, 200), 255);  // 20000 saturates
}

TEST(RefQuant, ConvIntegerPaddingUsesZeroPointAndBadGroupIsAnError) {
  // x [1,1,3] u8, zp 2; w [1,1,3] all 1; pads 1: padded positions contribute nothing.
  auto x = tensor<uint8_t>({3, 4, 5}, {1, 1, 3});
  auto w = tensor<uint8_t>({1, 1, 1}, {1, 1, 3});
  auto out = run_single_op("ConvInteger", 10, {{x}, {w}, {Tensor::scalar<uint8_t>(2)}},
                    {{"pads", Attribute::of_ints({1, 1})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{1 + 2, 1 + 2 + 3, 2 + 3}));
  out = run_single_op("ConvInteger", 10, {{x}, {w}}, {{"group", Attribute::of_int(2)}});
  EXPECT_FALSE(out.ok());
  out = run_single_op("ConvInteger", 10, {{x}, {tensor<uint8_t>({1}, {1})}});
  EXPECT_FALSE(out.ok());
}

TEST(RefQuant, QLinearConvPerChannelScaleAndBias) {
  // x [1,1,1,1] = 10 (zp 0, scale 1); two output channels with w = 1, scales [1, 0.5], bias [1, -3]; y_scale 1.
  auto out = run_single_op("QLinearConv", 10,
                    {{tensor<uint8_t>({10}, {1, 1, 1, 1})}, {Tensor::scalar(1.0f)}, {Tensor::scalar<uint8_t>(0)},
                     {tensor<int8_t>({1, 1}, {2, 1, 1, 1})}, {tensor<float>({1.0f, 0.5f}, {2})},
                     {Tensor::scalar<int8_t>(0)}, {Tensor::scalar(1.0f)}, {Tensor::scalar<uint8_t>(0)},
                     {tensor<int32_t>({1, -3}, {2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{11, 4}));  // 11*1; (10-3)*0.5 = 3.5 -> 4
}

// A small deterministic pseudo-random fill.
std::vector<float> fill(size_t n, float seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(seed + 0.7f * static_cast<float>(i)) * 0.5f;
  return v;
}

// Transposes the first two axes of a rank-3 or rank-4 tensor (layout 0 <-> layout 1).
Tensor swap01(const Tensor& t) {
  Dims d = t.dims();
  std::swap(d[0], d[1]);
  Tensor out(t.dtype(), d);
  int64_t inner = t.size() / (t.dim(0) * t.dim(1));
  for (int64_t a = 0; a < t.dim(0); ++a)
    for (int64_t b = 0; b < t.dim(1); ++b)
      for (int64_t k = 0; k < inner; ++k)
        out.data<float>()[(b * t.dim(0) + a) * inner + k] = t.data<float>()[(a * t.dim(1) + b) * inner + k];
  return out;
}

TEST(RefQuant, LstmLayoutOneMatchesLayoutZero) {
  const int64_t T = 3, B = 2, I = 2, H = 3, D = 2;
  Tensor x = tensor(fill(T * B * I, 0.1f), {T, B, I});
  Tensor w = tensor(fill(D * 4 * H * I, 1.0f), {D, 4 * H, I});
  Tensor r = tensor(fill(D * 4 * H * H, 2.0f), {D, 4 * H, H});
  Tensor bias = tensor(fill(D * 8 * H, 3.0f), {D, 8 * H});
  Tensor h0 = tensor(fill(D * B * H, 4.0f), {D, B, H});
  Tensor c0 = tensor(fill(D * B * H, 5.0f), {D, B, H});
  Tensor p = tensor(fill(D * 3 * H, 6.0f), {D, 3 * H});
  std::map<std::string, Attribute> attrs = {{"hidden_size", Attribute::of_int(H)},
                                            {"direction", Attribute::of_string("bidirectional")}};
  auto a = run_single_op("LSTM", 14, {{x}, {w}, {r}, {bias}, {}, {h0}, {c0}, {p}}, attrs, 3);
  ASSERT_TRUE(a.ok()) << a.status().message();
  attrs["layout"] = Attribute::of_int(1);
  auto b = run_single_op("LSTM", 14, {{swap01(x)}, {w}, {r}, {bias}, {}, {swap01(h0)}, {swap01(c0)}, {p}}, attrs, 3);
  ASSERT_TRUE(b.ok()) << b.status().message();
  // layout 1: Y [B, T, D, H] = Y0 [T, D, B, H] with axes (2, 0, 1, 3); Y_h/Y_c [B, D, H].
  const Tensor& y0 = (*a)[0];
  const Tensor& y1 = (*b)[0];
  ASSERT_EQ(y1.dims(), (Dims{B, T, D, H}));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t bb = 0; bb < B; ++bb)
        for (int64_t j = 0; j < H; ++j)
          EXPECT_FLOAT_EQ(y0.data<float>()[((t * D + d) * B + bb) * H + j],
                          y1.data<float>()[((bb * T + t) * D + d) * H + j]);
  for (int o = 1; o < 3; ++o) EXPECT_EQ(values<float>(swap01((*a)[o])), values<float>((*b)[o]));
  // The forward half of Y_h equals Y at the last step; the reverse half equals Y at step 0.
  for (int64_t bb = 0; bb < B; ++bb)
    for (int64_t j = 0; j < H; ++j) {
      EXPECT_FLOAT_EQ((*a)[1].data<float>()[(0 * B + bb) * H + j], y0.data<float>()[(((T - 1) * D + 0) * B + bb) * H + j]);
      EXPECT_FLOAT_EQ((*a)[1].data<float>()[(1 * B + bb) * H + j], y0.data<float>()[((0 * D + 1) * B + bb) * H + j]);
    }
}

TEST(RefQuant, RnnSequenceLensZeroPadsAndStopsEarly) {
  const int64_t T = 3, B = 2, I = 1, H = 2;
  Tensor x = tensor(fill(T * B * I, 0.3f), {T, B, I});
  Tensor w = tensor(fill(H * I, 1.0f), {1, H, I});
  Tensor r = tensor(fill(H * H, 2.0f), {1, H, H});
  auto out = run_single_op("RNN", 14, {{x}, {w}, {r}, {}, {tensor<int32_t>({3, 1}, {B})}},
                    {{"hidden_size", Attribute::of_int(H)}}, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const float* y = (*out)[0].data<float>();
  const float* yh = (*out)[1].data<float>();
  for (int64_t t = 1; t < T; ++t)
    for (int64_t j = 0; j < H; ++j) EXPECT_EQ(y[(t * B + 1) * H + j], 0.0f);
  for (int64_t j = 0; j < H; ++j) {
    EXPECT_EQ(yh[1 * H + j], y[(0 * B + 1) * H + j]);
    EXPECT_EQ(yh[0 * H + j], y[(2 * B + 0) * H + j]);
    // First step from h0 = 0 with no bias: tanh(x * w).
    EXPECT_NEAR(y[(0 * B + 1) * H + j], std::tanh(x.data<float>()[1] * w.data<float>()[j]), 1e-6);
  }
}

TEST(RefQuant, RecurrentBadInputIsAnError) {
  const int64_t H = 2;
  Tensor x = tensor(fill(4, 0.0f), {2, 1, 2});
  Tensor w = tensor(fill(3 * H * 2, 1.0f), {1, 3 * H, 2});
  Tensor r = tensor(fill(3 * H * H, 2.0f), {1, 3 * H, H});
  std::map<std::string, Attribute> attrs = {{"hidden_size", Attribute::of_int(H)}};
  EXPECT_TRUE(run_single_op("GRU", 14, {{x}, {w}, {r}}, attrs, 2).ok());
  EXPECT_FALSE(run_single_op("GRU", 14, {{x}, {tensor(fill(2 * H * 2, 1.0f), {1, 2 * H, 2})}, {r}}, attrs, 2).ok());
  EXPECT_FALSE(run_single_op("GRU", 14, {{x}, {w}, {r}, {}, {tensor<int32_t>({5}, {1})}}, attrs, 2).ok());
  auto bad_act = attrs;
  bad_act["activations"] = Attribute::of_strings({"Sigmoid", "Nope"});
  EXPECT_FALSE(run_single_op("GRU", 14, {{x}, {w}, {r}}, bad_act, 2).ok());
  auto bad_dir = attrs;
  bad_dir["direction"] = Attribute::of_string("sideways");
  EXPECT_FALSE(run_single_op("GRU", 14, {{x}, {w}, {r}}, bad_dir, 2).ok());
  EXPECT_FALSE(run_single_op("LSTM", 14, {{x}, {w}, {r}}, attrs, 3).ok());  // W has 3 gates, LSTM needs 4
}

}  // namespace
}  // namespace kiln
