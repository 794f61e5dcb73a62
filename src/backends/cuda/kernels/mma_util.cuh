// Device helpers of kiln's tensor-core kernels (few_channel_conv.cu, int8_conv.cu): asynchronous 16-byte
// copies into shared memory, ldmatrix, mma.sync, and the XOR swizzles that keep ldmatrix free of bank
// conflicts. sm_80 and newer.
#pragma once

#include <cstdint>

namespace kiln::cuda::device {

constexpr int kChunkBytes = 16;  // one cp.async, one ldmatrix row

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Chunk `chunk` of tile row `row` (`row_chunks` chunks per row, a multiple of 8): XOR-swizzled within groups
// of 8 so that the 8 row addresses of one ldmatrix at the same logical chunk fall in 8 different bank groups.
__device__ __forceinline__ int swizzled(int row, int chunk, int row_chunks) {
  return row * row_chunks + (chunk ^ (row & 7));
}

// Chunk c of pixel p in an input patch of kChunksPerPixel (1, 2, 4, 8, 16) chunks per pixel: XOR-swizzled so that
// ldmatrix's 8 row addresses (8 neighbouring pixels at the same chunk) fall in 8 different bank groups. With
// one chunk per pixel, 8 neighbouring pixels are 128 contiguous bytes already.
template <int kChunksPerPixel>
__device__ __forceinline__ int patch_chunk(int p, int c) {
  static_assert(kChunksPerPixel == 1 || kChunksPerPixel == 2 || kChunksPerPixel == 4 || kChunksPerPixel % 8 == 0,
                "1, 2, 4 or a multiple of 8 chunks per pixel");
  if constexpr (kChunksPerPixel == 1) return p;
  else if constexpr (kChunksPerPixel == 2) return 2 * p + (c ^ ((p >> 2) & 1));
  else if constexpr (kChunksPerPixel == 4) return 4 * p + (c ^ ((p >> 1) & 3));
  else return kChunksPerPixel * p + (c ^ (p & 7));  // pixels 128 bytes or more apart: spread within 8 chunks
}

// 16 bytes global -> shared, asynchronously; zeros when !valid (src is then not read).
__device__ __forceinline__ void copy_16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `kPending` of this thread's commit groups are still in flight.
template <int kPending>
__device__ __forceinline__ void copy_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t address, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

// d += a * b: 16 x 8 x 16 f16 with f32 accumulation.
__device__ __forceinline__ void mma_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// d += a * b: 16 x 8 x 32 int8 with int32 accumulation.
__device__ __forceinline__ void mma_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Conversions between int and float without I2F / F2I, which issue at a quarter of the FP32 rate on sm_90: the
// int8 epilogues convert two or three values per output (accumulator, residual, result). At that rate layer1's
// residual expansion at batch 128 (103 M outputs x 3) would need ~0.074 ms of its 0.118; measured without them
// (H200, session 9): 0.112 ms (-5%), layer2's -4%, the stem unchanged — the conversions overlapped other work more
// than that estimate assumed. 1.5 * 2^23 has unit spacing: adding it to a float rounds to an integer (half to even,
// as rint) and leaves that integer v in the low bits, 0x4B400000 + v, for |v| <= 2^22.
inline constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
inline constexpr int kRoundMagicBits = 0x4B400000;

// float(i), exactly, for |i| <= 2^22: an integer add and a float add.
__device__ __forceinline__ float small_int_to_float(int i) { return __int_as_float(kRoundMagicBits + i) - kRoundMagic; }

// kiln.QConv's requantization of t (qconv_kernels.cu): rint(t) clamped to [lo, hi], half to even. lo and hi
// are integers within [-128, 127], so clamping before rounding gives the same, and the clamped value's rounding
// by kRoundMagic leaves the int8 in the low byte.
__device__ __forceinline__ int8_t requantize(float t, float lo, float hi) {
  return static_cast<int8_t>(__float_as_int(fminf(fmaxf(t, lo), hi) + kRoundMagic));
}

// The accumulator as a float: by small_int_to_float when kSmallAcc (at most 256 int8 products summed: |acc| <=
// 2^22), else I2F.
template <bool kSmallAcc>
__device__ __forceinline__ float acc_to_float(int acc) {
  if constexpr (kSmallAcc) return small_int_to_float(acc);
  else return static_cast<float>(acc);
}
// Whether an accumulator of `products` int8 products (channels x taps) takes kSmallAcc.
__host__ __device__ inline bool small_accumulator(int products) { return products <= 256; }

// One kiln.QConv output from its accumulator: acc * mult + bias (+ z * z_mult), then requantize(). Fused
// multiply-adds: the reference computes t in double, which one rounding per step approaches more closely
// than two, in fewer instructions (memory-bound layers' epilogues are most of their instructions). Both
// conversions are exact, so kSmallAcc changes no result.
template <bool kSmallAcc>
__device__ __forceinline__ int8_t requantize_qconv(int acc, float mult, float bias, float lo, float hi) {
  return requantize(fmaf(acc_to_float<kSmallAcc>(acc), mult, bias), lo, hi);
}
template <bool kSmallAcc>
__device__ __forceinline__ int8_t requantize_qconv(int acc, float mult, float bias, int8_t z, float z_mult, float lo,
                                                   float hi) {
  return requantize(fmaf(small_int_to_float(z), z_mult, fmaf(acc_to_float<kSmallAcc>(acc), mult, bias)), lo, hi);
}

}  // namespace kiln::cuda::device
