// convert_to_channels_last: where the Transposes go, bit-exact outputs on the reference runner (small blocks,
// an int8 QConv chain, real models), types that agree with inference, and idempotence.
#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <random>

#include "onnx/importer.h"
#include "passes/precision/fold_qdq.h"
#include "passes/layout/channels_last.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;
namespace fs = std::filesystem;

namespace {


size_t count_ops(const Graph& g, const std::string& op) {
  size_t n = 0;
  for (const auto& node : g.nodes()) n += node->op_type == op;
  return n;
}

// Converts `g` and checks what every pass run here must keep: the types the pass wrote are those inference
// derives, the text form parses back, and a second run changes nothing.
ChannelsLastReport convert_checked(Graph& g) {
  ChannelsLastReport r;
  Status s = convert_to_channels_last(g, &r);
  EXPECT_TRUE(s.ok()) << s.message();
  const TextOptions brief{.max_constant_elements = 8};  // constants print in full only for the parse check
  const std::string converted = print_graph(g, brief);
  Status inferred = infer_shapes(g);
  EXPECT_TRUE(inferred.ok()) << inferred.message() << "\n" << converted;
  EXPECT_EQ(print_graph(g, brief), converted) << "the pass's types differ from inference";
  EXPECT_TRUE(parse_graph(print_graph(g)).ok());
  ChannelsLastReport again;
  s = convert_to_channels_last(g, &again);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(print_graph(g, brief), converted) << "a second run changed the graph";
  EXPECT_EQ(again.convs + again.transposes + again.propagated, 0) << again.to_string();
  return r;
}

// Runs `text` before and after the pass on the same random inputs; outputs must be identical.
Graph expect_exact(const std::string& text, ChannelsLastReport* report = nullptr) {
  Graph original = parse_text(text), converted = parse_text(text);
  ChannelsLastReport r = convert_checked(converted);
  if (report) *report = r;
  expect_same_outputs(original, converted, random_inputs(original, 5), 0.0);
  return converted;
}

// conv -> relu -> conv -> add(residual) -> GlobalAveragePool -> Flatten -> Gemm, batch symbolic.
std::string residual_block() {
  return opset13_ir("input %x: f32[N,3,7,5]\n" + rand_const("w1", "f32", {4, 3, 3, 3}, 1) +
                    rand_const("b1", "f32", {4}, 2) + rand_const("w2", "f32", {4, 4, 3, 3}, 3) +
                    rand_const("b2", "f32", {4}, 4) + rand_const("wg", "f32", {4, 5}, 5) +
                    rand_const("bg", "f32", {5}, 6) + R"(node "conv1" Conv<13>(%x, %w1, %b1) -> (%c1: f32[N,4,7,5]) {pads: ints = [1, 1, 1, 1]}
node "relu1" Relu<13>(%c1) -> (%r1: f32[N,4,7,5])
node "conv2" Conv<13>(%r1, %w2, %b2) -> (%c2: f32[N,4,7,5]) {pads: ints = [1, 1, 1, 1]}
node "add" Add<13>(%c2, %r1) -> (%s: f32[N,4,7,5])
node "gap" GlobalAveragePool<13>(%s) -> (%g: f32[N,4,1,1])
node "flatten" Flatten<13>(%g) -> (%f: f32[N,4])
node "fc" Gemm<13>(%f, %wg, %bg) -> (%y: f32[N,5])
output %y
)");
}

TEST(ChannelsLast, ResidualBlockHasOneTransposeInAndFlattenReadsThePooledNhwc) {
  Graph g = parse_text(residual_block());
  ChannelsLastReport r = convert_checked(g);
  EXPECT_EQ(r.convs, 2);
  EXPECT_EQ(r.propagated, 4);  // relu, add, gap, flatten
  EXPECT_EQ(r.transposes, 1);
  std::string out = print_graph(g);
  EXPECT_EQ(count_ops(g, "Transpose"), 1u) << out;
  EXPECT_TRUE(has_line(out, "node \"x__to_nhwc\" Transpose<13>(%x) -> (%x__nhwc: f32[N,7,5,3]) "
                            "{perm: ints = [0, 2, 3, 1]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv1\" FusedConv@kiln<1>(%x__nhwc, %w1, %b1) -> (%c1__nhwc: f32[N,7,5,4]) "
                            "{layout: string = \"NHWC\", pads: ints = [1, 1, 1, 1]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"relu1\" Relu<13>(%c1__nhwc) -> (%r1__nhwc: f32[N,7,5,4])")) << out;
  EXPECT_TRUE(has_line(out, "node \"add\" Add<13>(%c2__nhwc, %r1__nhwc) -> (%s__nhwc: f32[N,7,5,4])")) << out;
  EXPECT_TRUE(has_line(out, "node \"gap\" Pool@kiln<1>(%s__nhwc) -> (%g__nhwc: f32[N,1,1,4]) "
                            "{layout: string = \"NHWC\", mode: string = \"GlobalAveragePool\"}")) << out;
  // [N, 1, 1, 4] in NHWC is [N, 4, 1, 1] in NCHW byte for byte: Flatten reads it as it is.
  EXPECT_TRUE(has_line(out, "node \"flatten\" Flatten<13>(%g__nhwc) -> (%f: f32[N,4])")) << out;
  EXPECT_EQ(g.find_value("g"), nullptr);
  // Only what is needed in NCHW survives: c1, r1, c2, s are gone.
  EXPECT_EQ(g.find_value("c1"), nullptr);
  EXPECT_EQ(g.find_value("s"), nullptr);
  EXPECT_EQ(g.outputs[0]->name, "y");
  expect_exact(residual_block());
}

TEST(ChannelsLast, FlattenOfAWholeFeatureMapStillReadsNchw) {
  // Flatten of [2, 4, 2, 3] orders C before H and W: it needs the NCHW value (a Transpose back), as does a
  // Flatten at another axis of a pooled [2, 4, 1, 1].
  const std::string text = opset13_ir("input %x: f32[2,3,4,5]\n" + rand_const("w", "f32", {4, 3, 3, 3}, 1) +
                                      R"(node "conv" Conv<13>(%x, %w) -> (%c: f32[2,4,2,3])
node "flatten" Flatten<13>(%c) -> (%f: f32[2,24])
node "gap" GlobalAveragePool<13>(%c) -> (%g: f32[2,4,1,1])
node "flatten2" Flatten<13>(%g) -> (%f2: f32[8,1]) {axis: int = 2}
output %f
output %f2
)");
  Graph g = parse_text(text);
  convert_checked(g);
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "node \"flatten\" Flatten<13>(%c) -> (%f: f32[2,24])")) << out;
  EXPECT_TRUE(has_line(out, "node \"flatten2\" Flatten<13>(%g) -> (%f2: f32[8,1]) {axis: int = 2}")) << out;
  expect_exact(text);
}

