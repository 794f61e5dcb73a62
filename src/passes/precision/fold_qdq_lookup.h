// INT8 engines of backends with lookup_tables (BackendCapabilities: the CPU): a per-tensor DequantizeLinear -> elementwise float ops -> QuantizeLinear region becomes one
// kiln.QLookup with a 256-entry table (src/ir/ops/qfused_ops.cc). An 8-bit input has only 256 values, so the
// region's whole behaviour is the table, computed at build time by running the region itself on the reference
// kernels for every input value: exactly the reference result, by construction.
//
// EfficientNet-B0's SiLUs between int8 convolutions (QConv -> DQ -> Sigmoid, Mul -> Q) took 4.3 ms of its
// 7.4 ms INT8 batch-1 time on the CPU (`kiln bench --profile`, session 5) as four float passes per activation.
//
// The region: every reader of the DequantizeLinear's output, and of every value computed in the region, is an
// elementwise op whose other inputs are one-element constants or region values (unary activations, Clip with
// constant bounds, Add/Sub/Mul/Div/Max/Min/Pow), or the one QuantizeLinear that ends it. All region values have
// the DequantizeLinear's output shape (no broadcasting), none is a graph output, and scales and zero points are
// per-tensor constants. Anything else leaves the region alone.
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// Replaces every such region; `folded` (may be null) receives the count.
Status fold_qdq_lookup(Graph& graph, int64_t* folded = nullptr);

}  // namespace kiln
