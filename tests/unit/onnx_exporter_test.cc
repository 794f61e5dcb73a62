// ONNX export: kiln IR → ModelProto → ONNX checker → import again → the same outputs on the reference runner.
#include "onnx/exporter.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "onnx/checker.h"
#include "onnx/importer.h"
#include "onnx/onnx_pb.h"
#include "onnx/tensor_proto.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;
namespace fs = std::filesystem;

namespace {

fs::path shared_models() { return fs::path(__FILE__).parent_path() / "../../../shared/models"; }

// Exports, checks the model with libonnx's checker, and imports it back.
Graph round_trip(const Graph& g, const ExportOptions& options, onnx::ModelProto* model_out = nullptr) {
  auto bytes = export_onnx_bytes(g, options);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return Graph();
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(*bytes));
  EXPECT_NO_THROW(onnx::checker::check_model(model));
  if (model_out) *model_out = model;
  auto back = import_onnx_bytes(*bytes, ".", "exported");
  EXPECT_TRUE(back.ok()) << back.status().message();
  return back.ok() ? std::move(back).value() : Graph();
}

// Every kiln fused op, with every optional operand and a spread of activations.
const std::string kFused = R"(kiln-ir 1
graph "fused"
opset "" 13
opset "kiln" 1
input %x: f32[1,2,4,4]
input %z: f32[1,3,4,4]
input %a: f32[N,4]
const %w: f32[3,2,1,1] = [1, -2, 0.5, 3, -1, 0.25]
const %b: f32[3] = [0.1, -0.2, 0.3]
const %w2: f32[3,3,1,1] = [1, -2, 0.5, 3, -1, 0.25, 0.75, 2, -0.5]
const %gw: f32[4,3] = [1, 2, 3, -4, 5, -6, 7, 8, -9, 0.5, 0.25, -1]
const %gc: f32[3] = [1, -1, 0.5]
node "conv" FusedConv@kiln<1>(%x, %w, %b, %z) -> (%c: f32[1,3,4,4]) {activation: string = "Clip", activation_params: floats = [-1, 6], kernel_shape: ints = [1, 1]}
node "conv2" FusedConv@kiln<1>(%c, %w2, _, _) -> (%c2: f32[1,3,4,4]) {activation: string = "Swish", activation_params: floats = [], kernel_shape: ints = [1, 1]}
node "gemm" FusedGemm@kiln<1>(%a, %gw, %gc) -> (%g: f32[N,3]) {activation: string = "LeakyRelu", activation_params: floats = [0.1], alpha: float = 0.5}
node "mm" FusedMatMul@kiln<1>(%a, %gw, %gc) -> (%m: f32[N,3]) {activation: string = "HardSigmoid", activation_params: floats = [0.2, 0.5]}
node "mm2" FusedMatMul@kiln<1>(%a, %gw) -> (%m2: f32[N,3]) {activation: string = "", activation_params: floats = []}
node "chain" ElementwiseChain@kiln<1>(%m) -> (%e: f32[N,3]) {ops: strings = ["Add", "Clip", "Div:r", "Tanh", "Selu"], params: floats = [3, 0, -inf, 6, 6, 0, 0, 0, 1.5, 1.25]}
output %c
output %c2
output %g
output %e
output %m2
)";

}  // namespace

TEST(OnnxExporter, RefusesKilnOpsUnlessExpandedAndListsThemAll) {
  Graph g = parse_text(kFused);
  auto refused = export_onnx_bytes(g, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kUnsupported);
  for (const char* name : {"'conv'", "'conv2'", "'gemm'", "'mm'", "'mm2'", "'chain'"})
    EXPECT_NE(refused.status().message().find(name), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("expand_kiln_ops"), std::string::npos);
}

TEST(OnnxExporter, ExpandedFusedOpsComputeExactlyWhatTheFusedOpsDo) {
  Graph g = parse_text(kFused);
  onnx::ModelProto model;
  Graph back = round_trip(g, {.expand_kiln_ops = true}, &model);
  for (const auto& n : model.graph().node()) EXPECT_EQ(n.domain(), "") << n.op_type();
  for (const auto& op : model.opset_import()) EXPECT_NE(op.domain(), "kiln");
  EXPECT_EQ(model.ir_version(), 8);
  // The symbolic batch survives as dim_param.
  ASSERT_EQ(model.graph().input(2).name(), "a");
  EXPECT_EQ(model.graph().input(2).type().tensor_type().shape().dim(0).dim_param(), "N");
  std::map<std::string, int> ops;
  for (const auto& n : model.graph().node()) ++ops[n.op_type()];
  EXPECT_EQ(ops["Conv"], 2);
  EXPECT_EQ(ops["Gemm"], 1);
  EXPECT_EQ(ops["MatMul"], 2);
  EXPECT_EQ(ops["Add"], 3);  // conv's Z, mm's bias, the chain's first step
  EXPECT_EQ(ops["Clip"], 2);
  EXPECT_EQ(ops["Div"], 1);
  EXPECT_EQ(ops["Selu"], 1);
  EXPECT_EQ(ops["Sigmoid"], 1);  // conv2's Swish: x * Sigmoid(x)
  EXPECT_EQ(ops["Mul"], 1);
  expect_same_outputs(g, back, random_inputs(g), 0);
}

