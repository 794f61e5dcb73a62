// Whole models on the CUDA backend against the CPU engine (itself checked against the reference backend):
// FP32, TF32 and FP16 engines of the shared models, dynamic batch (one CUDA graph per shape), several
// contexts on separate streams, and nodes without a CUDA kernel (--allow-cpu-fallback, or a build error
// naming them). Tolerances (outputs compared over the whole tensor, relative to its largest magnitude):
//   FP32 (strict: no TF32)  max |gpu - cpu| <= 1e-4 * max |cpu|   (summation order only)
//   TF32                    cosine >= 0.9999, max error <= 1e-2 * max |cpu|  (10-bit mantissa products)
//   FP16                    cosine >= 0.999,  max error <= 3e-2 * max |cpu|  (f16 activations between layers)
// Models come from $KILN_SHARED_DIR/models (the device run sets it) or the build's shared folder.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <regex>
#include <thread>

#include "core/npy.h"
#include "engine/engine_file.h"
#include "core/tensor.h"
#include "kiln/kiln.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() {
  const char* env = std::getenv("KILN_SHARED_DIR");
  return env && *env ? fs::path(env) : fs::path(KILN_SHARED_DIR);
}

fs::path model_path(const std::string& relative) { return shared_dir() / "models" / relative; }

// A folder of this test's own (ctest runs tests as parallel processes).
fs::path work_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::temp_directory_path() / fmt::format("kiln_cuda_{}_{}_{}", ::getpid(), info->test_suite_name(), info->name());
  fs::create_directories(dir);
  return dir;
}

// Tactics are timed only where a test says so: timing every candidate of every model would take minutes.
Result<std::shared_ptr<const Engine>> build_and_load(const fs::path& model, const std::string& backend, Precision p,
                                                      const std::string& tag, BuildOptions options = {},
                                                      bool time_tactics = false) {
  options.backend = backend;
  options.time_tactics = time_tactics;
  options.precision = p;
  fs::path engine = work_dir() / fmt::format("{}_{}_{}.kiln", tag, backend, precision_name(p));
  KILN_RETURN_IF_ERROR(build_engine(model.string(), engine.string(), options).status());
  return Engine::load(engine.string());
}

std::vector<float> random_input(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Runs the engine's single input on `data` and returns its first output as floats.
Result<std::vector<float>> run_once(ExecutionContext& ctx, const Engine& engine, const std::vector<int64_t>& dims,
                                    const std::vector<float>& data) {
  KILN_RETURN_IF_ERROR(ctx.set_input(engine.inputs()[0].name, TensorView::of(data.data(), dims)));
  KILN_RETURN_IF_ERROR(ctx.run());
  KILN_ASSIGN_OR_RETURN(TensorView out, ctx.output(engine.outputs()[0].name));
  if (out.dtype != DataType::kF32) return Status::internal("expected an f32 output");
  return std::vector<float>(out.as<float>(), out.as<float>() + out.size());
}

struct Agreement {
  double cosine = 0, max_error = 0, max_ref = 0;
};

Agreement agreement(const std::vector<float>& ref, const std::vector<float>& got) {
  Agreement a;
  double dot = 0, nr = 0, ng = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    dot += double(ref[i]) * got[i];
    nr += double(ref[i]) * ref[i];
    ng += double(got[i]) * got[i];
    a.max_error = std::max(a.max_error, std::fabs(double(ref[i]) - got[i]));
    a.max_ref = std::max(a.max_ref, std::fabs(double(ref[i])));
  }
  a.cosine = nr > 0 && ng > 0 ? dot / std::sqrt(nr * ng) : (nr == ng ? 1 : 0);
  return a;
}

void expect_agreement(Precision p, const std::vector<float>& ref, const std::vector<float>& got, const std::string& what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  Agreement a = agreement(ref, got);
  double rel = a.max_error / std::max(a.max_ref, 1e-30);
  if (p == Precision::kFP32) {
    EXPECT_LE(rel, 1e-4) << what << ": max error " << a.max_error << " of max " << a.max_ref;
  } else if (p == Precision::kTF32) {
    EXPECT_GE(a.cosine, 0.9999) << what;
    EXPECT_LE(rel, 1e-2) << what << ": max error " << a.max_error << " of max " << a.max_ref;
  } else {
    EXPECT_GE(a.cosine, 0.999) << what;
    EXPECT_LE(rel, 3e-2) << what << ": max error " << a.max_error << " of max " << a.max_ref;
  }
}

