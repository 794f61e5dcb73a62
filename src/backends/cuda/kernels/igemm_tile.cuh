// The block-level pieces shared by kiln's implicit-GEMM convolution kernels (few_channel_conv.cu,
// int8_conv.cu): a block computes output tiles of kConvTilePixels pixels x 64 channels with 8 warps (4 along
// the pixels, 32 each; 2 along the channels, 32 each), its A operand read from an input patch in shared memory
// and its B operand from W rows in shared memory, both through ldmatrix.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/kernels/conv_tiling.h"
#include "backends/cuda/kernels/mma_util.cuh"

namespace kiln::cuda::device {

constexpr int kIgemmThreads = 256;
constexpr int kIgemmTileN = 64;

// How many blocks the current device holds at once with `per_sm` on each multiprocessor (host code).
inline cudaError_t resident_blocks(int per_sm, int* blocks) {
  int device = 0, sms = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (e == cudaSuccess) *blocks = sms * per_sm;
  return e;
}

// The output tiles of `n` images: tile t's image and first output row and column. Tiles are indexed with 32-bit
// integers (the launchers refuse more than conv_tile_count_fits allows): 64-bit division is a long subroutine.
struct TileGrid {
  int tiles_w = 0, tile_h = 1, tile_w = 1, log2_tile_w = 0;
  int tiles_per_image = 0, tiles = 0;

  __device__ TileGrid(const launch::ConvTiling& t, int64_t n, int out_h, int out_w)
      : tiles_w((out_w + t.tile_w - 1) >> t.log2_tile_w), tile_h(t.tile_h), tile_w(t.tile_w),
        log2_tile_w(t.log2_tile_w) {
    tiles_per_image = (out_h + t.tile_h - 1) / t.tile_h * tiles_w;
    tiles = static_cast<int>(n) * tiles_per_image;
  }
  __device__ void origin(int tile, int64_t& image, int& oh0, int& ow0) const {
    const int im = tile / tiles_per_image;
    const int rem = tile - im * tiles_per_image;
    image = im;
    oh0 = rem / tiles_w * tile_h;
    ow0 = (rem % tiles_w) << log2_tile_w;
  }
  // Tile pixel `row` (th, tw in row-major order).
  __device__ int row_h(int row) const { return row >> log2_tile_w; }
  __device__ int row_w(int row) const { return row & (tile_w - 1); }
};

// Starts copying a tile's input patch (patch_h x patch_w pixels from (ih0, iw0) of `image`, kCpp chunks of each
// pixel from byte `channel_offset` on; pixels `pixel_stride` bytes apart in X) into `patch`, zeros outside
// the input. The caller commits.
template <int kCpp>
__device__ void copy_patch(uint4* patch, const char* x, int64_t image, int ih0, int iw0, const launch::ConvTiling& t,
                           int h, int w, int pixel_stride, int channel_offset) {
  const int tid = static_cast<int>(threadIdx.x);
  for (int i = tid; i < t.patch_h * t.patch_w * kCpp; i += kIgemmThreads) {
    const int p = i / kCpp, c = i % kCpp;
    const int pr = p / t.patch_w, pc = p - pr * t.patch_w;
    const int ih = ih0 + pr, iw = iw0 + pc;
    const bool valid = ih >= 0 && ih < h && iw >= 0 && iw < w;
    const char* src =
        valid ? x + ((image * h + ih) * w + iw) * pixel_stride + channel_offset + c * kChunkBytes : x;
    copy_16(shared_address(patch + patch_chunk<kCpp>(p, c)), src, valid);
  }
}

// Starts copying 64 W rows of `row_chunks` chunks each (row r at `w` + (r * row_stride) chunks) into
// `w_tile`, swizzled. The caller commits.
__device__ inline void copy_w_rows(uint4* w_tile, const char* w, int row_chunks, int64_t row_stride) {
  const int tid = static_cast<int>(threadIdx.x);
  for (int i = tid; i < kIgemmTileN * row_chunks; i += kIgemmThreads) {
    const int row = i / row_chunks, chunk = i % row_chunks;
    copy_16(shared_address(w_tile + swizzled(row, chunk, row_chunks)), w + (row * row_stride + chunk) * kChunkBytes,
            true);
  }
}

// The warp's place in the block tile and the patch pixel under tap (0, 0) of this lane's two ldmatrix rows.
struct WarpTile {
  int warp_m = 0, warp_n = 0, lane = 0;
  int a_pixel[2] = {0, 0};

