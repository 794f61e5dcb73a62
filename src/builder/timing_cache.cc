#include "builder/timing_cache.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/file_util.h"

namespace kiln {

namespace {

constexpr const char* kFormat = "kiln-timing-cache-1";

std::string attribute_text(const Attribute& a) {
  switch (a.type) {
    case AttrType::kInt: return std::to_string(a.i);
    case AttrType::kFloat: return fmt::format("{}", a.f);
    case AttrType::kString: return a.s;
    case AttrType::kInts: return fmt::format("[{}]", fmt::join(a.ints, ","));
    case AttrType::kFloats: return fmt::format("[{}]", fmt::join(a.floats, ","));
    case AttrType::kStrings: return fmt::format("[{}]", fmt::join(a.strings, ","));
    default: return "?";
  }
}

}  // namespace

Result<nlohmann::json> read_timing_cache(const std::string& path) {
  nlohmann::json cache = nlohmann::json::object();
  std::error_code ec;
  if (!path.empty() && std::filesystem::exists(path, ec)) {
    KILN_ASSIGN_OR_RETURN(std::string text, read_file(path, "timing cache"));
    cache = nlohmann::json::parse(text, nullptr, false);
    if (cache.is_discarded() || !cache.is_object() || cache.value("format", "") != kFormat)
      return Status::invalid_argument(fmt::format("timing cache {} is not a kiln timing cache (expected JSON with "
                                                  "\"format\": \"{}\"); give another path", path, kFormat));
  }
  cache["format"] = kFormat;
  return cache;
}

Status write_timing_cache(const std::string& path, const nlohmann::json& cache) {
  if (path.empty()) return {};
  return write_file_atomic(path, cache.dump(1));
}

std::string node_signature(const Node& node, const std::map<std::string, Dims>& opt_dims, std::string_view skip_attr) {
  std::string s = node.domain + "." + node.op_type + "(";
  for (const Value* v : node.inputs) {
    if (!v) { s += "_,"; continue; }
    auto it = opt_dims.find(v->name);
    Dims d = v->is_constant() ? v->constant->dims() : it != opt_dims.end() ? it->second : Dims{};
    s += fmt::format("{}{},", dtype_name(v->is_constant() ? v->constant->dtype() : v->type.dtype), dims_to_string(d));
  }
  s += ")";
  for (const auto& [name, a] : node.attrs)
    if (name != skip_attr) s += " " + name + "=" + attribute_text(a);
  return s;
}

FastestTactic choose_fastest(const std::vector<std::string>& offered, nlohmann::json& times,
                             const std::function<Result<double>(const std::string& tactic, double best_ms)>& time) {
  FastestTactic f;
  double best = 1e30;
  for (const std::string& tactic : offered) {
    double ms;
    if (times.contains(tactic)) {
      ms = times[tactic].get<double>();
      ++f.from_cache;
    } else {
      Result<double> timed = time(tactic, best);
      if (!timed.ok()) continue;
      ms = *timed;
      times[tactic] = ms;
      ++f.timed;
    }
    if (ms < best) best = ms, f.tactic = tactic;
  }
  f.ms = f.tactic.empty() ? 0 : best;
  return f;
}

}  // namespace kiln
