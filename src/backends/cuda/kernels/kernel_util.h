// Helpers shared by the CudaKernel classes of kiln's own kernels (kernels/*_kernel(s).cc): dtype mapping,
// device copies of constant inputs, PreparedNodes built from a lambda, and the geometry simplifications
// that turn broadcasts and permutations into the few shapes the .cu kernels handle.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/launch.h"

namespace kiln::cuda {

/// The kernels' element type for a kiln dtype; nullopt for the ones they do not handle.
std::optional<launch::ElemType> elem_type(DataType t);

/// A factory's "not supported": the caller reports the node as unsupported (CPU fallback).
inline Result<std::unique_ptr<CudaKernel>> no_kernel() { return std::unique_ptr<CudaKernel>{}; }

/// The dtype of the node's input / output i (kUndefined when omitted).
DataType input_dtype(const Node& node, size_t i);
DataType output_dtype(const Node& node, size_t i);
/// The node's input i, or null when it is absent or omitted.
inline const Value* input_value(const Node& node, size_t i) { return node.has_input(i) ? node.inputs[i] : nullptr; }

/// Whether a convolution node's attributes give every output pixel its own input pixel: strides and dilations
/// 1, no padding (auto_pad NOTSET or VALID). With a 1x1 window such a convolution is a plain product.
bool unit_stride_unpadded(const Node& node);

/// `v` rounded to `dtype` the way the reference makes a scalar of that dtype from a float (f16: nearest
/// even); unchanged for f32.
float round_to_dtype(DataType dtype, float v);

/// Device copies of a node's constant inputs, uploaded once at kernel creation: the executor passes null
/// for constant inputs, so kernels read their own copies. Shared by the kernel and its PreparedNodes.
class ConstantInputs {
 public:
  static Result<std::shared_ptr<const ConstantInputs>> upload(const Node& node);
  /// Input i's device pointer: the own copy of a constant, else the executor's pointer.
  const void* get(std::span<void* const> inputs, size_t i) const {
    return i < is_constant_.size() && is_constant_[i] ? buffers_[i].get() : inputs[i];
  }

 private:
  std::vector<DeviceBuffer> buffers_;
  std::vector<bool> is_constant_;
};

/// `s` prefixed with the node's description (for errors of prepare and enqueue; the factories' errors
/// are named by create_cuda_kernel).
inline Status named(const std::string& node, const Status& s) { return s.with_context(node); }

/// A PreparedNode whose enqueue is a lambda `Status(const LaunchContext&, inputs, outputs)` holding what
/// it needs by value; errors are named after the node.
template <typename F>
class LambdaPrepared final : public PreparedNode {
 public:
  LambdaPrepared(std::string node, F f) : node_(std::move(node)), f_(std::move(f)) {}
  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    return named(node_, f_(ctx, inputs, outputs));
  }

 private:
  std::string node_;
  F f_;
};

template <typename F>
Result<std::unique_ptr<PreparedNode>> make_prepared(std::string node, F f) {
  return std::unique_ptr<PreparedNode>(std::make_unique<LambdaPrepared<F>>(std::move(node), std::move(f)));
}

/// The numpy broadcast of a and b onto out (a and b right-aligned), simplified: axes of extent 1 dropped
/// and neighbouring axes merged where both operands broadcast alike. Error when they do not broadcast to
/// out, or when the simplified rank is still above launch::kMaxRank.
Result<launch::BroadcastGeometry> broadcast_geometry(const Dims& a, const Dims& b, const Dims& out);

/// A permutation of x (output axis i is input axis perm[i]) reduced to the cheapest launch: axes of extent
/// 1 dropped and input axes that stay neighbours merged.
struct TransposePlan {
  enum class Kind { kCopy, kBatched, kGeneral } kind = Kind::kCopy;
  int64_t batch = 1, rows = 1, cols = 1;  // kBatched: y[b][c][r] = x[b][r][c]
  launch::TransposeGeometry general{};    // kGeneral
};
Result<TransposePlan> plan_transpose(const Dims& in, const std::vector<int64_t>& perm);

}  // namespace kiln::cuda
