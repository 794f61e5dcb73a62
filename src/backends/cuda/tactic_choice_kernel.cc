#include "backends/cuda/tactic_choice_kernel.h"

namespace kiln::cuda {

bool names_alternative(const std::string& configured, const std::string& alternative_ids) {
  if (!alternative_ids.empty() && alternative_ids.back() == ':') return configured.starts_with(alternative_ids);
  return configured == alternative_ids;
}

TacticChoiceKernel::TacticChoiceKernel(std::unique_ptr<CudaKernel> primary, std::unique_ptr<CudaKernel> alternative,
                                       const std::string& alternative_ids, const std::string& configured)
    : primary_(std::move(primary)),
      alternative_(std::move(alternative)),
      use_alternative_(names_alternative(configured, alternative_ids)) {}

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
                                                     const std::string& alternative_ids, const std::string& configured) {
  if (!alternative.ok()) return alternative.status();
  if (!*alternative) return kernel;
  return std::unique_ptr<CudaKernel>(
      new TacticChoiceKernel(std::move(kernel), std::move(*alternative), alternative_ids, configured));
}

}  // namespace kiln::cuda
