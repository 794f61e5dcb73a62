// Op definitions of the extra family (see op_families.inc): losses, Unique, NonMaxSuppression and the
// signal ops (windows, DFT, STFT, MelWeightMatrix).
#include <optional>

#include "ir/op_def.h"

namespace kiln {

namespace {

/// The value of a constant scalar (or one-element) integer input; nullopt when absent or not constant.
std::optional<int64_t> const_int(const InferContext& ctx, size_t i) {
  const Tensor* t = ctx.input_value(i);
  if (!t || t->size() != 1 || !is_integer(t->dtype())) return std::nullopt;
  return t->element_as_int64(0);
}

Status check_int_dtype(const InferContext& ctx, size_t i, const char* what) {
  if (!ctx.has_input(i)) return {};
  DataType d = ctx.input_dtype(i);
  if (d != DataType::kI32 && d != DataType::kI64)
    return ctx.error(std::string(what) + " must be int32 or int64, got " + std::string(dtype_name(d)));
  return {};
}

Status check_float_dtype(const InferContext& ctx, size_t i, const char* what) {
  if (!is_float(ctx.input_dtype(i)))
    return ctx.error(std::string(what) + " must be a float tensor, got " + std::string(dtype_name(ctx.input_dtype(i))));
  return {};
}

/// Output dtype from an 'output_datatype' attribute (windows, MelWeightMatrix).
Result<DataType> output_datatype(const InferContext& ctx) {
  int64_t v = ctx.node().attr_int("output_datatype", 1);
  if (v < 0 || v > 1000 || !is_known_dtype(static_cast<int32_t>(v)) || v == static_cast<int64_t>(DataType::kString) ||
      v == static_cast<int64_t>(DataType::kBool))
    return ctx.error("output_datatype " + std::to_string(v) + " is not a numeric ONNX data type");
  return static_cast<DataType>(v);
}

// Shared by NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: input (N,C,d1..dk), target (N,d1..dk).
Status infer_loss(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_float_dtype(ctx, 0, "input"));
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 1, "target"));
  if (ctx.has_input(2) && ctx.input_dtype(2) != ctx.input_dtype(0))
    return ctx.error("weight must have the dtype of input");
  std::string reduction = ctx.node().attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return ctx.error("reduction must be 'none', 'sum' or 'mean', got '" + reduction + "'");
  const Shape& in = ctx.input_shape(0);
  const Shape& target = ctx.input_shape(1);
  if (in.has_rank() && in.rank() < 2) return ctx.error("input must have rank >= 2 (N, C, ...), got " + in.to_string());
  if (in.has_rank() && target.has_rank() && target.rank() + 1 != in.rank())
    return ctx.error("target must have rank " + std::to_string(in.rank() - 1) + " for input " + in.to_string() +
                     ", got " + target.to_string());
  Shape loss_shape = Shape(std::vector<Dim>{});
  if (reduction == "none") {
    if (target.has_rank()) {
      loss_shape = target;
    } else if (in.has_rank()) {
      std::vector<Dim> d = in.dims();
      d.erase(d.begin() + 1);
      loss_shape = Shape(d);
    } else {
      loss_shape = Shape();
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), loss_shape);
  ctx.set_output(1, ctx.input_dtype(0), in);  // SoftmaxCrossEntropyLoss's log_prob
  return {};
}

Status infer_unique(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  std::vector<Dim> y_dims = {Dim()};
  Dim n_slices;  // length of inverse_indices
  if (ctx.node().has_attr("axis")) {
    if (in.has_rank()) {
      int64_t axis = ctx.node().attr_int("axis");
      Result<int64_t> a = normalize_axis(axis, static_cast<int64_t>(in.rank()));
      if (!a.ok()) return ctx.error(a.status().message());
      y_dims = in.dims();
      n_slices = y_dims[*a];
      y_dims[*a] = Dim();
    } else {
      ctx.set_output(0, ctx.input_dtype(0), Shape());
      y_dims.clear();
    }
  } else if (in.is_static()) {
    n_slices = Dim(element_count(in.static_dims()));
  }
  if (!y_dims.empty()) ctx.set_output(0, ctx.input_dtype(0), Shape(y_dims));
  ctx.set_output(1, DataType::kI64, Shape({Dim()}));
  ctx.set_output(2, DataType::kI64, Shape({n_slices}));
  ctx.set_output(3, DataType::kI64, Shape({Dim()}));
  return {};
}

