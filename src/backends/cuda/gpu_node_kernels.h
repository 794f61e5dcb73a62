// NodeKernels that run a graph's nodes one at a time on the GPU for host tensors: INT8 calibration runs the
// FP32 graph this way, so that the GraphRunner's observer still sees every value on the host. A run copies the
// node's runtime inputs to the device, runs its CUDA kernel (prepared once per shape) and copies the outputs
// back; a node without a CUDA kernel gets none (the reference kernel runs it on the host). Outputs take the
// graph's inferred shapes: its value types must be static for the shapes it is run at (the caller re-infers
// them when the batch changes). Strict FP32 unless `options` allow TF32. The copies make this slower than an
// engine, but it needs no memory plan and no capture, and still runs far faster than the host's kernels.
#pragma once

#include "backends/cuda/cuda_kernel.h"
#include "ir/graph.h"
#include "kiln/status.h"
#include "runtime/node_kernel.h"

namespace kiln::cuda {

Result<NodeKernels> create_gpu_node_kernels(const Graph& graph, const KernelOptions& options = {});

}  // namespace kiln::cuda
