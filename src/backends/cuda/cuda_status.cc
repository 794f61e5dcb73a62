#include "backends/cuda/cuda_status.h"

#include <fmt/format.h>

namespace kiln::cuda {

Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return {};
  return Status::internal(fmt::format("CUDA error in {}: {} ({})", what, cudaGetErrorString(e), cudaGetErrorName(e)));
}

Status cudnn_status(cudnnStatus_t e, const char* what) {
  if (e == CUDNN_STATUS_SUCCESS) return {};
  return Status::internal(fmt::format("cuDNN error in {}: {}", what, cudnnGetErrorString(e)));
}

Status cublas_status(cublasStatus_t e, const char* what) {
  if (e == CUBLAS_STATUS_SUCCESS) return {};
  return Status::internal(fmt::format("cuBLASLt error in {}: status {}", what, static_cast<int>(e)));
}

}  // namespace kiln::cuda
