// quantize_int8 (+ fold_qdq): IR text in → rewritten IR text out, the int8 Conv-Relu-Conv graph against its FP32
// original within a derived error bound, keep_fp32 and its report, the int8 MAC share on a hand-counted graph.
#include <fmt/format.h>

#include <filesystem>

#include "onnx/importer.h"
#include "onnx/tensor_proto.h"

#include "passes/precision/fold_qdq.h"
#include "passes/precision/quantize_int8.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::string values(const std::vector<float>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

std::vector<float> pseudo_random(size_t n, float amplitude, float phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = amplitude * std::sin(1.7f * static_cast<float>(i) + phase);
  return v;
}

// x[1,3,8,8] → Conv 3x3 (4 ch) → Relu → Conv 1x1 (2 ch) → y2.
std::string conv_relu_conv_text() {
  return fmt::format(R"(kiln-ir 1
graph "g"
opset "" 13
input %x: f32[1,3,8,8]
const %w1: f32[4,3,3,3] = {}
const %b1: f32[4] = [0.1, -0.2, 0.05, 0.3]
const %w2: f32[2,4,1,1] = {}
const %b2: f32[2] = [0.01, -0.02]
node "conv1" Conv<13>(%x, %w1, %b1) -> (%y1: f32[1,4,6,6])
node "relu" Relu<13>(%y1) -> (%r1: f32[1,4,6,6])
node "conv2" Conv<13>(%r1, %w2, %b2) -> (%y2: f32[1,2,6,6])
output %y2
)", values(pseudo_random(108, 0.4f, 0.3f)), values(pseudo_random(8, 0.8f, 1.1f)));
}

// A calibration table made by hand from the FP32 run: scale = max|v| / 127 for every value the rewrite asks for.
CalibrationTable table_from_run(const Graph& g, const std::map<std::string, Tensor, std::less<>>& inputs) {
  std::map<std::string, double> amax;
  for (const auto& [name, t] : inputs)
    for (int64_t i = 0; i < t.size(); ++i) amax[name] = std::max(amax[name], std::abs(t.element_as_double(i)));
  RunOptions options;
  options.observer = [&](const Value& v, const Tensor& t) {
    for (int64_t i = 0; i < t.size(); ++i) amax[v.name] = std::max(amax[v.name], std::abs(t.element_as_double(i)));
  };
  auto runner = GraphRunner::create(g);
  EXPECT_TRUE(runner.ok());
  EXPECT_TRUE(runner->run(inputs, options).ok());
  CalibrationTable table;
  for (const std::string& name : tensors_to_calibrate(g)) table.scales[name] = static_cast<float>(amax[name] / 127.0);
  return table;
}

Int8Report quantize_and_fold(Graph& g, const CalibrationTable& table, const Int8Options& options = {}) {
  Int8Report report;
  Status s = quantize_int8(g, table, options, &report);
  EXPECT_TRUE(s.ok()) << s.message();
  s = fold_qdq(g, nullptr);
  EXPECT_TRUE(s.ok()) << s.message();
  auto reparsed = parse_graph(print_graph(g));
  EXPECT_TRUE(reparsed.ok()) << reparsed.status().message();
  return report;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a.element_as_double(i) - b.element_as_double(i)));
  return d;
}

const Int8NodeDecision* decision(const Int8Report& r, const std::string& node) {
  for (const Int8NodeDecision& d : r.nodes)
    if (d.node == node) return &d;
  return nullptr;
}

