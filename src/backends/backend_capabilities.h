// What a backend runs beyond the ONNX ops it implements, for the build passes that would create such nodes:
// a pass runs only when the target backend has kernels for what it emits (each backend states its own set,
// so a backend that gains a kernel turns its pass on in one place).
#pragma once

namespace kiln {

struct BackendCapabilities {
  /// Fused ops' `Swish` activation (fuse_swish: x * Sigmoid(x) after a convolution or product).
  bool swish_activation = false;
  /// kiln.QLookup (fold_qdq_lookup: an int8 float island as a 256-entry table).
  bool lookup_tables = false;
  /// kiln.PaddedSpaceToDepth, and stems rewritten as space-to-depth + stride-1 convolutions paying off
  /// (stem_space_to_depth).
  bool space_to_depth_stems = false;
};

}  // namespace kiln
