// Pooling as the reference computes it (src/backends/ref/nn_pool.cc):
//   MaxPool: the largest in-bounds tap, compared in float (the first tap wins ties; a window with no
//            in-bounds tap gives float's lowest, -inf in f16); i8 / u8 (int8 engines) compare the integers
//            themselves from the type's lowest, so padding never wins and an all-padding window gives -128 / 0;
//   AveragePool: the in-bounds taps summed in double in the reference's tap order, divided by their count
//                (or, with count_include_pad, by the taps inside the padded extent); NaN when that is 0;
//                rounded to float, then to the element type, as the reference does;
//   GlobalAveragePool: sum in double / spatial size; GlobalMaxPool: max ignoring NaN, from -inf.
// The windowed kernel runs one thread per output element in memory order, so in channels-last layout
// neighbouring threads read neighbouring channels (coalesced).
#include <cuda_fp16.h>

#include <limits>
#include <type_traits>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

// MaxPool's running value: float for f32 / f16 (as the reference's compute type), the integer for i8 / u8.
template <typename T>
struct MaxValue {
  using type = float;
  __device__ static type lowest() { return -3.402823466e38f; }  // float's lowest, the reference's start
  __device__ static type load(T v) { return to_float(v); }
  __device__ static T store(type v) { return from_float<T>(v); }
};
template <typename T>
struct IntMaxValue {
  using type = int;
  __device__ static type lowest() { return std::numeric_limits<T>::lowest(); }
  __device__ static type load(T v) { return v; }
  __device__ static T store(type v) { return static_cast<T>(v); }
};
template <>
struct MaxValue<int8_t> : IntMaxValue<int8_t> {};
template <>
struct MaxValue<uint8_t> : IntMaxValue<uint8_t> {};

template <typename T, PoolKind kKind, typename I>
__global__ void pool_kernel(const T* x, T* y, int64_t total, PoolGeometry g) {
  for (int64_t idx = global_thread(); idx < total; idx += grid_threads()) {
    // Decode the output index in memory order: N, C, O0, O1, O2 or N, O0, O1, O2, C.
    I rem = static_cast<I>(idx), n = 0, c = 0, o[3] = {0, 0, 0};
    const I channels = static_cast<I>(g.channels);
    if (g.channels_last) {
      c = rem % channels;
      rem /= channels;
    }
    for (int d = 2; d >= 0; --d) {
      const I extent = static_cast<I>(g.out[d]);
      o[d] = rem % extent;
      rem /= extent;
    }
    if (g.channels_last) {
      n = rem;
    } else {
      c = rem % channels;
      n = rem / channels;
    }
    // Element offsets of the input: the (n, c) origin and the stride of each spatial axis.
    const I in0 = static_cast<I>(g.in[0]), in1 = static_cast<I>(g.in[1]), in2 = static_cast<I>(g.in[2]);
    const I in_spatial = in0 * in1 * in2;
    const I s2 = g.channels_last ? channels : 1, s1 = s2 * in2, s0 = s1 * in1;
    const I base = g.channels_last ? n * in_spatial * channels + c : (n * channels + c) * in_spatial;
    const I pb0 = static_cast<I>(g.pad_begin[0]), pb1 = static_cast<I>(g.pad_begin[1]),
            pb2 = static_cast<I>(g.pad_begin[2]);
    const I end0 = in0 + static_cast<I>(g.pad_end[0]), end1 = in1 + static_cast<I>(g.pad_end[1]),
            end2 = in2 + static_cast<I>(g.pad_end[2]);
    const I k0n = static_cast<I>(g.kernel[0]), k1n = static_cast<I>(g.kernel[1]), k2n = static_cast<I>(g.kernel[2]);
    const I d0 = static_cast<I>(g.dilation[0]), d1 = static_cast<I>(g.dilation[1]), d2 = static_cast<I>(g.dilation[2]);
    const I first0 = o[0] * static_cast<I>(g.stride[0]) - pb0, first1 = o[1] * static_cast<I>(g.stride[1]) - pb1,
            first2 = o[2] * static_cast<I>(g.stride[2]) - pb2;

    typename MaxValue<T>::type best = MaxValue<T>::lowest();
    bool any = false;
    double sum = 0;
    I inside_count = 0, padded_count = 0;
    // Tap order k0, k1, k2 row-major, as the reference walks the kernel. A tap is "inside" the input or
    // merely inside the padded extent [-pad_begin, in + pad_end) (counted by count_include_pad).
    for (I k0 = 0; k0 < k0n; ++k0) {
      const I i0 = first0 + k0 * d0;
      const bool inside0 = i0 >= 0 && i0 < in0;
      const bool pad0 = i0 >= -pb0 && i0 < end0;
      for (I k1 = 0; k1 < k1n; ++k1) {
        const I i1 = first1 + k1 * d1;
        const bool inside1 = inside0 && i1 >= 0 && i1 < in1;
        const bool pad1 = pad0 && i1 >= -pb1 && i1 < end1;
        for (I k2 = 0; k2 < k2n; ++k2) {
          const I i2 = first2 + k2 * d2;
          if (pad1 && i2 >= -pb2 && i2 < end2) ++padded_count;
          if (!(inside1 && i2 >= 0 && i2 < in2)) continue;
          const T v = x[base + i0 * s0 + i1 * s1 + i2 * s2];
          if constexpr (kKind == PoolKind::kMax) {
            const auto value = MaxValue<T>::load(v);
            if (!any || value > best) best = value;
            any = true;
          } else {
            sum += to_float(v);
            ++inside_count;
          }
        }
      }
    }
    if constexpr (kKind == PoolKind::kMax) {
      y[idx] = MaxValue<T>::store(best);
    } else {
      const I count = g.count_include_pad ? padded_count : inside_count;
      const double avg = count > 0 ? sum / static_cast<double>(count) : __longlong_as_double(0x7ff8000000000000ll);
      y[idx] = from_float<T>(static_cast<float>(avg));
    }
  }
}

