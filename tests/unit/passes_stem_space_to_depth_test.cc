// stem_space_to_depth (src/passes/layout/stem_space_to_depth.h): the rewritten stem computes what the original
// convolution does (reference runner, random inputs and weights), for odd extents, both kinds of extra end
// padding, FusedConv with bias and activation; and convolutions it must leave alone stay as they are.
#include <gtest/gtest.h>

#include <string>

#include "passes/layout/channels_last.h"
#include "passes/layout/stem_space_to_depth.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

Status run_pass(Graph& g, const PassOptions&, PassCounts& counts) {
  StemSpaceToDepthReport r;
  KILN_RETURN_IF_ERROR(stem_space_to_depth(g, &r));
  counts["rewritten"] = r.rewritten;
  return {};
}

std::string stem_graph(int64_t c, int64_t h, int64_t w, int64_t k, int64_t pad, int64_t stride = 2,
                       int64_t dilation = 1) {
  const int64_t span = dilation * (k - 1) + 1;
  const std::string out_h = std::to_string((h + 2 * pad - span) / stride + 1);
  const std::string out_w = std::to_string((w + 2 * pad - span) / stride + 1);
  const std::string d = std::to_string(dilation);
  const std::string attrs_extra = dilation == 1 ? "" : ", dilations: ints = [" + d + ", " + d + "]";
  std::string p = std::to_string(pad), s = std::to_string(stride);
  return opset13_ir("input %x: f32[N," + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) +
                    "]\n" + rand_const("w", "f32", {8, c, k, k}, 7) + rand_const("b", "f32", {8}, 8) +
                    "node \"stem\" Conv<13>(%x, %w, %b) -> (%y: f32[N,8," + out_h + "," + out_w +
                    "]) {pads: ints = [" + p + ", " + p + ", " + p + ", " + p + "], strides: ints = [" + s + ", " +
                    s + "]" + attrs_extra + "}\noutput %y\n");
}

