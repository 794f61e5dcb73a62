// Int8 implicit-GEMM convolution for kiln.QConv (see int8_conv.h). A block owns 64 output channels and loops
// over output tiles of 128 pixels (conv_tiling.h); for each tile it walks X's channels 64 at a time: a step
// copies (cp.async, double-buffered across steps) the tile's input patch for those channels and W's slice
// for them (64 output channels x taps x 64 bytes), and eight warps of mma.sync m16n8k32 (int8, int32
// accumulation), each owning 32 pixels x 32 channels, take two k-steps per window tap, their A fragments
// read by ldmatrix straight from the patch (no im2col). After the last slice the epilogue requantizes as
// kiln.QConv does (acc * mult + bias + z * z_mult, rint, clamp) through shared memory into 16-byte stores.
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
  const int64_t block_tiles =
      grid.tiles > static_cast<int64_t>(blockIdx.x) ? (grid.tiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const int64_t steps = block_tiles * slices;  // (tile, slice) pairs of this block, slices innermost
  auto tile_of = [&](int64_t step) { return static_cast<int64_t>(blockIdx.x) + step / slices * gridDim.x; };

  // Starts copying step `step`'s W slice and input patch into stage `buffer` (the caller commits).
  auto copy_step = [&](int64_t step, int buffer) {
    const int slice = static_cast<int>(step % slices);
    // W row n of slice s: chunks ((n * slices + s) * w_row_chunks) on. Stage b serves steps of parity b: with
    // one or two slices it always holds the same slice, copied once.
    if (slices > 2 || step < 2)
      device::copy_w_rows(w_stage(buffer),
                          w + (static_cast<int64_t>(n0) * slices + slice) * l.w_row_chunks * kChunkBytes,
                          l.w_row_chunks, static_cast<int64_t>(slices) * l.w_row_chunks);
    int64_t image = 0;
    int oh0 = 0, ow0 = 0;
    grid.origin(tile_of(step), image, oh0, ow0);
    device::copy_patch<kChunksPerPixel>(patch_stage(buffer), x, image, oh0 * win.stride_h - a.pad_h,
                                        ow0 * win.stride_w - a.pad_w, t, a.h, a.w_extent, a.c,
                                        slice * a.slice);
  };

  int acc[2][4][4];
  if (steps > 0) copy_step(0, 0);
  copy_commit();
  for (int64_t step = 0; step < steps; ++step) {
    const int buffer = static_cast<int>(step & 1);
    if (step + 1 < steps) copy_step(step + 1, buffer ^ 1);
    copy_commit();
    copy_wait<1>();  // all but the copy just started: this step's slice
    __syncthreads();
    const int slice = static_cast<int>(step % slices);
    if (slice == 0) device::zero(acc);
    for (int tap = 0; tap < taps; ++tap) {
      const int r = tap / win.kernel_w, s = tap - r * win.kernel_w;
      const int tap_pixel = r * win.dilation_h * t.patch_w + s * win.dilation_w;
#pragma unroll
      for (int half = 0; half < kChunksPerPixel / 2; ++half)  // 32-byte k-steps through the slice
        warp.k_step<kChunksPerPixel>(patch_stage(buffer), tap_pixel, half * 2 + (warp.lane >> 4), w_stage(buffer),
                                     l.w_row_chunks, tap * kChunksPerPixel + half * 2, acc, device::mma_s8);
    }

    if (slice == slices - 1) {
      int64_t image = 0;
      int oh0 = 0, ow0 = 0;
      grid.origin(tile_of(step), image, oh0, ow0);
      warp.for_each_pair(acc, [&](int row, int col, int v0, int v1) {
        const int channel = n0 + col;  // and channel + 1 (k is even)
        const int oh = oh0 + grid.row_h(row), ow = ow0 + grid.row_w(row);
        if (channel >= a.k || oh >= win.out_h || ow >= win.out_w) return;  // not stored
        float t0 = __fadd_rn(__fmul_rn(static_cast<float>(v0), a.mult[channel]), a.bias ? a.bias[channel] : 0.0f);
        float t1 =
            __fadd_rn(__fmul_rn(static_cast<float>(v1), a.mult[channel + 1]), a.bias ? a.bias[channel + 1] : 0.0f);
        if (z) {
          const int64_t at = ((image * win.out_h + oh) * win.out_w + ow) * a.k + channel;
          t0 = __fadd_rn(t0, __fmul_rn(static_cast<float>(z[at]), a.z_mult));
          t1 = __fadd_rn(t1, __fmul_rn(static_cast<float>(z[at + 1]), a.z_mult));
        }
        char* out = staged + row * kOutStrideBytes + col;
        out[0] = static_cast<char>(device::requantize(t0, a.lo, a.hi));
        out[1] = static_cast<char>(device::requantize(t1, a.lo, a.hi));
      });
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
  return int8_conv_shared_bytes(a) <= static_cast<size_t>(kInt8ConvMaxSharedBytes);
}

cudaError_t prepare_int8_conv(int* blocks) {
  cudaError_t e = allow_shared_memory<4>();
  if (e == cudaSuccess) e = allow_shared_memory<8>();
  if (e == cudaSuccess) e = allow_shared_memory<16>();
  if (e != cudaSuccess) return e;
  int device = 0, sms = 0;
  if ((e = cudaGetDevice(&device)) != cudaSuccess) return e;
  if ((e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess) return e;
  *blocks = sms * kBlocksPerSm;
  return cudaSuccess;
}

cudaError_t launch_int8_conv(const Int8ConvArgs& a, int blocks, cudaStream_t stream) {
  if (!int8_conv_supported(a) || blocks < 1 || !a.mult) return cudaErrorInvalidValue;
  const ConvTiling t = int8_conv_tiling(a);
  const int64_t tiles = a.n * ((a.window.out_h + t.tile_h - 1) / t.tile_h) *
                        ((a.window.out_w + t.tile_w - 1) / t.tile_w);
  if (tiles <= 0) return cudaSuccess;
  const int taps = a.window.kernel_h * a.window.kernel_w, padded = padded_taps_of(a);
  const dim3 grid(static_cast<unsigned>(tiles < blocks ? tiles : blocks),
                  static_cast<unsigned>((a.k + kTileN - 1) / kTileN));
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
