// Op definitions of kiln's layout-aware ops (domain "kiln"), produced by the channels-last pass
// (src/passes/layout/channels_last.h).
//
//   Pool(X) -> Y    the ONNX pooling op named by `mode` ("MaxPool", "AveragePool", "GlobalAveragePool",
//                   "GlobalMaxPool"; opset 19 semantics, output Y only) with X and Y in `layout`
//
// ONNX's pooling ops have no layout attribute, so a channels-last graph needs its own pool. Pool takes
// ONNX's pooling attributes with ONNX's defaults; an attribute the chosen mode does not take is an error
// rather than silently ignored (e.g. count_include_pad on MaxPool).
//
//   PaddedSpaceToDepth(X [, fill]) -> Y
//                   Y = SpaceToDepth(Pad(Cast(X, to), pads, fill), blocksize), X in NCHW, Y in
//                   `output_layout` (NCHW or NHWC): the space-to-depth stem's input chain (stem_space_to_depth.h)
//                   as one pass over memory. `pads` are [c_begin, h_begin, w_begin, c_end, h_end, w_end]
//                   (non-negative; the padded H and W divisible by blocksize); `fill` a scalar of Y's type
//                   (default 0); `to` is 0 (Y has X's type) or FLOAT16 for a FLOAT X.
//   PaddedSpaceToDepth(X, fill, scale) -> Y
//                   `to` INT8 or UINT8 with a FLOAT X: Cast becomes QuantizeLinear(X, scale, fill) (ONNX's
//                   rounding and saturation; per tensor: scale one FLOAT, fill one element of Y's type, both
//                   required): the INT8 stem's input QuantizeLinear absorbed too, padding with the zero point.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/layout_util.h"

namespace kiln {

namespace {

// The ONNX op that `mode` names, checked against the node's attributes.
Result<const OpDef*> pool_op(const Node& node) {
  std::string mode = node.attr_string("mode");
  if (!layout::is_pool_mode(mode))
    return Status::invalid_model(fmt::format(
        "{}: mode must be MaxPool, AveragePool, GlobalAveragePool or GlobalMaxPool, got \"{}\"", node.describe(),
        mode));
  const OpDef* def = find_op_def("", mode);
  if (!def || !def->infer) return Status::internal(fmt::format("no op definition for {}", mode));
  for (const auto& [name, a] : node.attrs) {
    if (name == "mode" || name == "layout") continue;
    bool taken = false;
    for (const AttrSpec& spec : def->attrs) taken = taken || spec.name == name;
    if (!taken)
      return Status::invalid_model(
          fmt::format("{}: attribute '{}' does not apply to mode {}", node.describe(), name, mode));
  }
  if ((mode == "MaxPool" || mode == "AveragePool") && !node.attrs.count("kernel_shape"))
    return Status::invalid_model(fmt::format("{}: mode {} needs kernel_shape", node.describe(), mode));
  return def;
}

Status infer_pool_nchw(InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(const OpDef* def, pool_op(ctx.node()));
  return def->infer(ctx);  // reads the same attribute names; Pool's defaults are ONNX's
}

Status infer_pool(InferContext& ctx) { return layout::infer_in_layout(ctx, {0}, infer_pool_nchw); }

Status infer_padded_space_to_depth(InferContext& ctx) {
  const Node& n = ctx.node();
  KILN_ASSIGN_OR_RETURN(PaddedSpaceToDepthParams p, padded_space_to_depth_params(n, ctx.input_dtype(0)));
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) return ctx.error("input X needs a known rank (4, NCHW)");
  if (in.rank() != 4) return ctx.error(fmt::format("input X must have rank 4 (NCHW), got {}", in.to_string()));
  auto one_element = [&](size_t i) {
    const Shape& f = ctx.input_shape(i);
    bool one = f.has_rank() && f.is_static();
    for (size_t a = 0; one && a < f.rank(); ++a) one = f[a].value == 1;
    return one;
  };
  if (ctx.has_input(1) && (ctx.input_dtype(1) != p.to || !one_element(1)))
    return ctx.error(fmt::format("fill must be one {} element, got {}", dtype_name(p.to),
                                 ctx.node().inputs[1]->type.to_string()));
  if (p.quantize && (!ctx.has_input(1) || !ctx.has_input(2)))
    return ctx.error(fmt::format("to = {} quantizes X: the fill (zero point) and scale inputs are required",
                                 dtype_name(p.to)));
  if (!p.quantize && ctx.has_input(2)) return ctx.error("a scale input is only taken when to is INT8 or UINT8");
  if (p.quantize && (ctx.input_dtype(2) != DataType::kF32 || !one_element(2)))
    return ctx.error(fmt::format("scale must be one float element, got {}", ctx.node().inputs[2]->type.to_string()));
  std::array<Dim, 3> chw;  // padded C, H / b, W / b
  for (int a = 1; a <= 3; ++a) {
    const Dim& d = in[static_cast<size_t>(a)];
    if (!d.known()) continue;
    Result<int64_t> e = padded_space_to_depth_extent(p, a, d.value);
    if (!e.ok()) return ctx.error(fmt::format("X {}: {}", in.to_string(), e.status().message()));
    chw[static_cast<size_t>(a - 1)] = Dim(*e);
  }
  Shape nchw({in[0], chw[0], chw[1], chw[2]});
  ctx.set_output(0, p.to, p.nhwc ? layout::permute(nchw, layout::kNchwToNhwc) : nchw);
  return {};
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "Pool",
       .domain = "kiln",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {required(attr_string("mode")), attr_string("auto_pad", "NOTSET"), attr_int("ceil_mode", 0),
                 attr_int("count_include_pad", 0), attr_ints("dilations"), attr_ints("kernel_shape"),
                 attr_ints("pads"), attr_ints("strides"), attr_string("layout", "NCHW")},
       .infer = infer_pool},
      {.op_type = "PaddedSpaceToDepth",
       .domain = "kiln",
       .min_inputs = 1,
       .max_inputs = 3,
       .attrs = {required(attr_int("blocksize")), attr_ints("pads"), attr_int("to", 0),
                 attr_string("output_layout", "NCHW")},
       .infer = infer_padded_space_to_depth},
  };
  return kDefs;
}

}  // namespace