// Per-thread partial of a global pool (average: double sum; max: float max ignoring NaN, from -inf).
template <PoolKind kKind>
struct Partial {
  using type = std::conditional_t<kKind == PoolKind::kMax, float, double>;
  __device__ static type init() { return kKind == PoolKind::kMax ? type(__int_as_float(0xff800000u)) : type(0); }
  __device__ static type add(type acc, float v) {
    if constexpr (kKind == PoolKind::kMax) return v > acc ? v : acc;
    else return acc + v;
  }
  __device__ static type combine(type a, type b) {
    if constexpr (kKind == PoolKind::kMax) return fmaxf(a, b);
    else return a + b;
  }
};

template <typename T, PoolKind kKind>
__device__ __forceinline__ T global_result(typename Partial<kKind>::type acc, int64_t spatial) {
  if constexpr (kKind == PoolKind::kMax) return from_float<T>(acc);
  else return from_float<T>(static_cast<float>(acc / static_cast<double>(spatial)));  // 0/0 = NaN as the reference
}

// NCHW, small planes: one warp per (n, c) plane.
template <typename T, PoolKind kKind>
__global__ void global_pool_warp(const T* x, T* y, int64_t planes, int64_t spatial) {
  using P = Partial<kKind>;
  const int lane = threadIdx.x % 32;
  const int64_t warps = grid_threads() / 32;
  for (int64_t p = global_thread() / 32; p < planes; p += warps) {
    const T* plane = x + p * spatial;
    typename P::type acc = P::init();
    for (int64_t s = lane; s < spatial; s += 32) acc = P::add(acc, to_float(plane[s]));
    for (int off = 16; off > 0; off /= 2) acc = P::combine(acc, __shfl_xor_sync(0xffffffffu, acc, off));
    if (lane == 0) y[p] = global_result<T, kKind>(acc, spatial);
  }
}

// NCHW, large planes: one block per plane.
template <typename T, PoolKind kKind>
__global__ void global_pool_block(const T* x, T* y, int64_t planes, int64_t spatial) {
  using P = Partial<kKind>;
  using A = typename P::type;
  __shared__ A scratch[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t p = blockIdx.x; p < planes; p += gridDim.x) {
    const T* plane = x + p * spatial;
    A acc = P::init();
    for (int64_t s = threadIdx.x; s < spatial; s += blockDim.x) acc = P::add(acc, to_float(plane[s]));
    for (int off = 16; off > 0; off /= 2) acc = P::combine(acc, __shfl_xor_sync(0xffffffffu, acc, off));
    __syncthreads();  // scratch is still read by the previous plane's warp 0
    if (lane == 0) scratch[warp] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
      A total = scratch[0];
      for (int w = 1; w < kThreads / 32; ++w) total = P::combine(total, scratch[w]);
      y[p] = global_result<T, kKind>(total, spatial);
    }
  }
}

