// Transpose: a tiled shared-memory kernel for batched 2-D transposes (what NCHW <-> NHWC and most other
// permutations reduce to once the caller has merged axes) and a general gather for the rest. Both move
// elements as 1/2/4/8-byte words, so every dtype of those sizes shares them.
#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // blockDim = (kTile, kTileRows): each thread moves kTile / kTileRows elements
constexpr int64_t kThinLimit = 8;  // below this many rows or cols the tiled kernel loses to the gather

// y[b][c][r] = x[b][r][c]. Each block walks tiles of kTile x kTile: reads rows of the tile coalesced along
// cols, writes rows of the transposed tile coalesced along rows. The +1 column avoids bank conflicts.
template <typename W>
__global__ void batched_transpose_kernel(const W* x, W* y, int64_t batch, int64_t rows, int64_t cols) {
  __shared__ W tile[kTile][kTile + 1];
  const int64_t tiles_r = (rows + kTile - 1) / kTile, tiles_c = (cols + kTile - 1) / kTile;
  const int64_t per_matrix = tiles_r * tiles_c, tiles = batch * per_matrix;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t b = t / per_matrix, rem = t % per_matrix;
    const int64_t r0 = (rem / tiles_c) * kTile, c0 = (rem % tiles_c) * kTile;
    const W* xb = x + b * rows * cols;
    W* yb = y + b * rows * cols;
    for (int i = ty; i < kTile; i += kTileRows) {
      const int64_t r = r0 + i, c = c0 + tx;
      if (r < rows && c < cols) tile[i][tx] = xb[r * cols + c];
    }
    __syncthreads();
    for (int i = ty; i < kTile; i += kTileRows) {
      const int64_t c = c0 + i, r = r0 + tx;  // output row c, column r
      if (c < cols && r < rows) yb[c * rows + r] = tile[tx][i];
    }
    __syncthreads();  // the tile is rewritten by the next iteration
  }
}

// y[i] = x[sum over output axes of coord * in_stride], I (int32 where everything fits) for the index math.
// The rank is a template parameter so the loop unrolls and the geometry stays in registers (indexed at run
// time it went through local memory, several times slower).
template <typename W, typename I, int kRank>
__global__ void transpose_kernel(const W* x, W* y, int64_t n, TransposeGeometry g) {
  I extent[kRank], stride[kRank];
#pragma unroll
  for (int d = 0; d < kRank; ++d) {
    extent[d] = static_cast<I>(g.out[d]);
    stride[d] = static_cast<I>(g.in_stride[d]);
  }
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    I rem = static_cast<I>(i), src = 0;
#pragma unroll
    for (int d = kRank - 1; d >= 0; --d) {
      src += (rem % extent[d]) * stride[d];
      rem /= extent[d];
    }
    y[i] = x[src];
  }
}

template <typename W>
cudaError_t run_batched(const void* x, void* y, int64_t batch, int64_t rows, int64_t cols, cudaStream_t stream) {
  const int64_t tiles = batch * ((rows + kTile - 1) / kTile) * ((cols + kTile - 1) / kTile);
  const unsigned blocks = static_cast<unsigned>(tiles < kMaxBlocks ? tiles : kMaxBlocks);
  batched_transpose_kernel<W><<<blocks, dim3(kTile, kTileRows), 0, stream>>>(static_cast<const W*>(x),
                                                                             static_cast<W*>(y), batch, rows, cols);
  return cudaGetLastError();
}

template <typename W, typename I>
cudaError_t run_general(const W* x, W* y, const TransposeGeometry& g, int64_t n, cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  switch (g.rank) {
    case 0: return cudaMemcpyAsync(y, x, sizeof(W), cudaMemcpyDeviceToDevice, stream);  // one element
    case 1: transpose_kernel<W, I, 1><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    case 2: transpose_kernel<W, I, 2><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    case 3: transpose_kernel<W, I, 3><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    case 4: transpose_kernel<W, I, 4><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    case 5: transpose_kernel<W, I, 5><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    case 6: transpose_kernel<W, I, 6><<<blocks, kThreads, 0, stream>>>(x, y, n, g); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

template <typename W>
cudaError_t run_general(const void* x, void* y, const TransposeGeometry& g, int64_t n, cudaStream_t stream) {
  // Source offsets stay below n (a permutation of the same elements), so n bounds the index math.
  if (n <= INT32_MAX) return run_general<W, int32_t>(static_cast<const W*>(x), static_cast<W*>(y), g, n, stream);
  return run_general<W, int64_t>(static_cast<const W*>(x), static_cast<W*>(y), g, n, stream);
}

}  // namespace

cudaError_t launch_batched_transpose(int32_t elem_bytes, const void* x, void* y, int64_t batch, int64_t rows,
                                     int64_t cols, cudaStream_t stream) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return cudaSuccess;
  // A thin matrix (an image's 3 channels) would leave most of a 32 x 32 tile idle; the gather, one thread
  // per output element, then reads a few short contiguous runs per warp and writes contiguously.
  if (rows < kThinLimit || cols < kThinLimit) {
    TransposeGeometry g{};
    g.rank = 3;
    g.out[0] = batch, g.in_stride[0] = rows * cols;
    g.out[1] = cols, g.in_stride[1] = 1;
    g.out[2] = rows, g.in_stride[2] = cols;
    return launch_transpose(elem_bytes, x, y, g, stream);
  }
  switch (elem_bytes) {
    case 1: return run_batched<uint8_t>(x, y, batch, rows, cols, stream);
    case 2: return run_batched<uint16_t>(x, y, batch, rows, cols, stream);
    case 4: return run_batched<uint32_t>(x, y, batch, rows, cols, stream);
    case 8: return run_batched<uint64_t>(x, y, batch, rows, cols, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_transpose(int32_t elem_bytes, const void* x, void* y, const TransposeGeometry& g,
                             cudaStream_t stream) {
  if (g.rank < 0 || g.rank > kMaxRank) return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < g.rank; ++d) n *= g.out[d];
  if (n <= 0) return cudaSuccess;
  switch (elem_bytes) {
    case 1: return run_general<uint8_t>(x, y, g, n, stream);
    case 2: return run_general<uint16_t>(x, y, g, n, stream);
    case 4: return run_general<uint32_t>(x, y, g, n, stream);
    case 8: return run_general<uint64_t>(x, y, g, n, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::launch
