// `kiln bench ENGINE.kiln [--batch 1,16,32] [--duration 3] [--warmup 0.2] [--threads N] [--json FILE] [--device D]
//  [--profile] [--iterations-min 10]`: a trtexec-style benchmark. For each batch size it binds random inputs,
// warms up, times individual run() calls and prints throughput and latency percentiles; --profile adds a
// per-layer breakdown. Uses only the public API (kiln/kiln.h), like a deployed application would.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "core/cpu_info.h"
#include "core/file_util.h"
#include "core/float16.h"
#include "kiln/kiln.h"
#include "tools/commands.h"

namespace kiln::tools {

namespace {

using Clock = std::chrono::steady_clock;

// The profiled runs per batch: an odd count so the median is a measured value, few enough to stay cheap on
// slow kernels.
constexpr int kProfileRuns = 5;

struct BenchArgs {
  std::string engine;
  std::string batch;  // "1,16,32"; empty: the engine's opt batch and 1
  double duration_s = 3;
  double warmup_s = 0.2;
  std::optional<int> threads;  // unset: leave the runtime's default (all cores)
  std::string json;
  bool profile = false;
  int iterations_min = 10;
  std::string device;  // empty: whatever the engine was built for; else it must match
};

struct Latency {
  double min = 0, mean = 0, median = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;  // milliseconds
};

struct LayerRow {
  std::string node, op_type, kernel;
  double median_ms = 0;
  double percent = 0;  // of the sum of all layers' medians
};

struct OpTypeRow {
  std::string op_type;
  int layers = 0;
  double ms = 0;
  double percent = 0;
};

struct BatchResult {
  int64_t batch = 0;
  int64_t runs = 0;
  double seconds = 0;     // wall time of the timed runs
  double throughput = 0;  // samples per second
  Latency latency;
  std::vector<LayerRow> layers;  // empty without --profile
  std::vector<OpTypeRow> op_types;
  // GPU engines: median phase times of the timed runs (trtexec's H2D / GPU compute / D2H), and the
  // throughput of the compute alone (what a pipeline that keeps data on the GPU gets).
  bool gpu = false;
  double h2d_ms = 0, compute_ms = 0, d2h_ms = 0, compute_throughput = 0;
};

struct RunInfo {
  std::string engine, precision, backend, cpu, date;
  int threads = 0;
};

// ---- flags ----

// "1,16,32" → {1, 16, 32}, each a positive integer.
Result<std::vector<int64_t>> parse_batch_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
    int64_t v = 0;
    if (digits) {
      try {
        v = std::stoll(item);
      } catch (...) {
        return Status::invalid_argument(fmt::format("--batch: '{}' is out of range", item));
      }
    }
    if (!digits || v < 1)
      return Status::invalid_argument(
          fmt::format("--batch: '{}' is not a positive integer (expected a list such as 1,16,32)", item));
    out.push_back(v);
  }
  if (out.empty() || text.back() == ',')
    return Status::invalid_argument(fmt::format("--batch: expected a list such as 1,16,32, got '{}'", text));
  return out;
}

// CLI11 checks that the values are numbers; their ranges are checked here so that the error is ours (exit 1).
Status check_numbers(const BenchArgs& args) {
  // inf would never stop, and NaN fails every comparison: the conditions are written to reject both.
  if (!(args.duration_s > 0) || !std::isfinite(args.duration_s))
    return Status::invalid_argument(fmt::format("--duration must be a number of seconds > 0, got {}", args.duration_s));
  if (!(args.warmup_s >= 0) || !std::isfinite(args.warmup_s))
    return Status::invalid_argument(fmt::format("--warmup must be a number of seconds >= 0, got {}", args.warmup_s));
  if (args.iterations_min < 1)
    return Status::invalid_argument(fmt::format("--iterations-min must be >= 1, got {}", args.iterations_min));
  if (args.threads && *args.threads < 1)
    return Status::invalid_argument(fmt::format("--threads must be >= 1, got {}", *args.threads));
  return {};
}

// ---- batch sizes and inputs ----

bool has_dynamic_batch(const TensorInfo& in) { return !in.dims.empty() && in.dims[0].min != in.dims[0].max; }

// The engine's batch dimension: dimension 0 of the inputs where it is dynamic. An engine with none of those
// has a fixed batch, that of its first input (or 1 when it has no batched input).
DimRange batch_range(const Engine& engine) {
  for (const TensorInfo& in : engine.inputs())
    if (has_dynamic_batch(in)) return in.dims[0];
  for (const TensorInfo& in : engine.inputs())
    if (!in.dims.empty()) return in.dims[0];
  return DimRange{1, 1, 1};
}

