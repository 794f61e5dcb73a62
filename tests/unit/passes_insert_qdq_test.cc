// Q/DQ export form: placement, int8 per-channel weights, opset handling, and a model the ONNX checker accepts.
#include "passes/precision/insert_qdq.h"

#include <gtest/gtest.h>

#include "onnx/checker.h"
#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "onnx/onnx_pb.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// Conv → Relu → MaxPool → Conv, a residual Add, GlobalAveragePool, Flatten, Gemm.
const std::string kNet = opset13_ir(R"(input %x: f32[N,2,4,4]
const %w1: f32[2,2,1,1] = [1, -2, 0.5, 3]
const %b1: f32[2] = [0.1, -0.2]
const %w2: f32[2,2,3,3] = [1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9, 0.5, 0.25, 0, 1, 1, 1, 2, 2, 2, -0.5, 0.5, 0, 0, 0, 1, 2, 3, 4]
const %gw: f32[2,3] = [1, -1, 0.5, 2, 0.25, -4]
const %gb: f32[3] = [0.5, 0, -0.5]
node "conv1" Conv<13>(%x, %w1, %b1) -> (%c1: f32[N,2,4,4]) {kernel_shape: ints = [1, 1]}
node "relu" Relu<13>(%c1) -> (%r: f32[N,2,4,4])
node "pool" MaxPool<13>(%r) -> (%p: f32[N,2,4,4]) {kernel_shape: ints = [3, 3], pads: ints = [1, 1, 1, 1]}
node "conv2" Conv<13>(%p, %w2) -> (%c2: f32[N,2,4,4]) {kernel_shape: ints = [3, 3], pads: ints = [1, 1, 1, 1]}
node "add" Add<13>(%c2, %r) -> (%s: f32[N,2,4,4])
node "gap" GlobalAveragePool<13>(%s) -> (%g: f32[N,2,1,1])
node "flat" Flatten<13>(%g) -> (%f: f32[N,2])
node "fc" Gemm<13>(%f, %gw, %gb) -> (%y: f32[N,3])
output %y
)");

// Scales from the float graph's own ranges on its test input (max |x| / 127).
CalibrationTable calibrate(const Graph& g, const std::map<std::string, Tensor, std::less<>>& inputs) {
  CalibrationTable table;
  auto observe = [&](const std::string& name, const Tensor& t) {
    float amax = 0;
    for (double v : t.to_double_vector()) amax = std::max(amax, static_cast<float>(std::abs(v)));
    float& s = table.scales[name];
    s = std::max(s, amax / 127.0f);
  };
  for (const auto& [name, t] : inputs) observe(name, t);
  auto runner = GraphRunner::create(g);
  EXPECT_TRUE(runner.ok());
  RunOptions options;
  options.observer = [&](const Value& v, const Tensor& t) { observe(v.name, t); };
  EXPECT_TRUE(runner->run(inputs, options).ok());
  return table;
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> h;
  for (const auto& n : g.nodes()) ++h[n->op_type];
  return h;
}

const Node* node_named(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n->name == name) return n.get();
  return nullptr;
}

// The producer of input `i` of node `name`, or "" when it is not computed.
std::string producer_op(const Graph& g, const std::string& name, size_t i) {
  const Node* n = node_named(g, name);
  return n && n->inputs[i] && n->inputs[i]->producer ? n->inputs[i]->producer->op_type : "";
}

}  // namespace

