// The `activation` / `activation_params` convention of kiln's fused ops (src/ir/ops/fused_ops.cc), shared by
// everything that reads or writes it (reference kernels, ONNX export).
#pragma once

#include <string>
#include <vector>

namespace kiln {

/// The float attributes of ONNX activation `op` in activation_params order: LeakyRelu/Elu/Celu/
/// ThresholdedRelu [alpha], HardSigmoid [alpha, beta], Selu [alpha, gamma], Shrink [bias, lambd]; empty for
/// the others (Clip keeps [min, max] as its inputs, not attributes).
std::vector<std::string> activation_param_names(const std::string& op);

}  // namespace kiln
