// Broadcasting binary ops (Add, Sub, Mul, Div, Max, Min, Pow) as the reference computes them
// (src/backends/ref/elementwise_binary.cc): arithmetic in float rounded once to the output type, Max/Min
// NaN-propagating, Pow in double. Three shapes of launch: flat (same shape or a scalar operand), per-channel
// (one operand is a vector along one axis of the other) and general (any broadcast, rank <= 6).
#include <cuda_fp16.h>

#include "device_util.cuh"
#include "launch.h"

namespace kiln::cuda::launch {

namespace {

using namespace kiln::cuda::device;  // NOLINT

__device__ __forceinline__ double to_double(float v) { return v; }
__device__ __forceinline__ double to_double(__half v) { return __half2float(v); }
__device__ __forceinline__ double to_double(int32_t v) { return static_cast<double>(v); }
__device__ __forceinline__ double to_double(int64_t v) { return static_cast<double>(v); }

template <BinaryOp kOp, typename TA, typename TB>
__device__ __forceinline__ TA apply(TA a, TB b) {
  if constexpr (kOp == BinaryOp::kPow) {
    return from_double<TA>(pow(to_double(a), to_double(b)));
  } else {
    const float x = to_float(a), y = to_float(b);
    if constexpr (kOp == BinaryOp::kAdd) {
      return from_float<TA>(x + y);
    } else if constexpr (kOp == BinaryOp::kSub) {
      return from_float<TA>(x - y);
    } else if constexpr (kOp == BinaryOp::kMul) {
      return from_float<TA>(x * y);
    } else if constexpr (kOp == BinaryOp::kDiv) {
      return from_float<TA>(x / y);
    } else {
      static_assert(kOp == BinaryOp::kMax || kOp == BinaryOp::kMin);
      // The reference's fold: NaN if either is NaN, else std::max(x, y) / std::min(x, y) (which return
      // their first argument on ties, so the sign of a zero follows it too).
      if (isnan(x) || isnan(y)) return from_float<TA>(__int_as_float(0x7fc00000));
      if constexpr (kOp == BinaryOp::kMax) return x < y ? b : a;
      else return y < x ? b : a;
    }
  }
}

// out[i] = a[i * sa] op b[i * sb], sa and sb 0 (scalar) or 1.
template <BinaryOp kOp, typename TA, typename TB>
__global__ void binary_flat(const TA* a, const TB* b, TA* out, int64_t n, int64_t sa, int64_t sb) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) out[i] = apply<kOp>(a[i * sa], b[i * sb]);
}

// binary_flat in 16-byte words (4 f32 or 8 f16) for same-typed operands whose full ones and out are 16-byte
// aligned; a scalar operand is read once. The n % kVec trailing elements go one by one.
template <BinaryOp kOp, typename T>
__global__ void binary_flat_vec(const T* a, const T* b, T* out, int64_t n, bool a_full, bool b_full) {
  constexpr int kVec = 16 / sizeof(T);
  union Word {
    uint4 raw;
    T e[kVec];
  };
  const T a0 = a[0], b0 = b[0];
  const int64_t words = n / kVec;
  for (int64_t w = global_thread(); w < words; w += grid_threads()) {
    Word wa, wb, wo;
    if (a_full) wa.raw = reinterpret_cast<const uint4*>(a)[w];
    if (b_full) wb.raw = reinterpret_cast<const uint4*>(b)[w];
#pragma unroll
    for (int k = 0; k < kVec; ++k) wo.e[k] = apply<kOp>(a_full ? wa.e[k] : a0, b_full ? wb.e[k] : b0);
    reinterpret_cast<uint4*>(out)[w] = wo.raw;
  }
  for (int64_t i = words * kVec + global_thread(); i < n; i += grid_threads())
    out[i] = apply<kOp>(a[a_full ? i : 0], b[b_full ? i : 0]);
}

// One operand is full (row-major over out), the other a vector over `channels` indexed by (i / inner) % channels.
template <BinaryOp kOp, typename TA, typename TB, bool kVectorIsB, typename I>
__global__ void binary_channel(const TA* a, const TB* b, TA* out, int64_t n, int64_t channels, int64_t inner) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const I c = (static_cast<I>(i) / static_cast<I>(inner)) % static_cast<I>(channels);
    out[i] = kVectorIsB ? apply<kOp>(a[i], b[c]) : apply<kOp>(a[c], b[i]);
  }
}