TEST(ChannelsLast, ConvOutputReadInBothLayoutsAndAsGraphOutput) {
  // c is read by an NHWC-able Relu, a Softmax (axis 1: not layout-agnostic) and is a graph output: one
  // Transpose back serves both NCHW readers and the output keeps its name and type.
  std::string text = opset13_ir("input %x: f32[2,3,5,5]\n" + rand_const("w", "f32", {4, 3, 1, 1}, 7) +
                                R"(node "conv" Conv<13>(%x, %w) -> (%c: f32[2,4,5,5])
node "relu" Relu<13>(%c) -> (%r: f32[2,4,5,5])
node "softmax" Softmax<13>(%c) -> (%sm: f32[2,4,5,5]) {axis: int = 1}
output %c
output %r
output %sm
)");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.transposes, 3);  // x in; c and r back
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "node \"c__to_nchw\" Transpose<13>(%c__nhwc) -> (%c: f32[2,4,5,5]) "
                            "{perm: ints = [0, 3, 1, 2]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"softmax\" Softmax<13>(%c) -> (%sm: f32[2,4,5,5]) {axis: int = 1}")) << out;
  EXPECT_EQ(g.outputs[0]->name, "c");
  EXPECT_EQ(g.outputs[1]->type.to_string(), "f32[2,4,5,5]");
}

