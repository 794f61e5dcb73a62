// Int8 weight / bias quantization and requantization: exact ties, int8 and int32 limits, zero channels.
// Weights and scales are chosen as powers of two so that every expected value is exact by hand.
#include <gtest/gtest.h>

#include <cfenv>
#include <climits>
#include <cmath>
#include <random>
#include <vector>

#include "quant/weight_quant.h"

namespace kiln {
namespace {

constexpr float k2m8 = 0.00390625f;  // 2^-8

TEST(QuantWeights, RoundHalfEvenOnTies) {
  const std::pair<double, double> cases[] = {{0.5, 0.0},   {1.5, 2.0},   {2.5, 2.0},   {-0.5, -0.0}, {-1.5, -2.0},
                                             {-2.5, -2.0}, {126.5, 126.0}, {127.5, 128.0}, {2.4999999, 2.0},
                                             {-127.5, -128.0}, {4503599627370497.0, 4503599627370497.0}};
  for (auto [x, expected] : cases) EXPECT_EQ(round_half_even(x), expected) << x;
}

TEST(QuantWeights, PerChannelAxis0WithTiesLimitsAndZeroChannel) {
  // [3 channels, 2, 2]; channel 0 and 1 have max |w| = 127 * 2^-7, so scale = 2^-7 and w / scale is exact.
  std::vector<float> w = {
      0.9921875f,  1 * k2m8,  3 * k2m8,  5 * k2m8,   // 127, 0.5→0, 1.5→2, 2.5→2
      -0.9921875f, -1 * k2m8, -3 * k2m8, 7 * k2m8,   // -127, -0.5→0, -1.5→-2, 3.5→4
      0.0f,        -0.0f,     0.0f,      0.0f,       // zero channel: scale 1 (not 0), all q = 0
  };
  Result<QuantizedWeights> q = quantize_weights_per_channel(Tensor::from_vector(w, {3, 2, 2}), 0);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->scales, (std::vector<float>{0.0078125f, 0.0078125f, 1.0f}));
  EXPECT_EQ(q->values.dtype(), DataType::kI8);
  EXPECT_EQ(q->values.dims(), (Dims{3, 2, 2}));
  std::vector<int8_t> got(q->values.span<int8_t>().begin(), q->values.span<int8_t>().end());
  EXPECT_EQ(got, (std::vector<int8_t>{127, 0, 2, 2, -127, 0, -2, 4, 0, 0, 0, 0}));
}

TEST(QuantWeights, PerChannelAxis1ForGemmKxN) {
  // B is [K=2, N=3]; channels are columns. Column 1 is zero; -63.5 is a tie that goes to -64.
  std::vector<float> w = {1.984375f,  0.0f, -3.96875f,   // 127 * 2^-6, 0, -127 * 2^-5
                          -0.9921875f, 0.0f, 0.015625f};  // -63.5 * 2^-6, 0, 0.5 * 2^-5
  Result<QuantizedWeights> q = quantize_weights_per_channel(Tensor::from_vector(w, {2, 3}), 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->scales, (std::vector<float>{0.015625f, 1.0f, 0.03125f}));
  std::vector<int8_t> got(q->values.span<int8_t>().begin(), q->values.span<int8_t>().end());
  EXPECT_EQ(got, (std::vector<int8_t>{127, 0, -127, -64, 0, 0}));
}

TEST(QuantWeights, MatchesAPlainReferenceOnRandomWeights) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  const int64_t outer = 5, channels = 7, inner = 9;  // quantize along the middle axis of [5, 7, 9]
  std::vector<float> w(outer * channels * inner);
  for (float& v : w) v = normal(rng);
  Result<QuantizedWeights> q = quantize_weights_per_channel(Tensor::from_vector(w, {outer, channels, inner}), 1);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  for (int64_t c = 0; c < channels; ++c) {
    float amax = 0;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) amax = std::max(amax, std::fabs(w[(o * channels + c) * inner + k]));
    }
    const float scale = amax / 127.0f;
    EXPECT_EQ(q->scales[c], scale);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) {
        size_t i = (o * channels + c) * inner + k;
        float expected = std::clamp(std::nearbyint(w[i] / scale), -127.0f, 127.0f);
        EXPECT_EQ(q->values.data<int8_t>()[i], static_cast<int8_t>(expected)) << i;
      }
    }
  }
}

TEST(QuantWeights, SubnormalChannelAndHalfInput) {
  Result<QuantizedWeights> tiny = quantize_weights_per_channel(Tensor::from_vector<float>({1e-40f, -1e-41f}, {1, 2}), 0);
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->scales[0], 1.0f);  // 1e-40 / 127 would be a denormal: treated as a zero channel
  EXPECT_EQ(tiny->values.data<int8_t>()[0], 0);

  std::vector<Float16> half = {Float16(0.9921875f), Float16(3 * k2m8)};
  Result<QuantizedWeights> h = quantize_weights_per_channel(Tensor::from_vector(half, {1, 2}), 0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->scales[0], 0.0078125f);
  EXPECT_EQ(h->values.data<int8_t>()[1], 2);
}