// trtexec's habit: the size the engine was tuned for, and 1 (the latency case).
std::vector<int64_t> default_batches(const Engine& engine) {
  DimRange r = batch_range(engine);
  std::set<int64_t> sizes{r.opt};
  if (r.min <= 1) sizes.insert(1);
  return {sizes.begin(), sizes.end()};
}

// Refuses a batch the engine cannot run, before any timing starts, naming what it would accept.
Status check_batch(const std::string& path, const Engine& engine, int64_t batch) {
  bool any_dynamic = false;
  for (const TensorInfo& in : engine.inputs()) {
    if (!has_dynamic_batch(in)) continue;
    any_dynamic = true;
    const DimRange& r = in.dims[0];
    if (batch < r.min || batch > r.max)
      return Status::invalid_argument(fmt::format(
          "--batch {} is outside the allowed range of {}: input '{}' accepts a batch (dimension 0) of {} to {} "
          "(rebuild with kiln build --batch MIN:OPT:MAX for other sizes)",
          batch, path, in.name, r.min, r.max));
  }
  if (any_dynamic) return {};  // inputs with a fixed first dimension keep it (they are not batched)
  for (const TensorInfo& in : engine.inputs()) {
    if (in.dims.empty() || in.dims[0].min == batch) continue;
    return Status::invalid_argument(fmt::format(
        "--batch {} is not allowed for {}: input '{}' has a fixed batch (dimension 0) of {}; the allowed range "
        "is {} to {} (rebuild with kiln build --dynamic-batch for other sizes)",
        batch, path, in.name, in.dims[0].min, in.dims[0].min, in.dims[0].min));
  }
  return {};
}

// The profile's opt shape with the batch put into a dynamic first dimension.
std::vector<int64_t> bench_shape(const TensorInfo& in, int64_t batch) {
  std::vector<int64_t> dims;
  for (const DimRange& d : in.dims) dims.push_back(d.opt);
  if (has_dynamic_batch(in)) dims[0] = batch;
  return dims;
}

// Random data for one input: floats uniform in [0, 1), 8-bit integers over their range, other types
// (indices, masks, lengths) zeros, which are always valid. Seeded per input so runs are reproducible.
Result<std::vector<uint8_t>> random_input(const TensorInfo& in, const std::vector<int64_t>& dims, uint32_t seed) {
  if (in.dtype == DataType::kString || dtype_size(in.dtype) == 0)
    return Status::unsupported(fmt::format("input '{}' has type {}, which kiln bench cannot generate", in.name,
                                           dtype_name(in.dtype)));
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  std::vector<uint8_t> bytes(static_cast<size_t>(count) * dtype_size(in.dtype), 0);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  auto fill = [&](auto* data, auto make) {
    for (int64_t i = 0; i < count; ++i) data[i] = make();
  };
  switch (in.dtype) {
    case DataType::kF32: fill(reinterpret_cast<float*>(bytes.data()), [&] { return unit(rng); }); break;
    case DataType::kF64: fill(reinterpret_cast<double*>(bytes.data()), [&] { return double{unit(rng)}; }); break;
    case DataType::kF16: fill(reinterpret_cast<uint16_t*>(bytes.data()), [&] { return float_to_half_bits(unit(rng)); }); break;
    case DataType::kBF16: fill(reinterpret_cast<uint16_t*>(bytes.data()), [&] { return float_to_bf16_bits(unit(rng)); }); break;
    case DataType::kI8: {
      std::uniform_int_distribution<int> d(-128, 127);
      fill(reinterpret_cast<int8_t*>(bytes.data()), [&] { return static_cast<int8_t>(d(rng)); });
      break;
    }
    case DataType::kU8: {
      std::uniform_int_distribution<int> d(0, 255);
      fill(reinterpret_cast<uint8_t*>(bytes.data()), [&] { return static_cast<uint8_t>(d(rng)); });
      break;
    }
    default: break;  // zeros
  }
  return bytes;
}

// ---- statistics ----

// Nearest-rank percentile of sorted values: the smallest value with at least p% of the values at or below it.
double percentile(const std::vector<double>& sorted, int p) {
  size_t n = sorted.size();
  size_t rank = (static_cast<size_t>(p) * n + 99) / 100;  // ceil(p * n / 100) in integers: no rounding surprises
  return sorted[std::clamp<size_t>(rank, 1, n) - 1];
}