TEST(ChannelsLast, MobileNetStyleDepthwiseAndPointwiseWithClip) {
  // conv -> Clip(0, 0.5) -> Pad (TF-style asymmetric, reflect) -> depthwise stride 2 -> Clip -> pointwise.
  std::string text = opset13_ir(
      "input %x: f32[N,3,13,11]\n" + rand_const("w1", "f32", {6, 3, 3, 3}, 11) + rand_const("b1", "f32", {6}, 12) +
      rand_const("wd", "f32", {6, 1, 3, 3}, 13) + rand_const("wp", "f32", {5, 6, 1, 1}, 14) +
      "const %lo: f32[] = [0]\nconst %hi: f32[] = [0.5]\nconst %pads: i64[8] = [0, 0, 0, 1, 0, 0, 1, 0]\n" +
      R"(node "conv1" Conv<13>(%x, %w1, %b1) -> (%c1: f32[N,6,7,6]) {pads: ints = [1, 1, 1, 1], strides: ints = [2, 2]}
node "clip1" Clip<13>(%c1, %lo, %hi) -> (%a1: f32[N,6,7,6])
node "pad" Pad<13>(%a1, %pads) -> (%p: f32[N,6,8,7]) {mode: string = "reflect"}
node "dw" Conv<13>(%p, %wd) -> (%d: f32[N,6,3,3]) {group: int = 6, strides: ints = [2, 2]}
node "clip2" Clip<13>(%d, %lo, %hi) -> (%a2: f32[N,6,3,3])
node "pw" Conv<13>(%a2, %wp) -> (%y: f32[N,5,3,3])
output %y
)");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.convs, 3);
  EXPECT_EQ(r.propagated, 3);  // the clips and the pad
  EXPECT_EQ(r.transposes, 2);
  std::string out = print_graph(g, {.max_constant_elements = 8});
  EXPECT_TRUE(has_line(out, "const %pads__nhwc: i64[8] = [0, 0, 1, 0, 0, 1, 0, 0]")) << out;
  EXPECT_TRUE(has_line(out, "node \"pad\" Pad<13>(%a1__nhwc, %pads__nhwc) -> (%p__nhwc: f32[N,8,7,6]) "
                            "{mode: string = \"reflect\"}")) << out;
}

TEST(ChannelsLast, SqueezeExciteBlockWithBroadcastsAndConstants) {
  // GAP -> conv -> relu -> conv -> sigmoid -> Mul([N,C,1,1] x [N,C,H,W]), then a per-channel constant
  // [C,1,1] (left-padded and transposed to [1,1,1,C]), a scalar, a rank-4 constant and a per-column [W] one.
  std::string text = opset13_ir(
      "input %x: f32[N,4,7,5]\n" + rand_const("w0", "f32", {4, 4, 3, 3}, 21) + rand_const("wr", "f32", {2, 4, 1, 1}, 22) +
      rand_const("we", "f32", {4, 2, 1, 1}, 23) + rand_const("cs", "f32", {4, 1, 1}, 24) +
      rand_const("c4", "f32", {1, 4, 7, 1}, 25) + rand_const("cw", "f32", {5}, 26) + "const %k: f32[] = [0.25]\n" +
      R"(node "conv0" Conv<13>(%x, %w0) -> (%c0: f32[N,4,7,5]) {pads: ints = [1, 1, 1, 1]}
node "gap" GlobalAveragePool<13>(%c0) -> (%g: f32[N,4,1,1])
node "reduce" Conv<13>(%g, %wr) -> (%rd: f32[N,2,1,1])
node "relu" Relu<13>(%rd) -> (%rr: f32[N,2,1,1])
node "expand" Conv<13>(%rr, %we) -> (%ex: f32[N,4,1,1])
node "sigmoid" Sigmoid<13>(%ex) -> (%sg: f32[N,4,1,1])
node "scale" Mul<13>(%c0, %sg) -> (%m: f32[N,4,7,5])
node "per_channel" Mul<13>(%cs, %m) -> (%m2: f32[N,4,7,5])
node "scalar" Add<13>(%m2, %k) -> (%m3: f32[N,4,7,5])
node "rank4" Sub<13>(%m3, %c4) -> (%m4: f32[N,4,7,5])
node "per_column" Div<13>(%m4, %cw) -> (%y: f32[N,4,7,5])
output %y
)");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.convs, 3);
  EXPECT_EQ(r.propagated, 8);
  EXPECT_EQ(r.transposes, 2);
  std::string out = print_graph(g, {.max_constant_elements = 8});
  EXPECT_TRUE(has_line(out, "node \"per_channel\" Mul<13>(%cs__nhwc, %m__nhwc) -> (%m2__nhwc: f32[N,7,5,4])")) << out;
  EXPECT_TRUE(out.find("const %cs__nhwc: f32[1,1,1,4]") != std::string::npos) << out;
  EXPECT_TRUE(out.find("const %cw__nhwc: f32[1,1,5,1]") != std::string::npos) << out;
  EXPECT_TRUE(out.find("const %c4__nhwc: f32[1,7,1,4]") != std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "node \"scalar\" Add<13>(%m2__nhwc, %k) -> (%m3__nhwc: f32[N,7,5,4])")) << out;
  EXPECT_EQ(g.find_value("cs"), nullptr);  // the NCHW constants nobody reads any more are gone
}

