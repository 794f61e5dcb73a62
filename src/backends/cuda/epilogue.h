// The epilogue kernel of the cuDNN / cuBLASLt kernels, for what the libraries cannot fuse at some shape or
// activation: y = act(y + bias[channel] + z), in place, computed in f32.
//
// C++17 with CUDA headers only (nvcc compiles epilogue.cu, which must not include kiln's C++20 headers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

/// The activations of kiln's fused ops (`activation` attribute), with ONNX semantics. Parameters p0/p1 follow
/// `activation_params`: LeakyRelu/Elu/Celu/ThresholdedRelu [alpha], HardSigmoid [alpha, beta],
/// Selu [alpha, gamma], Shrink [bias, lambd], Clip [min, max].
enum class EpilogueActivation : int32_t {
  kNone = 0,
  kRelu,
  kLeakyRelu,
  kClip,
  kSigmoid,
  kTanh,
  kElu,
  kSelu,
  kCelu,
  kHardSigmoid,
  kHardSwish,
  kSoftplus,
  kSoftsign,
  kMish,
  kThresholdedRelu,
  kShrink,
  kGelu,  ///< exact (erf) form
};

enum class EpilogueDtype : int32_t { kF32 = 0, kF16 = 1 };

struct EpilogueArgs {
  void* y = nullptr;            ///< `count` elements, read and written
  const float* bias = nullptr;  ///< `channels` f32 elements (whatever the dtype of y), or null
  const void* z = nullptr;      ///< `count` elements laid out as y, or null
  int64_t count = 0;
  int64_t channels = 1;         ///< the bias index of element i is (i / inner) % channels
  int64_t inner = 1;            ///< 1 for channels-last (and row-major matrices), H*W... for NCHW
  EpilogueDtype dtype = EpilogueDtype::kF32;
  EpilogueActivation act = EpilogueActivation::kNone;
  float p0 = 0.0f, p1 = 0.0f;
};

/// Enqueues the epilogue on `stream` (no synchronization; capturable). Returns the launch error, if any.
cudaError_t launch_epilogue(const EpilogueArgs& args, cudaStream_t stream);

}  // namespace kiln::cuda
