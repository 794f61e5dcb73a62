// Concat's data movement: each input is `rows` contiguous rows (one per index of the axes before the concat
// axis) that land `dst_pitch` bytes apart in the output. Moved as the widest word (16 down to 1 bytes) that
// the pointers, row size and pitch allow, so any dtype shares the kernel.
#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

template <typename W>
__global__ void pitched_copy_kernel(const W* src, W* dst, int64_t rows, int64_t row_words, int64_t pitch_words) {
  const int64_t n = rows * row_words;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const int64_t r = i / row_words, c = i % row_words;
    dst[r * pitch_words + c] = src[i];
  }
}

template <typename W>
cudaError_t run(const void* src, void* dst, int64_t rows, int64_t row_bytes, int64_t dst_pitch, cudaStream_t stream) {
  const int64_t w = sizeof(W), row_words = row_bytes / w;
  pitched_copy_kernel<W><<<blocks_for(rows * row_words), kThreads, 0, stream>>>(
      static_cast<const W*>(src), static_cast<W*>(dst), rows, row_words, dst_pitch / w);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_pitched_copy(const void* src, void* dst, int64_t rows, int64_t row_bytes, int64_t dst_pitch,
                                cudaStream_t stream) {
  if (rows <= 0 || row_bytes <= 0) return cudaSuccess;
  if (dst_pitch < row_bytes) return cudaErrorInvalidValue;
  // One contiguous block: a plain device-to-device copy (capturable as a memcpy node).
  if (rows == 1 || dst_pitch == row_bytes)
    return cudaMemcpyAsync(dst, src, static_cast<size_t>(rows * row_bytes), cudaMemcpyDeviceToDevice, stream);
  const uint64_t alignment = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                             static_cast<uint64_t>(row_bytes) | static_cast<uint64_t>(dst_pitch);
  if (alignment % 16 == 0) return run<uint4>(src, dst, rows, row_bytes, dst_pitch, stream);
  if (alignment % 8 == 0) return run<uint64_t>(src, dst, rows, row_bytes, dst_pitch, stream);
  if (alignment % 4 == 0) return run<uint32_t>(src, dst, rows, row_bytes, dst_pitch, stream);
  if (alignment % 2 == 0) return run<uint16_t>(src, dst, rows, row_bytes, dst_pitch, stream);
  return run<uint8_t>(src, dst, rows, row_bytes, dst_pitch, stream);
}

}  // namespace kiln::cuda::launch