TEST(ChannelsLast, NonConstantLowerRankOperandStopsPropagationButAScalarDoesNot) {
  std::string text = opset13_ir("input %x: f32[1,3,4,4]\ninput %b: f32[4,1,1]\ninput %k: f32[]\n" +
                                rand_const("w", "f32", {4, 3, 1, 1}, 31) +
                                R"(node "conv" Conv<13>(%x, %w) -> (%c: f32[1,4,4,4])
node "mul" Mul<13>(%c, %k) -> (%m: f32[1,4,4,4])
node "add" Add<13>(%m, %b) -> (%y: f32[1,4,4,4])
output %y
)");
  Graph g = expect_exact(text);
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "node \"mul\" Mul<13>(%c__nhwc, %k) -> (%m__nhwc: f32[1,4,4,4])")) << out;
  EXPECT_TRUE(has_line(out, "node \"add\" Add<13>(%m, %b) -> (%y: f32[1,4,4,4])")) << out;
}

TEST(ChannelsLast, ConcatOfTwoConvsAndPools) {
  std::string text = opset13_ir(
      "input %x: f32[2,3,7,5]\n" + rand_const("wa", "f32", {4, 3, 3, 3}, 41) + rand_const("wb", "f32", {2, 3, 1, 1}, 42) +
      rand_const("wc", "f32", {3, 6, 1, 1}, 43) +
      R"(node "a" Conv<13>(%x, %wa) -> (%ca: f32[2,4,7,5]) {pads: ints = [1, 1, 1, 1]}
node "b" Conv<13>(%x, %wb) -> (%cb: f32[2,2,7,5])
node "cat" Concat<13>(%ca, %cb) -> (%cat: f32[2,6,7,5]) {axis: int = 1}
node "maxpool" MaxPool<13>(%cat) -> (%mp: f32[2,6,4,3]) {ceil_mode: int = 1, kernel_shape: ints = [2, 2], strides: ints = [2, 2]}
node "avgpool" AveragePool<13>(%mp) -> (%ap: f32[2,6,4,3]) {count_include_pad: int = 1, kernel_shape: ints = [3, 3], pads: ints = [1, 1, 1, 1]}
node "c" Conv<13>(%ap, %wc) -> (%y: f32[2,3,4,3])
output %y
)");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.convs, 3);
  EXPECT_EQ(r.propagated, 3);
  EXPECT_EQ(r.transposes, 2);  // x once for both convs, y back
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "node \"cat\" Concat<13>(%ca__nhwc, %cb__nhwc) -> (%cat__nhwc: f32[2,7,5,6]) "
                            "{axis: int = 3}")) << out;
  EXPECT_TRUE(has_line(out, "node \"maxpool\" Pool@kiln<1>(%cat__nhwc) -> (%mp__nhwc: f32[2,4,3,6]) {ceil_mode: "
                            "int = 1, kernel_shape: ints = [2, 2], layout: string = \"NHWC\", mode: string = "
                            "\"MaxPool\", strides: ints = [2, 2]}")) << out;
}