TEST(QuantizeInt8, InsertsQdqAndPerChannelWeightsThenFoldsToQConv) {
  const char* text = R"(kiln-ir 1
graph "g"
opset "" 13
input %x: f32[1,1,2,2]
const %w: f32[2,1,1,1] = [0.5, -1]
const %b: f32[2] = [0.1, 0.2]
node "conv" Conv<13>(%x, %w, %b) -> (%y: f32[1,2,2,2])
output %y
)";
  Graph g = parse_text(text);
  CalibrationTable table;
  table.scales = {{"x", 0.1f}, {"y", 0.05f}};
  Int8Report report;
  ASSERT_TRUE(quantize_int8(g, table, {}, &report).ok());
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "const %w_int8: i8[2,1,1,1] = [127, -127]")) << out;
  EXPECT_TRUE(has_line(out, "const %x_scale: f32[] = [0.100000001]")) << out;
  EXPECT_TRUE(has_line(out, "node \"x_quantize\" QuantizeLinear<13>(%x, %x_scale, %x_zero_point) -> "
                            "(%x_quantized: i8[1,1,2,2])")) << out;
  EXPECT_TRUE(has_line(out, "node \"w_dequantize\" DequantizeLinear<13>(%w_int8, %w_scale, %w_zero_point) -> "
                            "(%w_dequantized: f32[2,1,1,1]) {axis: int = 0}")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv\" Conv<13>(%x_dequantized, %w_dequantized, %b) -> "
                            "(%y_prequant: f32[1,2,2,2])")) << out;
  EXPECT_TRUE(has_line(out, "node \"y_dequantize\" DequantizeLinear<13>(%y_quantized, %y_scale, %y_zero_point) -> "
                            "(%y: f32[1,2,2,2])")) << out;
  EXPECT_EQ(report.qdq_pairs_inserted, 2);
  EXPECT_EQ(report.weights_quantized, 1);

  FoldQdqReport folded;
  ASSERT_TRUE(fold_qdq(g, &folded).ok());
  out = print_graph(g);
  EXPECT_TRUE(has_line(out, "const %conv_bias_int32: i32[2] = [254, 254]")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv\" QConv@kiln<1>(%x_quantized, %x_scale, %x_zero_point, %w_int8, %w_scale, "
                            "%w_zero_point, %y_scale, %y_zero_point, %conv_bias_int32) -> (%y_quantized: i8[1,2,2,2])"))
      << out;
  EXPECT_EQ(g.nodes().size(), 3u) << out;  // Q(x), QConv, DQ(y): the graph output keeps its name and f32
  EXPECT_EQ(g.outputs[0]->name, "y");
}

// Error bound for two layers (per-channel symmetric weights, per-tensor activations, no clipping because the
// scales come from the same data). For a layer y = Σ x·w + b run on x̂ = x + e_x, ŵ = w + e_w, b̂:
//   ŷ − y = Σ e_x·w + Σ x̂·e_w + e_b,  |e_w| ≤ s_w/2,  |e_b| ≤ s_x·s_w/2,  plus s_y/2 when ŷ is requantized.
// So |Δy| ≤ e_x·max‖w_c‖₁ + (max s_w/2)·K·(amax_x + s_x) + s_x·max s_w/2 + s_y/2, with e_x = s_x/2 at the
// first layer and the first layer's bound at the second (Relu is 1-Lipschitz).
double layer_bound(double e_x, double s_x, double amax_x, const Tensor& w, double s_y) {
  int64_t M = w.dim(0), K = w.size() / M;
  double l1 = 0, sw = 0;
  for (int64_t c = 0; c < M; ++c) {
    double sum = 0, mx = 0;
    for (int64_t k = 0; k < K; ++k) {
      sum += std::abs(w.element_as_double(c * K + k));
      mx = std::max(mx, std::abs(w.element_as_double(c * K + k)));
    }
    l1 = std::max(l1, sum);
    sw = std::max(sw, mx / 127);
  }
  return e_x * l1 + sw / 2 * K * (amax_x + s_x) + s_x * sw / 2 + s_y / 2;
}

void expect_conv_relu_conv_within_bound(bool optimize_first, const Int8Options& options, int expected_qconv) {
  Graph fp32 = parse_text(conv_relu_conv_text()), g = parse_text(conv_relu_conv_text());
  if (optimize_first) {
    ASSERT_TRUE(run_optimization_passes(g, PassOptions{}, nullptr).ok());
  }
  auto inputs = random_inputs(fp32, 5);
  CalibrationTable table = table_from_run(g, inputs);
  Int8Report report = quantize_and_fold(g, table, options);
  int qconv = 0;
  for (const auto& n : g.nodes()) qconv += n->op_type == "QConv";
  EXPECT_EQ(qconv, expected_qconv) << print_graph(g, {.max_constant_elements = 4});

  auto r0 = GraphRunner::create(fp32);
  auto r1 = GraphRunner::create(g);
  ASSERT_TRUE(r0.ok() && r1.ok());
  auto y_fp32 = r0->run(inputs);
  auto y_int8 = r1->run(inputs);
  ASSERT_TRUE(y_fp32.ok() && y_int8.ok()) << (y_int8.ok() ? "" : y_int8.status().message());
  const double sx = table.scales.at("x"), s1 = table.scales.at(optimize_first ? "r1" : "y1");
  const double s2 = table.scales.at("y2");
  const Tensor& w1 = *fp32.find_value("w1")->constant;
  const Tensor& w2 = *fp32.find_value("w2")->constant;
  double e1 = layer_bound(sx / 2, sx, 127 * sx, w1, s1);
  double e2 = layer_bound(e1, s1, 127 * s1, w2, s2);
  double err = max_abs_diff((*y_int8)[0], (*y_fp32)[0]);
  std::cout << "int8 vs fp32: max |diff| " << err << ", bound " << e2 << ", output range " << 127 * s2 << "\n";
  EXPECT_LE(err, e2);
  EXPECT_LT(e2, 0.25 * 127 * s2) << "the bound should be meaningful";
  EXPECT_EQ(report.nodes_float, 0) << report.to_string();
}

