// Launchers of kiln's own CUDA kernels (kernels/*.cu), shared by the .cu files (nvcc, C++17) and the
// CudaKernel classes that call them (*.cc, C++20). Plain C++17 on purpose: nvcc never sees kiln's headers.
//
// Every launcher enqueues its work on `stream` and returns the launch's error (cudaGetLastError()), so callers
// wrap it in KILN_CUDA_TRY. None synchronizes, allocates or reads device memory on the host, so all of them
// can be captured into a CUDA graph. Sizes are int64; a launcher with nothing to do (0 elements) launches
// nothing and returns cudaSuccess.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda::launch {

constexpr int kMaxRank = 6;

/// Element types the kernels know (the .cc side maps kiln's DataType onto these). kBool is one byte, 0 or 1.
enum class ElemType : int32_t { kF32, kF16, kI32, kI64, kU8, kI8, kBool };

// ---- Pointwise: unary ops and kiln.ElementwiseChain --------------------------------------------------

/// One step of a pointwise chain. "R" ops are the reversed binary forms (c op x); c is p0.
enum class PointOp : int32_t {
  kRelu, kLeakyRelu, kElu, kSelu, kCelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kSoftplus, kSoftsign,
  kMish, kThresholdedRelu, kShrink, kClip, kErf, kAbs, kNeg, kSign, kSqrt, kReciprocal, kExp, kLog, kFloor,
  kCeil, kRound, kSin, kCos, kTan, kAtan, kSinh, kCosh,
  kAdd, kAddR, kSub, kSubR, kMul, kMulR, kDiv, kDivR, kPow, kPowR, kMax, kMaxR, kMin, kMinR,
};

/// Parameters as the op's attributes (LeakyRelu/Elu/Celu/ThresholdedRelu alpha = p0; HardSigmoid alpha,
/// beta; Selu alpha, gamma; Shrink bias, lambd; Clip min, max as ±inf when absent; binary: the scalar p0),
/// already rounded to the element type where the reference rounds them (Clip bounds, binary scalars).
struct PointStep {
  PointOp op;
  float p0, p1;
};

constexpr int kMaxChainSteps = 16;
struct PointChain {
  int32_t count;
  PointStep steps[kMaxChainSteps];
};

/// y[i] = steps[count-1](...steps[0](x[i])) for f32 or f16 (f16: math in float, rounded to f16 after each
/// step, as the unfused graph stored every intermediate).
cudaError_t launch_pointwise(ElemType type, const void* x, void* y, int64_t n, const PointChain& chain,
                             cudaStream_t stream);

// ---- Binary ops with numpy broadcasting ---------------------------------------------------------------

enum class BinaryOp : int32_t { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow };

/// The broadcast of a and b onto out, simplified by the caller (axes of extent 1 dropped, axes merged
/// where both operands broadcast the same way): per output axis, the element stride of each operand (0 on
/// a broadcast axis). rank 0 is one element.
struct BroadcastGeometry {
  int32_t rank;
  int64_t out[kMaxRank];
  int64_t a_stride[kMaxRank];
  int64_t b_stride[kMaxRank];
};

/// out = a op b; out has a's type. a is f32 or f16; b has a's type, except for kPow, where b may be any
/// of f32, f16, i32, i64. Fast paths: same shape or a scalar operand, and a per-channel vector operand.
cudaError_t launch_binary(BinaryOp op, ElemType a_type, ElemType b_type, const void* a, const void* b, void* out,
                          const BroadcastGeometry& g, cudaStream_t stream);

// ---- Cast ---------------------------------------------------------------------------------------------

/// y = Cast(x) with the reference's rules: floats to integers truncate toward zero, saturate to int64 and
/// wrap to the target width (NaN -> 0); integers wrap; anything -> bool is != 0; f16 rounds to nearest even.
cudaError_t launch_cast(ElemType from, ElemType to, const void* x, void* y, int64_t n, cudaStream_t stream);

// ---- Data movement ------------------------------------------------------------------------------------

/// A transpose simplified by the caller: per output axis (row-major over `out`), the input element stride.
struct TransposeGeometry {
  int32_t rank;
  int64_t out[kMaxRank];
  int64_t in_stride[kMaxRank];
};

/// y = x permuted, elements of `elem_bytes` (1, 2, 4 or 8) bytes.
cudaError_t launch_transpose(int32_t elem_bytes, const void* x, void* y, const TransposeGeometry& g,
                             cudaStream_t stream);

/// y[b][c][r] = x[b][r][c] for x of [batch, rows, cols]: the tiled shared-memory path (NCHW <-> NHWC is
/// batch N with rows C and cols H*W, or rows H*W and cols C).
cudaError_t launch_batched_transpose(int32_t elem_bytes, const void* x, void* y, int64_t batch, int64_t rows,
                                     int64_t cols, cudaStream_t stream);

