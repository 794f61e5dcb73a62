// Focused tests of the resize family (Resize, Upsample, GridSample, RoiAlign): cases the official backend
// tests miss (opset 18+ attributes, integer dtypes, N-d sampling) and bad input that must give an error Status
// rather than a crash. Expected values are worked out by hand from the ONNX reference formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

// The first output of run_single_op.
Result<Tensor> run_op(const std::string& op, int opset, const std::vector<OpInput>& inputs,
                      const OpAttributes& attrs = {}) {
  return first_output(run_single_op(op, opset, inputs, attrs));
}
Attribute str(const char* s) { return Attribute::of_string(s); }

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
}

// The call must fail with an error Status (printed, so a failure for an unrelated reason is visible).
#define EXPECT_ERROR(expr)                                                  \
  do {                                                                      \
    auto r_ = (expr);                                                       \
    EXPECT_FALSE(r_.ok()) << #expr;                                         \
    if (!r_.ok()) std::cerr << "  error: " << r_.status().message() << "\n"; \
  } while (0)

// --- Resize ---

TEST(RefResize, AntialiasLinearWidensTheFilterWhenDownsampling) {
  // scale 0.5: 4 taps with weights (1 - |i - 0.5| * 0.5) normalized = [.125, .375, .375, .125]; edges clamp.
  auto out = run_op("Resize", 18, {{f32({1, 2, 3, 4})}, {}, {f32({0.5f}), true}},
                    {{"mode", str("linear")}, {"antialias", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->dims(), (Dims{2}));
  expect_near(values<float>(*out), {0.125f * 1 + 0.375f * 1 + 0.375f * 2 + 0.125f * 3,
                                     0.125f * 2 + 0.375f * 3 + 0.375f * 4 + 0.125f * 4});
}

TEST(RefResize, AxesWithKeepAspectRatioPolicy) {
  Tensor x = tensor<float>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
  // not_larger: min(4/2, 4/4) = 1, so the image is unchanged.
  auto same = run_op("Resize", 18, {{x}, {}, {}, {i64({4, 4}), true}},
                     {{"axes", Attribute::of_ints({2, 3})}, {"keep_aspect_ratio_policy", str("not_larger")}});
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(same->dims(), (Dims{1, 1, 2, 4}));
  EXPECT_EQ(values<float>(*same), values<float>(x));
  // not_smaller: scale 2 on both axes.
  auto big = build_single_op("Resize", 18, {{x}, {}, {}, {i64({4, 4}), true}},
                   {{"axes", Attribute::of_ints({-2, -1})}, {"keep_aspect_ratio_policy", str("not_smaller")}});
  ASSERT_TRUE(big.ok()) << big.status().message();
  EXPECT_EQ(big->graph->outputs[0]->type.shape, Shape::from_dims({1, 1, 4, 8}));
}

TEST(RefResize, InferenceFloorsConstantScales) {
  Tensor x(DataType::kF32, {1, 2, 3, 5});
  auto b = build_single_op("Resize", 13, {{x}, {}, {f32({1, 1, 0.5f, 0.6f}), true}}, {});
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->graph->outputs[0]->type.shape, Shape::from_dims({1, 2, 1, 3}));
  auto out = run_op("Resize", 13, {{x}, {}, {f32({1, 1, 0.5f, 0.6f}), true}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->dims(), (Dims{1, 2, 1, 3}));
}

TEST(RefResize, IntegerLinearTruncatesLikeTheReference) {
  // half_pixel x2: source coords -0.25, 0.25, 0.75, 1.25 -> 0, 63.75, 191.25, 255.
  auto out = run_op("Resize", 13, {{tensor<uint8_t>({0, 255}, {2})}, {}, {f32({2}), true}},
                    {{"mode", str("linear")}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<uint8_t>(*out), (std::vector<uint8_t>{0, 63, 191, 255}));
}

TEST(RefResize, NearestGathersInt64Exactly) {
  const int64_t big = (int64_t{1} << 60) + 1;  // not representable in double
  auto out = run_op("Resize", 13, {{tensor<int64_t>({big, -big}, {2})}, {}, {}, {i64({4}), true}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values<int64_t>(*out), (std::vector<int64_t>{big, big, -big, -big}));
}

TEST(RefResize, Opset10DownsampleUsesCeil) {
  // Resize-10 (like Upsample) had no nearest_mode; downsampling picks ceil(x / scale): columns 0 and 2.
  Tensor x = tensor<float>({1, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 2, 4});
  auto out = run_op("Resize", 10, {{x}, {f32({1, 1, 0.6f, 0.6f}), true}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->dims(), (Dims{1, 1, 1, 2}));
  EXPECT_EQ(values<float>(*out), (std::vector<float>{1, 3}));
}

TEST(RefResize, Upsample7ScalesAttribute) {
  auto out = run_op("Upsample", 7, {{tensor<float>({1, 2}, {1, 2})}}, {{"scales", Attribute::of_floats({2, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->dims(), (Dims{2, 4}));
  EXPECT_EQ(values<float>(*out), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
}

TEST(RefResize, BadInputGivesErrors) {
  Tensor x(DataType::kF32, {1, 1, 2, 2});
  // scales of the wrong length, both scales and sizes, neither, zero scale, negative size.
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({2, 2})}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 2, 2})}, {i64({1, 1, 4, 4})}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 0, 2})}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {}, {i64({1, 1, -1, 2})}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, NAN, 2})}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 1e30f, 1e30f})}}));
  // Unknown modes; tf_crop_and_resize without roi or with a roi of the wrong length.
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 2, 2})}}, {{"mode", str("bilinear")}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 2, 2})}}, {{"nearest_mode", str("up")}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {}, {f32({1, 1, 2, 2})}},
                      {{"coordinate_transformation_mode", str("tf_crop_and_resize")}}));
  EXPECT_ERROR(run_op("Resize", 13, {{x}, {f32({0, 1})}, {f32({1, 1, 2, 2})}},
                      {{"coordinate_transformation_mode", str("tf_crop_and_resize")}}));
  // Axes out of range or repeated; a bad keep_aspect_ratio_policy.
  EXPECT_ERROR(run_op("Resize", 18, {{x}, {}, {f32({2})}}, {{"axes", Attribute::of_ints({4})}}));
  EXPECT_ERROR(run_op("Resize", 18, {{x}, {}, {f32({2, 2})}}, {{"axes", Attribute::of_ints({3, -1})}}));
  EXPECT_ERROR(run_op("Resize", 18, {{x}, {}, {}, {i64({4, 4, 4, 4})}},
                      {{"keep_aspect_ratio_policy", str("fit")}}));
  // Upsample with too few scales.
  EXPECT_ERROR(run_op("Upsample", 9, {{x}, {f32({2, 2})}}));
  // Growing an empty input.
  EXPECT_ERROR(run_op("Resize", 13, {{Tensor(DataType::kF32, {0, 2})}, {}, {}, {i64({2, 2})}}));
}

