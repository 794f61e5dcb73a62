// kiln.PaddedSpaceToDepth on the GPU (space_to_depth.cu): the space-to-depth stem's input preparation (Cast,
// Pad, SpaceToDepth and the NHWC transpose) as one kernel.
#include <cstring>

#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/kernels/space_to_depth.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

class PaddedSpaceToDepthKernel final : public CudaKernel {
 public:
  /// `scale`: QuantizeLinear's scale when the kernel quantizes (params.quantize), else unused.
  PaddedSpaceToDepthKernel(const Node& node, PaddedSpaceToDepthParams params, launch::SpaceToDepthTypes types,
                           uint64_t fill, float scale, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()), p_(params), types_(types), fill_(fill), scale_(scale), constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& in = input_dims[0];
    if (in.size() != 4) return named(node_, Status::shape_mismatch(fmt::format("X {} is not NCHW", dims_to_string(in))));
    launch::PaddedSpaceToDepthGeometry g{};
    g.n = in[0], g.c = in[1], g.h = in[2], g.w = in[3];
    g.c_begin = p_.pads[0], g.h_begin = p_.pads[1], g.w_begin = p_.pads[2];
    g.block = p_.block;
    g.padded_c = g.c + p_.pads[0] + p_.pads[3];
    auto extent = [&](int axis, int64_t x) -> Result<int64_t> {
      auto e = padded_space_to_depth_extent(p_, axis, x);
      if (!e.ok()) return named(node_, e.status().with_context(fmt::format("X {}", dims_to_string(in))));
      return e;
    };
    KILN_ASSIGN_OR_RETURN(g.out_h, extent(2, g.h));
    KILN_ASSIGN_OR_RETURN(g.out_w, extent(3, g.w));
    KILN_ASSIGN_OR_RETURN(const int64_t oc, extent(1, g.c));
    g.nhwc = p_.nhwc;
    g.scale = scale_;
    const Dims expected = g.nhwc ? Dims{g.n, g.out_h, g.out_w, oc} : Dims{g.n, oc, g.out_h, g.out_w};
    if (expected != output_dims[0])
      return named(node_, Status::shape_mismatch(fmt::format("the output is {}, expected {}",
                                                             dims_to_string(output_dims[0]), dims_to_string(expected))));
    return make_prepared(node_, [g, types = types_, fill = fill_, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> inputs,
                                    std::span<void* const> outputs) -> Status {
      KILN_CUDA_TRY(launch::launch_padded_space_to_depth(constants->get(inputs, 0), outputs[0], types, g, fill, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:padded_space_to_depth"; }

 private:
  std::string node_;
  PaddedSpaceToDepthParams p_;
  launch::SpaceToDepthTypes types_;
  uint64_t fill_;
  float scale_;
  std::shared_ptr<const ConstantInputs> constants_;
};

std::optional<launch::SpaceToDepthTypes> types_for(DataType from, DataType to) {
  if (from == DataType::kF32 && to == DataType::kF16) return launch::SpaceToDepthTypes::kF32ToF16;
  if (from == DataType::kF32 && to == DataType::kI8) return launch::SpaceToDepthTypes::kF32ToI8;
  if (from == DataType::kF32 && to == DataType::kU8) return launch::SpaceToDepthTypes::kF32ToU8;
  if (from != to || from == DataType::kString || from == DataType::kUndefined) return std::nullopt;
  switch (dtype_size(from)) {
    case 1: return launch::SpaceToDepthTypes::kCopy1;
    case 2: return launch::SpaceToDepthTypes::kCopy2;
    case 4: return launch::SpaceToDepthTypes::kCopy4;
    case 8: return launch::SpaceToDepthTypes::kCopy8;
    default: return std::nullopt;
  }
}

}  // namespace

KernelResult make_padded_space_to_depth_kernel(const Node& node, const KernelOptions&) {
  if (!node.has_input(0) || node.outputs.size() != 1) return no_kernel();
  KILN_ASSIGN_OR_RETURN(PaddedSpaceToDepthParams p, padded_space_to_depth_params(node, input_dtype(node, 0)));
  const std::optional<launch::SpaceToDepthTypes> types = types_for(input_dtype(node, 0), p.to);
  if (!types) return no_kernel();
  uint64_t fill = 0;  // the fill value's bytes, read once here: it must be a constant
  if (node.has_input(1)) {
    const Value* f = node.inputs[1];
    if (!f->is_constant()) return no_kernel();
    if (f->constant->size() != 1 || f->constant->dtype() != p.to)
      return Status::invalid_model(fmt::format("fill is {}, expected one {}", f->constant->type_string(), dtype_name(p.to)));
    std::memcpy(&fill, f->constant->raw(), dtype_size(p.to));
  }
  float scale = 1.0f;  // quantizing: the scale, read once here too (a constant)
  if (p.quantize) {
    const Value* s = node.has_input(1) && node.has_input(2) ? node.inputs[2] : nullptr;
    if (!s || !s->is_constant()) return no_kernel();
    if (s->constant->size() != 1 || s->constant->dtype() != DataType::kF32)
      return Status::invalid_model(fmt::format("scale is {}, expected one float", s->constant->type_string()));
    scale = s->constant->data<float>()[0];
  }
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(
      std::make_unique<PaddedSpaceToDepthKernel>(node, p, *types, fill, scale, std::move(constants)));
}

}  // namespace kiln::cuda
