// Factories of the CUDA kernels, one per op family; the table in cuda_backend.cc maps op types to them.
// Each returns null when it does not run the node's dtype or attribute combination.
#pragma once

#include <memory>

#include "backends/cuda/cuda_kernel.h"

namespace kiln::cuda {

using KernelResult = Result<std::unique_ptr<CudaKernel>>;

// Tactic ids of kiln's own convolution kernels: what their candidate_tactics offer and what with_alternative
// matches (exactly: one id is not a prefix of another's kernel).
inline constexpr const char* kFewChannelTactic = "cuda:few_channel_igemm";
inline constexpr const char* kInt8IgemmTactic = "cuda:int8_igemm";
inline constexpr const char* kInt8PointwiseTactic = "cuda:int8_pointwise";
inline constexpr const char* kInt8Pointwise3BlocksTactic = "cuda:int8_pointwise_3_blocks";

// Convolutions on cuDNN's graph API (cudnn_conv.cc): Conv, kiln.FusedConv.
KernelResult make_conv_kernel(const Node& node, const KernelOptions& options);
// kiln.QConv (symmetric int8, channels-last) on cuDNN's graph API with the requantization fused (cudnn_qconv.cc).
KernelResult make_qconv_kernel(const Node& node, const KernelOptions& options);
// Matrix products on cuBLASLt (cublaslt_gemm.cc): Gemm, kiln.FusedGemm, MatMul / kiln.FusedMatMul with a
// constant B.
KernelResult make_gemm_kernel(const Node& node, const KernelOptions& options);
// A 1x1 stride-1 channels-last kiln.FusedConv as a cuBLASLt product (an alternative to cuDNN, offered by
// make_conv_kernel through a TacticChoiceKernel).
KernelResult make_conv1x1_gemm_kernel(const Node& node, const KernelOptions& options);
// A channels-last f16 kiln.FusedConv / int8 kiln.QConv over 16 input channels (the space-to-depth stem) as
// kiln's own implicit GEMM (kernels/few_channel_conv_kernel.cc; alternatives offered by make_conv_kernel and
// make_qconv_kernel).
KernelResult make_few_channel_conv_kernel(const Node& node, const KernelOptions& options);
KernelResult make_few_channel_qconv_kernel(const Node& node, const KernelOptions& options);
// An int8 kiln.QConv over a multiple of 64 input channels as kiln's own implicit GEMM
// (kernels/int8_conv_kernel.cc; an alternative offered by make_qconv_kernel).
KernelResult make_int8_conv_kernel(const Node& node, const KernelOptions& options);
// The same for 1x1 windows without padding as kiln's pointwise GEMM (kernels/int8_conv_kernel.cc), and its
// variant with three blocks a multiprocessor.
KernelResult make_int8_pointwise_kernel(const Node& node, const KernelOptions& options);
KernelResult make_int8_pointwise_3_blocks_kernel(const Node& node, const KernelOptions& options);
// kiln.QConv's stride-1 1x1s as cuBLASLt int8 products (cublaslt_qconv.cc; competes through make_qconv_kernel).
KernelResult make_cublaslt_qconv_kernel(const Node& node, const KernelOptions& options);

// kiln's own kernels (kernels/*.cu):
KernelResult make_transpose_kernel(const Node& node, const KernelOptions& options);  // Transpose
KernelResult make_space_to_depth_kernel(const Node& node, const KernelOptions& options);  // SpaceToDepth
KernelResult make_padded_space_to_depth_kernel(const Node& node, const KernelOptions& options);  // kiln.PaddedSpaceToDepth
KernelResult make_pool_kernel(const Node& node, const KernelOptions& options);  // kiln.Pool, MaxPool, AveragePool, Global*Pool
KernelResult make_unary_kernel(const Node& node, const KernelOptions& options);  // Relu, Sigmoid, Clip, ...
KernelResult make_chain_kernel(const Node& node, const KernelOptions& options);  // kiln.ElementwiseChain
KernelResult make_binary_kernel(const Node& node, const KernelOptions& options);  // Add, Sub, Mul, Div, ...
KernelResult make_cast_kernel(const Node& node, const KernelOptions& options);  // Cast
KernelResult make_softmax_kernel(const Node& node, const KernelOptions& options);  // Softmax
KernelResult make_copy_kernel(const Node& node, const KernelOptions& options);  // Flatten, Reshape, Squeeze, Unsqueeze, Identity
KernelResult make_concat_kernel(const Node& node, const KernelOptions& options);  // Concat
KernelResult make_slice_kernel(const Node& node, const KernelOptions& options);  // Slice (constant parameters)
KernelResult make_pad_kernel(const Node& node, const KernelOptions& options);  // Pad (constant parameters)
KernelResult make_quantize_kernel(const Node& node, const KernelOptions& options);  // QuantizeLinear
KernelResult make_dequantize_kernel(const Node& node, const KernelOptions& options);  // DequantizeLinear
KernelResult make_qmatmul_kernel(const Node& node, const KernelOptions& options);  // kiln.QMatMul (constant b)

}  // namespace kiln::cuda
