// kiln.PaddedSpaceToDepth: one thread per output pixel writes all of its channels (padded_c * block^2 of
// them, 16 for a 3-channel stem), so an NHWC pixel is one run of contiguous stores (16-byte vectors when the
// channel count allows) and NCHW stores are coalesced across the threads of a row.
#include <cuda_fp16.h>

#include <limits>
#include <type_traits>

#include "backends/cuda/kernels/device_util.cuh"
#include "backends/cuda/kernels/space_to_depth.h"

namespace kiln::cuda::launch {

namespace {

using device::blocks_for;
using device::global_thread;
using device::grid_threads;
using device::kThreads;

// X's element as Y's: a copy, FLOAT -> FLOAT16, or FLOAT -> INT8 / UINT8 quantized with g.scale and the fill as
// zero point, exactly as quantize.cu's QuantizeLinear (so as the reference).
template <typename In, typename Out>
__device__ __forceinline__ Out convert(In v, const PaddedSpaceToDepthGeometry& g, Out zero_point) {
  if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, __half>) {
    return __float2half_rn(v);
  } else if constexpr (std::is_same_v<In, float> && (std::is_same_v<Out, int8_t> || std::is_same_v<Out, uint8_t>)) {
    constexpr float kLo = std::numeric_limits<Out>::lowest(), kHi = std::numeric_limits<Out>::max();
    const float zp = static_cast<float>(zero_point);
    const float q = __fdiv_rn(v, g.scale);
    const float r = isnan(q) ? zp : rintf(q) + zp;  // NaN first: fminf / fmaxf would drop it
    return static_cast<Out>(__float2int_rn(fminf(fmaxf(r, kLo), kHi)));
  } else {
    return v;
  }
}

// Y's element `ch` of output pixel (n, oh, ow): X's element or the fill value. kBlock / kPaddedC: the block size
// and padded channel count when known at compile time (0: g's), so that the index arithmetic of the common stem
// (block 2, 4 channels) is shifts, not divisions (it was most of the kernel's instructions: 0.111 ms for
// ResNet-50's quantizing stem at batch 128, 1 TB/s).
template <int kBlock, int kPaddedC, typename In, typename Out, typename Index>
__device__ __forceinline__ Out element(const In* __restrict__ x, const PaddedSpaceToDepthGeometry& g, Index n,
                                       Index oh, Index ow, Index ch, Out fill) {
  const Index pc = kPaddedC ? kPaddedC : static_cast<Index>(g.padded_c);
  const Index b = kBlock ? kBlock : static_cast<Index>(g.block);
  const Index ij = ch / pc;
  const Index c = ch - ij * pc - static_cast<Index>(g.c_begin);
  const Index ih = oh * b + ij / b - static_cast<Index>(g.h_begin);
  const Index iw = ow * b + ij % b - static_cast<Index>(g.w_begin);
  const Index C = static_cast<Index>(g.c), H = static_cast<Index>(g.h), W = static_cast<Index>(g.w);
  if (c < 0 || c >= C || ih < 0 || ih >= H || iw < 0 || iw >= W) return fill;
  return convert<In, Out>(x[((n * C + c) * H + ih) * W + iw], g, fill);
}

template <typename In, typename Out, typename Index, bool kVector, int kBlock = 0, int kPaddedC = 0>
__global__ void padded_space_to_depth(const In* __restrict__ x, Out* __restrict__ y, PaddedSpaceToDepthGeometry g,
                                      Out fill, int64_t pixels) {
  const Index oc = kBlock && kPaddedC ? kPaddedC * kBlock * kBlock : static_cast<Index>(g.padded_c * g.block * g.block);
  const Index OH = static_cast<Index>(g.out_h), OW = static_cast<Index>(g.out_w);
  for (int64_t p64 = global_thread(); p64 < pixels; p64 += grid_threads()) {
    const Index p = static_cast<Index>(p64);
    const Index ow = p % OW, oh = (p / OW) % OH, n = p / (OW * OH);
    if (g.nhwc) {
      Out* out = y + p * oc;
      if constexpr (kVector) {
        constexpr int kLanes = 16 / sizeof(Out);
        for (Index ch0 = 0; ch0 < oc; ch0 += kLanes) {
          union {
            uint4 v;
            Out e[kLanes];
          } pack;
#pragma unroll
          for (int l = 0; l < kLanes; ++l) pack.e[l] = element<kBlock, kPaddedC>(x, g, n, oh, ow, ch0 + l, fill);
          *reinterpret_cast<uint4*>(out + ch0) = pack.v;
        }
      } else {
        for (Index ch = 0; ch < oc; ++ch) out[ch] = element<kBlock, kPaddedC>(x, g, n, oh, ow, ch, fill);
      }
    } else {
      const Index plane = OH * OW, pix = oh * OW + ow;
      for (Index ch = 0; ch < oc; ++ch) y[(n * oc + ch) * plane + pix] = element<kBlock, kPaddedC>(x, g, n, oh, ow, ch, fill);
    }
  }
}

template <typename In, typename Out>
cudaError_t launch_typed(const void* xv, void* yv, const PaddedSpaceToDepthGeometry& g, uint64_t fill_bits,
                         cudaStream_t stream) {
  const int64_t pixels = g.n * g.out_h * g.out_w;
  const int64_t oc = g.padded_c * g.block * g.block;
  if (pixels == 0 || oc == 0) return cudaSuccess;
  Out fill;
  memcpy(static_cast<void*>(&fill), &fill_bits, sizeof(Out));
  const auto* x = static_cast<const In*>(xv);
  auto* y = static_cast<Out*>(yv);
  constexpr int kLanes = 16 / sizeof(Out);
  const bool vector = g.nhwc && oc % kLanes == 0 && reinterpret_cast<uintptr_t>(yv) % 16 == 0;
  const bool small = pixels * oc < (int64_t{1} << 31) && g.n * g.c * g.h * g.w < (int64_t{1} << 31);
  const unsigned blocks = blocks_for(pixels);
  const bool stem = g.block == 2 && g.padded_c == 4;  // RGB padded to 4 channels, 2x2 blocks: 16 channels out
  if (small && vector && stem)
    padded_space_to_depth<In, Out, int32_t, true, 2, 4><<<blocks, kThreads, 0, stream>>>(x, y, g, fill, pixels);
  else if (small && vector) padded_space_to_depth<In, Out, int32_t, true><<<blocks, kThreads, 0, stream>>>(x, y, g, fill, pixels);
  else if (small) padded_space_to_depth<In, Out, int32_t, false><<<blocks, kThreads, 0, stream>>>(x, y, g, fill, pixels);
  else if (vector) padded_space_to_depth<In, Out, int64_t, true><<<blocks, kThreads, 0, stream>>>(x, y, g, fill, pixels);
  else padded_space_to_depth<In, Out, int64_t, false><<<blocks, kThreads, 0, stream>>>(x, y, g, fill, pixels);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_padded_space_to_depth(const void* x, void* y, SpaceToDepthTypes types,
                                         const PaddedSpaceToDepthGeometry& g, uint64_t fill, cudaStream_t stream) {
  switch (types) {
    case SpaceToDepthTypes::kCopy1: return launch_typed<uint8_t, uint8_t>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kCopy2: return launch_typed<uint16_t, uint16_t>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kCopy4: return launch_typed<uint32_t, uint32_t>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kCopy8: return launch_typed<uint64_t, uint64_t>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kF32ToF16: return launch_typed<float, __half>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kF32ToI8: return launch_typed<float, int8_t>(x, y, g, fill, stream);
    case SpaceToDepthTypes::kF32ToU8: return launch_typed<float, uint8_t>(x, y, g, fill, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::launch
