#include "tests/cuda/cuda_test_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "core/float16.h"

namespace kiln::testing {

namespace {

// Owns the handles a LaunchContext points to.
struct TestLaunch {
  cuda::LaunchContext ctx;
  ~TestLaunch() {
    if (ctx.cublaslt) cublasLtDestroy(ctx.cublaslt);
    if (ctx.cudnn) cudnnDestroy(ctx.cudnn);
    if (ctx.stream) cudaStreamDestroy(ctx.stream);
  }
};

Status init_launch(TestLaunch& t) {
  KILN_CUDA_TRY(cudaStreamCreate(&t.ctx.stream));
  KILN_CUDNN_TRY(cudnnCreate(&t.ctx.cudnn));
  KILN_CUDNN_TRY(cudnnSetStream(t.ctx.cudnn, t.ctx.stream));
  KILN_CUBLAS_TRY(cublasLtCreate(&t.ctx.cublaslt));
  return {};
}

float element_as_float(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kF32: return t.data<float>()[i];
    case DataType::kF16: return static_cast<float>(t.data<Float16>()[i]);
    case DataType::kF64: return static_cast<float>(t.data<double>()[i]);
    case DataType::kI8: return t.data<int8_t>()[i];
    case DataType::kU8: return t.data<uint8_t>()[i];
    case DataType::kI32: return static_cast<float>(t.data<int32_t>()[i]);
    case DataType::kI64: return static_cast<float>(t.data<int64_t>()[i]);
    case DataType::kBool: return t.data<bool>()[i] ? 1.f : 0.f;
    default: return NAN;
  }
}

}  // namespace

Result<std::vector<Tensor>> run_node_on_cuda(const SingleOpGraph& g, const cuda::KernelOptions& options,
                                             std::string* tactic_out) {
  if (g.graph->nodes().size() != 1) return Status::internal("run_node_on_cuda needs a one-node graph");
  const Node& node = *g.graph->nodes()[0];
  KILN_ASSIGN_OR_RETURN(auto kernel, cuda::create_cuda_kernel(node, options));
  if (!kernel) return Status::unsupported(fmt::format("no CUDA kernel for {}", node.describe()));
  if (tactic_out) *tactic_out = kernel->tactic();
  TestLaunch launch;
  KILN_RETURN_IF_ERROR(init_launch(launch));

  std::vector<Dims> in_dims(node.inputs.size()), out_dims(node.outputs.size());
  std::vector<cuda::DeviceBuffer> in_buffers(node.inputs.size()), out_buffers(node.outputs.size());
  std::vector<void*> in_ptrs(node.inputs.size(), nullptr), out_ptrs(node.outputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (!v) continue;
    if (v->is_constant()) {
      in_dims[i] = v->constant->dims();
      continue;
    }
    auto it = g.feeds.find(v->name);
    if (it == g.feeds.end()) return Status::internal(fmt::format("no feed for input '{}'", v->name));
    in_dims[i] = it->second.dims();
    KILN_ASSIGN_OR_RETURN(in_buffers[i], cuda::DeviceBuffer::upload(it->second.raw(), it->second.byte_size()));
    in_ptrs[i] = in_buffers[i].get();
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
    KILN_ASSIGN_OR_RETURN(out_buffers[i], cuda::DeviceBuffer::allocate(std::max<size_t>(outputs[i].byte_size(), 1)));
    // Poison the output so a kernel that skips elements cannot pass by accident.
    KILN_CUDA_TRY(cudaMemset(out_buffers[i].get(), 0x7f, outputs[i].byte_size()));
    out_ptrs[i] = out_buffers[i].get();
  }
  KILN_ASSIGN_OR_RETURN(auto prepared, kernel->prepare(launch.ctx, in_dims, out_dims));
  cuda::DeviceBuffer workspace;
  if (size_t ws = prepared->workspace_bytes()) {
    KILN_ASSIGN_OR_RETURN(workspace, cuda::DeviceBuffer::allocate(ws));
    launch.ctx.workspace = workspace.get();
    launch.ctx.workspace_bytes = ws;
  }
  KILN_RETURN_IF_ERROR(prepared->enqueue(launch.ctx, in_ptrs, out_ptrs));
  KILN_CUDA_TRY(cudaStreamSynchronize(launch.ctx.stream));
  KILN_CUDA_TRY(cudaGetLastError());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].defined() && outputs[i].byte_size())
      KILN_CUDA_TRY(cudaMemcpy(outputs[i].raw(), out_ptrs[i], outputs[i].byte_size(), cudaMemcpyDeviceToHost));
  return outputs;
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
    float x = element_as_float(a, i), y = element_as_float(b, i);
    if (std::isnan(x) != std::isnan(y)) return INFINITY;
    if (!std::isnan(x)) worst = std::max(worst, std::fabs(x - y));
  }
  return worst;
}

}  // namespace kiln::testing
