// LaunchHandles: owns what a LaunchContext points to — a stream, a cuDNN handle bound to it and a cuBLASLt
// handle — for an execution context, the builder's tactic timing and the tests. Move-less: keep it in place.
#pragma once

#include "backends/cuda/cuda_kernel.h"

namespace kiln::cuda {

class LaunchHandles {
 public:
  LaunchHandles() = default;
  LaunchHandles(const LaunchHandles&) = delete;
  LaunchHandles& operator=(const LaunchHandles&) = delete;
  ~LaunchHandles();
  /// Creates the stream (non-blocking: it does not synchronize with the legacy default stream) and handles.
  Status init(size_t workspace_limit = size_t{1} << 30);

  /// The context kernels get; its workspace fields are the owner's to set.
  LaunchContext ctx;
};

}  // namespace kiln::cuda
