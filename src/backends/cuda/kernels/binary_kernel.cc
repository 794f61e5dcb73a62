// Add, Sub, Mul, Div, Max, Min (two inputs) and Pow with numpy broadcasting on binary.cu; f32 and f16 (Pow's
// exponent may also be i32 / i64 / the other float type). Constant operands are uploaded at creation.
// Before opset 7, B broadcasts onto A only with broadcast=1, aligned at `axis` (as the reference does).
#include <string_view>

#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

namespace {

using launch::BinaryOp;

std::optional<BinaryOp> binary_op(std::string_view name) {
  if (name == "Add" || name == "Sum") return BinaryOp::kAdd;  // Sum of two inputs (more: not here)
  if (name == "Sub") return BinaryOp::kSub;
  if (name == "Mul") return BinaryOp::kMul;
  if (name == "Div") return BinaryOp::kDiv;
  if (name == "Max") return BinaryOp::kMax;
  if (name == "Min") return BinaryOp::kMin;
  if (name == "Pow") return BinaryOp::kPow;
  return std::nullopt;
}

class BinaryKernel final : public CudaKernel {
 public:
  BinaryKernel(const Node& node, BinaryOp op, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        op_(op),
        a_type_(*elem_type(input_dtype(node, 0))),
        b_type_(*elem_type(input_dtype(node, 1))),
        // Max/Min are variadic folds that always broadcast; the others had their own rule before opset 7.
        legacy_(node.opset < 7 && op != BinaryOp::kMax && op != BinaryOp::kMin),
        legacy_broadcast_(node.attr_int("broadcast", 0) != 0),
        legacy_axis_(node.has_attr("axis") ? std::optional(node.attr_int("axis")) : std::nullopt),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.size() != 2 || output_dims.empty())
      return named(node_, Status::internal("prepare needs two input shapes and one output shape"));
    const Dims& a = input_dims[0];
    Dims b = input_dims[1];
    Dims out;
    if (legacy_) {
      Result<Dims> padded = legacy_b_dims(a, b);
      if (!padded.ok()) return named(node_, padded.status());
      b = *padded;
      out = a;
    } else {
      Result<Dims> bd = broadcast_dims(a, b);
      if (!bd.ok()) return named(node_, bd.status());
      out = *bd;
    }
    if (out != output_dims[0])
      return named(node_, Status::shape_mismatch(fmt::format("inputs {} and {} give {}, but the output is {}",
                                                             dims_to_string(a), dims_to_string(input_dims[1]),
                                                             dims_to_string(out), dims_to_string(output_dims[0]))));
    Result<launch::BroadcastGeometry> g = broadcast_geometry(a, b, out);
    if (!g.ok()) return named(node_, g.status());
    return make_prepared(node_, [op = op_, ta = a_type_, tb = b_type_, g = *g, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> o) -> Status {
      KILN_CUDA_TRY(launch::launch_binary(op, ta, tb, constants->get(in, 0), constants->get(in, 1), o[0], g, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:binary"; }

 private:
  // B's dims aligned onto A before opset 7 (reference: binary_dims in elementwise_binary.cc).
  Result<Dims> legacy_b_dims(const Dims& a, const Dims& b) const {
    if (!legacy_broadcast_) {
      if (a != b)
        return Status::shape_mismatch(fmt::format("inputs {} and {} differ and broadcast=0", dims_to_string(a),
                                                  dims_to_string(b)));
      return b;
    }
    const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
    int64_t axis = legacy_axis_ ? *legacy_axis_ : ra - rb;
    if (axis < 0) axis += ra;
    if (axis < 0 || axis + rb > ra)
      return Status::shape_mismatch(fmt::format("cannot broadcast {} onto {} at axis {}", dims_to_string(b),
                                                dims_to_string(a), axis));
    Dims padded(static_cast<size_t>(ra), 1);
    for (int64_t i = 0; i < rb; ++i) padded[static_cast<size_t>(axis + i)] = b[static_cast<size_t>(i)];
    for (int64_t i = 0; i < ra; ++i)
      if (padded[i] != 1 && padded[i] != a[i])
        return Status::shape_mismatch(fmt::format("cannot broadcast {} onto {} at axis {}", dims_to_string(b),
                                                  dims_to_string(a), axis));
    return padded;
  }

  std::string node_;
  BinaryOp op_;
  launch::ElemType a_type_, b_type_;
  bool legacy_, legacy_broadcast_;
  std::optional<int64_t> legacy_axis_;
  std::shared_ptr<const ConstantInputs> constants_;
};

}  // namespace

KernelResult make_binary_kernel(const Node& node, const KernelOptions&) {
  std::optional<BinaryOp> op = binary_op(node.op_type);
  if (!op || !node.domain.empty()) return no_kernel();
  // Max/Min with other than two inputs (variadic) are left to other backends.
  if (node.inputs.size() != 2 || !node.has_input(0) || !node.has_input(1) || node.outputs.size() != 1) return no_kernel();
  const DataType ta = input_dtype(node, 0), tb = input_dtype(node, 1);
  if (ta != DataType::kF32 && ta != DataType::kF16) return no_kernel();
  if (output_dtype(node, 0) != ta) return no_kernel();
  if (*op == BinaryOp::kPow) {
    if (tb != DataType::kF32 && tb != DataType::kF16 && tb != DataType::kI32 && tb != DataType::kI64) return no_kernel();
  } else if (tb != ta) {
    return Status::invalid_model(fmt::format("input 1 is {}, but input 0 is {}; they must match", dtype_name(tb),
                                             dtype_name(ta)));
  }
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<BinaryKernel>(node, *op, std::move(constants)));
}

}  // namespace kiln::cuda
