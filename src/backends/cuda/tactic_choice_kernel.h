// A node with two implementations whose tactics compete at build time: e.g. a 1x1 channels-last convolution
// on cuDNN or as a cuBLASLt product (cuBLASLt's f16 GEMM ran ResNet-50's 1x1 layers in about half cuDNN's
// time on the H100: bench/cublaslt_int8_probe.cu). candidate_tactics offers both kernels' ids; the configured
// tactic (KernelOptions::tactic or the node's `tactic` attribute) picks the alternative when it is one of the
// alternative's ids: any id of a library family ("cublaslt:" + the algorithm), or exactly the id of one of kiln's
// own kernels ("cuda:int8_pointwise" does not name "cuda:int8_pointwise_3_blocks"); otherwise the primary runs.
#pragma once

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel.h"

namespace kiln::cuda {

class TacticChoiceKernel : public CudaKernel {
 public:
  /// `alternative_ids` names the alternative's tactic ids: a family prefix ending in ':' ("cublaslt:") or one
  /// exact id; `configured` is the tactic id both kernels were created with.
  TacticChoiceKernel(std::unique_ptr<CudaKernel> primary, std::unique_ptr<CudaKernel> alternative,
                     const std::string& alternative_ids, const std::string& configured);

  std::string tactic() const override { return active().tactic(); }
  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override;
  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override;

 private:
  const CudaKernel& active() const { return use_alternative_ ? *alternative_ : *primary_; }

  std::unique_ptr<CudaKernel> primary_, alternative_;
  bool use_alternative_ = false;
};

/// Whether tactic id `configured` is one of `alternative_ids` (a family prefix ending in ':', or one exact id).
bool names_alternative(const std::string& configured, const std::string& alternative_ids);

/// `kernel` with `alternative`'s tactics (`alternative_ids`, as above) competing when `alternative` is a
/// kernel; `kernel` alone when it is null; its error when it failed.
Result<std::unique_ptr<CudaKernel>> with_alternative(std::unique_ptr<CudaKernel> kernel,
                                                     Result<std::unique_ptr<CudaKernel>> alternative,
                                                     const std::string& alternative_ids, const std::string& configured);

}  // namespace kiln::cuda