  // A plain GEMM tile (int8_pointwise.cu): A's rows are the tile's rows, in order.
  __device__ WarpTile() {
    const int warp = static_cast<int>(threadIdx.x) >> 5;
    lane = static_cast<int>(threadIdx.x) & 31;
    warp_m = (warp & 3) * 32;
    warp_n = (warp >> 2) * 32;
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) a_pixel[mi] = warp_m + mi * 16 + (lane & 15);
  }
  // An output tile of a convolution: row r's A row is its window's first pixel in the patch.
  __device__ WarpTile(const TileGrid& g, const launch::ConvTiling& t, int stride_h, int stride_w) : WarpTile() {
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
      const int row = a_pixel[mi];
      a_pixel[mi] = g.row_h(row) * stride_h * t.patch_w + g.row_w(row) * stride_w;
    }
  }

  // One 32-byte k-step of the warp's 32 x 32 tile: A = the patch's chunk `a_chunk` of the pixels shifted by
  // `tap_pixel` (lanes 16-31 pass the step's second chunk), B = W's chunks `b_chunk`, `b_chunk` + 1.
  template <int kCpp, typename Acc, typename Mma>
  __device__ void k_step(const uint4* patch, int tap_pixel, int a_chunk, const uint4* w_tile, int w_row_chunks,
                         int b_chunk, Acc (&acc)[2][4][4], Mma mma) const {
    uint32_t af[2][4], bf[4][2];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)  // matrices: pixels 0-7 / 8-15 at k bytes 0-15, then 16-31 (a0..a3)
      ldmatrix_x4(shared_address(patch + patch_chunk<kCpp>(a_pixel[mi] + tap_pixel, a_chunk)), af[mi]);
