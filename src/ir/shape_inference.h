// Graph-wide type and shape inference with kiln's own per-op rules (ONNX's stops at opset 17).
#pragma once

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// Runs every node's inference function in topological order, overwriting output types.
/// Errors name the node. Unknown extents become unknown dims, never guesses.
Status infer_shapes(Graph& graph);

}  // namespace kiln
