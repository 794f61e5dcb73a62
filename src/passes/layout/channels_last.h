// Channels-last conversion: runs 2-D convolutions in NHWC and keeps activations NHWC between them, so a
// backend whose convolutions want channels-last data (oneDNN) does not transpose around every conv.
//
//   kiln::ChannelsLastReport report;
//   KILN_RETURN_IF_ERROR(kiln::convert_to_channels_last(graph, &report));
//
// Every 2-D convolution (ONNX Conv, which becomes kiln.FusedConv first; kiln.FusedConv; kiln.QConv) gets
// layout "NHWC". Walking the graph in topological order, each NCHW value that gets an NHWC form keeps it as
// its "twin" (named `<value>__nhwc`):
//   - a conv reads the twin of X (and of the residual Z), else a Transpose(perm [0,2,3,1]) inserted once per
//     value (a value produced by Transpose(perm [0,3,1,2]) reuses that Transpose's input instead);
//   - layout-agnostic ops whose rank-4 non-constant inputs all have twins run on the twins too: unary
//     elementwise ops and kiln.ElementwiseChain, per-tensor Quantize/DequantizeLinear, binary elementwise ops
//     (constants are re-laid out: rank 4 transposed, lower ranks left-padded to 4 then transposed, scalars
//     kept), MaxPool (Y only) / AveragePool / GlobalAveragePool / GlobalMaxPool (as kiln.Pool NHWC),
//     Concat on the channel axis (axis 3 in NHWC) and Pad with known pads (permuted);
//   - kiln.PaddedSpaceToDepth (which reads NCHW and writes either layout) gets output_layout NHWC;
//   - a converted op no longer produces its NCHW output. Every other reader of that value, and the graph
//     outputs, get it back from a Transpose(perm [0,3,1,2]) inserted once per value, which writes the
//     original value: names and types users see do not change.
// The pass is idempotent: on a converted graph nothing is NCHW-only any more, so nothing changes.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct ChannelsLastReport {
  int64_t convs = 0;       ///< convolutions switched to NHWC
  int64_t transposes = 0;  ///< Transposes inserted at the borders of the NHWC regions
  int64_t propagated = 0;  ///< layout-agnostic ops now running on NHWC data
  /// "channels_last: 52 convs, 31 ops propagated, 2 transposes"
  std::string to_string() const;
};

/// The name of the NHWC twin the pass gives a rank-4 value it moves to channels-last (the same values,
/// permuted); the original NCHW value stays only where something still reads it in NCHW.
inline std::string channels_last_twin(const std::string& name) { return name + "__nhwc"; }

/// Converts the graph (topologically sorted, typed) to channels-last in place; `report` may be null.
/// Errors only on a malformed graph.
Status convert_to_channels_last(Graph& graph, ChannelsLastReport* report = nullptr);

}  // namespace kiln
