// Focused tests of the extra family (losses, Unique, NonMaxSuppression, windows, DFT, STFT, MelWeightMatrix):
// cases the official backend tests miss, and bad input that must give an error Status rather than a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

// --- losses ---

TEST(RefExtra, NllWeightedMeanDividesByWeightOfKeptTargets) {
  // input (N=3, C=2) of log-probs; target 2 is ignored; mean = (w1*-x[0,1] + w0*-x[2,0]) / (w1 + w0).
  Tensor x = tensor<float>({-0.5f, -1.0f, -2.0f, -3.0f, -4.0f, -0.25f}, {3, 2});
  Tensor t = tensor<int64_t>({1, 5, 0}, {3});
  Tensor w = tensor<float>({2.0f, 3.0f}, {2});
  auto out = run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {t}, {w}}, {{"ignore_index", Attribute::of_int(5)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), Dims{});
  EXPECT_NEAR((*out)[0].data<float>()[0], (3.0 * 1.0 + 2.0 * 4.0) / 5.0, 1e-6);
}

TEST(RefExtra, NllTargetOutOfRangeIsAnError) {
  Tensor x = tensor<float>({-0.5f, -1.0f}, {1, 2});
  auto out = run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {tensor<int64_t>({2}, {1})}});
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(mentions(out.status(), "out of range")) << out.status().message();
  auto neg = run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {tensor<int32_t>({-1}, {1})}});
  EXPECT_FALSE(neg.ok());
}

TEST(RefExtra, NllRejectsMismatchedTargetAndWeightShapes) {
  Tensor x(DataType::kF32, {2, 3, 4});
  EXPECT_FALSE(run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {Tensor(DataType::kI64, {2, 5})}}).ok());
  EXPECT_FALSE(
      run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {Tensor(DataType::kI64, {2, 4})}, {Tensor(DataType::kF32, {2})}})
          .ok());
  EXPECT_FALSE(run_single_op("NegativeLogLikelihoodLoss", 13, {{x}, {Tensor(DataType::kI64, {2, 4})}},
                      {{"reduction", Attribute::of_string("avg")}})
                   .ok());
}

TEST(RefExtra, SoftmaxCrossEntropyMatchesClosedFormAndReturnsLogProb) {
  // Logits (0, ln 3) give softmax (1/4, 3/4).
  Tensor x = tensor<double>({0.0, std::log(3.0)}, {1, 2});
  auto out = run_single_op("SoftmaxCrossEntropyLoss", 13, {{x}, {tensor<int64_t>({1}, {1})}},
                    {{"reduction", Attribute::of_string("none")}}, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), Dims{1});
  EXPECT_NEAR((*out)[0].data<double>()[0], -std::log(0.75), 1e-12);
  ASSERT_EQ((*out)[1].dims(), (Dims{1, 2}));
  EXPECT_NEAR((*out)[1].data<double>()[0], std::log(0.25), 1e-12);
  EXPECT_NEAR((*out)[1].data<double>()[1], std::log(0.75), 1e-12);
}

