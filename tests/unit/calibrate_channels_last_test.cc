// Calibration on the channels-last graph (builder/calibrate.h, calibrate_channels_last): INT8 builds calibrate
// on a copy of the FP32 graph rewritten by convert_to_channels_last (its CPU kernels run NHWC about 1.4x faster
// than NCHW on ResNet-50). Checked against calibrate() on the NCHW graph itself, on the flowers MobileNetV2 and
// the shared photos: the same tensor names come back, the scales agree to float noise (the two layouts sum in
// different orders), and the NHWC graph really was observed through its twins.
#include <gtest/gtest.h>

#include <filesystem>

#include "builder/calibrate.h"
#include "builder/calibration_data.h"
#include "data/image.h"
#include "onnx/importer.h"
#include "passes/layout/channels_last.h"
#include "passes/pass_manager.h"
#include "passes/precision/quantize_int8.h"
#include "tests/support/shared_models.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared() { return testing::shared_dir(); }
std::string model() { return testing::flowers_mobilenet_v2(); }

// The model as an INT8 build calibrates it: imported, weights out of the inputs, optimized (fused).
Result<Graph> fused_graph() {
  KILN_ASSIGN_OR_RETURN(Graph g, import_onnx_file(model()));
  std::erase_if(g.inputs, [](const Value* v) { return v->is_constant(); });
  KILN_RETURN_IF_ERROR(run_optimization_passes(g, PassOptions{}, nullptr));
  return g;
}

Result<CalibrationTable> calibrate_with(bool channels_last, const std::vector<std::string>& tensors) {
  KILN_ASSIGN_OR_RETURN(Graph g, fused_graph());
  if (channels_last) KILN_RETURN_IF_ERROR(convert_to_channels_last(g, nullptr));
  CalibrationDataOptions data;
  KILN_ASSIGN_OR_RETURN(data.preprocess, preprocess_preset("mobilenet_flowers"));
  data.max_samples = 16;
  KILN_ASSIGN_OR_RETURN(auto source,
                        open_calibration_source((shared() / "images").string(), DataType::kF32, {3, 128, 128}, data));
  CalibrateOptions options;
  options.batch = 8;
  if (channels_last) return calibrate_channels_last(g, tensors, *source, options);
  return calibrate(g, tensors, *source, options);
}

TEST(CalibrateChannelsLast, SameScalesAsTheNchwGraph) {
  if (!fs::exists(model())) GTEST_SKIP() << "shared model not found: " << model();
  auto g = fused_graph();
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::vector<std::string> tensors = tensors_to_calibrate(*g);
  ASSERT_GT(tensors.size(), 20u);

  // The rewrite moves most of them to NHWC twins (so the name mapping is what is being tested).
  Graph nhwc = std::move(*fused_graph());
  ASSERT_TRUE(convert_to_channels_last(nhwc, nullptr).ok());
  size_t twins = 0;
  for (const std::string& t : tensors) twins += nhwc.find_value(channels_last_twin(t)) != nullptr;
  EXPECT_GT(twins, tensors.size() / 2);

  auto nchw_table = calibrate_with(false, tensors);
  ASSERT_TRUE(nchw_table.ok()) << nchw_table.status().message();
  auto nhwc_table = calibrate_with(true, tensors);
  ASSERT_TRUE(nhwc_table.ok()) << nhwc_table.status().message();
  EXPECT_EQ(nhwc_table->algorithm, nchw_table->algorithm);
  ASSERT_EQ(nhwc_table->scales.size(), nchw_table->scales.size());
  for (const auto& [name, scale] : nchw_table->scales) {
    auto it = nhwc_table->scales.find(name);
    ASSERT_NE(it, nhwc_table->scales.end()) << name;
    // MSE picks a histogram bin edge: float noise can move it one bin (2048 bins over the range).
    EXPECT_NEAR(it->second, scale, 0.01 * scale + 1e-12) << name;
  }
}

}  // namespace
}  // namespace kiln
