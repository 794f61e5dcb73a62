// kiln compare on tiny hand-built models: labels (IDX and text), error messages for mismatched labels, missing
// data and engines with different I/O, and a per-layer ranking whose answer is known by construction.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "compare/compare.h"
#include "compare/labels.h"
#include "compare/report.h"
#include "core/npy.h"
#include "kiln/kiln.h"
#include "tests/support/onnx_builder.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::OnnxBuilder;

fs::path work_dir() {
  static fs::path dir = [] {
    fs::path p = fs::path(::testing::TempDir()) / ("kiln_compare_errors_test_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

std::string path_of(const std::string& name) { return (work_dir() / name).string(); }

// x[N,in] → MatMul "mm1" (W1) → h → Relu "relu" → r → MatMul "mm2" (W2) → out[N,2]. `bump` is added to W2[0,0].
std::string save_mlp(const std::string& name, int64_t in = 4, const std::string& out = "y", float bump = 0) {
  std::vector<float> w1(in * 3), w2 = {0.5f, -1, 1, 0.25f, -0.5f, 2};
  for (int64_t i = 0; i < in * 3; ++i) w1[i] = 0.1f * static_cast<float>((i * 7) % 11) - 0.4f;
  w2[0] += bump;
  OnnxBuilder b;
  b.input("x", DataType::kF32, {-1, in}, {"N"});
  b.initializer("W1", Tensor::from_vector<float>(w1, {in, 3}));
  b.initializer("W2", Tensor::from_vector<float>(w2, {3, 2}));
  b.node("MatMul", {"x", "W1"}, {"h"}, "mm1");
  b.node("Relu", {"h"}, {"r"}, "relu");
  b.node("MatMul", {"r", "W2"}, {out}, "mm2");
  b.output(out, DataType::kF32);
  std::string p = path_of(name);
  b.save(p);
  return p;
}

std::string save_data(int64_t n = 6, int64_t in = 4) {
  std::vector<float> x(n * in);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 5) % 9) * 0.3f - 0.8f;
  std::string p = path_of("x.npy");
  EXPECT_TRUE(write_npy(p, Tensor::from_vector<float>(x, {n, in})).ok());
  return p;
}

std::string write_text(const std::string& name, const std::string& text) {
  std::ofstream(path_of(name)) << text;
  return path_of(name);
}

std::string write_idx_labels(const std::string& name, const std::vector<uint8_t>& labels) {
  std::string bytes = {0, 0, 8, 1, 0, 0, 0, static_cast<char>(labels.size())};
  for (uint8_t l : labels) bytes += static_cast<char>(l);
  std::ofstream(path_of(name), std::ios::binary) << bytes;
  return path_of(name);
}

CompareOptions options_for(std::vector<std::string> models) {
  CompareOptions o;
  o.models = std::move(models);
  o.data = save_data();
  o.time_budget_s = 0;
  o.batch = 4;
  return o;
}

TEST(CompareLabels, TextIdxAndNames) {
  std::string data = save_data();
  auto text = load_labels(write_text("l.txt", "# comment\n0\n1\n\n1\n0\n1\n0\n"), data, 6);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, (std::vector<int64_t>{0, 1, 1, 0, 1, 0}));
  auto idx = load_labels(write_idx_labels("l.idx", {3, 1, 4, 1, 5, 9}), data, 6);
  ASSERT_TRUE(idx.ok()) << idx.status().message();
  EXPECT_EQ(*idx, (std::vector<int64_t>{3, 1, 4, 1, 5, 9}));
  std::string names = write_text("names.txt", "cat\ndog\n");
  auto named = load_labels(write_text("n.txt", "dog\ncat\ndog\ndog\ncat\ncat\n"), data, 6, names);
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(*named, (std::vector<int64_t>{1, 0, 1, 1, 0, 0}));
  auto no_names = load_labels(path_of("n.txt"), data, 6);
  ASSERT_FALSE(no_names.ok());
  EXPECT_NE(no_names.status().message().find("--class-names"), std::string::npos) << no_names.status().message();
  auto unknown = load_labels(write_text("u.txt", "dog\ncow\ndog\ndog\ncat\ncat\n"), data, 6, names);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("u.txt:2: unknown class name 'cow'"), std::string::npos)
      << unknown.status().message();
}

