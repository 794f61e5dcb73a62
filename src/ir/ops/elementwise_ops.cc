// Op definitions of the elementwise family (see op_families.inc): unary math and activations, numpy-style
// broadcasting binary/variadic ops, comparisons and logic, Where, Cast and CastLike.
#include <fmt/format.h>

#include "ir/op_def.h"

namespace kiln {

namespace {

std::string dtype_str(DataType t) { return std::string(dtype_name(t)); }

// Opsets < 7 broadcast B onto A only when `broadcast` = 1, aligning B's axes at `axis` (default: suffix);
// otherwise the shapes must be equal. Returns A's shape, which is what those ops produce.
Result<Shape> legacy_broadcast(InferContext& ctx) {
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (!a.has_rank() || !b.has_rank()) return a;
  if (ctx.node().attr_int("broadcast", 0) == 0) {
    if (a.rank() != b.rank()) return ctx.error(fmt::format("inputs {} and {} differ in rank and broadcast=0",
                                                           a.to_string(), b.to_string()));
    return a;
  }
  int64_t ra = static_cast<int64_t>(a.rank()), rb = static_cast<int64_t>(b.rank());
  int64_t axis = ctx.node().has_attr("axis") ? ctx.node().attr_int("axis") : ra - rb;
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    return ctx.error(fmt::format("legacy broadcast of {} onto {} at axis {} is out of range", b.to_string(),
                                 a.to_string(), ctx.node().attr_int("axis")));
  for (int64_t i = 0; i < rb; ++i) {
    const Dim& da = a[static_cast<size_t>(axis + i)];
    const Dim& db = b[static_cast<size_t>(i)];
    if (da.known() && db.known() && db.value != 1 && db.value != da.value)
      return ctx.error(fmt::format("cannot broadcast {} onto {} at axis {}", b.to_string(), a.to_string(), axis));
  }
  return a;
}

bool uses_legacy_broadcast(const InferContext& ctx) { return ctx.opset() < 7 && ctx.num_inputs() >= 2; }

// Checks that inputs [first, last) that are present all have the same dtype.
Status check_same_dtype(InferContext& ctx, size_t first, size_t last) {
  DataType want = DataType::kUndefined;
  for (size_t i = first; i < last && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i) || ctx.input_dtype(i) == DataType::kUndefined) continue;
    if (want == DataType::kUndefined) want = ctx.input_dtype(i);
    else if (ctx.input_dtype(i) != want)
      return ctx.error(fmt::format("input {} is {}, but the inputs before it are {}; they must match", i,
                                   dtype_str(ctx.input_dtype(i)), dtype_str(want)));
  }
  return {};
}

Status check_dtype(InferContext& ctx, size_t i, bool (*pred)(DataType), const char* what) {
  if (!ctx.has_input(i)) return {};
  DataType t = ctx.input_dtype(i);
  if (t == DataType::kUndefined || pred(t)) return {};
  return ctx.error(fmt::format("input {} must be {}, got {}", i, what, dtype_str(t)));
}

bool is_bool(DataType t) { return t == DataType::kBool; }
bool is_numeric(DataType t) { return is_float(t) || is_integer(t); }
bool is_unsigned(DataType t) { return is_integer(t) && !is_signed_integer(t); }

// Unary ops on floats (activations, transcendental functions).
Status infer_float_unary(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_float, "a float tensor"));
  return infer_same_as_input0(ctx);
}
Status infer_numeric_unary(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  return infer_same_as_input0(ctx);
}
Status infer_float_to_bool(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_float, "a float tensor"));
  ctx.set_output(0, DataType::kBool, ctx.input_shape(0));
  return {};
}
Status infer_not(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_bool, "a bool tensor"));
  return infer_same_as_input0(ctx);
}

// Binary ops whose inputs share a dtype (Add, Mod, ...): broadcast shape, input 0's dtype.
Status infer_binary_numeric(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  if (uses_legacy_broadcast(ctx)) {
    KILN_ASSIGN_OR_RETURN(Shape s, legacy_broadcast(ctx));
    ctx.set_output(0, ctx.input_dtype(0), s);
    return {};
  }
  return infer_broadcast_inputs(ctx);
}

Status infer_pow(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 1, is_numeric, "a numeric tensor"));
  if (uses_legacy_broadcast(ctx)) {
    KILN_ASSIGN_OR_RETURN(Shape s, legacy_broadcast(ctx));
    ctx.set_output(0, ctx.input_dtype(0), s);
    return {};
  }
  return infer_broadcast_inputs(ctx);
}

Status infer_bitshift(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_unsigned, "an unsigned integer tensor"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  std::string dir = ctx.node().attr_string("direction");
  if (dir != "LEFT" && dir != "RIGHT") return ctx.error("direction must be \"LEFT\" or \"RIGHT\", got \"" + dir + "\"");
  return infer_broadcast_inputs(ctx);
}

