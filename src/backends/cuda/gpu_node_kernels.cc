#include "backends/cuda/gpu_node_kernels.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/launch_handles.h"

namespace kiln::cuda {

namespace {

// What the kernels of one graph share: a stream with its library handles, a workspace, and a lock (runs are
// serialized: a NodeKernel may be called from several threads).
struct SharedLaunch {
  LaunchHandles handles;
  DeviceBuffer workspace;
  std::mutex mutex;
};

class GpuNodeKernel final : public NodeKernel {
 public:
  GpuNodeKernel(std::unique_ptr<CudaKernel> kernel, std::shared_ptr<SharedLaunch> launch)
      : kernel_(std::move(kernel)), launch_(std::move(launch)) {}

  std::string tactic() const override { return kernel_->tactic(); }

  Status run(ref::KernelContext& ctx) const override {
    const Node& node = ctx.node();
    std::lock_guard<std::mutex> lock(launch_->mutex);
    const cudaStream_t stream = launch_->handles.ctx.stream;
    std::vector<Dims> in_dims(node.inputs.size()), out_dims(node.outputs.size());
    std::vector<void*> in_ptrs(node.inputs.size(), nullptr), out_ptrs(node.outputs.size(), nullptr);
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      if (!ctx.has_input(k)) continue;
      const Tensor& t = ctx.input(k);
      in_dims[k] = t.dims();
      if (node.inputs[k]->is_constant()) continue;  // the kernel holds its own device copy
      KILN_ASSIGN_OR_RETURN(in_ptrs[k], scratch(k, t.byte_size()));
      if (t.byte_size()) KILN_CUDA_TRY(cudaMemcpyAsync(in_ptrs[k], t.raw(), t.byte_size(), cudaMemcpyHostToDevice, stream));
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const Value* v = node.outputs[k];
      if (!v) continue;
      if (!v->type.shape.is_static())
        return ctx.error(fmt::format("output '{}' has no static shape ({}): the GPU runs nodes at inferred shapes",
                                     v->name, v->type.to_string()));
      out_dims[k] = v->type.shape.static_dims();
      KILN_ASSIGN_OR_RETURN(out_ptrs[k], scratch(node.inputs.size() + k, element_count(out_dims[k]) *
                                                                               dtype_size(v->type.dtype)));
    }
    KILN_ASSIGN_OR_RETURN(const PreparedNode* prepared, prepared_for(in_dims, out_dims));
    LaunchContext lc = launch_->handles.ctx;
    if (const size_t need = prepared->workspace_bytes(); need > launch_->workspace.bytes()) {
      KILN_CUDA_TRY(cudaStreamSynchronize(stream));
      launch_->workspace = DeviceBuffer();
      KILN_ASSIGN_OR_RETURN(launch_->workspace, DeviceBuffer::allocate(need));
    }
    lc.workspace = launch_->workspace.get();
    lc.workspace_bytes = launch_->workspace.bytes();
    Status s = prepared->enqueue(lc, in_ptrs, out_ptrs);
    if (!s.ok()) return s.with_context(node.describe());
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const Value* v = node.outputs[k];
      if (!v) continue;
      Tensor& y = ctx.allocate_output(k, v->type.dtype, out_dims[k], /*zero_fill=*/false);
      if (y.byte_size()) KILN_CUDA_TRY(cudaMemcpyAsync(y.raw(), out_ptrs[k], y.byte_size(), cudaMemcpyDeviceToHost, stream));
    }
    KILN_CUDA_TRY(cudaStreamSynchronize(stream));  // the host tensors are read after run returns
    return {};
  }

 private:
  // Device memory for input or output slot `slot` of at least `bytes`, kept for the next runs.
  Result<void*> scratch(size_t slot, size_t bytes) const {
    if (scratch_.size() <= slot) scratch_.resize(slot + 1);
    if (scratch_[slot].bytes() < std::max<size_t>(bytes, 1)) {
      scratch_[slot] = DeviceBuffer();
      KILN_ASSIGN_OR_RETURN(scratch_[slot], DeviceBuffer::allocate(std::max<size_t>(bytes, 1)));
    }
    return scratch_[slot].get();
  }

  // The kernel prepared at these shapes (once per shape).
  Result<const PreparedNode*> prepared_for(const std::vector<Dims>& in, const std::vector<Dims>& out) const {
    std::string key;
    for (const Dims& d : in) key += dims_to_string(d) + ";";
    key += "->";
    for (const Dims& d : out) key += dims_to_string(d) + ";";
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      KILN_ASSIGN_OR_RETURN(auto p, kernel_->prepare(launch_->handles.ctx, in, out));
      it = prepared_.emplace(key, std::move(p)).first;
    }
    return it->second.get();
  }

  std::unique_ptr<CudaKernel> kernel_;
  std::shared_ptr<SharedLaunch> launch_;
  // Guarded by launch_->mutex.
  mutable std::vector<DeviceBuffer> scratch_;
  mutable std::map<std::string, std::unique_ptr<PreparedNode>> prepared_;
};

}  // namespace

Result<NodeKernels> create_gpu_node_kernels(const Graph& graph, const KernelOptions& options) {
  KILN_RETURN_IF_ERROR(cuda_device_available());
  auto launch = std::make_shared<SharedLaunch>();
  KILN_RETURN_IF_ERROR(launch->handles.init());
  NodeKernels kernels;
  for (const auto& node : graph.nodes()) {
    KILN_ASSIGN_OR_RETURN(auto kernel, create_cuda_kernel(*node, options));
    kernels.push_back(kernel ? std::make_shared<GpuNodeKernel>(std::move(kernel), launch) : nullptr);
  }
  return kernels;
}

}  // namespace kiln::cuda
