// Implicit-GEMM convolution over 16 input channels (see few_channel_conv.h). A block keeps its 64 output
// channels' weights in shared memory and loops over output tiles of 128 pixels (tile_h x tile_w): it copies the
// tile's input patch (all the input pixels its windows touch, zeros where they fall in the padding) with
// cp.async, double-buffered (the next tile's patch is in flight while this one is computed), then eight warps
// of mma.sync m16n8k16 (f16 in, f32 accumulate), each owning 32 pixels x 32 channels, take one 16-element step
// per window tap, their A fragments read by ldmatrix straight from the patch (row = pixel (th, tw) shifted by
// the tap; no im2col copy). The epilogue adds the bias, applies ReLU, rounds to f16 and goes through shared
// memory so that Y is written in whole 16-byte runs.
#include <cuda_fp16.h>

#include "backends/cuda/kernels/few_channel_conv.h"

namespace kiln::cuda::launch {

namespace {

constexpr int kTileM = kFewChannelConvTilePixels;  // output pixels per tile
constexpr int kTileN = kFewChannelConvTileK;    // output channels per block
constexpr int kBlockThreads = 256;              // 8 warps: 4 along M (32 pixels each) x 2 along N (32 each)
constexpr int kOutStride = kTileN + 8;          // halves per staged output row (the 8 spread the banks)
constexpr int kHalvesPerChunk = 8;              // a 16-byte copy
constexpr int kBlocksPerSm = 3;                 // ~64 KB of shared memory each at ResNet-50's stem
static_assert(kFewChannelConvChannels == 2 * kHalvesPerChunk, "a tap is two 16-byte chunks");

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Chunk `chunk` of tile row `row` (`row_chunks` chunks per row, a multiple of 8): XOR-swizzled within groups
// of 8 so that the 8 row addresses of one ldmatrix at the same logical chunk fall in 8 different bank groups.
__device__ __forceinline__ int swizzled(int row, int chunk, int row_chunks) {
  return row * row_chunks + (chunk ^ (row & 7));
}

// 16 bytes global -> shared, asynchronously; zeros when !valid (src is then not read).
__device__ __forceinline__ void copy_16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t address, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The patch's 16-byte chunk `half` of pixel p: the halves of every other group of 4 pixels swapped, so that
// ldmatrix's 8 row addresses (8 neighbouring pixels, 32 bytes apart) fall in 8 different bank groups.
__device__ __forceinline__ int patch_chunk(int p, int half) { return 2 * p + (half ^ ((p >> 2) & 1)); }

__global__ void __launch_bounds__(kBlockThreads, kBlocksPerSm)
    few_channel_conv_kernel(FewChannelConvArgs a, FewChannelConvTiling t, int taps, int padded_taps) {
  extern __shared__ uint4 smem[];
  const int row_chunks = padded_taps * 2;
  uint4* tile_w = smem;                                  // kTileN rows of row_chunks
  uint4* patches = smem + kTileN * row_chunks;           // 2 buffers of patch_h x patch_w pixels of 2 chunks
  const int patch_chunks = t.patch_h * t.patch_w * 2;
  // kTileM x kOutStride halves after the patches
  __half* staged = reinterpret_cast<__half*>(patches + 2 * patch_chunks);

  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const __half* x = static_cast<const __half*>(a.x);
  const __half* w = static_cast<const __half*>(a.w);
  __half* y = static_cast<__half*>(a.y);

  for (int i = tid; i < kTileN * row_chunks; i += kBlockThreads) {
    const int row = i / row_chunks, chunk = i % row_chunks;
    copy_16(shared_address(tile_w + swizzled(row, chunk, row_chunks)),
            w + (static_cast<int64_t>(n0 + row) * row_chunks + chunk) * kHalvesPerChunk, true);
  }
  asm volatile("cp.async.commit_group;\n" ::);

  const int warp_m = (warp & 3) * 32, warp_n = (warp >> 2) * 32;
  // The patch pixel under tap (0, 0) of this lane's two ldmatrix rows (tile pixels (th, tw)), and its half.
  int a_pixel[2];
#pragma unroll
  for (int mi = 0; mi < 2; ++mi) {
    const int row = warp_m + mi * 16 + (lane & 15);
    a_pixel[mi] = (row >> t.log2_tile_w) * a.stride_h * t.patch_w + (row & (t.tile_w - 1)) * a.stride_w;
  }
  const int a_half = lane >> 4;
  const int group = lane >> 2, pair = (lane & 3) * 2;

  const int tiles_w = (a.out_w + t.tile_w - 1) >> t.log2_tile_w;
  const int tiles_h = (a.out_h + t.tile_h - 1) / t.tile_h;
  const int64_t tiles_per_image = static_cast<int64_t>(tiles_h) * tiles_w;
  const int64_t tiles = a.n * tiles_per_image;
  const int patch_pixels = t.patch_h * t.patch_w;
  // Where tile `tile` starts: its image and its first output row and column.
  auto tile_origin = [&](int64_t tile, int64_t& image, int& oh0, int& ow0) {
    image = tile / tiles_per_image;
    const int rem = static_cast<int>(tile - image * tiles_per_image);
    oh0 = rem / tiles_w * t.tile_h;
    ow0 = rem % tiles_w * t.tile_w;
  };
  // Starts copying tile `tile`'s input patch into `patch` (one commit group).
  auto copy_patch = [&](int64_t tile, uint4* patch) {
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    tile_origin(tile, image, oh0, ow0);
    const int ih0 = oh0 * a.stride_h - a.pad_h, iw0 = ow0 * a.stride_w - a.pad_w;
    const __half* x_image = x + image * a.h * a.w_extent * kFewChannelConvChannels;
    for (int i = tid; i < patch_pixels * 2; i += kBlockThreads) {
      const int p = i >> 1, half = i & 1;
      const int pr = p / t.patch_w, pc = p - pr * t.patch_w;
      const int ih = ih0 + pr, iw = iw0 + pc;
      const bool valid = ih >= 0 && ih < a.h && iw >= 0 && iw < a.w_extent;
      const __half* src = valid ? x_image + (static_cast<int64_t>(ih) * a.w_extent + iw) * kFewChannelConvChannels +
                                      half * kHalvesPerChunk
                                : x;
      copy_16(shared_address(patch + patch_chunk(p, half)), src, valid);
    }
  };

  // Double-buffered: the next tile's patch is copied while this one's is computed.
  int buffer = 0;
  if (static_cast<int64_t>(blockIdx.x) < tiles) copy_patch(blockIdx.x, patches);
  asm volatile("cp.async.commit_group;\n" ::);
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    if (tile + gridDim.x < tiles) copy_patch(tile + gridDim.x, patches + (buffer ^ 1) * patch_chunks);
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 1;\n" ::);  // all but the copy just started: W and this tile's patch
    __syncthreads();
    const uint4* patch = patches + buffer * patch_chunks;
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    tile_origin(tile, image, oh0, ow0);

    float acc[2][4][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;
    for (int tap = 0; tap < taps; ++tap) {
      const int r = tap / a.kernel_w, s = tap - r * a.kernel_w;
      const int tap_pixel = r * a.dilation_h * t.patch_w + s * a.dilation_w;
      const int chunk = tap * 2;
      uint32_t af[2][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
        // Matrices: pixels 0-7 / 8-15 at channels 0-7, then at channels 8-15 (the A fragment's a0..a3).
        const int p = a_pixel[mi] + tap_pixel;
        ldmatrix_x4(shared_address(patch + patch_chunk(p, a_half)), af[mi]);
      }
#pragma unroll
      for (int nj = 0; nj < 2; ++nj) {
        // Matrices: output channels 0-7 at k 0-7 and 8-15, then channels 8-15 likewise (two B fragments).
        const int row = warp_n + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
        uint32_t b[4];
        ldmatrix_x4(shared_address(tile_w + swizzled(row, chunk + ((lane >> 3) & 1), row_chunks)), b);
        bf[2 * nj][0] = b[0];
        bf[2 * nj][1] = b[1];
        bf[2 * nj + 1][0] = b[2];
        bf[2 * nj + 1][1] = b[3];
      }
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma_16816(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }

#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
      const int col = warp_n + ni * 8 + pair;
      const int channel = n0 + col;
      const float b0 = a.bias && channel < a.k ? a.bias[channel] : 0.0f;
      const float b1 = a.bias && channel + 1 < a.k ? a.bias[channel + 1] : 0.0f;
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int row = warp_m + mi * 16 + group + h * 8;
          float v0 = acc[mi][ni][2 * h] + b0, v1 = acc[mi][ni][2 * h + 1] + b1;
          if (a.relu) {
            v0 = v0 > 0.0f ? v0 : 0.0f;
            v1 = v1 > 0.0f ? v1 : 0.0f;
          }
          *reinterpret_cast<__half2*>(staged + row * kOutStride + col) = __floats2half2_rn(v0, v1);
        }
      }
    }
    __syncthreads();
    constexpr int kRowChunks = kTileN / kHalvesPerChunk;
    for (int i = tid; i < kTileM * kRowChunks; i += kBlockThreads) {
      const int row = i / kRowChunks, chunk = i % kRowChunks;
      const int oh = oh0 + (row >> t.log2_tile_w), ow = ow0 + (row & (t.tile_w - 1));
      const int channel = n0 + chunk * kHalvesPerChunk;
      if (oh >= a.out_h || ow >= a.out_w || channel >= a.k) continue;
      const int64_t m = (image * a.out_h + oh) * a.out_w + ow;
      *reinterpret_cast<uint4*>(y + m * a.k + channel) =
          *reinterpret_cast<const uint4*>(staged + row * kOutStride + chunk * kHalvesPerChunk);
    }
    __syncthreads();  // this patch buffer and the staging area are rewritten by the next tiles
    buffer ^= 1;
  }
  asm volatile("cp.async.wait_group 0;\n" ::);  // a block without a tile still waits for its W copies
}

