#include "backends/cuda/kernels/kernel_util.h"

#include <algorithm>

#include "core/float16.h"

namespace kiln::cuda {

std::optional<launch::ElemType> elem_type(DataType t) {
  switch (t) {
    case DataType::kF32: return launch::ElemType::kF32;
    case DataType::kF16: return launch::ElemType::kF16;
    case DataType::kI32: return launch::ElemType::kI32;
    case DataType::kI64: return launch::ElemType::kI64;
    case DataType::kU8: return launch::ElemType::kU8;
    case DataType::kI8: return launch::ElemType::kI8;
    case DataType::kBool: return launch::ElemType::kBool;
    default: return std::nullopt;
  }
}

DataType input_dtype(const Node& node, size_t i) {
  return node.has_input(i) ? node.inputs[i]->type.dtype : DataType::kUndefined;
}

DataType output_dtype(const Node& node, size_t i) {
  return node.has_output(i) ? node.outputs[i]->type.dtype : DataType::kUndefined;
}

bool unit_stride_unpadded(const Node& node) {
  auto all_equal_to = [](const std::vector<int64_t>& v, int64_t x) {
    return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
  };
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  return (auto_pad == "NOTSET" || auto_pad == "VALID") && all_equal_to(node.attr_ints("strides", {1, 1}), 1) &&
         all_equal_to(node.attr_ints("pads", {0, 0, 0, 0}), 0) && all_equal_to(node.attr_ints("dilations", {1, 1}), 1);
}

float round_to_dtype(DataType dtype, float v) {
  return dtype == DataType::kF16 ? static_cast<float>(Float16(v)) : v;
}

Result<std::shared_ptr<const ConstantInputs>> ConstantInputs::upload(const Node& node) {
  auto c = std::make_shared<ConstantInputs>();
  c->buffers_.resize(node.inputs.size());
  c->is_constant_.assign(node.inputs.size(), false);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Value* v = node.inputs[i];
    if (!v || !v->is_constant()) continue;
    if (v->constant->dtype() == DataType::kString)
      return Status::unsupported(fmt::format("constant input {} is a string tensor", i));
    KILN_ASSIGN_OR_RETURN(c->buffers_[i], DeviceBuffer::upload(v->constant->raw(), v->constant->byte_size()));
    c->is_constant_[i] = true;
  }
  return std::shared_ptr<const ConstantInputs>(std::move(c));
}

Result<launch::BroadcastGeometry> broadcast_geometry(const Dims& a, const Dims& b, const Dims& out) {
  const size_t rank = out.size();
  if (a.size() > rank || b.size() > rank)
    return Status::shape_mismatch(fmt::format("inputs {} and {} do not broadcast to the output {}", dims_to_string(a),
                                              dims_to_string(b), dims_to_string(out)));
  // Right-aligned extents of both operands, checked against the output.
  std::vector<int64_t> pa(rank, 1), pb(rank, 1);
  std::copy(a.begin(), a.end(), pa.begin() + static_cast<std::ptrdiff_t>(rank - a.size()));
  std::copy(b.begin(), b.end(), pb.begin() + static_cast<std::ptrdiff_t>(rank - b.size()));
  for (size_t d = 0; d < rank; ++d)
    if ((pa[d] != 1 && pa[d] != out[d]) || (pb[d] != 1 && pb[d] != out[d]))
      return Status::shape_mismatch(fmt::format("inputs {} and {} do not broadcast to the output {}",
                                                dims_to_string(a), dims_to_string(b), dims_to_string(out)));
  // Keep the axes of extent > 1, merging a run whose operands broadcast the same way (both read it
  // fully, or one of them repeats): such a run is one longer axis.
  struct Axis {
    int64_t extent;
    bool a_full, b_full;
  };
  std::vector<Axis> axes;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    const bool af = pa[d] != 1, bf = pb[d] != 1;
    if (!axes.empty() && axes.back().a_full == af && axes.back().b_full == bf) axes.back().extent *= out[d];
    else axes.push_back({out[d], af, bf});
  }
  if (axes.size() > launch::kMaxRank)
    return Status::unsupported(fmt::format("broadcasting {} and {} needs {} axes; the kernel takes {}",
                                           dims_to_string(a), dims_to_string(b), axes.size(), launch::kMaxRank));
  launch::BroadcastGeometry g{};
  g.rank = static_cast<int32_t>(axes.size());
  int64_t sa = 1, sb = 1;  // strides of each operand over its own (full) axes, innermost first
  for (int d = g.rank - 1; d >= 0; --d) {
    g.out[d] = axes[d].extent;
    g.a_stride[d] = axes[d].a_full ? sa : 0;
    g.b_stride[d] = axes[d].b_full ? sb : 0;
    if (axes[d].a_full) sa *= axes[d].extent;
    if (axes[d].b_full) sb *= axes[d].extent;
  }
  return g;
}

