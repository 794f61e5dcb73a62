// Slice and Pad on the GPU: both copy each output element from one input element (or a fill value), so
// they share the index-map kernel (index_map.cu). Their parameters must be constants (read at creation);
// otherwise the node is left to the host.
#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/index_map.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "core/float16.h"
#include "ir/ops/tensor_rules.h"

namespace kiln::cuda {

namespace {

namespace rules = tensor_rules;

// An optional constant integer input; nullopt when absent; an error Status when present but not constant.
Result<std::optional<std::vector<int64_t>>> constant_ints(const Node& node, size_t i) {
  if (!node.has_input(i)) return std::optional<std::vector<int64_t>>{};
  const Value* v = node.inputs[i];
  if (!v->is_constant() || !is_integer(v->constant->dtype()))
    return Status::unsupported(fmt::format("input {} is not a constant integer tensor", i));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> values, v->constant->to_int64_vector());
  return std::optional<std::vector<int64_t>>(std::move(values));
}

class IndexMapPrepared final : public PreparedNode {
 public:
  IndexMapPrepared(launch::IndexMapGeometry g, int element_bytes, uint64_t fill)
      : g_(g), element_bytes_(element_bytes), fill_(fill) {}
  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs, std::span<void* const> outputs) const override {
    KILN_CUDA_TRY(launch::launch_index_map(inputs[0], outputs[0], element_bytes_, g_, fill_, ctx.stream));
    return {};
  }

 private:
  launch::IndexMapGeometry g_;
  int element_bytes_;
  uint64_t fill_;
};

bool copyable(DataType t) {
  size_t s = dtype_size(t);
  return t != DataType::kString && (s == 1 || s == 2 || s == 4 || s == 8);
}

class SliceKernel final : public CudaKernel {
 public:
  SliceKernel(const Node& node, rules::SliceSpec spec) : node_(node), spec_(std::move(spec)) {}
  std::string tactic() const override { return "cuda:slice"; }
  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> in,
                                                std::span<const Dims> out) const override {
    const Dims& x = in[0];
    if (x.size() > launch::kIndexMapMaxRank) return Status::unsupported("Slice of rank > 8 on the GPU");
    rules::SliceSpec spec = spec_;
    KILN_RETURN_IF_ERROR(rules::check_slice_spec(spec, static_cast<int64_t>(x.size())));
    launch::IndexMapGeometry g{};
    g.rank = static_cast<int32_t>(x.size());
    for (size_t d = 0; d < x.size(); ++d) {
      g.in[d] = x[d];
      g.out[d] = x[d];
      g.start[d] = 0;
      g.step[d] = 1;
      g.map[d] = launch::AxisMap::kSlice;
    }
    for (size_t i = 0; i < spec.axes.size(); ++i) {
      int64_t a = spec.axes[i];
      rules::SliceRange r = rules::slice_range(x[a], spec.starts[i], spec.ends[i], spec.steps[i]);
      g.start[a] = r.start;
      g.step[a] = r.step;
      g.out[a] = r.count;
    }
    for (size_t d = 0; d < x.size(); ++d)
      if (g.out[d] != out[0][d])
        return Status::internal(fmt::format("Slice output extent {} on axis {} differs from the inferred {}", g.out[d],
                                            d, out[0][d]));
    int bytes = static_cast<int>(dtype_size(node_.inputs[0]->type.dtype));
    return std::unique_ptr<PreparedNode>(new IndexMapPrepared(g, bytes, 0));
  }

 private:
  const Node& node_;
  rules::SliceSpec spec_;
};