struct ModelCase {
  const char* tag;
  const char* path;
  bool needs_fallback;
  bool fp16_overflows = false;  ///< untrained weights: FP16 overflows on every backend (the CPU's f16 graph gives NaN)
};

class CudaModelTest : public ::testing::TestWithParam<std::tuple<ModelCase, Precision>> {};

TEST_P(CudaModelTest, AgreesWithCpuEngine) {
  KILN_REQUIRE_GPU();
  auto [model, precision] = GetParam();
  fs::path path = model_path(model.path);
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  auto cpu = build_and_load(path, "cpu", Precision::kFP32, model.tag);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  BuildOptions gpu_options;
  gpu_options.allow_cpu_fallback = model.needs_fallback;
  auto gpu = build_and_load(path, "cuda", precision, model.tag, gpu_options);
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  EXPECT_EQ((*gpu)->backend(), "cuda");
  std::vector<int64_t> dims;
  for (const DimRange& r : (*cpu)->inputs()[0].dims) dims.push_back(r.max);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  auto cpu_ctx = (*cpu)->create_context();
  auto gpu_ctx = (*gpu)->create_context();
  ASSERT_TRUE(cpu_ctx.ok() && gpu_ctx.ok());
  for (uint32_t seed : {1u, 2u}) {  // the second run replays the captured CUDA graph
    std::vector<float> x = random_input(n, seed);
    auto ref = run_once(**cpu_ctx, **cpu, dims, x);
    auto got = run_once(**gpu_ctx, **gpu, dims, x);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    ASSERT_TRUE(got.ok()) << got.status().message();
    expect_agreement(precision, *ref, *got, fmt::format("{} {} seed {}", model.tag, precision_name(precision), seed));
    auto times = (*gpu_ctx)->last_gpu_times();
    ASSERT_TRUE(times.has_value());
    EXPECT_GT(times->compute_ms, 0.0);
  }
}

const ModelCase kModels[] = {
    {"mnist", "mnist_8/model.onnx", false},
    {"squeezenet", "squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx", false},
    {"flowers", "st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx", false},
    {"ultraface", "ultraface/version-RFB-320.onnx", false},
    {"densenet", "onnx_light_untrained/light_densenet121.onnx", false},
    {"shufflenet", "onnx_light_untrained/light_shufflenet.onnx", false},
    {"inception_lrn_on_host", "onnx_light_untrained/light_inception_v1.onnx", true, true},  // LRN: no CUDA kernel
};

std::vector<std::tuple<ModelCase, Precision>> model_cases() {
  std::vector<std::tuple<ModelCase, Precision>> cases;
  for (const ModelCase& m : kModels)
    for (Precision p : {Precision::kFP32, Precision::kTF32, Precision::kFP16})
      if (!(p == Precision::kFP16 && m.fp16_overflows)) cases.emplace_back(m, p);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Models, CudaModelTest, ::testing::ValuesIn(model_cases()),
                         [](const auto& info) {
                           return fmt::format("{}_{}", std::get<0>(info.param).tag,
                                              precision_name(std::get<1>(info.param)));
                         });

