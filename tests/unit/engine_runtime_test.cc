// Engines built from the shared real models, run through the public runtime API (kiln.h): dynamic batch,
// agreement with the reference GraphRunner and the stored reference outputs, FP16 against FP32 on every shared
// photo, concurrent contexts, refusal of damaged engine files, engine size.
//
// Models: the flowers MobileNetV2-0.35 (dynamic batch, tiny) and SqueezeNet 1.0 (fixed batch 1, FP32 file,
// built with dynamic_batch=true). The reference backend runs SqueezeNet at ~0.35 s per image, so its photos are
// run in a few batches shared between tests, on two threads (see squeezenet_photo_runs()).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <mutex>
#include <thread>

#include "data/image.h"
#include "engine/engine_file.h"
#include "engine/engine_layout.h"
#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "runtime/graph_runner.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() { return fs::path(__FILE__).parent_path() / "../../../shared"; }
bool have_shared() { return fs::exists(shared_dir() / "models") && fs::exists(shared_dir() / "images"); }

#define SKIP_WITHOUT_SHARED() \
  if (!have_shared()) GTEST_SKIP() << "no shared models/images at " << shared_dir()

struct ModelInfo {
  std::string onnx;    // path
  std::string preset;  // preprocessing
  int64_t height, width;
  bool dynamic_batch;  // the model's own batch dimension is dynamic
};

const ModelInfo& flowers() {
  static ModelInfo m{(shared_dir() / "models/st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx").string(),
                     "mobilenet_flowers", 128, 128, true};
  return m;
}
const ModelInfo& squeezenet() {
  static ModelInfo m{(shared_dir() / "models/squeezenet1.0/squeezenet1.0_fp32_from_winml_fp16.onnx").string(),
                     "imagenet_bgr_mean", 224, 224, false};
  return m;
}