TEST(CompareErrors, LabelCountMismatch) {
  CompareOptions o = options_for({save_mlp("a.onnx")});
  o.labels = write_idx_labels("five.idx", {0, 1, 0, 1, 0});
  auto r = run_compare(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("holds 5 labels but " + o.data + " holds 6 samples"), std::string::npos)
      << r.status().message();
  o.labels = write_text("seven.txt", "0\n1\n0\n1\n0\n1\n0\n");
  r = run_compare(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("holds 7 labels"), std::string::npos) << r.status().message();
}

TEST(CompareErrors, MissingDataAndModel) {
  CompareOptions o = options_for({save_mlp("a.onnx")});
  o.data = path_of("nowhere.npy");
  auto r = run_compare(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.status().message().find("evaluation data not found"), std::string::npos) << r.status().message();
  o = options_for({save_mlp("a.onnx"), path_of("missing.kiln")});
  r = run_compare(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.kiln"), std::string::npos) << r.status().message();
  o = options_for({save_mlp("a.onnx")});
  o.per_layer = true;
  r = run_compare(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exactly two"), std::string::npos) << r.status().message();
}

TEST(CompareErrors, DifferentIo) {
  std::string a = save_mlp("a.onnx");
  auto r = run_compare(options_for({a, save_mlp("named_z.onnx", 4, "z")}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("different I/O"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("outputs are [y]"), std::string::npos) << r.status().message();
  r = run_compare(options_for({a, save_mlp("wide.onnx", 5)}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("input 'x' is f32[N,4]"), std::string::npos) << r.status().message();
  // An FP16 engine with --fp16-io takes f16: a different input dtype.
  BuildOptions fp16;
  fp16.precision = Precision::kFP16;
  fp16.fp16_io = true;
  auto built = build_engine(a, path_of("a_fp16io.kiln"), fp16);
  ASSERT_TRUE(built.ok()) << built.status().message();
  r = run_compare(options_for({a, path_of("a_fp16io.kiln")}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dtype differs"), std::string::npos) << r.status().message();
}

TEST(CompareRun, IdenticalModelsAgreeAndPerLayerFindsTheChangedLayer) {
  CompareOptions o = options_for({save_mlp("a.onnx"), save_mlp("a_again.onnx"), save_mlp("bumped.onnx", 4, "y", 1.0f)});
  o.labels = write_text("labels.txt", "0\n1\n0\n1\n0\n1\n");
  auto r = run_compare(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->engines.size(), 3u);
  EXPECT_EQ(r->samples, 6);
  EXPECT_TRUE(r->engines[0].top1.has_value());
  EXPECT_DOUBLE_EQ(r->engines[1].top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(r->engines[1].output_errors[0].stats.max_abs, 0.0);
  EXPECT_GT(r->engines[2].output_errors[0].stats.max_abs, 0.0);
  EXPECT_EQ(*r->engines[0].top1, *r->engines[1].top1);

  // Only mm2's weight differs: its output carries all the error, and h / r (before it) none.
  o = options_for({save_mlp("a.onnx"), save_mlp("bumped.onnx", 4, "y", 1.0f)});
  o.per_layer = true;
  r = run_compare(o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->per_layer.has_value());
  const PerLayerResult& p = *r->per_layer;
  ASSERT_EQ(p.layers.size(), 3u);  // h, r, y
  EXPECT_EQ(p.layers[0].node, "mm2");
  EXPECT_GT(p.layers[0].added, 0.01);
  EXPECT_DOUBLE_EQ(p.layers[0].input_error, 0.0);
  EXPECT_DOUBLE_EQ(p.layers[1].error, 0.0);
  EXPECT_EQ(suggested_keep_fp32(p), std::vector<std::string>{"mm2"});
  std::string text = format_console_report(*r);
  EXPECT_NE(text.find("--keep-fp32 mm2"), std::string::npos) << text;
}

}  // namespace
}  // namespace kiln
