// Implicit-GEMM convolution over 16 input channels, f16 or int8 (see few_channel_conv.h). A block keeps its
// 64 output channels' weights in shared memory and loops over output tiles of 128 pixels (tile_h x tile_w): it
// copies the tile's input patch (all the input pixels its windows touch, zeros where they fall in the padding)
// with cp.async, double-buffered (the next tile's patch is in flight while this one is computed), then eight
// warps of mma.sync (m16n8k16 f16 with f32 accumulation, or m16n8k32 int8 with int32), each owning 32 pixels x
// 32 channels, take 32-byte k-steps (one tap in f16, two in int8), their A fragments read by ldmatrix straight
// from the patch (row = pixel (th, tw) shifted by the tap; no im2col copy). The epilogue (f16: bias, ReLU;
// int8: kiln.QConv's requantization) goes through shared memory so that Y is written in whole 16-byte runs.
#include <cuda_fp16.h>

#include "backends/cuda/kernels/few_channel_conv.h"
#include "backends/cuda/kernels/igemm_tile.cuh"
#include "backends/cuda/kernels/mma_util.cuh"

namespace kiln::cuda::launch {

namespace {

constexpr int kTileM = kConvTilePixels;  // output pixels per tile
constexpr int kTileN = device::kIgemmTileN;     // output channels per block
constexpr int kBlockThreads = device::kIgemmThreads;  // 8 warps: 4 along M (32 pixels each) x 2 along N (32 each)
static_assert(kTileN == kFewChannelConvTileK, "W's padding is the block's channel tile");
constexpr int kBlocksPerSm = 3;                 // ~64 KB of shared memory each at ResNet-50's stem

using device::copy_commit;
using device::copy_wait;
using device::kChunkBytes;

// The element types. A k-step of the tensor-core instruction is 32 bytes of each A row and W row: two
// 16-byte chunks (ldmatrix's matrices at k 0-15 and 16-31 bytes). An input pixel is kChunksPerPixel chunks.
struct F16 {
  using Element = __half;
  using Acc = float;
  static constexpr int kChunksPerPixel = 2;
  static constexpr int kOutStrideBytes = (kTileN + 8) * 2;  // a staged output row (the 8 spread the banks)
  __device__ static void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    device::mma_f16(d, a, b0, b1);
  }
  // Output channels `channel` and `channel` + 1 of one pixel: bias, ReLU, f16.
  __device__ static void store_pair(const FewChannelConvArgs& a, int channel, float v0, float v1, char* out) {
    v0 += a.bias && channel < a.k ? a.bias[channel] : 0.0f;
    v1 += a.bias && channel + 1 < a.k ? a.bias[channel + 1] : 0.0f;
    if (a.relu) {
      v0 = v0 > 0.0f ? v0 : 0.0f;
      v1 = v1 > 0.0f ? v1 : 0.0f;
    }
    *reinterpret_cast<__half2*>(out) = __floats2half2_rn(v0, v1);
  }
};

struct I8 {
  using Element = int8_t;
  using Acc = int;
  static constexpr int kChunksPerPixel = 1;
  static constexpr int kOutStrideBytes = kTileN + 16;
  __device__ static void mma(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    device::mma_s8(d, a, b0, b1);
  }
  // kiln.QConv's requantization (no residual here); channels past k are not stored.
  __device__ static int8_t requantize(const FewChannelConvArgs& a, int channel, int acc) {
    if (channel >= a.k) return 0;
    // At most 16 channels x kFewChannelConvMaxTaps (16) products: a small accumulator.
    static_assert(kFewChannelConvMaxTaps * 16 <= 256, "few-channel accumulators convert without I2F");
    return device::requantize_qconv<true>(acc, a.mult[channel], a.bias ? a.bias[channel] : 0.0f, a.lo, a.hi);
  }
  __device__ static void store_pair(const FewChannelConvArgs& a, int channel, int v0, int v1, char* out) {
    out[0] = static_cast<char>(requantize(a, channel, v0));
    out[1] = static_cast<char>(requantize(a, channel + 1, v1));
  }
};

template <typename T>
__global__ void __launch_bounds__(kBlockThreads, kBlocksPerSm)
    few_channel_conv_kernel(FewChannelConvArgs a, ConvTiling t, int taps, int padded_taps) {
  constexpr int kCpp = T::kChunksPerPixel;
  constexpr int kElemBytes = static_cast<int>(sizeof(typename T::Element));
  extern __shared__ uint4 smem[];
  const int row_chunks = padded_taps * kCpp;               // a multiple of 8
  uint4* tile_w = smem;                                    // kTileN rows of row_chunks
  uint4* patches = smem + kTileN * row_chunks;             // 2 buffers of patch_h x patch_w pixels
  const int patch_chunks = t.patch_h * t.patch_w * kCpp;
  char* staged = reinterpret_cast<char*>(patches + 2 * patch_chunks);  // kTileM rows of T::kOutStrideBytes

  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const char* x = static_cast<const char*>(a.x);
  device::copy_w_rows(tile_w, static_cast<const char*>(a.w) + static_cast<int64_t>(n0) * row_chunks * kChunkBytes,
                      row_chunks, row_chunks);
  copy_commit();

  const device::TileGrid grid(t, a.n, a.out_h, a.out_w);
  const device::WarpTile warp(grid, t, a.stride_h, a.stride_w);
  const int k_steps = (taps * kCpp + 1) / 2;
  // Starts copying tile `tile`'s input patch into `patch` (the caller commits the group).
  auto copy_patch = [&](int tile, uint4* patch) {
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    grid.origin(tile, image, oh0, ow0);
    device::copy_patch<kCpp>(patch, x, image, oh0 * a.stride_h - a.pad_h, ow0 * a.stride_w - a.pad_w, t, a.h,
                             a.w_extent, kCpp * kChunkBytes, 0);
  };

  // Double-buffered: the next tile's patch is copied while this one's is computed.
  int buffer = 0;
  if (static_cast<int>(blockIdx.x) < grid.tiles) copy_patch(static_cast<int>(blockIdx.x), patches);
  copy_commit();
  for (int tile = static_cast<int>(blockIdx.x); tile < grid.tiles; tile += static_cast<int>(gridDim.x)) {
    if (tile + static_cast<int>(gridDim.x) < grid.tiles) copy_patch(tile + static_cast<int>(gridDim.x), patches + (buffer ^ 1) * patch_chunks);
    copy_commit();
    copy_wait<1>();  // all but the copy just started: W and this tile's patch
    __syncthreads();
    const uint4* patch = patches + buffer * patch_chunks;

    typename T::Acc acc[2][4][4];
    device::zero(acc);
    for (int step = 0; step < k_steps; ++step) {
      // This lane's A chunk: lanes 0-15 the step's first 16 bytes, 16-31 its second. A chunk past the last tap
      // (int8, odd tap count) reads tap 0: W is zero there.
      const int q = 2 * step + (warp.lane >> 4);
      int tap = q / kCpp;
      if (tap >= taps) tap = 0;
      const int r = tap / a.kernel_w, s = tap - r * a.kernel_w;
      warp.k_step<kCpp>(patch, r * a.dilation_h * t.patch_w + s * a.dilation_w, q % kCpp, tile_w, row_chunks,
                        2 * step, acc, T::mma);
    }

    warp.for_each_pair(acc, [&](int row, int col, typename T::Acc v0, typename T::Acc v1) {
      T::store_pair(a, n0 + col, v0, v1, staged + row * T::kOutStrideBytes + col * kElemBytes);
    });
    __syncthreads();
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    grid.origin(tile, image, oh0, ow0);
    device::store_staged(staged, T::kOutStrideBytes, kTileN * kElemBytes, static_cast<char*>(a.y), grid, image, oh0,
                         ow0, a.out_h, a.out_w, n0, a.k, kElemBytes);
    __syncthreads();  // this patch buffer and the staging area are rewritten by the next tiles
    buffer ^= 1;
  }
  copy_wait<0>();  // a block without a tile still waits for its W copies
}

template <typename T>
size_t shared_bytes(int padded_taps, int patch_bytes) {
  const size_t w_bytes = static_cast<size_t>(kTileN) * static_cast<size_t>(padded_taps) * T::kChunksPerPixel * kChunkBytes;
  // patch_bytes: a multiple of 16
  return w_bytes + 2 * static_cast<size_t>(patch_bytes) + static_cast<size_t>(kTileM) * T::kOutStrideBytes;
}

template <typename T>
cudaError_t allow_shared_memory() {
  const int padded = few_channel_conv_padded_taps(
      T::kChunksPerPixel == 2 ? FewChannelConvType::kF16 : FewChannelConvType::kI8, kFewChannelConvMaxTaps);
  return cudaFuncSetAttribute(few_channel_conv_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(shared_bytes<T>(padded, kFewChannelConvMaxPatchBytes)));
}

template <typename T>
void launch(const FewChannelConvArgs& a, const ConvTiling& t, dim3 grid, int taps, int padded,
            cudaStream_t stream) {
  few_channel_conv_kernel<T><<<grid, kBlockThreads, shared_bytes<T>(padded, t.patch_bytes()), stream>>>(a, t, taps, padded);
}

}  // namespace

