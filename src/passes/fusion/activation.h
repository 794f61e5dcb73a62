// Recognizes the elementwise ops the fusion passes can absorb, with their parameters in the layout of
// kiln's fused ops (see src/ir/ops/fused_ops.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

struct Activation {
  std::string op;             ///< ONNX op type, e.g. "Clip"
  std::vector<float> params;  ///< activation_params layout: Clip [min, max], LeakyRelu [alpha], ...
};

/// The activation `n` applies to its input 0, when it is one a fused Conv/Gemm/MatMul can apply
/// (Relu, LeakyRelu, Clip with constant bounds, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu, Selu, Celu,
/// Softplus, Softsign, Mish, ThresholdedRelu, Shrink) on a float input.
std::optional<Activation> match_activation(const Node& n);

/// One step of an ElementwiseChain: an op name (maybe with ":r"), two params, and the data input it reads.
struct ChainStep {
  std::string op;
  float p0 = 0, p1 = 0;
  Value* data = nullptr;
};

/// An ONNX Add/Sub/Mul/Div/Pow/Max/Min with both operands present and one output (elementwise when its
/// operands have the output's shape).
bool is_binary_elementwise(const Node& n);

/// The chain step `n` is, when it is an activation, a parameterless unary float op (Abs, Exp, Sqrt, ...),
/// or a binary Add/Sub/Mul/Div/Pow/Max/Min with a one-element constant of the data's dtype that does not
/// broadcast the data up. Only f32/f16/bf16 data (params are stored as floats, exactly for these).
std::optional<ChainStep> match_chain_step(const Node& n);

}  // namespace kiln::passes
