// The whole pass pipeline: a hand-written graph, and every real shared model (../shared/models): the
// optimized graph must compute what the original computes on the model's test_data_set_0 inputs.
#include <filesystem>
#include <iostream>

#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "passes/testing/pass_test_util.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::testing;

TEST(PassManager, CanonicalizesThenFuses) {
  const std::string text = opset13_ir(R"(input %x: f32[N,1,3,3]
const %w: f32[2,1,1,1] = [1, -3]
const %scale: f32[2] = [1, 1]
const %bias: f32[2] = [0.5, 0]
const %mean: f32[2] = [1, 2]
const %var: f32[2] = [0.25, 4]
const %i1: i64[] = [1]
node "id" Identity<13>(%x) -> (%xi: f32[N,1,3,3])
node "conv" Conv<13>(%xi, %w) -> (%c: f32[N,2,3,3])
node "bn" BatchNormalization<13>(%c, %scale, %bias, %mean, %var) -> (%b: f32[N,2,3,3])
node "relu" Relu<13>(%b) -> (%y: f32[N,2,3,3])
node "shape" Shape<13>(%y) -> (%s: i64[4])
node "ch" Gather<13>(%s, %i1) -> (%channels: i64[]) {axis: int = 0}
output %y
output %channels
)");
  Graph original = parse_text(text), g = parse_text(text);
  PassReport report;
  Status s = run_optimization_passes(g, PassOptions{}, &report);
  ASSERT_TRUE(s.ok()) << s.message();
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "const %channels: i64[] = [2]")) << out;
  EXPECT_EQ(g.nodes().size(), 1u) << out;
  EXPECT_NE(out.find("FusedConv@kiln<1>(%x, %w_bn, %bn_bias) -> (%y: f32[N,2,3,3])"), std::string::npos) << out;
  EXPECT_EQ(report.total("fold_batchnorm", "conv"), 1) << report.to_string();
  EXPECT_NE(report.to_string().find("fuse_bias_activation"), std::string::npos) << report.to_string();
  expect_same_outputs(original, g, random_inputs(original), 1e-5);
}

namespace {

fs::path shared_models() { return fs::path(__FILE__).parent_path() / "../../../shared/models"; }

struct ModelCase {
  const char* name;
  const char* path;
  bool shrinks = true;  ///< false where nothing may change (Q/DQ models keep their pattern for the int8 pass)
};

class SharedModelPasses : public ::testing::TestWithParam<ModelCase> {};

std::map<std::string, size_t> op_histogram(const Graph& g) {
  std::map<std::string, size_t> h;
  for (const auto& n : g.nodes()) ++h[n->op_type];
  return h;
}

}  // namespace

TEST_P(SharedModelPasses, OptimizedGraphMatchesOriginal) {
  fs::path model = shared_models() / GetParam().path;
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model << " (is ../shared present?)";
  auto original = import_onnx_file(model.string());
  auto optimized = import_onnx_file(model.string());
  ASSERT_TRUE(original.ok() && optimized.ok()) << original.status().message();
  PassReport report;
  Status s = run_optimization_passes(*optimized, PassOptions{}, &report);
  ASSERT_TRUE(s.ok()) << s.message();
  std::cout << GetParam().name << ": " << original->nodes().size() << " nodes -> " << optimized->nodes().size()
            << "\n" << report.to_string() << "  ops after:";
  for (const auto& [op, n] : op_histogram(*optimized)) std::cout << " " << op << "x" << n;
  std::cout << "\n";
  // The interface is unchanged.
  ASSERT_EQ(original->inputs.size(), optimized->inputs.size());
  for (size_t i = 0; i < original->inputs.size(); ++i)
    EXPECT_EQ(original->inputs[i]->name, optimized->inputs[i]->name);
  ASSERT_EQ(original->outputs.size(), optimized->outputs.size());
  for (size_t i = 0; i < original->outputs.size(); ++i) {
    EXPECT_EQ(original->outputs[i]->name, optimized->outputs[i]->name);
    EXPECT_EQ(original->outputs[i]->type.dtype, optimized->outputs[i]->type.dtype);
  }
  if (GetParam().shrinks) EXPECT_LT(optimized->nodes().size(), original->nodes().size());
  else EXPECT_EQ(optimized->nodes().size(), original->nodes().size());
  // The text form of the optimized graph parses back.
  std::string text = print_graph(*optimized);
  auto reparsed = parse_graph(text);
  EXPECT_TRUE(reparsed.ok()) << reparsed.status().message();

  fs::path data = model.parent_path() / "test_data_set_0";
  std::map<std::string, Tensor, std::less<>> inputs;
  std::vector<const Value*> real_inputs;
  for (const Value* v : original->inputs)
    if (!v->is_constant()) real_inputs.push_back(v);
  for (size_t i = 0; fs::exists(data / ("input_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto t = read_tensor_pb((data / ("input_" + std::to_string(i) + ".pb")).string(), &name);
    ASSERT_TRUE(t.ok()) << t.status().message();
    if (name.empty() || !original->find_value(name)) name = real_inputs.at(i)->name;
    inputs[name] = *t;
  }
  ASSERT_FALSE(inputs.empty()) << "no inputs in " << data;
  // BN folding rounds the scaled weights once: allow a little more than fp32 reassociation.
  expect_same_outputs(*original, *optimized, inputs, 1e-4, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Models, SharedModelPasses,
    ::testing::Values(
        ModelCase{"mnist_8", "mnist_8/model.onnx"},
        ModelCase{"super_resolution_10", "super_resolution_10/model.onnx"},
        ModelCase{"squeezenet_fp32", "squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx"},
        ModelCase{"mobilenet_v2_flowers",
                  "st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx"},
        ModelCase{"ultraface_rfb_320", "ultraface/version-RFB-320.onnx"},
        ModelCase{"ultraface_slim_320", "ultraface/version-slim-320.onnx"},
        ModelCase{"mobilenet_v1_quant", "st_mobilenet_v1_0.5_128_quant/mobilenet_v1_0.5_128_quant.onnx", false}),
    [](const ::testing::TestParamInfo<ModelCase>& info) { return std::string(info.param.name); });