// NHWC: blocks of 32 channels x 8 rows of threads; threadIdx.x runs along C (coalesced), threadIdx.y splits
// the spatial positions, and the 8 partials are combined through shared memory.
constexpr int kChannelTile = 32, kSpatialSplit = 8;

template <typename T, PoolKind kKind>
__global__ void global_pool_channels_last(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial) {
  using P = Partial<kKind>;
  using A = typename P::type;
  __shared__ A partial[kSpatialSplit][kChannelTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kChannelTile + tx;
  for (int64_t n = blockIdx.y; n < batch; n += gridDim.y) {
    A acc = P::init();
    if (c < channels)
      for (int64_t s = ty; s < spatial; s += kSpatialSplit) acc = P::add(acc, to_float(x[(n * spatial + s) * channels + c]));
    partial[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && c < channels) {
      A total = partial[0][tx];
      for (int r = 1; r < kSpatialSplit; ++r) total = P::combine(total, partial[r][tx]);
      y[n * channels + c] = global_result<T, kKind>(total, spatial);
    }
    __syncthreads();  // partial is rewritten for the next n
  }
}

// NHWC with few spatial positions (a classifier's 7x7): one thread per image and 16 bytes of channels, walking
// the positions in order (the reference's summation order) with one vector load each.
template <typename T, PoolKind kKind>
__global__ void global_pool_channels_last_vec(const T* x, T* y, int64_t batch, int64_t channels, int64_t spatial) {
  constexpr int kLanes = 16 / sizeof(T);
  using P = Partial<kKind>;
  const int64_t groups = channels / kLanes;
  for (int64_t idx = global_thread(); idx < batch * groups; idx += grid_threads()) {
    const int64_t n = idx / groups, group = idx % groups;
    const T* base = x + n * spatial * channels + group * kLanes;
    typename P::type acc[kLanes];
#pragma unroll
    for (int j = 0; j < kLanes; ++j) acc[j] = P::init();
    for (int64_t s = 0; s < spatial; ++s) {
      const uint4 raw = *reinterpret_cast<const uint4*>(base + s * channels);
      const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int j = 0; j < kLanes; ++j) acc[j] = P::add(acc[j], to_float(v[j]));
    }
    uint4 out;
    T* o = reinterpret_cast<T*>(&out);
#pragma unroll
    for (int j = 0; j < kLanes; ++j) o[j] = global_result<T, kKind>(acc[j], spatial);
    *reinterpret_cast<uint4*>(y + n * channels + group * kLanes) = out;
  }
}

// Whether max_pool_channels_last_vec compares T's lanes packed in 32-bit words (two f16, four i8 / u8) rather
// than one at a time (a conversion, compare and select per element made the pools issue-bound: the int8 engines'
// max pool ran 0.083 ms at ResNet-50's batch 128, 0.059 packed).
template <typename T>
inline constexpr bool kPackedMax = sizeof(T) == 1 || std::is_same_v<T, __half>;

// The lane-wise running max of a packed word: best's lanes where a tap's `v` is not greater. f16 lanes are
// compared as halves, exactly as the reference compares their float values: NaN is never greater, so a NaN
// first in a window stays and a later one is passed over (as pool_kernel's `value > best`).
template <typename T>
__device__ __forceinline__ uint32_t packed_max(uint32_t best, uint32_t v) {
  if constexpr (std::is_same_v<T, __half>) {
    const uint32_t greater =
        __hgt2_mask(*reinterpret_cast<const __half2*>(&v), *reinterpret_cast<const __half2*>(&best));
    return (v & greater) | (best & ~greater);
  } else if constexpr (std::is_signed_v<T>) {
    return __vmaxs4(best, v);
  } else {
    return __vmaxu4(best, v);
  }
}

