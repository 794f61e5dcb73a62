// Matrix products on cuBLASLt: Gemm, kiln.FusedGemm, MatMul and kiln.FusedMatMul (make_gemm_kernel, declared
// in kernels/kernel_factories.h).
//
// Row-major data: Y[M,N] = op(A)[M,K] op(B)[K,N] is computed as cuBLASLt's column-major Y^T = op(B)^T op(A)^T
// (cuBLASLt's "A" is kiln's B). A constant B (and A, C) is uploaded at creation; MatMul's A of any rank >= 1
// is flattened to [M, K] and its B must be a constant 2-D tensor. Bias-like C (Gemm: [N], [1,N] or one
// element, scaled by beta at creation; FusedMatMul: a bias of N elements on the last axis, or one element)
// goes to CUBLASLT_EPILOGUE_BIAS (RELU_BIAS when the activation is Relu); a C of the output's full shape is
// cuBLASLt's C with beta. Other activations run in kiln's epilogue kernel after the product.
//
// f32: CUBLAS_COMPUTE_32F (strict), CUBLAS_COMPUTE_32F_FAST_TF32 with KernelOptions::allow_tf32; f16: f16
// data, CUBLAS_COMPUTE_32F, f32 scale, and no split-K reduction in f16. Anything else (other dtypes, C of
// another shape such as [M,1], MatMul with a non-constant or non-2-D B) gets no kernel (null).
// Data pointers must be 16-byte aligned (the heuristics are asked for algos that need no more).
#pragma once

#include <cublasLt.h>

#include <optional>
#include <string>
#include <string_view>

#include "backends/cuda/cuda_kernel.h"

namespace kiln::cuda {

/// Tactic ids of the cuBLASLt kernels: "cublaslt:" + the 64 bytes of the cublasLtMatmulAlgo_t in hex
/// (128 lowercase digits, memory order).
std::string cublaslt_tactic_id(const cublasLtMatmulAlgo_t& algo);
/// The algo an id names; nullopt when `id` is not a well-formed cuBLASLt tactic id.
std::optional<cublasLtMatmulAlgo_t> parse_cublaslt_tactic(std::string_view id);

/// What tactic() reports when no tactic was set.
inline constexpr const char* kCublasLtHeuristicTactic = "cublaslt:heuristic";

}  // namespace kiln::cuda
