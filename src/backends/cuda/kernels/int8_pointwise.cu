// Int8 pointwise convolution for kiln.QConv (see int8_pointwise.h): a GEMM of output pixels by W. A block owns
// 64 output channels, keeps their W rows (all C input channels) in shared memory for its whole life, and loops
// over tiles of 128 output pixels (rows): a step copies one tile's next slice of X's channels (64 or 128 bytes
// of each row; rows gathered at the stride) into one of `kStages` stages, kStages - 1 steps ahead of the step
// being computed, and a tile's last step also copies that tile's residual into the stage's staging area. Eight
// warps of mma.sync m16n8k32 (int8, int32 accumulation), each owning 32 rows x 32 channels, read A and B by
// ldmatrix (igemm_tile.cuh). After a tile's last slice the epilogue requantizes as kiln.QConv does (acc * mult
// + bias + z * z_mult, rint, clamp) in place of the staged residual, then writes the tile in 16-byte stores.
//
// Why not int8_conv.cu's kernel: it copies one step ahead and the residual only in the step that uses it, so a
// 1x1 layer, whose steps are two k-steps of work, waits on memory latency every step (1 TB/s where the H100
// has 3.35).
#include "backends/cuda/kernels/int8_pointwise.h"

#include "backends/cuda/kernels/igemm_tile.cuh"
#include "backends/cuda/kernels/mma_util.cuh"

namespace kiln::cuda::launch {

namespace {

using device::copy_commit;
using device::copy_wait;
using device::kChunkBytes;

constexpr int kTileM = kConvTilePixels;               // rows per tile
constexpr int kTileN = device::kIgemmTileN;           // output channels per block
constexpr int kBlockThreads = device::kIgemmThreads;  // 8 warps: 4 along M x 2 along N, 32 x 32 each
constexpr int kOutStrideBytes = kTileN + 16;          // a staged output row (the 16 spread the banks)
constexpr int kStagedBytes = kTileM * kOutStrideBytes;
constexpr int kRowChunks = kTileN / kChunkBytes;      // 16-byte chunks of a staged row
constexpr int kMaxStages = 4;
// Shared memory of one multiprocessor and what a block may have of it (sm_90; sm_80 has 164 KB, where a
// launch needing more fails and the build's timing drops the tactic). 1 KB per block is the system's.
constexpr size_t kSmBytes = 228 * 1024, kBlockMaxBytes = 227 * 1024, kReservedPerBlock = 1024;

// The output rows of one launch: row m is output pixel m of [n, out_h, out_w], read from input pixel
// (image, oh * stride_h, ow * stride_w).
struct Rows {
  int count = 0;  // n * out_h * out_w
  int out_hw = 1, out_w = 1;
  int h = 1, w = 1, stride_h = 1, stride_w = 1;
  bool strided = false;