Status infer_nms(InferContext& ctx) {
  const Shape& boxes = ctx.input_shape(0);
  const Shape& scores = ctx.input_shape(1);
  if (boxes.has_rank() && boxes.rank() != 3) return ctx.error("boxes must be [batch, boxes, 4], got " + boxes.to_string());
  if (scores.has_rank() && scores.rank() != 3)
    return ctx.error("scores must be [batch, classes, boxes], got " + scores.to_string());
  ctx.set_output(0, DataType::kI64, Shape({Dim(), Dim(3)}));
  return {};
}

Status infer_window(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 0, "size"));
  KILN_ASSIGN_OR_RETURN(DataType dt, output_datatype(ctx));
  std::optional<int64_t> size = const_int(ctx, 0);
  if (size && *size < 0) return ctx.error("size must be >= 0, got " + std::to_string(*size));
  ctx.set_output(0, dt, Shape({size ? Dim(*size) : Dim()}));
  return {};
}

Status infer_dft(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_float_dtype(ctx, 0, "input"));
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 1, "dft_length"));
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 2, "axis"));
  const Shape& in = ctx.input_shape(0);
  if (!in.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  int64_t rank = static_cast<int64_t>(in.rank());
  if (rank < 2) return ctx.error("input must have rank >= 2 ([..., n, 1 or 2]), got " + in.to_string());
  if (in[rank - 1].known() && in[rank - 1].value != 1 && in[rank - 1].value != 2)
    return ctx.error("the last dimension of input must be 1 (real) or 2 (complex), got " + in.to_string());
  std::vector<Dim> out = in.dims();
  out[rank - 1] = Dim(2);
  std::optional<int64_t> axis;
  if (ctx.opset() < 20) axis = ctx.node().attr_int("axis", 1);
  else if (!ctx.has_input(2)) axis = -2;
  else axis = const_int(ctx, 2);
  bool onesided = ctx.node().attr_int("onesided", 0) != 0;
  if (!axis) {  // axis not known statically: any non-last extent may change
    if (onesided || ctx.has_input(1))
      for (int64_t i = 0; i < rank - 1; ++i) out[i] = Dim();
    ctx.set_output(0, ctx.input_dtype(0), Shape(out));
    return {};
  }
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  if (a < 0 || a > rank - 2)
    return ctx.error("axis " + std::to_string(*axis) + " is out of range for input " + in.to_string());
  Dim length = in[a];
  if (ctx.has_input(1)) {
    std::optional<int64_t> l = const_int(ctx, 1);
    if (l && *l <= 0) return ctx.error("dft_length must be > 0, got " + std::to_string(*l));
    length = l ? Dim(*l) : Dim();
  }
  out[a] = !length.known() ? Dim() : onesided ? Dim(length.value / 2 + 1) : length;
  ctx.set_output(0, ctx.input_dtype(0), Shape(out));
  return {};
}

Status infer_stft(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_float_dtype(ctx, 0, "signal"));
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 1, "frame_step"));
  KILN_RETURN_IF_ERROR(check_int_dtype(ctx, 3, "frame_length"));
  const Shape& sig = ctx.input_shape(0);
  if (sig.has_rank() && sig.rank() != 3)
    return ctx.error("signal must be [batch, length, 1 or 2], got " + sig.to_string());
  std::optional<int64_t> frame_length;
  if (ctx.has_input(3)) {
    frame_length = const_int(ctx, 3);
  } else if (ctx.has_input(2)) {
    const Shape& w = ctx.input_shape(2);
    if (w.has_rank() && w.rank() != 1) return ctx.error("window must be 1-D, got " + w.to_string());
    if (w.has_rank() && w[0].known()) frame_length = w[0].value;
  } else {
    return ctx.error("either window or frame_length must be given");
  }
  std::optional<int64_t> step = const_int(ctx, 1);
  if (step && *step <= 0) return ctx.error("frame_step must be > 0, got " + std::to_string(*step));
  if (frame_length && *frame_length <= 0)
    return ctx.error("frame_length must be > 0, got " + std::to_string(*frame_length));
  Dim batch = sig.has_rank() ? sig[0] : Dim();
  Dim frames, bins;
  if (frame_length) {
    bins = ctx.node().attr_int("onesided", 1) != 0 ? Dim(*frame_length / 2 + 1) : Dim(*frame_length);
    if (step && sig.has_rank() && sig[1].known()) {
      if (sig[1].value < *frame_length)
        return ctx.error("signal length " + std::to_string(sig[1].value) + " is shorter than frame_length " +
                         std::to_string(*frame_length));
      frames = Dim((sig[1].value - *frame_length) / *step + 1);
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape({batch, frames, bins, Dim(2)}));
  return {};
}