TEST(StemSpaceToDepth, ResNetStemKeepsOutputs) {
  PassCounts counts;
  std::string text = stem_graph(3, 23, 19, 7, 3);
  Graph g = expect_pass_keeps_outputs(run_pass, text, 1e-4);
  std::string out = print_graph(g);
  EXPECT_NE(out.find("SpaceToDepth"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel_shape: ints = [4, 4]"), std::string::npos) << out;
}

TEST(StemSpaceToDepth, OddAndEvenPaddedExtentsKeepOutputs) {
  // Padded extents 24+6 = 30 (even, one extra end row) and 25+6 = 31 (odd, none), 7x7 and 5x5 kernels, one,
  // two and four channels (space-to-depth gives 8 or 16), no padding at all.
  EXPECT_NE(print_graph(expect_pass_keeps_outputs(run_pass, stem_graph(3, 24, 25, 7, 3), 1e-4)).find("SpaceToDepth"),
            std::string::npos);
  EXPECT_NE(print_graph(expect_pass_keeps_outputs(run_pass, stem_graph(1, 17, 16, 5, 2), 1e-4)).find("SpaceToDepth"),
            std::string::npos);
  EXPECT_NE(print_graph(expect_pass_keeps_outputs(run_pass, stem_graph(2, 9, 12, 5, 1), 1e-4)).find("SpaceToDepth"),
            std::string::npos);
  EXPECT_NE(print_graph(expect_pass_keeps_outputs(run_pass, stem_graph(4, 15, 15, 7, 0), 1e-4)).find("SpaceToDepth"),
            std::string::npos);
}

// QuantizeLinear -> QConv (7x7, stride 2, per-channel scales, bias, Relu) -> DequantizeLinear, with a nonzero
// x zero point so padding must use it (real 0). `q_zero_point`: the QuantizeLinear's zero point constant (the
// QConv's is %xz = 5); `x_read_elsewhere`: a second output reads the quantized input.
std::string int8_stem_graph(const std::string& q_zero_point = "xz", bool x_read_elsewhere = false) {
  std::string text = opset13_ir(
      "input %x: f32[N,3,21,18]\nconst %xs: f32[] = [0.02]\nconst %xz: i8[] = [5]\nconst %xz2: i8[] = [4]\n" +
      rand_const("w", "i8", {8, 3, 7, 7}, 31, -127, 127) + rand_const("ws", "f32", {8}, 32, 0.002, 0.01) +
      "const %wz: i8[8] = [0, 0, 0, 0, 0, 0, 0, 0]\nconst %ys: f32[] = [0.3]\nconst %yz: i8[] = [0]\n" +
      rand_const("b", "i32", {8}, 33, -300, 300) +
      "node \"q\" QuantizeLinear<13>(%x, %xs, %" + q_zero_point + R"() -> (%xq: i8[N,3,21,18])
node "stem" QConv@kiln<1>(%xq, %xs, %xz, %w, %ws, %wz, %ys, %yz, %b) -> (%q: i8[N,8,11,9]) {activation: string = "Relu", pads: ints = [3, 3, 3, 3], strides: ints = [2, 2]}
node "dq" DequantizeLinear<13>(%q, %ys, %yz) -> (%y: f32[N,8,11,9])
output %y
)" + (x_read_elsewhere ? "output %xq\n" : ""));
  text.replace(text.find("opset \"\" 13\n"), 12, "opset \"\" 13\nopset \"kiln\" 1\n");
  return text;
}

TEST(StemSpaceToDepth, Int8StemIsExactAndAbsorbsTheInputQuantize) {
  // The rewrite sums the same integer products; the space-to-depth quantizes the FLOAT input itself (the
  // QuantizeLinear is gone) and pads with the zero point.
  Graph g = expect_pass_keeps_outputs(run_pass, int8_stem_graph(), 0.0);
  const std::string out = print_graph(g);
  EXPECT_NE(out.find("PaddedSpaceToDepth@kiln<1>(%x, %xz, %xs)"), std::string::npos) << out;
  EXPECT_EQ(out.find("QuantizeLinear"), std::string::npos) << out;
}

TEST(StemSpaceToDepth, KeepsAQuantizeItCannotAbsorb) {
  // Another zero point than the QConv's (padding would not be real 0), or the quantized input read elsewhere.
  for (const auto& [zero_point, elsewhere] : {std::pair<std::string, bool>{"xz2", false}, {"xz", true}}) {
    SCOPED_TRACE(zero_point + (elsewhere ? " read elsewhere" : ""));
    Graph g = expect_pass_keeps_outputs(run_pass, int8_stem_graph(zero_point, elsewhere), 0.0);
    const std::string out = print_graph(g);
    EXPECT_NE(out.find("QuantizeLinear"), std::string::npos) << out;
    EXPECT_NE(out.find("PaddedSpaceToDepth@kiln<1>(%xq, %xz)"), std::string::npos) << out;
  }
}

// The FP16 build's input Cast (FLOAT -> FLOAT16) feeding the stem.
std::string fp16_stem_graph(bool cast_read_elsewhere) {
  return opset13_ir(
      "input %x: f32[N,3,23,19]\n" + rand_const("w", "f16", {8, 3, 7, 7}, 7) + rand_const("b", "f16", {8}, 8) +
      R"(node "cast" Cast<13>(%x) -> (%xh: f16[N,3,23,19]) {to: int = 10}
node "stem" Conv<13>(%xh, %w, %b) -> (%y: f16[N,8,12,10]) {pads: ints = [3, 3, 3, 3], strides: ints = [2, 2]}
output %y
)" + (cast_read_elsewhere ? "output %xh\n" : ""));
}

Status stem_then_channels_last(Graph& g, const PassOptions& o, PassCounts& counts) {
  KILN_RETURN_IF_ERROR(run_pass(g, o, counts));
  ChannelsLastReport r;
  KILN_RETURN_IF_ERROR(convert_to_channels_last(g, &r));
  counts["transposes"] = r.transposes;
  return {};
}

TEST(StemSpaceToDepth, AbsorbsTheFp16InputCast) {
  const std::string text = fp16_stem_graph(false);
  Graph original = parse_text(text), g = parse_text(text);
  PassCounts counts = apply(run_pass, g);
  // Summation order differs from the 7x7 stride-2 convolution's: f16 rounding of the outputs may differ.
  expect_same_outputs(original, g, random_inputs(original), 1e-2, 1e-2);
  const std::string out = print_graph(g);
  EXPECT_EQ(counts["rewritten"], 1);
  EXPECT_EQ(out.find("Cast"), std::string::npos) << out;  // the space-to-depth reads FLOAT and converts
  EXPECT_NE(out.find("PaddedSpaceToDepth@kiln<1>(%x)"), std::string::npos) << out;
  EXPECT_NE(out.find("to: int = 10"), std::string::npos) << out;
}

TEST(StemSpaceToDepth, KeepsACastThatIsReadElsewhere) {
  const std::string out = print_graph(expect_pass_keeps_outputs(run_pass, fp16_stem_graph(true), 1e-2));
  EXPECT_NE(out.find("Cast<13>(%x)"), std::string::npos) << out;
  EXPECT_NE(out.find("PaddedSpaceToDepth@kiln<1>(%xh)"), std::string::npos) << out;
}

// channels_last makes the space-to-depth write NHWC for the (now NHWC) stem conv: no Transpose between.
TEST(StemSpaceToDepth, WritesNhwcForAChannelsLastStem) {
  const std::string text = stem_graph(3, 23, 19, 7, 3);
  Graph original = parse_text(text), g = parse_text(text);
  PassCounts counts = apply(stem_then_channels_last, g);
  expect_same_outputs(original, g, random_inputs(original), 1e-4);
  const std::string out = print_graph(g);
  EXPECT_NE(out.find("output_layout: string = \"NHWC\""), std::string::npos) << out;
  EXPECT_EQ(counts["transposes"], 1) << out;  // only the output's, back to NCHW
}

TEST(StemSpaceToDepth, LeavesOtherConvolutionsAlone) {
  for (const std::string& text : {stem_graph(8, 16, 16, 7, 3),         // too many channels
                                  stem_graph(3, 16, 16, 7, 3, 1),      // stride 1
                                  stem_graph(3, 16, 16, 4, 1),         // even kernel
                                  stem_graph(3, 16, 16, 3, 1),         // 3x3: not worth the extra passes
                                  stem_graph(3, 16, 16, 5, 2, 2, 2)}) {  // dilation 2
    PassCounts counts;
    std::string out = pass_text(run_pass, text, &counts);
    EXPECT_EQ(counts["rewritten"], 0) << out;
    EXPECT_EQ(out.find("SpaceToDepth"), std::string::npos) << out;
  }
}

}  // namespace
