// The CUDA backend's entry points: which nodes it runs, and their kernels.
#pragma once

#include <memory>

#include "backends/backend_capabilities.h"
#include "backends/cuda/cuda_kernel.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::cuda {

/// No Swish epilogue and no QLookup kernel yet; space-to-depth stems run on kiln.PaddedSpaceToDepth's kernel
/// and are what makes ResNet-50's stem fast (docs/cuda_backend.md).
inline constexpr BackendCapabilities kCapabilities{.swish_activation = false, .lookup_tables = false,
                                                    .space_to_depth_stems = true};

/// The node's CUDA kernel (weights uploaded to the current device), or null when the backend does not run
/// this op, dtype or attribute combination (the node then needs --allow-cpu-fallback). Errors: malformed
/// nodes and CUDA failures.
Result<std::unique_ptr<CudaKernel>> create_cuda_kernel(const Node& node, const KernelOptions& options = {});

/// Whether the process sees a CUDA device; the message says why not (no driver, no device, ...).
Status cuda_device_available();

/// "sm_90" style name and the compute capability of the current device.
struct DeviceInfo {
  std::string name;  ///< e.g. "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;
  int driver_version = 0, runtime_version = 0;
  size_t cudnn_version = 0;
  int cublaslt_version = 0;
};
Result<DeviceInfo> current_device_info();

}  // namespace kiln::cuda