Status infer_mel(InferContext& ctx) {
  for (size_t i = 0; i < 3; ++i) KILN_RETURN_IF_ERROR(check_int_dtype(ctx, i, "num_mel_bins/dft_length/sample_rate"));
  KILN_RETURN_IF_ERROR(check_float_dtype(ctx, 3, "lower_edge_hertz"));
  KILN_RETURN_IF_ERROR(check_float_dtype(ctx, 4, "upper_edge_hertz"));
  KILN_ASSIGN_OR_RETURN(DataType dt, output_datatype(ctx));
  std::optional<int64_t> mel = const_int(ctx, 0), dft = const_int(ctx, 1);
  if (mel && *mel <= 0) return ctx.error("num_mel_bins must be > 0, got " + std::to_string(*mel));
  if (dft && *dft <= 0) return ctx.error("dft_length must be > 0, got " + std::to_string(*dft));
  ctx.set_output(0, dt, Shape({dft ? Dim(*dft / 2 + 1) : Dim(), mel ? Dim(*mel) : Dim()}));
  return {};
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      {.op_type = "NegativeLogLikelihoodLoss", .min_inputs = 2, .max_inputs = 3,
       .attrs = {attr_int("ignore_index"), attr_string("reduction", "mean")}, .infer = infer_loss, .since_opset = 12},
      {.op_type = "SoftmaxCrossEntropyLoss", .min_inputs = 2, .max_inputs = 3, .min_outputs = 1, .max_outputs = 2,
       .attrs = {attr_int("ignore_index"), attr_string("reduction", "mean")}, .infer = infer_loss, .since_opset = 12},
      {.op_type = "Unique", .min_inputs = 1, .max_inputs = 1, .min_outputs = 1, .max_outputs = 4,
       .attrs = {attr_int("axis"), attr_int("sorted", 1)}, .infer = infer_unique, .since_opset = 11},
      {.op_type = "NonMaxSuppression", .min_inputs = 2, .max_inputs = 5, .attrs = {attr_int("center_point_box", 0)},
       .infer = infer_nms, .since_opset = 10},
      {.op_type = "HannWindow", .min_inputs = 1, .max_inputs = 1,
       .attrs = {attr_int("output_datatype", 1), attr_int("periodic", 1)}, .infer = infer_window, .since_opset = 17},
      {.op_type = "HammingWindow", .min_inputs = 1, .max_inputs = 1,
       .attrs = {attr_int("output_datatype", 1), attr_int("periodic", 1)}, .infer = infer_window, .since_opset = 17},
      {.op_type = "BlackmanWindow", .min_inputs = 1, .max_inputs = 1,
       .attrs = {attr_int("output_datatype", 1), attr_int("periodic", 1)}, .infer = infer_window, .since_opset = 17},
      // axis is an attribute (default 1) before opset 20 and an input (default -2) from opset 20.
      {.op_type = "DFT", .min_inputs = 1, .max_inputs = 3,
       .attrs = {attr_int("axis"), attr_int("inverse", 0), attr_int("onesided", 0)}, .infer = infer_dft,
       .since_opset = 17},
      {.op_type = "STFT", .min_inputs = 2, .max_inputs = 4, .attrs = {attr_int("onesided", 1)}, .infer = infer_stft,
       .since_opset = 17},
      {.op_type = "MelWeightMatrix", .min_inputs = 5, .max_inputs = 5, .attrs = {attr_int("output_datatype", 1)},
       .infer = infer_mel, .since_opset = 17},
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> extra_op_defs() { return defs(); }

}  // namespace kiln