  __device__ int64_t input_pixel(int m) const {
    if (!strided) return m;
    const int image = m / out_hw, rem = m - image * out_hw;
    const int oh = rem / out_w, ow = rem - oh * out_w;
    return (static_cast<int64_t>(image) * h + oh * stride_h) * w + ow * stride_w;
  }
};

// kCpp: 16-byte chunks of each row per step (4 or 8: 64 or 128 channels); kStages: steps in flight + 1.
//
// Instructions are what limits the 64-channel layers (Nsight Compute, layer1 at batch 128: issue slots 56%
// busy, integer ALU the busiest pipe, 824 instructions per warp and step before): each thread's part of every
// copy and store (its rows and chunk of a tile) is computed once, the step's tile, slice and stage advance by
// increments (no division per step), and the epilogue is a few fused multiply-adds per output.
//
// kMinBlocks: the blocks a multiprocessor holds at once, which caps the registers (2: 128 a thread, 102-112
// used; 3: 80, used without spills at 2 stages — Nsight Compute found 2 blocks, 16 warps, too few to hide the
// copies' latency: issue slots 49-60% busy at ResNet-50's layer1 on the H200).
template <int kCpp, int kStages, int kMinBlocks>
__global__ void __launch_bounds__(kBlockThreads, kMinBlocks)
    int8_pointwise_kernel(Int8ConvArgs a, Rows rows, int w_row_chunks) {
  extern __shared__ uint4 smem[];
  constexpr int kSliceBytes = kCpp * kChunkBytes;
  constexpr int kStageChunks = kTileM * kCpp;
  constexpr int kXCopies = kTileM * kCpp / kBlockThreads;          // X chunks per thread and step (2 or 4)
  constexpr int kXRowStep = kBlockThreads / kCpp;                  // rows between them
  constexpr int kOutCopies = kTileM * kRowChunks / kBlockThreads;  // residual / output chunks per thread (2)
  constexpr int kOutRowStep = kBlockThreads / kRowChunks;
  // W's 64 rows, then the stages' X slices, then the stages' staging areas.
  uint4* w_tile = smem;
  uint4* x_stages = smem + kTileN * w_row_chunks;
  char* staged_stages = reinterpret_cast<char*>(x_stages + kStages * kStageChunks);

  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const int tid = static_cast<int>(threadIdx.x);
  const char* x = static_cast<const char*>(a.x);
  const int8_t* z = static_cast<const int8_t*>(a.z);
  const int slices = a.c / kSliceBytes;
  const int tiles = (rows.count + kTileM - 1) / kTileM;

  // This thread's part of a step's X copy: rows x_row + j * kXRowStep, chunk x_chunk; and of the residual copy
  // and the output store: rows out_row + j * kOutRowStep, channels out_channel on.
  const int x_row = tid / kCpp, x_chunk = tid % kCpp;
  uint32_t x_dst[kXCopies];  // in stage 0
#pragma unroll
  for (int j = 0; j < kXCopies; ++j)
    x_dst[j] = device::shared_address(x_stages + device::patch_chunk<kCpp>(x_row + j * kXRowStep, x_chunk));
  const int64_t x_row_step_bytes = static_cast<int64_t>(kXRowStep) * a.c;
  const int out_row = tid / kRowChunks, out_channel = n0 + (tid % kRowChunks) * kChunkBytes;
  const bool out_channel_valid = out_channel < a.k;
  const int staged_offset = out_row * kOutStrideBytes + (tid % kRowChunks) * kChunkBytes;
  const int64_t out_row_step_bytes = static_cast<int64_t>(kOutRowStep) * a.k;

  // Starts copying the X slice `slice` of tile `tile` (and on its last slice its residual) into `stage`; zeros for
  // rows past the last and channels past k. The caller commits.
  auto copy_step = [&](int tile, int slice, int stage) {
    const int m0 = tile * kTileM;
    const uint32_t stage_offset = static_cast<uint32_t>(stage * kStageChunks * kChunkBytes);
    const int channel_offset = slice * kSliceBytes + x_chunk * kChunkBytes;
    const char* src = x + static_cast<int64_t>(m0 + x_row) * a.c + channel_offset;  // stride 1: rows are pixels
#pragma unroll
    for (int j = 0; j < kXCopies; ++j) {
      const int m = m0 + x_row + j * kXRowStep;
      const bool valid = m < rows.count;
      const char* row_src = rows.strided ? x + rows.input_pixel(m) * a.c + channel_offset : src + j * x_row_step_bytes;
      device::copy_16(x_dst[j] + stage_offset, valid ? row_src : x, valid);
    }
    if (!z || slice != slices - 1) return;
    const int8_t* z_src = z + static_cast<int64_t>(m0 + out_row) * a.k + out_channel;
    char* z_dst = staged_stages + stage * kStagedBytes + staged_offset;
#pragma unroll
    for (int j = 0; j < kOutCopies; ++j) {
      const bool valid = out_channel_valid && m0 + out_row + j * kOutRowStep < rows.count;
      device::copy_16(device::shared_address(z_dst + j * kOutRowStep * kOutStrideBytes),
                      valid ? z_src + j * out_row_step_bytes : z, valid);
    }
  };
  // The next step of a block: slices, then the block's next tile; stages round robin.
  auto advance = [&](int& tile, int& slice, int& stage) {
    if (++slice == slices) {
      slice = 0;
      tile += static_cast<int>(gridDim.x);
    }
    if (++stage == kStages) stage = 0;
  };

  const device::WarpTile warp;
  float2 mult[4], bias[4];  // this lane's requantization parameters
  warp.load_channel_params(n0, a.k, a.mult, a.bias, mult, bias);

  // Commit groups: W with the first step's copies, then one per step (empty past the last), so a step's copies
  // are complete when at most kStages - 2 groups are pending at its start.
  device::copy_w_rows(w_tile, static_cast<const char*>(a.w) + static_cast<int64_t>(n0) * w_row_chunks * kChunkBytes,
                      w_row_chunks, w_row_chunks);
  int copy_tile = static_cast<int>(blockIdx.x), copy_slice = 0, copy_stage = 0;  // the next step to copy
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (copy_tile < tiles) {
      copy_step(copy_tile, copy_slice, copy_stage);
      advance(copy_tile, copy_slice, copy_stage);
    }
    copy_commit();
  }
  int acc[2][4][4];
  int tile = static_cast<int>(blockIdx.x), slice = 0, stage = 0;  // the step computed
  while (tile < tiles) {
    copy_wait<kStages - 2>();
    __syncthreads();  // this step's stage is complete; the previous step's stage is no longer read
    if (copy_tile < tiles) {
      copy_step(copy_tile, copy_slice, copy_stage);
      advance(copy_tile, copy_slice, copy_stage);
    }
    copy_commit();

    if (slice == 0) device::zero(acc);
    const uint4* x_stage = x_stages + stage * kStageChunks;
#pragma unroll
    for (int half = 0; half < kCpp / 2; ++half)  // 32-byte k-steps through the slice
      warp.k_step<kCpp>(x_stage, 0, half * 2 + (warp.lane >> 4), w_tile, w_row_chunks, slice * kCpp + half * 2, acc,
                        device::mma_s8);
    if (slice == slices - 1) {
      // Rows past the last and channels past k are computed on zeros and not stored.
      char* out = staged_stages + stage * kStagedBytes;
      warp.requantize_into_staged(acc, mult, bias, out, kOutStrideBytes, z != nullptr,
                                  device::small_accumulator(a.c), a.z_mult, a.lo, a.hi);
      __syncthreads();
      const int m0 = tile * kTileM;
      char* y = static_cast<char*>(a.y) + static_cast<int64_t>(m0 + out_row) * a.k + out_channel;
#pragma unroll
      for (int j = 0; j < kOutCopies; ++j)
        if (out_channel_valid && m0 + out_row + j * kOutRowStep < rows.count)
          *reinterpret_cast<uint4*>(y + j * out_row_step_bytes) =
              *reinterpret_cast<const uint4*>(out + staged_offset + j * kOutRowStep * kOutStrideBytes);
    }
    advance(tile, slice, stage);
  }
  copy_wait<0>();
}

size_t shared_bytes(int c, int slice_bytes, int stages) {
  const size_t w_bytes = static_cast<size_t>(kTileN) * int8_pointwise_w_row_bytes(c);
  return w_bytes + static_cast<size_t>(stages) * (static_cast<size_t>(kTileM) * slice_bytes + kStagedBytes);
}

template <int kCpp, int kStages, int kMinBlocks>
cudaError_t allow_shared_memory() {
  return cudaFuncSetAttribute(int8_pointwise_kernel<kCpp, kStages, kMinBlocks>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kBlockMaxBytes));
}

