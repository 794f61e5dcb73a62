// Every real model in ../shared/models runs on the reference backend and matches its reference outputs
// (upstream files, or ONNX Runtime CPU on a real photo). Skips with a message when ../shared is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "runtime/graph_runner.h"
#include "tests/onnx_backend/compare_tensors.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

struct ModelCase {
  std::string name;
  std::string model;  // relative to shared/models
  double rtol;
  double atol;
};

// Tolerances: ORT's kernels reorder float sums, so fp32 outputs differ from an exact evaluation in the last
// bits; the quantized model's u8 outputs may differ by one step where ORT rounds an exact tie differently.
const ModelCase kCases[] = {
    {"mnist_8", "mnist_8/model.onnx", 1e-3, 1e-3},
    {"super_resolution_10", "super_resolution_10/model.onnx", 1e-3, 1e-4},
    {"squeezenet_fp32", "squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx", 1e-3, 1e-5},
    {"mobilenet_v2_flowers", "st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx", 1e-3, 1e-5},
    {"mobilenet_v1_quant", "st_mobilenet_v1_0.5_128_quant/mobilenet_v1_0.5_128_quant.onnx", 0, 1.0},
    {"ultraface_rfb_320", "ultraface/version-RFB-320.onnx", 1e-3, 1e-4},
};

fs::path shared_models() { return fs::path(KILN_SHARED_DIR) / "models"; }

class SharedModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(SharedModelTest, MatchesReferenceOutputs) {
  const ModelCase& c = GetParam();
  fs::path model = shared_models() / c.model;
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model << " (is ../shared present?)";
  auto graph = import_onnx_file(model.string());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto runner = GraphRunner::create(*graph);
  ASSERT_TRUE(runner.ok()) << runner.status().message();

  int sets = 0;
  for (const auto& entry : fs::directory_iterator(model.parent_path())) {
    if (!entry.is_directory() || entry.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    ++sets;
    std::map<std::string, Tensor, std::less<>> inputs;
    std::vector<const Value*> real_inputs;
    for (const Value* v : graph->inputs)
      if (!v->is_constant()) real_inputs.push_back(v);
    for (size_t i = 0; fs::exists(entry.path() / ("input_" + std::to_string(i) + ".pb")); ++i) {
      std::string name;
      auto t = read_tensor_pb((entry.path() / ("input_" + std::to_string(i) + ".pb")).string(), &name);
      ASSERT_TRUE(t.ok()) << t.status().message();
      if (name.empty() || !graph->find_value(name)) name = real_inputs.at(i)->name;
      inputs[name] = *t;
    }
    auto outputs = runner->run(inputs);
    ASSERT_TRUE(outputs.ok()) << outputs.status().message();
    // References are matched by name (their order need not follow the graph's).
    for (size_t i = 0; fs::exists(entry.path() / ("output_" + std::to_string(i) + ".pb")); ++i) {
      std::string name;
      auto expected = read_tensor_pb((entry.path() / ("output_" + std::to_string(i) + ".pb")).string(), &name);
      ASSERT_TRUE(expected.ok()) << expected.status().message();
      size_t index = i;
      for (size_t k = 0; k < graph->outputs.size(); ++k)
        if (graph->outputs[k]->name == name) index = k;
      ASSERT_LT(index, outputs->size());
      EXPECT_EQ(compare_tensors(*expected, (*outputs)[index], c.rtol, c.atol), "")
          << c.name << " " << entry.path().filename() << " output '" << name << "'";
    }
  }
  EXPECT_GT(sets, 0) << "no test_data_set_* folder beside " << model;
}

INSTANTIATE_TEST_SUITE_P(Shared, SharedModelTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

}  // namespace

namespace {

// ONNX's "light" model-zoo graphs: real topologies with constant (untrained) weights. Their reference
// output_0 came from ONNX's reference evaluator on a dummy input; with constant weights the outputs do not
// depend on the input values, so a zero input reproduces them. These check import and op coverage.
class LightModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LightModelTest, MatchesReferenceOutput) {
  fs::path dir = shared_models() / "onnx_light_untrained";
  fs::path model = dir / (GetParam() + ".onnx");
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model;
  auto graph = import_onnx_file(model.string());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto runner = GraphRunner::create(*graph);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : graph->inputs) {
    if (v->is_constant()) continue;
    ASSERT_TRUE(v->type.shape.is_static()) << v->type.to_string();
    inputs[v->name] = Tensor(v->type.dtype, v->type.shape.static_dims());
  }
  auto outputs = runner->run(inputs);
  ASSERT_TRUE(outputs.ok()) << outputs.status().message();
  auto expected = read_tensor_pb((dir / (GetParam() + "_output_0.pb")).string());
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  EXPECT_EQ(compare_tensors(*expected, (*outputs)[0], 1e-3, 1e-6), "");
}

