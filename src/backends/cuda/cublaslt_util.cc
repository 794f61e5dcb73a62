#include "backends/cuda/cublaslt_util.h"

#include <algorithm>
#include <set>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

Result<std::vector<cublasLtMatmulHeuristicResult_t>> cublaslt_heuristic_algos(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
    cublasLtMatrixLayout_t cd, size_t workspace_limit, bool f32_split_k_only) {
  MatmulPreference pref;
  KILN_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref.d));
  const uint64_t ws = std::min(kCublasLtMaxWorkspace, workspace_limit);
  KILN_CUBLAS_TRY(
      cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    KILN_CUBLAS_TRY(
        cublasLtMatmulPreferenceSetAttribute(pref.d, attr, &kCublasLtAlignment, sizeof(kCublasLtAlignment)));
  if (f32_split_k_only) {
    const uint32_t mask = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    KILN_CUBLAS_TRY(
        cublasLtMatmulPreferenceSetAttribute(pref.d, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask, sizeof(mask)));
  }
  std::vector<cublasLtMatmulHeuristicResult_t> results(kCublasLtMaxAlgos);
  int returned = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle, op, a, b, cd, cd, pref.d, kCublasLtMaxAlgos,
                                                     results.data(), &returned);
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) returned = 0;
  else KILN_RETURN_IF_ERROR(cublas_status(st, "cublasLtMatmulAlgoGetHeuristic"));
  results.resize(static_cast<size_t>(std::clamp(returned, 0, kCublasLtMaxAlgos)));
  std::erase_if(results, [&](const cublasLtMatmulHeuristicResult_t& r) {
    return r.state != CUBLAS_STATUS_SUCCESS || r.workspaceSize > ws;
  });
  return results;
}

std::vector<std::string> cublaslt_candidate_ids(const std::vector<cublasLtMatmulHeuristicResult_t>& algos) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const auto& r : algos) {
    std::string id = cublaslt_tactic_id(r.algo);
    if (seen.insert(id).second) ids.push_back(std::move(id));
  }
  return ids;
}

Result<std::optional<CublasLtAlgo>> cublaslt_choose_algo(cublasLtHandle_t handle, cublasLtMatmulDesc_t op,
                                                         cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                         cublasLtMatrixLayout_t cd,
                                                         const std::optional<cublasLtMatmulAlgo_t>& tactic,
                                                         size_t workspace_limit, bool f32_split_k_only) {
  if (tactic) {
    cublasLtMatmulHeuristicResult_t check{};
    const cublasStatus_t st = cublasLtMatmulAlgoCheck(handle, op, a, b, cd, cd, &*tactic, &check);
    if (st == CUBLAS_STATUS_SUCCESS && check.workspaceSize <= std::min(kCublasLtMaxWorkspace, workspace_limit))
      return std::optional<CublasLtAlgo>(CublasLtAlgo{*tactic, check.workspaceSize});
  }
  KILN_ASSIGN_OR_RETURN(auto algos, cublaslt_heuristic_algos(handle, op, a, b, cd, workspace_limit, f32_split_k_only));
  if (algos.empty()) return std::optional<CublasLtAlgo>();
  return std::optional<CublasLtAlgo>(CublasLtAlgo{algos.front().algo, algos.front().workspaceSize});
}

}  // namespace kiln::cuda
