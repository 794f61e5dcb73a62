#include "ir/ops/layout_util.h"

#include <fmt/format.h>

#include <deque>

namespace kiln::layout {

Shape permute(const Shape& s, const std::array<int64_t, 4>& perm) {
  if (!s.has_rank() || s.rank() != perm.size()) return s;
  std::vector<Dim> dims;
  for (int64_t p : perm) dims.push_back(s[static_cast<size_t>(p)]);
  return Shape(dims);
}

Result<bool> is_nhwc(const Node& node) {
  std::string layout = node.attr_string("layout", "NCHW");
  if (layout == "NCHW") return false;
  if (layout == "NHWC") return true;
  return Status::invalid_model(
      fmt::format("{}: layout must be \"NCHW\" or \"NHWC\", got \"{}\"", node.describe(), layout));
}

Status infer_in_layout(InferContext& ctx, std::initializer_list<size_t> activation_inputs, InferFn infer_nchw) {
  KILN_ASSIGN_OR_RETURN(bool nhwc, is_nhwc(ctx.node()));
  if (!nhwc) return infer_nchw(ctx);
  // The NCHW view: a copy of the node whose activation inputs are stand-in values of the permuted types and
  // whose outputs are scratch values, so the real node is only touched through ctx.set_output.
  Node view = ctx.node();
  view.attrs.erase("layout");
  std::deque<Value> scratch;  // stable addresses
  for (size_t i : activation_inputs) {
    if (!ctx.has_input(i)) continue;
    const Shape& s = ctx.input_shape(i);
    if (s.has_rank() && s.rank() != 4)
      return ctx.error(fmt::format("layout NHWC needs rank-4 activations, but input {} is {}", i, s.to_string()));
    Value& v = scratch.emplace_back();
    v.name = view.inputs[i]->name;
    v.type = {ctx.input_dtype(i), permute(s, kNhwcToNchw)};
    view.inputs[i] = &v;
  }
  for (Value*& out : view.outputs) {
    if (!out) continue;
    Value& v = scratch.emplace_back();
    v.name = out->name;
    out = &v;
  }
  InferContext nchw_ctx(view);
  KILN_RETURN_IF_ERROR(infer_nchw(nchw_ctx));
  for (size_t i = 0; i < view.outputs.size(); ++i) {
    if (!view.outputs[i]) continue;
    const ValueType& t = view.outputs[i]->type;
    if (t.shape.has_rank() && t.shape.rank() != 4)
      return ctx.error(fmt::format("layout NHWC needs a rank-4 output, got {}", t.shape.to_string()));
    ctx.set_output(i, t.dtype, permute(t.shape, kNchwToNhwc));
  }
  return {};
}

bool is_pool_mode(std::string_view mode) {
  return mode == "MaxPool" || mode == "AveragePool" || mode == "GlobalAveragePool" || mode == "GlobalMaxPool";
}

}  // namespace kiln::layout
