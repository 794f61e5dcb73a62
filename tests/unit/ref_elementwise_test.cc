// Focused tests of the elementwise ops: semantics the official ONNX tests do not cover, and bad input that
// must give an error Status (never a crash).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

// Runs one node on the reference backend and returns its output; std::nullopt is an omitted optional input.
// Errors from validation, inference and the kernel all come back as a Status.
Result<Tensor> run_op(const std::string& op, const std::vector<OpInput>& inputs, const OpAttributes& attrs = {},
                      int opset = 17) {
  return first_output(run_single_op(op, opset, inputs, attrs));
}

TEST(RefElementwise, IntegerDivTruncatesTowardZero) {
  auto y = run_op("Div", {Tensor::from_vector<int32_t>({7, -7, 7, -7}, {4}),
                          Tensor::from_vector<int32_t>({2, 2, -2, -2}, {4})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<int32_t>(*y), (std::vector<int32_t>{3, -3, -3, 3}));
}

TEST(RefElementwise, IntegerDivByZeroIsAnError) {
  auto y = run_op("Div", {Tensor::from_vector<int64_t>({1, 2}, {2}), Tensor::from_vector<int64_t>({1, 0}, {2})});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("division by zero"), std::string::npos) << y.status().message();
}

TEST(RefElementwise, IntegerModFollowsDivisorSign) {
  auto a = Tensor::from_vector<int32_t>({5, -5, 5, -5}, {4});
  auto b = Tensor::from_vector<int32_t>({3, 3, -3, -3}, {4});
  auto y = run_op("Mod", {a, b});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<int32_t>(*y), (std::vector<int32_t>{2, 1, -1, -2}));
  auto f = run_op("Mod", {a, b}, {{"fmod", Attribute::of_int(1)}});
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(values<int32_t>(*f), (std::vector<int32_t>{2, -2, 2, -2}));
  auto zero = run_op("Mod", {a, Tensor::from_vector<int32_t>({0}, {1})});
  EXPECT_FALSE(zero.ok());
}

TEST(RefElementwise, BroadcastMismatchIsAnError) {
  auto y = run_op("Add", {Tensor(DataType::kF32, {2, 3}), Tensor(DataType::kF32, {4})});
  ASSERT_FALSE(y.ok());
}

TEST(RefElementwise, MixedDtypesAreAnError) {
  auto y = run_op("Mul", {Tensor(DataType::kF32, {2}), Tensor(DataType::kI64, {2})});
  ASSERT_FALSE(y.ok());
  auto w = run_op("Where", {Tensor(DataType::kF32, {2}), Tensor(DataType::kF32, {2}), Tensor(DataType::kF32, {2})});
  ASSERT_FALSE(w.ok());  // the condition must be bool
}

TEST(RefElementwise, LegacyBroadcastWithAxis) {
  // Opset 6: B [3] broadcast onto A [2,3,2] at axis 1.
  auto a = Tensor::from_vector<float>({0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, {2, 3, 2});
  auto b = Tensor::from_vector<float>({10, 20, 30}, {3});
  auto y = run_op("Add", {a, b}, {{"broadcast", Attribute::of_int(1)}, {"axis", Attribute::of_int(1)}}, 6);
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->dims(), (Dims{2, 3, 2}));
  EXPECT_EQ(values<float>(*y), (std::vector<float>{10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31}));
  auto bad = run_op("Add", {a, b}, {{"broadcast", Attribute::of_int(1)}, {"axis", Attribute::of_int(2)}}, 6);
  EXPECT_FALSE(bad.ok());
  auto no_bcast = run_op("Add", {a, b}, {}, 6);
  EXPECT_FALSE(no_bcast.ok());
}

TEST(RefElementwise, ClipAttributesBeforeOpset11AndInputsAfter) {
  auto x = Tensor::from_vector<float>({-5, 0, 5}, {3});
  auto old = run_op("Clip", {x}, {{"min", Attribute::of_float(-1)}, {"max", Attribute::of_float(1)}}, 6);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(values<float>(*old), (std::vector<float>{-1, 0, 1}));
  auto only_max = run_op("Clip", {x, std::nullopt, Tensor::scalar<float>(2)}, {}, 13);
  ASSERT_TRUE(only_max.ok()) << only_max.status().message();
  EXPECT_EQ(values<float>(*only_max), (std::vector<float>{-5, 0, 2}));
  auto not_scalar = run_op("Clip", {x, Tensor::from_vector<float>({0, 1}, {2})}, {}, 13);
  EXPECT_FALSE(not_scalar.ok());
}

TEST(RefElementwise, RoundHalfToEven) {
  auto y = run_op("Round", {Tensor::from_vector<float>({0.5f, 1.5f, 2.5f, -0.5f, -2.5f}, {5})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<float>(*y), (std::vector<float>{0, 2, 2, -0, -2}));
}

TEST(RefElementwise, PowIntegerBaseIsExact) {
  auto y = run_op("Pow", {Tensor::from_vector<int64_t>({3, 2, -2}, {3}), Tensor::from_vector<int64_t>({39, 3, 3}, {3})});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<int64_t>(*y), (std::vector<int64_t>{4052555153018976267LL, 8, -8}));
}

