#include "compare/labels.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include "builder/calibration_data.h"
#include "data/image.h"

namespace fs = std::filesystem;

namespace kiln {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// IDX label files start with 00 00 08 01; gzip files with 1f 8b (a text label file never does).
bool looks_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[2] = {0xff, 0xff};
  in.read(reinterpret_cast<char*>(head), 2);
  return (head[0] == 0x1f && head[1] == 0x8b) || (head[0] == 0 && head[1] == 0);
}

struct LabelLine {
  int line = 0;
  std::string path;  // empty for sample-order files
  std::string label;
};

Result<std::vector<LabelLine>> read_text_lines(const std::string& path, bool with_paths) {
  std::ifstream in(path);
  if (!in) return Status::io_error(fmt::format("cannot read labels file {}", path));
  std::vector<LabelLine> out;
  int n = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++n;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (!with_paths) {
      out.push_back({n, "", line});
      continue;
    }
    size_t cut = line.rfind(',');
    if (cut == std::string::npos) cut = line.find_last_of(" \t");
    if (cut == std::string::npos)
      return Status::invalid_argument(fmt::format(
          "{}:{}: expected 'relative/path.jpg,LABEL' or 'relative/path.jpg LABEL', got '{}'", path, n, line));
    out.push_back({n, trim(line.substr(0, cut)), trim(line.substr(cut + 1))});
  }
  return out;
}

class LabelParser {
 public:
  LabelParser(std::string file, std::vector<std::string> names, std::string names_path)
      : file_(std::move(file)), names_(std::move(names)), names_path_(std::move(names_path)) {}

  Result<int64_t> parse(const LabelLine& l) const {
    int64_t v = -1;
    auto [end, ec] = std::from_chars(l.label.data(), l.label.data() + l.label.size(), v);
    if (ec == std::errc() && end == l.label.data() + l.label.size()) {
      if (v < 0) return Status::invalid_argument(fmt::format("{}:{}: negative class index {}", file_, l.line, v));
      if (!names_.empty() && v >= static_cast<int64_t>(names_.size()))
        return Status::invalid_argument(fmt::format("{}:{}: class index {} is out of range ({} has {} classes)",
                                                    file_, l.line, v, names_path_, names_.size()));
      return v;
    }
    if (names_.empty())
      return Status::invalid_argument(fmt::format(
          "{}:{}: label '{}' is a class name: give --class-names FILE (one class per line; line k is class k)",
          file_, l.line, l.label));
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == l.label) return static_cast<int64_t>(i);
    return Status::invalid_argument(
        fmt::format("{}:{}: unknown class name '{}' (not in {})", file_, l.line, l.label, names_path_));
  }

 private:
  std::string file_;
  std::vector<std::string> names_;
  std::string names_path_;
};

Status count_mismatch(const std::string& labels_path, size_t labels, const std::string& data_path,
                      int64_t data_count) {
  return Status::invalid_argument(fmt::format("labels and data do not match: {} holds {} labels but {} holds {} "
                                              "samples (every sample needs exactly one label)",
                                              labels_path, labels, data_path, data_count));
}

// Image folders: labels are keyed by path, then put in the order list_images() yields the files.
Result<std::vector<int64_t>> folder_labels(const std::string& labels_path, const std::string& data_path,
                                           int64_t data_count, const LabelParser& parser) {
  KILN_ASSIGN_OR_RETURN(std::vector<LabelLine> lines, read_text_lines(labels_path, true));
  if (static_cast<int64_t>(lines.size()) != data_count)
    return count_mismatch(labels_path, lines.size(), data_path, data_count);
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> images, list_images(data_path));
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < images.size(); ++i)
    index[fs::path(images[i]).lexically_relative(data_path).lexically_normal().generic_string()] = i;
  std::vector<int64_t> labels(images.size(), -1);
  for (const LabelLine& l : lines) {
    fs::path p(l.path);
    std::string key = (p.is_absolute() ? p.lexically_relative(data_path) : p).lexically_normal().generic_string();
    auto it = index.find(key);
    if (it == index.end())
      return Status::invalid_argument(fmt::format("{}:{}: no image '{}' in {}", labels_path, l.line, l.path, data_path));
    if (labels[it->second] >= 0)
      return Status::invalid_argument(fmt::format("{}:{}: image '{}' is labelled twice", labels_path, l.line, l.path));
    KILN_ASSIGN_OR_RETURN(labels[it->second], parser.parse(l));
  }
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0) return Status::invalid_argument(fmt::format("{}: image {} has no label", labels_path, images[i]));
  return labels;
}

bool is_image_folder(const std::string& data_path) {
  std::error_code ec;
  if (!fs::is_directory(data_path, ec)) return false;
  auto images = list_images(data_path);
  return images.ok() && !images->empty();
}

}  // namespace

Result<std::vector<std::string>> read_class_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("class names file not found: {}", path));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) names.push_back(trim(line));
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

Result<std::vector<int64_t>> load_labels(const std::string& labels_path, const std::string& data_path,
                                         int64_t data_count, const std::string& class_names_path) {
  std::error_code ec;
  if (!fs::is_regular_file(labels_path, ec)) return Status::not_found(fmt::format("labels file not found: {}", labels_path));
  if (looks_binary(labels_path)) {
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> labels, read_idx_labels(labels_path));
    if (static_cast<int64_t>(labels.size()) != data_count)
      return count_mismatch(labels_path, labels.size(), data_path, data_count);
    return labels;
  }
  std::vector<std::string> names;
  if (!class_names_path.empty()) {
    KILN_ASSIGN_OR_RETURN(names, read_class_names(class_names_path));
  }
  LabelParser parser(labels_path, names, class_names_path);
  if (is_image_folder(data_path)) return folder_labels(labels_path, data_path, data_count, parser);
  KILN_ASSIGN_OR_RETURN(std::vector<LabelLine> lines, read_text_lines(labels_path, false));
  if (static_cast<int64_t>(lines.size()) != data_count)
    return count_mismatch(labels_path, lines.size(), data_path, data_count);
  std::vector<int64_t> labels;
  for (const LabelLine& l : lines) {
    KILN_ASSIGN_OR_RETURN(int64_t v, parser.parse(l));
    labels.push_back(v);
  }
  return labels;
}

}  // namespace kiln
