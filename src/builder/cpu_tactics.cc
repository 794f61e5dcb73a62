#include "builder/cpu_tactics.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

#include "backends/cpu/cpu_kernel.h"
#include "core/cpu_info.h"
#include "builder/timing_cache.h"

namespace kiln {

namespace {

// Timings are only comparable on the same CPU, library, instruction set and thread count.
std::string machine_key() {
  const dnnl_version_t* v = dnnl_version();
  // "timing 2": measured on reused outputs (time_tactic); entries timed on fresh buffers are not reused.
  return fmt::format("{} | oneDNN {}.{}.{} | isa {} | {} threads | timing 2", cpu_model_name(), v->major, v->minor,
                     v->patch, static_cast<int>(dnnl::get_effective_cpu_isa()), omp_get_max_threads());
}

Tensor random_tensor(DataType dtype, const Dims& dims, std::mt19937& rng) {
  Tensor t(dtype, dims);
  if (dtype == DataType::kF32) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (float& x : t.span<float>()) x = d(rng);
  } else if (dtype == DataType::kI8 || dtype == DataType::kU8) {
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.byte_size(); ++i) p[i] = static_cast<uint8_t>(rng() & 0x7f);
  }
  return t;
}

// Minimum of a few runs: the least disturbed run is the best estimate on a shared machine. A candidate whose
// first timed run is already 1.5× slower than the best so far gets no second run (it cannot win), which
// keeps a first build's timing short. The outputs are allocated once and reused by every run, as an engine's
// arena is: a fresh buffer per run (a fresh mmap for anything over a few hundred kB) would time the first touch
// of each page — for MobileNetV2's 77 MB batch-16 expansion that was ~50 ms of page faults for every candidate
// against an 8 ms kernel, so the choice was noise.
Result<double> time_tactic(const Node& node, const std::string& tactic, const std::vector<const Tensor*>& inputs,
                           double best_so_far) {
  Node copy = node;
  copy.attrs[cpu::kTacticAttr] = Attribute::of_string(tactic);
  KILN_ASSIGN_OR_RETURN(auto kernel, cpu::create_cpu_kernel(copy));
  if (!kernel) return Status::internal(fmt::format("{}: no kernel for tactic {}", node.describe(), tactic));
  std::vector<std::optional<Tensor>> kept(copy.outputs.size());
  const ref::OutputAllocator reuse = [&kept](size_t i, DataType dtype, const Dims& dims, bool zero_fill) {
    std::optional<Tensor>& t = kept.at(i);
    if (!t || t->dtype() != dtype || t->dims() != dims) t.emplace(dtype, dims);
    if (zero_fill) std::memset(t->raw(), 0, t->byte_size());
    return *t;  // shares the storage
  };
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    std::vector<Tensor> outs(copy.outputs.size());
    ref::KernelContext ctx(copy, inputs, &outs, &reuse);
    auto start = std::chrono::steady_clock::now();
    KILN_RETURN_IF_ERROR(kernel->run(ctx));
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (run > 0) best = std::min(best, ms);  // run 0 creates the primitive, packs the weights, touches the output
    if (run == 1 && best > 1.5 * best_so_far) break;
  }
  return best;
}

}  // namespace

std::string TacticReport::to_string() const {
  return fmt::format("tactics: {} nodes with a choice, {} implementations timed, {} from the timing cache, {} nodes "
                     "not on oneDNN's first choice ({:.2f} s)", nodes_with_choice, timed, from_cache, changed, seconds);
}

Status choose_cpu_tactics(Graph& graph, const std::map<std::string, Dims>& opt_dims, const std::string& timing_cache,
                          TacticReport* report) {
  auto start = std::chrono::steady_clock::now();
  TacticReport local;
  TacticReport& r = report ? *report : local;
  KILN_ASSIGN_OR_RETURN(nlohmann::json cache, read_timing_cache(timing_cache));
  nlohmann::json& entries = cache["machines"][machine_key()];
  std::mt19937 rng(1);
  for (const auto& node : graph.nodes()) {
    KILN_ASSIGN_OR_RETURN(auto kernel, cpu::create_cpu_kernel(*node));
    if (!kernel || kernel->weight_input() == 0) continue;  // only weighted ops (conv, inner product) have choices
    auto x = opt_dims.find(node->inputs[0]->name);
    if (x == opt_dims.end()) continue;
    KILN_ASSIGN_OR_RETURN(std::vector<std::string> offered, kernel->candidate_tactics(x->second));
    if (offered.size() < 2) continue;
    ++r.nodes_with_choice;
    std::string sig = node_signature(*node, opt_dims, cpu::kTacticAttr);
    nlohmann::json& times = entries[sig];
    std::vector<Tensor> storage;
    std::vector<const Tensor*> inputs;
    storage.reserve(node->inputs.size());
    for (const Value* v : node->inputs) {
      if (!v) { inputs.push_back(nullptr); continue; }
      if (v->is_constant()) { inputs.push_back(&*v->constant); continue; }
      auto d = opt_dims.find(v->name);
      if (d == opt_dims.end()) return Status::internal(fmt::format("{}: no opt shape for input '{}'", node->describe(), v->name));
      storage.push_back(random_tensor(v->type.dtype, d->second, rng));
      inputs.push_back(&storage.back());
    }
    FastestTactic fastest = choose_fastest(offered, times, [&](const std::string& tactic, double best_ms) {
      return time_tactic(*node, tactic, inputs, best_ms);
    });
    r.timed += fastest.timed;
    r.from_cache += fastest.from_cache;
    const std::string& best = fastest.tactic;
    if (best.empty()) continue;
    if (best != offered.front()) ++r.changed;
    node->attrs[cpu::kTacticAttr] = Attribute::of_string(best);
  }
  KILN_RETURN_IF_ERROR(write_timing_cache(timing_cache, cache));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {};
}

}  // namespace kiln
