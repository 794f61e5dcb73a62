// The TensorRT-format calibration cache: hex encoding, a hand-written TensorRT cache, round trips, errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "quant/calibration_cache.h"

namespace kiln {
namespace {

// Decodes a float32 bit pattern with arithmetic only (independent of the library's memcpy), normal and
// subnormal positive numbers.
double decode_bits(uint32_t bits) {
  int exponent = static_cast<int>((bits >> 23) & 0xff);
  double mantissa = static_cast<double>(bits & 0x7fffff) / 8388608.0;
  if (exponent == 0) return std::ldexp(mantissa, -126);
  return std::ldexp(1.0 + mantissa, exponent - 127);
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(QuantCache, HexIsTheBigEndianBitPatternWithoutLeadingZeros) {
  EXPECT_EQ(scale_to_cache_hex(0.0125f), "3c4ccccd");
  EXPECT_EQ(scale_to_cache_hex(1.0f), "3f800000");
  EXPECT_EQ(scale_to_cache_hex(0.5f), "3f000000");
  EXPECT_EQ(scale_to_cache_hex(0.0f), "0");
  EXPECT_EQ(scale_to_cache_hex(std::ldexp(1.0f, -149)), "1");         // smallest subnormal
  EXPECT_EQ(scale_to_cache_hex(std::ldexp(1.0f, -133)), "10000");     // subnormal: leading zeros dropped
  Result<float> f = scale_from_cache_hex("3C4CCCCD");                 // upper case is accepted
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, 0.0125f);
  f = scale_from_cache_hex("0");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, 0.0f);
  EXPECT_FALSE(std::signbit(*f));
}

TEST(QuantCache, ReadsAHandWrittenTensorRtCache) {
  // The shape of a TensorRT 8.6 MNIST cache: `data` is the [0, 1] input (amax ≈ 1, scale ≈ 1/127).
  const std::string text =
      "TRT-8601-EntropyCalibration2\n"
      "data: 3c010a14\n"
      "conv1: 3c8954be\n"
      "onnx::Conv_12: 3d8f0ab9\n"
      "(Unnamed Layer* 3) [Convolution]_output: 3e0a3d71\n"
      "relu_zero: 0\n";
  Result<CalibrationTable> table = parse_calibration_cache(text);
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_EQ(table->algorithm, "EntropyCalibration2");
  ASSERT_EQ(table->scales.size(), 5u);
  const std::pair<const char*, uint32_t> expected[] = {{"data", 0x3c010a14}, {"conv1", 0x3c8954be},
                                                        {"onnx::Conv_12", 0x3d8f0ab9},
                                                        {"(Unnamed Layer* 3) [Convolution]_output", 0x3e0a3d71},
                                                        {"relu_zero", 0}};
  for (const auto& [name, bits] : expected) {
    ASSERT_TRUE(table->scales.count(name)) << name;
    EXPECT_EQ(static_cast<double>(table->scales.at(name)), decode_bits(bits)) << name;
  }
  EXPECT_NEAR(table->scales.at("data") * 127.0, 1.0, 1e-3);  // amax of a [0, 1] input
}

TEST(QuantCache, AcceptsColonsInNamesCrlfAndTrailingBlankLines) {
  const std::string text = "TRT-7000-MinMaxCalibration\r\nonnx::Conv_12: 3f800000\r\na: b:3f000000\r\n\r\n\n  \n";
  Result<CalibrationTable> table = parse_calibration_cache(text);
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_EQ(table->algorithm, "MinMaxCalibration");
  EXPECT_EQ(table->scales.at("onnx::Conv_12"), 1.0f);
  EXPECT_EQ(table->scales.at("a: b"), 0.5f);  // split at the last ':'
  // No final newline, header only.
  table = parse_calibration_cache("TRT-8602-MinMaxCalibration");
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE(table->scales.empty());
}

TEST(QuantCache, RejectsMalformedLinesWithTheirNumberAndText) {
  struct Case {
    std::string text;
    std::string expected_fragment;
  };
  const Case cases[] = {
      {"", "line 1"},
      {"TRT--EntropyCalibration2\n", "line 1"},
      {"TRT-86a1-EntropyCalibration2\n", "'TRT-86a1-EntropyCalibration2'"},
      {"TRT-8601-\n", "line 1"},
      {"TRT-8601-Entropy Calibration\n", "line 1"},
      {"TRT-8601-X\nconv1 3c010a14\n", "line 2: expected '<tensor name>: <hex scale>': 'conv1 3c010a14'"},
      {"TRT-8601-X\n: 3c010a14\n", "line 2: empty tensor name"},
      {"TRT-8601-X\na: 1\nb: xyz\n", "line 3"},
      {"TRT-8601-X\na: 123456789\n", "line 2"},
      {"TRT-8601-X\na: \n", "line 2"},
      {"TRT-8601-X\na: bf800000\n", "negative"},
      {"TRT-8601-X\na: 7fc00000\n", "not finite"},
      {"TRT-8601-X\na: 7f800000\n", "not finite"},
      {"TRT-8601-X\na: 1\na: 2\n", "line 3: duplicate tensor name: 'a: 2'"},
      {"TRT-8601-X\na: 1\n\nb: 2\n", "line 3"},  // blank lines are only allowed at the end
  };
  for (const Case& c : cases) {
    Result<CalibrationTable> table = parse_calibration_cache(c.text);
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), ErrorCode::kInvalidModel);
    EXPECT_NE(table.status().message().find(c.expected_fragment), std::string::npos)
        << "text: " << c.text << "\nmessage: " << table.status().message();
  }
}