class PadKernel final : public CudaKernel {
 public:
  PadKernel(std::vector<int64_t> pads, std::optional<std::vector<int64_t>> axes, launch::AxisMap mode, int bytes,
            uint64_t fill)
      : pads_(std::move(pads)), axes_(std::move(axes)), mode_(mode), bytes_(bytes), fill_(fill) {}
  std::string tactic() const override { return "cuda:pad"; }
  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> in,
                                                std::span<const Dims> out) const override {
    const Dims& x = in[0];
    int64_t rank = static_cast<int64_t>(x.size());
    if (rank > launch::kIndexMapMaxRank) return Status::unsupported("Pad of rank > 8 on the GPU");
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> full, rules::full_pads(pads_, axes_, rank));
    launch::IndexMapGeometry g{};
    g.rank = static_cast<int32_t>(rank);
    for (int64_t d = 0; d < rank; ++d) {
      g.in[d] = x[d];
      g.out[d] = x[d] + full[d] + full[d + rank];
      g.start[d] = full[d];
      g.step[d] = 1;
      g.map[d] = mode_;
      if (g.out[d] != out[0][d])
        return Status::internal(fmt::format("Pad output extent {} on axis {} differs from the inferred {}", g.out[d], d,
                                            out[0][d]));
      if (mode_ != launch::AxisMap::kConstant && x[d] == 0 && g.out[d] > 0)
        return Status::invalid_argument(fmt::format("cannot pad the empty axis {} in this mode", d));
    }
    return std::unique_ptr<PreparedNode>(new IndexMapPrepared(g, bytes_, fill_));
  }

 private:
  std::vector<int64_t> pads_;
  std::optional<std::vector<int64_t>> axes_;
  launch::AxisMap mode_;
  int bytes_;
  uint64_t fill_;
};

}  // namespace

KernelResult make_slice_kernel(const Node& node, const KernelOptions&) {
  DataType dtype = node.inputs[0]->type.dtype;
  if (!copyable(dtype)) return std::unique_ptr<CudaKernel>{};
  rules::SliceSpec spec;
  if (node.opset < 10) {
    spec = {node.attr_ints("starts"), node.attr_ints("ends"), node.attr_ints("axes"), {}};
  } else {
    auto starts = constant_ints(node, 1), ends = constant_ints(node, 2), axes = constant_ints(node, 3),
         steps = constant_ints(node, 4);
    if (!starts.ok() || !ends.ok() || !axes.ok() || !steps.ok() || !*starts || !*ends)
      return std::unique_ptr<CudaKernel>{};  // data-dependent slice: left to the host
    spec = {**starts, **ends, axes->value_or(std::vector<int64_t>{}), steps->value_or(std::vector<int64_t>{})};
  }
  return std::unique_ptr<CudaKernel>(new SliceKernel(node, std::move(spec)));
}

KernelResult make_pad_kernel(const Node& node, const KernelOptions&) {
  DataType dtype = node.inputs[0]->type.dtype;
  if (!copyable(dtype) || (dtype != DataType::kF32 && dtype != DataType::kF16 && node.opset < 11))
    return std::unique_ptr<CudaKernel>{};
  std::string mode = node.attr_string("mode", "constant");
  launch::AxisMap map = mode == "constant" ? launch::AxisMap::kConstant
                        : mode == "reflect" ? launch::AxisMap::kReflect
                        : mode == "edge"    ? launch::AxisMap::kEdge
                        : mode == "wrap"    ? launch::AxisMap::kWrap
                                            : launch::AxisMap::kSlice;
  if (map == launch::AxisMap::kSlice) return Status::invalid_argument(fmt::format("Pad mode '{}' is unknown", mode));
  std::vector<int64_t> pads;
  std::optional<std::vector<int64_t>> axes;
  uint64_t fill = 0;
  if (node.opset < 11) {
    pads = node.attr_ints(node.opset < 2 ? "paddings" : "pads");
    float value = node.attr_float("value", 0.0f);
    if (dtype == DataType::kF32) std::memcpy(&fill, &value, sizeof value);
    else fill = Float16(value).bits;
  } else {
    auto p = constant_ints(node, 1), a = constant_ints(node, 3);
    if (!p.ok() || !a.ok() || !*p) return std::unique_ptr<CudaKernel>{};
    pads = **p;
    axes = *a;
    if (node.has_input(2)) {
      const Value* v = node.inputs[2];
      if (!v->is_constant() || v->constant->dtype() != dtype || v->constant->size() != 1) return std::unique_ptr<CudaKernel>{};
      std::memcpy(&fill, v->constant->raw(), v->constant->byte_size());
    }
  }
  return std::unique_ptr<CudaKernel>(
      new PadKernel(std::move(pads), std::move(axes), map, static_cast<int>(dtype_size(dtype)), fill));
}

}  // namespace kiln::cuda
