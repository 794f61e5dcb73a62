// Runs the official ONNX backend tests (Debian's libonnx-testdata) through kiln's importer and reference
// backend, scored like onnx.backend.test: rtol 1e-3, atol 1e-7 for floats, exact for everything else.
//
//   onnx_backend_tests --data DIR --suite node [--expected-failures FILE] [--filter REGEX] [--verbose]
//
// Every failing test must be listed in the expected-failures file with its reason; the run fails on an
// unexpected failure and also on an unexpected pass (so the list only shrinks). `--write-failures FILE`
// writes the current failures in that file's format, for review.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "runtime/graph_runner.h"
#include "tests/onnx_backend/compare_tensors.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

struct Options {
  std::string data_dir;
  std::vector<std::string> suites;
  std::string expected_failures;
  std::string filter;
  std::string write_failures;
  bool verbose = false;
};

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) files.push_back(e.path());
  // input_10.pb sorts after input_9.pb
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    auto num = [&](const fs::path& p) {
      std::string s = p.stem().string().substr(prefix.size());
      return s.empty() ? 0 : std::stoi(s);
    };
    return num(a) < num(b);
  });
  return files;
}

// ONNX 1.12's test data stores bfloat16 tensors as UINT16 bit patterns (numpy has no bfloat16).
Tensor as_bfloat16_if_declared(const Tensor& t, DataType declared) {
  if (t.dtype() != DataType::kU16 || declared != DataType::kBF16) return t;
  Tensor out(DataType::kBF16, t.dims());
  std::memcpy(out.raw(), t.raw(), t.byte_size());
  return out;
}

// Runs one test folder; returns an empty string on success, else the reason.
std::string run_test(const fs::path& dir) {
  auto graph = import_onnx_file((dir / "model.onnx").string());
  if (!graph.ok()) return "import: " + graph.status().message();
  auto runner = GraphRunner::create(*graph);
  if (!runner.ok()) return "create: " + runner.status().message();
  std::vector<const Value*> real_inputs;
  for (const Value* v : graph->inputs)
    if (!v->is_constant()) real_inputs.push_back(v);
  int sets = 0;
  for (const auto& set_dir : sorted_files(dir, "test_data_set_")) {
    ++sets;
    std::map<std::string, Tensor, std::less<>> inputs;
    auto input_files = sorted_files(set_dir, "input_");
    for (size_t i = 0; i < input_files.size(); ++i) {
      std::string name;
      auto t = read_tensor_pb(input_files[i].string(), &name);
      if (!t.ok()) return "input: " + t.status().message();
      if (name.empty() || !graph->find_value(name)) {
        if (i >= real_inputs.size()) return fmt::format("input file {} has no matching graph input", i);
        name = real_inputs[i]->name;
      }
      inputs[name] = as_bfloat16_if_declared(*t, graph->find_value(name)->type.dtype);
    }
    auto outputs = runner->run(inputs);
    if (!outputs.ok()) return "run: " + outputs.status().message();
    auto output_files = sorted_files(set_dir, "output_");
    if (output_files.size() != outputs->size())
      return fmt::format("{} reference outputs, model produced {}", output_files.size(), outputs->size());
    for (size_t i = 0; i < output_files.size(); ++i) {
      auto expected = read_tensor_pb(output_files[i].string());
      if (!expected.ok()) return "reference: " + expected.status().message();
      Tensor want = as_bfloat16_if_declared(*expected, (*outputs)[i].dtype());
      std::string diff = compare_tensors(want, (*outputs)[i], 1e-3, 1e-7);
      if (!diff.empty())
        return fmt::format("{} output {} ('{}'): {}", set_dir.filename().string(), i, graph->outputs[i]->name, diff);
    }
  }
  if (sets == 0) return "no test_data_set folder";
  return "";
}

std::map<std::string, std::string> read_expected_failures(const std::string& path) {
  std::map<std::string, std::string> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t hash = line.find('#');
    std::string name = line.substr(0, line.find_first_of(" \t#"));
    std::string reason = hash == std::string::npos ? "" : line.substr(hash + 1);
    out[name] = reason;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data") opt.data_dir = next();
    else if (a == "--suite") opt.suites.push_back(next());
    else if (a == "--expected-failures") opt.expected_failures = next();
    else if (a == "--filter") opt.filter = next();
    else if (a == "--write-failures") opt.write_failures = next();
    else if (a == "--verbose" || a == "-v") opt.verbose = true;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  if (opt.data_dir.empty() || !fs::exists(opt.data_dir)) {
    std::cout << "ONNX backend test data not found at '" << opt.data_dir
              << "' (apt-get install libonnx-testdata); skipping\n";
    return 77;  // ctest SKIP_RETURN_CODE
  }
  if (opt.suites.empty()) opt.suites = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  auto expected = read_expected_failures(opt.expected_failures);
  std::regex filter(opt.filter.empty() ? ".*" : opt.filter);

  int passed = 0, failed = 0, expected_failed = 0, unexpected_pass = 0, unexpected_fail = 0;
  std::vector<std::string> failures_out;
  for (const std::string& suite : opt.suites) {
    fs::path suite_dir = fs::path(opt.data_dir) / suite;
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(suite_dir))
      if (e.is_directory()) tests.push_back(e.path());
    std::sort(tests.begin(), tests.end());
    for (const auto& t : tests) {
      std::string name = t.filename().string();
      if (!std::regex_search(name, filter)) continue;
      std::string reason;
      try {
        reason = run_test(t);
      } catch (const std::exception& e) {
        reason = std::string("exception: ") + e.what();
      }
      bool listed = expected.count(name) > 0;
      if (reason.empty()) {
        ++passed;
        if (listed) {
          ++unexpected_pass;
          std::cout << "UNEXPECTED PASS " << suite << "/" << name << " (remove it from the expected failures)\n";
        } else if (opt.verbose) {
          std::cout << "pass " << suite << "/" << name << "\n";
        }
      } else {
        ++failed;
        std::string one_line = reason.substr(0, 300);
        std::replace(one_line.begin(), one_line.end(), '\n', ' ');
        failures_out.push_back(fmt::format("{}  # {}", name, one_line));
        if (listed) {
          ++expected_failed;
          if (opt.verbose) std::cout << "expected failure " << suite << "/" << name << ": " << one_line << "\n";
        } else {
          ++unexpected_fail;
          std::cout << "FAIL " << suite << "/" << name << ": " << one_line << "\n";
        }
      }
    }
  }
  if (!opt.write_failures.empty()) {
    std::ofstream out(opt.write_failures);
    for (const auto& l : failures_out) out << l << "\n";
  }
  std::cout << fmt::format("ONNX backend tests ({}): {} passed, {} failed ({} expected, {} unexpected), "
                           "{} unexpected passes\n",
                           fmt::join(opt.suites, ", "), passed, failed, expected_failed, unexpected_fail,
                           unexpected_pass);
  return (unexpected_fail || unexpected_pass) ? 1 : 0;
}
