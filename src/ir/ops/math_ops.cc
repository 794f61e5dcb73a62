// Op definitions of the math family (see op_families.inc): linear algebra, softmax-like, sorting and
// scans here; reductions and ArgMax/ArgMin in math_reduce_ops.cc.
#include <fmt/format.h>

#include "ir/op_def.h"
#include "ir/ops/math_einsum.h"
#include "ir/ops/math_ops.h"

namespace kiln {

namespace {

// Merges two extents that must agree (matrix inner dims, Det's square matrices); unknown when neither is known.
Result<Dim> unify(const Dim& a, const Dim& b, const std::string& what) {
  if (a.known() && b.known() && a.value != b.value)
    return Status::invalid_argument(fmt::format("{}: {} vs {}", what, a.value, b.value));
  if (a.known()) return a;
  if (b.known()) return b;
  if (!a.symbol.empty()) return a;
  return b;
}

Status infer_gemm(InferContext& ctx) {
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (a.has_rank() && a.rank() != 2) return ctx.error(fmt::format("A must be 2-D, got shape {}", a.to_string()));
  if (b.has_rank() && b.rank() != 2) return ctx.error(fmt::format("B must be 2-D, got shape {}", b.to_string()));
  for (size_t i = 1; i < 3; ++i)
    if (ctx.has_input(i) && ctx.input_dtype(i) != ctx.input_dtype(0))
      return ctx.error(fmt::format("input {} is {}, but A is {}", i, dtype_name(ctx.input_dtype(i)),
                                   dtype_name(ctx.input_dtype(0))));
  bool trans_a = ctx.node().attr_int("transA", 0) != 0;
  bool trans_b = ctx.node().attr_int("transB", 0) != 0;
  Dim m, n;
  if (a.has_rank() && b.has_rank()) {
    Result<Dim> k = unify(a[trans_a ? 0 : 1], b[trans_b ? 1 : 0], "inner dimensions of A and B differ");
    if (!k.ok()) return ctx.error(k.status().message());
  }
  if (a.has_rank()) m = a[trans_a ? 1 : 0];
  if (b.has_rank()) n = b[trans_b ? 0 : 1];
  Shape out(std::vector<Dim>{m, n});
  if (ctx.has_input(2)) {
    const Shape& c = ctx.input_shape(2);
    if (c.has_rank() && c.rank() > 2) return ctx.error(fmt::format("C must have rank <= 2, got {}", c.to_string()));
    Result<Shape> bc = broadcast_shapes(out, c);
    if (!bc.ok()) return ctx.error("C does not broadcast to (M, N): " + bc.status().message());
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
  return {};
}

Status infer_matmul(InferContext& ctx) {
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (ctx.input_dtype(0) != ctx.input_dtype(1))
    return ctx.error(fmt::format("A and B must have the same dtype, got {} and {}", dtype_name(ctx.input_dtype(0)),
                                 dtype_name(ctx.input_dtype(1))));
  if (!a.has_rank() || !b.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  if (a.rank() == 0 || b.rank() == 0) return ctx.error("MatMul operands must have rank >= 1");
  // 1-D operands are promoted to matrices and the added axis is removed from the result.
  std::vector<Dim> ad = a.dims(), bd = b.dims();
  bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), Dim(1));
  if (b_vec) bd.push_back(Dim(1));
  Result<Dim> k = unify(ad[ad.size() - 1], bd[bd.size() - 2], "inner dimensions of A and B differ");
  if (!k.ok()) return ctx.error(k.status().message() + " (A " + a.to_string() + ", B " + b.to_string() + ")");
  Shape a_batch(std::vector<Dim>(ad.begin(), ad.end() - 2));
  Shape b_batch(std::vector<Dim>(bd.begin(), bd.end() - 2));
  Result<Shape> batch = broadcast_shapes(a_batch, b_batch);
  if (!batch.ok()) return ctx.error("batch dimensions do not broadcast: " + batch.status().message());
  std::vector<Dim> out = batch->dims();
  if (!a_vec) out.push_back(ad[ad.size() - 2]);
  if (!b_vec) out.push_back(bd[bd.size() - 1]);
  ctx.set_output(0, ctx.input_dtype(0), Shape(out));
  return {};
}

Status infer_einsum(InferContext& ctx) {
  std::vector<int64_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error(fmt::format("input {} is missing", i));
    if (ctx.input_dtype(i) != ctx.input_dtype(0)) return ctx.error("all inputs must have the same dtype");
    if (!ctx.input_shape(i).has_rank()) {
      ctx.set_output(0, ctx.input_dtype(0), Shape());
      return {};
    }
    ranks.push_back(static_cast<int64_t>(ctx.input_shape(i).rank()));
  }
  Result<EinsumSpec> spec = parse_einsum(ctx.node().attr_string("equation"), ranks);
  if (!spec.ok()) return ctx.error(spec.status().message());
  std::vector<Dim> label_dim(spec->num_labels());
  std::vector<bool> label_unknown(spec->num_labels(), false);
  for (size_t i = 0; i < ranks.size(); ++i) {
    for (size_t axis = 0; axis < spec->input_labels[i].size(); ++axis) {
      int l = spec->input_labels[i][axis];
      const Dim& d = ctx.input_shape(i)[axis];
      bool ellipsis = l >= kEinsumLetterCount;
      if (!d.known()) {
        // A broadcast axis of unknown extent may be 1 or not: only an explicit non-1 extent decides it.
        if (ellipsis) label_unknown[l] = true;
        else if (!label_dim[l].known()) label_dim[l] = d;
        continue;
      }
      if (ellipsis && d.value == 1) continue;
      if (label_dim[l].known() && label_dim[l].value != d.value)
        return ctx.error(fmt::format("einsum {} has extent {} in one input and {} in another", einsum_label_name(l),
                                     label_dim[l].value, d.value));
      label_dim[l] = d;
    }
  }
  std::vector<Dim> out;
  for (int l : spec->output_labels) {
    Dim d = label_dim[l];
    if (l >= kEinsumLetterCount && !d.known() && !label_unknown[l]) d = Dim(1);
    out.push_back(d);
  }
  ctx.set_output(0, ctx.input_dtype(0), Shape(out));
  return {};
}

// Softmax, LogSoftmax, Hardmax: the axis default and meaning changed in opset 13.
Status infer_softmax_like(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  int64_t axis = ctx.node().attr_int("axis", ctx.opset() >= 13 ? -1 : 1);
  if (x.has_rank()) {
    auto r = static_cast<int64_t>(x.rank());
    bool ok = ctx.opset() >= 13 ? (axis >= -r && axis < r) : (axis >= -r && axis <= r);
    if (!ok) return ctx.error(fmt::format("axis {} is out of range for input of rank {}", axis, r));
  }
  ctx.set_output(0, ctx.input_dtype(0), x);
  return {};
}

Status infer_topk(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  std::optional<int64_t> k;
  if (ctx.opset() < 10) {
    if (!ctx.node().has_attr("k")) return ctx.error("attribute k is required before opset 10");
    k = ctx.node().attr_int("k", 0);
  } else {
    if (!ctx.has_input(1)) return ctx.error("input K is required from opset 10");
    if (const Tensor* kt = ctx.input_value(1)) {
      if (kt->size() != 1) return ctx.error(fmt::format("K must hold one value, got {}", kt->type_string()));
      k = kt->element_as_int64(0);
    }
  }
  if (k && *k < 0) return ctx.error(fmt::format("k must be >= 0, got {}", *k));
  Shape out = x;
  if (x.has_rank()) {
    Result<int64_t> axis = normalize_axis(ctx.node().attr_int("axis", -1), static_cast<int64_t>(x.rank()));
    if (!axis.ok()) return ctx.error(axis.status().message());
    const Dim& d = x[*axis];
    if (k && d.known() && *k > d.value)
      return ctx.error(fmt::format("k = {} exceeds the axis extent {}", *k, d.value));
    out.dims()[*axis] = k ? Dim(*k) : Dim();
  }
  ctx.set_output(0, ctx.input_dtype(0), out);
  ctx.set_output(1, DataType::kI64, out);
  return {};
}

Status infer_cumsum(InferContext& ctx) {
  if (const Tensor* axis = ctx.input_value(1)) {
    if (axis->size() != 1) return ctx.error(fmt::format("axis must hold one value, got {}", axis->type_string()));
    if (ctx.input_shape(0).has_rank()) {
      Result<int64_t> a = normalize_axis(axis->element_as_int64(0), static_cast<int64_t>(ctx.input_shape(0).rank()));
      if (!a.ok()) return ctx.error(a.status().message());
    }
  }
  ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  return {};
}

Status infer_det(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  if (!x.has_rank()) {
    ctx.set_output(0, ctx.input_dtype(0), Shape());
    return {};
  }
  if (x.rank() < 2) return ctx.error(fmt::format("input must have rank >= 2, got {}", x.to_string()));
  Result<Dim> n = unify(x[x.rank() - 2], x[x.rank() - 1], "matrices must be square");
  if (!n.ok()) return ctx.error(n.status().message());
  ctx.set_output(0, ctx.input_dtype(0), Shape(std::vector<Dim>(x.dims().begin(), x.dims().end() - 2)));
  return {};
}

std::vector<OpDef> make_defs() {
  std::vector<OpDef> defs = {
      {.op_type = "Gemm",
       .min_inputs = 2,
       .max_inputs = 3,
       .attrs = {attr_float("alpha", 1.0f), attr_float("beta", 1.0f), attr_int("transA", 0), attr_int("transB", 0),
                 attr_int("broadcast", 0)},
       .infer = infer_gemm},
      {.op_type = "MatMul", .min_inputs = 2, .max_inputs = 2, .infer = infer_matmul},
      {.op_type = "Einsum",
       .min_inputs = 1,
       .max_inputs = -1,
       .attrs = {required(attr_string("equation"))},
       .infer = infer_einsum,
       .since_opset = 12},
      {.op_type = "Softmax", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("axis")}, .infer = infer_softmax_like},
      {.op_type = "LogSoftmax",
       .min_inputs = 1,
       .max_inputs = 1,
       .attrs = {attr_int("axis")},
       .infer = infer_softmax_like},
      {.op_type = "Hardmax", .min_inputs = 1, .max_inputs = 1, .attrs = {attr_int("axis")}, .infer = infer_softmax_like},
      {.op_type = "TopK",
       .min_inputs = 1,
       .max_inputs = 2,
       .min_outputs = 2,
       .max_outputs = 2,
       .attrs = {attr_int("axis", -1), attr_int("k"), attr_int("largest", 1), attr_int("sorted", 1)},
       .infer = infer_topk},
      {.op_type = "CumSum",
       .min_inputs = 2,
       .max_inputs = 2,
       .attrs = {attr_int("exclusive", 0), attr_int("reverse", 0)},
       .infer = infer_cumsum,
       .since_opset = 11},
      {.op_type = "Det", .min_inputs = 1, .max_inputs = 1, .infer = infer_det, .since_opset = 11},
  };
  for (const OpDef& d : math_reduce_op_defs()) defs.push_back(d);
  return defs;
}

const std::vector<OpDef>& defs() {
  static const std::vector<OpDef> kDefs = make_defs();
  return kDefs;
}
}  // namespace

std::span<const OpDef> math_op_defs() { return defs(); }

}  // namespace kiln
