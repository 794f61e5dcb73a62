// INT8 calibration on the GPU (builder/calibrate.h with on_gpu, backends/cuda/gpu_node_kernels.h) against the
// same calibration on the CPU backend's kernels: the flowers MobileNetV2 on the shared photos, in batches that
// leave a partial last batch (the GPU path re-infers shapes per batch size). Same tensor names, scales within
// 1% (strict FP32 on both, different summation orders: MSE's choice can move a histogram bin), and the
// convolutions really ran on the GPU (they have CUDA kernels).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "backends/cuda/gpu_node_kernels.h"
#include "builder/calibrate.h"
#include "builder/calibration_data.h"
#include "data/image.h"
#include "onnx/importer.h"
#include "passes/layout/channels_last.h"
#include "passes/pass_manager.h"
#include "passes/precision/quantize_int8.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() {
  const char* env = std::getenv("KILN_SHARED_DIR");
  return env && *env ? fs::path(env) : fs::path(KILN_SHARED_DIR);
}
std::string model() {
  return (shared_dir() / "models/st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx")
      .string();
}

// The graph an INT8 build calibrates: imported, optimized; `channels_last` then rewrites it as the build does.
Result<Graph> fused_graph(bool channels_last) {
  KILN_ASSIGN_OR_RETURN(Graph g, import_onnx_file(model()));
  std::erase_if(g.inputs, [](const Value* v) { return v->is_constant(); });
  KILN_RETURN_IF_ERROR(run_optimization_passes(g, PassOptions{}, nullptr));
  if (channels_last) KILN_RETURN_IF_ERROR(convert_to_channels_last(g, nullptr));
  return g;
}

Result<CalibrationTable> calibrate_on(bool gpu, const std::vector<std::string>& tensors) {
  KILN_ASSIGN_OR_RETURN(Graph g, fused_graph(true));
  CalibrationDataOptions data;
  KILN_ASSIGN_OR_RETURN(data.preprocess, preprocess_preset("mobilenet_flowers"));
  data.max_samples = 16;
  KILN_ASSIGN_OR_RETURN(auto source, open_calibration_source((shared_dir() / "images").string(), DataType::kF32,
                                                             {3, 128, 128}, data));
  CalibrateOptions options;
  options.batch = 6;  // 6 + 6 + 4: a partial last batch
  options.on_gpu = gpu;
  return calibrate_channels_last(g, tensors, *source, options);
}

TEST(CudaCalibration, MatchesTheCpuCalibration) {
  KILN_REQUIRE_GPU();
  if (!fs::exists(model())) GTEST_SKIP() << "shared model not found: " << model();
  auto g = fused_graph(false);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::vector<std::string> tensors = tensors_to_calibrate(*g);
  ASSERT_GT(tensors.size(), 20u);

  auto nhwc = fused_graph(true);
  ASSERT_TRUE(nhwc.ok()) << nhwc.status().message();
  auto kernels = cuda::create_gpu_node_kernels(*nhwc);
  ASSERT_TRUE(kernels.ok()) << kernels.status().message();
  size_t convs = 0, on_gpu = 0;
  for (size_t i = 0; i < nhwc->nodes().size(); ++i) {
    if (nhwc->nodes()[i]->op_type != "FusedConv") continue;
    ++convs;
    on_gpu += (*kernels)[i] != nullptr;
  }
  EXPECT_GT(convs, 10u);
  EXPECT_EQ(on_gpu, convs);

  auto cpu = calibrate_on(false, tensors);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  auto gpu = calibrate_on(true, tensors);
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  EXPECT_EQ(gpu->algorithm, cpu->algorithm);
  ASSERT_EQ(gpu->scales.size(), cpu->scales.size());
  for (const auto& [name, scale] : cpu->scales) {
    auto it = gpu->scales.find(name);
    ASSERT_NE(it, gpu->scales.end()) << name;
    EXPECT_NEAR(it->second, scale, 0.01 * scale + 1e-12) << name;
  }
}

TEST(CudaCalibration, PlainCalibrateRefusesTheGpu) {
  // The GPU path re-infers the graph's shapes, so it only runs on calibrate_channels_last's private copy.
  auto g = fused_graph(false);
  ASSERT_TRUE(g.ok()) << g.status().message();
  CalibrationDataOptions data;
  auto spec = preprocess_preset("mobilenet_flowers");
  ASSERT_TRUE(spec.ok());
  data.preprocess = *spec;
  data.max_samples = 2;
  auto source = open_calibration_source((shared_dir() / "images").string(), DataType::kF32, {3, 128, 128}, data);
  if (!source.ok()) GTEST_SKIP() << source.status().message();
  CalibrateOptions options;
  options.on_gpu = true;
  auto r = calibrate(*g, tensors_to_calibrate(*g), **source, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("calibrate_channels_last"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace kiln
