// TensorObserver: two-pass min/max + |x| histogram. The key property: the histogram, and so every calibrated
// scale, does not depend on how the calibration data is split into batches or in which order they come.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "quant/calibrators.h"
#include "quant/tensor_observer.h"

namespace kiln {
namespace {

constexpr int kSampleSize = 97;  // elements per sample: odd, so batches never align with anything

// 1000 samples of N(0, 1) with a few outliers, as one flat vector.
std::vector<float> make_samples(int num_samples) {
  std::mt19937_64 rng(1234);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> data(static_cast<size_t>(num_samples) * kSampleSize);
  for (float& v : data) v = static_cast<float>(normal(rng));
  data[5000] = 9.5f;
  data[17] = -11.25f;
  data[data.size() - 1] = 7.0f;
  return data;
}

// Feeds `data` in batches of `batch` samples (the last one partial), sample order optionally reversed.
AbsHistogram observe_in_batches(const std::vector<float>& data, int batch, bool reversed, int num_bins = 2048) {
  const int num_samples = static_cast<int>(data.size() / kSampleSize);
  std::vector<int> order(num_samples);
  for (int i = 0; i < num_samples; ++i) order[i] = reversed ? num_samples - 1 - i : i;
  auto batches = [&](auto&& feed) {
    for (int start = 0; start < num_samples; start += batch) {
      int n = std::min(batch, num_samples - start);
      std::vector<float> values;
      for (int s = start; s < start + n; ++s) {
        values.insert(values.end(), data.begin() + order[s] * kSampleSize, data.begin() + (order[s] + 1) * kSampleSize);
      }
      EXPECT_TRUE(feed(Tensor::from_vector(values, {n, kSampleSize})).ok());
    }
  };
  TensorObserver observer(num_bins);
  batches([&](const Tensor& t) { return observer.observe_range(t); });
  EXPECT_TRUE(observer.start_histogram_pass().ok());
  batches([&](const Tensor& t) { return observer.observe_histogram(t); });
  return observer.histogram();
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(QuantObserver, ScalesAreIdenticalForEveryBatchSizeAndOrder) {
  const std::vector<float> data = make_samples(1000);
  const AbsHistogram reference = observe_in_batches(data, 1, false);
  ASSERT_EQ(reference.total(), data.size());
  ASSERT_EQ(reference.range_max, 11.25f);
  for (CalibrationMethod method : {CalibrationMethod::kEntropy, CalibrationMethod::kMinMax,
                                   CalibrationMethod::kPercentile, CalibrationMethod::kMse}) {
    CalibratorOptions options{.method = method};
    Result<float> expected = compute_amax(reference, options);
    ASSERT_TRUE(expected.ok()) << expected.status().message();
    for (int batch : {1, 7, 32}) {
      for (bool reversed : {false, true}) {
        AbsHistogram h = observe_in_batches(data, batch, reversed);
        EXPECT_EQ(h.counts, reference.counts) << "batch " << batch;
        EXPECT_EQ(bits_of(h.range_max), bits_of(reference.range_max));
        Result<float> amax = compute_amax(h, options);
        ASSERT_TRUE(amax.ok());
        EXPECT_EQ(bits_of(scale_from_amax(*amax)), bits_of(scale_from_amax(*expected)))
            << calibration_method_name(method) << " batch " << batch << " reversed " << reversed;
      }
    }
  }
}

TEST(QuantObserver, BinsFollowTheHalfOpenIntervalsOfTheRange) {
  // Range [0, 1] in 4 bins of 0.25: [0, .25) [.25, .5) [.5, .75) [.75, 1]; the maximum lands in the last bin.
  TensorObserver observer(4);
  std::vector<float> values = {0.0f, 0.25f, 0.5f, -1.0f, 0.74f, -0.1f, 0.8f};
  ASSERT_TRUE(observer.observe_range(values).ok());
  EXPECT_EQ(observer.min(), -1.0f);
  EXPECT_EQ(observer.max(), 0.8f);
  EXPECT_EQ(observer.abs_max(), 1.0f);
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  ASSERT_TRUE(observer.observe_histogram(values).ok());
  EXPECT_EQ(observer.histogram().counts, (std::vector<uint64_t>{2, 1, 2, 2}));
  EXPECT_DOUBLE_EQ(observer.histogram().bin_width(), 0.25);
  EXPECT_EQ(observer.out_of_range_count(), 0u);
}

TEST(QuantObserver, SkipsAndCountsNanAndInf) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values = {nan, 1.0f, -inf, -3.0f, inf, nan, 2.0f};
  TensorObserver observer(8);
  ASSERT_TRUE(observer.observe_range(Tensor::from_vector(values, {7})).ok());
  EXPECT_EQ(observer.nan_count(), 2u);
  EXPECT_EQ(observer.inf_count(), 2u);
  EXPECT_EQ(observer.finite_count(), 3u);
  EXPECT_EQ(observer.abs_max(), 3.0f);
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  ASSERT_TRUE(observer.observe_histogram(Tensor::from_vector(values, {7})).ok());
  EXPECT_EQ(observer.histogram().total(), 3u);
  Result<float> amax = compute_amax(observer.histogram(), {.method = CalibrationMethod::kMinMax});
  ASSERT_TRUE(amax.ok());
  EXPECT_EQ(*amax, 3.0f);
}

TEST(QuantObserver, AllZeroTensorGivesZeroScaleForEveryMethod) {
  TensorObserver observer;
  Tensor zeros(DataType::kF32, {4, 5});
  ASSERT_TRUE(observer.observe_range(zeros).ok());
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  ASSERT_TRUE(observer.observe_histogram(zeros).ok());
  EXPECT_EQ(observer.histogram().range_max, 0.0f);
  EXPECT_EQ(observer.histogram().counts[0], 20u);
  for (CalibrationMethod method : {CalibrationMethod::kEntropy, CalibrationMethod::kMinMax,
                                   CalibrationMethod::kPercentile, CalibrationMethod::kMse}) {
    Result<float> amax = compute_amax(observer.histogram(), {.method = method});
    ASSERT_TRUE(amax.ok()) << calibration_method_name(method);
    EXPECT_EQ(*amax, 0.0f) << calibration_method_name(method);
  }
}

TEST(QuantObserver, EmptyTensorsChangeNothing) {
  TensorObserver observer(16);
  Tensor empty(DataType::kF32, {0, 3});
  ASSERT_TRUE(observer.observe_range(empty).ok());
  ASSERT_TRUE(observer.observe_range(Tensor::from_vector<float>({-2.0f, 1.0f}, {2})).ok());
  ASSERT_TRUE(observer.observe_range(empty).ok());
  EXPECT_EQ(observer.finite_count(), 2u);
  EXPECT_EQ(observer.abs_max(), 2.0f);
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  ASSERT_TRUE(observer.observe_histogram(empty).ok());
  EXPECT_EQ(observer.histogram().total(), 0u);

  TensorObserver never_fed(16);
  ASSERT_TRUE(never_fed.start_histogram_pass().ok());
  Result<float> amax = compute_amax(never_fed.histogram(), {.method = CalibrationMethod::kEntropy});
  ASSERT_TRUE(amax.ok());
  EXPECT_EQ(*amax, 0.0f);
}

TEST(QuantObserver, HalfAndDoubleInputsMatchTheirFloatValues) {
  std::vector<float> as_float = {0.5f, -1.75f, 3.0f, 0.125f, -0.0f, 2.5f};
  std::vector<Float16> as_half;
  std::vector<double> as_double;
  for (float v : as_float) {
    as_half.push_back(Float16(v));  // all exactly representable in f16
    as_double.push_back(v);
  }
  auto run = [](const Tensor& t) {
    TensorObserver observer(8);
    EXPECT_TRUE(observer.observe_range(t).ok());
    EXPECT_TRUE(observer.start_histogram_pass().ok());
    EXPECT_TRUE(observer.observe_histogram(t).ok());
    return observer.histogram();
  };
  AbsHistogram f = run(Tensor::from_vector(as_float, {6}));
  AbsHistogram h = run(Tensor::from_vector(as_half, {2, 3}));
  AbsHistogram d = run(Tensor::from_vector(as_double, {6}));
  EXPECT_EQ(f.range_max, 3.0f);
  EXPECT_EQ(h.counts, f.counts);
  EXPECT_EQ(d.counts, f.counts);
  EXPECT_EQ(h.range_max, f.range_max);
}

TEST(QuantObserver, RejectsMisuse) {
  TensorObserver observer(8);
  EXPECT_FALSE(observer.observe_range(Tensor::from_vector<int32_t>({1, 2}, {2})).ok());  // not a float dtype
  EXPECT_FALSE(observer.observe_histogram(std::vector<float>{1.0f}).ok());             // before pass 2
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  EXPECT_FALSE(observer.start_histogram_pass().ok());                                  // twice
  EXPECT_FALSE(observer.observe_range(std::vector<float>{1.0f}).ok());                 // pass 1 is over
  TensorObserver no_bins(0);
  EXPECT_FALSE(no_bins.observe_range(std::vector<float>{1.0f}).ok());
  EXPECT_FALSE(no_bins.start_histogram_pass().ok());
}

TEST(QuantObserver, ValuesBeyondThePassOneRangeAreCountedNotLost) {
  TensorObserver observer(4);
  ASSERT_TRUE(observer.observe_range(std::vector<float>{1.0f}).ok());
  ASSERT_TRUE(observer.start_histogram_pass().ok());
  ASSERT_TRUE(observer.observe_histogram(std::vector<float>{1.0f, -5.0f}).ok());
  EXPECT_EQ(observer.out_of_range_count(), 1u);
  EXPECT_EQ(observer.histogram().counts[3], 2u);
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// A tensor large enough to be observed by several threads (tensor_observer.cc splits f32 tensors of 2^19
// elements and more when the machine has two or more cores): the same statistics, bit for bit, as feeding its
// elements through the one-thread span interface in small pieces, NaN and infinities included.
TEST(QuantObserver, ThreadedObservationEqualsOneThread) {
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<float> data((size_t{1} << 21) + 12345);
  for (float& v : data) v = static_cast<float>(normal(rng));
  for (size_t i = 7; i < data.size(); i += 100003) data[i] = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 11; i < data.size(); i += 200017) data[i] = -std::numeric_limits<float>::infinity();
  data[data.size() - 2] = 40.0f;  // the maximum, in the last thread's part
  data[3] = -38.5f;               // the minimum, in the first
  const Tensor tensor = Tensor::from_vector(data, {static_cast<int64_t>(data.size())});

  TensorObserver threaded, single;
  ASSERT_TRUE(threaded.observe_range(tensor).ok());
  for (size_t begin = 0; begin < data.size(); begin += 1000)
    ASSERT_TRUE(single.observe_range(std::span<const float>(data).subspan(begin, std::min<size_t>(1000, data.size() - begin))).ok());
  EXPECT_EQ(bits_of(threaded.min()), bits_of(single.min()));
  EXPECT_EQ(bits_of(threaded.max()), bits_of(single.max()));
  EXPECT_EQ(threaded.max(), 40.0f);
  EXPECT_EQ(threaded.min(), -38.5f);
  EXPECT_EQ(threaded.finite_count(), single.finite_count());
  EXPECT_EQ(threaded.nan_count(), single.nan_count());
  EXPECT_EQ(threaded.inf_count(), single.inf_count());
  EXPECT_GT(threaded.nan_count(), 0u);

  ASSERT_TRUE(threaded.start_histogram_pass().ok());
  ASSERT_TRUE(single.start_histogram_pass().ok());
  ASSERT_TRUE(threaded.observe_histogram(tensor).ok());
  for (size_t begin = 0; begin < data.size(); begin += 1000)
    ASSERT_TRUE(single.observe_histogram(std::span<const float>(data).subspan(begin, std::min<size_t>(1000, data.size() - begin))).ok());
  EXPECT_EQ(threaded.histogram().counts, single.histogram().counts);
  EXPECT_EQ(threaded.histogram().total(), threaded.finite_count());
  EXPECT_EQ(threaded.out_of_range_count(), 0u);
}

}  // namespace
}  // namespace kiln
