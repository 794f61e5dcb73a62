// Console and JSON forms of a CompareResult.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "compare/report.h"

namespace kiln {

namespace {

std::string mib(uint64_t bytes) { return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }
std::string pct(std::optional<double> v) { return v ? fmt::format("{:.1f}%", *v * 100) : "-"; }
std::string num(double v, const char* f = "{:.3g}") {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  return fmt::format(fmt::runtime(f), v);
}
nlohmann::json finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json stats_json(const ErrorStats& s) {
  return {{"max_abs", finite(s.max_abs)}, {"mean_abs", finite(s.mean_abs)}, {"cosine", finite(s.cosine)},
          {"snr_db", finite(s.snr_db)},   {"rel_rms", finite(s.rel_rms)},   {"count", s.count}};
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// Engines are shown by file name, or by path where two share a file name.
std::vector<std::string> display_names(const CompareResult& r) {
  std::vector<std::string> names;
  for (const EngineResult& e : r.engines) names.push_back(file_name(e.path));
  for (size_t i = 0; i < names.size(); ++i)
    if (std::count(names.begin(), names.end(), file_name(r.engines[i].path)) > 1) names[i] = r.engines[i].path;
  return names;
}

}  // namespace

std::vector<std::string> suggested_keep_fp32(const PerLayerResult& p, int count) {
  std::vector<std::string> out;
  for (const LayerError& l : p.layers) {
    if (static_cast<int>(out.size()) >= count || !(l.added > 0)) break;
    if (std::find(out.begin(), out.end(), l.node) == out.end()) out.push_back(l.node);
  }
  return out;
}

std::string format_console_report(const CompareResult& r, int top_layers) {
  std::string s = fmt::format("data: {} — {} samples evaluated; input {}; output '{}'\n", r.data_description, r.samples,
                              r.input, r.output);
  std::vector<std::string> names = display_names(r);
  size_t w = 6;
  for (const auto& n : names) w = std::max(w, n.size());
  s += fmt::format("{:<{}}  {:<5} {:>10} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10}\n", "engine", w,
                   "prec", "size", "top-1", "top-5", "agree", "max abs", "mean abs", "cosine", "SNR dB", "p50 ms",
                   "p99 ms", "samples/s");
  for (size_t i = 0; i < r.engines.size(); ++i) {
    const EngineResult& e = r.engines[i];
    const ErrorStats& st = e.output_errors.empty() ? ErrorStats{} : e.output_errors[0].stats;
    bool ref = i == 0;
    const TimingResult& t = e.timing;
    s += fmt::format("{:<{}}  {:<5} {:>10} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10}\n",
                     names[i], w, e.precision, mib(e.file_bytes), pct(e.top1), pct(e.top5),
                     ref ? "ref" : pct(e.top1_agreement), ref ? "-" : num(st.max_abs), ref ? "-" : num(st.mean_abs),
                     ref ? "-" : num(st.cosine, "{:.6f}"), ref ? "-" : num(st.snr_db, "{:.1f}"),
                     t.measured ? fmt::format("{:.2f}", t.latency_p50_ms) : "-",
                     t.measured ? fmt::format("{:.2f}", t.latency_p99_ms) : "-",
                     !t.measured ? "-"
                     : t.throughput_batch == t.opt_batch
                         ? fmt::format("{:.1f}", t.samples_per_s)
                         : fmt::format("{:.1f}@{}", t.samples_per_s, t.throughput_batch));
  }
  if (!r.engines.empty() && r.engines[0].timing.measured)
    s += fmt::format("latency at batch {}; throughput at each engine's profile opt batch ({}; @B: a smaller batch "
                     "B fitted the time budget); errors and agreement vs the first engine on output '{}'\n",
                     r.engines[0].timing.latency_batch, r.engines[0].timing.opt_batch, r.output);
  if (r.per_layer) {
    const PerLayerResult& p = *r.per_layer;
    s += fmt::format("\nper-layer error of {} vs {} ({} samples, {} of {} values matched)\n", file_name(p.candidate),
                     file_name(p.reference), p.samples, p.layers.size(), p.reference_values);
    s += fmt::format("error = {}\n", p.metric);
    s += fmt::format("{:>4}  {:>9} {:>9} {:>9}  {}\n", "rank", "added", "error", "cosine", "node (op) -> value");
    for (size_t i = 0; i < p.layers.size() && static_cast<int>(i) < top_layers; ++i) {
      const LayerError& l = p.layers[i];
      s += fmt::format("{:>4}  {:>9} {:>9} {:>9}  {} ({}) -> {} [{}]\n", i + 1, num(l.added, "{:.4f}"),
                       num(l.error, "{:.4f}"), num(l.stats.cosine, "{:.5f}"), l.node, l.op_type, l.value,
                       l.candidate_dtype);
    }
    std::vector<std::string> keep = suggested_keep_fp32(p);
    if (!keep.empty())
      s += fmt::format("to keep the worst layers in float, rebuild with: kiln build ... --keep-fp32 {}\n",
                       fmt::join(keep, ","));
  }
  return s;
}

nlohmann::json compare_result_to_json(const CompareResult& r) {
  nlohmann::json j = {{"data", r.data_description}, {"samples", r.samples}, {"has_labels", r.has_labels},
                      {"input", r.input}, {"output", r.output}, {"engines", nlohmann::json::array()}};
  std::vector<std::string> names = display_names(r);
  for (const EngineResult& e : r.engines) {
    nlohmann::json outs = nlohmann::json::array();
    for (const OutputError& o : e.output_errors) outs.push_back({{"name", o.name}, {"error", stats_json(o.stats)}});
    const TimingResult& t = e.timing;
    nlohmann::json timing = nullptr;
    if (t.measured)
      timing = {{"latency_batch", t.latency_batch},     {"latency_runs", t.latency_runs},
                {"latency_p50_ms", t.latency_p50_ms},   {"latency_p99_ms", t.latency_p99_ms},
                {"latency_mean_ms", t.latency_mean_ms}, {"throughput_batch", t.throughput_batch}, {"opt_batch", t.opt_batch},
                {"throughput_runs", t.throughput_runs}, {"samples_per_s", t.samples_per_s}};
    j["engines"].push_back({{"path", e.path},
                            {"name", names[j["engines"].size()]},
                            {"precision", e.precision},
                            {"file_bytes", e.file_bytes},
                            {"samples", e.samples},
                            {"eval_batch", e.eval_batch},
                            {"top1", e.top1 ? nlohmann::json(*e.top1) : nlohmann::json(nullptr)},
                            {"top5", e.top5 ? nlohmann::json(*e.top5) : nlohmann::json(nullptr)},
                            {"top1_agreement", e.top1_agreement},
                            {"outputs", outs},
                            {"timing", timing}});
  }
  if (r.per_layer) {
    const PerLayerResult& p = *r.per_layer;
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerError& l : p.layers)
      layers.push_back({{"value", l.value}, {"candidate_value", l.candidate_value},
                        {"candidate_dtype", l.candidate_dtype}, {"node", l.node}, {"op_type", l.op_type},
                        {"position", l.position}, {"error", finite(l.error)}, {"input_error", finite(l.input_error)},
                        {"added", finite(l.added)}, {"stats", stats_json(l.stats)}});
    j["per_layer"] = {{"reference", p.reference}, {"candidate", p.candidate}, {"samples", p.samples},
                      {"reference_values", p.reference_values}, {"metric", p.metric}, {"layers", layers},
                      {"suggested_keep_fp32", suggested_keep_fp32(p)}};
  }
  return j;
}

namespace {
Status write_text(const std::string& path, const std::string& text, const char* what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::io_error(fmt::format("cannot write {} {}", what, path));
  out << text;
  out.close();
  if (!out) return Status::io_error(fmt::format("error writing {} {}", what, path));
  return {};
}
}  // namespace

Status write_json_report(const CompareResult& r, const std::string& path) {
  return write_text(path, compare_result_to_json(r).dump(2) + "\n", "JSON report");
}

Status write_html_report(const CompareResult& r, const std::string& path) {
  return write_text(path, render_html_report(r), "HTML report");
}

}  // namespace kiln