// Max pooling in channels-last layout with each thread taking 16 bytes of consecutive channels (4 f32,
// 8 f16, 16 i8 / u8): the same taps, order and comparison per channel as pool_kernel, one vector load per tap,
// f16 / i8 / u8 compared a word at a time (packed_max).
// For channels a multiple of the lane count and 16-byte aligned buffers (run_pool checks).
template <typename T, typename I>
__global__ void max_pool_channels_last_vec(const T* x, T* y, int64_t total_vectors, PoolGeometry g) {
  constexpr int kLanes = 16 / sizeof(T);
  using V = typename MaxValue<T>::type;
  const I groups = static_cast<I>(g.channels / kLanes);
  for (int64_t idx = global_thread(); idx < total_vectors; idx += grid_threads()) {
    I rem = static_cast<I>(idx), o[3] = {0, 0, 0};
    const I cg = rem % groups;
    rem /= groups;
    for (int d = 2; d >= 0; --d) {
      const I extent = static_cast<I>(g.out[d]);
      o[d] = rem % extent;
      rem /= extent;
    }
    const I n = rem, channels = static_cast<I>(g.channels);
    const I in0 = static_cast<I>(g.in[0]), in1 = static_cast<I>(g.in[1]), in2 = static_cast<I>(g.in[2]);
    const I s1 = channels * in2, s0 = s1 * in1;
    const I base = n * in0 * in1 * in2 * channels + cg * kLanes;
    V best[kLanes];
    uint32_t best4[4] = {};  // kPackedMax: the running max as four packed words
    bool any = false;
    for (I k0 = 0; k0 < static_cast<I>(g.kernel[0]); ++k0) {
      const I i0 = o[0] * static_cast<I>(g.stride[0]) - static_cast<I>(g.pad_begin[0]) + k0 * static_cast<I>(g.dilation[0]);
      if (i0 < 0 || i0 >= in0) continue;
      for (I k1 = 0; k1 < static_cast<I>(g.kernel[1]); ++k1) {
        const I i1 = o[1] * static_cast<I>(g.stride[1]) - static_cast<I>(g.pad_begin[1]) + k1 * static_cast<I>(g.dilation[1]);
        if (i1 < 0 || i1 >= in1) continue;
        for (I k2 = 0; k2 < static_cast<I>(g.kernel[2]); ++k2) {
          const I i2 = o[2] * static_cast<I>(g.stride[2]) - static_cast<I>(g.pad_begin[2]) + k2 * static_cast<I>(g.dilation[2]);
          if (i2 < 0 || i2 >= in2) continue;
          const uint4 raw = *reinterpret_cast<const uint4*>(x + base + i0 * s0 + i1 * s1 + i2 * channels);
          if constexpr (kPackedMax<T>) {
            const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
            for (int q = 0; q < 4; ++q) best4[q] = any ? packed_max<T>(best4[q], words[q]) : words[q];
          } else {
            const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
            for (int j = 0; j < kLanes; ++j) {
              const V value = MaxValue<T>::load(v[j]);
              if (!any || value > best[j]) best[j] = value;
            }
          }
          any = true;
        }
      }
    }
    uint4 out;
    if (kPackedMax<T> && any) {
      out = make_uint4(best4[0], best4[1], best4[2], best4[3]);
    } else {  // f32, or no tap in bounds: every lane the start value (the type's lowest; f16 -inf)
      T* w = reinterpret_cast<T*>(&out);
#pragma unroll
      for (int j = 0; j < kLanes; ++j) w[j] = MaxValue<T>::store(any ? best[j] : MaxValue<T>::lowest());
    }
    *reinterpret_cast<uint4*>(y + static_cast<int64_t>(idx) * kLanes) = out;
  }
}

