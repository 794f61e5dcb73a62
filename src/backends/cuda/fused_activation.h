// The `activation` / `activation_params` of kiln's fused ops (src/ir/ops/fused_ops.cc) as the CUDA library
// kernels apply them: in the cuDNN graph, in a cuBLASLt epilogue, or with kiln's epilogue kernel.
#pragma once

#include <optional>
#include <string>

#include "backends/cuda/epilogue.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::cuda {

struct FusedActivation {
  std::string op;  ///< ONNX op name, "" for none
  EpilogueActivation kind = EpilogueActivation::kNone;
  float p0 = 0.0f, p1 = 0.0f;  ///< activation_params (Clip: [min, max], ±inf when absent)

  bool none() const { return kind == EpilogueActivation::kNone; }
};

/// The node's activation; nullopt when it names one the epilogue kernel does not implement (the factory
/// then returns no kernel), an error when its params are malformed.
Result<std::optional<FusedActivation>> read_fused_activation(const Node& node);

}  // namespace kiln::cuda
