#include "tests/cuda/cuda_test_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/launch_handles.h"
#include "core/float16.h"

namespace kiln::testing {

namespace {

// The node's input dims: the feeds' for graph inputs, the constants' own.
std::vector<Dims> node_input_dims(const SingleOpGraph& g, const Node& node) {
  std::vector<Dims> dims(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (v) dims[i] = v->is_constant() ? v->constant->dims() : g.feeds.at(v->name).dims();
  }
  return dims;
}

Result<std::unique_ptr<cuda::CudaKernel>> single_node_kernel(const SingleOpGraph& g, const cuda::KernelOptions& options) {
  if (g.graph->nodes().size() != 1) return Status::internal("expected a one-node graph");
  const Node& node = *g.graph->nodes()[0];
  KILN_ASSIGN_OR_RETURN(auto kernel, cuda::create_cuda_kernel(node, options));
  if (!kernel) return Status::unsupported(fmt::format("no CUDA kernel for {}", node.describe()));
  return kernel;
}

// Enqueues once, or captures the enqueue and launches the graph twice (replays must not depend on state the
// first left behind).
Status launch_prepared(const cuda::PreparedNode& prepared, const cuda::LaunchContext& ctx,
                       const std::vector<void*>& inputs, const std::vector<void*>& outputs, bool capture) {
  if (!capture) return prepared.enqueue(ctx, inputs, outputs);
  cudaGraph_t graph = nullptr;
  KILN_CUDA_TRY(cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal));
  Status enqueued = prepared.enqueue(ctx, inputs, outputs);
  cudaError_t ended = cudaStreamEndCapture(ctx.stream, &graph);
  KILN_RETURN_IF_ERROR(enqueued);
  KILN_CUDA_TRY(ended);
  cudaGraphExec_t exec = nullptr;
  cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  for (int i = 0; i < 2 && e == cudaSuccess; ++i) e = cudaGraphLaunch(exec, ctx.stream);
  if (exec) cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return cuda::cuda_status(e, "launching the captured node");
}

}  // namespace

Result<std::vector<Tensor>> run_node_on_cuda(const SingleOpGraph& g, const cuda::KernelOptions& options,
                                             std::string* tactic_out, Launch launch) {
  KILN_ASSIGN_OR_RETURN(auto kernel, single_node_kernel(g, options));
  const Node& node = *g.graph->nodes()[0];
  if (tactic_out) *tactic_out = kernel->tactic();
  cuda::LaunchHandles handles;
  KILN_RETURN_IF_ERROR(handles.init());
  cuda::LaunchContext& ctx = handles.ctx;
  const bool misalign = launch == Launch::kCapturedMisaligned;

  std::vector<Dims> in_dims = node_input_dims(g, node), out_dims(node.outputs.size());
  std::vector<cuda::DeviceBuffer> buffers;
  std::vector<void*> in_ptrs(node.inputs.size(), nullptr), out_ptrs(node.outputs.size(), nullptr);
  // A buffer of `bytes` (one element further on when misaligned; 16 spare bytes for that).
  auto device_buffer = [&](size_t bytes, size_t element) -> Result<void*> {
    KILN_ASSIGN_OR_RETURN(cuda::DeviceBuffer b, cuda::DeviceBuffer::allocate(bytes + 16));
    void* p = static_cast<char*>(b.get()) + (misalign ? element : 0);
    buffers.push_back(std::move(b));
    return p;
  };
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (!v || v->is_constant()) continue;
    const Tensor& feed = g.feeds.at(v->name);
    KILN_ASSIGN_OR_RETURN(in_ptrs[i], device_buffer(feed.byte_size(), dtype_size(feed.dtype())));
    if (feed.byte_size()) KILN_CUDA_TRY(cudaMemcpy(in_ptrs[i], feed.raw(), feed.byte_size(), cudaMemcpyHostToDevice));
  }
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const Value* v = node.outputs[i];
    if (!v) {
      outputs.emplace_back();
      continue;
    }
    if (!v->type.shape.is_static())
      return Status::internal(fmt::format("output '{}' has no static shape", v->name));
    out_dims[i] = v->type.shape.static_dims();
    outputs.emplace_back(v->type.dtype, out_dims[i]);
    KILN_ASSIGN_OR_RETURN(out_ptrs[i], device_buffer(outputs[i].byte_size(), dtype_size(v->type.dtype)));
    // Poison the output so a kernel that skips elements cannot pass by accident.
    KILN_CUDA_TRY(cudaMemset(out_ptrs[i], 0x7f, outputs[i].byte_size()));
  }
  KILN_ASSIGN_OR_RETURN(auto prepared, kernel->prepare(ctx, in_dims, out_dims));
  cuda::DeviceBuffer workspace;
  if (size_t ws = prepared->workspace_bytes()) {
    KILN_ASSIGN_OR_RETURN(workspace, cuda::DeviceBuffer::allocate(ws));
    ctx.workspace = workspace.get();
    ctx.workspace_bytes = ws;
  }
  KILN_RETURN_IF_ERROR(launch_prepared(*prepared, ctx, in_ptrs, out_ptrs, launch != Launch::kEager));
  KILN_CUDA_TRY(cudaStreamSynchronize(ctx.stream));
  KILN_CUDA_TRY(cudaGetLastError());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].defined() && outputs[i].byte_size())
      KILN_CUDA_TRY(cudaMemcpy(outputs[i].raw(), out_ptrs[i], outputs[i].byte_size(), cudaMemcpyDeviceToHost));
  return outputs;
}

Result<std::vector<std::string>> node_candidate_tactics(const SingleOpGraph& g, const cuda::KernelOptions& options) {
  KILN_ASSIGN_OR_RETURN(auto kernel, single_node_kernel(g, options));
  const Node& node = *g.graph->nodes()[0];
  cuda::LaunchHandles handles;
  KILN_RETURN_IF_ERROR(handles.init());
  std::vector<Dims> out(node.outputs.size());
  for (size_t i = 0; i < node.outputs.size(); ++i) out[i] = node.outputs[i]->type.shape.static_dims();
  return kernel->candidate_tactics(handles.ctx, node_input_dims(g, node), out);
}

Tensor random_tensor(DataType dtype, const Dims& dims, float lo, float hi, uint32_t seed) {
  Tensor t(dtype, dims);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.size(); ++i) {
    float v = dist(rng);
    switch (dtype) {
      case DataType::kF32: t.data<float>()[i] = v; break;
      case DataType::kF16: t.data<Float16>()[i] = Float16(v); break;
      case DataType::kI8: t.data<int8_t>()[i] = static_cast<int8_t>(std::lround(std::clamp(v, -128.f, 127.f))); break;
      case DataType::kU8: t.data<uint8_t>()[i] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 255.f))); break;
      case DataType::kI32: t.data<int32_t>()[i] = static_cast<int32_t>(std::lround(v)); break;
      case DataType::kI64: t.data<int64_t>()[i] = std::lround(v); break;
      case DataType::kBool: t.data<bool>()[i] = v > (lo + hi) / 2; break;
      default: break;
    }
  }
  return t;
}

Result<float> max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.dims() != b.dims())
    return Status::shape_mismatch(fmt::format("shapes differ: {} vs {}", dims_to_string(a.dims()), dims_to_string(b.dims())));
  float worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    float x = static_cast<float>(a.element_as_double(i)), y = static_cast<float>(b.element_as_double(i));
    if (std::isnan(x) != std::isnan(y)) return INFINITY;
    if (!std::isnan(x)) worst = std::max(worst, std::fabs(x - y));
  }
  return worst;
}

}  // namespace kiln::testing
