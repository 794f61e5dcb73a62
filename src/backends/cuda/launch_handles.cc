#include "backends/cuda/launch_handles.h"

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

LaunchHandles::~LaunchHandles() {
  if (ctx.cublaslt) cublasLtDestroy(ctx.cublaslt);
  if (ctx.cudnn) cudnnDestroy(ctx.cudnn);
  if (ctx.stream) cudaStreamDestroy(ctx.stream);
}

Status LaunchHandles::init(size_t workspace_limit) {
  KILN_CUDA_TRY(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
  KILN_CUDNN_TRY(cudnnCreate(&ctx.cudnn));
  KILN_CUDNN_TRY(cudnnSetStream(ctx.cudnn, ctx.stream));
  KILN_CUBLAS_TRY(cublasLtCreate(&ctx.cublaslt));
  ctx.workspace_limit = workspace_limit;
  return {};
}

}  // namespace kiln::cuda
