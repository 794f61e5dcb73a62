#include "builder/tactic_sources.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace kiln {

namespace {

// Each source's name on the command line and the prefix of its tactic ids.
constexpr std::array<std::pair<const char*, const char*>, 3> kSources{
    {{"cudnn", "cudnn:"}, {"cublaslt", "cublaslt:"}, {"kiln", "cuda:"}}};

}  // namespace

Result<std::vector<std::string>> tactic_source_prefixes(const std::vector<std::string>& sources) {
  std::vector<std::string> prefixes;
  for (const std::string& name : sources) {
    auto it = std::find_if(kSources.begin(), kSources.end(), [&](const auto& s) { return name == s.first; });
    if (it == kSources.end())
      return Status::invalid_argument(
          fmt::format("--tactic-sources: unknown source '{}' (expected cudnn, cublaslt or kiln, comma-separated)", name));
    if (std::find(prefixes.begin(), prefixes.end(), it->second) != prefixes.end())
      return Status::invalid_argument(fmt::format("--tactic-sources: '{}' is given twice", name));
    prefixes.push_back(it->second);
  }
  return prefixes;
}

std::vector<std::string> tactics_from_sources(const std::vector<std::string>& ids,
                                              const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return ids;
  std::vector<std::string> kept;
  for (const std::string& id : ids)
    if (std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return id.starts_with(p); }))
      kept.push_back(id);
  return kept;
}

}  // namespace kiln
