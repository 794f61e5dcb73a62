// Builds small ONNX models in tests (protobuf objects), so tests need no files or Python.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "onnx/onnx_pb.h"

namespace kiln::testing {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13, int ir_version = 8);

  /// A graph input; dims < 0 are unknown, `symbols` names them ("N").
  OnnxBuilder& input(const std::string& name, DataType dtype, const std::vector<int64_t>& dims,
                     const std::vector<std::string>& symbols = {});
  OnnxBuilder& output(const std::string& name, DataType dtype);
  OnnxBuilder& initializer(const std::string& name, const Tensor& value, bool also_graph_input = false);
  /// Adds a node; returns it so the caller can add attributes.
  onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");
  static void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v);
  static void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
  static void attr_float(onnx::NodeProto& n, const std::string& name, float v);

  const onnx::ModelProto& model() const { return model_; }
  std::string bytes() const;
  /// Writes the model to `path`.
  void save(const std::string& path) const;

 private:
  onnx::ModelProto model_;
};

}  // namespace kiln::testing