TEST(QuantWeights, RejectsBadWeights) {
  EXPECT_FALSE(quantize_weights_per_channel(Tensor::from_vector<float>({1.0f, NAN}, {2}), 0).ok());
  EXPECT_FALSE(quantize_weights_per_channel(Tensor::from_vector<float>({1.0f, INFINITY}, {2}), 0).ok());
  EXPECT_FALSE(quantize_weights_per_channel(Tensor::from_vector<float>({1.0f, 2.0f}, {2}), 1).ok());
  EXPECT_FALSE(quantize_weights_per_channel(Tensor::from_vector<float>({1.0f, 2.0f}, {2}), -1).ok());
  EXPECT_FALSE(quantize_weights_per_channel(Tensor::from_vector<int32_t>({1, 2}, {2}), 0).ok());
}

TEST(QuantBias, TiesAndInt32Saturation) {
  // input scale 0.5, weight scales 2^-7 and 2^-6 → bias scales 2^-8 and 2^-7.
  std::vector<float> weight_scales = {0.0078125f, 0.015625f};
  Result<QuantizedBias> b = quantize_bias(std::vector<float>{3 * k2m8 / 2, -5 * k2m8}, 0.5f, weight_scales);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->scales, (std::vector<float>{k2m8, 2 * k2m8}));
  EXPECT_EQ(b->values, (std::vector<int32_t>{2, -2}));  // 1.5 → 2, -2.5 → -2

  // Per-tensor weight scale; 2^23 / 2^-8 = 2^31 saturates to INT32_MAX, -2^31 fits exactly.
  std::vector<float> one_scale = {0.0078125f};
  b = quantize_bias(std::vector<float>{8388608.0f, -8388608.0f, 1e30f, -1e30f}, 0.5f, one_scale);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->values, (std::vector<int32_t>{INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN}));
}

TEST(QuantBias, RejectsBadScalesAndSizes) {
  std::vector<float> bias = {1.0f, 2.0f}, scales = {1.0f, 1.0f};
  EXPECT_FALSE(quantize_bias(bias, 0.0f, scales).ok());
  EXPECT_FALSE(quantize_bias(bias, -1.0f, scales).ok());
  EXPECT_FALSE(quantize_bias(bias, NAN, scales).ok());
  EXPECT_FALSE(quantize_bias(bias, 1.0f, std::vector<float>{1.0f, 1.0f, 1.0f}).ok());
  EXPECT_FALSE(quantize_bias(std::vector<float>{NAN, 1.0f}, 1.0f, scales).ok());
  EXPECT_FALSE(quantize_bias(bias, 1.0f, std::vector<float>{0.0f, 1.0f}).ok());
}

TEST(QuantRequantize, TiesSaturationAndZeroPoint) {
  EXPECT_EQ(requantize(3, 0.5), 2);    // 1.5
  EXPECT_EQ(requantize(5, 0.5), 2);    // 2.5
  EXPECT_EQ(requantize(-5, 0.5), -2);  // -2.5
  EXPECT_EQ(requantize(-3, 0.5), -2);  // -1.5
  EXPECT_EQ(requantize(255, 0.5), 127);   // 127.5 → 128 → saturates
  EXPECT_EQ(requantize(-257, 0.5), -128);  // -128.5 → -128
  EXPECT_EQ(requantize(-255, 0.5, 0, -127, 127), -127);  // TensorRT's symmetric range
  EXPECT_EQ(requantize(INT32_MAX, 1.0), 127);
  EXPECT_EQ(requantize(INT32_MIN, 1.0), -128);
  EXPECT_EQ(requantize(0, 0.25, 10), 10);
  EXPECT_EQ(requantize(400, 0.25, 20), 120);
  EXPECT_EQ(requantize(400, 0.25, 40), 127);
  EXPECT_EQ(requantize(1000, NAN), 0);
}

TEST(QuantRequantize, MatchesExactIntegerArithmeticForDyadicMultipliers) {
  // multiplier = p / 2^k: the exact result is an integer division with a half-even rule on the remainder.
  auto exact = [](int64_t acc, int64_t p, int k) {
    int64_t num = acc * p, den = int64_t{1} << k;
    int64_t quotient = num >= 0 ? num / den : -((-num + den - 1) / den);  // floor
    int64_t rem2 = 2 * (num - quotient * den);                             // 2 * remainder, in [0, 2 den)
    if (rem2 > den || (rem2 == den && (quotient & 1))) ++quotient;
    return static_cast<int8_t>(std::clamp<int64_t>(quotient, -128, 127));
  };
  std::vector<int32_t> accs;
  for (int64_t acc = -70000; acc <= 70000; acc += 37) accs.push_back(static_cast<int32_t>(acc));
  for (int32_t a : {INT32_MIN, INT32_MIN + 1, INT32_MAX, -1, 0, 1}) accs.push_back(a);
  for (auto [p, k] : std::vector<std::pair<int64_t, int>>{{1, 1}, {3, 4}, {1, 9}, {77, 14}, {1, 20}, {5, 31}}) {
    std::vector<int8_t> out(accs.size());
    requantize(accs, static_cast<double>(p) / static_cast<double>(int64_t{1} << k), out);
    for (size_t i = 0; i < accs.size(); ++i) ASSERT_EQ(out[i], exact(accs[i], p, k)) << accs[i] << " * " << p << "/2^" << k;
  }
}

}  // namespace
}  // namespace kiln