cudaError_t prepare_few_channel_conv(int* blocks) {
  cudaError_t e = allow_shared_memory<F16>();
  if (e == cudaSuccess) e = allow_shared_memory<I8>();
  return e == cudaSuccess ? device::resident_blocks(kBlocksPerSm, blocks) : e;
}

cudaError_t launch_few_channel_conv(const FewChannelConvArgs& a, int blocks, cudaStream_t stream) {
  if (!few_channel_conv_supported(a) || blocks < 1) return cudaErrorInvalidValue;
  if (a.type == FewChannelConvType::kI8 && !a.mult) return cudaErrorInvalidValue;
  const ConvTiling t = few_channel_conv_tiling(a);
  const int64_t tiles = conv_tile_count(few_channel_conv_window(a), t, a.n);
  if (tiles <= 0) return cudaSuccess;
  const int taps = a.kernel_h * a.kernel_w, padded = few_channel_conv_padded_taps(a.type, taps);
  const IgemmGrid g = igemm_grid(tiles, (a.k + kTileN - 1) / kTileN, blocks);
  const dim3 grid(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y));
  if (a.type == FewChannelConvType::kF16) launch<F16>(a, t, grid, taps, padded, stream);
  else launch<I8>(a, t, grid, taps, padded, stream);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::launch
