// What the float products (cublaslt_gemm.cc) and the int8 1x1 convolutions (cublaslt_qconv.cc) share: RAII
// owners of cuBLASLt's descriptors (move-only), the heuristics query, the candidates it gives and the choice of
// the algorithm a prepared product runs.
#pragma once

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/status.h"

namespace kiln::cuda {

/// The most workspace an algorithm may ask for (and never more than the engine's --workspace).
inline constexpr size_t kCublasLtMaxWorkspace = size_t{32} << 20;
/// Algorithms asked of the heuristics per product (each one is a build-time candidate).
inline constexpr int kCublasLtMaxAlgos = 8;
/// The pointer alignment the algorithms may assume (the kernels check it at enqueue).
inline constexpr uint32_t kCublasLtAlignment = 16;

struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  MatmulDesc() = default;
  MatmulDesc(MatmulDesc&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
  MatmulDesc& operator=(MatmulDesc&& o) noexcept {
    std::swap(d, o.d);
    return *this;
  }
  ~MatmulDesc() {
    if (d) cublasLtMatmulDescDestroy(d);
  }
};

struct MatrixLayout {
  cublasLtMatrixLayout_t d = nullptr;
  MatrixLayout() = default;
  MatrixLayout(MatrixLayout&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
  MatrixLayout& operator=(MatrixLayout&& o) noexcept {
    std::swap(d, o.d);
    return *this;
  }
  ~MatrixLayout() {
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

struct MatmulPreference {
  cublasLtMatmulPreference_t d = nullptr;
  MatmulPreference() = default;
  MatmulPreference(MatmulPreference&&) = delete;
  ~MatmulPreference() {
    if (d) cublasLtMatmulPreferenceDestroy(d);
  }
};

/// The heuristics' algorithms for D = op(A) op(B) (+ C, C and D of `cd`'s layout), best first: state SUCCESS
/// and workspace within min(kCublasLtMaxWorkspace, workspace_limit). `f32_split_k_only`: split-K partial sums
/// reduced in the compute type only (no in-place or output-type reduction; for f16 outputs).
Result<std::vector<cublasLtMatmulHeuristicResult_t>> cublaslt_heuristic_algos(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
    cublasLtMatrixLayout_t cd, size_t workspace_limit, bool f32_split_k_only = false);

/// The tactic ids (cublaslt_tactic_id) of `algos`, each once, in their order: a product's build-time candidates.
std::vector<std::string> cublaslt_candidate_ids(const std::vector<cublasLtMatmulHeuristicResult_t>& algos);

/// An algorithm and the workspace it needs.
struct CublasLtAlgo {
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};
/// What a prepared product runs: `tactic` when cuBLASLt accepts it for these descriptors within
/// min(kCublasLtMaxWorkspace, workspace_limit), else the heuristics' first (cublaslt_heuristic_algos); nullopt
/// when they offer none.
Result<std::optional<CublasLtAlgo>> cublaslt_choose_algo(cublasLtHandle_t handle, cublasLtMatmulDesc_t op,
                                                         cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                         cublasLtMatrixLayout_t cd,
                                                         const std::optional<cublasLtMatmulAlgo_t>& tactic,
                                                         size_t workspace_limit, bool f32_split_k_only = false);

}  // namespace kiln::cuda