// Comparisons and logic ops: broadcast shape, bool output.
Status infer_compare(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  if (uses_legacy_broadcast(ctx)) {
    KILN_ASSIGN_OR_RETURN(Shape s, legacy_broadcast(ctx));
    ctx.set_output(0, DataType::kBool, s);
    return {};
  }
  return infer_broadcast_to_bool(ctx);
}
Status infer_logic(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_bool, "a bool tensor"));
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 1, is_bool, "a bool tensor"));
  return infer_compare(ctx);
}

// Max, Min, Sum, Mean: any number of inputs, broadcast together.
Status infer_variadic(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, ctx.num_inputs()));
  return infer_broadcast_inputs(ctx);
}

Status infer_prelu(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  // The slope broadcasts onto X (unidirectionally), so the output has X's shape. Models upgraded from
  // opset <= 6 may keep a per-channel slope [C] that does not broadcast numpy-style; the kernel applies it
  // along axis 1.
  const Shape& x = ctx.input_shape(0);
  const Shape& slope = ctx.input_shape(1);
  bool per_channel = x.has_rank() && slope.has_rank() && slope.rank() == 1 && x.rank() >= 2 && slope[0].known() &&
                     x[1].known() && slope[0].value == x[1].value;
  if (!per_channel) KILN_RETURN_IF_ERROR(infer_broadcast_inputs(ctx));
  ctx.set_output(0, ctx.input_dtype(0), x);
  return {};
}

Status infer_clip(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_numeric, "a numeric tensor"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 3));
  for (size_t i = 1; i < 3 && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const Shape& s = ctx.input_shape(i);
    bool scalar_like = !s.has_rank() || s.rank() == 0 || (s.rank() == 1 && (!s[0].known() || s[0].value == 1));
    if (!scalar_like) return ctx.error(fmt::format("input {} ({}) must be a scalar", i, s.to_string()));
  }
  return infer_same_as_input0(ctx);
}

Status infer_where(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, is_bool, "a bool tensor (the condition)"));
  KILN_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 3));
  KILN_RETURN_IF_ERROR(infer_broadcast_inputs(ctx));
  if (ctx.has_output(0)) ctx.set_output(0, ctx.input_dtype(1), ctx.node().outputs[0]->type.shape);
  return {};
}

bool castable(DataType t) { return is_numeric(t) || t == DataType::kBool || t == DataType::kString; }

Status infer_cast(InferContext& ctx) {
  int64_t to = ctx.node().attr_int("to", 0);
  if (to < 0 || to > 0x7fffffff || !is_known_dtype(static_cast<int32_t>(to)) ||
      !castable(static_cast<DataType>(to)))
    return ctx.error(fmt::format("attribute 'to' = {} is not a data type kiln can cast to", to));
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, castable, "a numeric, bool or string tensor"));
  ctx.set_output(0, static_cast<DataType>(to), ctx.input_shape(0));
  return {};
}

Status infer_cast_like(InferContext& ctx) {
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 0, castable, "a numeric, bool or string tensor"));
  KILN_RETURN_IF_ERROR(check_dtype(ctx, 1, castable, "a numeric, bool or string tensor"));
  ctx.set_output(0, ctx.input_dtype(1), ctx.input_shape(0));
  return {};
}

Status infer_gelu(InferContext& ctx) {
  std::string approx = ctx.node().attr_string("approximate");
  if (approx != "none" && approx != "tanh")
    return ctx.error("attribute 'approximate' must be \"none\" or \"tanh\", got \"" + approx + "\"");
  return infer_float_unary(ctx);
}

// Opset-1 forms of many ops carried an (ignored) consumed_inputs attribute.
AttrSpec consumed() { return attr_ints("consumed_inputs"); }