template <int kCpp>
cudaError_t allow_shared_memory_all_variants() {
  cudaError_t e = allow_shared_memory<kCpp, 2, 2>();
  if (e == cudaSuccess) e = allow_shared_memory<kCpp, 3, 2>();
  if (e == cudaSuccess) e = allow_shared_memory<kCpp, 4, 2>();
  if (e == cudaSuccess) e = allow_shared_memory<kCpp, 2, 3>();
  return e;
}

template <int kCpp>
void launch_plan(const Int8ConvArgs& a, const Rows& rows, const Int8PointwisePlan& plan, dim3 grid,
                 cudaStream_t stream) {
  const int w_row_chunks = int8_pointwise_w_row_bytes(a.c) / kChunkBytes;
  const size_t shared = plan.shared_bytes;
  if (plan.blocks_per_sm == 3) {  // int8_pointwise_plan_3_blocks: always 2 stages
    int8_pointwise_kernel<kCpp, 2, 3><<<grid, kBlockThreads, shared, stream>>>(a, rows, w_row_chunks);
    return;
  }
  switch (plan.stages) {
    case 2: int8_pointwise_kernel<kCpp, 2, 2><<<grid, kBlockThreads, shared, stream>>>(a, rows, w_row_chunks); break;
    case 3: int8_pointwise_kernel<kCpp, 3, 2><<<grid, kBlockThreads, shared, stream>>>(a, rows, w_row_chunks); break;
    default: int8_pointwise_kernel<kCpp, 4, 2><<<grid, kBlockThreads, shared, stream>>>(a, rows, w_row_chunks); break;
  }
}

// Whether `blocks` blocks of `bytes` of shared memory fit on one multiprocessor.
bool fits(size_t bytes, int blocks) {
  return bytes <= kBlockMaxBytes && static_cast<size_t>(blocks) * (bytes + kReservedPerBlock) <= kSmBytes;
}

// The plan's slice for `c` channels (128 where c allows, else 64); false when the kernel cannot take c.
bool slice_for(int c, Int8PointwisePlan& p) {
  if (c <= 0 || c % kInt8ConvSliceChannels != 0) return false;
  p.slice_bytes = c % 128 == 0 ? 128 : 64;
  return true;
}

