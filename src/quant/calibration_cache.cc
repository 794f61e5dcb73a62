#include "quant/calibration_cache.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "core/float16.h"  // float_bits / bits_float

namespace kiln {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool valid_algorithm(std::string_view a) {
  if (a.empty()) return false;
  for (char c : a) {
    if (!is_word(c)) return false;
  }
  return true;
}

// "TRT-<digits>-<Algorithm>" → the algorithm, or empty if malformed.
std::string parse_header(std::string_view line) {
  if (line.substr(0, 4) != "TRT-") return {};
  size_t pos = 4;
  while (pos < line.size() && is_digit(line[pos])) ++pos;
  if (pos == 4 || pos >= line.size() || line[pos] != '-') return {};
  std::string_view algorithm = line.substr(pos + 1);
  return valid_algorithm(algorithm) ? std::string(algorithm) : std::string();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status line_error(size_t line_number, const std::string& reason, std::string_view text) {
  return Status::invalid_model("line " + std::to_string(line_number) + ": " + reason + ": '" + std::string(text) + "'");
}

std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 20;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += " and " + std::to_string(names.size() - kShown) + " more";
  return out;
}

}  // namespace

std::string scale_to_cache_hex(float scale) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%x", static_cast<unsigned>(float_bits(scale)));
  return buffer;
}

Result<float> scale_from_cache_hex(std::string_view hex) {
  if (hex.empty() || hex.size() > 8) return Status::invalid_argument("expected 1 to 8 hex digits");
  uint32_t bits = 0;
  for (char c : hex) {
    uint32_t digit;
    if (is_digit(c)) digit = static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') digit = static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') digit = static_cast<uint32_t>(c - 'A' + 10);
    else {
      std::string message = "not a hex digit: ";
      message += c;  // (built with += : GCC 12 warns falsely on "'" + std::string(1, c))
      return Status::invalid_argument(message);
    }
    bits = (bits << 4) | digit;
  }
  float scale = bits_float(bits);
  if (!std::isfinite(scale)) return Status::invalid_argument("the scale is not finite");
  if (std::signbit(scale)) return Status::invalid_argument("the scale is negative");
  return scale;
}

Result<CalibrationTable> parse_calibration_cache(std::string_view text) {
  // Split into lines (LF or CRLF); a final line without '\n' counts.
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();  // trailing blank lines
  if (lines.empty()) return Status::invalid_model("line 1: the calibration cache is empty");

  CalibrationTable table;
  table.algorithm = parse_header(lines[0]);
  if (table.algorithm.empty()) return line_error(1, "expected a header 'TRT-<version>-<Algorithm>'", lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t number = i + 1;
    size_t colon = line.rfind(':');
    if (colon == std::string_view::npos) return line_error(number, "expected '<tensor name>: <hex scale>'", line);
    std::string name(line.substr(0, colon));
    if (trim(name).empty()) return line_error(number, "empty tensor name", line);
    Result<float> scale = scale_from_cache_hex(trim(line.substr(colon + 1)));
    if (!scale.ok()) return line_error(number, scale.status().message(), line);
    if (!table.scales.emplace(std::move(name), *scale).second) return line_error(number, "duplicate tensor name", line);
  }
  return table;
}

Result<std::string> format_calibration_cache(const CalibrationTable& table, int trt_version) {
  if (!valid_algorithm(table.algorithm)) {
    return Status::invalid_argument("calibration algorithm name '" + table.algorithm + "' is not [A-Za-z0-9_]+");
  }
  if (trt_version < 0) return Status::invalid_argument("TensorRT version must not be negative");
  std::string out = "TRT-" + std::to_string(trt_version) + "-" + table.algorithm + "\n";
  for (const auto& [name, scale] : table.scales) {  // std::map: already sorted by name
    if (trim(name).empty() || name.find_first_of("\r\n") != std::string::npos) {
      return Status::invalid_argument("tensor name '" + name + "' cannot be written to a calibration cache");
    }
    if (!std::isfinite(scale) || std::signbit(scale)) {
      return Status::invalid_argument("tensor '" + name + "' has an invalid scale " + std::to_string(scale));
    }
    out += name + ": " + scale_to_cache_hex(scale) + "\n";
  }
  return out;
}

Result<CalibrationTable> read_calibration_cache(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot open calibration cache '" + path.string() + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::io_error("cannot read calibration cache '" + path.string() + "'");
  Result<CalibrationTable> table = parse_calibration_cache(buffer.str());
  if (!table.ok()) return table.status().with_context(path.string());
  return table;
}

Status write_calibration_cache(const std::filesystem::path& path, const CalibrationTable& table, int trt_version) {
  KILN_ASSIGN_OR_RETURN(std::string text, format_calibration_cache(table, trt_version));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::io_error("cannot create calibration cache '" + path.string() + "'");
  out << text;
  out.close();
  if (!out) return Status::io_error("cannot write calibration cache '" + path.string() + "'");
  return Status::ok_status();
}

Status compare_cache_with_model(const CalibrationTable& table, std::span<const std::string> expected_tensor_names,
                                std::string_view expected_algorithm) {
  std::set<std::string> expected(expected_tensor_names.begin(), expected_tensor_names.end());
  std::vector<std::string> missing, extra;
  for (const std::string& name : expected) {
    if (!table.scales.count(name)) missing.push_back(name);
  }
  for (const auto& entry : table.scales) {
    if (!expected.count(entry.first)) extra.push_back(entry.first);
  }
  std::vector<std::string> problems;
  if (!expected_algorithm.empty() && table.algorithm != expected_algorithm) {
    problems.push_back("algorithm is " + table.algorithm + ", expected " + std::string(expected_algorithm));
  }
  if (!missing.empty()) problems.push_back(std::to_string(missing.size()) + " tensor(s) missing: " + name_list(missing));
  if (!extra.empty()) problems.push_back(std::to_string(extra.size()) + " unknown tensor(s): " + name_list(extra));
  if (problems.empty()) return Status::ok_status();
  std::string message = "calibration cache does not match the model: ";
  for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
  return Status::invalid_argument(message);
}

}  // namespace kiln
