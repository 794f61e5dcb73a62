#include "backends/cuda/cudnn_tactic.h"

#include <charconv>

namespace kiln::cuda {

namespace {

// Parses all of `s` as a decimal int64 (optionally negative).
std::optional<int64_t> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits `s` at every `sep`.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

}  // namespace

std::string_view conv_path_name(ConvPath p) {
  switch (p) {
    case ConvPath::kFused: return "fused";
    case ConvPath::kBias: return "bias";
    case ConvPath::kConv: return "conv";
  }
  return "conv";
}

std::string CudnnTactic::to_string() const {
  std::string s = "cudnn:";
  s += conv_path_name(path);
  s += ":e" + std::to_string(engine);
  for (size_t i = 0; i < knobs.size(); ++i) {
    s += i == 0 ? ":k" : ",k";
    s += std::to_string(knobs[i].first) + "=" + std::to_string(knobs[i].second);
  }
  return s;
}

std::optional<CudnnTactic> CudnnTactic::parse(std::string_view id) {
  std::vector<std::string_view> parts = split(id, ':');
  if (parts.size() < 3 || parts.size() > 4 || parts[0] != "cudnn") return std::nullopt;
  CudnnTactic t;
  if (parts[1] == "fused") t.path = ConvPath::kFused;
  else if (parts[1] == "bias") t.path = ConvPath::kBias;
  else if (parts[1] == "conv") t.path = ConvPath::kConv;
  else return std::nullopt;
  if (parts[2].size() < 2 || parts[2][0] != 'e') return std::nullopt;
  std::optional<int64_t> engine = parse_int(parts[2].substr(1));
  if (!engine || *engine < 0) return std::nullopt;
  t.engine = *engine;
  if (parts.size() == 4) {
    for (std::string_view knob : split(parts[3], ',')) {
      if (knob.size() < 4 || knob[0] != 'k') return std::nullopt;
      size_t eq = knob.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      std::optional<int64_t> type = parse_int(knob.substr(1, eq - 1));
      std::optional<int64_t> value = parse_int(knob.substr(eq + 1));
      if (!type || !value || *type < 0) return std::nullopt;
      t.knobs.emplace_back(*type, *value);
    }
  }
  return t;
}

}  // namespace kiln::cuda
