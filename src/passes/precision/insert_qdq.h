// Explicit quantization for export: rewrites a calibrated float graph into the standard Q/DQ ONNX form that
// ONNX Runtime, TensorRT 10/11 and OpenVINO consume (TensorRT's "Q/DQ placement recommendations").
//
//   kiln::QdqExportReport report;
//   KILN_RETURN_IF_ERROR(kiln::insert_qdq_for_export(graph, table, {}, &report));
//   KILN_RETURN_IF_ERROR(kiln::export_onnx(graph, "model_qdq.onnx"));
//
// Placement (one QuantizeLinear → DequantizeLinear pair per tensor, shared by every quantized reader):
//  * Conv, ConvTranspose, MatMul, Gemm: on the activation inputs (A and a non-constant B of MatMul/Gemm).
//    Their constant float weights become int8 initializers (symmetric, zero point 0, per output channel:
//    Conv axis 0, ConvTranspose axis 1, MatMul B axis rank-1, Gemm B axis 1 or 0 with transB) read through
//    a DequantizeLinear with `axis`. Biases stay float (TensorRT quantizes them itself).
//  * Add whose two inputs are both computed (residual adds): on both inputs, so TensorRT can fuse the add
//    into the preceding convolution.
//  * MaxPool, AveragePool, GlobalAveragePool: on the input (TensorRT runs them in int8 when fed by Q/DQ).
//  Activation scales are the table's (amax / 127), zero point int8 0. Weight scales follow
//  quant/weight_quant.h (max|w_c| / 127), the same weights kiln's INT8 engine uses.
//
// The graph must hold standard ops only (run it before the fusion passes, or expand kiln's fused ops):
// kiln-domain nodes are an error. Per-axis DequantizeLinear needs ai.onnx opset 13: a lower import is raised
// to 13 when no node's meaning changes on the way (Clip/Pad before 11, Squeeze/Unsqueeze/Split/ReduceSum/
// Softmax before 13, ... are listed in the error; import with ImportOptions::min_opset = 13 to convert them).
// Tensors without a finite positive scale in the table, and non-f32 tensors, stay float; the report lists them.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"
#include "quant/calibration_table.h"

namespace kiln {

struct QdqExportOptions {
  /// Node names or op types ("Gemm") whose inputs stay float.
  std::set<std::string> keep_fp32;
  /// Per-output-channel weight scales (false: one scale per weight tensor).
  bool per_channel_weights = true;
  /// Q/DQ on both inputs of residual Adds.
  bool quantize_residual_add = true;
  /// Q/DQ on the inputs of MaxPool / AveragePool / GlobalAveragePool.
  bool quantize_pooling = true;
};

struct QdqExportReport {
  int64_t nodes_quantized = 0;       ///< nodes that read at least one DequantizeLinear output
  int64_t activations_quantized = 0; ///< Q → DQ pairs inserted
  int64_t weights_quantized = 0;     ///< float weights turned into int8 initializers + DQ
  int opset_raised_from = 0;         ///< the old ai.onnx opset when it was raised, else 0
  /// "tensor (reader node): why" for every input that would have been quantized but stays float.
  std::vector<std::string> left_float;
  /// "Q/DQ: 64 activations, 53 weights on 104 nodes; opset 13; 1 tensor left float: ..."
  std::string to_string() const;
};

/// Inserts Q/DQ pairs and int8 weights as described above. Graph input/output names and dtypes are
/// unchanged; the rewritten graph is re-inferred and stays runnable on the reference backend.
Status insert_qdq_for_export(Graph& graph, const CalibrationTable& table, const QdqExportOptions& options,
                             QdqExportReport* report = nullptr);

}  // namespace kiln
