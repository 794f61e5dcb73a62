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