TEST(OnnxExporter, ClipBeforeOpset11UsesAttributes) {
  std::string text = kFused;
  text.replace(text.find("opset \"\" 13"), 11, "opset \"\" 10");
  Graph g = parse_text(text);
  for (const auto& n : g.nodes()) const_cast<Node&>(*n).opset = n->domain.empty() ? 10 : 1;
  auto bytes = export_onnx_bytes(g, {.expand_kiln_ops = true});
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(*bytes));
  int clips = 0;
  for (const auto& n : model.graph().node())
    if (n.op_type() == "Clip") {
      ++clips;
      EXPECT_EQ(n.input_size(), 1);
      EXPECT_GE(n.attribute_size(), 1);
    }
  EXPECT_EQ(clips, 2);
}

TEST(OnnxExporter, ActivationNewerThanTheOpsetIsRefused) {
  std::string text = kFused;
  text.replace(text.find("\"Selu\""), 6, "\"Mish\"");
  Graph g = parse_text(text);
  auto bytes = export_onnx_bytes(g, {.expand_kiln_ops = true});
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("Mish needs ai.onnx opset 18"), std::string::npos) << bytes.status().message();
}

TEST(OnnxExporter, WritesAFileThatImports) {
  Graph g = parse_text(kFused);
  fs::path path = fs::temp_directory_path() / "kiln_exporter_test.onnx";
  ASSERT_TRUE(export_onnx(g, path.string(), {.expand_kiln_ops = true}).ok());
  auto back = import_onnx_file(path.string());
  ASSERT_TRUE(back.ok()) << back.status().message();
  fs::remove(path);
  Status bad = export_onnx(g, "/nonexistent-dir/x.onnx", {.expand_kiln_ops = true});
  EXPECT_FALSE(bad.ok());
}

// Real models: import → export → import gives bit-identical outputs; so does the fused graph, expanded.
class SharedModelExport : public ::testing::TestWithParam<const char*> {};

TEST_P(SharedModelExport, RoundTripIsExact) {
  fs::path model = shared_models() / GetParam();
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model;
  auto original = import_onnx_file(model.string());
  ASSERT_TRUE(original.ok()) << original.status().message();
  std::map<std::string, Tensor, std::less<>> inputs;
  std::string name;
  auto x = read_tensor_pb((model.parent_path() / "test_data_set_0" / "input_0.pb").string(), &name);
  ASSERT_TRUE(x.ok()) << x.status().message();
  const Value* first = nullptr;
  for (const Value* v : original->inputs)
    if (!v->is_constant() && !first) first = v;
  inputs[first->name] = *x;

  Graph back = round_trip(*original, {});
  ASSERT_EQ(back.nodes().size(), original->nodes().size());
  for (size_t i = 0; i < back.nodes().size(); ++i) {
    EXPECT_EQ(back.nodes()[i]->name, original->nodes()[i]->name);
    EXPECT_EQ(back.nodes()[i]->op_type, original->nodes()[i]->op_type);
  }
  expect_same_outputs(*original, back, inputs, 0);

  // After the optimization passes (kiln fused ops), the expanded export computes the same bits.
  ASSERT_TRUE(run_optimization_passes(*original, PassOptions{}, nullptr).ok());
  Graph expanded = round_trip(*original, {.expand_kiln_ops = true});
  expect_same_outputs(*original, expanded, inputs, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, SharedModelExport,
                         ::testing::Values("mnist_8/model.onnx",
                                           "st_mobilenet_v2_0.35_128_flowers_fp32/"
                                           "mobilenet_v2_0.35_128_tfs_channel_first.onnx",
                                           "ultraface/version-RFB-320.onnx"),
                         [](const auto& info) { return std::string(info.index == 0 ? "mnist_8" : info.index == 1 ? "mobilenet_v2_flowers" : "ultraface_rfb_320"); });