TEST(RefExtra, SoftmaxCrossEntropyHalfPrecision) {
  Tensor x = tensor<Float16>({Float16(0.0f), Float16(0.0f)}, {1, 2});
  auto out = run_single_op("SoftmaxCrossEntropyLoss", 13, {{x}, {tensor<int64_t>({0}, {1})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_NEAR(static_cast<float>((*out)[0].data<Float16>()[0]), std::log(2.0f), 1e-3);
}

// --- Unique ---

TEST(RefExtra, UniqueUnsortedStringsKeepFirstOccurrenceOrder) {
  Tensor x = tensor<std::string>({"b", "a", "b", "c", "a"}, {5});
  auto out = run_single_op("Unique", 11, {{x}}, {{"sorted", Attribute::of_int(0)}}, 4);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<std::string>((*out)[0]), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(values<int64_t>((*out)[1]), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(values<int64_t>((*out)[2]), (std::vector<int64_t>{0, 1, 0, 2, 1}));
  EXPECT_EQ(values<int64_t>((*out)[3]), (std::vector<int64_t>{2, 2, 1}));
}

TEST(RefExtra, UniqueSortsNanLastAndMergesNans) {
  Tensor x = tensor<float>({NAN, 1.0f, NAN, -1.0f}, {4});
  auto out = run_single_op("Unique", 11, {{x}}, {}, 4);
  ASSERT_TRUE(out.ok()) << out.status().message();
  auto y = values<float>((*out)[0]);
  ASSERT_EQ(y.size(), 3u);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(values<int64_t>((*out)[3]), (std::vector<int64_t>{1, 1, 2}));
}

TEST(RefExtra, UniqueAxisOutOfRangeIsAnError) {
  auto out = run_single_op("Unique", 11, {{Tensor(DataType::kF32, {2, 2})}}, {{"axis", Attribute::of_int(2)}});
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(mentions(out.status(), "axis")) << out.status().message();
}

// --- NonMaxSuppression ---

TEST(RefExtra, NmsWithoutMaxOutputSelectsNothing) {
  Tensor boxes = tensor<float>({0, 0, 1, 1}, {1, 1, 4});
  Tensor scores = tensor<float>({0.9f}, {1, 1, 1});
  auto out = run_single_op("NonMaxSuppression", 11, {{boxes}, {scores}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].dims(), (Dims{0, 3}));
}

TEST(RefExtra, NmsScoreThresholdIsStrictAndPerClass) {
  // Two disjoint boxes; class 0 keeps both, class 1 keeps only the box scoring above 0.5.
  Tensor boxes = tensor<float>({0, 0, 1, 1, 2, 2, 3, 3}, {1, 2, 4});
  Tensor scores = tensor<float>({0.6f, 0.7f, 0.5f, 0.8f}, {1, 2, 2});
  auto out = run_single_op("NonMaxSuppression", 11,
                    {{boxes}, {scores}, {tensor<int64_t>({5}, {1})}, {tensor<float>({0.5f}, {1})},
                     {tensor<float>({0.5f}, {1})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 0, 0, 1, 1}));
}

TEST(RefExtra, NmsBadShapesAndThresholdsAreErrors) {
  Tensor scores(DataType::kF32, {1, 1, 2});
  EXPECT_FALSE(run_single_op("NonMaxSuppression", 11, {{Tensor(DataType::kF32, {1, 2, 3})}, {scores}}).ok());
  EXPECT_FALSE(run_single_op("NonMaxSuppression", 11, {{Tensor(DataType::kF32, {1, 3, 4})}, {scores}}).ok());
  auto bad_iou = run_single_op("NonMaxSuppression", 11,
                        {{Tensor(DataType::kF32, {1, 2, 4})}, {scores}, {tensor<int64_t>({1}, {1})},
                         {tensor<float>({1.5f}, {1})}});
  ASSERT_FALSE(bad_iou.ok());
  EXPECT_TRUE(mentions(bad_iou.status(), "iou_threshold")) << bad_iou.status().message();
}

// --- windows ---

TEST(RefExtra, WindowsHonourOutputDatatypeAndOnePointSymmetric) {
  auto out = run_single_op("HannWindow", 17, {{Tensor::scalar<int64_t>(4)}},
                    {{"output_datatype", Attribute::of_int(11)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dtype(), DataType::kF64);
  EXPECT_NEAR((*out)[0].data<double>()[1], 0.5, 1e-12);  // sin^2(pi/4)
  EXPECT_NEAR((*out)[0].data<double>()[2], 1.0, 1e-12);
  auto one = run_single_op("BlackmanWindow", 17, {{Tensor::scalar<int32_t>(1), true}}, {{"periodic", Attribute::of_int(0)}});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(values<float>((*one)[0]), std::vector<float>{1.0f});
}

TEST(RefExtra, WindowNegativeSizeIsAnError) {
  EXPECT_FALSE(run_single_op("HammingWindow", 17, {{Tensor::scalar<int64_t>(-3)}}).ok());
  EXPECT_FALSE(run_single_op("HammingWindow", 17, {{Tensor::scalar<int64_t>(-3), true}}).ok());
  EXPECT_FALSE(run_single_op("HammingWindow", 17, {{Tensor::scalar<int64_t>(3)}}, {{"output_datatype", Attribute::of_int(8)}})
                   .ok());
}

// --- DFT / STFT ---

TEST(RefExtra, DftThenInverseDftRestoresTheSignal) {
  std::vector<float> v = {1.0f, 0.0f, -2.0f, 0.5f, 3.0f, -1.0f, 0.25f, 2.0f, -0.5f, 1.5f};  // 5 complex values
  auto fwd = run_single_op("DFT", 17, {{tensor(v, {1, 5, 2})}});
  ASSERT_TRUE(fwd.ok()) << fwd.status().message();
  // Bin 0 is the plain sum of the signal.
  EXPECT_NEAR((*fwd)[0].data<float>()[0], 1.0 - 2.0 + 3.0 + 0.25 - 0.5, 1e-5);
  EXPECT_NEAR((*fwd)[0].data<float>()[1], 0.0 + 0.5 - 1.0 + 2.0 + 1.5, 1e-5);
  auto back = run_single_op("DFT", 17, {{(*fwd)[0]}}, {{"inverse", Attribute::of_int(1)}});
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR((*back)[0].data<float>()[i], v[i], 1e-5) << i;
}

TEST(RefExtra, DftZeroPadsToDftLengthAndOnesided) {
  // An impulse padded to length 6 has a flat spectrum; onesided keeps 6/2+1 = 4 bins.
  auto out = run_single_op("DFT", 17, {{tensor<float>({1.0f, 0.0f}, {1, 2, 1})}, {Tensor::scalar<int64_t>(6), true}},
                    {{"onesided", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{1, 4, 2}));
  for (int64_t k = 0; k < 4; ++k) {
    EXPECT_NEAR((*out)[0].data<float>()[2 * k], 1.0, 1e-6);
    EXPECT_NEAR((*out)[0].data<float>()[2 * k + 1], 0.0, 1e-6);
  }
}

TEST(RefExtra, DftOpset20TakesAxisAsInput) {
  // [2, 2, 1] transformed along axis 0 (given as -3): sums/differences down the first axis.
  Tensor x = tensor<float>({1.0f, 2.0f, 3.0f, 5.0f}, {2, 2, 1});
  auto out = run_single_op("DFT", 20, {{x}, {}, {Tensor::scalar<int64_t>(-3), true}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{2, 2, 2}));
  std::vector<float> want = {4, 0, 7, 0, -2, 0, -3, 0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*out)[0].data<float>()[i], want[i], 1e-6) << i;
}

TEST(RefExtra, DftBadAxisAndLengthAreErrors) {
  Tensor x(DataType::kF32, {1, 4, 1});
  EXPECT_FALSE(run_single_op("DFT", 17, {{x}}, {{"axis", Attribute::of_int(2)}}).ok());  // the real/imag axis
  EXPECT_FALSE(run_single_op("DFT", 17, {{x}, {Tensor::scalar<int64_t>(0)}}).ok());
  EXPECT_FALSE(run_single_op("DFT", 17, {{Tensor(DataType::kF32, {1, 4, 3})}}).ok());
  EXPECT_FALSE(run_single_op("DFT", 20, {{x}, {}, {Tensor::scalar<int64_t>(5)}}).ok());
  EXPECT_FALSE(run_single_op("DFT", 17, {{Tensor(DataType::kF32, {1, 0, 1})}}, {{"onesided", Attribute::of_int(1)}}).ok());
}

TEST(RefExtra, StftOfConstantSignalPutsEverythingInBinZero) {
  std::vector<float> sig(10, 2.0f);
  auto out = run_single_op("STFT", 17,
                    {{tensor(sig, {1, 10, 1})}, {Tensor::scalar<int64_t>(3), true}, {},
                     {Tensor::scalar<int64_t>(4), true}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), (Dims{1, 3, 3, 2}));  // frames (10-4)/3+1, bins 4/2+1
  for (int64_t f = 0; f < 3; ++f) {
    const float* row = (*out)[0].data<float>() + f * 6;
    EXPECT_NEAR(row[0], 8.0, 1e-5);
    for (int k = 1; k < 6; ++k) EXPECT_NEAR(row[k], 0.0, 1e-5);
  }
}

TEST(RefExtra, StftBadInputsAreErrors) {
  Tensor sig(DataType::kF32, {1, 8, 1});
  EXPECT_FALSE(run_single_op("STFT", 17, {{sig}, {Tensor::scalar<int64_t>(0)}, {}, {Tensor::scalar<int64_t>(4)}}).ok());
  EXPECT_FALSE(run_single_op("STFT", 17, {{sig}, {Tensor::scalar<int64_t>(2)}, {}, {Tensor::scalar<int64_t>(9)}}).ok());
  EXPECT_FALSE(run_single_op("STFT", 17, {{sig}, {Tensor::scalar<int64_t>(2)}}).ok());
  EXPECT_FALSE(run_single_op("STFT", 17,
                      {{sig}, {Tensor::scalar<int64_t>(2)}, {Tensor(DataType::kF32, {3})},
                       {Tensor::scalar<int64_t>(4)}})
                   .ok());
}

TEST(RefExtra, MelWeightMatrixRowsAreTrianglesAndBadSizesFail) {
  auto mel = [](int64_t bins, int64_t dft, int64_t rate, float lo, float hi) {
    return run_single_op("MelWeightMatrix", 17,
                  {{Tensor::scalar<int64_t>(bins)}, {Tensor::scalar<int64_t>(dft)}, {Tensor::scalar<int64_t>(rate)},
                   {Tensor::scalar<float>(lo)}, {Tensor::scalar<float>(hi)}});
  };
  auto ok = mel(4, 32, 16000, 0.0f, 8000.0f);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ((*ok)[0].dims(), (Dims{17, 4}));
  for (float v : values<float>((*ok)[0])) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
  EXPECT_FALSE(mel(0, 32, 16000, 0.0f, 8000.0f).ok());
  EXPECT_FALSE(mel(4, -1, 16000, 0.0f, 8000.0f).ok());
  EXPECT_FALSE(mel(4, 32, 0, 0.0f, 8000.0f).ok());
  EXPECT_FALSE(mel(4, 32, 16000, 100.0f, 50.0f).ok());
}

}  // namespace
}  // namespace kiln
