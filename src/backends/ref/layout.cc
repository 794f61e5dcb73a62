// Reference kernels of kiln's layout-aware ops (domain "kiln"; defined in src/ir/ops/layout_ops.cc), and
// run_in_layout, which FusedConv and QConv use for their NHWC form too.
#include <fmt/format.h>

#include <array>

#include "backends/ref/layout_util.h"
#include "backends/ref/temp_op.h"
#include "ir/ops/layout_util.h"

namespace kiln::ref {

namespace {

Result<Tensor> transpose(const KernelContext& ctx, const Tensor& x, const std::array<int64_t, 4>& perm) {
  TempOp t("Transpose", 13);
  t.node.attrs["perm"] = Attribute::of_ints({perm.begin(), perm.end()});
  return t.run(ctx, {&x});
}

}  // namespace

Status run_in_layout(KernelContext& ctx, std::initializer_list<size_t> activation_inputs, KernelFn kernel_nchw) {
  Result<bool> nhwc = layout::is_nhwc(ctx.node());
  if (!nhwc.ok()) return Status::invalid_argument(nhwc.status().message());
  if (!*nhwc) return kernel_nchw(ctx);
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  std::vector<Tensor> nchw_inputs;
  nchw_inputs.reserve(activation_inputs.size());  // stable addresses for `inputs`
  for (size_t i : activation_inputs) {
    if (!ctx.has_input(i)) continue;
    if (ctx.input(i).rank() != 4)
      return ctx.error(fmt::format("layout NHWC needs rank-4 activations, but input {} is {}", i,
                                   ctx.input(i).type_string()));
    KILN_ASSIGN_OR_RETURN(Tensor t, transpose(ctx, ctx.input(i), layout::kNhwcToNchw));
    inputs[i] = &nchw_inputs.emplace_back(std::move(t));
  }
  Node nchw_node = ctx.node();
  nchw_node.attrs.erase("layout");
  std::vector<Tensor> outputs(ctx.num_outputs());
  KernelContext nchw_ctx(nchw_node, std::move(inputs), &outputs);
  KILN_RETURN_IF_ERROR(kernel_nchw(nchw_ctx));
  if (outputs[0].rank() != 4)
    return ctx.error(fmt::format("layout NHWC needs a rank-4 output, got {}", outputs[0].type_string()));
  KILN_ASSIGN_OR_RETURN(Tensor y, transpose(ctx, outputs[0], layout::kNchwToNhwc));
  ctx.set_output(0, std::move(y));
  return {};
}

namespace {

// kiln.Pool in NCHW: the ONNX op `mode` (opset 19) with the node's other attributes, output Y only.
Status pool_nchw(KernelContext& ctx) {
  std::string mode = ctx.node().attr_string("mode");
  if (!layout::is_pool_mode(mode)) return ctx.error(fmt::format("unknown pool mode \"{}\"", mode));
  TempOp op(mode, 19);
  for (const auto& [name, a] : ctx.node().attrs)
    if (name != "mode" && name != "layout") op.node.attrs[name] = a;
  KILN_ASSIGN_OR_RETURN(Tensor y, op.run(ctx, {&ctx.input(0)}));
  ctx.set_output(0, std::move(y));
  return {};
}

Status pool(KernelContext& ctx) { return run_in_layout(ctx, {0}, pool_nchw); }

// kiln.PaddedSpaceToDepth: literally the chain it stands for, Cast or QuantizeLinear -> Pad -> SpaceToDepth
// (-> Transpose), on the ONNX reference kernels.
Status padded_space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(PaddedSpaceToDepthParams p, padded_space_to_depth_params(ctx.node(), x.dtype()));
  if (x.rank() != 4) return ctx.error(fmt::format("input X must have rank 4 (NCHW), got {}", x.type_string()));
  Tensor y = x;
  if (p.quantize) {
    if (!ctx.has_input(1) || !ctx.has_input(2)) return ctx.error("quantizing needs the fill (zero point) and scale");
    TempOp quantize("QuantizeLinear", 19);
    KILN_ASSIGN_OR_RETURN(y, quantize.run(ctx, {&y, &ctx.input(2), &ctx.input(1)}));
  } else if (p.to != x.dtype()) {
    TempOp cast("Cast", 19);
    cast.node.attrs["to"] = Attribute::of_int(static_cast<int64_t>(p.to));
    KILN_ASSIGN_OR_RETURN(y, cast.run(ctx, {&y}));
  }
  const Tensor pads = Tensor::from_vector<int64_t>(
      {0, p.pads[0], p.pads[1], p.pads[2], 0, p.pads[3], p.pads[4], p.pads[5]}, {8});
  TempOp pad("Pad", 13);
  KILN_ASSIGN_OR_RETURN(y, pad.run(ctx, {&y, &pads, ctx.has_input(1) ? &ctx.input(1) : nullptr}));
  TempOp s2d("SpaceToDepth", 13);
  s2d.node.attrs["blocksize"] = Attribute::of_int(p.block);
  KILN_ASSIGN_OR_RETURN(y, s2d.run(ctx, {&y}));
  if (p.nhwc) {
    KILN_ASSIGN_OR_RETURN(y, transpose(ctx, y, layout::kNchwToNhwc));
  }
  ctx.set_output(0, std::move(y));
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"Pool", "kiln", pool},
    {"PaddedSpaceToDepth", "kiln", padded_space_to_depth},
};

}  // namespace

std::span<const KernelEntry> layout_kernels() { return kKernels; }

}  // namespace kiln::ref
