// ONNX model import: parse, check, upgrade old opsets, and build kiln's typed IR.
#pragma once

#include <string>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct ImportOptions {
  /// Run ONNX's model checker (failures are errors, except on opsets newer than libonnx knows).
  bool run_checker = true;
  /// Models with an ai.onnx opset below this are upgraded with ONNX's version converter.
  int min_opset = 7;
};

/// The newest ai.onnx opset kiln accepts.
constexpr int kMaxSupportedOpset = 21;

/// Imports a model file. Errors: "ONNX model not found: PATH", a non-ONNX or truncated file, unsupported
/// ops (all listed at once with name, op type and opset), invalid nodes, failed shape inference.
Result<Graph> import_onnx_file(const std::string& path, const ImportOptions& options = {});
/// Imports from serialized bytes; `base_dir` resolves external data; `label` names the model in errors.
Result<Graph> import_onnx_bytes(const std::string& bytes, const std::string& base_dir, const std::string& label,
                                const ImportOptions& options = {});

}  // namespace kiln