TEST(RefElementwise, BitShiftWideShiftGivesZero) {
  auto y = run_op("BitShift", {Tensor::from_vector<uint8_t>({1, 1, 255}, {3}), Tensor::from_vector<uint8_t>({7, 8, 1}, {3})},
                  {{"direction", Attribute::of_string("LEFT")}});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<uint8_t>(*y), (std::vector<uint8_t>{128, 0, 254}));
  auto bad = run_op("BitShift", {Tensor::from_vector<uint8_t>({1}, {1}), Tensor::from_vector<uint8_t>({1}, {1})},
                    {{"direction", Attribute::of_string("UP")}});
  EXPECT_FALSE(bad.ok());
}

TEST(RefElementwise, CastRoundsToNearestEvenAndParsesStrings) {
  // 1 + 2^-11 is halfway between two f16 values: ties go to the even one (1.0).
  auto h = run_op("Cast", {Tensor::from_vector<double>({1.0 + std::ldexp(1.0, -11), 1.0 + 3 * std::ldexp(1.0, -11)}, {2})},
                  {{"to", Attribute::of_int(static_cast<int>(DataType::kF16))}});
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->data<Float16>()[0].bits, 0x3c00);
  EXPECT_EQ(h->data<Float16>()[1].bits, 0x3c02);
  // Just above the halfway point in double must round up, not fall to even through float.
  auto up = run_op("Cast", {Tensor::scalar<double>(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40))},
                   {{"to", Attribute::of_int(static_cast<int>(DataType::kF16))}});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->data<Float16>()[0].bits, 0x3c01);

  auto s = Tensor(DataType::kString, {3});
  s.data<std::string>()[0] = "-12";
  s.data<std::string>()[1] = "7";
  s.data<std::string>()[2] = "9007199254740993";  // not representable as a double
  auto i = run_op("Cast", {s}, {{"to", Attribute::of_int(static_cast<int>(DataType::kI64))}});
  ASSERT_TRUE(i.ok()) << i.status().message();
  EXPECT_EQ(values<int64_t>(*i), (std::vector<int64_t>{-12, 7, 9007199254740993LL}));
  s.data<std::string>()[1] = "seven";
  auto bad = run_op("Cast", {s}, {{"to", Attribute::of_int(static_cast<int>(DataType::kF32))}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("seven"), std::string::npos) << bad.status().message();
}

TEST(RefElementwise, CastToBFloat16TruncatesBeforeOpset19) {
  // 1 + 0.75 ulp of bf16: truncation gives 1.0, round-to-nearest gives 1 + 2^-7.
  auto x = Tensor::scalar<float>(1.0f + 3.0f / 512.0f);
  auto to = Attribute::of_int(static_cast<int>(DataType::kBF16));
  auto old = run_op("Cast", {x}, {{"to", to}}, 13);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->data<BFloat16>()[0].bits, 0x3f80);
  auto now = run_op("Cast", {x}, {{"to", to}}, 19);
  ASSERT_TRUE(now.ok()) << now.status().message();
  EXPECT_EQ(now->data<BFloat16>()[0].bits, 0x3f81);
}

TEST(RefElementwise, WhereBroadcastsStrings) {
  auto x = Tensor(DataType::kString, {2});
  x.data<std::string>()[0] = "a";
  x.data<std::string>()[1] = "b";
  auto y = Tensor(DataType::kString, {});
  y.data<std::string>()[0] = "-";
  auto r = run_op("Where", {Tensor::from_vector<bool>({true, false, false, true}, {2, 2}), x, y});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(values<std::string>(*r), (std::vector<std::string>{"a", "-", "-", "b"}));
}

TEST(RefElementwise, CastToStringPrintsLikeNumpy) {
  auto y = run_op("Cast", {Tensor::from_vector<float>({1.0f, -0.5f, 1e-5f, 123456.0f, 2e20f}, {5})},
                  {{"to", Attribute::of_int(static_cast<int>(DataType::kString))}});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(values<std::string>(*y), (std::vector<std::string>{"1.0", "-0.5", "1e-05", "123456.0", "2e+20"}));
}

TEST(RefElementwise, CastToUnknownTypeIsAnError) {
  auto y = run_op("Cast", {Tensor(DataType::kF32, {2})}, {{"to", Attribute::of_int(1234)}});
  EXPECT_FALSE(y.ok());
}

TEST(RefElementwise, VariadicMaxBroadcastsAndPropagatesNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto y = run_op("Max", {Tensor::from_vector<float>({1, nan}, {2, 1}), Tensor::from_vector<float>({0, 3, 5}, {3}),
                          Tensor::scalar<float>(2)});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->dims(), (Dims{2, 3}));
  std::vector<float> v = values<float>(*y);
  EXPECT_EQ(v[0], 2);
  EXPECT_EQ(v[1], 3);
  EXPECT_EQ(v[2], 5);
  EXPECT_TRUE(std::isnan(v[3]) && std::isnan(v[5]));
}

TEST(RefElementwise, PReluSlopeMustBroadcastToInput) {
  auto y = run_op("PRelu", {Tensor(DataType::kF32, {2, 3}), Tensor(DataType::kF32, {2, 3, 1})});
  EXPECT_FALSE(y.ok());
}

TEST(RefElementwise, UnknownAttributeIsRejected) {
  auto y = run_op("Relu", {Tensor(DataType::kF32, {2})}, {{"alpha", Attribute::of_float(1)}});
  EXPECT_FALSE(y.ok());
  auto ok = run_op("Relu", {Tensor(DataType::kF32, {2})}, {{"consumed_inputs", Attribute::of_ints({0})}}, 7);
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

}  // namespace
}  // namespace kiln