constexpr size_t kStagedBytes = static_cast<size_t>(kTileM) * kOutStride * 2;

size_t shared_bytes(int padded_taps, int patch_bytes) {
  const size_t w_bytes = static_cast<size_t>(kTileN) * static_cast<size_t>(padded_taps) * 2 * sizeof(uint4);
  return w_bytes + 2 * static_cast<size_t>(patch_bytes) + kStagedBytes;  // patch_bytes: a multiple of 32
}

}  // namespace

cudaError_t prepare_few_channel_conv(int* blocks) {
  cudaError_t e = cudaFuncSetAttribute(few_channel_conv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(shared_bytes(kFewChannelConvMaxTaps, kFewChannelConvMaxPatchBytes)));
  if (e != cudaSuccess) return e;
  int device = 0, sms = 0;
  if ((e = cudaGetDevice(&device)) != cudaSuccess) return e;
  if ((e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess) return e;
  *blocks = sms * kBlocksPerSm;
  return cudaSuccess;
}

cudaError_t launch_few_channel_conv(const FewChannelConvArgs& a, int blocks, cudaStream_t stream) {
  if (!few_channel_conv_supported(a) || blocks < 1) return cudaErrorInvalidValue;
  const FewChannelConvTiling t = few_channel_conv_tiling(a);
  const int64_t tiles = a.n * ((a.out_h + t.tile_h - 1) / t.tile_h) * ((a.out_w + t.tile_w - 1) / t.tile_w);
  if (tiles <= 0) return cudaSuccess;
  const int taps = a.kernel_h * a.kernel_w, padded = few_channel_conv_padded_taps(taps);
  const dim3 grid(static_cast<unsigned>(tiles < blocks ? tiles : blocks),
                  static_cast<unsigned>((a.k + kTileN - 1) / kTileN));
  few_channel_conv_kernel<<<grid, kBlockThreads, shared_bytes(padded, t.patch_bytes()), stream>>>(a, t, taps, padded);
  return cudaGetLastError();
}

}  // namespace kiln::cuda::launch
