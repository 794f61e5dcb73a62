// Reference kernels of kiln's fused ops (domain "kiln"; defined in src/ir/ops/fused_ops.cc).
//
// Each one runs the reference kernels of the ONNX ops it replaces, in the same order, on a temporary node,
// so a fused graph computes bit for bit what the unfused graph computed. FusedConv in NHWC runs its NCHW form
// between transposes (run_in_layout).
#include <fmt/format.h>

#include <limits>

#include "backends/ref/kernel.h"
#include "backends/ref/layout_util.h"
#include "backends/ref/temp_op.h"
#include "ir/fused_activation.h"
#include "ir/op_def.h"

namespace kiln::ref {

namespace {

// A scalar of `dtype` holding `v` (the params are stored as floats).
Result<Tensor> scalar_of(DataType dtype, double v) {
  Tensor t(dtype, {});
  KILN_RETURN_IF_ERROR(visit_numeric(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    t.data<T>()[0] = static_cast<T>(static_cast<compute_type_t<T>>(v));
    return {};
  }));
  return t;
}

// Applies ONNX op `op` (unary, with params p0/p1) to x. Binary ops take a scalar p0; "Op:r" puts it first.
Result<Tensor> apply_op(const KernelContext& ctx, std::string op, float p0, float p1, const Tensor& x) {
  bool reversed = op.size() > 2 && op.ends_with(":r");
  if (reversed) op.resize(op.size() - 2);
  static const char* kBinary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};
  for (const char* b : kBinary) {
    if (op != b) continue;
    KILN_ASSIGN_OR_RETURN(Tensor c, scalar_of(x.dtype(), p0));
    TempOp t(op, 14);
    if (op == "Max" || op == "Min") t.node.opset = 13;
    if (op == "Pow") t.node.opset = 15;
    return reversed ? t.run(ctx, {&c, &x}) : t.run(ctx, {&x, &c});
  }
  if (reversed) return ctx.error(fmt::format("op '{}:r' is not a binary op", op));
  if (op == "Clip") {
    TempOp t("Clip", 13);
    std::optional<Tensor> lo, hi;
    if (p0 != -std::numeric_limits<float>::infinity()) {
      KILN_ASSIGN_OR_RETURN(lo, scalar_of(x.dtype(), p0));
    }
    if (p1 != std::numeric_limits<float>::infinity()) {
      KILN_ASSIGN_OR_RETURN(hi, scalar_of(x.dtype(), p1));
    }
    return t.run(ctx, {&x, lo ? &*lo : nullptr, hi ? &*hi : nullptr});
  }
  if (op == "Swish") {  // kiln's SiLU activation: x * Sigmoid(x) (not an ONNX op in the opsets kiln reads)
    TempOp sigmoid("Sigmoid", 13);
    KILN_ASSIGN_OR_RETURN(Tensor s, sigmoid.run(ctx, {&x}));
    TempOp mul("Mul", 14);
    return mul.run(ctx, {&x, &s});
  }
  TempOp t(op, op == "Gelu" ? 20 : 18);
  if (!t.node.def) return ctx.error(fmt::format("unknown op '{}'", op));
  std::vector<std::string> names = activation_param_names(op);
  const float params[2] = {p0, p1};
  for (size_t i = 0; i < names.size(); ++i) t.node.attrs[names[i]] = Attribute::of_float(params[i]);
  return t.run(ctx, {&x});
}

Result<Tensor> apply_activation(const KernelContext& ctx, Tensor y) {
  std::string act = ctx.node().attr_string("activation");
  if (act.empty()) return y;
  std::vector<float> p = ctx.node().attr_floats("activation_params");
  size_t want = act == "Clip" ? 2 : activation_param_names(act).size();
  if (p.size() != want)
    return ctx.error(fmt::format("activation {} takes {} params, got {}", act, want, p.size()));
  p.resize(2, 0.0f);
  return apply_op(ctx, act, p[0], p[1], y);
}

// Copies the node's attributes except the activation's, for the ONNX op it extends.
void copy_base_attrs(const Node& from, Node& to) {
  for (const auto& [name, a] : from.attrs)
    if (name != "activation" && name != "activation_params") to.attrs[name] = a;
}

const Tensor* optional_input(const KernelContext& ctx, size_t i) {
  return ctx.has_input(i) ? &ctx.input(i) : nullptr;
}

Status add_and_activate(KernelContext& ctx, Tensor y, const Tensor* addend) {
  if (addend) {
    TempOp add("Add", 14);
    KILN_ASSIGN_OR_RETURN(y, add.run(ctx, {&y, addend}));
  }
  KILN_ASSIGN_OR_RETURN(y, apply_activation(ctx, std::move(y)));
  ctx.set_output(0, std::move(y));
  return {};
}

Status fused_conv_nchw(KernelContext& ctx) {
  TempOp conv("Conv", 11);
  copy_base_attrs(ctx.node(), conv.node);
  KILN_ASSIGN_OR_RETURN(Tensor y, conv.run(ctx, {&ctx.input(0), &ctx.input(1), optional_input(ctx, 2)}));
  return add_and_activate(ctx, std::move(y), optional_input(ctx, 3));
}

Status fused_conv(KernelContext& ctx) { return run_in_layout(ctx, {0, 3}, fused_conv_nchw); }

Status fused_gemm(KernelContext& ctx) {
  TempOp gemm("Gemm", 13);
  copy_base_attrs(ctx.node(), gemm.node);
  KILN_ASSIGN_OR_RETURN(Tensor y, gemm.run(ctx, {&ctx.input(0), &ctx.input(1), optional_input(ctx, 2)}));
  return add_and_activate(ctx, std::move(y), nullptr);
}

Status fused_matmul(KernelContext& ctx) {
  TempOp matmul("MatMul", 13);
  KILN_ASSIGN_OR_RETURN(Tensor y, matmul.run(ctx, {&ctx.input(0), &ctx.input(1)}));
  return add_and_activate(ctx, std::move(y), optional_input(ctx, 2));
}

Status elementwise_chain(KernelContext& ctx) {
  std::vector<std::string> ops = ctx.node().attr_strings("ops");
  std::vector<float> params = ctx.node().attr_floats("params");
  if (ops.empty() || params.size() != 2 * ops.size())
    return ctx.error(fmt::format("{} ops need {} params, got {}", ops.size(), 2 * ops.size(), params.size()));
  Tensor y = ctx.input(0);
  for (size_t k = 0; k < ops.size(); ++k) {
    KILN_ASSIGN_OR_RETURN(y, apply_op(ctx, ops[k], params[2 * k], params[2 * k + 1], y));
  }
  ctx.set_output(0, std::move(y));
  return {};
}

constexpr KernelEntry kKernels[] = {
    {"", "", nullptr},  // placeholder, skipped by the registry
    {"FusedConv", "kiln", fused_conv},
    {"FusedGemm", "kiln", fused_gemm},
    {"FusedMatMul", "kiln", fused_matmul},
    {"ElementwiseChain", "kiln", elementwise_chain},
};
}  // namespace

std::span<const KernelEntry> fused_kernels() { return std::span(kKernels).subspan(1); }

}  // namespace kiln::ref
