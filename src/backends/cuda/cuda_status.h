// CUDA, cuDNN and cuBLASLt error codes as kiln Status values (errors are values at the library API).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "kiln/status.h"

namespace kiln::cuda {

Status cuda_status(cudaError_t e, const char* what);
Status cudnn_status(cudnnStatus_t e, const char* what);
Status cublas_status(cublasStatus_t e, const char* what);

}  // namespace kiln::cuda

/// `KILN_CUDA_TRY(cudaMemcpyAsync(...));` returns an internal Status naming the call and the error.
#define KILN_CUDA_TRY(expr) KILN_RETURN_IF_ERROR(::kiln::cuda::cuda_status((expr), #expr))
#define KILN_CUDNN_TRY(expr) KILN_RETURN_IF_ERROR(::kiln::cuda::cudnn_status((expr), #expr))
#define KILN_CUBLAS_TRY(expr) KILN_RETURN_IF_ERROR(::kiln::cuda::cublas_status((expr), #expr))
