// Op definitions of the recurrent ops RNN, GRU and LSTM (part of the quant family; see quant_ops.cc).
#include <fmt/format.h>

#include "ir/op_def.h"

namespace kiln {

namespace {

// Outputs: Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h and Y_c
// [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]).
Status rnn_infer(InferContext& ctx) {
  const Node& node = ctx.node();
  std::string direction = node.attr_string("direction", "forward");
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return ctx.error(fmt::format("direction '{}' is not one of forward, reverse, bidirectional", direction));
  int64_t layout = node.attr_int("layout", 0);
  if (layout != 0 && layout != 1) return ctx.error(fmt::format("layout must be 0 or 1, got {}", layout));
  const Shape& x = ctx.input_shape(0);
  if (x.has_rank() && x.rank() != 3)
    return ctx.error(fmt::format("X must have rank 3, got {}", x.to_string()));
  Dim seq, batch, hidden;
  if (x.has_rank()) {
    seq = layout == 0 ? x[0] : x[1];
    batch = layout == 0 ? x[1] : x[0];
  }
  if (node.has_attr("hidden_size")) {
    int64_t h = node.attr_int("hidden_size");
    if (h <= 0) return ctx.error(fmt::format("hidden_size must be positive, got {}", h));
    hidden = Dim(h);
  } else {
    const Shape& r = ctx.input_shape(2);
    if (r.has_rank() && r.rank() == 3) hidden = r[2];
  }
  DataType t = ctx.input_dtype(0);
  if (layout == 0) {
    ctx.set_output(0, t, Shape({seq, Dim(dirs), batch, hidden}));
    for (size_t i = 1; i < 3; ++i) ctx.set_output(i, t, Shape({Dim(dirs), batch, hidden}));
  } else {
    ctx.set_output(0, t, Shape({batch, seq, Dim(dirs), hidden}));
    for (size_t i = 1; i < 3; ++i) ctx.set_output(i, t, Shape({batch, Dim(dirs), hidden}));
  }
  return {};
}

std::vector<AttrSpec> rnn_attrs() {
  // activations' default depends on the op and the direction count: handled by the kernel.
  return {attr_floats("activation_alpha"), attr_floats("activation_beta"), attr_strings("activations"),
          attr_float("clip"), attr_string("direction", "forward"), attr_int("hidden_size"), attr_int("layout", 0),
          attr_int("output_sequence", 0)};
}

}  // namespace

std::vector<OpDef> quant_rnn_op_defs() {
  std::vector<AttrSpec> gru_attrs = rnn_attrs();
  gru_attrs.push_back(attr_int("linear_before_reset", 0));
  std::vector<AttrSpec> lstm_attrs = rnn_attrs();
  lstm_attrs.push_back(attr_int("input_forget", 0));
  return {
      {.op_type = "RNN", .min_inputs = 3, .max_inputs = 6, .min_outputs = 0, .max_outputs = 2, .attrs = rnn_attrs(),
       .infer = rnn_infer},
      {.op_type = "GRU", .min_inputs = 3, .max_inputs = 6, .min_outputs = 0, .max_outputs = 2, .attrs = gru_attrs,
       .infer = rnn_infer},
      {.op_type = "LSTM", .min_inputs = 3, .max_inputs = 8, .min_outputs = 0, .max_outputs = 3, .attrs = lstm_attrs,
       .infer = rnn_infer},
  };
}

}  // namespace kiln