double median(const std::vector<double>& sorted) {
  size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

Latency summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Latency l;
  l.min = ms.front();
  l.max = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  l.mean = sum / static_cast<double>(ms.size());
  l.median = median(ms);
  l.p90 = percentile(ms, 90);
  l.p95 = percentile(ms, 95);
  l.p99 = percentile(ms, 99);
  return l;
}

// ---- measuring ----

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Each run's wall latency, and on a GPU its phases, in ms.
struct RunTimes {
  std::vector<double> wall, h2d, compute, d2h;
};

// Runs until `seconds` have passed and at least `min_runs` ran.
Result<RunTimes> timed_runs(ExecutionContext& context, double seconds, int64_t min_runs) {
  RunTimes t;
  Clock::time_point start = Clock::now();
  while (static_cast<int64_t>(t.wall.size()) < min_runs || seconds_since(start) < seconds) {
    Clock::time_point t0 = Clock::now();
    KILN_RETURN_IF_ERROR(context.run());
    t.wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (auto gpu = context.last_gpu_times()) {
      t.h2d.push_back(gpu->h2d_ms);
      t.compute.push_back(gpu->compute_ms);
      t.d2h.push_back(gpu->d2h_ms);
    }
  }
  return t;
}

// Median time per layer over a few profiled runs. Profiling adds a clock read per node, so it is kept apart
// from the timed runs whose latencies are reported.
Status profile_layers(ExecutionContext& context, BatchResult& result) {
  context.enable_profiling(true);
  std::vector<std::vector<LayerTime>> runs;
  for (int i = 0; i < kProfileRuns; ++i) {
    Status s = context.run();
    if (!s.ok()) {
      context.enable_profiling(false);
      return s;
    }
    runs.push_back(context.last_profile());
  }
  context.enable_profiling(false);
  const std::vector<LayerTime>& first = runs.front();
  for (const auto& r : runs)
    if (r.size() != first.size()) return Status::internal("the per-layer profile differs between runs");

  double total = 0;
  std::map<std::string, OpTypeRow> by_type;
  for (size_t i = 0; i < first.size(); ++i) {
    std::vector<double> ms;
    for (const auto& r : runs) ms.push_back(r[i].seconds * 1e3);
    std::sort(ms.begin(), ms.end());
    LayerRow row{first[i].node, first[i].op_type, first[i].kernel, median(ms), 0};
    total += row.median_ms;
    OpTypeRow& t = by_type[row.op_type];
    t.op_type = row.op_type;
    t.layers += 1;
    t.ms += row.median_ms;
    result.layers.push_back(std::move(row));
  }
  for (auto& row : result.layers) row.percent = total > 0 ? 100 * row.median_ms / total : 0;
  for (auto& [name, t] : by_type) {
    t.percent = total > 0 ? 100 * t.ms / total : 0;
    result.op_types.push_back(t);
  }
  std::stable_sort(result.layers.begin(), result.layers.end(),
                   [](const LayerRow& a, const LayerRow& b) { return a.median_ms > b.median_ms; });
  std::stable_sort(result.op_types.begin(), result.op_types.end(),
                   [](const OpTypeRow& a, const OpTypeRow& b) { return a.ms > b.ms; });
  return {};
}

Result<BatchResult> bench_batch(const Engine& engine, const BenchArgs& args, int64_t batch) {
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<ExecutionContext> context, engine.create_context());
  // The buffers must outlive every run(): set_input keeps only a view.
  std::vector<std::vector<uint8_t>> buffers;
  buffers.reserve(engine.inputs().size());
  uint32_t seed = 1234;
  for (const TensorInfo& in : engine.inputs()) {
    std::vector<int64_t> dims = bench_shape(in, batch);
    KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> data, random_input(in, dims, seed++));
    buffers.push_back(std::move(data));
    KILN_RETURN_IF_ERROR(context->set_input(in.name, TensorView{in.dtype, dims, buffers.back().data()}));
  }

  // Warm-up: the first run touches the arena pages and caches; always at least one run.
  KILN_RETURN_IF_ERROR(timed_runs(*context, args.warmup_s, 1).status());

  BatchResult result;
  result.batch = batch;
  Clock::time_point start = Clock::now();
  KILN_ASSIGN_OR_RETURN(RunTimes times, timed_runs(*context, args.duration_s, args.iterations_min));
  result.seconds = seconds_since(start);
  result.runs = static_cast<int64_t>(times.wall.size());
  result.throughput = static_cast<double>(batch * result.runs) / result.seconds;
  result.latency = summarize(std::move(times.wall));
  if (!times.compute.empty()) {
    result.gpu = true;
    result.h2d_ms = summarize(std::move(times.h2d)).median;
    result.compute_ms = summarize(std::move(times.compute)).median;
    result.d2h_ms = summarize(std::move(times.d2h)).median;
    result.compute_throughput = result.compute_ms > 0 ? 1e3 * static_cast<double>(batch) / result.compute_ms : 0;
  }
  if (args.profile) KILN_RETURN_IF_ERROR(profile_layers(*context, result));
  return result;
}

