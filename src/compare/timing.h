// Latency and throughput of one compared model, within a time budget so a whole compare stays quick.
//
// Latency: batch 1 (or the profile's min batch when 1 is not allowed), one untimed warm-up run, then timed
// runs until half the budget is spent (at least 3, at most 1000): p50 / p99 over the runs.
// Throughput: the profile's opt batch (ONNX models: --batch), one warm-up, then timed runs until the other
// half is spent (at least 1): samples / second over the timed runs. When one opt-batch run would take longer
// than that half (estimated from the latency), the largest batch that fits is timed instead and reported.
#pragma once

#include <cstdint>

#include "compare/compared_model.h"

namespace kiln {

struct TimingResult {
  bool measured = false;
  int64_t latency_batch = 1;
  int64_t latency_runs = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_mean_ms = 0;
  int64_t opt_batch = 0;         ///< the profile's opt batch
  int64_t throughput_batch = 0;  ///< the batch timed: opt_batch, or less when one run would overrun the budget
  int64_t throughput_runs = 0;
  double samples_per_s = 0;
};

/// Times `model` on copies of `sample` (a batch of one). budget_s <= 0 skips timing (measured = false).
Result<TimingResult> measure_timing(ComparedModel& model, const Tensor& sample, double budget_s);

/// [1, ...] → [n, ...], the one sample repeated.
Tensor repeat_sample(const Tensor& one, int64_t n);

}  // namespace kiln