TEST(QuantizeInt8, ConvReluConvMatchesFp32WithinQuantizationBound) {
  expect_conv_relu_conv_within_bound(false, {}, 2);  // Relu runs on the int8 data between the two QConvs
}

TEST(QuantizeInt8, FusedConvReluConvMatchesFp32WithinQuantizationBound) {
  expect_conv_relu_conv_within_bound(true, {}, 2);  // the fused node's output keeps the Relu output's name
}

TEST(QuantizeInt8, TensorsToCalibrateNamesActivations) {
  Graph g = parse_text(conv_relu_conv_text());
  EXPECT_EQ(tensors_to_calibrate(g), (std::vector<std::string>{"x", "y1", "r1", "y2"}));
}

TEST(QuantizeInt8, KeepFp32KeepsNamedNodeAndOpTypeInFloat) {
  Graph fp32 = parse_text(conv_relu_conv_text()), g = parse_text(conv_relu_conv_text());
  auto inputs = random_inputs(fp32, 5);
  CalibrationTable table = table_from_run(g, inputs);
  Int8Options options;
  options.keep_fp32 = {"conv2", "Relu"};
  Int8Report report = quantize_and_fold(g, table, options);
  const Int8NodeDecision* conv2 = decision(report, "conv2");
  const Int8NodeDecision* relu = decision(report, "relu");
  ASSERT_TRUE(conv2 && relu);
  EXPECT_FALSE(conv2->int8);
  EXPECT_EQ(conv2->reason, "kept in float by keep_fp32 ('conv2')");
  EXPECT_FALSE(relu->int8);
  EXPECT_EQ(relu->reason, "kept in float by keep_fp32 ('Relu')");
  EXPECT_TRUE(decision(report, "conv1")->int8);
  bool conv2_float = false;
  for (const auto& n : g.nodes())
    if (n->name == "conv2") conv2_float = n->op_type == "Conv" && n->inputs[0]->type.dtype == DataType::kF32;
  EXPECT_TRUE(conv2_float) << print_graph(g, {.max_constant_elements = 4});
  EXPECT_NE(report.to_string().find("Conv 'conv2': float (kept in float by keep_fp32 ('conv2'))"), std::string::npos)
      << report.to_string();
  // Only conv1 (and the border into conv2) is quantized: the two-layer bound holds with room to spare.
  auto y_fp32 = GraphRunner::create(fp32)->run(inputs);
  auto y_int8 = GraphRunner::create(g)->run(inputs);
  ASSERT_TRUE(y_fp32.ok() && y_int8.ok());
  const double sx = table.scales.at("x"), s1 = table.scales.at("y1");
  double e1 = layer_bound(sx / 2, sx, 127 * sx, *fp32.find_value("w1")->constant, s1);
  double e2 = layer_bound(e1, s1, 127 * s1, *fp32.find_value("w2")->constant, 0);
  EXPECT_LE(max_abs_diff((*y_int8)[0], (*y_fp32)[0]), e2);
}