TEST(ChannelsLast, MaxPoolWithIndicesStaysNchwAndKilnPoolSwitches) {
  std::string text = opset13_ir("input %x: f32[1,3,6,6]\n" + rand_const("w", "f32", {4, 3, 3, 3}, 45) +
                                R"(node "conv" Conv<13>(%x, %w) -> (%c: f32[1,4,6,6]) {pads: ints = [1, 1, 1, 1]}
node "mp" MaxPool<13>(%c) -> (%mp: f32[1,4,3,3], %idx: i64[1,4,3,3]) {kernel_shape: ints = [2, 2], strides: ints = [2, 2]}
node "kp" Pool@kiln<1>(%c) -> (%kp: f32[1,4,3,3]) {kernel_shape: ints = [2, 2], mode: string = "AveragePool", strides: ints = [2, 2]}
output %mp
output %idx
output %kp
)");
  text.replace(text.find("opset \"\" 13\n"), 12, "opset \"\" 13\nopset \"kiln\" 1\n");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.propagated, 1);
  std::string out = print_graph(g, {.max_constant_elements = 8});
  EXPECT_TRUE(has_line(out, "node \"mp\" MaxPool<13>(%c) -> (%mp: f32[1,4,3,3], %idx: i64[1,4,3,3]) "
                            "{kernel_shape: ints = [2, 2], strides: ints = [2, 2]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"kp\" Pool@kiln<1>(%c__nhwc) -> (%kp__nhwc: f32[1,3,3,4]) {kernel_shape: ints = "
                            "[2, 2], layout: string = \"NHWC\", mode: string = \"AveragePool\", strides: ints = [2, 2]}"))
      << out;
}

TEST(ChannelsLast, TransposeFromNhwcIsReusedNotDoubled) {
  // An NHWC graph input transposed to NCHW for the conv: the conv reads the input directly.
  std::string text = opset13_ir("input %x: f32[1,5,4,3]\n" + rand_const("w", "f32", {2, 3, 1, 1}, 51) +
                                R"(node "to_nchw" Transpose<13>(%x) -> (%t: f32[1,3,5,4]) {perm: ints = [0, 3, 1, 2]}
node "conv" Conv<13>(%t, %w) -> (%y: f32[1,2,5,4])
output %y
)");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.transposes, 1);  // only y back to NCHW
  EXPECT_EQ(count_ops(g, "Transpose"), 1u) << print_graph(g);
}

TEST(ChannelsLast, QConvChainInt8) {
  // QuantizeLinear -> QConv (Relu) -> QConv (residual) -> DequantizeLinear.
  std::string text = opset13_ir(
      "input %x: f32[N,3,7,5]\nconst %xs: f32[] = [0.05]\nconst %xz: i8[] = [3]\n" +
      rand_const("w1", "i8", {4, 3, 3, 3}, 61, -127, 127) + rand_const("ws1", "f32", {4}, 62, 0.002, 0.01) +
      "const %wz1: i8[4] = [0, 0, 0, 0]\nconst %ys1: f32[] = [0.04]\nconst %yz1: i8[] = [-5]\n" +
      rand_const("b1", "i32", {4}, 63, -300, 300) + rand_const("w2", "i8", {4, 4, 1, 1}, 64, -127, 127) +
      "const %ws2: f32[] = [0.006]\nconst %wz2: i8[] = [0]\nconst %ys2: f32[] = [0.05]\nconst %yz2: i8[] = [2]\n" +
      R"(node "q" QuantizeLinear<13>(%x, %xs, %xz) -> (%xq: i8[N,3,7,5])
node "qconv1" QConv@kiln<1>(%xq, %xs, %xz, %w1, %ws1, %wz1, %ys1, %yz1, %b1) -> (%q1: i8[N,4,4,3]) {activation: string = "Relu", pads: ints = [1, 1, 1, 1], strides: ints = [2, 2]}
node "qconv2" QConv@kiln<1>(%q1, %ys1, %yz1, %w2, %ws2, %wz2, %ys2, %yz2, _, %q1, %ys1, %yz1) -> (%q2: i8[N,4,4,3])
node "dq" DequantizeLinear<13>(%q2, %ys2, %yz2) -> (%y: f32[N,4,4,3])
output %y
)");
  text.replace(text.find("opset \"\" 13\n"), 12, "opset \"\" 13\nopset \"kiln\" 1\n");
  ChannelsLastReport r;
  Graph g = expect_exact(text, &r);
  EXPECT_EQ(r.convs, 2);
  EXPECT_EQ(r.propagated, 1);  // the DequantizeLinear (the Quantize comes before any NHWC value)
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "node \"dq\" DequantizeLinear<13>(%q2__nhwc, %ys2, %yz2) -> (%y__nhwc: f32[N,4,3,4])"))
      << out;
  EXPECT_TRUE(has_line(out, "node \"xq__to_nhwc\" Transpose<13>(%xq) -> (%xq__nhwc: i8[N,7,5,3]) "
                            "{perm: ints = [0, 2, 3, 1]}")) << out;
}