INSTANTIATE_TEST_SUITE_P(Light, LightModelTest,
                         ::testing::Values("light_bvlc_alexnet", "light_densenet121", "light_inception_v1",
                                           "light_inception_v2", "light_resnet50", "light_shufflenet",
                                           "light_squeezenet", "light_vgg19", "light_zfnet512"));

}  // namespace

namespace {

std::map<std::string, Tensor, std::less<>> single_input(const Graph& g, const Tensor& t) {
  for (const Value* v : g.inputs)
    if (!v->is_constant()) return {{v->name, t}};
  return {};
}

int64_t argmax(const Tensor& t) {
  int64_t best = 0;
  for (int64_t i = 1; i < t.size(); ++i)
    if (t.element_as_double(i) > t.element_as_double(best)) best = i;
  return best;
}

// The original FP16 SqueezeNet (f16 weights and I/O) against the ORT FP32 reference of its up-cast twin:
// same top-1, probabilities within FP16 accuracy.
TEST(SharedModels, SqueezeNetFp16AgreesWithFp32Reference) {
  fs::path dir = shared_models() / "squeezenet1.0";
  if (!fs::exists(dir)) GTEST_SKIP() << "shared model not found: " << dir;
  auto graph = import_onnx_file((dir / "SqueezeNet_fp16.onnx").string());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto input = read_tensor_pb((dir / "test_data_set_0/input_0.pb").string());
  auto expected = read_tensor_pb((dir / "test_data_set_0/output_0.pb").string());
  ASSERT_TRUE(input.ok() && expected.ok());
  Tensor input16(DataType::kF16, input->dims());
  for (int64_t i = 0; i < input->size(); ++i) input16.data<Float16>()[i] = Float16(input->data<float>()[i]);
  auto runner = GraphRunner::create(*graph);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  auto out = runner->run(single_input(*graph, input16));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& probs = (*out)[0];
  ASSERT_EQ(probs.size(), expected->size());
  EXPECT_EQ(argmax(probs), argmax(*expected));
  double max_diff = 0;
  for (int64_t i = 0; i < probs.size(); ++i)
    max_diff = std::max(max_diff, std::abs(probs.element_as_double(i) - expected->element_as_double(i)));
  EXPECT_LT(max_diff, 5e-3) << "FP16 SqueezeNet differs from the FP32 reference by " << max_diff;
}

// UltraFace slim-320 has no stored reference: it must run on the RFB-320 reference photo and give
// per-anchor class probabilities (softmax rows summing to 1) and boxes of the documented shapes.
TEST(SharedModels, UltraFaceSlimRunsWithValidOutputs) {
  fs::path dir = shared_models() / "ultraface";
  if (!fs::exists(dir)) GTEST_SKIP() << "shared model not found: " << dir;
  auto graph = import_onnx_file((dir / "version-slim-320.onnx").string());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto input = read_tensor_pb((dir / "test_data_set_0/input_0.pb").string());
  ASSERT_TRUE(input.ok());
  auto runner = GraphRunner::create(*graph);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  auto out = runner->run(single_input(*graph, *input));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& scores = (*out)[0];
  EXPECT_EQ(scores.dims(), (Dims{1, 4420, 2}));
  EXPECT_EQ((*out)[1].dims(), (Dims{1, 4420, 4}));
  for (int64_t a = 0; a < 4420; ++a)
    ASSERT_NEAR(scores.data<float>()[2 * a] + scores.data<float>()[2 * a + 1], 1.0, 1e-5) << "anchor " << a;
}

}  // namespace