TEST(QuantizeInt8, MacShareOnHandCountedGraph) {
  // conv1: 4 out ch × 6×6 × (3 in ch × 3×3) = 3888; conv2: 2 × 6×6 × 4 = 288; fc: 1 × 10 × 72 = 720.
  std::string text = conv_relu_conv_text();
  text.replace(text.find("output %y2"), std::string::npos,
               fmt::format("const %wfc: f32[72,10] = {}\n"
                           "node \"flat\" Flatten<13>(%y2) -> (%f: f32[1,72])\n"
                           "node \"fc\" MatMul<13>(%f, %wfc) -> (%out: f32[1,10])\noutput %out\n",
                           values(pseudo_random(720, 0.1f, 0.7f))));
  Graph g = parse_text(text);
  auto inputs = random_inputs(g, 5);
  CalibrationTable table = table_from_run(g, inputs);
  table.scales.erase("out");  // fc's output was not calibrated: fc stays float
  Int8Report report;
  ASSERT_TRUE(quantize_int8(g, table, {}, &report).ok());
  EXPECT_EQ(decision(report, "conv1")->macs, 3888);
  EXPECT_EQ(decision(report, "conv2")->macs, 288);
  EXPECT_EQ(decision(report, "fc")->macs, 720);
  EXPECT_EQ(decision(report, "flat")->macs, 0);
  EXPECT_EQ(report.macs_total, 3888 + 288 + 720);
  EXPECT_EQ(report.macs_int8, 3888 + 288);
  EXPECT_DOUBLE_EQ(report.int8_mac_share(), 4176.0 / 4896.0);
  EXPECT_FALSE(decision(report, "fc")->int8);
  EXPECT_EQ(decision(report, "fc")->reason, "no calibration scale for 'out'");
  EXPECT_TRUE(decision(report, "flat")->int8);
  EXPECT_EQ(report.nodes_int8, 4);
  EXPECT_EQ(report.nodes_float, 1);
}

TEST(QuantizeInt8, NonConstantWeightsAndUnsupportedOpsStayFloatWithReasons) {
  const char* text = R"(kiln-ir 1
graph "g"
opset "" 13
input %a: f32[2,3]
input %b: f32[3,4]
node "mm" MatMul<13>(%a, %b) -> (%y: f32[2,4])
node "sm" Softmax<13>(%y) -> (%z: f32[2,4])
output %z
)";
  Graph g = parse_text(text);
  CalibrationTable table;
  table.scales = {{"a", 0.1f}, {"y", 0.1f}, {"z", 0.01f}};
  Int8Report report;
  ASSERT_TRUE(quantize_int8(g, table, {}, &report).ok());
  EXPECT_EQ(decision(report, "mm")->reason, "weights are not constant");
  EXPECT_EQ(decision(report, "sm")->reason, "no int8 kernel for Softmax");
  EXPECT_EQ(report.qdq_pairs_inserted, 0);
  EXPECT_EQ(g.nodes().size(), 2u);
}

// A real model end to end: optimize, calibrate (min-max on its reference photo), quantize, fold, run. The int8
// graph must keep the FP32 top-1 class with nearly all its compute in int8.
TEST(QuantizeInt8, MobileNetV2FlowersEndToEnd) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(__FILE__).parent_path() / "../../../shared/models/st_mobilenet_v2_0.35_128_flowers_fp32";
  fs::path model = dir / "mobilenet_v2_0.35_128_tfs_channel_first.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model;
  auto g = import_onnx_file(model.string());
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_TRUE(run_optimization_passes(*g, PassOptions{}, nullptr).ok());
  auto input = read_tensor_pb((dir / "test_data_set_0/input_0.pb").string());
  ASSERT_TRUE(input.ok());
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : g->inputs)
    if (!v->is_constant()) inputs[v->name] = *input;
  auto fp32 = GraphRunner::create(*g)->run(inputs);
  ASSERT_TRUE(fp32.ok()) << fp32.status().message();
  CalibrationTable table = table_from_run(*g, inputs);
  Int8Report report = quantize_and_fold(*g, table);
  std::cout << report.to_string() << "\n";
  EXPECT_GT(report.int8_mac_share(), 0.95);
  int64_t float_compute = 0, qconv = 0;
  for (const auto& n : g->nodes()) {
    float_compute += node_macs(*n) > 0;  // only float Conv/Gemm/MatMul nodes have MACs
    qconv += n->op_type == "QConv";
  }
  EXPECT_EQ(float_compute, 0) << "every int8 decision was folded into an integer op";
  EXPECT_GT(qconv, 30);
  auto int8 = GraphRunner::create(*g)->run(inputs);
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  auto argmax = [](const Tensor& t) {
    int64_t best = 0;
    for (int64_t i = 1; i < t.size(); ++i)
      if (t.element_as_double(i) > t.element_as_double(best)) best = i;
    return best;
  };
  EXPECT_EQ(argmax((*int8)[0]), argmax((*fp32)[0]));
  std::cout << "max |int8 - fp32| " << max_abs_diff((*int8)[0], (*fp32)[0]) << "\n";
}

}  // namespace
