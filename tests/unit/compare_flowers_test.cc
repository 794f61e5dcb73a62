// End to end: kiln compare of the flowers MobileNetV2 FP32 vs FP16 engines on the shared photos (skipped
// when ../shared is absent). Engines are built here with the public build_engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "compare/compare.h"
#include "compare/report.h"
#include "kiln/kiln.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() { return fs::path(__FILE__).parent_path() / "../../../shared"; }
fs::path model_dir() { return shared_dir() / "models/st_mobilenet_v2_0.35_128_flowers_fp32"; }
bool have_shared() { return fs::exists(model_dir()) && fs::exists(shared_dir() / "images"); }

fs::path work_dir() {
  static fs::path dir = [] {
    fs::path p = fs::path(::testing::TempDir()) / ("kiln_compare_flowers_test_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

std::string fmt_name(Precision p) { return "flowers_" + std::string(precision_name(p)) + ".kiln"; }

// FP32 and FP16 engines, built once for the whole file.
const std::vector<std::string>& engines() {
  static std::vector<std::string> paths = [] {
    std::vector<std::string> out;
    std::string onnx = (model_dir() / "mobilenet_v2_0.35_128_tfs_channel_first.onnx").string();
    for (Precision p : {Precision::kFP32, Precision::kFP16}) {
      BuildOptions o;
      o.precision = p;
      o.batch = DimRange{1, 8, 16};
      std::string path = (work_dir() / fmt_name(p)).string();
      auto r = build_engine(onnx, path, o);
      EXPECT_TRUE(r.ok()) << r.status().message();
      out.push_back(path);
    }
    return out;
  }();
  return paths;
}

TEST(CompareFlowers, Fp32VsFp16OnSharedPhotos) {
  if (!have_shared()) GTEST_SKIP() << "no shared models/images at " << shared_dir();
  CompareOptions o;
  o.models = engines();
  o.data = (shared_dir() / "images").string();
  o.preprocess = "mobilenet_flowers";
  o.time_budget_s = 0.3;
  auto r = run_compare(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 41);
  ASSERT_EQ(r->engines.size(), 2u);
  const EngineResult &fp32 = r->engines[0], &fp16 = r->engines[1];
  EXPECT_EQ(fp32.precision, "fp32");
  EXPECT_EQ(fp16.precision, "fp16");
  EXPECT_LT(fp16.file_bytes, fp32.file_bytes * 6 / 10);
  EXPECT_GE(fp16.top1_agreement, 0.95);
  const ErrorStats& e = fp16.output_errors.at(0).stats;
  EXPECT_GT(e.cosine, 0.999);
  EXPECT_GT(e.snr_db, 30);
  EXPECT_LT(e.max_abs, 0.1);
  EXPECT_FALSE(fp32.top1.has_value());
  for (const EngineResult& x : r->engines) {
    EXPECT_TRUE(x.timing.measured);
    EXPECT_EQ(x.timing.opt_batch, 8);
    EXPECT_GT(x.timing.latency_p50_ms, 0);
    EXPECT_GE(x.timing.latency_p99_ms, x.timing.latency_p50_ms);
    EXPECT_GT(x.timing.samples_per_s, 0);
  }
  fs::path json = work_dir() / "compare.json", html = work_dir() / "compare.html";
  ASSERT_TRUE(write_json_report(*r, json.string()).ok());
  ASSERT_TRUE(write_html_report(*r, html.string()).ok());
  nlohmann::json j = nlohmann::json::parse(std::ifstream(json));
  EXPECT_EQ(j["engines"].size(), 2u);
  EXPECT_EQ(j["engines"][0]["outputs"][0]["error"]["snr_db"], nullptr);  // exact vs itself: +inf → null
  std::stringstream page;
  page << std::ifstream(html).rdbuf();
  EXPECT_NE(page.str().find("data-charts-drawn"), std::string::npos);
  EXPECT_EQ(page.str().find("http://"), page.str().find("http://www.w3.org/2000/svg"));  // no other URL
  EXPECT_EQ(page.str().find("https://"), std::string::npos);
}

TEST(CompareFlowers, AccuracyFromAFolderLabelFile) {
  if (!have_shared()) GTEST_SKIP() << "no shared models/images at " << shared_dir();
  fs::path photos = work_dir() / "flowers";
  fs::create_directories(photos / "sub");
  fs::copy_file(shared_dir() / "images/ort_examples/daisy.jpg", photos / "daisy.jpg", fs::copy_options::overwrite_existing);
  fs::copy_file(shared_dir() / "images/ort_examples/rose.jpg", photos / "sub/rose.jpg", fs::copy_options::overwrite_existing);
  fs::copy_file(shared_dir() / "images/ort_examples/tulip.jpg", photos / "tulip.jpg", fs::copy_options::overwrite_existing);
  std::ofstream(work_dir() / "flowers.csv") << "# path,label\ndaisy.jpg,0\nsub/rose.jpg roses\ntulip.jpg tulips\n";
  CompareOptions o;
  o.models = engines();
  o.data = photos.string();
  o.labels = (work_dir() / "flowers.csv").string();
  o.class_names = (model_dir() / "labels_tf_flowers.txt").string();
  o.preprocess = "mobilenet_flowers";
  o.time_budget_s = 0;
  auto r = run_compare(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->engines[0].top1.has_value());
  EXPECT_GE(*r->engines[0].top1, 2.0 / 3);  // the model gets at least two of these three photos right
  EXPECT_DOUBLE_EQ(*r->engines[0].top5, 1.0);  // 5 classes: top-5 always holds the label
  EXPECT_DOUBLE_EQ(*r->engines[1].top1, *r->engines[0].top1);

  std::ofstream(work_dir() / "short.csv") << "daisy.jpg,0\ntulip.jpg,4\n";
  o.labels = (work_dir() / "short.csv").string();
  auto bad = run_compare(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("holds 2 labels but"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace kiln
