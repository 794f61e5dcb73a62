// Unary ops and kiln.ElementwiseChain on the pointwise kernel (pointwise.cu): a unary node is a chain of
// one step, a chain node one launch for all its steps. f32 and f16 only (null otherwise).
//
// Parameters come as the reference reads them (src/backends/ref/elementwise.cc, fused.cc): activation
// attributes stay floats; Clip bounds and the binary steps' scalars become values of the element type.
#include <cmath>
#include <limits>
#include <string_view>

#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

using launch::PointOp;
using launch::PointStep;

constexpr float kInf = std::numeric_limits<float>::infinity();

struct NamedOp {
  std::string_view name;
  PointOp op;
};

// Ops whose parameters (if any) are attributes read as floats.
constexpr NamedOp kUnaryOps[] = {
    {"Relu", PointOp::kRelu},
    {"LeakyRelu", PointOp::kLeakyRelu},
    {"Elu", PointOp::kElu},
    {"Selu", PointOp::kSelu},
    {"Celu", PointOp::kCelu},
    {"Sigmoid", PointOp::kSigmoid},
    {"HardSigmoid", PointOp::kHardSigmoid},
    {"HardSwish", PointOp::kHardSwish},
    {"Tanh", PointOp::kTanh},
    {"Softplus", PointOp::kSoftplus},
    {"Softsign", PointOp::kSoftsign},
    {"Mish", PointOp::kMish},
    {"ThresholdedRelu", PointOp::kThresholdedRelu},
    {"Shrink", PointOp::kShrink},
    {"Erf", PointOp::kErf},
    {"Abs", PointOp::kAbs},
    {"Neg", PointOp::kNeg},
    {"Sign", PointOp::kSign},
    {"Sqrt", PointOp::kSqrt},
    {"Reciprocal", PointOp::kReciprocal},
    {"Exp", PointOp::kExp},
    {"Log", PointOp::kLog},
    {"Floor", PointOp::kFloor},
    {"Ceil", PointOp::kCeil},
    {"Round", PointOp::kRound},
    {"Sin", PointOp::kSin},
    {"Cos", PointOp::kCos},
    {"Tan", PointOp::kTan},
    {"Atan", PointOp::kAtan},
    {"Sinh", PointOp::kSinh},
    {"Cosh", PointOp::kCosh},
};

// kiln.ElementwiseChain's binary steps with a scalar: "Op" is x op c, "Op:r" is c op x.
struct BinaryStep {
  std::string_view name;
  PointOp op, reversed;
};
constexpr BinaryStep kBinarySteps[] = {
    {"Add", PointOp::kAdd, PointOp::kAddR}, {"Sub", PointOp::kSub, PointOp::kSubR},
    {"Mul", PointOp::kMul, PointOp::kMulR}, {"Div", PointOp::kDiv, PointOp::kDivR},
    {"Pow", PointOp::kPow, PointOp::kPowR}, {"Max", PointOp::kMax, PointOp::kMaxR},
    {"Min", PointOp::kMin, PointOp::kMinR},
};

std::optional<PointOp> unary_op(std::string_view name) {
  for (const NamedOp& u : kUnaryOps)
    if (u.name == name) return u.op;
  return std::nullopt;
}

// One chain step `op` with params p0/p1 (activation_params order). Null: an op the kernel does not know.
Result<std::optional<PointStep>> chain_step(std::string_view op, float p0, float p1, DataType dtype) {
  const bool reversed = op.size() > 2 && op.ends_with(":r");
  const std::string_view base = reversed ? op.substr(0, op.size() - 2) : op;
  for (const BinaryStep& b : kBinarySteps)
    if (b.name == base) return std::optional(PointStep{reversed ? b.reversed : b.op, round_to_dtype(dtype, p0), 0.f});
  if (reversed) return Status::invalid_model(fmt::format("op '{}' is not a binary op", op));
  if (op == "Clip")  // ±inf (absent bound) stays ±inf
    return std::optional(PointStep{PointOp::kClip, round_to_dtype(dtype, p0), round_to_dtype(dtype, p1)});
  if (op == "Celu" && p0 == 0.0f) return Status::invalid_model("Celu's alpha must be non-zero (it divides by it)");
  std::optional<PointOp> u = unary_op(op);
  if (!u) return std::optional<PointStep>();
  return std::optional(PointStep{*u, p0, p1});
}

bool float_dtype(DataType t) { return t == DataType::kF32 || t == DataType::kF16; }

