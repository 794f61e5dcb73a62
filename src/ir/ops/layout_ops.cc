// Op definitions of kiln's layout-aware ops (domain "kiln"), produced by the channels-last pass
// (src/passes/layout/channels_last.h).
//
//   Pool(X) -> Y    the ONNX pooling op named by `mode` ("MaxPool", "AveragePool", "GlobalAveragePool",
//                   "GlobalMaxPool"; opset 19 semantics, output Y only) with X and Y in `layout`
//
// ONNX's pooling ops have no layout attribute, so a channels-last graph needs its own pool. Pool takes
// ONNX's pooling attributes with ONNX's defaults; an attribute the chosen mode does not take is an error
// rather than silently ignored (e.g. count_include_pad on MaxPool).
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
  };
  return kDefs;
}

}  // namespace

std::span<const OpDef> layout_op_defs() { return defs(); }

}  // namespace kiln
