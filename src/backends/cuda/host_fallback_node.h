// A node without a CUDA kernel, run on the host's reference kernel (engines built with
// --allow-cpu-fallback): its inputs are copied to the host, the kernel runs, its outputs are copied back.
// The stream is synchronized twice, so graphs with such nodes are not captured as CUDA graphs.
#pragma once

#include <memory>
#include <span>

#include "backends/cuda/cuda_kernel.h"

namespace kiln::cuda {

/// Errors when the reference backend has no kernel for the node either.
Result<std::unique_ptr<PreparedNode>> make_host_fallback_node(const Node& node, std::span<const Dims> input_dims,
                                                              std::span<const Dims> output_dims);

}  // namespace kiln::cuda
