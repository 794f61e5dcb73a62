#include "passes/fusion/activation.h"

#include <limits>
#include <set>

#include "passes/pass_util.h"

namespace kiln::passes {

namespace {

bool float_data(const Value* v) {
  return v && (v->type.dtype == DataType::kF32 || v->type.dtype == DataType::kF16 || v->type.dtype == DataType::kBF16);
}

// A one-element constant's value; nullopt if `v` is not one (or has another dtype than `like`).
std::optional<float> scalar_constant(const Value* v, const Value* like) {
  const Tensor* t = constant_of(v);
  if (!t || t->size() != 1 || t->dtype() != like->type.dtype) return std::nullopt;
  return static_cast<float>(t->element_as_double(0));
}

std::optional<std::vector<float>> clip_params(const Node& n) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> p = {-inf, inf};
  if (n.opset < 11) {
    if (n.has_attr("min")) p[0] = n.attr_float("min");
    if (n.has_attr("max")) p[1] = n.attr_float("max");
    return p;
  }
  for (size_t i = 1; i <= 2; ++i) {
    if (!n.has_input(i)) continue;
    std::optional<float> b = scalar_constant(n.inputs[i], n.inputs[0]);
    if (!b) return std::nullopt;
    p[i - 1] = *b;
  }
  return p;
}

}  // namespace

std::optional<Activation> match_activation(const Node& n) {
  if (!n.domain.empty() || !n.has_input(0) || !n.has_output(0) || n.outputs.size() != 1) return std::nullopt;
  if (!float_data(n.inputs[0])) return std::nullopt;
  const std::string& op = n.op_type;
  static const std::set<std::string, std::less<>> kPlain = {"Relu",     "Sigmoid",  "Tanh", "HardSwish",
                                                             "Softplus", "Softsign", "Mish"};
  if (kPlain.count(op)) return Activation{op, {}};
  if (op == "LeakyRelu") return Activation{op, {n.attr_float("alpha", 0.01f)}};
  if (op == "Elu" || op == "Celu") return Activation{op, {n.attr_float("alpha", 1.0f)}};
  if (op == "ThresholdedRelu") return Activation{op, {n.attr_float("alpha", 1.0f)}};
  if (op == "HardSigmoid") return Activation{op, {n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f)}};
  if (op == "Selu")
    return Activation{op, {n.attr_float("alpha", 1.67326319217681884765625f),
                           n.attr_float("gamma", 1.05070102214813232421875f)}};
  if (op == "Shrink") return Activation{op, {n.attr_float("bias", 0.0f), n.attr_float("lambd", 0.5f)}};
  if (op == "Clip") {
    auto p = clip_params(n);
    if (p) return Activation{op, *p};
  }
  return std::nullopt;
}

bool is_binary_elementwise(const Node& n) {
  static const std::set<std::string, std::less<>> kBinary = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};
  return n.domain.empty() && kBinary.count(n.op_type) && n.inputs.size() == 2 && n.has_input(0) && n.has_input(1) &&
         n.outputs.size() == 1 && n.has_output(0);
}

std::optional<ChainStep> match_chain_step(const Node& n) {
  if (auto a = match_activation(n)) {
    a->params.resize(2, 0.0f);
    return ChainStep{a->op, a->params[0], a->params[1], n.inputs[0]};
  }
  if (!n.domain.empty() || !n.has_output(0) || n.outputs.size() != 1) return std::nullopt;
  const std::string& op = n.op_type;
  static const std::set<std::string, std::less<>> kUnary = {"Abs", "Neg",  "Sqrt", "Reciprocal", "Exp",  "Log",
                                                             "Floor", "Ceil", "Round", "Sin", "Cos", "Tan",
                                                             "Erf", "Sign", "Atan", "Sinh", "Cosh"};
  if (kUnary.count(op) && n.inputs.size() == 1 && float_data(n.inputs[0])) return ChainStep{op, 0, 0, n.inputs[0]};
  if (!is_binary_elementwise(n)) return std::nullopt;
  for (size_t data = 0; data < 2; ++data) {
    Value* x = n.inputs[data];
    Value* c = n.inputs[1 - data];
    if (!float_data(x) || x->is_constant() || !same_type(x->type, n.outputs[0]->type)) continue;
    std::optional<float> v = scalar_constant(c, x);
    if (!v || c->type.shape.rank() > x->type.shape.rank()) continue;
    return ChainStep{data == 0 ? op : op + ":r", *v, 0, x};
  }
  return std::nullopt;
}

}  // namespace kiln::passes