TEST(InsertQdq, PlacesQdqWhereTensorRtRecommendsAndKeepsOutputsClose) {
  Graph original = parse_text(kNet), g = parse_text(kNet);
  auto inputs = random_inputs(original);
  CalibrationTable table = calibrate(original, inputs);
  QdqExportReport report;
  ASSERT_TRUE(insert_qdq_for_export(g, table, {}, &report).ok());
  EXPECT_TRUE(report.left_float.empty()) << report.to_string();
  // x, r (shared by pool and add), p, c2, s, f: six tensors, one Q → DQ pair each.
  EXPECT_EQ(report.activations_quantized, 6) << report.to_string();
  EXPECT_EQ(report.weights_quantized, 3);
  EXPECT_EQ(report.nodes_quantized, 6);  // conv1, pool, conv2, add, gap, fc
  auto ops = op_counts(g);
  EXPECT_EQ(ops["QuantizeLinear"], 6);
  EXPECT_EQ(ops["DequantizeLinear"], 9);
  for (const char* name : {"conv1", "conv2", "fc", "pool", "add", "gap"})
    EXPECT_EQ(producer_op(g, name, 0), "DequantizeLinear") << name;
  EXPECT_EQ(producer_op(g, "add", 1), "DequantizeLinear");
  EXPECT_EQ(producer_op(g, "relu", 0), "Conv");  // Relu stays float
  EXPECT_EQ(producer_op(g, "flat", 0), "GlobalAveragePool");
  // Weights: int8 constants, per output channel, axis 0 for Conv and 1 for Gemm (transB = 0).
  const Node* w2dq = node_named(g, "w2_DequantizeLinear");
  ASSERT_NE(w2dq, nullptr);
  EXPECT_EQ(w2dq->attr_int("axis", -1), 0);
  EXPECT_EQ(w2dq->inputs[0]->constant->dtype(), DataType::kI8);
  EXPECT_EQ(w2dq->inputs[1]->constant->dims(), Dims({2}));
  EXPECT_EQ(w2dq->inputs[2]->constant->dtype(), DataType::kI8);
  EXPECT_EQ(node_named(g, "gw_DequantizeLinear")->attr_int("axis", -1), 1);
  EXPECT_EQ(g.find_value("w2"), nullptr);  // the float weight is gone
  // Bias stays float.
  EXPECT_TRUE(node_named(g, "fc")->inputs[2]->is_constant());
  EXPECT_EQ(node_named(g, "fc")->inputs[2]->type.dtype, DataType::kF32);
  // Int8 rounding moves the result a little: within 1% of the output's range.
  {
    auto r0 = GraphRunner::create(original);
    auto r1 = GraphRunner::create(g);
    ASSERT_TRUE(r0.ok() && r1.ok());
    auto o0 = r0->run(inputs);
    auto o1 = r1->run(inputs);
    ASSERT_TRUE(o0.ok() && o1.ok()) << o1.status().message();
    double range = 0, diff = 0;
    for (int64_t i = 0; i < (*o0)[0].size(); ++i) {
      range = std::max(range, std::abs((*o0)[0].element_as_double(i)));
      diff = std::max(diff, std::abs((*o0)[0].element_as_double(i) - (*o1)[0].element_as_double(i)));
    }
    EXPECT_GT(diff, 0);  // it did quantize
    EXPECT_LE(diff, 0.01 * range);
  }

  // The exported model passes ONNX's checker and imports back to the same computation.
  auto bytes = export_onnx_bytes(g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(*bytes));
  EXPECT_NO_THROW(onnx::checker::check_model(model));
  auto back = import_onnx_bytes(*bytes, ".", "qdq");
  ASSERT_TRUE(back.ok()) << back.status().message();
  expect_same_outputs(g, *back, inputs, 0);
}

TEST(InsertQdq, MissingScalesAndKeptNodesStayFloat) {
  Graph original = parse_text(kNet), g = parse_text(kNet);
  CalibrationTable table = calibrate(original, random_inputs(original));
  table.scales.erase("p");
  table.scales["f"] = 0;  // an all-zero tensor
  QdqExportOptions options;
  options.keep_fp32 = {"add", "Gemm"};
  options.per_channel_weights = false;
  QdqExportReport report;
  ASSERT_TRUE(insert_qdq_for_export(g, table, options, &report).ok());
  EXPECT_EQ(producer_op(g, "conv2", 0), "MaxPool");
  EXPECT_EQ(producer_op(g, "add", 0), "Conv");
  EXPECT_EQ(producer_op(g, "fc", 0), "Flatten");
  std::string text = report.to_string();
  EXPECT_NE(text.find("p (read by conv2): no calibration scale"), std::string::npos) << text;
  EXPECT_EQ(text.find("(read by fc)"), std::string::npos) << text;  // Gemm is kept: not even looked at
  // Per-tensor weights: scalar scale, no axis.
  const Node* w2dq = node_named(g, "w2_DequantizeLinear");
  ASSERT_NE(w2dq, nullptr);
  EXPECT_EQ(w2dq->attrs.count("axis"), 0u);
  EXPECT_EQ(w2dq->inputs[1]->constant->rank(), 0);
}

TEST(InsertQdq, ZeroScaleIsReported) {
  Graph g = parse_text(kNet);
  CalibrationTable table = calibrate(parse_text(kNet), random_inputs(g));
  table.scales["f"] = 0;
  QdqExportReport report;
  ASSERT_TRUE(insert_qdq_for_export(g, table, {}, &report).ok());
  EXPECT_NE(report.to_string().find("f (read by fc): calibration scale 0"), std::string::npos) << report.to_string();
}

TEST(InsertQdq, RaisesOldOpsetsOnlyWhenNothingChangesMeaning) {
  std::string old = kNet;
  old.replace(old.find("opset \"\" 13"), 11, "opset \"\" 11");
  Graph g = parse_text(old);
  CalibrationTable table = calibrate(parse_text(kNet), random_inputs(g));
  QdqExportReport report;
  ASSERT_TRUE(insert_qdq_for_export(g, table, {}, &report).ok());
  EXPECT_EQ(report.opset_raised_from, 11);
  EXPECT_EQ(g.opset_imports.at(""), 13);

  // Squeeze-11 takes its axes as an attribute; at opset 13 they are an input.
  Graph blocked = parse_text(opset13_ir(R"(input %x: f32[1,2]
node "sq" Squeeze<11>(%x) -> (%y: f32[2]) {axes: ints = [0]}
output %y
)"));
  blocked.opset_imports[""] = 11;
  Status s = insert_qdq_for_export(blocked, table, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Squeeze node 'sq'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("min_opset = 13"), std::string::npos) << s.message();
}

TEST(InsertQdq, RefusesKilnFusedOps) {
  Graph g = parse_text(kNet);
  ASSERT_TRUE(run_optimization_passes(g, PassOptions{}, nullptr).ok());
  Status s = insert_qdq_for_export(g, {}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("FusedConv"), std::string::npos) << s.message();
}
