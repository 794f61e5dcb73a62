#include "backends/cuda/device_buffer.h"

#include <fmt/format.h>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  cudaError_t e = cudaMalloc(&b.ptr_, bytes);
  if (e != cudaSuccess)
    return Status::internal(fmt::format("cannot allocate {} bytes of GPU memory: {}", bytes, cudaGetErrorString(e)));
  b.bytes_ = bytes;
  return b;
}

Result<DeviceBuffer> DeviceBuffer::upload(const void* host, size_t bytes) {
  KILN_ASSIGN_OR_RETURN(DeviceBuffer b, allocate(bytes));
  if (bytes) KILN_CUDA_TRY(cudaMemcpy(b.ptr_, host, bytes, cudaMemcpyHostToDevice));
  return b;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

Result<PinnedBuffer> PinnedBuffer::allocate(size_t bytes) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  cudaError_t e = cudaMallocHost(&b.ptr_, bytes);
  if (e != cudaSuccess)
    return Status::internal(fmt::format("cannot allocate {} bytes of pinned host memory: {}", bytes, cudaGetErrorString(e)));
  b.bytes_ = bytes;
  return b;
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

}  // namespace kiln::cuda
