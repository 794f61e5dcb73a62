// FP16 engines for the CPU backend: activations stay f32 (this CPU has no FP16 arithmetic, and f16
// activations would only add conversions), the weights and biases of every oneDNN-run node are stored in
// half precision — half the engine size — and widened to f32 when the engine loads.
#pragma once

#include "ir/graph.h"
#include "kiln/status.h"
#include "passes/precision/convert_to_fp16.h"

namespace kiln {

/// Replaces the f32 weight and bias constants of CPU-kernel nodes by f16 copies (marking the nodes with
/// cpu::kWeightPackingAttr / kBiasStorageAttr = "f16"). Call after every pass that infers shapes.
Status store_cpu_weights_fp16(Graph& graph, Fp16Report* report);

}  // namespace kiln
