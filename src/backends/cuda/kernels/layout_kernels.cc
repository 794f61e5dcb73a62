// Data movement: Transpose and SpaceToDepth (transpose.cu), Concat (concat.cu) and the ops that only reshape
// (Flatten, Reshape, Squeeze, Unsqueeze, Identity: a device-to-device copy, since the executor gives the
// output its own buffer). All move bytes, so they take any dtype of 1, 2, 4 or 8 bytes (not strings).
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "ir/ops/tensor_rules.h"

namespace kiln::cuda {

namespace {

bool movable(DataType t) {
  if (t == DataType::kString || t == DataType::kUndefined) return false;
  const size_t s = dtype_size(t);
  return s == 1 || s == 2 || s == 4 || s == 8;
}

// ---- Transpose ----

// The prepared transpose of `in` by `perm` (also SpaceToDepth's, on a 6-D view of its input).
Result<std::unique_ptr<PreparedNode>> prepare_transpose(const std::string& node,
                                                        std::shared_ptr<const ConstantInputs> constants,
                                                        const Dims& in, const std::vector<int64_t>& perm,
                                                        int32_t elem_bytes) {
  Result<TransposePlan> plan = plan_transpose(in, perm);
  if (!plan.ok()) return named(node, plan.status());
  const size_t bytes = static_cast<size_t>(element_count(in)) * static_cast<size_t>(elem_bytes);
  return make_prepared(node, [plan = *plan, bytes, eb = elem_bytes, constants = std::move(constants)](
                                 const LaunchContext& ctx, std::span<void* const> inputs,
                                 std::span<void* const> outputs) -> Status {
    const void* x = constants->get(inputs, 0);
    switch (plan.kind) {
      case TransposePlan::Kind::kCopy:
        if (bytes) KILN_CUDA_TRY(cudaMemcpyAsync(outputs[0], x, bytes, cudaMemcpyDeviceToDevice, ctx.stream));
        break;
      case TransposePlan::Kind::kBatched:
        KILN_CUDA_TRY(launch::launch_batched_transpose(eb, x, outputs[0], plan.batch, plan.rows, plan.cols, ctx.stream));
        break;
      case TransposePlan::Kind::kGeneral:
        KILN_CUDA_TRY(launch::launch_transpose(eb, x, outputs[0], plan.general, ctx.stream));
        break;
    }
    return {};
  });
}

class TransposeKernel final : public CudaKernel {
 public:
  TransposeKernel(const Node& node, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        elem_bytes_(static_cast<int32_t>(dtype_size(input_dtype(node, 0)))),
        perm_(node.has_attr("perm") ? std::optional(node.attr_ints("perm")) : std::nullopt),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& in = input_dims[0];
    const int64_t rank = static_cast<int64_t>(in.size());
    std::vector<int64_t> perm;
    if (perm_) {
      if (static_cast<int64_t>(perm_->size()) != rank)
        return named(node_, Status::invalid_argument(fmt::format("perm has {} values but the input {} has rank {}",
                                                                 perm_->size(), dims_to_string(in), rank)));
      Result<std::vector<int64_t>> p = tensor_rules::normalize_axes(*perm_, rank, "perm");
      if (!p.ok()) return named(node_, p.status());
      perm = *p;
    } else {
      for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);  // default: reverse the axes
    }
    Dims out;
    for (int64_t p : perm) out.push_back(in[static_cast<size_t>(p)]);
    if (out != output_dims[0])
      return named(node_, Status::shape_mismatch(fmt::format("the permuted input is {}, but the output is {}",
                                                             dims_to_string(out), dims_to_string(output_dims[0]))));
    return prepare_transpose(node_, constants_, in, perm, elem_bytes_);
  }
  std::string tactic() const override { return "cuda:transpose"; }

