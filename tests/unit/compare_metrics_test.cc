// kiln compare's metrics on hand-made values; expectations worked out by hand (see each comment).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "compare/metrics.h"

namespace kiln {
namespace {

TEST(CompareMetrics, ErrorStatsOfOneChangedElement) {
  // a = 1 2 3 4, b = 1 2 3 5: one error of 1. Σa² = 30, Σb² = 39, a·b = 34.
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 2, 3, 5};
  ErrorAccumulator acc;
  acc.add(a, b);
  ErrorStats s = acc.stats();
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(s.mean_abs, 0.25);
  EXPECT_NEAR(s.snr_db, 14.771212547, 1e-6);         // 10 log10(30 / 1)
  EXPECT_NEAR(s.rel_rms, 0.182574186, 1e-6);         // sqrt(1 / 30)
  EXPECT_NEAR(s.cosine, 34.0 / std::sqrt(30.0 * 39.0), 1e-9);
}

TEST(CompareMetrics, AccumulatesAcrossCallsLikeOneCall) {
  std::vector<float> a = {1, -2, 3, 0.5f, 7}, b = {1.5f, -2, 2, 0.5f, 6};
  ErrorAccumulator whole, parts;
  whole.add(a, b);
  parts.add(std::span<const float>(a).first(2), std::span<const float>(b).first(2));
  parts.add(std::span<const float>(a).subspan(2), std::span<const float>(b).subspan(2));
  EXPECT_DOUBLE_EQ(whole.stats().snr_db, parts.stats().snr_db);
  EXPECT_DOUBLE_EQ(whole.stats().cosine, parts.stats().cosine);
  EXPECT_DOUBLE_EQ(whole.stats().max_abs, 1.0);  // |2 - 3| and |6 - 7|
  EXPECT_DOUBLE_EQ(whole.stats().mean_abs, 2.5 / 5);
}

TEST(CompareMetrics, ExactNegatedAndZeroCases) {
  std::vector<float> a = {0.25f, -1, 8}, neg = {-0.25f, 1, -8}, zero = {0, 0, 0};
  ErrorAccumulator same, opposite, zeros, only_b_zero;
  same.add(a, a);
  opposite.add(a, neg);
  zeros.add(zero, zero);
  only_b_zero.add(a, zero);
  EXPECT_TRUE(std::isinf(same.stats().snr_db) && same.stats().snr_db > 0);
  EXPECT_DOUBLE_EQ(same.stats().cosine, 1.0);
  EXPECT_DOUBLE_EQ(same.stats().rel_rms, 0.0);
  EXPECT_DOUBLE_EQ(opposite.stats().cosine, -1.0);
  EXPECT_NEAR(opposite.stats().snr_db, 10 * std::log10(0.25), 1e-9);  // error = 2a: Σa² / 4Σa²
  EXPECT_DOUBLE_EQ(zeros.stats().cosine, 1.0);                        // both all zero: identical
  EXPECT_DOUBLE_EQ(only_b_zero.stats().cosine, 0.0);
  EXPECT_NEAR(only_b_zero.stats().snr_db, 0.0, 1e-12);                // error == signal
  EXPECT_TRUE(ErrorAccumulator().empty());
}

TEST(CompareMetrics, TopKOrdersByValueThenIndexAndSkipsNaN) {
  std::vector<float> v = {0.1f, 0.5f, 0.5f, 0.2f};
  EXPECT_EQ(top_k_indices(v, 3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(top_k_indices(v, 10).size(), 4u);
  std::vector<float> with_nan = {std::numeric_limits<float>::quiet_NaN(), 1, 2};
  EXPECT_EQ(top_k_indices(with_nan, 1), (std::vector<int64_t>{2}));
}

TEST(CompareMetrics, ClassificationCounter) {
  ClassificationCounter c;
  // sample 0: top-1 = 2 (label 2: hit; reference top-1 2: agree)
  c.add(std::vector<float>{0, 1, 5, 2, 3, 4}, 2, 2);
  // sample 1: top-1 = 0, label 5 is 6th of 6 scores: neither top-1 nor top-5; reference said 1: disagree
  c.add(std::vector<float>{9, 8, 7, 6, 5, 4}, 5, 1);
  // sample 2: top-1 = 3, label 1 is 2nd: top-5 hit only; agree
  c.add(std::vector<float>{0, 5, 1, 6, 2, 3}, 1, 3);
  EXPECT_EQ(c.samples, 3);
  EXPECT_DOUBLE_EQ(c.top1(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(c.top5(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.agreement(), 2.0 / 3);
}

TEST(CompareMetrics, PercentileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_NEAR(percentile(v, 99), 3.97, 1e-12);  // position 0.99 * 3 = 2.97 between 3 and 4
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
}

}  // namespace
}  // namespace kiln
