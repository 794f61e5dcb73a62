// Shared by the CUDA tests (ctest -L cuda): skip without a GPU, and run one node on its CUDA kernel so it
// can be compared with the reference kernel on the same inputs.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "core/tensor.h"
#include "tests/support/single_op.h"

/// At the top of every CUDA test: skips it, saying why, on a machine without a usable GPU (CI).
#define KILN_REQUIRE_GPU()                                                          \
  do {                                                                              \
    ::kiln::Status gpu_status_ = ::kiln::cuda::cuda_device_available();            \
    if (!gpu_status_.ok()) GTEST_SKIP() << "CUDA test skipped: " << gpu_status_.message(); \
  } while (0)

namespace kiln::testing {

/// How run_node_on_cuda launches the node.
enum class Launch {
  kEager,              ///< enqueue once
  kCaptured,           ///< capture the enqueue in a CUDA graph and launch it twice (the executor's use): fails
                       ///< if a kernel synchronizes, allocates or otherwise breaks capture
  kCapturedMisaligned  ///< as kCaptured, with every non-constant buffer offset by one element (so the
                       ///< kernels' unvectorized paths run too)
};

/// Runs the graph's single node on its CUDA kernel: non-constant inputs (from `graph.feeds`) are uploaded,
/// the kernel prepared at their shapes and launched, outputs (poisoned beforehand) downloaded. An error when
/// the backend has no kernel for the node. `tactic_out` (optional) receives the kernel's tactic id.
Result<std::vector<Tensor>> run_node_on_cuda(const SingleOpGraph& graph, const cuda::KernelOptions& options = {},
                                             std::string* tactic_out = nullptr, Launch launch = Launch::kEager);

/// The node's candidate tactics (CudaKernel::candidate_tactics) at the graph's shapes.
Result<std::vector<std::string>> node_candidate_tactics(const SingleOpGraph& graph,
                                                        const cuda::KernelOptions& options = {});

/// Random tensor in [lo, hi) of the given dtype (f32, f16 or an integer type), seeded.
Tensor random_tensor(DataType dtype, const Dims& dims, float lo, float hi, uint32_t seed);

/// Largest |a - b| over all elements (both converted to f32); shapes and sizes must match.
Result<float> max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace kiln::testing
