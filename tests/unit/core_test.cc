// Core types: float16 conversion, shapes and broadcasting, .npy round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/float16.h"
#include "core/npy.h"
#include "core/shape.h"
#include "core/tensor.h"

using namespace kiln;

TEST(Float16, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float f = half_bits_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_half_bits(f), bits) << "bits " << bits;
  }
}

TEST(Float16, RoundsToNearestEvenAndSaturatesToInfinity) {
  // 1 + 2^-11 is exactly halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);   // rounds to infinity
  EXPECT_EQ(float_to_half_bits(-1e9f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -26)), 0x0000);  // underflows to zero
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(3.140625f)), 3.140625f);
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(NAN))));
}

TEST(Shape, BroadcastDims) {
  auto r = broadcast_dims({2, 1, 4}, {3, 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Dims{2, 3, 4}));
  auto bad = broadcast_dims({2, 3}, {4});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2x3"), std::string::npos) << bad.status().message();
}

TEST(Shape, SymbolicBroadcastKeepsSymbols) {
  Shape a({Dim::symbolic("N"), Dim(3)});
  Shape b({Dim(1), Dim(3)});
  auto r = broadcast_shapes(a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->to_string(), "[N,3]");
}

TEST(Shape, CheckedElementCountRejectsOverflowAndNegatives) {
  EXPECT_FALSE(checked_element_count({1LL << 40, 1LL << 40}).ok());
  EXPECT_FALSE(checked_element_count({-1, 3}).ok());
  EXPECT_EQ(*checked_element_count({2, 0, 5}), 0);
}

TEST(Npy, RoundTripsEveryDtype) {
  auto dir = std::filesystem::temp_directory_path() / "kiln_npy_test";
  std::filesystem::create_directories(dir);
  for (DataType dt : {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kI8, DataType::kU8, DataType::kI32,
                      DataType::kI64, DataType::kBool, DataType::kU16}) {
    Tensor t(dt, {2, 3});
    for (int64_t i = 0; i < t.byte_size(); ++i) static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(i * 7 % 2);
    std::string path = (dir / "t.npy").string();
    ASSERT_TRUE(write_npy(path, t).ok());
    auto back = read_npy(path);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->dtype(), dt);
    EXPECT_EQ(back->dims(), t.dims());
    EXPECT_EQ(std::memcmp(back->raw(), t.raw(), t.byte_size()), 0);
  }
  Tensor scalar = Tensor::scalar<float>(2.5f);
  ASSERT_TRUE(write_npy((dir / "s.npy").string(), scalar).ok());
  auto s = read_npy((dir / "s.npy").string());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rank(), 0);
  EXPECT_EQ(s->data<float>()[0], 2.5f);
}

TEST(Npy, ReportsMissingAndTruncatedFiles) {
  auto missing = read_npy("/nonexistent/x.npy");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/x.npy"), std::string::npos);
  auto path = (std::filesystem::temp_directory_path() / "kiln_trunc.npy").string();
  Tensor t(DataType::kF32, {4, 4});
  ASSERT_TRUE(write_npy(path, t).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 8);
  auto truncated = read_npy(path);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos) << truncated.status().message();
}
