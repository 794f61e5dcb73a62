#include "backends/cuda/host_fallback_node.h"

#include <fmt/format.h>

#include "backends/cuda/cuda_status.h"
#include "backends/ref/kernel.h"

namespace kiln::cuda {

namespace {

class HostFallbackNode final : public PreparedNode {
 public:
  HostFallbackNode(const Node& node, ref::KernelFn fn, std::vector<Dims> in, std::vector<Dims> out)
      : node_(node), fn_(fn), in_dims_(std::move(in)), out_dims_(std::move(out)) {}

  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    std::vector<Tensor> host_inputs(node_.inputs.size());
    std::vector<const Tensor*> input_ptrs(node_.inputs.size(), nullptr);
    for (size_t i = 0; i < node_.inputs.size(); ++i) {
      const Value* v = node_.inputs[i];
      if (!v) continue;
      if (v->is_constant()) {
        input_ptrs[i] = &*v->constant;
        continue;
      }
      host_inputs[i] = Tensor(v->type.dtype, in_dims_[i]);
      if (host_inputs[i].byte_size())
        KILN_CUDA_TRY(cudaMemcpyAsync(host_inputs[i].raw(), inputs[i], host_inputs[i].byte_size(),
                                      cudaMemcpyDeviceToHost, ctx.stream));
      input_ptrs[i] = &host_inputs[i];
    }
    KILN_CUDA_TRY(cudaStreamSynchronize(ctx.stream));
    std::vector<Tensor> host_outputs(node_.outputs.size());
    ref::KernelContext kc(node_, input_ptrs, &host_outputs);
    KILN_RETURN_IF_ERROR(fn_(kc));
    for (size_t i = 0; i < node_.outputs.size(); ++i) {
      if (!node_.outputs[i]) continue;
      const Tensor& t = host_outputs[i];
      if (t.dims() != out_dims_[i] || t.dtype() != node_.outputs[i]->type.dtype)
        return Status::internal(fmt::format("{}: host kernel produced {} for output {}, expected {}", node_.describe(),
                                            t.type_string(), i, dims_to_string(out_dims_[i])));
      if (t.byte_size())
        KILN_CUDA_TRY(cudaMemcpyAsync(outputs[i], t.raw(), t.byte_size(), cudaMemcpyHostToDevice, ctx.stream));
    }
    // The host tensors die here: the copies must be done first.
    KILN_CUDA_TRY(cudaStreamSynchronize(ctx.stream));
    return {};
  }

 private:
  const Node& node_;
  ref::KernelFn fn_;
  std::vector<Dims> in_dims_, out_dims_;
};

}  // namespace

Result<std::unique_ptr<PreparedNode>> make_host_fallback_node(const Node& node, std::span<const Dims> input_dims,
                                                              std::span<const Dims> output_dims) {
  ref::KernelFn fn = ref::find_kernel(node.domain, node.op_type);
  if (!fn) return Status::unsupported(fmt::format("{}: no kernel on the GPU or the host", node.describe()));
  return std::unique_ptr<PreparedNode>(new HostFallbackNode(node, fn, std::vector<Dims>(input_dims.begin(), input_dims.end()),
                                            std::vector<Dims>(output_dims.begin(), output_dims.end())));
}

}  // namespace kiln::cuda