template <typename T, PoolKind kKind>
cudaError_t run_pool(const void* xv, void* yv, const PoolGeometry& g, cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const int64_t total = g.batch * g.channels * g.out[0] * g.out[1] * g.out[2];
  if (total <= 0) return cudaSuccess;
  // 32-bit index math when every offset and window coordinate fits (far from 2^31 in real models).
  int64_t input = g.batch * g.channels, reach = 0;
  for (int d = 0; d < 3; ++d) {
    input *= g.in[d];
    const int64_t r = g.out[d] * g.stride[d] + g.kernel[d] * g.dilation[d] + g.pad_begin[d] + g.pad_end[d] + g.in[d];
    reach = r > reach ? r : reach;
  }
  const bool fits32 = total <= INT32_MAX && input <= INT32_MAX && reach <= INT32_MAX;
  constexpr int kLanes = 16 / sizeof(T);
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  if (kKind == PoolKind::kMax && g.channels_last && g.channels % kLanes == 0 && aligned && fits32) {
    max_pool_channels_last_vec<T, int32_t><<<blocks_for(total / kLanes), kThreads, 0, stream>>>(x, y, total / kLanes, g);
    return cudaGetLastError();
  }
  if (fits32)
    pool_kernel<T, kKind, int32_t><<<blocks_for(total), kThreads, 0, stream>>>(x, y, total, g);
  else
    pool_kernel<T, kKind, int64_t><<<blocks_for(total), kThreads, 0, stream>>>(x, y, total, g);
  return cudaGetLastError();
}

template <typename T, PoolKind kKind>
cudaError_t run_global(const void* xv, void* yv, int64_t batch, int64_t channels, int64_t spatial, bool channels_last,
                       cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const int64_t planes = batch * channels;
  if (planes <= 0) return cudaSuccess;
  constexpr int kLanes = 16 / sizeof(T);
  constexpr int64_t kFewPositions = 256;  // a thread walks them all: the vector kernel only for small maps
  const bool aligned = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  if (channels_last && channels % kLanes == 0 && spatial <= kFewPositions && aligned) {
    global_pool_channels_last_vec<T, kKind><<<blocks_for(batch * channels / kLanes), kThreads, 0, stream>>>(
        x, y, batch, channels, spatial);
  } else if (channels_last) {
    const int64_t tiles = (channels + kChannelTile - 1) / kChannelTile;
    if (tiles > INT32_MAX) return cudaErrorInvalidValue;
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(batch < kMaxBlocks ? batch : kMaxBlocks));
    global_pool_channels_last<T, kKind><<<grid, dim3(kChannelTile, kSpatialSplit), 0, stream>>>(x, y, batch, channels,
                                                                                              spatial);
  } else if (spatial <= 1024) {
    global_pool_warp<T, kKind><<<blocks_for(planes * 32), kThreads, 0, stream>>>(x, y, planes, spatial);
  } else {
    const unsigned blocks = static_cast<unsigned>(planes < kMaxBlocks ? planes : kMaxBlocks);
    global_pool_block<T, kKind><<<blocks, kThreads, 0, stream>>>(x, y, planes, spatial);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_pool(PoolKind kind, ElemType type, const void* x, void* y, const PoolGeometry& g,
                        cudaStream_t stream) {
  const bool max = kind == PoolKind::kMax;
  switch (type) {
    case ElemType::kF32:
      return max ? run_pool<float, PoolKind::kMax>(x, y, g, stream) : run_pool<float, PoolKind::kAverage>(x, y, g, stream);
    case ElemType::kF16:
      return max ? run_pool<__half, PoolKind::kMax>(x, y, g, stream)
                 : run_pool<__half, PoolKind::kAverage>(x, y, g, stream);
    // Integers: max only (the reference's AveragePool is float-only; int8 graphs keep it in float).
    case ElemType::kI8: return max ? run_pool<int8_t, PoolKind::kMax>(x, y, g, stream) : cudaErrorInvalidValue;
    case ElemType::kU8: return max ? run_pool<uint8_t, PoolKind::kMax>(x, y, g, stream) : cudaErrorInvalidValue;
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_global_pool(PoolKind kind, ElemType type, const void* x, void* y, int64_t batch,
                               int64_t channels, int64_t spatial, bool channels_last, cudaStream_t stream) {
  const bool max = kind == PoolKind::kMax;
  switch (type) {
    case ElemType::kF32:
      return max ? run_global<float, PoolKind::kMax>(x, y, batch, channels, spatial, channels_last, stream)
                 : run_global<float, PoolKind::kAverage>(x, y, batch, channels, spatial, channels_last, stream);
    case ElemType::kF16:
      return max ? run_global<__half, PoolKind::kMax>(x, y, batch, channels, spatial, channels_last, stream)
                 : run_global<__half, PoolKind::kAverage>(x, y, batch, channels, spatial, channels_last, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace kiln::cuda::launch