class PointwiseKernel final : public CudaKernel {
 public:
  PointwiseKernel(const Node& node, launch::PointChain chain, std::shared_ptr<const ConstantInputs> constants,
                  std::string tactic)
      : node_(node.describe()),
        type_(*elem_type(input_dtype(node, 0))),
        chain_(chain),
        constants_(std::move(constants)),
        tactic_(std::move(tactic)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty() || input_dims[0] != output_dims[0])
      return named(node_, Status::shape_mismatch("the output must have the input's shape"));
    const int64_t n = element_count(input_dims[0]);
    return make_prepared(node_, [n, type = type_, chain = chain_, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> out) -> Status {
      KILN_CUDA_TRY(launch::launch_pointwise(type, constants->get(in, 0), out[0], n, chain, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return tactic_; }

 private:
  std::string node_;
  launch::ElemType type_;
  launch::PointChain chain_;
  std::shared_ptr<const ConstantInputs> constants_;
  std::string tactic_;
};

// Input 0 and output 0 of one float dtype; the other inputs (Clip's bounds) are read at creation.
bool pointwise_io(const Node& node) {
  const DataType t = input_dtype(node, 0);
  return float_dtype(t) && output_dtype(node, 0) == t && node.outputs.size() == 1;
}

// Clip's bound i (1 = min, 2 = max) as the reference reads it: an attribute before opset 11, an optional
// constant scalar input after. Null when the input is not a constant (the kernel needs it at creation).
Result<std::optional<float>> clip_bound(const Node& node, size_t i, float absent) {
  const DataType dtype = input_dtype(node, 0);
  const char* name = i == 1 ? "min" : "max";
  if (node.opset < 11) return std::optional(node.has_attr(name) ? round_to_dtype(dtype, node.attr_float(name)) : absent);
  if (!node.has_input(i)) return std::optional(absent);
  const Value* v = node.inputs[i];
  if (!v->is_constant()) return std::optional<float>();
  if (v->constant->dtype() != dtype)
    return Status::invalid_model(fmt::format("input '{}' is {}, but the data is {}; they must match", name,
                                             v->constant->type_string(), dtype_name(dtype)));
  if (v->constant->size() != 1)
    return Status::invalid_model(
        fmt::format("input '{}' must be a scalar (one element), got {}", name, v->constant->type_string()));
  return std::optional(static_cast<float>(v->constant->element_as_double(0)));
}

}  // namespace

KernelResult make_unary_kernel(const Node& node, const KernelOptions&) {
  if (!pointwise_io(node)) return no_kernel();
  const std::string& op = node.op_type;
  PointStep step{PointOp::kRelu, 0.f, 0.f};
  if (op == "Clip") {
    KILN_ASSIGN_OR_RETURN(std::optional<float> lo, clip_bound(node, 1, -kInf));
    KILN_ASSIGN_OR_RETURN(std::optional<float> hi, clip_bound(node, 2, kInf));
    if (!lo || !hi) return no_kernel();
    step = {PointOp::kClip, *lo, *hi};
  } else {
    if (node.inputs.size() != 1) return no_kernel();
    // The reference's attribute defaults, in activation_params order.
    float p0 = 0.f, p1 = 0.f;
    if (op == "LeakyRelu") p0 = node.attr_float("alpha", 0.01f);
    else if (op == "Elu" || op == "Celu" || op == "ThresholdedRelu") p0 = node.attr_float("alpha", 1.0f);
    else if (op == "HardSigmoid") p0 = node.attr_float("alpha", 0.2f), p1 = node.attr_float("beta", 0.5f);
    else if (op == "Selu")
      p0 = node.attr_float("alpha", 1.67326319217681884765625f), p1 = node.attr_float("gamma", 1.05070102519989013671875f);
    else if (op == "Shrink") p0 = node.attr_float("bias", 0.0f), p1 = node.attr_float("lambd", 0.5f);
    if (op == "Celu" && p0 == 0.f) return Status::invalid_model("attribute 'alpha' must be non-zero (Celu divides by it)");
    std::optional<PointOp> u = unary_op(op);
    if (!u || !node.domain.empty()) return no_kernel();
    step = {*u, p0, p1};
  }
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  launch::PointChain chain{};
  chain.count = 1;
  chain.steps[0] = step;
  return std::unique_ptr<CudaKernel>(std::make_unique<PointwiseKernel>(node, chain, std::move(constants), "cuda:pointwise"));
}

KernelResult make_chain_kernel(const Node& node, const KernelOptions&) {
  if (!pointwise_io(node) || node.inputs.size() != 1) return no_kernel();
  const std::vector<std::string> ops = node.attr_strings("ops");
  const std::vector<float> params = node.attr_floats("params");
  if (ops.empty() || params.size() != 2 * ops.size())
    return Status::invalid_model(fmt::format("{} ops need {} params, got {}", ops.size(), 2 * ops.size(), params.size()));
  if (ops.size() > static_cast<size_t>(launch::kMaxChainSteps)) return no_kernel();
  launch::PointChain chain{};
  chain.count = static_cast<int32_t>(ops.size());
  for (size_t k = 0; k < ops.size(); ++k) {
    KILN_ASSIGN_OR_RETURN(std::optional<PointStep> step,
                          chain_step(ops[k], params[2 * k], params[2 * k + 1], input_dtype(node, 0)));
    if (!step) return no_kernel();
    chain.steps[k] = *step;
  }
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<PointwiseKernel>(node, chain, std::move(constants), "cuda:chain"));
}

}  // namespace kiln::cuda