bool supported_with(const Int8ConvArgs& a, const Int8PointwisePlan& plan) {
  const ConvWindow& w = a.window;
  if (!valid_window(w) || w.kernel_h != 1 || w.kernel_w != 1 || a.pad_h != 0 || a.pad_w != 0) return false;
  if (a.slice != a.c || a.k <= 0 || a.k % kChunkBytes != 0 || a.n < 0 || a.h <= 0 || a.w_extent <= 0) return false;
  if (w.out_h != (a.h - 1) / w.stride_h + 1 || w.out_w != (a.w_extent - 1) / w.stride_w + 1) return false;
  const int64_t rows = a.n * w.out_h * w.out_w;
  // Rows, a tile past them and input pixel indices within 32 bits (offsets are 64-bit).
  if (rows + kTileM > (int64_t{1} << 31) - 1 || a.n * a.h * a.w_extent > (int64_t{1} << 31) - 1) return false;
  return plan.stages > 0;
}

cudaError_t launch_with(const Int8ConvArgs& a, const Int8PointwisePlan& plan, int multiprocessors,
                        cudaStream_t stream) {
  if (!supported_with(a, plan) || multiprocessors < 1 || !a.mult) return cudaErrorInvalidValue;
  Rows rows;
  rows.count = static_cast<int>(a.n * a.window.out_h * a.window.out_w);
  if (rows.count == 0) return cudaSuccess;
  rows.out_hw = a.window.out_h * a.window.out_w;
  rows.out_w = a.window.out_w;
  rows.h = a.h, rows.w = a.w_extent;
  rows.stride_h = a.window.stride_h, rows.stride_w = a.window.stride_w;
  rows.strided = rows.stride_h != 1 || rows.stride_w != 1;
  const int64_t tiles = (rows.count + kTileM - 1) / kTileM;
  const IgemmGrid g = igemm_grid(tiles, (a.k + kTileN - 1) / kTileN,
                                 static_cast<int64_t>(multiprocessors) * plan.blocks_per_sm);
  const dim3 grid(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y));
  if (plan.slice_bytes == 128) launch_plan<8>(a, rows, plan, grid, stream);
  else launch_plan<4>(a, rows, plan, grid, stream);
  return cudaGetLastError();
}

}  // namespace

Int8PointwisePlan int8_pointwise_plan(int c) {
  Int8PointwisePlan p;
  if (!slice_for(c, p)) return p;
  // The most stages with two blocks on a multiprocessor (16 warps to hide latency with), else with one.
  for (int blocks = 2; blocks >= 1 && p.stages == 0; --blocks)
    for (int stages = kMaxStages; stages >= 2; --stages) {
      const size_t bytes = shared_bytes(c, p.slice_bytes, stages);
      if (fits(bytes, blocks)) {
        p.stages = stages;
        p.blocks_per_sm = blocks;
        p.shared_bytes = bytes;
        break;
      }
    }
  return p;
}

Int8PointwisePlan int8_pointwise_plan_3_blocks(int c) {
  Int8PointwisePlan p;
  if (!slice_for(c, p)) return p;
  // Two stages: 128-channel slices leave no room for a third within a third of the shared memory, and at 80
  // registers 64-channel slices spill with three or four (ptxas, CUDA 13).
  const size_t bytes = shared_bytes(c, p.slice_bytes, 2);
  if (!fits(bytes, 3)) return p;
  p.stages = 2;
  p.blocks_per_sm = 3;
  p.shared_bytes = bytes;
  return p;
}

bool int8_pointwise_supported(const Int8ConvArgs& a) { return supported_with(a, int8_pointwise_plan(a.c)); }

bool int8_pointwise_3_blocks_supported(const Int8ConvArgs& a) {
  return supported_with(a, int8_pointwise_plan_3_blocks(a.c));
}

cudaError_t prepare_int8_pointwise(int* multiprocessors) {
  cudaError_t e = allow_shared_memory_all_variants<4>();
  if (e == cudaSuccess) e = allow_shared_memory_all_variants<8>();
  return e == cudaSuccess ? device::resident_blocks(1, multiprocessors) : e;
}

cudaError_t launch_int8_pointwise(const Int8ConvArgs& a, int multiprocessors, cudaStream_t stream) {
  return launch_with(a, int8_pointwise_plan(a.c), multiprocessors, stream);
}

cudaError_t launch_int8_pointwise_3_blocks(const Int8ConvArgs& a, int multiprocessors, cudaStream_t stream) {
  return launch_with(a, int8_pointwise_plan_3_blocks(a.c), multiprocessors, stream);
}

}  // namespace kiln::cuda::launch
