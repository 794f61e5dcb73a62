// INT8 as an IR rewrite (implicit quantization): with a calibration table, decide which nodes run in int8,
// and express that decision as QuantizeLinear/DequantizeLinear pairs in the IR. fold_qdq (fold_qdq.h) then
// turns `DQ → Conv → Q` into kiln.QConv, `DQ → MaxPool → Q` into an int8 MaxPool, and so on. Backends only
// honour the types in the IR.
//
// Scheme (TensorRT's, expressed with ONNX ops so an exported Q/DQ graph means the same in ONNX Runtime):
//  * activations: int8 per tensor, zero point 0, scale = the calibrated amax / 127. Quantization is ONNX
//    QuantizeLinear: round half to even, saturate to [-128, 127]. (TensorRT clamps to [-127, 127]; the two
//    differ only for values below -127.5 · scale, i.e. beyond the calibrated range, where kiln gives -128.)
//  * weights: int8 per output channel, symmetric [-127, 127], zero point 0, scale_c = max|w_c| / 127
//    (1 for an all-zero channel). Conv: axis 0 of W; MatMul/Gemm: the output column axis of B.
//  * bias: kept in float here; fold_qdq quantizes it to int32 at scale x_scale · w_scale[c].
//  * int32 accumulation, requantization with round half to even and saturation (see qfused_ops.cc).
//
// Runs in int8: Conv, kiln.FusedConv (activation none/Relu/Clip, optional residual Z), Gemm (transA = 0,
// alpha = beta = 1), MatMul with a constant 2-D B, kiln.FusedGemm/kiln.FusedMatMul likewise; and the ops
// that are exact on int8 data when their output keeps their input's scale: MaxPool, Reshape, Flatten,
// Transpose, Squeeze, Unsqueeze, Relu, Pad (constant mode, value 0), Concat (inputs share the output's scale:
// Concat's inputs and output are unified to their largest scale, as TensorRT does). Everything else stays
// float with Q/DQ at its borders (AveragePool, GlobalAveragePool and standalone Add have no int8 kernel yet;
// residual Adds fused into FusedConv do run in int8).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"
#include "quant/calibration_table.h"

namespace kiln {

struct Int8Options {
  /// Node names or op types ("Conv", "kiln.FusedConv") that stay in float.
  std::set<std::string> keep_fp32;
  /// Per-output-channel weight scales (false: one scale per weight tensor).
  bool per_channel_weights = true;
};

/// What happened to one node of the graph the rewrite saw.
struct Int8NodeDecision {
  std::string node;     ///< node name
  std::string op_type;  ///< "Conv", "kiln.FusedConv", ...
  bool int8 = false;
  std::string reason;   ///< why it stayed float (empty when int8)
  int64_t macs = 0;     ///< multiply-accumulates (conv/gemm/matmul; batch taken as 1), else 0
};

struct Int8Report {
  std::vector<Int8NodeDecision> nodes;
  int64_t nodes_int8 = 0;
  int64_t nodes_float = 0;
  int64_t weights_quantized = 0;   ///< weight tensors converted to int8
  int64_t qdq_pairs_inserted = 0;  ///< QuantizeLinear/DequantizeLinear pairs added
  int64_t macs_total = 0;
  int64_t macs_int8 = 0;
  /// Share of the conv/gemm/matmul MACs that run in int8 (0 when the graph has none).
  double int8_mac_share() const { return macs_total ? static_cast<double>(macs_int8) / macs_total : 0.0; }
  /// "int8: 12 of 15 nodes, 98.7% of 5.6M MACs" then one line per float node with its reason.
  std::string to_string() const;
};

/// The value names whose calibrated scales quantize_int8 may need (activation inputs, outputs and residuals
/// of the int8-capable nodes, graph inputs among them). The calibration driver observes exactly these.
std::vector<std::string> tensors_to_calibrate(const Graph& graph);

/// Inserts Q/DQ pairs (and int8 per-channel weights) for every node that can run in int8 with the
/// calibrated scales; `report` (may be null) says per node what happened and why. Graph input and output
/// names and dtypes are unchanged. Run fold_qdq afterwards to get integer ops.
Status quantize_int8(Graph& graph, const CalibrationTable& table, const Int8Options& options, Int8Report* report);

/// MACs of a Conv/FusedConv/Gemm/FusedGemm/MatMul/FusedMatMul node from static shapes (unknown extents and the
/// batch count as 1); 0 for other nodes.
int64_t node_macs(const Node& node);

}  // namespace kiln
