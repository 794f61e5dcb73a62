// Reference execution of the layout-aware ops (`layout` = "NCHW" | "NHWC", see src/ir/ops/layout_util.h).
//
// The reference defines NHWC by the NCHW computation: transpose the activation inputs to NCHW, run the NCHW
// kernel, transpose its output back. Slow, but obviously right, which is what the oracle is for.
#pragma once

#include <initializer_list>

#include "backends/ref/kernel.h"

namespace kiln::ref {

/// Runs `kernel_nchw` on the node in its layout: directly for NCHW; for NHWC on a copy of the node (layout
/// removed) whose `activation_inputs` (when present, rank 4) are transposed to NCHW, then transposes output 0
/// back to NHWC.
Status run_in_layout(KernelContext& ctx, std::initializer_list<size_t> activation_inputs, KernelFn kernel_nchw);

}  // namespace kiln::ref