 private:
  std::string node_;
  int32_t elem_bytes_;
  std::optional<std::vector<int64_t>> perm_;
  std::shared_ptr<const ConstantInputs> constants_;
};

// ---- Flatten, Reshape, Squeeze, Unsqueeze, Identity ----

class CopyKernel final : public CudaKernel {
 public:
  CopyKernel(const Node& node, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()), elem_bytes_(dtype_size(input_dtype(node, 0))), constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const int64_t n = element_count(input_dims[0]);
    if (element_count(output_dims[0]) != n)
      return named(node_, Status::shape_mismatch(fmt::format("the output {} does not hold the input's {} elements",
                                                             dims_to_string(output_dims[0]), n)));
    const size_t bytes = static_cast<size_t>(n) * elem_bytes_;
    return make_prepared(node_, [bytes, constants = constants_](const LaunchContext& ctx, std::span<void* const> in,
                                                                std::span<void* const> out) -> Status {
      // The engine's memory plan may give a view's output its input's bytes: nothing to copy then.
      const void* from = constants->get(in, 0);
      if (bytes && out[0] != from)
        KILN_CUDA_TRY(cudaMemcpyAsync(out[0], from, bytes, cudaMemcpyDeviceToDevice, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:copy"; }

 private:
  std::string node_;
  size_t elem_bytes_;
  std::shared_ptr<const ConstantInputs> constants_;
};

// ---- Concat ----

class ConcatKernel final : public CudaKernel {
 public:
  ConcatKernel(const Node& node, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        elem_bytes_(static_cast<int64_t>(dtype_size(input_dtype(node, 0)))),
        axis_(node.attr_int("axis", 1)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& first = input_dims[0];
    const int64_t rank = static_cast<int64_t>(first.size());
    if (rank == 0) return named(node_, Status::invalid_argument("cannot concatenate scalars (inputs must have rank >= 1)"));
    Result<int64_t> axis = normalize_axis(axis_, rank);
    if (!axis.ok()) return named(node_, axis.status());
    const size_t ax = static_cast<size_t>(*axis);
    Dims out = first;
    out[ax] = 0;
    for (size_t i = 0; i < input_dims.size(); ++i) {
      const Dims& d = input_dims[i];
      bool ok = d.size() == first.size();
      for (size_t k = 0; ok && k < d.size(); ++k) ok = k == ax || d[k] == first[k];
      if (!ok)
        return named(node_, Status::shape_mismatch(fmt::format("input {} is {}, but input 0 is {}", i,
                                                               dims_to_string(d), dims_to_string(first))));
      out[ax] += d[ax];
    }
    if (out != output_dims[0])
      return named(node_, Status::shape_mismatch(fmt::format("the inputs concatenate to {}, but the output is {}",
                                                             dims_to_string(out), dims_to_string(output_dims[0]))));
    // Each input is `outer` rows of extent * inner elements, landing at its offset along the axis.
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < ax; ++k) outer *= out[k];
    for (size_t k = ax + 1; k < out.size(); ++k) inner *= out[k];
    struct Part {
      int64_t row_bytes, dst_offset;
    };
    std::vector<Part> parts;
    int64_t offset = 0;
    for (const Dims& d : input_dims) {
      parts.push_back({d[ax] * inner * elem_bytes_, offset * inner * elem_bytes_});
      offset += d[ax];
    }
    const int64_t pitch = out[ax] * inner * elem_bytes_;
    return make_prepared(node_, [parts = std::move(parts), outer, pitch, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> o) -> Status {
      for (size_t i = 0; i < parts.size(); ++i) {
        void* dst = static_cast<char*>(o[0]) + parts[i].dst_offset;
        KILN_CUDA_TRY(launch::launch_pitched_copy(constants->get(in, i), dst, outer, parts[i].row_bytes, pitch, ctx.stream));
      }
      return {};
    });
  }
  std::string tactic() const override { return "cuda:concat"; }

 private:
  std::string node_;
  int64_t elem_bytes_;
  int64_t axis_;
  std::shared_ptr<const ConstantInputs> constants_;
};

// ---- SpaceToDepth (blocksize b, NCHW): y = transpose([N, C, H/b, b, W/b, b], [0, 3, 5, 1, 2, 4]) ----

class SpaceToDepthKernel final : public CudaKernel {
 public:
  SpaceToDepthKernel(const Node& node, int64_t block, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        elem_bytes_(static_cast<int32_t>(dtype_size(input_dtype(node, 0)))),
        block_(block),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& in = input_dims[0];
    const int64_t b = block_;
    if (in.size() != 4 || in[2] % b != 0 || in[3] % b != 0)
      return named(node_, Status::shape_mismatch(fmt::format("input {} must be NCHW with H and W divisible by {}",
                                                             dims_to_string(in), b)));
    const Dims out = {in[0], in[1] * b * b, in[2] / b, in[3] / b};
    if (out != output_dims[0])
      return named(node_, Status::shape_mismatch(fmt::format("the output is {}, expected {}",
                                                             dims_to_string(output_dims[0]), dims_to_string(out))));
    return prepare_transpose(node_, constants_, {in[0], in[1], in[2] / b, b, in[3] / b, b}, {0, 3, 5, 1, 2, 4},
                             elem_bytes_);
  }
  std::string tactic() const override { return "cuda:space_to_depth"; }

 private:
  std::string node_;
  int32_t elem_bytes_;
  int64_t block_;
  std::shared_ptr<const ConstantInputs> constants_;
};

}  // namespace

KernelResult make_space_to_depth_kernel(const Node& node, const KernelOptions&) {
  const DataType t = input_dtype(node, 0);
  if (!movable(t) || output_dtype(node, 0) != t || node.outputs.size() != 1) return no_kernel();
  const int64_t block = node.attr_int("blocksize", 0);
  if (block < 1) return Status::invalid_model(fmt::format("blocksize must be >= 1, got {}", block));
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<SpaceToDepthKernel>(node, block, std::move(constants)));
}

KernelResult make_transpose_kernel(const Node& node, const KernelOptions&) {
  const DataType t = input_dtype(node, 0);
  if (!movable(t) || output_dtype(node, 0) != t || node.outputs.size() != 1) return no_kernel();
  const Shape& shape = node.inputs[0]->type.shape;
  if (shape.has_rank() && shape.rank() > static_cast<size_t>(launch::kMaxRank)) return no_kernel();
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<TransposeKernel>(node, std::move(constants)));
}

KernelResult make_copy_kernel(const Node& node, const KernelOptions&) {
  const DataType t = input_dtype(node, 0);
  if (!movable(t) || output_dtype(node, 0) != t || node.outputs.size() != 1) return no_kernel();
  // Only the data input travels; Reshape's shape and Squeeze/Unsqueeze's axes were used by inference.
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<CopyKernel>(node, std::move(constants)));
}

KernelResult make_concat_kernel(const Node& node, const KernelOptions&) {
  if (node.inputs.empty() || node.outputs.size() != 1) return no_kernel();
  if (!node.has_attr("axis") && node.opset >= 4) return Status::invalid_model("attribute 'axis' is required");
  const DataType t = input_dtype(node, 0);
  if (!movable(t) || output_dtype(node, 0) != t) return no_kernel();
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (!node.has_input(i)) return Status::invalid_model(fmt::format("input {} is missing", i));
    if (input_dtype(node, i) != t)
      return Status::invalid_model(fmt::format("input {} is {}, but input 0 is {}", i, dtype_name(input_dtype(node, i)),
                                               dtype_name(t)));
  }
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<ConcatKernel>(node, std::move(constants)));
}

}  // namespace kiln::cuda
