// The bundled Fashion-MNIST model (models/): kiln's import and its FP32/FP16 engines reproduce the logits
// PyTorch recorded at export time for the first four test images (models/fashion_mnist_mobilenet.json).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "builder/calibration_data.h"
#include "data/image.h"
#include "kiln/kiln.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

const fs::path kModels = fs::path(__FILE__).parent_path() / "../../models";
const char* kTestImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

nlohmann::json metadata() {
  std::ifstream in(kModels / "fashion_mnist_mobilenet.json");
  return nlohmann::json::parse(in);
}

// The first four test images, preprocessed as the JSON says (an IDX source with its scale/mean/std).
Tensor first_test_images() {
  auto spec = parse_preprocess_string(metadata()["preprocessing"]["kiln_preprocess"].get<std::string>());
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  CalibrationDataOptions options;
  options.preprocess = *spec;
  options.max_samples = 4;
  auto source = open_calibration_source(kTestImages, DataType::kF32, {1, 28, 28}, options);
  EXPECT_TRUE(source.ok()) << source.status().message();
  auto batch = (*source)->batch(0, 4);
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  return *batch;
}

void expect_logits(Precision precision, double tolerance) {
  if (!fs::exists(kTestImages)) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  fs::path engine = fs::temp_directory_path() / fmt::format("kiln_fm_{}_{}.kiln", ::getpid(), precision_name(precision));
  BuildOptions options;
  options.precision = precision;
  auto built = build_engine((kModels / "fashion_mnist_mobilenet.onnx").string(), engine.string(), options);
  ASSERT_TRUE(built.ok()) << built.status().message();
  auto loaded = Engine::load(engine.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto context = (*loaded)->create_context();
  Tensor x = first_test_images();
  ASSERT_TRUE((*context)->set_input("input", TensorView{x.dtype(), x.dims(), x.raw()}).ok());
  ASSERT_TRUE((*context)->run().ok());
  auto y = (*context)->output("logits");
  ASSERT_TRUE(y.ok());
  const nlohmann::json meta = metadata();
  const nlohmann::json& ref = meta["reference_logits"];
  for (int i = 0; i < 4; ++i) {
    int best = 0;
    for (int k = 0; k < 10; ++k) {
      double want = ref["logits"][i][k].get<double>();
      EXPECT_NEAR(y->as<float>()[i * 10 + k], want, tolerance * std::max(1.0, std::abs(want)))
          << "image " << i << " class " << k;
      if (y->as<float>()[i * 10 + k] > y->as<float>()[i * 10 + best]) best = k;
    }
    EXPECT_EQ(best, ref["labels"][i].get<int>()) << "image " << i;
  }
  fs::remove(engine);
}

TEST(FashionMnistModel, Fp32EngineReproducesPyTorchLogits) { expect_logits(Precision::kFP32, 1e-4); }
TEST(FashionMnistModel, Fp16EngineStaysWithinHalfPrecision) { expect_logits(Precision::kFP16, 1e-2); }

}  // namespace
