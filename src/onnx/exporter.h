// ONNX model export: kiln's typed IR → a standard ONNX ModelProto file that other runtimes load.
//
//   kiln::ExportOptions options;
//   options.expand_kiln_ops = true;  // kiln.FusedConv → Conv + Add + Relu, ...
//   KILN_RETURN_IF_ERROR(kiln::export_onnx(graph, "model_qdq.onnx", options));
//
// What is written:
//  * ir_version 8 (or the lowest IR the graph's ai.onnx opset needs: 9 for opsets 19–20, 10 for 21), the
//    graph's opset imports (raised to the newest opset a node declares, if a pass created a newer node);
//  * every constant a node or graph output reads as an initializer with raw_data (folded constants too);
//  * graph inputs and outputs with their dtypes and shapes (symbolic extents as dim_param, unknown ones
//    left empty), and value_info for every typed intermediate value (optional);
//  * nodes in the graph's (topological) order with their names, domains and attributes.
//
// Refused (all offenders listed in one message): nodes of kiln's own domain ("kiln": FusedConv, FusedGemm,
// FusedMatMul, ElementwiseChain, QConv, QMatMul, ...) unless `expand_kiln_ops` is set, in which case the
// first four are written as the standard ops they stand for (see src/ir/ops/fused_ops.cc):
//    FusedConv(X, W, B?, Z?)   → Conv(X, W, B) [→ Add(·, Z)] [→ activation]
//    FusedGemm(A, B, C?)       → Gemm(A, B, C) [→ activation]
//    FusedMatMul(A, B, bias?)  → MatMul(A, B) [→ Add(·, bias)] [→ activation]
//    ElementwiseChain(X)       → one node per step (binary steps read a scalar initializer)
//  Integer kiln ops (QConv, QMatMul) have no expansion: export the graph before fold_qdq instead. Also
//  refused: subgraph attributes (If/Loop/Scan bodies are not carried by kiln's IR) and activations that
//  the graph's ai.onnx opset does not have (HardSwish needs opset 14, Mish 18, Gelu 20).
#pragma once

#include <string>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct ExportOptions {
  /// Write kiln's fused ops (FusedConv, FusedGemm, FusedMatMul, ElementwiseChain) as standard ONNX ops.
  /// When false, any node of the "kiln" domain is an error.
  bool expand_kiln_ops = false;
  /// Write value_info (dtype and shape) for intermediate values that have a known dtype.
  bool write_value_info = true;
  /// Run ONNX's model checker on the result before writing (on opsets newer than Debian's libonnx knows,
  /// its complaints are logged as warnings, as at import).
  bool run_checker = true;
  /// ModelProto.ir_version; 0 picks 8, or more where the opset needs it.
  int64_t ir_version = 0;
  std::string producer_name = "kiln";
  std::string producer_version = "0.1";
};

/// Serializes the graph to ModelProto bytes. Errors list every node that cannot be written.
Result<std::string> export_onnx_bytes(const Graph& graph, const ExportOptions& options = {});

/// Writes the graph to an .onnx file (kIoError when the file cannot be written).
Status export_onnx(const Graph& graph, const std::string& path, const ExportOptions& options = {});

}  // namespace kiln
