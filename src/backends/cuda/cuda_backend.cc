#include "backends/cuda/cuda_backend.h"

#include <fmt/format.h>

#include <string_view>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/kernel_factories.h"

namespace kiln::cuda {

namespace {

struct FactoryEntry {
  std::string_view domain;
  std::string_view op_type;
  KernelResult (*make)(const Node&, const KernelOptions&);
};

// The one list of what the CUDA backend runs (also what `kiln build --device cuda` reports as supported).
constexpr FactoryEntry kFactories[] = {
    {"", "Conv", make_conv_kernel},
    {"kiln", "FusedConv", make_conv_kernel},
    {"kiln", "QConv", make_qconv_kernel},
    {"", "Gemm", make_gemm_kernel},
    {"kiln", "FusedGemm", make_gemm_kernel},
    {"", "MatMul", make_gemm_kernel},
    {"kiln", "FusedMatMul", make_gemm_kernel},
    {"", "Transpose", make_transpose_kernel},
    {"", "SpaceToDepth", make_space_to_depth_kernel},
    {"kiln", "PaddedSpaceToDepth", make_padded_space_to_depth_kernel},
    {"kiln", "Pool", make_pool_kernel},
    {"", "MaxPool", make_pool_kernel},
    {"", "AveragePool", make_pool_kernel},
    {"", "GlobalAveragePool", make_pool_kernel},
    {"", "GlobalMaxPool", make_pool_kernel},
    {"", "Relu", make_unary_kernel},
    {"", "LeakyRelu", make_unary_kernel},
    {"", "Sigmoid", make_unary_kernel},
    {"", "Tanh", make_unary_kernel},
    {"", "Clip", make_unary_kernel},
    {"", "HardSigmoid", make_unary_kernel},
    {"", "HardSwish", make_unary_kernel},
    {"", "Elu", make_unary_kernel},
    {"", "Exp", make_unary_kernel},
    {"", "Log", make_unary_kernel},
    {"", "Sqrt", make_unary_kernel},
    {"", "Abs", make_unary_kernel},
    {"", "Neg", make_unary_kernel},
    {"", "Erf", make_unary_kernel},
    {"", "Softplus", make_unary_kernel},
    {"kiln", "ElementwiseChain", make_chain_kernel},
    {"", "Add", make_binary_kernel},
    {"", "Sum", make_binary_kernel},
    {"", "Sub", make_binary_kernel},
    {"", "Mul", make_binary_kernel},
    {"", "Div", make_binary_kernel},
    {"", "Max", make_binary_kernel},
    {"", "Min", make_binary_kernel},
    {"", "Pow", make_binary_kernel},
    {"", "Cast", make_cast_kernel},
    {"", "Softmax", make_softmax_kernel},
    {"", "Flatten", make_copy_kernel},
    {"", "Reshape", make_copy_kernel},
    {"", "Squeeze", make_copy_kernel},
    {"", "Unsqueeze", make_copy_kernel},
    {"", "Identity", make_copy_kernel},
    {"", "Concat", make_concat_kernel},
    {"", "Slice", make_slice_kernel},
    {"", "Pad", make_pad_kernel},
    {"", "QuantizeLinear", make_quantize_kernel},
    {"", "DequantizeLinear", make_dequantize_kernel},
    {"kiln", "QMatMul", make_qmatmul_kernel},
};

}  // namespace

Result<std::unique_ptr<CudaKernel>> create_cuda_kernel(const Node& node, const KernelOptions& options) {
  for (const FactoryEntry& f : kFactories)
    if (f.domain == node.domain && f.op_type == node.op_type) {
      auto kernel = f.make(node, options);
      if (!kernel.ok()) return kernel.status().with_context(node.describe());
      return kernel;
    }
  return std::unique_ptr<CudaKernel>{};
}

Status cuda_device_available() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess)
    return Status::unsupported(fmt::format("no usable CUDA device: {} ({})", cudaGetErrorString(e), cudaGetErrorName(e)));
  if (count == 0) return Status::unsupported("no CUDA device is visible to this process");
  return {};
}

Result<DeviceInfo> current_device_info() {
  KILN_RETURN_IF_ERROR(cuda_device_available());
  DeviceInfo info;
  int device = 0;
  KILN_CUDA_TRY(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  KILN_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  KILN_CUDA_TRY(cudaDriverGetVersion(&info.driver_version));
  KILN_CUDA_TRY(cudaRuntimeGetVersion(&info.runtime_version));
  info.cudnn_version = cudnnGetVersion();
  info.cublaslt_version = static_cast<int>(cublasLtGetVersion());
  return info;
}

}  // namespace kiln::cuda