Result<TransposePlan> plan_transpose(const Dims& in, const std::vector<int64_t>& perm) {
  const size_t rank = in.size();
  // Input axes of extent > 1, renumbered; the permutation restricted to them.
  std::vector<int64_t> renumber(rank, -1), dims;
  for (size_t a = 0; a < rank; ++a)
    if (in[a] != 1) {
      renumber[a] = static_cast<int64_t>(dims.size());
      dims.push_back(in[a]);
    }
  std::vector<int64_t> p;
  for (int64_t a : perm)
    if (renumber[static_cast<size_t>(a)] >= 0) p.push_back(renumber[static_cast<size_t>(a)]);
  // Merge output neighbours that are input neighbours too: groups of consecutive input axes.
  std::vector<std::vector<int64_t>> groups;  // in output order, each a run of input axes
  for (int64_t a : p) {
    if (!groups.empty() && groups.back().back() + 1 == a) groups.back().push_back(a);
    else groups.push_back({a});
  }
  // The merged input: groups sorted by their first input axis.
  const size_t r = groups.size();
  std::vector<size_t> by_input(r);
  for (size_t i = 0; i < r; ++i) by_input[i] = i;
  std::sort(by_input.begin(), by_input.end(),
            [&](size_t x, size_t y) { return groups[x].front() < groups[y].front(); });
  std::vector<int64_t> merged_in(r), merged_perm(r), input_pos(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t extent = 1;
    for (int64_t a : groups[by_input[k]]) extent *= dims[static_cast<size_t>(a)];
    merged_in[k] = extent;
    input_pos[by_input[k]] = static_cast<int64_t>(k);
  }
  for (size_t i = 0; i < r; ++i) merged_perm[i] = input_pos[i];

  TransposePlan plan;
  if (r <= 1) return plan;  // the identity on memory
  if (r == 2 && merged_perm[0] == 1) {
    plan.kind = TransposePlan::Kind::kBatched;
    plan.rows = merged_in[0];
    plan.cols = merged_in[1];
    return plan;
  }
  if (r == 3 && merged_perm[0] == 0 && merged_perm[1] == 2) {
    plan.kind = TransposePlan::Kind::kBatched;
    plan.batch = merged_in[0];
    plan.rows = merged_in[1];
    plan.cols = merged_in[2];
    return plan;
  }
  if (r > static_cast<size_t>(launch::kMaxRank))
    return Status::unsupported(fmt::format("the permutation needs {} axes; the kernel takes {}", r, launch::kMaxRank));
  std::vector<int64_t> strides = row_major_strides(merged_in);
  plan.kind = TransposePlan::Kind::kGeneral;
  plan.general.rank = static_cast<int32_t>(r);
  for (size_t i = 0; i < r; ++i) {
    plan.general.out[i] = merged_in[static_cast<size_t>(merged_perm[i])];
    plan.general.in_stride[i] = strides[static_cast<size_t>(merged_perm[i])];
  }
  return plan;
}

}  // namespace kiln::cuda