#pragma unroll
    for (int nj = 0; nj < 2; ++nj) {
      // Matrices: output channels 0-7 at k bytes 0-15 and 16-31, then channels 8-15 likewise (two B fragments).
      const int row = warp_n + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
      uint32_t b[4];
      ldmatrix_x4(shared_address(w_tile + swizzled(row, b_chunk + ((lane >> 3) & 1), w_row_chunks)), b);
      bf[2 * nj][0] = b[0];
      bf[2 * nj][1] = b[1];
      bf[2 * nj + 1][0] = b[2];
      bf[2 * nj + 1][1] = b[3];
    }
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) mma(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
  }

  // The first of the two output channels (of the block's 64) this lane holds in accumulator column group ni.
  __device__ int pair_col(int ni) const { return warp_n + ni * 8 + (lane & 3) * 2; }

  // This lane's per-channel requantization parameters: its accumulator pairs cover 8 of the block's channels
  // (from n0), two per column group ni; zeros past k (even, so channel + 1 is valid with channel) and for a
  // null bias.
  __device__ void load_channel_params(int n0, int k, const float* mult_in, const float* bias_in, float2 (&mult)[4],
                                      float2 (&bias)[4]) const {
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
      const int channel = n0 + pair_col(ni);
      const bool valid = channel < k;
      mult[ni] = valid ? make_float2(mult_in[channel], mult_in[channel + 1]) : make_float2(0.0f, 0.0f);
      bias[ni] = valid && bias_in ? make_float2(bias_in[channel], bias_in[channel + 1]) : make_float2(0.0f, 0.0f);
    }
  }

  // kiln.QConv's epilogue of the int8 kernels: every accumulator pair requantized (load_channel_params' mult and
  // bias) into the staged tile (rows `stride_bytes` apart), in place of the staged residual when `residual` (each
  // pair read and written by the same lane). `small_acc`: each accumulator sums at most 256 products
  // (small_accumulator), converted without I2F. The caller synchronizes before the tile is stored.
  __device__ void requantize_into_staged(const int (&acc)[2][4][4], const float2 (&mult)[4], const float2 (&bias)[4],
                                         char* staged, int stride_bytes, bool residual, bool small_acc, float z_mult,
                                         float lo, float hi) const {
    if (small_acc) requantize_into_staged<true>(acc, mult, bias, staged, stride_bytes, residual, z_mult, lo, hi);
    else requantize_into_staged<false>(acc, mult, bias, staged, stride_bytes, residual, z_mult, lo, hi);
  }
  template <bool kSmallAcc>
  __device__ void requantize_into_staged(const int (&acc)[2][4][4], const float2 (&mult)[4], const float2 (&bias)[4],
                                         char* staged, int stride_bytes, bool residual, float z_mult, float lo,
                                         float hi) const {
    for_each_pair_of_group(acc, [&](int ni, int row, int col, int v0, int v1) {
      char2* pair = reinterpret_cast<char2*>(staged + row * stride_bytes + col);
      if (residual) {
        const char2 r = *pair;
        *pair = make_char2(requantize_qconv<kSmallAcc>(v0, mult[ni].x, bias[ni].x, r.x, z_mult, lo, hi),
                           requantize_qconv<kSmallAcc>(v1, mult[ni].y, bias[ni].y, r.y, z_mult, lo, hi));
      } else {
        *pair = make_char2(requantize_qconv<kSmallAcc>(v0, mult[ni].x, bias[ni].x, lo, hi),
                           requantize_qconv<kSmallAcc>(v1, mult[ni].y, bias[ni].y, lo, hi));
      }
    });
  }

  // Calls f(ni, row, col, v0, v1) for each pair of accumulator elements this lane holds: tile pixel `row`,
  // output channels col = pair_col(ni) and col + 1 of the block's 64.
  template <typename Acc, typename F>
  __device__ void for_each_pair_of_group(const Acc (&acc)[2][4][4], F f) const {
    const int group = lane >> 2;
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          f(ni, warp_m + mi * 16 + group + h * 8, pair_col(ni), acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]);
  }

  // Calls f(row, col, v0, v1) for each pair, as for_each_pair_of_group.
  template <typename Acc, typename F>
  __device__ void for_each_pair(const Acc (&acc)[2][4][4], F f) const {
    for_each_pair_of_group(acc, [&](int, int row, int col, Acc v0, Acc v1) { f(row, col, v0, v1); });
  }
};

template <typename Acc>
__device__ void zero(Acc (&acc)[2][4][4]) {
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0;
}

// Stores the staged output tile (kConvTilePixels rows of `row_bytes`, `stride_bytes` apart) into NHWC Y of `k`
// channels of `elem_bytes`, from channel n0, skipping pixels past the output's edge and channels past k.
__device__ inline void store_staged(const char* staged, int stride_bytes, int row_bytes, char* y, const TileGrid& g,
                                    int64_t image, int oh0, int ow0, int out_h, int out_w, int n0, int k,
                                    int elem_bytes) {
  const int row_chunks = row_bytes / kChunkBytes, channels_per_chunk = kChunkBytes / elem_bytes;
  for (int i = static_cast<int>(threadIdx.x); i < launch::kConvTilePixels * row_chunks; i += kIgemmThreads) {
    const int row = i / row_chunks, chunk = i % row_chunks;
    const int oh = oh0 + g.row_h(row), ow = ow0 + g.row_w(row);
    const int channel = n0 + chunk * channels_per_chunk;
    if (oh >= out_h || ow >= out_w || channel >= k) continue;
    const int64_t m = (image * out_h + oh) * out_w + ow;
    *reinterpret_cast<uint4*>(y + (m * k + channel) * elem_bytes) =
        *reinterpret_cast<const uint4*>(staged + row * stride_bytes + chunk * kChunkBytes);
  }
}

}  // namespace kiln::cuda::device