// INT8: the GPU engine against the CPU INT8 engine built with the same scales (the CPU build writes the
// calibration cache, the GPU build reads it), calibrated on random inputs of the test's distribution. Both
// run the same int8 graph; the GPU requantizes in f32 where the CPU reference-checked kernels use their own
// rounding, so single outputs can differ by a quantization step and propagate: we require cosine >= 0.99 and
// max error <= 10% of the largest output (an int8 indexing or scale bug gives cosine near 0).
TEST(CudaModel, Int8AgreesWithCpuInt8Engine) {
  KILN_REQUIRE_GPU();
  for (const char* tag : {"mnist", "squeezenet", "ultraface_depthwise"}) {
    SCOPED_TRACE(tag);
    const std::string rel = std::string(tag) == "mnist"        ? "mnist_8/model.onnx"
                            : std::string(tag) == "squeezenet" ? "squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx"
                                                               : "ultraface/version-RFB-320.onnx";
    fs::path path = model_path(rel);
    if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
    auto fp32 = build_and_load(path, "cpu", Precision::kFP32, std::string(tag) + "_shape");
    ASSERT_TRUE(fp32.ok()) << fp32.status().message();
    std::vector<int64_t> dims;
    for (const DimRange& r : (*fp32)->inputs()[0].dims) dims.push_back(r.max);
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    // 8 calibration samples in one .npy batch.
    std::vector<int64_t> calib_dims = dims;
    calib_dims[0] = 8;
    Tensor calib(DataType::kF32, calib_dims);
    std::vector<float> values = random_input(calib.size(), 99);
    std::copy(values.begin(), values.end(), calib.data<float>());
    fs::path npy = work_dir() / fmt::format("{}_calib.npy", tag);
    ASSERT_TRUE(write_npy(npy.string(), calib).ok());
    BuildOptions options;
    options.int8.calib_data = npy.string();
    options.int8.calib_samples = 8;
    options.int8.calib_batch = dims[0];
    options.int8.calib_cache = (work_dir() / fmt::format("{}.cache", tag)).string();
    fs::remove(options.int8.calib_cache);
    auto cpu = build_and_load(path, "cpu", Precision::kINT8, tag, options);
    ASSERT_TRUE(cpu.ok()) << cpu.status().message();
    auto gpu = build_and_load(path, "cuda", Precision::kINT8, tag, options);
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    auto cpu_ctx = (*cpu)->create_context();
    auto gpu_ctx = (*gpu)->create_context();
    ASSERT_TRUE(cpu_ctx.ok() && gpu_ctx.ok());
    for (uint32_t seed : {1u, 2u}) {
      std::vector<float> x = random_input(n, seed);
      auto ref = run_once(**cpu_ctx, **cpu, dims, x);
      auto got = run_once(**gpu_ctx, **gpu, dims, x);
      ASSERT_TRUE(ref.ok()) << ref.status().message();
      ASSERT_TRUE(got.ok()) << got.status().message();
      Agreement a = agreement(*ref, *got);
      EXPECT_GE(a.cosine, 0.99) << "seed " << seed;
      EXPECT_LE(a.max_error, 0.1 * a.max_ref) << "seed " << seed << ": max error " << a.max_error << " of max "
                                              << a.max_ref;
      std::printf("[ int8     ] %s seed %u: cosine %.6f, max error %.4g of max %.4g\n", tag, seed, a.cosine,
                  a.max_error, a.max_ref);
    }
  }
}