OpDef unary(const char* op, InferFn infer, std::vector<AttrSpec> attrs = {}) {
  return {.op_type = op, .domain = "", .min_inputs = 1, .max_inputs = 1, .attrs = std::move(attrs), .infer = infer};
}
OpDef binary(const char* op, InferFn infer, std::vector<AttrSpec> attrs = {}) {
  return {.op_type = op, .domain = "", .min_inputs = 2, .max_inputs = 2, .attrs = std::move(attrs), .infer = infer};
}
OpDef variadic(const char* op) {
  return {.op_type = op, .domain = "", .min_inputs = 1, .max_inputs = -1, .attrs = {consumed()}, .infer = infer_variadic};
}
// Binary ops of opset 1: broadcast/axis (opsets 1-6), consumed_inputs (opset 1 arithmetic only).
std::vector<AttrSpec> legacy_bcast(bool with_consumed) {
  std::vector<AttrSpec> a = {attr_int("broadcast", 0), attr_int("axis")};
  if (with_consumed) a.push_back(consumed());
  return a;
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = {
      // Activations.
      unary("Relu", infer_numeric_unary, {consumed()}),
      unary("LeakyRelu", infer_float_unary, {attr_float("alpha", 0.01f), consumed()}),
      binary("PRelu", infer_prelu, {consumed()}),
      unary("Elu", infer_float_unary, {attr_float("alpha", 1.0f), consumed()}),
      unary("Selu", infer_float_unary,
            {attr_float("alpha", 1.67326319217681884765625f), attr_float("gamma", 1.05070102519989013671875f),
             consumed()}),
      unary("Celu", infer_float_unary, {attr_float("alpha", 1.0f)}),
      unary("Sigmoid", infer_float_unary, {consumed()}),
      unary("HardSigmoid", infer_float_unary, {attr_float("alpha", 0.2f), attr_float("beta", 0.5f), consumed()}),
      unary("HardSwish", infer_float_unary),
      unary("Tanh", infer_float_unary, {consumed()}),
      unary("Softplus", infer_float_unary),
      unary("Softsign", infer_float_unary),
      unary("Mish", infer_float_unary),
      unary("Gelu", infer_gelu, {attr_string("approximate", "none")}),
      unary("ThresholdedRelu", infer_float_unary, {attr_float("alpha", 1.0f)}),
      unary("Shrink", infer_numeric_unary, {attr_float("bias", 0.0f), attr_float("lambd", 0.5f)}),
      // min/max are attributes before opset 11 and optional inputs from opset 11.
      {.op_type = "Clip",
       .domain = "",
       .min_inputs = 1,
       .max_inputs = 3,
       .attrs = {attr_float("min"), attr_float("max"), consumed()},
       .infer = infer_clip},
      // Unary math.
      unary("Erf", infer_numeric_unary),
      unary("Sqrt", infer_float_unary, {consumed()}),
      unary("Reciprocal", infer_float_unary, {consumed()}),
      unary("Exp", infer_float_unary, {consumed()}),
      unary("Log", infer_float_unary, {consumed()}),
      unary("Abs", infer_numeric_unary, {consumed()}),
      unary("Neg", infer_numeric_unary, {consumed()}),
      unary("Sign", infer_numeric_unary),
      unary("Floor", infer_float_unary, {consumed()}),
      unary("Ceil", infer_float_unary, {consumed()}),
      unary("Round", infer_float_unary),
      unary("Sin", infer_float_unary),
      unary("Cos", infer_float_unary),
      unary("Tan", infer_float_unary),
      unary("Asin", infer_float_unary),
      unary("Acos", infer_float_unary),
      unary("Atan", infer_float_unary),
      unary("Sinh", infer_float_unary),
      unary("Cosh", infer_float_unary),
      unary("Asinh", infer_float_unary),
      unary("Acosh", infer_float_unary),
      unary("Atanh", infer_float_unary),
      unary("IsNaN", infer_float_to_bool),
      unary("IsInf", infer_float_to_bool, {attr_int("detect_negative", 1), attr_int("detect_positive", 1)}),
      unary("Not", infer_not),
      // Binary arithmetic.
      binary("Add", infer_binary_numeric, legacy_bcast(true)),
      binary("Sub", infer_binary_numeric, legacy_bcast(true)),
      binary("Mul", infer_binary_numeric, legacy_bcast(true)),
      binary("Div", infer_binary_numeric, legacy_bcast(true)),
      binary("Pow", infer_pow, legacy_bcast(false)),
      binary("Mod", infer_binary_numeric, {attr_int("fmod", 0)}),
      binary("BitShift", infer_bitshift, {required(attr_string("direction"))}),
      variadic("Max"),
      variadic("Min"),
      variadic("Sum"),
      variadic("Mean"),
      // Comparisons and logic.
      binary("Equal", infer_compare, legacy_bcast(false)),
      binary("Less", infer_compare, legacy_bcast(false)),
      binary("Greater", infer_compare, legacy_bcast(false)),
      binary("LessOrEqual", infer_compare),
      binary("GreaterOrEqual", infer_compare),
      binary("And", infer_logic, legacy_bcast(false)),
      binary("Or", infer_logic, legacy_bcast(false)),
      binary("Xor", infer_logic, legacy_bcast(false)),
      {.op_type = "Where", .domain = "", .min_inputs = 3, .max_inputs = 3, .attrs = {}, .infer = infer_where},
      // Casts. Cast-1 spelled `to` as a string; the importer upgrades such models to opset >= 7 first.
      unary("Cast", infer_cast, {required(attr_int("to")), attr_int("saturate", 1)}),
      binary("CastLike", infer_cast_like, {attr_int("saturate", 1)}),
  };
  return kDefs;
}
}  // namespace

std::span<const OpDef> elementwise_op_defs() { return defs(); }

}  // namespace kiln
