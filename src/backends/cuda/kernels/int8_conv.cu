// Int8 implicit-GEMM convolution for kiln.QConv (see int8_conv.h). A block owns 64 output channels and loops
// over output tiles of 128 pixels (conv_tiling.h); for each tile it walks X's channels 64 at a time: a step
// copies (cp.async, double-buffered across steps) the tile's input patch for those channels and W's slice
// for them (64 output channels x taps x 64 bytes), and eight warps of mma.sync m16n8k32 (int8, int32
// accumulation), each owning 32 pixels x 32 channels, take two k-steps per window tap, their A fragments
// read by ldmatrix straight from the patch (no im2col). After the last slice the epilogue requantizes as
// kiln.QConv does (acc * mult + bias + z * z_mult, rint, clamp) through shared memory into 16-byte stores: each
// lane keeps its 8 channels' multipliers and biases in registers, and the residual's tile is copied (cp.async,
// 16 bytes a copy, issued with the step) into the staging area the output is then written over.
#include "backends/cuda/kernels/int8_conv.h"

#include "backends/cuda/kernels/igemm_tile.cuh"
#include "backends/cuda/kernels/mma_util.cuh"

namespace kiln::cuda::launch {

namespace {

using device::copy_commit;
using device::copy_wait;
using device::kChunkBytes;

constexpr int kTileM = kConvTilePixels;        // output pixels per tile
constexpr int kTileN = device::kIgemmTileN;    // output channels per block
constexpr int kBlockThreads = device::kIgemmThreads;  // 8 warps: 4 along M (32 pixels each) x 2 along N (32 each)
static_assert(kTileN == kInt8ConvTileK, "W's padding is the block's channel tile");
constexpr int kOutStrideBytes = kTileN + 16;   // a staged output row (the 16 spread the banks)
constexpr int kStagedBytes = kTileM * kOutStrideBytes;
constexpr int kBlocksPerSm = 2;

struct Layout {
  int w_row_chunks;    // one output channel's W slice: padded taps x chunks per pixel (a multiple of 8)
  int w_stage_chunks;  // kTileN rows
  int patch_chunks;    // patch_h x patch_w pixels x chunks per pixel
};

__host__ __device__ inline Layout layout_of(int chunks_per_pixel, int padded_taps, const ConvTiling& t) {
  Layout l;
  l.w_row_chunks = padded_taps * chunks_per_pixel;
  l.w_stage_chunks = kTileN * l.w_row_chunks;
  l.patch_chunks = t.patch_h * t.patch_w * chunks_per_pixel;
  return l;
}

// Starts copying the residual Z's part of a tile (its kTileM pixels x the block's 64 channels from n0) into the
// staging area's rows; zeros for pixels past the output's edge and channels past k. The caller commits.
__device__ void copy_residual(char* staged, const int8_t* z, const device::TileGrid& g, int64_t image, int oh0,
                              int ow0, int out_h, int out_w, int n0, int k) {
  constexpr int kRowChunks = kTileN / kChunkBytes;
  for (int i = static_cast<int>(threadIdx.x); i < kTileM * kRowChunks; i += kBlockThreads) {
    const int row = i / kRowChunks, chunk = i % kRowChunks;
    const int oh = oh0 + g.row_h(row), ow = ow0 + g.row_w(row), channel = n0 + chunk * kChunkBytes;
    const bool valid = oh < out_h && ow < out_w && channel < k;
    const int8_t* src = valid ? z + ((image * out_h + oh) * out_w + ow) * k + channel : z;
    device::copy_16(device::shared_address(staged + row * kOutStrideBytes + chunk * kChunkBytes), src, valid);
  }
}

// kChunksPerPixel: a channel slice of one pixel in 16-byte chunks (4, 8 or 16: 64, 128 or 256 channels).
template <int kChunksPerPixel>
__global__ void __launch_bounds__(kBlockThreads, kBlocksPerSm)
    int8_conv_kernel(Int8ConvArgs a, ConvTiling t, int taps, int padded_taps) {
  extern __shared__ uint4 smem[];
  const Layout l = layout_of(kChunksPerPixel, padded_taps, t);
  // Two stages of W slices, then two of patches, then the staging area.
  auto w_stage = [&](int buffer) { return smem + buffer * l.w_stage_chunks; };
  auto patch_stage = [&](int buffer) { return smem + 2 * l.w_stage_chunks + buffer * l.patch_chunks; };
  char* staged = reinterpret_cast<char*>(smem + 2 * l.w_stage_chunks + 2 * l.patch_chunks);

  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const char* x = static_cast<const char*>(a.x);
  const char* w = static_cast<const char*>(a.w);
  const int8_t* z = static_cast<const int8_t*>(a.z);
  const ConvWindow& win = a.window;
  const int slices = a.c / a.slice;

  const device::TileGrid grid(t, a.n, win.out_h, win.out_w);
  const device::WarpTile warp(grid, t, win.stride_h, win.stride_w);

  // The block's (tile, slice) steps, slices innermost; `index` counts them.
  struct Step {
    int tile, slice, index;
  };
  auto next_of = [&](const Step& s) {
    return s.slice + 1 < slices ? Step{s.tile, s.slice + 1, s.index + 1}
                                : Step{s.tile + static_cast<int>(gridDim.x), 0, s.index + 1};
  };

  // Starts copying step `s`'s W slice and input patch into stage `buffer` (the caller commits).
  auto copy_step = [&](const Step& s, int buffer) {
    // W row n of slice s: chunks ((n * slices + s) * w_row_chunks) on. Stage b serves steps of parity b: with
    // one or two slices it always holds the same slice, copied once.
    if (slices > 2 || s.index < 2)
      device::copy_w_rows(w_stage(buffer),
                          w + (static_cast<int64_t>(n0) * slices + s.slice) * l.w_row_chunks * kChunkBytes,
                          l.w_row_chunks, static_cast<int64_t>(slices) * l.w_row_chunks);
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    grid.origin(s.tile, image, oh0, ow0);
    device::copy_patch<kChunksPerPixel>(patch_stage(buffer), x, image, oh0 * win.stride_h - a.pad_h,
                                        ow0 * win.stride_w - a.pad_w, t, a.h, a.w_extent, a.c,
                                        s.slice * a.slice);
  };

  float2 mult[4], bias[4];  // this lane's requantization parameters
  warp.load_channel_params(n0, a.k, a.mult, a.bias, mult, bias);

  // Commit groups per step, in order: the residual of the step's tile (on its last slice; else empty), the next
  // step's slice. So this step's slice is complete when at most 2 groups are pending, its residual at 1.
  int acc[2][4][4];
  const Step first{static_cast<int>(blockIdx.x), 0, 0};
  if (first.tile < grid.tiles) copy_step(first, 0);
  copy_commit();
  for (Step step = first; step.tile < grid.tiles; step = next_of(step)) {
    const int buffer = step.index & 1, slice = step.slice;
    const bool last_slice = slice == slices - 1;
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    grid.origin(step.tile, image, oh0, ow0);
    if (z && last_slice) copy_residual(staged, z, grid, image, oh0, ow0, win.out_h, win.out_w, n0, a.k);
    copy_commit();
    const Step next = next_of(step);
    if (next.tile < grid.tiles) copy_step(next, buffer ^ 1);
    copy_commit();
    copy_wait<2>();
    __syncthreads();
    if (slice == 0) device::zero(acc);
    for (int tap = 0; tap < taps; ++tap) {
      const int r = tap / win.kernel_w, s = tap - r * win.kernel_w;
      const int tap_pixel = r * win.dilation_h * t.patch_w + s * win.dilation_w;
#pragma unroll
      for (int half = 0; half < kChunksPerPixel / 2; ++half)  // 32-byte k-steps through the slice
        warp.k_step<kChunksPerPixel>(patch_stage(buffer), tap_pixel, half * 2 + (warp.lane >> 4), w_stage(buffer),
                                     l.w_row_chunks, tap * kChunksPerPixel + half * 2, acc, device::mma_s8);
    }

    if (last_slice) {
      if (z) {
        copy_wait<1>();  // the residual, copied by every thread
        __syncthreads();
      }
      // Pixels and channels past the output's edge are computed on zeros and not stored.
      warp.requantize_into_staged(acc, mult, bias, staged, kOutStrideBytes, z != nullptr,
                                  device::small_accumulator(a.c * a.window.kernel_h * a.window.kernel_w), a.z_mult,
                                  a.lo, a.hi);
      __syncthreads();
      device::store_staged(staged, kOutStrideBytes, kTileN, static_cast<char*>(a.y), grid, image, oh0, ow0, win.out_h,
                           win.out_w, n0, a.k, 1);
    }
    __syncthreads();  // this stage's buffers (and the staging area) are rewritten by the next steps
  }
  copy_wait<0>();
}

// The largest patch a block may stage twice beside W's two slices and the output staging area.
int max_patch_bytes(int slice, int padded_taps) {
  const int w_bytes = kTileN * padded_taps * slice;
  return (kInt8ConvMaxSharedBytes - 2 * w_bytes - kStagedBytes) / 2;
}

int padded_taps_of(const Int8ConvArgs& a) {
  return int8_conv_padded_taps(a.window.kernel_h * a.window.kernel_w, a.slice);
}

template <int kChunksPerPixel>
cudaError_t allow_shared_memory() {
  return cudaFuncSetAttribute(int8_conv_kernel<kChunksPerPixel>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              kInt8ConvMaxSharedBytes);
}

}  // namespace

ConvTiling int8_conv_tiling(const Int8ConvArgs& a) {
  return conv_tiling(a.window, a.slice, max_patch_bytes(a.slice, padded_taps_of(a)));
}

size_t int8_conv_shared_bytes(const Int8ConvArgs& a) {
  const Layout l = layout_of(a.slice / kChunkBytes, padded_taps_of(a), int8_conv_tiling(a));
  return (2 * static_cast<size_t>(l.w_stage_chunks) + 2 * static_cast<size_t>(l.patch_chunks)) * kChunkBytes +
         kStagedBytes;
}

bool int8_conv_supported(const Int8ConvArgs& a) {
  const int taps = a.window.kernel_h * a.window.kernel_w;
  if (!valid_window(a.window) || taps > kInt8ConvMaxTaps || a.c <= 0 || a.k <= 0 || a.k % kChunkBytes != 0)
    return false;
  if (a.slice != int8_conv_slice_channels(a.c, a.window) || a.c % a.slice != 0) return false;
  return int8_conv_shared_bytes(a) <= static_cast<size_t>(kInt8ConvMaxSharedBytes) &&
         conv_tile_count_fits(conv_tile_count(a.window, int8_conv_tiling(a), a.n));
}

cudaError_t prepare_int8_conv(int* blocks) {
  cudaError_t e = allow_shared_memory<4>();
  if (e == cudaSuccess) e = allow_shared_memory<8>();
  if (e == cudaSuccess) e = allow_shared_memory<16>();
  return e == cudaSuccess ? device::resident_blocks(kBlocksPerSm, blocks) : e;
}

cudaError_t launch_int8_conv(const Int8ConvArgs& a, int blocks, cudaStream_t stream) {
  if (!int8_conv_supported(a) || blocks < 1 || !a.mult) return cudaErrorInvalidValue;
  const ConvTiling t = int8_conv_tiling(a);
  const int64_t tiles = conv_tile_count(a.window, t, a.n);
  if (tiles <= 0) return cudaSuccess;
  const int taps = a.window.kernel_h * a.window.kernel_w, padded = padded_taps_of(a);
  const IgemmGrid g = igemm_grid(tiles, (a.k + kTileN - 1) / kTileN, blocks);
  const dim3 grid(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y));
  const size_t shared = int8_conv_shared_bytes(a);
  switch (a.slice / kChunkBytes) {
    case 4: int8_conv_kernel<4><<<grid, kBlockThreads, shared, stream>>>(a, t, taps, padded); break;
    case 8: int8_conv_kernel<8><<<grid, kBlockThreads, shared, stream>>>(a, t, taps, padded); break;
    case 16: int8_conv_kernel<16><<<grid, kBlockThreads, shared, stream>>>(a, t, taps, padded); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace kiln::cuda::launch