Result<PaddedSpaceToDepthParams> padded_space_to_depth_params(const Node& n, DataType x_dtype) {
  PaddedSpaceToDepthParams p;
  p.block = n.attr_int("blocksize", 0);
  if (p.block <= 0) return Status::invalid_model(fmt::format("{}: blocksize must be positive, got {}", n.describe(), p.block));
  std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0, 0, 0});
  if (pads.size() != 6)
    return Status::invalid_model(fmt::format("{}: pads must have 6 values [c, h, w begin, c, h, w end], got {}",
                                             n.describe(), pads.size()));
  for (size_t i = 0; i < 6; ++i) {
    if (pads[i] < 0)
      return Status::invalid_model(fmt::format("{}: pads must be non-negative, got {} at {}", n.describe(), pads[i], i));
    p.pads[i] = pads[i];
  }
  const int64_t to = n.attr_int("to", 0);
  p.to = to == 0 ? x_dtype : static_cast<DataType>(to);
  p.quantize = x_dtype == DataType::kF32 && (p.to == DataType::kI8 || p.to == DataType::kU8);
  if (p.to != x_dtype && !(x_dtype == DataType::kF32 && p.to == DataType::kF16) && !p.quantize)
    return Status::invalid_model(fmt::format("{}: to = {} with X of {}: only FLOAT to FLOAT16, INT8 or UINT8 (or "
                                             "none) is supported",
                                             n.describe(), to, dtype_name(x_dtype)));
  const std::string out_layout = n.attr_string("output_layout", "NCHW");
  if (out_layout != "NCHW" && out_layout != "NHWC")
    return Status::invalid_model(
        fmt::format("{}: output_layout must be NCHW or NHWC, got \"{}\"", n.describe(), out_layout));
  p.nhwc = out_layout == "NHWC";
  return p;
}

Result<int64_t> padded_space_to_depth_extent(const PaddedSpaceToDepthParams& p, int axis, int64_t x_extent) {
  if (axis < 1 || axis > 3) return Status::internal(fmt::format("axis {} is not C, H or W", axis));
  const size_t a = static_cast<size_t>(axis - 1);
  const int64_t padded = x_extent + p.pads[a] + p.pads[a + 3];
  if (axis == 1) return padded * p.block * p.block;
  if (padded % p.block != 0)
    return Status::shape_mismatch(fmt::format("padded extent {} of axis {} is not divisible by blocksize {}", padded,
                                              axis, p.block));
  return padded / p.block;
}

std::span<const OpDef> layout_op_defs() { return defs(); }

}  // namespace kiln
