// kiln.QMatMul's integer matmul with requantization (see launch_qmatmul in launch.h).
//
// One block computes a 32 x 64 tile of y with 256 threads, 2 x 4 outputs each (rows ty, ty + 16; columns
// tx + 16 j, so a warp's shared-memory reads of b hit distinct banks), stepping through k kQMatMulTileK (128)
// bytes at a time (a step waits for its global loads: ResNet-50's classifier, k = 2048, took 0.095 ms at batch
// 32 in 32-byte steps, latency-bound with only 16 blocks):
// a's tile is read byte by byte (a may sit at any address and K need not be a multiple of 4), shifted to
// int8 when a is u8 and packed into words; b's tile comes as words from the packed copy. The products use
// dp4a (four int8 products summed into int32 per instruction). Out-of-range k is zero in both tiles, so it
// adds nothing to the products or the row sums.
//
// Requantization is float32: t = float(acc) * multiplier[n] (one rounding each, no FMA), q = rint(t) + zp
// clamped to [y_lo, y_hi] (saturation and the activation). rint(t) + zp is exact below 2^24; larger values
// clamp either way.
#include <cuda_runtime.h>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

constexpr int kTileM = 32, kTileN = kQMatMulTileN, kTileK = kQMatMulTileK;
constexpr int kWordsK = kTileK / 4;  // int32 words per tile row
constexpr int kThreadsX = 16, kThreadsY = 16;
constexpr int kRowsPerThread = kTileM / kThreadsY, kColsPerThread = kTileN / kThreadsX;
static_assert(kThreadsX * kThreadsY == device::kThreads, "one block of kThreads threads");
static_assert((kTileM * kWordsK) % device::kThreads == 0, "a words spread evenly over the threads");
static_assert((kTileN * kWordsK) % device::kThreads == 0, "b words spread evenly over the threads");

template <typename Y, bool kRowSums>
__global__ void __launch_bounds__(device::kThreads)
    qmatmul_kernel(const uint8_t* __restrict__ a, const int32_t* __restrict__ b_packed,
                   const int32_t* __restrict__ col_offset, const int32_t* __restrict__ col_zero_point,
                   const float* __restrict__ multiplier, Y* __restrict__ y, QMatMulGeometry g) {
  // Rows padded by one word: the 16 columns a warp reads per k step land in 16 different banks.
  __shared__ int32_t a_tile[kTileM][kWordsK + 1];
  __shared__ int32_t b_tile[kTileN][kWordsK + 1];
  const int tid = threadIdx.x, tx = tid % kThreadsX, ty = tid / kThreadsX;
  const int n0 = blockIdx.x * kTileN;
  const int64_t b_row_words = g.k_padded / 4;

  for (int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTileM; m0 < g.m; m0 += static_cast<int64_t>(gridDim.y) * kTileM) {
    int32_t acc[kRowsPerThread][kColsPerThread] = {};
    int32_t row_sum[kRowsPerThread] = {};
    for (int k0 = 0; k0 < g.k_padded; k0 += kTileK) {
      // a's words: row a_row of the tile, bytes 4 * a_word .. + 3 of the k step.
      for (int i = tid; i < kTileM * kWordsK; i += device::kThreads) {
        const int a_row = i / kWordsK, a_word = i % kWordsK;
        const int64_t m_load = m0 + a_row;
        uint32_t word = 0;
        for (int j = 0; j < 4; ++j) {
          const int k = k0 + 4 * a_word + j;
          const uint32_t byte = m_load < g.m && k < g.k ? static_cast<uint32_t>(a[m_load * g.k + k] ^ g.a_flip) : 0u;
          word |= byte << (8 * j);
        }
        a_tile[a_row][a_word] = static_cast<int32_t>(word);
      }
      for (int i = tid; i < kTileN * kWordsK; i += device::kThreads) {
        const int row = i / kWordsK, w = i % kWordsK;
        b_tile[row][w] = b_packed[(n0 + row) * b_row_words + k0 / 4 + w];
      }
      __syncthreads();
#pragma unroll
      for (int w = 0; w < kWordsK; ++w) {
        int32_t av[kRowsPerThread];
#pragma unroll
        for (int r = 0; r < kRowsPerThread; ++r) {
          av[r] = a_tile[ty + r * kThreadsY][w];
          if constexpr (kRowSums) row_sum[r] = __dp4a(av[r], 0x01010101, row_sum[r]);
        }
#pragma unroll
        for (int c = 0; c < kColsPerThread; ++c) {
          const int32_t bv = b_tile[tx + c * kThreadsX][w];
#pragma unroll
          for (int r = 0; r < kRowsPerThread; ++r) acc[r][c] = __dp4a(av[r], bv, acc[r][c]);
        }
      }
      __syncthreads();  // the tiles are overwritten by the next k step
    }

    const float lo = static_cast<float>(g.y_lo), hi = static_cast<float>(g.y_hi), zp = static_cast<float>(g.y_zero_point);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r) {
      const int64_t m = m0 + ty + r * kThreadsY;
      if (m >= g.m) continue;
#pragma unroll
      for (int c = 0; c < kColsPerThread; ++c) {
        const int n = n0 + tx + c * kThreadsX;
        if (n >= g.n) continue;
        // uint32: the reference's int32 wrap-around without signed overflow.
        uint32_t sum = static_cast<uint32_t>(acc[r][c]) + static_cast<uint32_t>(col_offset[n]);
        if constexpr (kRowSums) sum -= static_cast<uint32_t>(col_zero_point[n]) * static_cast<uint32_t>(row_sum[r]);
        const float t = __fmul_rn(__int2float_rn(static_cast<int32_t>(sum)), multiplier[n]);
        const float q = fminf(fmaxf(rintf(t) + zp, lo), hi);
        y[m * g.n + n] = static_cast<Y>(__float2int_rn(q));
      }
    }
  }
}

template <typename Y>
cudaError_t run(const void* a, const void* b_packed, const int32_t* col_offset, const int32_t* col_zero_point,
                const float* multiplier, void* y, const QMatMulGeometry& g, cudaStream_t stream) {
  const int64_t col_tiles = (static_cast<int64_t>(g.n) + kTileN - 1) / kTileN;
  const int64_t row_tiles = (g.m + kTileM - 1) / kTileM;
  if (col_tiles > INT32_MAX) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles < 65535 ? row_tiles : 65535));
  const auto* ap = static_cast<const uint8_t*>(a);
  const auto* bp = static_cast<const int32_t*>(b_packed);
  Y* yp = static_cast<Y*>(y);
  if (g.row_sums)
    qmatmul_kernel<Y, true><<<grid, device::kThreads, 0, stream>>>(ap, bp, col_offset, col_zero_point, multiplier, yp, g);
  else
    qmatmul_kernel<Y, false><<<grid, device::kThreads, 0, stream>>>(ap, bp, col_offset, col_zero_point, multiplier, yp, g);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_qmatmul(ElemType y_type, const void* a, const void* b_packed, const int32_t* col_offset,
                           const int32_t* col_zero_point, const float* multiplier, void* y, const QMatMulGeometry& g,
                           cudaStream_t stream) {
  if (g.m <= 0 || g.n <= 0) return cudaSuccess;
  if (g.k < 0 || g.k_padded < g.k || g.k_padded % kTileK != 0) return cudaErrorInvalidValue;
  switch (y_type) {
    case ElemType::kI8: return run<int8_t>(a, b_packed, col_offset, col_zero_point, multiplier, y, g, stream);
    case ElemType::kU8: return run<uint8_t>(a, b_packed, col_offset, col_zero_point, multiplier, y, g, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::launch