// Several batch sizes on one context (a CUDA graph per shape), revisited, and each sample equal to the CPU
// engine's output for that sample.
TEST(CudaModel, DynamicBatchCapturesOneGraphPerShape) {
  KILN_REQUIRE_GPU();
  fs::path path = model_path("squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  BuildOptions options;
  options.dynamic_batch = true;
  options.batch = DimRange{1, 2, 4};
  auto cpu = build_and_load(path, "cpu", Precision::kFP32, "sq_dyn", options);
  auto gpu = build_and_load(path, "cuda", Precision::kFP32, "sq_dyn", options);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  auto cpu_ctx = (*cpu)->create_context();
  auto gpu_ctx = (*gpu)->create_context();
  ASSERT_TRUE(cpu_ctx.ok() && gpu_ctx.ok());
  std::vector<int64_t> sample;
  for (const DimRange& r : (*cpu)->inputs()[0].dims) sample.push_back(r.max);
  int64_t per_sample = 1;
  for (size_t d = 1; d < sample.size(); ++d) per_sample *= sample[d];
  for (int64_t batch : {3, 1, 4, 3}) {
    std::vector<int64_t> dims = sample;
    dims[0] = batch;
    std::vector<float> x = random_input(batch * per_sample, 10 + static_cast<uint32_t>(batch));
    auto ref = run_once(**cpu_ctx, **cpu, dims, x);
    auto got = run_once(**gpu_ctx, **gpu, dims, x);
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    ASSERT_TRUE(got.ok()) << got.status().message();
    expect_agreement(Precision::kFP32, *ref, *got, fmt::format("batch {}", batch));
  }
}

// --tactic-sources: a SqueezeNet FP16 build timed among cuDNN's configs only has no cuBLASLt tactic (its 1x1
// convolutions could run on cuBLASLt), and one among cuBLASLt's only gives the 1x1 convolutions cuBLASLt
// algorithms and leaves every other convolution its default, counted in the build report.
TEST(CudaModel, TacticSourcesLimitTheChosenTactics) {
  KILN_REQUIRE_GPU();
  fs::path path = model_path("squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  auto tactics_of = [&](const std::vector<std::string>& sources, std::string* log) -> Result<std::vector<std::string>> {
    BuildOptions options;
    options.backend = "cuda";
    options.precision = Precision::kFP16;
    options.tactic_sources = sources;
    const fs::path engine = work_dir() / fmt::format("sq_sources_{}.kiln", sources.front());
    KILN_ASSIGN_OR_RETURN(BuildReport report, build_engine(path.string(), engine.string(), options));
    for (const std::string& line : report.log) *log += line + "\n";
    KILN_ASSIGN_OR_RETURN(nlohmann::json meta, read_engine_metadata(engine.string()));
    std::vector<std::string> tactics;
    for (const auto& [node, tactic] : meta.at("kernels").items()) tactics.push_back(tactic.get<std::string>());
    return tactics;
  };
  auto count = [](const std::vector<std::string>& tactics, const std::string& prefix) {
    return std::count_if(tactics.begin(), tactics.end(), [&](const std::string& t) { return t.starts_with(prefix); });
  };
  std::string cudnn_log, cublaslt_log;
  auto cudnn_only = tactics_of({"cudnn"}, &cudnn_log);
  ASSERT_TRUE(cudnn_only.ok()) << cudnn_only.status().message();
  EXPECT_EQ(count(*cudnn_only, "cublaslt:"), 0) << cudnn_log;
  EXPECT_GT(count(*cudnn_only, "cudnn:"), 10) << cudnn_log;
  // Timing ran the plans the candidate listing had finalized (CudnnPlanCache) rather than finalizing them again.
  std::smatch counts;
  const std::regex reuse(R"((\d+) timed \((\d+) with the plan made when listing)");
  ASSERT_TRUE(std::regex_search(cudnn_log, counts, reuse)) << cudnn_log;
  const int timed = std::stoi(counts[1]), with_listed_plan = std::stoi(counts[2]);
  EXPECT_GE(with_listed_plan, 10) << cudnn_log;
  EXPECT_LE(with_listed_plan, timed) << cudnn_log;
  auto cublaslt_only = tactics_of({"cublaslt"}, &cublaslt_log);
  ASSERT_TRUE(cublaslt_only.ok()) << cublaslt_only.status().message();
  EXPECT_GT(count(*cublaslt_only, "cublaslt:"), 5) << cublaslt_log;  // SqueezeNet's squeeze and 1x1 expand layers
  // The 3x3 convolutions have no cuBLASLt candidate: they keep cuDNN's heuristic choice, and the report says so.
  EXPECT_GT(count(*cublaslt_only, "cudnn:heuristic"), 0) << cublaslt_log;
  EXPECT_NE(cublaslt_log.find("kept their kernel's default: no candidate from --tactic-sources"), std::string::npos)
      << cublaslt_log;
}

// Contexts on separate threads (separate streams and handles) share one engine.
TEST(CudaModel, ContextsRunConcurrently) {
  KILN_REQUIRE_GPU();
  fs::path path = model_path("squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  auto gpu = build_and_load(path, "cuda", Precision::kFP16, "sq_threads", {}, /*time_tactics=*/true);
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  std::vector<int64_t> dims;
  for (const DimRange& r : (*gpu)->inputs()[0].dims) dims.push_back(r.max);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::vector<std::vector<float>> inputs = {random_input(n, 21), random_input(n, 22), random_input(n, 23)};
  std::vector<std::vector<float>> serial;
  {
    auto ctx = (*gpu)->create_context();
    ASSERT_TRUE(ctx.ok());
    for (const auto& x : inputs) {
      auto y = run_once(**ctx, **gpu, dims, x);
      ASSERT_TRUE(y.ok()) << y.status().message();
      serial.push_back(*y);
    }
  }
  std::vector<std::string> errors(inputs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < inputs.size(); ++t)
    threads.emplace_back([&, t] {
      auto ctx = (*gpu)->create_context();
      if (!ctx.ok()) { errors[t] = ctx.status().message(); return; }
      for (int rep = 0; rep < 20; ++rep) {
        auto y = run_once(**ctx, **gpu, dims, inputs[t]);
        if (!y.ok()) { errors[t] = y.status().message(); return; }
        if (*y != serial[t]) { errors[t] = fmt::format("thread {} run {} differs from the serial run", t, rep); return; }
      }
    });
  for (auto& th : threads) th.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
}

// Without --allow-cpu-fallback a node without a CUDA kernel fails the build, and the message names it.
TEST(CudaModel, UnsupportedNodesAreListedAtBuild) {
  KILN_REQUIRE_GPU();
  fs::path path = model_path("onnx_light_untrained/light_inception_v1.onnx");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not found";
  auto gpu = build_and_load(path, "cuda", Precision::kFP32, "lrn_nofallback");
  ASSERT_FALSE(gpu.ok());
  EXPECT_NE(gpu.status().message().find("2 node(s) have no CUDA kernel"), std::string::npos) << gpu.status().message();
  EXPECT_NE(gpu.status().message().find("LRN"), std::string::npos) << gpu.status().message();
  EXPECT_NE(gpu.status().message().find("--allow-cpu-fallback"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln
