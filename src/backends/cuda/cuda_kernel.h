// The CUDA backend's kernel interface.
//
// A CudaKernel is one node's GPU implementation, created once per engine at load (weights uploaded to the
// device, attributes parsed) and shared by every execution context. For each input shape a context meets,
// it asks the kernel to `prepare` a PreparedNode (cuDNN execution plans, launch geometry) with its own
// cuDNN/cuBLASLt handles; the PreparedNode's `enqueue` calls are then captured once into a CUDA graph
// and replayed, so `enqueue` must be capturable: no synchronization, no allocation, no host reads of
// device memory, work only on `ctx.stream`.
//
// Tensors are plain device pointers: dims come from prepare (the executor knows every value's shape for
// the input shape), memory order is the node's (`layout` attribute: NHWC for kiln's channels-last
// FusedConv and Pool, otherwise the ONNX order), dtypes are the graph values' dtypes.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/shape.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::cuda {

class CudnnPlanCache;

/// What a kernel may use while preparing or enqueuing: the context's stream, library handles bound to it,
/// and the context's workspace (at least the largest PreparedNode::workspace_bytes, valid while enqueued).
struct LaunchContext {
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  /// The most workspace one node may ask for (the engine's --workspace limit).
  size_t workspace_limit = size_t{1} << 30;
  /// Build time only: where candidate listing keeps the cuDNN plans it finalized and a tactic's prepare takes
  /// its plan from (see cudnn_plan_cache.h); null in engines.
  CudnnPlanCache* plan_cache = nullptr;
};

/// One node's work at fixed shapes on one context.
class PreparedNode {
 public:
  virtual ~PreparedNode() = default;
  /// Scratch memory `enqueue` needs in ctx.workspace.
  virtual size_t workspace_bytes() const { return 0; }
  /// Enqueues the node on ctx.stream; `inputs` / `outputs` are device pointers in node order (null for an
  /// omitted optional input). Constant inputs (weights) are the kernel's own device copies, so their
  /// entries here may be null.
  virtual Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                         std::span<void* const> outputs) const = 0;
};

class CudaKernel {
 public:
  virtual ~CudaKernel() = default;
  /// Prepares the node for these shapes (one Dims per node input, empty for an omitted one; one per output).
  virtual Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                        std::span<const Dims> output_dims) const = 0;
  /// Build time: the tactics worth timing at these shapes (ids for KernelOptions::tactic); empty when the
  /// kernel has one way to run.
  virtual Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx,
                                                             std::span<const Dims> input_dims,
                                                             std::span<const Dims> output_dims) const {
    return std::vector<std::string>{};
  }
  /// Shown by `kiln inspect` and profiles, e.g. "cudnn:eng12", "cublaslt", "cuda:transpose".
  virtual std::string tactic() const = 0;
};

struct KernelOptions {
  /// A tactic id from candidate_tactics (build-time timing); empty: the node's `tactic` attribute if it
  /// has one, else the kernel's own first choice.
  std::string tactic;
  /// FP32 nodes may use TF32 tensor cores (`--precision tf32`); off: strict FP32 arithmetic.
  bool allow_tf32 = false;
  /// Build time: every cuDNN convolution also offers up to this many kernel-config variants of its first
  /// candidate (`kiln build --knob-variants`; few-channel convolutions offer kKnobVariantsFewChannels anyway).
  size_t knob_variants = 0;
};

}  // namespace kiln::cuda
