#include "backends/cuda/tactic_choice_kernel.h"

namespace kiln::cuda {

TacticChoiceKernel::TacticChoiceKernel(std::unique_ptr<CudaKernel> primary, std::unique_ptr<CudaKernel> alternative,
                                       std::string alternative_prefix, const std::string& configured)
    : primary_(std::move(primary)),
      alternative_(std::move(alternative)),
      alternative_prefix_(std::move(alternative_prefix)),
      use_alternative_(configured.starts_with(alternative_prefix_)) {}

Result<std::unique_ptr<PreparedNode>> TacticChoiceKernel::prepare(const LaunchContext& ctx,
                                                                  std::span<const Dims> input_dims,
                                                                  std::span<const Dims> output_dims) const {
  return active().prepare(ctx, input_dims, output_dims);
}

Result<std::vector<std::string>> TacticChoiceKernel::candidate_tactics(const LaunchContext& ctx,
                                                                       std::span<const Dims> input_dims,
                                                                       std::span<const Dims> output_dims) const {
  KILN_ASSIGN_OR_RETURN(std::vector<std::string> ids, primary_->candidate_tactics(ctx, input_dims, output_dims));
  // The alternative is optional: when it offers nothing at these shapes, the primary's candidates stand.
  auto more = alternative_->candidate_tactics(ctx, input_dims, output_dims);
  if (more.ok()) ids.insert(ids.end(), more->begin(), more->end());
  return ids;
}

Result<std::unique_ptr<CudaKernel>> with_alternative(std::unique_ptr<CudaKernel> kernel,
                                                     Result<std::unique_ptr<CudaKernel>> alternative,
                                                     std::string alternative_prefix, const std::string& configured) {
  if (!alternative.ok()) return alternative.status();
  if (!*alternative) return kernel;
  return std::unique_ptr<CudaKernel>(
      new TacticChoiceKernel(std::move(kernel), std::move(*alternative), std::move(alternative_prefix), configured));
}

}  // namespace kiln::cuda
