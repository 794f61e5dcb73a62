#include "tools/parse_flags.h"

#include <fmt/format.h>

#include <cctype>
#include <sstream>

namespace kiln::tools {

namespace {
Result<int64_t> parse_int(const std::string& s, const std::string& what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    return Status::invalid_argument(fmt::format("{}: '{}' is not a non-negative integer", what, s));
  try {
    return static_cast<int64_t>(std::stoll(s));
  } catch (...) {
    return Status::invalid_argument(fmt::format("{}: '{}' is out of range", what, s));
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) parts.push_back(item);
  return parts;
}

Result<std::map<std::string, std::vector<int64_t>>> parse_shape_list(const std::string& text, const char* flag) {
  std::map<std::string, std::vector<int64_t>> out;
  if (text.empty()) return out;
  for (const std::string& item : split(text, ',')) {
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Status::invalid_argument(fmt::format("{}: expected NAME:AxBxC, got '{}'", flag, item));
    std::vector<int64_t> dims;
    for (const std::string& d : split(item.substr(colon + 1), 'x')) {
      KILN_ASSIGN_OR_RETURN(int64_t v, parse_int(d, flag));
      dims.push_back(v);
    }
    out[item.substr(0, colon)] = dims;
  }
  return out;
}
}  // namespace

Result<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return Status::invalid_argument("empty size");
  uint64_t mult = 1;
  std::string digits = text;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    mult = last == 'K' ? 1ull << 10 : last == 'M' ? 1ull << 20 : 1ull << 30;
    digits.pop_back();
  }
  KILN_ASSIGN_OR_RETURN(int64_t v, parse_int(digits, "size"));
  return static_cast<uint64_t>(v) * mult;
}

Result<DimRange> parse_batch_range(const std::string& text) {
  std::vector<std::string> parts = split(text, ':');
  if (parts.size() != 1 && parts.size() != 3)
    return Status::invalid_argument(fmt::format("--batch: expected MIN:OPT:MAX (e.g. 1:16:32), got '{}'", text));
  std::vector<int64_t> v;
  for (const auto& p : parts) {
    KILN_ASSIGN_OR_RETURN(int64_t x, parse_int(p, "--batch"));
    v.push_back(x);
  }
  DimRange r = v.size() == 1 ? DimRange{v[0], v[0], v[0]} : DimRange{v[0], v[1], v[2]};
  if (r.min < 1 || r.min > r.opt || r.opt > r.max)
    return Status::invalid_argument(fmt::format("--batch: need 1 <= MIN <= OPT <= MAX, got '{}'", text));
  return r;
}

Result<std::map<std::string, InputProfile>> parse_shape_profiles(const std::string& min, const std::string& opt,
                                                                 const std::string& max) {
  KILN_ASSIGN_OR_RETURN(auto mins, parse_shape_list(min, "--min-shapes"));
  KILN_ASSIGN_OR_RETURN(auto opts, parse_shape_list(opt, "--opt-shapes"));
  KILN_ASSIGN_OR_RETURN(auto maxs, parse_shape_list(max, "--max-shapes"));
  std::map<std::string, InputProfile> out;
  for (const auto* list : {&mins, &opts, &maxs})
    for (const auto& [name, dims] : *list)
      if (!mins.count(name) || !opts.count(name) || !maxs.count(name))
        return Status::invalid_argument(
            fmt::format("input '{}' must be given in all of --min-shapes, --opt-shapes and --max-shapes", name));
  for (const auto& [name, dims] : mins) out[name] = {dims, opts[name], maxs[name]};
  return out;
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < (1ull << 20)) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  if (bytes < (1ull << 30)) return fmt::format("{:.2f} MiB", bytes / 1048576.0);
  return fmt::format("{:.2f} GiB", bytes / 1073741824.0);
}

}  // namespace kiln::tools
