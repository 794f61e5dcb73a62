// Builds the Q/DQ test model for the ONNX Runtime agreement check, with everything kiln has of its own:
//   import the FP32 model → canonicalization passes (no fusion: the Q/DQ form needs standard ops) →
//   calibrate (max |x| / 127 per tensor, on a few shared photos, through GraphRunner's observer) →
//   insert_qdq_for_export → export_onnx.
// It also writes every shared photo, preprocessed, as OUT/inputs/NN_<name>.npy for both runtimes to read.
//
// Usage: ort_make_qdq_model MODEL.onnx IMAGES_DIR PRESET SIZE OUT_DIR [CALIBRATION_PHOTOS=8]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/npy.h"
#include "data/image.h"
#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "passes/pass_manager.h"
#include "passes/precision/insert_qdq.h"
#include "runtime/graph_runner.h"

namespace fs = std::filesystem;
using namespace kiln;

namespace {

Status run(int argc, char** argv) {
  if (argc < 6)
    return Status::invalid_argument("usage: ort_make_qdq_model MODEL.onnx IMAGES_DIR PRESET SIZE OUT_DIR [CALIB_PHOTOS]");
  std::string model_path = argv[1], images_dir = argv[2], preset = argv[3], out_dir = argv[5];
  int64_t size = std::stoll(argv[4]);
  size_t calib_count = argc > 6 ? std::stoul(argv[6]) : 8;

  KILN_ASSIGN_OR_RETURN(Graph graph, import_onnx_file(model_path));
  PassOptions passes;
  passes.fuse_bias_activation = passes.fuse_residual_add = passes.fuse_elementwise_chains = false;
  KILN_RETURN_IF_ERROR(run_optimization_passes(graph, passes, nullptr));
  const Value* input = nullptr;
  for (const Value* v : graph.inputs)
    if (!v->is_constant() && !input) input = v;
  if (!input) return Status::invalid_model("the model has no runtime input");

  KILN_ASSIGN_OR_RETURN(PreprocessSpec spec, preprocess_preset(preset));
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> photos, list_images(images_dir));
  if (photos.empty()) return Status::not_found("no photos in " + images_dir);
  std::vector<Tensor> tensors;
  for (const auto& p : photos) {
    KILN_ASSIGN_OR_RETURN(Tensor t, load_image(p, spec, size, size));
    tensors.push_back(std::move(t));
  }

  // Calibration: max |x| over a spread of photos, per computed tensor and for the graph input.
  CalibrationTable table;
  table.algorithm = "MinMaxCalibration";
  auto observe = [&](const std::string& name, const Tensor& t) {
    if (t.dtype() != DataType::kF32) return;
    float amax = 0;
    for (float x : t.span<const float>()) amax = std::max(amax, std::abs(x));
    float& s = table.scales[name];
    s = std::max(s, amax / 127.0f);
  };
  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(graph));
  RunOptions options;
  options.observer = [&](const Value& v, const Tensor& t) { observe(v.name, t); };
  calib_count = std::min(calib_count, tensors.size());
  for (size_t k = 0; k < calib_count; ++k) {
    const Tensor& x = tensors[k * tensors.size() / calib_count];
    observe(input->name, x);
    auto out = runner.run({{input->name, x}}, options);
    if (!out.ok()) return out.status();
  }

  QdqExportReport report;
  KILN_RETURN_IF_ERROR(insert_qdq_for_export(graph, table, {}, &report));
  std::cout << report.to_string() << "\n";
  fs::create_directories(fs::path(out_dir) / "inputs");
  std::string qdq_path = (fs::path(out_dir) / "model_qdq.onnx").string();
  KILN_RETURN_IF_ERROR(export_onnx(graph, qdq_path));
  std::cout << "wrote " << qdq_path << " (" << calib_count << " calibration photos)\n";
  for (size_t i = 0; i < photos.size(); ++i) {
    std::string name = fmt::format("{:02}_{}.npy", i, fs::path(photos[i]).stem().string());
    KILN_RETURN_IF_ERROR(write_npy((fs::path(out_dir) / "inputs" / name).string(), tensors[i]));
  }
  std::cout << "wrote " << photos.size() << " inputs to " << (fs::path(out_dir) / "inputs").string() << "\n";
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  Status s = run(argc, argv);
  if (!s.ok()) {
    std::cerr << "ort_make_qdq_model: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
