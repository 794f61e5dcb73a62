#include "compare/timing.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "compare/metrics.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Tensor repeat_sample(const Tensor& one, int64_t n) {
  Dims dims = one.dims();
  dims[0] = n;
  Tensor out(one.dtype(), dims);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(static_cast<std::byte*>(out.raw()) + i * one.byte_size(), one.raw(), one.byte_size());
  return out;
}

Result<TimingResult> measure_timing(ComparedModel& model, const Tensor& sample, double budget_s) {
  TimingResult r;
  if (budget_s <= 0) return r;
  DimRange batch = model.batch_range();
  double half = budget_s / 2;

  r.latency_batch = std::clamp<int64_t>(1, batch.min, batch.max);
  Tensor x = repeat_sample(sample, r.latency_batch);
  KILN_RETURN_IF_ERROR(model.run_only(x));  // warm-up: page in weights, first-touch the arena
  std::vector<double> ms;
  Clock::time_point start = Clock::now();
  while (ms.size() < 3 || (seconds_since(start) < half && ms.size() < 1000)) {
    Clock::time_point t = Clock::now();
    KILN_RETURN_IF_ERROR(model.run_only(x));
    ms.push_back(seconds_since(t) * 1e3);
  }
  r.latency_runs = static_cast<int64_t>(ms.size());
  r.latency_p50_ms = percentile(ms, 50);
  r.latency_p99_ms = percentile(ms, 99);
  double sum = 0;
  for (double v : ms) sum += v;
  r.latency_mean_ms = sum / static_cast<double>(ms.size());

  r.opt_batch = std::clamp<int64_t>(std::max<int64_t>(batch.opt, 1), batch.min, batch.max);
  // A single run at the opt batch may take far longer than the budget on slow kernels; then use the
  // largest batch whose estimated run (from the latency) fits, so compare stays quick. It is reported.
  double per_sample_s = r.latency_mean_ms / 1e3 / static_cast<double>(r.latency_batch);
  int64_t fits = per_sample_s > 0 ? static_cast<int64_t>(half / per_sample_s) : r.opt_batch;
  r.throughput_batch = std::clamp<int64_t>(std::min(r.opt_batch, fits), batch.min, r.opt_batch);
  Tensor xb = repeat_sample(sample, r.throughput_batch);
  KILN_RETURN_IF_ERROR(model.run_only(xb));
  start = Clock::now();
  int64_t runs = 0;
  while (runs < 1 || seconds_since(start) < half) {
    KILN_RETURN_IF_ERROR(model.run_only(xb));
    ++runs;
  }
  double elapsed = seconds_since(start);
  r.throughput_runs = runs;
  r.samples_per_s = elapsed > 0 ? static_cast<double>(runs * r.throughput_batch) / elapsed : 0;
  r.measured = true;
  return r;
}

}  // namespace kiln