fs::path work_dir() {
  static fs::path dir = [] {
    fs::path p = fs::path(testing::TempDir()) / ("kiln_engine_runtime_test_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return dir;
}

struct Built {
  std::string path;
  BuildReport report;
  std::shared_ptr<const Engine> engine;
};

// Builds (once per process) and loads an engine.
const Built& built(const ModelInfo& model, Precision precision, bool dynamic_batch) {
  static std::mutex mu;
  static std::map<std::string, Built> cache;
  std::lock_guard<std::mutex> lock(mu);
  std::string key = model.onnx + "|" + std::string(precision_name(precision)) + (dynamic_batch ? "|dyn" : "");
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Built b;
  b.path = (work_dir() / (fs::path(model.onnx).stem().string() + "_" + std::string(precision_name(precision)) +
                          (dynamic_batch ? "_dyn" : "") + ".kiln")).string();
  BuildOptions options;
  options.precision = precision;
  if (dynamic_batch || model.dynamic_batch) options.batch = DimRange{1, 16, 32};
  options.dynamic_batch = dynamic_batch;
  auto report = build_engine(model.onnx, b.path, options);
  EXPECT_TRUE(report.ok()) << report.status().message();
  if (report.ok()) {
    b.report = *report;
    auto engine = Engine::load(b.path);
    EXPECT_TRUE(engine.ok()) << engine.status().message();
    if (engine.ok()) b.engine = *engine;
  }
  return cache.emplace(key, std::move(b)).first->second;
}

const std::vector<std::string>& photos() {
  static std::vector<std::string> list = [] {
    auto l = list_images((shared_dir() / "images").string());
    return l.ok() ? *l : std::vector<std::string>{};
  }();
  return list;
}

// One preprocessed sample per shared photo, [1,C,H,W] f32.
const std::vector<Tensor>& photo_samples(const ModelInfo& model) {
  static std::mutex mu;
  static std::map<std::string, std::vector<Tensor>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& out = cache[model.onnx];
  if (out.empty()) {
    auto spec = preprocess_preset(model.preset);
    EXPECT_TRUE(spec.ok());
    for (const std::string& p : photos()) {
      auto t = load_image(p, *spec, model.height, model.width);
      EXPECT_TRUE(t.ok()) << t.status().message();
      out.push_back(t.ok() ? *t : Tensor(DataType::kF32, {1, 3, model.height, model.width}));
    }
  }
  return out;
}

// Stacks samples[first .. first+count) into one [count,C,H,W] batch.
Tensor stack(const std::vector<Tensor>& samples, size_t first, size_t count) {
  Dims dims = samples[first].dims();
  dims[0] = static_cast<int64_t>(count);
  Tensor batch(DataType::kF32, dims);
  size_t per = static_cast<size_t>(samples[first].size());
  for (size_t i = 0; i < count; ++i)
    std::memcpy(batch.data<float>() + i * per, samples[first + i].data<float>(), per * sizeof(float));
  return batch;
}

// Runs a single-input, single-output engine; returns a copy of the output.
Result<Tensor> run_engine(const Engine& engine, ExecutionContext& context, const Tensor& input) {
  KILN_RETURN_IF_ERROR(context.set_input(engine.inputs()[0].name, TensorView{input.dtype(), input.dims(), input.raw()}));
  KILN_RETURN_IF_ERROR(context.run());
  KILN_ASSIGN_OR_RETURN(TensorView view, context.output(engine.outputs()[0].name));
  Tensor copy(view.dtype, view.dims);
  std::memcpy(copy.raw(), view.data, copy.byte_size());
  return copy;
}

Result<Tensor> run_engine(const Engine& engine, const Tensor& input) {
  KILN_ASSIGN_OR_RETURN(auto context, engine.create_context());
  return run_engine(engine, *context, input);
}

// Row `i` of a [N, ...] tensor as doubles.
std::vector<double> row(const Tensor& t, int64_t i) {
  int64_t per = t.size() / t.dim(0);
  std::vector<double> r(static_cast<size_t>(per));
  for (int64_t k = 0; k < per; ++k) r[static_cast<size_t>(k)] = t.element_as_double(i * per + k);
  return r;
}

// max |a - b| / max |b| (0 when both are zero).
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return den == 0 ? num : num / den;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

size_t argmax(const std::vector<double>& v) { return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

std::vector<double> tensor_values(const Tensor& t) { return t.to_double_vector(); }

// SqueezeNet on every shared photo, FP32 (dynamic_batch engine) and FP16, computed once for the tests that need
// them. The reference backend takes ~0.35 s (FP32) and ~1.2 s (FP16) of CPU per image, so the runs are jobs
// shared by two worker threads (this machine has two cores), each thread with its own contexts.
//   FP32: batch 32 = photos 0..31; batch 1 for photos N-9..N-1; batch 7 = photos N-9..N-3 (against those
//         batch-1 runs); batch 16 = photos N-16..N-1 (overlaps both).
//   FP16: batches of 6 over all photos.
struct SqueezeRuns {
  Tensor batch32, batch16, batch7;
  std::vector<Tensor> batch1;  // photos N-9 ..
  size_t n = 0;
  std::vector<std::vector<double>> fp32, fp16;  // per photo
};
const SqueezeRuns& squeezenet_photo_runs() {
  static SqueezeRuns runs = [] {
    SqueezeRuns r;
    const Built& b32 = built(squeezenet(), Precision::kFP32, true);
    const Built& b16 = built(squeezenet(), Precision::kFP16, true);
    const auto& samples = photo_samples(squeezenet());
    r.n = samples.size();
    if (!b32.engine || !b16.engine || r.n < 32) return r;
    struct Job {
      const Engine* engine;
      size_t first, count;
      Tensor* out;
    };
    std::vector<Job> jobs;
    jobs.push_back({b32.engine.get(), 0, 32, &r.batch32});
    jobs.push_back({b32.engine.get(), r.n - 16, 16, &r.batch16});
    jobs.push_back({b32.engine.get(), r.n - 9, 7, &r.batch7});
    r.batch1.resize(9);
    for (size_t i = 0; i < 9; ++i) jobs.push_back({b32.engine.get(), r.n - 9 + i, 1, &r.batch1[i]});
    std::vector<Tensor> fp16_batches((r.n + 5) / 6);
    for (size_t k = 0; k < fp16_batches.size(); ++k)
      jobs.push_back({b16.engine.get(), k * 6, std::min<size_t>(6, r.n - k * 6), &fp16_batches[k]});
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::vector<std::string> errors;
    auto worker = [&] {
      std::map<const Engine*, std::unique_ptr<ExecutionContext>> contexts;
      for (size_t j; (j = next++) < jobs.size();) {
        const Job& job = jobs[j];
        auto& ctx = contexts[job.engine];
        if (!ctx) {
          auto c = job.engine->create_context();
          if (!c.ok()) { std::lock_guard<std::mutex> l(mu); errors.push_back(c.status().message()); return; }
          ctx = std::move(*c);
        }
        auto out = run_engine(*job.engine, *ctx, stack(samples, job.first, job.count));
        if (out.ok()) *job.out = *out;
        else { std::lock_guard<std::mutex> l(mu); errors.push_back(out.status().message()); }
      }
    };
    std::thread t1(worker), t2(worker);
    t1.join();
    t2.join();
    for (const auto& e : errors) ADD_FAILURE() << e;
    if (!errors.empty()) return r;
    for (size_t i = 0; i < r.n; ++i) {
      r.fp32.push_back(i < 32 ? row(r.batch32, static_cast<int64_t>(i)) : row(r.batch16, static_cast<int64_t>(i - (r.n - 16))));
      r.fp16.push_back(row(fp16_batches[i / 6], static_cast<int64_t>(i % 6)));
    }
    return r;
  }();
  return runs;
}

// The flowers FP32 engine on every photo, one batch-1 run each.
const std::vector<std::vector<double>>& flowers_fp32_singles() {
  static std::vector<std::vector<double>> rows = [] {
    std::vector<std::vector<double>> r;
    const Built& b = built(flowers(), Precision::kFP32, false);
    if (!b.engine) return r;
    auto context = b.engine->create_context();
    EXPECT_TRUE(context.ok());
    for (const Tensor& s : photo_samples(flowers())) {
      auto out = run_engine(*b.engine, **context, s);
      EXPECT_TRUE(out.ok()) << out.status().message();
      if (!out.ok()) return std::vector<std::vector<double>>{};
      EXPECT_EQ(out->dims(), (Dims{1, 5}));
      r.push_back(row(*out, 0));
    }
    return r;
  }();
  return rows;
}

// ---- dynamic batch ----------------------------------------------------------------------------------------

void expect_rejects_batch_33(const Engine& engine, const Tensor& sample) {
  auto context = engine.create_context();
  ASSERT_TRUE(context.ok());
  std::vector<Tensor> many(33, sample);
  Tensor big = stack(many, 0, 33);
  const std::string& name = engine.inputs()[0].name;
  Status s = (*context)->set_input(name, TensorView{big.dtype(), big.dims(), big.raw()});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kShapeMismatch);
  EXPECT_NE(s.message().find("'" + name + "'"), std::string::npos) << s.message();  // the input
  EXPECT_NE(s.message().find("dimension 0"), std::string::npos) << s.message();     // the dimension
  EXPECT_NE(s.message().find("is 33"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("1..32"), std::string::npos) << s.message();           // the profile range
  // A rejected binding must not leave a runnable context behind with the old shape silently used.
  EXPECT_FALSE((*context)->run().ok());
}

TEST(EngineRuntime, FlowersDynamicBatch) {
  SKIP_WITHOUT_SHARED();
  const Built& b = built(flowers(), Precision::kFP32, false);  // the model's batch is already dynamic
  ASSERT_TRUE(b.engine);
  ASSERT_EQ(b.engine->inputs().size(), 1u);
  const DimRange& batch = b.engine->inputs()[0].dims[0];
  EXPECT_EQ(batch.min, 1);
  EXPECT_EQ(batch.opt, 16);
  EXPECT_EQ(batch.max, 32);
  const auto& samples = photo_samples(flowers());
  ASSERT_GE(samples.size(), 32u);
  const std::vector<std::vector<double>>& single = flowers_fp32_singles();
  ASSERT_EQ(single.size(), samples.size());
  auto context = b.engine->create_context();
  ASSERT_TRUE(context.ok());
  // Batches of 1, 7, 16, 32 (starting at different photos) equal the batch-1 outputs row by row.
  for (auto [n, first] : {std::pair<size_t, size_t>{1, 3}, {7, 30}, {16, 20}, {32, samples.size() - 32}}) {
    auto out = run_engine(*b.engine, **context, stack(samples, first, n));
    ASSERT_TRUE(out.ok()) << "batch " << n << ": " << out.status().message();
    ASSERT_EQ(out->dims(), (Dims{static_cast<int64_t>(n), 5}));
    for (size_t i = 0; i < n; ++i)
      EXPECT_LE(relative_error(row(*out, static_cast<int64_t>(i)), single[first + i]), 1e-5) << "batch " << n << " row " << i;
  }
  expect_rejects_batch_33(*b.engine, samples[0]);
}

TEST(EngineRuntime, SqueezeNetFixedBatchMadeDynamic) {
  SKIP_WITHOUT_SHARED();
  const Built& b = built(squeezenet(), Precision::kFP32, true);
  ASSERT_TRUE(b.engine);
  const DimRange& batch = b.engine->inputs()[0].dims[0];
  EXPECT_EQ(batch.min, 1);
  EXPECT_EQ(batch.max, 32);
  const auto& samples = photo_samples(squeezenet());
  const SqueezeRuns& runs = squeezenet_photo_runs();
  ASSERT_EQ(runs.fp32.size(), samples.size());
  const size_t n = runs.n;
  ASSERT_EQ(runs.batch32.dims(), (Dims{32, 1000, 1, 1}));
  ASSERT_EQ(runs.batch16.dims(), (Dims{16, 1000, 1, 1}));
  ASSERT_EQ(runs.batch7.dims(), (Dims{7, 1000, 1, 1}));
  for (size_t i = 0; i < 9; ++i) {
    ASSERT_EQ(runs.batch1[i].dims(), (Dims{1, 1000, 1, 1}));
    std::vector<double> one = row(runs.batch1[i], 0);
    if (i < 7) {
      EXPECT_LE(relative_error(row(runs.batch7, static_cast<int64_t>(i)), one), 1e-5) << "batch 7 row " << i;
    }
    EXPECT_LE(relative_error(row(runs.batch16, static_cast<int64_t>(i + 7)), one), 1e-5) << "batch 16 row " << i + 7;
  }
  for (size_t p = n - 16; p < 32; ++p)  // photos in both batch 16 and batch 32
    EXPECT_LE(relative_error(row(runs.batch16, static_cast<int64_t>(p - (n - 16))), row(runs.batch32, static_cast<int64_t>(p))), 1e-5) << p;
  expect_rejects_batch_33(*b.engine, samples[0]);
}

// ---- FP32 engine vs the reference GraphRunner and the stored references -----------------------------------

struct Reference {
  const ModelInfo* model;
  const char* dataset;
};

TEST(EngineRuntime, Fp32MatchesGraphRunnerAndStoredOutputs) {
  SKIP_WITHOUT_SHARED();
  for (Reference r : {Reference{&flowers(), "st_mobilenet_v2_0.35_128_flowers_fp32"}, Reference{&squeezenet(), "squeezenet1.0"}}) {
    SCOPED_TRACE(r.model->onnx);
    fs::path data = shared_dir() / "models" / r.dataset / "test_data_set_0";
    auto input = read_tensor_pb((data / "input_0.pb").string());
    std::string out_name;
    auto expected = read_tensor_pb((data / "output_0.pb").string(), &out_name);
    ASSERT_TRUE(input.ok() && expected.ok());

    const Built& b = built(*r.model, Precision::kFP32, false);
    ASSERT_TRUE(b.engine);
    ASSERT_EQ(b.engine->outputs()[0].name, out_name);  // match by name
    auto engine_out = run_engine(*b.engine, *input);
    ASSERT_TRUE(engine_out.ok()) << engine_out.status().message();

    auto graph = import_onnx_file(r.model->onnx);
    ASSERT_TRUE(graph.ok()) << graph.status().message();
    auto runner = GraphRunner::create(*graph);
    ASSERT_TRUE(runner.ok());
    const std::string& in_name = b.engine->inputs()[0].name;  // SqueezeNet also lists its weights as inputs
    ASSERT_NE(graph->find_value(in_name), nullptr);
    auto ref_out = runner->run({{in_name, *input}});
    ASSERT_TRUE(ref_out.ok()) << ref_out.status().message();
    ASSERT_EQ(graph->outputs[0]->name, out_name);

    ASSERT_EQ(engine_out->dims(), (*ref_out)[0].dims());
    ASSERT_EQ(engine_out->dims(), expected->dims());
    double vs_runner = relative_error(tensor_values(*engine_out), tensor_values((*ref_out)[0]));
    double vs_stored = max_abs_diff(tensor_values(*engine_out), tensor_values(*expected));
    std::printf("%s fp32: relative error vs GraphRunner %.3g, max abs diff vs stored (ORT) %.3g\n", r.dataset, vs_runner, vs_stored);
    EXPECT_LE(vs_runner, 1e-5);
    EXPECT_LE(vs_stored, 1e-4);
    EXPECT_EQ(argmax(tensor_values(*engine_out)), argmax(tensor_values(*expected)));
  }
}

// ---- FP16 vs FP32 on every shared photo -------------------------------------------------------------------

struct Agreement {
  double max_abs = 0, min_cosine = 1;
  size_t top1_equal = 0, count = 0;
};

void expect_fp16_agrees(const char* what, const std::vector<std::vector<double>>& fp32,
                        const std::vector<std::vector<double>>& fp16, double max_abs_bound, double min_cosine_bound) {
  ASSERT_EQ(fp32.size(), fp16.size());
  Agreement a;
  for (size_t i = 0; i < fp32.size(); ++i) {
    a.max_abs = std::max(a.max_abs, max_abs_diff(fp16[i], fp32[i]));
    a.min_cosine = std::min(a.min_cosine, cosine(fp16[i], fp32[i]));
    a.top1_equal += argmax(fp16[i]) == argmax(fp32[i]);
    a.count++;
    EXPECT_EQ(argmax(fp16[i]), argmax(fp32[i])) << what << ": " << photos()[i];
  }
  std::printf("%s: FP16 vs FP32 on %zu photos: top-1 equal %zu, max |softmax diff| %.3g, min cosine %.7f\n", what,
              a.count, a.top1_equal, a.max_abs, a.min_cosine);
  EXPECT_LE(a.max_abs, max_abs_bound) << what;
  EXPECT_GE(a.min_cosine, min_cosine_bound) << what;
}

// Runs an engine over all samples in batches of up to 32; per-sample output rows.
std::vector<std::vector<double>> run_all(const Engine& engine, const std::vector<Tensor>& samples) {
  std::vector<std::vector<double>> rows;
  auto context = engine.create_context();
  EXPECT_TRUE(context.ok());
  for (size_t first = 0; first < samples.size(); first += 32) {
    size_t n = std::min<size_t>(32, samples.size() - first);
    auto out = run_engine(engine, **context, stack(samples, first, n));
    EXPECT_TRUE(out.ok()) << out.status().message();
    if (!out.ok()) return rows;
    for (size_t i = 0; i < n; ++i) rows.push_back(row(*out, static_cast<int64_t>(i)));
  }
  return rows;
}

TEST(EngineRuntime, Fp16TopOneEqualsFp32OnEveryPhotoFlowers) {
  SKIP_WITHOUT_SHARED();
  const auto& samples = photo_samples(flowers());
  ASSERT_GE(samples.size(), 41u);
  const Built& fp32 = built(flowers(), Precision::kFP32, false);
  const Built& fp16 = built(flowers(), Precision::kFP16, false);
  ASSERT_TRUE(fp32.engine && fp16.engine);
  EXPECT_EQ(fp16.engine->precision(), Precision::kFP16);
  // The preset is the model's (RGB/127.5 - 1): the flower photos get their class (labels_tf_flowers.txt).
  const auto& fp32_rows = flowers_fp32_singles();
  for (size_t i = 0; i < photos().size(); ++i) {
    std::string name = fs::path(photos()[i]).filename().string();
    if (name == "daisy.jpg") {
      EXPECT_EQ(argmax(fp32_rows[i]), 0u) << name;
    }
    if (name == "rose.jpg") {
      EXPECT_EQ(argmax(fp32_rows[i]), 2u) << name;
    }
    if (name == "tulip.jpg") {
      EXPECT_EQ(argmax(fp32_rows[i]), 4u) << name;
    }
  }
  // Measured (41 photos): top-1 equal 41/41, max |softmax diff| 0.00262, min cosine 0.9999873.
  expect_fp16_agrees("flowers MobileNetV2", flowers_fp32_singles(), run_all(*fp16.engine, samples), 1e-2, 0.9995);
}

TEST(EngineRuntime, Fp16TopOneEqualsFp32OnEveryPhotoSqueezeNet) {
  SKIP_WITHOUT_SHARED();
  const auto& samples = photo_samples(squeezenet());
  ASSERT_GE(samples.size(), 41u);
  const SqueezeRuns& runs = squeezenet_photo_runs();
  ASSERT_EQ(runs.fp16.size(), samples.size());
  // Measured (41 photos): top-1 equal 41/41, max |softmax diff| 0.00447, min cosine 0.9999747.
  expect_fp16_agrees("SqueezeNet 1.0", runs.fp32, runs.fp16, 1e-2, 0.9995);
}

// ---- concurrency --------------------------------------------------------------------------------------------

TEST(EngineRuntime, ConcurrentContextsMatchOneContext) {
  SKIP_WITHOUT_SHARED();
  const Built& b = built(flowers(), Precision::kFP32, false);
  ASSERT_TRUE(b.engine);
  const auto& samples = photo_samples(flowers());
  // Work items: batches of varied size and start; expected outputs from one context, sequentially.
  std::vector<std::pair<size_t, size_t>> items;
  for (size_t i = 0; i < 8; ++i) items.push_back({(i * 7) % (samples.size() - 9), 1 + i % 5});
  std::vector<Tensor> inputs, expected;
  auto context = b.engine->create_context();
  ASSERT_TRUE(context.ok());
  for (auto [first, n] : items) {
    inputs.push_back(stack(samples, first, n));
    auto out = run_engine(*b.engine, **context, inputs.back());
    ASSERT_TRUE(out.ok());
    expected.push_back(*out);
  }
  constexpr int kThreads = 4, kContextsPerThread = 3, kRounds = 1;
  std::vector<std::string> failures[kThreads];
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<ExecutionContext>> contexts;
      for (int c = 0; c < kContextsPerThread; ++c) {
        auto ctx = b.engine->create_context();
        if (!ctx.ok()) return failures[t].push_back(ctx.status().message());
        contexts.push_back(std::move(*ctx));
      }
      for (int round = 0; round < kRounds; ++round)
        for (size_t k = 0; k < items.size(); ++k) {
          size_t item = (k + static_cast<size_t>(t) * 5) % items.size();  // threads work on different items at once
          auto out = run_engine(*b.engine, *contexts[(k + round) % kContextsPerThread], inputs[item]);
          if (!out.ok()) { failures[t].push_back(out.status().message()); continue; }
          if (out->dims() != expected[item].dims() ||
              std::memcmp(out->raw(), expected[item].raw(), out->byte_size()) != 0)
            failures[t].push_back("thread " + std::to_string(t) + " item " + std::to_string(item) + " differs");
        }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(failures[t].empty()) << failures[t].front();
}

// ---- damaged engine files -----------------------------------------------------------------------------------

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
std::string write_bytes(const std::string& name, const std::string& bytes) {
  std::string path = (work_dir() / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(EngineRuntime, LoadRefusesDamagedFiles) {
  SKIP_WITHOUT_SHARED();
  const Built& b = built(flowers(), Precision::kFP32, false);
  ASSERT_TRUE(b.engine);
  std::string good = read_bytes(b.path);
  ASSERT_GT(good.size(), 4096u);
  ASSERT_TRUE(Engine::load(write_bytes("copy.kiln", good)).ok());

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;  // inside the weights
  auto corrupted = Engine::load(write_bytes("flipped.kiln", flipped));
  ASSERT_FALSE(corrupted.ok());
  EXPECT_EQ(corrupted.status().code(), ErrorCode::kInvalidModel);
  EXPECT_NE(corrupted.status().message().find("flipped.kiln is corrupted: checksum mismatch"), std::string::npos)
      << corrupted.status().message();

  std::string truncated = good.substr(0, good.size() - 1000);
  auto short_file = Engine::load(write_bytes("truncated.kiln", truncated));
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find(
                "truncated.kiln is truncated: " + std::to_string(truncated.size()) + " bytes, the header says " +
                std::to_string(good.size())),
            std::string::npos)
      << short_file.status().message();
  auto tiny = Engine::load(write_bytes("tiny.kiln", good.substr(0, 20)));
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("tiny.kiln is truncated: 20 bytes, shorter than the 64-byte header"),
            std::string::npos)
      << tiny.status().message();

  std::string newer = good;
  uint32_t version = kEngineFormatVersion + 1;
  std::memcpy(newer.data() + engine_layout::kVersionAt, &version, sizeof version);
  auto future = Engine::load(write_bytes("newer.kiln", newer));
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(future.status().message().find("newer.kiln has format version " + std::to_string(version) +
                                           ", newer than this kiln reads (up to " +
                                           std::to_string(kEngineFormatVersion) + ")"),
            std::string::npos)
      << future.status().message();

  std::string not_engine = good;
  not_engine[0] = 'X';
  auto wrong_magic = Engine::load(write_bytes("magic.kiln", not_engine));
  ASSERT_FALSE(wrong_magic.ok());
  EXPECT_NE(wrong_magic.status().message().find("magic.kiln is not a kiln engine file"), std::string::npos)
      << wrong_magic.status().message();
}

// ---- engine size --------------------------------------------------------------------------------------------

uint64_t onnx_weight_bytes(const std::string& path) {
  auto graph = import_onnx_file(path);
  EXPECT_TRUE(graph.ok()) << graph.status().message();
  uint64_t bytes = 0;
  if (graph.ok())
    for (const auto& v : graph->values())
      if (v->is_constant()) bytes += v->constant->byte_size();
  return bytes;
}

void expect_engine_sizes(const ModelInfo& m) {
  const Built& fp32 = built(m, Precision::kFP32, false);
  const Built& fp16 = built(m, Precision::kFP16, false);
  ASSERT_TRUE(fp32.engine && fp16.engine);
  uint64_t s32 = fs::file_size(fp32.path), s16 = fs::file_size(fp16.path);
  EXPECT_EQ(s32, fp32.report.engine_bytes);
  uint64_t weights = onnx_weight_bytes(m.onnx);
  double ratio = static_cast<double>(s16) / static_cast<double>(s32);
  std::printf("%s: ONNX weights %lu B, FP32 engine %lu B (%.4f x weights), FP16 engine %lu B (%.4f x FP32)\n",
              fs::path(m.onnx).filename().c_str(), static_cast<unsigned long>(weights), static_cast<unsigned long>(s32),
              static_cast<double>(s32) / static_cast<double>(weights), static_cast<unsigned long>(s16), ratio);
  EXPECT_LE(ratio, 0.525);  // f16 weights + the graph text, metadata and 64-byte padding of ~100 small tensors
  EXPECT_LE(s32, weights + weights / 100 + 24 * 1024);  // + graph text, padding, packed-weight descriptors (~0.8 KB each)
}

// Measured: ONNX weights 1,607,788 B; FP32 engine 1,639,296 B (1.0196x weights, within the 1% + 16 KiB bound by
// ~1 KB: the engine adds ~31 KB of graph text, metadata, index and 64-byte blob padding for 106 small tensors);
// FP16 engine 850,752 B = 0.5190x FP32.
TEST(EngineRuntime, EngineSizeFlowers) {
  SKIP_WITHOUT_SHARED();
  expect_engine_sizes(flowers());
}

// SqueezeNet (IR 3) lists its initializers as graph inputs; the builder treats them as weights, so the FP16
// engine holds only the f16 copies (measured: FP32 engine 1.0043x the ONNX weights, FP16 0.5023x FP32).
TEST(EngineRuntime, EngineSizeSqueezeNet) {
  SKIP_WITHOUT_SHARED();
  expect_engine_sizes(squeezenet());
}

// Removes the engines this test wrote.
class CleanupEnvironment : public testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_dir(), ec);
  }
};
[[maybe_unused]] testing::Environment* const cleanup = testing::AddGlobalTestEnvironment(new CleanupEnvironment);

}  // namespace
}  // namespace kiln