// --- GridSample ---

TEST(RefResize, GridSampleTrilinearOnAVolume) {
  // 2x2x2 volume of 0..7; with align_corners the grid origin is the centre: the mean 3.5. The corner
  // (x=1, y=-1, z=-1) is element [z=0][y=0][x=1] = 1.
  std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7};
  Tensor x = tensor<float>(v, {1, 1, 2, 2, 2});
  Tensor grid = tensor<float>({0, 0, 0, 1, -1, -1}, {1, 1, 1, 2, 3});
  auto out = run_op("GridSample", 20, {{x}, {grid}}, {{"align_corners", Attribute::of_int(1)}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->dims(), (Dims{1, 1, 1, 1, 2}));
  expect_near(values<float>(*out), {3.5f, 1.0f});
}

TEST(RefResize, GridSampleOutsidePointsByPadding) {
  // 1x2 image [10, 20]; x = 3 (far right): zeros -> 0, border -> 20; NaN reads as outside.
  Tensor x = tensor<float>({10, 20}, {1, 1, 1, 2});
  Tensor grid = tensor<float>({3, 0, NAN, 0}, {1, 1, 2, 2});
  auto zeros = run_op("GridSample", 16, {{x}, {grid}}, {{"align_corners", Attribute::of_int(1)}});
  ASSERT_TRUE(zeros.ok()) << zeros.status().message();
  EXPECT_EQ(values<float>(*zeros)[0], 0.0f);
  EXPECT_EQ(values<float>(*zeros)[1], 0.0f);
  auto border = run_op("GridSample", 16, {{x}, {grid}},
                       {{"align_corners", Attribute::of_int(1)}, {"padding_mode", str("border")}});
  ASSERT_TRUE(border.ok()) << border.status().message();
  EXPECT_EQ(values<float>(*border)[0], 20.0f);
}