// --- Real models (skipped when ../shared is absent) --------------------------------------------------------

fs::path shared_models() { return fs::path(__FILE__).parent_path() / "../../../shared/models"; }

// Imports and prepares the model twice (Graph is not copyable), converts one copy, and runs both on the
// same random input; returns the conversion's report and the Transposes the converted graph holds.
std::pair<ChannelsLastReport, size_t> expect_model_exact(const fs::path& path,
                                                         const std::function<void(Graph&)>& prepare) {
  auto load = [&]() -> Graph {
    auto g = import_onnx_file(path.string());
    EXPECT_TRUE(g.ok()) << g.status().message();
    if (!g.ok()) return Graph();
    prepare(*g);
    return std::move(g).value();
  };
  Graph original = load(), converted = load();
  ChannelsLastReport r = convert_checked(converted);
  std::cout << path.filename().string() << ": " << r.to_string() << "\n";
  // One image (symbolic extents bound to 1) keeps the reference runner quick.
  std::mt19937 rng(9);
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : original.inputs) {
    Dims dims;
    for (const Dim& d : v->type.shape.dims()) dims.push_back(d.known() ? d.value : 1);
    Tensor t(v->type.dtype, dims);
    for (int64_t i = 0; i < t.size(); ++i) {
      if (t.dtype() == DataType::kF32) t.data<float>()[i] = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
      if (t.dtype() == DataType::kU8) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
    }
    inputs[v->name] = t;
  }
  expect_same_outputs(original, converted, inputs, 0.0);
  return {r, count_ops(converted, "Transpose")};
}

void optimize(Graph& g) {
  Status s = run_optimization_passes(g, PassOptions{}, nullptr);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ChannelsLast, FlowersMobileNetV2IsBitExact) {
  fs::path model = shared_models() / "st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "no model at " << model;
  auto [r, transposes] = expect_model_exact(model, optimize);
  EXPECT_EQ(r.convs, 52);
  EXPECT_EQ(transposes, 2u);  // the input in, the pooled features out (TF-style Pads stay NHWC)
}

TEST(ChannelsLast, SqueezeNetIsBitExact) {
  fs::path model = shared_models() / "squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "no model at " << model;
  auto [r, transposes] = expect_model_exact(model, optimize);
  EXPECT_EQ(r.convs, 26);
  EXPECT_EQ(transposes, 2u);  // MaxPools and the fire modules' Concats stay NHWC
}

TEST(ChannelsLast, QuantizedMobileNetV1WithNhwcInputIsBitExact) {
  // uint8 NHWC input -> Transpose -> Q/DQ graph, folded to QConvs: the convs read the input itself.
  fs::path model = shared_models() / "st_mobilenet_v1_0.5_128_quant/mobilenet_v1_0.5_128_quant.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "no model at " << model;
  auto [r, transposes] = expect_model_exact(model, [](Graph& g) {
    FoldQdqReport folded;
    Status s = fold_qdq(g, &folded);
    EXPECT_TRUE(s.ok()) << s.message();
  });
  EXPECT_EQ(r.convs, 28);
  EXPECT_EQ(r.propagated, 3);  // DQ -> AveragePool -> Q before the classifier's 1x1 QConv
  EXPECT_EQ(transposes, 1u);   // only back to NCHW before the final Reshape
}

}  // namespace