/// Copies `rows` rows of `row_bytes` each from contiguous src into dst, whose rows start `dst_pitch` bytes
/// apart (one Concat input into its slot of the output).
cudaError_t launch_pitched_copy(const void* src, void* dst, int64_t rows, int64_t row_bytes, int64_t dst_pitch,
                                cudaStream_t stream);

// ---- Pooling ------------------------------------------------------------------------------------------

enum class PoolKind : int32_t { kMax, kAverage };

/// A windowed pool over up to 3 spatial axes (fewer: leading axes of extent 1, kernel 1, stride 1, no pads).
/// channels_last: memory order N, spatial..., C (kiln.Pool NHWC); else N, C, spatial... .
struct PoolGeometry {
  int64_t batch, channels;
  int64_t in[3], out[3];
  int64_t kernel[3], stride[3], dilation[3], pad_begin[3], pad_end[3];
  bool channels_last;
  bool count_include_pad;
};

/// kMax: f32, f16, i8, u8 (integers compared exactly, an all-padding window gives the type's lowest);
/// kAverage: f32, f16.
cudaError_t launch_pool(PoolKind kind, ElemType type, const void* x, void* y, const PoolGeometry& g,
                        cudaStream_t stream);

/// GlobalAveragePool / GlobalMaxPool: one value per (n, c) over `spatial` elements. channels_last reads
/// coalesced along C.
cudaError_t launch_global_pool(PoolKind kind, ElemType type, const void* x, void* y, int64_t batch,
                               int64_t channels, int64_t spatial, bool channels_last, cudaStream_t stream);

// ---- Softmax ------------------------------------------------------------------------------------------

/// Softmax over groups (outer, extent, inner): element (o, e, i) is at (o * extent + e) * inner + i.
cudaError_t launch_softmax(ElemType type, const void* x, void* y, int64_t outer, int64_t extent, int64_t inner,
                           cudaStream_t stream);

// ---- Linear quantization (QuantizeLinear / DequantizeLinear) ---------------------------------------------

/// Which scale / zero point element i of x uses: per tensor (axis_dim 1: always 0) or per axis
/// ((i / inner) % axis_dim, x's extent on the axis and the element count behind it).
struct QuantAxis {
  int64_t axis_dim, inner;
};

/// QuantizeLinear as the reference (src/backends/ref/quant.cc): q = rint(float(x) / scale[p]) (IEEE division,
/// half to even) + zero_point[p], saturated to y's range; NaN gives the saturated zero point. x f32 or f16,
/// y i8 or u8; scale (float) and zero_point (int32) are device arrays of axis_dim elements.
cudaError_t launch_quantize(ElemType x_type, ElemType y_type, const void* x, void* y, int64_t n, const float* scale,
                            const int32_t* zero_point, QuantAxis axis, cudaStream_t stream);

/// DequantizeLinear as the reference: y = float(int64(x) - zero_point[p]) * scale[p] in float, rounded once to
/// y (nearest even for f16). x i8, u8 or i32; y f32 or f16.
cudaError_t launch_dequantize(ElemType x_type, ElemType y_type, const void* x, void* y, int64_t n, const float* scale,
                              const int32_t* zero_point, QuantAxis axis, cudaStream_t stream);

// ---- kiln.QMatMul -----------------------------------------------------------------------------------------

/// Tiles of the integer matmul: b is packed to [n_padded, k_padded] (multiples of these) at kernel creation.
constexpr int kQMatMulTileN = 64, kQMatMulTileK = 128;

/// y[m, n] = clamp(rint(float(acc) * multiplier[n]) + y_zero_point, y_lo, y_hi) with, in int32 (wrapping),
///   acc = sum_k a'[m, k] * b'[k, n] + col_offset[n] - (row_sums ? col_zero_point[n] * sum_k a'[m, k] : 0)
/// where a' = a ^ a_flip (a_flip 0x80 maps u8 onto i8: a - 128) and b' is b_packed[n][k], both int8. The
/// caller folds the zero points and the bias into col_offset and col_zero_point (see qmatmul_kernel.cc).
struct QMatMulGeometry {
  int64_t m;
  int32_t k, n, k_padded;
  uint8_t a_flip;
  bool row_sums;
  int32_t y_zero_point, y_lo, y_hi;
};

/// a: [m, k] bytes (any alignment); b_packed: int8 [n_padded][k_padded], 4-byte aligned; col_* : n elements;
/// y: [m, n] of y_type (i8 or u8).
cudaError_t launch_qmatmul(ElemType y_type, const void* a, const void* b_packed, const int32_t* col_offset,
                           const int32_t* col_zero_point, const float* multiplier, void* y, const QMatMulGeometry& g,
                           cudaStream_t stream);

}  // namespace kiln::cuda::launch
