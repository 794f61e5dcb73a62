// ONNX TensorProto <-> kiln Tensor. The only other file (besides importer.cc) that touches protobuf.
#pragma once

#include <string>

#include "core/tensor.h"
#include "kiln/status.h"

namespace onnx {
class TensorProto;
}

namespace kiln {

/// Converts a TensorProto (raw or typed fields, or external data relative to `base_dir`).
/// `what` names the tensor in error messages.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir);
/// Fills a TensorProto from a tensor (raw_data, or string_data for strings).
void tensor_to_proto(const Tensor& tensor, onnx::TensorProto& proto);
/// Reads a serialized TensorProto file (the ONNX test-data `.pb` format). Returns the tensor and its name.
Result<Tensor> read_tensor_pb(const std::string& path, std::string* name = nullptr);
/// Reads a tensor from `.npy` or `.pb` by extension.
Result<Tensor> read_tensor_file(const std::string& path, std::string* name = nullptr);

}  // namespace kiln