// ---- the header ----

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---- output ----

void print_header(const RunInfo& info, const BenchArgs& args) {
  std::cout << fmt::format("engine     {}\n", info.engine) << fmt::format("precision  {}\n", info.precision)
            << fmt::format("backend    {}\n", info.backend) << fmt::format("threads    {}\n", info.threads)
            << fmt::format("cpu        {}\n", info.cpu) << fmt::format("date       {}\n", info.date)
            << fmt::format("timing     {} s per batch (at least {} runs) after {} s of warm-up\n\n", args.duration_s,
                           args.iterations_min, args.warmup_s);
}

void print_results(const std::vector<BatchResult>& results) {
  std::cout << fmt::format("{:>6} {:>7} {:>13} | {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "batch", "runs",
                           "samples/s", "min", "mean", "median", "p90", "p95", "p99", "max");
  for (const BatchResult& r : results) {
    const Latency& l = r.latency;
    std::cout << fmt::format("{:>6} {:>7} {:>13.1f} | {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9.3f}\n",
                             r.batch, r.runs, r.throughput, l.min, l.mean, l.median, l.p90, l.p95, l.p99, l.max);
  }
  std::cout << "(latencies in ms per run of the whole batch)\n";
  if (results.empty() || !results.front().gpu) return;
  std::cout << fmt::format("\nGPU phases (medians, CUDA events):\n{:>6} {:>10} {:>12} {:>10} | {:>18}\n", "batch",
                           "H2D ms", "compute ms", "D2H ms", "compute samples/s");
  for (const BatchResult& r : results)
    std::cout << fmt::format("{:>6} {:>10.4f} {:>12.4f} {:>10.4f} | {:>18.1f}\n", r.batch, r.h2d_ms, r.compute_ms,
                             r.d2h_ms, r.compute_throughput);
}

void print_profile(const BatchResult& r) {
  size_t node_w = 4, op_w = 7, kernel_w = 6;
  for (const LayerRow& row : r.layers) {
    node_w = std::max(node_w, row.node.size());
    op_w = std::max(op_w, row.op_type.size());
    kernel_w = std::max(kernel_w, row.kernel.size());
  }
  std::cout << fmt::format("\nper-layer profile, batch {} (median of {} profiled runs):\n", r.batch, kProfileRuns);
  std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10}  {:>6}\n", "node", node_w, "op_type", op_w, "kernel",
                           kernel_w, "median ms", "%");
  for (const LayerRow& row : r.layers)
    std::cout << fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>10.4f}  {:>5.1f}%\n", row.node, node_w, row.op_type, op_w,
                             row.kernel, kernel_w, row.median_ms, row.percent);
  std::cout << fmt::format("\nby op type, batch {}:\n{:<{}}  {:>6}  {:>10}  {:>6}\n", r.batch, "op_type", op_w,
                           "layers", "ms", "%");
  double total_ms = 0;
  for (const OpTypeRow& t : r.op_types) {
    std::cout << fmt::format("{:<{}}  {:>6}  {:>10.4f}  {:>5.1f}%\n", t.op_type, op_w, t.layers, t.ms, t.percent);
    total_ms += t.ms;
  }
  // The layers' sum is below the run's latency by the runtime's own work between nodes.
  std::cout << fmt::format("{:<{}}  {:>6}  {:>10.4f}  (run median {:.4f} ms unprofiled)\n", "total", op_w,
                           r.layers.size(), total_ms, r.latency.median);
}