// Any broadcast: decode the output index, I (int32 where everything fits) for the index math. The rank is
// a template parameter so the geometry stays in registers (see transpose.cu).
template <BinaryOp kOp, typename TA, typename TB, typename I, int kRank>
__global__ void binary_general(const TA* a, const TB* b, TA* out, int64_t n, BroadcastGeometry g) {
  I extent[kRank], sa[kRank], sb[kRank];
#pragma unroll
  for (int d = 0; d < kRank; ++d) {
    extent[d] = static_cast<I>(g.out[d]);
    sa[d] = static_cast<I>(g.a_stride[d]);
    sb[d] = static_cast<I>(g.b_stride[d]);
  }
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    I rem = static_cast<I>(i), ia = 0, ib = 0;
#pragma unroll
    for (int d = kRank - 1; d >= 0; --d) {
      const I coord = rem % extent[d];
      rem /= extent[d];
      ia += coord * sa[d];
      ib += coord * sb[d];
    }
    out[i] = apply<kOp>(a[ia], b[ib]);
  }
}

template <BinaryOp kOp, typename TA, typename TB, typename I>
cudaError_t run_general(const TA* a, const TB* b, TA* out, int64_t n, const BroadcastGeometry& g, cudaStream_t stream) {
  const unsigned blocks = blocks_for(n);
  // Ranks 0 and 1 are always flat (see run); 2 and up reach here.
  switch (g.rank) {
    case 2: binary_general<kOp, TA, TB, I, 2><<<blocks, kThreads, 0, stream>>>(a, b, out, n, g); break;
    case 3: binary_general<kOp, TA, TB, I, 3><<<blocks, kThreads, 0, stream>>>(a, b, out, n, g); break;
    case 4: binary_general<kOp, TA, TB, I, 4><<<blocks, kThreads, 0, stream>>>(a, b, out, n, g); break;
    case 5: binary_general<kOp, TA, TB, I, 5><<<blocks, kThreads, 0, stream>>>(a, b, out, n, g); break;
    case 6: binary_general<kOp, TA, TB, I, 6><<<blocks, kThreads, 0, stream>>>(a, b, out, n, g); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

bool is_contiguous(const BroadcastGeometry& g, const int64_t* stride) {
  int64_t expect = 1;
  for (int d = g.rank - 1; d >= 0; --d) {
    if (stride[d] != expect) return false;
    expect *= g.out[d];
  }
  return true;
}

bool is_scalar(const BroadcastGeometry& g, const int64_t* stride) {
  for (int d = 0; d < g.rank; ++d)
    if (stride[d] != 0) return false;
  return true;
}

// The one axis along which `stride` is not 0, if it has stride 1; -1 otherwise.
int vector_axis(const BroadcastGeometry& g, const int64_t* stride) {
  int axis = -1;
  for (int d = 0; d < g.rank; ++d) {
    if (stride[d] == 0) continue;
    if (axis >= 0 || stride[d] != 1) return -1;
    axis = d;
  }
  return axis;
}

template <BinaryOp kOp, typename TA, typename TB>
cudaError_t run(const void* av, const void* bv, void* outv, const BroadcastGeometry& g, cudaStream_t stream) {
  const TA* a = static_cast<const TA*>(av);
  const TB* b = static_cast<const TB*>(bv);
  TA* out = static_cast<TA*>(outv);
  int64_t n = 1;
  for (int d = 0; d < g.rank; ++d) n *= g.out[d];
  if (n <= 0) return cudaSuccess;
  const unsigned blocks = blocks_for(n);
  const bool a_full = is_contiguous(g, g.a_stride), b_full = is_contiguous(g, g.b_stride);
  const bool a_scalar = is_scalar(g, g.a_stride), b_scalar = is_scalar(g, g.b_stride);
  if ((a_full || a_scalar) && (b_full || b_scalar)) {
    if constexpr (std::is_same_v<TA, TB>) {
      const uintptr_t align = reinterpret_cast<uintptr_t>(out) | (a_full ? reinterpret_cast<uintptr_t>(a) : 0) |
                              (b_full ? reinterpret_cast<uintptr_t>(b) : 0);
      if (align % 16 == 0) {
        constexpr int kVec = 16 / sizeof(TA);
        binary_flat_vec<kOp, TA><<<blocks_for(n / kVec), kThreads, 0, stream>>>(a, b, out, n, a_full, b_full);
        return cudaGetLastError();
      }
    }
    binary_flat<kOp, TA, TB><<<blocks, kThreads, 0, stream>>>(a, b, out, n, a_full ? 1 : 0, b_full ? 1 : 0);
    return cudaGetLastError();
  }
  // Per-channel: the vector operand's one axis k gives channels = out[k], inner = prod(out[k+1:]).
  const int a_axis = vector_axis(g, g.a_stride), b_axis = vector_axis(g, g.b_stride);
  if ((a_full && b_axis >= 0) || (b_full && a_axis >= 0)) {
    const int k = a_full ? b_axis : a_axis;
    int64_t inner = 1;
    for (int d = k + 1; d < g.rank; ++d) inner *= g.out[d];
    const int64_t channels = g.out[k];
    if (n <= INT32_MAX) {
      if (a_full) binary_channel<kOp, TA, TB, true, int32_t><<<blocks, kThreads, 0, stream>>>(a, b, out, n, channels, inner);
      else binary_channel<kOp, TA, TB, false, int32_t><<<blocks, kThreads, 0, stream>>>(a, b, out, n, channels, inner);
    } else {
      if (a_full) binary_channel<kOp, TA, TB, true, int64_t><<<blocks, kThreads, 0, stream>>>(a, b, out, n, channels, inner);
      else binary_channel<kOp, TA, TB, false, int64_t><<<blocks, kThreads, 0, stream>>>(a, b, out, n, channels, inner);
    }
    return cudaGetLastError();
  }
  // Offsets never exceed n - 1 (each operand is no larger than the output), so n bounds the index math.
  if (n <= INT32_MAX) return run_general<kOp, TA, TB, int32_t>(a, b, out, n, g, stream);
  return run_general<kOp, TA, TB, int64_t>(a, b, out, n, g, stream);
}

// The (a, b) type pairs: same type for every op; Pow's exponent may be any of f32, f16, i32, i64.
template <BinaryOp kOp>
cudaError_t run_types(ElemType ta, ElemType tb, const void* a, const void* b, void* out, const BroadcastGeometry& g,
                      cudaStream_t stream) {
  if (ta == ElemType::kF32 && tb == ElemType::kF32) return run<kOp, float, float>(a, b, out, g, stream);
  if (ta == ElemType::kF16 && tb == ElemType::kF16) return run<kOp, __half, __half>(a, b, out, g, stream);
  if constexpr (kOp == BinaryOp::kPow) {
    if (ta == ElemType::kF32) {
      if (tb == ElemType::kF16) return run<kOp, float, __half>(a, b, out, g, stream);
      if (tb == ElemType::kI32) return run<kOp, float, int32_t>(a, b, out, g, stream);
      if (tb == ElemType::kI64) return run<kOp, float, int64_t>(a, b, out, g, stream);
    }
    if (ta == ElemType::kF16) {
      if (tb == ElemType::kF32) return run<kOp, __half, float>(a, b, out, g, stream);
      if (tb == ElemType::kI32) return run<kOp, __half, int32_t>(a, b, out, g, stream);
      if (tb == ElemType::kI64) return run<kOp, __half, int64_t>(a, b, out, g, stream);
    }
  }
  return cudaErrorInvalidValue;
}

}  // namespace

cudaError_t launch_binary(BinaryOp op, ElemType a_type, ElemType b_type, const void* a, const void* b, void* out,
                          const BroadcastGeometry& g, cudaStream_t stream) {
  if (g.rank < 0 || g.rank > kMaxRank) return cudaErrorInvalidValue;
  switch (op) {
    case BinaryOp::kAdd: return run_types<BinaryOp::kAdd>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kSub: return run_types<BinaryOp::kSub>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kMul: return run_types<BinaryOp::kMul>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kDiv: return run_types<BinaryOp::kDiv>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kMax: return run_types<BinaryOp::kMax>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kMin: return run_types<BinaryOp::kMin>(a_type, b_type, a, b, out, g, stream);
    case BinaryOp::kPow: return run_types<BinaryOp::kPow>(a_type, b_type, a, b, out, g, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kiln::cuda::launch
