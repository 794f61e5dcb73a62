// CPU builds: SiLU / Swish after a convolution or product, x * Sigmoid(x), becomes the fused op's activation
// "Swish" (oneDNN's eltwise_swish post-op), so EfficientNet's 49 Sigmoid + Mul pairs stop being 98 separate
// passes over memory (37% of its FP32 batch-1 time on the CPU, `kiln bench --profile`, session 5).
//
//   y = Conv|Gemm|MatMul|Fused*(...)      (no activation yet)
//   s = Sigmoid(y);  z = Mul(y, s)         (either operand order)
//   ->  z = Fused*(..., activation = "Swish")
//
// Only when y is read by exactly the Sigmoid and the Mul and s by the Mul alone (and neither is a graph
// output). The builder runs it for backends whose BackendCapabilities have swish_activation (the CPU; the GPU
// has no Swish epilogue yet), after the precision rewrites (an INT8 build's QConvs are not touched;
// convolutions left in float are).
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// Fuses every match; `fused` (may be null) receives the count.
Status fuse_swish(Graph& graph, int64_t* fused = nullptr);

}  // namespace kiln