nlohmann::ordered_json to_json(const RunInfo& info, const std::vector<BatchResult>& results) {
  nlohmann::ordered_json out = {{"engine", info.engine}, {"precision", info.precision}, {"backend", info.backend},
                        {"threads", info.threads}, {"cpu", info.cpu},           {"date", info.date}};
  out["results"] = nlohmann::ordered_json::array();
  for (const BatchResult& r : results) {
    const Latency& l = r.latency;
    nlohmann::ordered_json j = {{"batch", r.batch},
                        {"runs", r.runs},
                        {"seconds", r.seconds},
                        {"throughput", r.throughput},
                        {"latency_ms",
                         {{"min", l.min}, {"mean", l.mean}, {"median", l.median}, {"p90", l.p90}, {"p95", l.p95},
                          {"p99", l.p99}, {"max", l.max}}}};
    if (r.gpu)
      j["gpu"] = {{"h2d_ms", r.h2d_ms}, {"compute_ms", r.compute_ms}, {"d2h_ms", r.d2h_ms},
                  {"compute_throughput", r.compute_throughput}};
    if (!r.layers.empty()) {
      j["profile_runs"] = kProfileRuns;
      for (const LayerRow& row : r.layers)
        j["profile"].push_back({{"node", row.node}, {"op_type", row.op_type}, {"kernel", row.kernel},
                                {"median_ms", row.median_ms}, {"percent", row.percent}});
      for (const OpTypeRow& t : r.op_types)
        j["profile_by_op_type"].push_back(
            {{"op_type", t.op_type}, {"layers", t.layers}, {"ms", t.ms}, {"percent", t.percent}});
    }
    out["results"].push_back(std::move(j));
  }
  return out;
}

// Refuses a --json path that is the engine itself: a typo there must not destroy the engine.
Status check_json_path(const std::string& json_path, const std::string& engine_path) {
  std::error_code ec;
  if (std::filesystem::equivalent(json_path, engine_path, ec))
    return Status::invalid_argument(fmt::format("--json {} is the engine file; refusing to overwrite it", json_path));
  return {};
}

Status run_bench(const BenchArgs& args) {
  KILN_RETURN_IF_ERROR(check_numbers(args));
  if (!args.json.empty()) KILN_RETURN_IF_ERROR(check_json_path(args.json, args.engine));
  std::vector<int64_t> batches;
  if (!args.batch.empty()) {
    KILN_ASSIGN_OR_RETURN(batches, parse_batch_list(args.batch));
  }
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const Engine> engine, Engine::load(args.engine));
  if (!args.device.empty() && args.device != engine->backend())
    return Status::invalid_argument(fmt::format("{} is a {} engine, not {} (build it with --device {})", args.engine,
                                                engine->backend(), args.device, args.device));
  if (batches.empty()) batches = default_batches(*engine);
  for (int64_t b : batches) KILN_RETURN_IF_ERROR(check_batch(args.engine, *engine, b));

  if (args.threads) set_cpu_threads(*args.threads);
  RunInfo info{args.engine, std::string(precision_name(engine->precision())), engine->backend(), cpu_model_name(),
               utc_now_iso8601(), cpu_threads()};
  print_header(info, args);

  std::vector<BatchResult> results;
  for (int64_t b : batches) {
    std::cerr << fmt::format("  batch {}: warming up {} s, timing {} s\n", b, args.warmup_s, args.duration_s);
    auto r = bench_batch(*engine, args, b);
    if (!r.ok()) return r.status().with_context(fmt::format("batch {}", b));
    results.push_back(std::move(*r));
  }
  print_results(results);
  if (args.profile)
    for (const BatchResult& r : results) print_profile(r);
  if (!args.json.empty()) {
    KILN_RETURN_IF_ERROR(write_file_atomic(args.json, to_json(info, results).dump(2) + "\n"));
    std::cout << "wrote " << args.json << "\n";
  }
  return {};
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Benchmark an engine (.kiln): throughput, latency percentiles, per-layer profile");
  cmd->add_option("engine", args->engine, "Engine file (.kiln)")->required();
  cmd->add_option("--batch", args->batch, "Batch sizes, comma-separated (default: the engine's opt batch and 1)");
  cmd->add_option("--duration", args->duration_s, "Seconds of timed runs per batch size")->capture_default_str();
  cmd->add_option("--warmup", args->warmup_s, "Seconds of untimed runs before timing (at least one run)")
      ->capture_default_str();
  cmd->add_option("--iterations-min", args->iterations_min, "Timed runs per batch size at the least, however long they take")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads for the kernels (default: all cores)");
  cmd->add_flag("--profile", args->profile, "Also print a per-layer profile of each batch size");
  cmd->add_option("--device", args->device, "cpu or cuda: refuse an engine built for the other (default: any)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--json", args->json, "Write the results as JSON");
  cmd->callback([args, &exit_code] {
    Status s = run_bench(*args);
    if (!s.ok()) {
      std::cerr << "kiln bench: " << s.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace kiln::tools
