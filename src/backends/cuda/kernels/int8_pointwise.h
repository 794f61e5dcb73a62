// Launcher of kiln's int8 pointwise convolution (int8_pointwise.cu; plain C++17 for nvcc) for kiln.QConv's
// 1x1 convolutions without padding, any stride, in NHWC with a multiple of 64 input channels: ResNet-50's
// expansions with their residual, its projections and downsamples. These are memory-bound at batch 32 and
// more, and cuDNN 9's int8 engines on the H100 ran them slower than its f16 ones (layer1's 64 -> 256 expansion
// with its residual: 0.200 ms int8 against 0.164 ms f16 on cuBLASLt at batch 128, i.e. 1.15 TB/s). This kernel
// is a GEMM of output pixels (rows gathered from X at the stride) by W, W resident in shared memory, X's
// slices and the residual's tiles copied several steps ahead, so that the copies keep the memory busy.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backends/cuda/kernels/int8_conv.h"

namespace kiln::cuda::launch {

/// W's packing for this kernel is int8_conv.h's with one slice of all C channels (Int8ConvArgs::slice = c):
/// [round_up(k, 64)][1][int8_conv_padded_taps(1, c)][c], each output channel's row a multiple of 128 bytes.
inline int int8_pointwise_w_row_bytes(int c) { return int8_conv_padded_taps(1, c) * c; }

/// How a launch for `c` input channels uses the multiprocessors: the channels it takes per pipeline step (128
/// where c allows, else 64), how many steps it copies ahead (stages - 1) and how many blocks share a
/// multiprocessor. stages 0 when W's resident rows and two stages do not fit in shared memory.
struct Int8PointwisePlan {
  int slice_bytes = 0;
  int stages = 0;
  int blocks_per_sm = 0;
  size_t shared_bytes = 0;
};
Int8PointwisePlan int8_pointwise_plan(int c);
/// The plan of the three-blocks variant (`launch_int8_pointwise_3_blocks`): three blocks a multiprocessor (24
/// warps; 80 registers a thread) and two stages; stages 0 where three blocks' W rows and stages do not fit
/// (ResNet-50's 1x1s over 64, 128 and 256 channels fit, over 512 and more do not).
Int8PointwisePlan int8_pointwise_plan_3_blocks(int c);

/// Whether the kernel runs `a`: a 1x1 window without padding or dilation, c a multiple of 64 (W packed with
/// slice c), k a multiple of 16, rows and extents within 32-bit indexing, W's rows and two stages in shared
/// memory.
bool int8_pointwise_supported(const Int8ConvArgs& a);
bool int8_pointwise_3_blocks_supported(const Int8ConvArgs& a);

/// Allows the kernel the shared memory it may need on the current device and returns the device's
/// multiprocessor count; call before launching, not under capture.
cudaError_t prepare_int8_pointwise(int* multiprocessors);

/// y = requantize(conv(x, w)) as launch_int8_conv computes it, `multiprocessors` from prepare_int8_pointwise.
/// Capturable.
cudaError_t launch_int8_pointwise(const Int8ConvArgs& a, int multiprocessors, cudaStream_t stream);
/// The same with int8_pointwise_plan_3_blocks (a second tactic: more warps to hide latency, fewer stages).
cudaError_t launch_int8_pointwise_3_blocks(const Int8ConvArgs& a, int multiprocessors, cudaStream_t stream);

}  // namespace kiln::cuda::launch