TEST(RefResize, GridSampleBadInputGivesErrors) {
  Tensor x(DataType::kF32, {1, 1, 2, 2});
  EXPECT_ERROR(run_op("GridSample", 16, {{x}, {Tensor(DataType::kF32, {1, 2, 2, 3})}}));  // 3 coords
  EXPECT_ERROR(run_op("GridSample", 16, {{x}, {Tensor(DataType::kF32, {2, 2, 2, 2})}}));  // batch
  EXPECT_ERROR(run_op("GridSample", 16, {{x}, {Tensor(DataType::kF32, {1, 2, 2})}}));     // rank
  EXPECT_ERROR(
      run_op("GridSample", 16, {{x}, {Tensor(DataType::kF32, {1, 2, 2, 2})}}, {{"mode", str("area")}}));
  EXPECT_ERROR(run_op("GridSample", 16, {{x}, {Tensor(DataType::kF32, {1, 2, 2, 2})}},
                      {{"padding_mode", str("wrap")}}));
  EXPECT_ERROR(run_op("GridSample", 16, {{Tensor(DataType::kF32, {1, 1, 0, 2})}, {Tensor(DataType::kF32, {1, 1, 1, 2})}}));
}

// --- RoiAlign ---

TEST(RefResize, RoiAlignMaxTakesTheLargestWeightedCorner) {
  // One sample at (0.5, 0.5) of [[1, 2], [3, 4]]: corner weights are all 0.25. avg = 2.5; max mode (as in
  // onnxruntime and the ONNX reference) = max(0.25 * v) = 1.
  Tensor x = tensor<float>({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor rois = tensor<float>({0, 0, 1, 1}, {1, 4});
  Tensor idx = i64({0});
  std::map<std::string, Attribute> attrs = {{"sampling_ratio", Attribute::of_int(1)},
                                            {"coordinate_transformation_mode", str("output_half_pixel")}};
  auto avg = run_op("RoiAlign", 16, {{x}, {rois}, {idx}}, attrs);
  ASSERT_TRUE(avg.ok()) << avg.status().message();
  EXPECT_EQ(avg->dims(), (Dims{1, 1, 1, 1}));
  expect_near(values<float>(*avg), {2.5f});
  attrs["mode"] = str("max");
  auto max = run_op("RoiAlign", 16, {{x}, {rois}, {idx}}, attrs);
  ASSERT_TRUE(max.ok()) << max.status().message();
  expect_near(values<float>(*max), {1.0f});
}

TEST(RefResize, RoiAlignBadInputGivesErrors) {
  Tensor x(DataType::kF32, {1, 1, 4, 4});
  Tensor rois = tensor<float>({0, 0, 1, 1}, {1, 4});
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {rois}, {i64({1})}}));   // batch index out of range
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {rois}, {i64({-1})}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {rois}, {i64({0, 0})}}));  // count mismatch
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {tensor<float>({0, 0, 1}, {1, 3})}, {i64({0})}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {tensor<float>({0, 0, NAN, 1}, {1, 4})}, {i64({0})}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {tensor<float>({0, 0, 1e30f, 1e30f}, {1, 4})}, {i64({0})}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {rois}, {i64({0})}}, {{"mode", str("min")}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{x}, {rois}, {i64({0})}}, {{"output_height", Attribute::of_int(0)}}));
  EXPECT_ERROR(run_op("RoiAlign", 16, {{Tensor(DataType::kF32, {1, 4, 4})}, {rois}, {i64({0})}}));
}

}  // namespace
}  // namespace kiln
