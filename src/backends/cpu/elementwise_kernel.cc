// Elementwise ops on oneDNN (f32): unary activations (Relu, Sigmoid, Tanh, Exp, Abs, Sqrt, Neg, Elu,
// LeakyRelu, Softplus, HardSwish, Clip with constant bounds), kiln.ElementwiseChain (the first step as the
// primitive, the rest as fused eltwise post-ops: one pass over memory), and the binary ops Add, Sub, Mul,
// Div, Max, Min with numpy broadcasting of the second operand (or of the first, for commutative ops).
// Tolerance vs the reference: a few ulp (oneDNN's vectorized exp/tanh; division as multiplication by the
// reciprocal inside chains).
#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <set>

#include "backends/cpu/cpu_kernel.h"

namespace kiln::cpu {

namespace {

using alg = dnnl::algorithm;
using dt = dnnl::memory::data_type;

struct EltwiseStep {
  alg algorithm;
  float alpha = 0, beta = 0;
};

// One unary step (an ONNX op name with up to two float parameters) as a oneDNN eltwise step.
std::optional<EltwiseStep> unary_step(const std::string& op, float p0, float p1) {
  if (op == "Relu") return EltwiseStep{alg::eltwise_relu};
  if (op == "LeakyRelu") return EltwiseStep{alg::eltwise_relu, p0};
  if (op == "Sigmoid") return EltwiseStep{alg::eltwise_logistic};
  if (op == "Tanh") return EltwiseStep{alg::eltwise_tanh};
  if (op == "Exp") return EltwiseStep{alg::eltwise_exp};
  if (op == "Abs") return EltwiseStep{alg::eltwise_abs};
  if (op == "Sqrt") return EltwiseStep{alg::eltwise_sqrt};
  if (op == "Neg") return EltwiseStep{alg::eltwise_linear, -1.0f, 0.0f};
  if (op == "Elu") return EltwiseStep{alg::eltwise_elu, p0};
  if (op == "Softplus") return EltwiseStep{alg::eltwise_soft_relu};
  if (op == "HardSwish") return EltwiseStep{alg::eltwise_hardswish};
  if (op == "Clip") {
    float lo = std::isinf(p0) ? -FLT_MAX : p0, hi = std::isinf(p1) ? FLT_MAX : p1;
    return EltwiseStep{alg::eltwise_clip_v2, lo, hi};
  }
  // kiln.ElementwiseChain's binary steps with a scalar c (p0): x op c, or c op x for "Op:r".
  if (op == "Add" || op == "Add:r") return EltwiseStep{alg::eltwise_linear, 1.0f, p0};
  if (op == "Mul" || op == "Mul:r") return EltwiseStep{alg::eltwise_linear, p0, 0.0f};
  if (op == "Sub") return EltwiseStep{alg::eltwise_linear, 1.0f, -p0};
  if (op == "Sub:r") return EltwiseStep{alg::eltwise_linear, -1.0f, p0};
  if (op == "Div" && p0 != 0) return EltwiseStep{alg::eltwise_linear, 1.0f / p0, 0.0f};
  if (op == "Max" || op == "Max:r") return EltwiseStep{alg::eltwise_clip_v2, p0, FLT_MAX};
  if (op == "Min" || op == "Min:r") return EltwiseStep{alg::eltwise_clip_v2, -FLT_MAX, p0};
  return std::nullopt;
}

class UnaryKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node) {
    const std::shared_ptr<const CpuKernel> none;
    if (node.inputs.empty() || !node.inputs[0] || node.inputs[0]->type.dtype != DataType::kF32) return none;
    if (node.outputs.size() != 1 || node.outputs[0]->type.dtype != DataType::kF32) return none;
    auto k = std::make_shared<UnaryKernel>();
    k->name_ = node.name;
    if (node.domain == "kiln" && node.op_type == "ElementwiseChain") {
      std::vector<std::string> ops = node.attr_strings("ops");
      std::vector<float> params = node.attr_floats("params");
      if (params.size() != 2 * ops.size() || ops.empty()) return none;
      for (size_t i = 0; i < ops.size(); ++i) {
        auto step = unary_step(ops[i], params[2 * i], params[2 * i + 1]);
        if (!step) return none;
        k->steps_.push_back(*step);
      }
      return std::shared_ptr<const CpuKernel>(std::move(k));
    }
    if (!node.domain.empty() || node.inputs.size() > 3) return none;
    float p0 = 0, p1 = 0;
    if (node.op_type == "LeakyRelu") p0 = node.attr_float("alpha", 0.01f);
    else if (node.op_type == "Elu") p0 = node.attr_float("alpha", 1.0f);
    else if (node.op_type == "Clip") {
      // Bounds must be constants (opset 11+ inputs) or attributes (opset < 11).
      p0 = -INFINITY, p1 = INFINITY;
      for (size_t i = 1; i < node.inputs.size(); ++i) {
        if (!node.inputs[i]) continue;
        if (!node.inputs[i]->is_constant() || node.inputs[i]->constant->size() != 1) return none;
        (i == 1 ? p0 : p1) = static_cast<float>(node.inputs[i]->constant->element_as_double(0));
      }
      if (node.opset < 11) p0 = node.attr_float("min", -FLT_MAX), p1 = node.attr_float("max", FLT_MAX);
    } else if (node.inputs.size() != 1) {
      return none;
    }
    // Only true unary ONNX ops here (a one-input Max or Add is not the chain's scalar step).
    static const std::set<std::string> kUnary = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Exp", "Abs", "Sqrt",
                                                 "Neg", "Elu", "Softplus", "HardSwish", "Clip"};
    auto step = kUnary.count(node.op_type) ? unary_step(node.op_type, p0, p1) : std::nullopt;
    if (!step) return none;
    k->steps_.push_back(*step);
    return std::shared_ptr<const CpuKernel>(std::move(k));
  }
  size_t weight_input() const override { return 0; }

  Status run(ref::KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(x.dims()));
    Tensor& y = ctx.allocate_output(0, DataType::kF32, x.dims(), /*zero_fill=*/false);
    execute(*p, {{DNNL_ARG_SRC, view_memory(p->src, x.raw())}, {DNNL_ARG_DST, view_memory(p->dst, y.raw())}});
    return {};
  }

 private:
  Result<PreparedPrimitive> create_primitive(const Dims& x, bool list_offered) const override {
    dnnl::memory::desc md = dense_desc(x, dt::f32);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    for (size_t i = 1; i < steps_.size(); ++i) ops.append_eltwise(1.0f, steps_[i].algorithm, steps_[i].alpha, steps_[i].beta);
    attr.set_post_ops(ops);
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, steps_[0].algorithm, md, steps_[0].alpha,
                                     steps_[0].beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, attr, onednn_engine());
    PreparedPrimitive p;
    p.primitive = dnnl::eltwise_forward(pd);
    p.src = p.dst = md;
    p.scratchpad_bytes = pd.scratchpad_desc().get_size();
    p.implementation = implementation_name(pd);
    return p;
  }

  std::vector<EltwiseStep> steps_;
};

class BinaryKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node) {
    const std::shared_ptr<const CpuKernel> none;
    static const std::map<std::string, alg> kOps = {{"Add", alg::binary_add}, {"Sub", alg::binary_sub},
                                                    {"Mul", alg::binary_mul}, {"Div", alg::binary_div},
                                                    {"Max", alg::binary_max}, {"Min", alg::binary_min}};
    if (!node.domain.empty() || node.inputs.size() != 2 || !node.inputs[0] || !node.inputs[1]) return none;
    auto it = kOps.find(node.op_type);
    if (it == kOps.end()) return none;
    for (const Value* v : {node.inputs[0], node.inputs[1], node.outputs[0]})
      if (v->type.dtype != DataType::kF32 || !v->type.shape.has_rank()) return none;
    auto k = std::make_shared<BinaryKernel>();
    k->name_ = node.name;
    k->algorithm_ = it->second;
    k->reference_ = ref::find_kernel(node.domain, node.op_type);
    if (!k->reference_) return none;
    k->commutative_ = node.op_type == "Add" || node.op_type == "Mul" || node.op_type == "Max" || node.op_type == "Min";
    return std::shared_ptr<const CpuKernel>(std::move(k));
  }
  size_t weight_input() const override { return 0; }

  Status run(ref::KernelContext& ctx) const override {
    const Tensor *a = &ctx.input(0), *b = &ctx.input(1);
    Dims out;
    if (!broadcast_into(a->dims(), b->dims(), out)) {
      // oneDNN broadcasts only its second operand: otherwise the reference kernel computes it.
      if (!commutative_ || !broadcast_into(b->dims(), a->dims(), out)) return reference_(ctx);
      std::swap(a, b);
    }
    // The cache key holds both shapes: the first operand's, a separator, the second's.
    Dims key = a->dims();
    key.push_back(-1);
    key.insert(key.end(), b->dims().begin(), b->dims().end());
    KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(key));
    Tensor& y = ctx.allocate_output(0, DataType::kF32, out, /*zero_fill=*/false);
    execute(*p, {{DNNL_ARG_SRC_0, view_memory(p->src, a->raw())},
                 {DNNL_ARG_SRC_1, view_memory(p->bias, b->raw())},
                 {DNNL_ARG_DST, view_memory(p->dst, y.raw())}});
    return {};
  }

 private:
  // True when `b` broadcasts into `a` (numpy rules, result = a's shape); `out` = a's dims.
  static bool broadcast_into(const Dims& a, const Dims& b, Dims& out) {
    if (b.size() > a.size()) return false;
    for (size_t i = 0; i < b.size(); ++i) {
      int64_t da = a[a.size() - b.size() + i], db = b[i];
      if (db != da && db != 1) return false;
    }
    out = a;
    return true;
  }

  Result<PreparedPrimitive> create_primitive(const Dims& key, bool list_offered) const override {
    // Key: A's dims, -1, B's dims (run); the builder's tactic report passes only A's dims: then B = A.
    auto sep = std::find(key.begin(), key.end(), -1);
    Dims a(key.begin(), sep), b = sep == key.end() ? a : Dims(sep + 1, key.end());
    while (b.size() < a.size()) b.insert(b.begin(), 1);  // oneDNN wants equal ranks
    dnnl::memory::desc src0 = dense_desc(a, dt::f32), src1 = dense_desc(b, dt::f32);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::binary::desc desc(algorithm_, src0, src1, src0);
    dnnl::binary::primitive_desc pd(desc, attr, onednn_engine());
    PreparedPrimitive p;
    p.primitive = dnnl::binary(pd);
    p.src = p.dst = src0;
    p.bias = src1;  // the second operand's descriptor
    p.scratchpad_bytes = pd.scratchpad_desc().get_size();
    p.implementation = implementation_name(pd);
    return p;
  }

  alg algorithm_ = alg::binary_add;
  bool commutative_ = false;
  ref::KernelFn reference_ = nullptr;
};

}  // namespace

Result<std::shared_ptr<const CpuKernel>> create_elementwise_kernel(const Node& node) {
  KILN_ASSIGN_OR_RETURN(auto unary, UnaryKernel::create(node));
  if (unary) return unary;
  return BinaryKernel::create(node);
}

}  // namespace kiln::cpu
