// Folds QuantizeLinear/DequantizeLinear patterns into integer ops. It runs after quantize_int8 (implicit
// quantization) and on models that already carry Q/DQ (explicit quantization) alike.
//
//  * DQ(x) → Conv/kiln.FusedConv(·, DQ(W), B?, DQ(z)?) → Q   ⇒  kiln.QConv
//  * DQ(a) → MatMul/kiln.FusedMatMul(·, DQ(B), bias?) → Q     ⇒  kiln.QMatMul
//  * DQ(a) → Gemm/kiln.FusedGemm(·, DQ(B), C?) → Q            ⇒  kiln.QMatMul (transA = 0, alpha = beta = 1;
//    a transposed B is transposed once at fold time)
//  x, z and the output are u8/i8 per tensor; W/B are constant u8/i8 per tensor or per output channel. A bias
//  (float constant, or DQ of an int32 constant) becomes int32 at scale x_scale · w_scale[c]: exact when the
//  bias was already quantized at that scale (as ONNX quantizers emit it), else rounded half to even. The
//  activation (Relu or Clip) becomes a clamp of the quantized output.
//  * DQ(q; s, z) → op → Q(s, z) with op exact on quantized data (MaxPool, Reshape, Flatten, Transpose,
//    Squeeze, Unsqueeze, Relu, Pad with value 0, Concat with every input at (s, z))  ⇒  op on q directly.
//  * DQ(q; s, z) → Q(s, z)  ⇒  q (a requantization to the same scale is the identity).
// Anything that does not match stays as it is; DQs left without readers are removed.
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct FoldQdqReport {
  int64_t qconv = 0;          ///< kiln.QConv created
  int64_t qmatmul = 0;        ///< kiln.QMatMul created
  int64_t int8_data_ops = 0;  ///< data-movement ops moved onto quantized data
  int64_t qdq_cancelled = 0;  ///< DQ → Q pairs removed
  int64_t nodes_removed = 0;  ///< nodes replaced or removed (folded ops, Q, DQ)
};

Status fold_qdq(Graph& graph, FoldQdqReport* report);

}  // namespace kiln