TEST(QuantCache, RoundTripIsBitExactAndSorted) {
  CalibrationTable table{.algorithm = "EntropyCalibration2", .scales = {}};
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    uint32_t bits = rng() & 0x7fffffffu;
    if ((bits >> 23) == 0xff) bits &= 0x3fffffffu;  // keep it finite
    if (i % 50 == 0) bits = 0;                      // zero scales
    if (i % 70 == 1) bits &= 0x007fffffu;           // subnormals
    float scale;
    std::memcpy(&scale, &bits, 4);
    std::string name = "t";
    name += std::to_string(rng() % 100000);
    if (i % 3 == 0) name += "::x:y";  // names with colons
    table.scales[name] = scale;
  }
  Result<std::string> text = format_calibration_cache(table);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(text->rfind("TRT-8601-EntropyCalibration2\n", 0), 0u);
  Result<CalibrationTable> back = parse_calibration_cache(*text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->algorithm, table.algorithm);
  ASSERT_EQ(back->scales.size(), table.scales.size());
  for (const auto& [name, scale] : table.scales) EXPECT_EQ(bits_of(back->scales.at(name)), bits_of(scale)) << name;

  // Lines after the header are in strictly increasing name order.
  std::vector<std::string> names;
  size_t pos = text->find('\n') + 1;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    std::string line = text->substr(pos, end - pos);
    names.push_back(line.substr(0, line.rfind(':')));
    pos = end + 1;
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.size(), table.scales.size());
}

TEST(QuantCache, WriteRejectsWhatCannotBeReadBack) {
  CalibrationTable table{.algorithm = "MinMaxCalibration", .scales = {{"ok", 1.0f}}};
  EXPECT_TRUE(format_calibration_cache(table).ok());
  table.scales["bad\nname"] = 1.0f;
  EXPECT_FALSE(format_calibration_cache(table).ok());
  table.scales = {{"neg", -1.0f}};
  EXPECT_FALSE(format_calibration_cache(table).ok());
  table.scales = {{"nan", NAN}};
  EXPECT_FALSE(format_calibration_cache(table).ok());
  table.scales = {{"ok", 1.0f}};
  table.algorithm = "Min Max";
  EXPECT_FALSE(format_calibration_cache(table).ok());
}

TEST(QuantCache, FileRoundTripAndMissingFile) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kiln_quant_cache_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  CalibrationTable table{.algorithm = "MinMaxCalibration", .scales = {{"x", 0.0125f}, {"y", 0.0f}}};
  ASSERT_TRUE(write_calibration_cache(dir / "c.cache", table, 8602).ok());
  std::ifstream in(dir / "c.cache");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "TRT-8602-MinMaxCalibration\nx: 3c4ccccd\ny: 0\n");
  Result<CalibrationTable> back = read_calibration_cache(dir / "c.cache");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->scales, table.scales);
  Result<CalibrationTable> missing = read_calibration_cache(dir / "nope.cache");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kIoError);
  std::filesystem::remove_all(dir);
}

TEST(QuantCache, CompareWithModelListsMissingExtraAndAlgorithm) {
  CalibrationTable table{.algorithm = "EntropyCalibration2", .scales = {{"a", 1.0f}, {"b", 1.0f}, {"stale", 1.0f}}};
  std::vector<std::string> expected = {"a", "b"};
  EXPECT_FALSE(compare_cache_with_model(table, expected, "EntropyCalibration2").ok());
  table.scales.erase("stale");
  EXPECT_TRUE(compare_cache_with_model(table, expected, "EntropyCalibration2").ok());
  EXPECT_TRUE(compare_cache_with_model(table, expected, "").ok());  // algorithm not checked

  table.scales["stale"] = 1.0f;
  expected.push_back("onnx::Conv_3");
  Status s = compare_cache_with_model(table, expected, "MinMaxCalibration");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  for (const char* fragment : {"algorithm is EntropyCalibration2, expected MinMaxCalibration",
                               "1 tensor(s) missing: onnx::Conv_3", "1 unknown tensor(s): stale"}) {
    EXPECT_NE(s.message().find(fragment), std::string::npos) << fragment << "\n" << s.message();
  }
}

}  // namespace
}  // namespace kiln
