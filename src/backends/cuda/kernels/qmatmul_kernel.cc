// kiln.QMatMul (src/ir/ops/qfused_ops.cc) on qmatmul.cu: a [..., M, K] u8 / i8 times a constant b [K, N]
// u8 / i8, int32 accumulation, + bias, requantized to y (u8 / i8) with the fused activation as a clamp.
//
// Everything constant is folded at kernel creation so the kernel does one dp4a product and a short epilogue:
// b is packed to [n_padded][k_padded] int8 (u8 shifted by -128, zero padded), and with a' = a - 128·[a is u8],
// b' likewise and their zero points shifted alike,
//   Σ_k (a - a_zp)(b - b_zp[n]) + bias[n]
//     = Σ_k a'·b' - b_zp'[n]·Σ_k a' + (bias[n] - a_zp'·Σ_k b'[k, n] + K·a_zp'·b_zp'[n])      (mod 2^32)
// the last term being col_offset[n]; the row sums Σ_k a' are computed only when some b_zp' is nonzero.
// The multiplier is a_scale · b_scale[n] / y_scale in double, rounded to float; the kernel's product is
// float32 where the reference's is double, so near-ties may round one step apart (tests allow 1 step).
//
// Null (no kernel) when a is constant or any other input is not (all are in kiln's graphs); an error for
// a malformed node (the reference's checks).
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/kernels/quant_util.h"

namespace kiln::cuda {

namespace {

// Device copies of what the kernel reads besides a.
struct QMatMulConstants {
  DeviceBuffer b_packed;        // int8 [n_padded][k_padded]
  DeviceBuffer col_offset;      // int32 [N]
  DeviceBuffer col_zero_point;  // int32 [N]: b_zp'
  DeviceBuffer multiplier;      // float [N]
};

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

class QMatMulKernel final : public CudaKernel {
 public:
  QMatMulKernel(const Node& node, launch::ElemType y, launch::QMatMulGeometry g,
                std::shared_ptr<const QMatMulConstants> constants)
      : node_(node.describe()), y_(y), g_(g), constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& a = input_dims[0];
    if (a.empty() || a.back() != g_.k)
      return named(node_, Status::shape_mismatch(
                              fmt::format("a must be [..., K] with K = {} (b's rows), got {}", g_.k, dims_to_string(a))));
    Dims expected(a.begin(), a.end() - 1);
    expected.push_back(g_.n);
    if (output_dims[0] != expected)
      return named(node_, Status::shape_mismatch(fmt::format("the output is {}, but the output value is {}",
                                                             dims_to_string(expected), dims_to_string(output_dims[0]))));
    launch::QMatMulGeometry g = g_;
    g.m = element_count(Dims(a.begin(), a.end() - 1));
    return make_prepared(node_, [g, y = y_, c = constants_](const LaunchContext& ctx, std::span<void* const> in,
                                                            std::span<void* const> out) -> Status {
      KILN_CUDA_TRY(launch::launch_qmatmul(y, in[0], c->b_packed.get(), static_cast<const int32_t*>(c->col_offset.get()),
                                           static_cast<const int32_t*>(c->col_zero_point.get()),
                                           static_cast<const float*>(c->multiplier.get()), out[0], g, ctx.stream));
      return {};
    });
  }
  std::string tactic() const override { return "cuda:qmatmul_dp4a"; }

 private:
  std::string node_;
  launch::ElemType y_;
  launch::QMatMulGeometry g_;
  std::shared_ptr<const QMatMulConstants> constants_;
};

Status check_scalar(const Tensor& t, const char* name) {
  if (t.size() == 1) return {};
  return Status::invalid_model(fmt::format("{} must be a scalar (per tensor), got {}", name, t.type_string()));
}

Status check_per_column(const Tensor& t, int64_t n, const char* name) {
  if (t.size() == 1 || (t.rank() == 1 && t.dim(0) == n)) return {};
  return Status::invalid_model(fmt::format("{} must be a scalar or have {} elements, got {}", name, n, t.type_string()));
}

Status check_scale(const Tensor& t, const char* name) {
  if (is_float(t.dtype())) return {};
  return Status::invalid_model(fmt::format("{} must be a float tensor, got {}", name, t.type_string()));
}

}  // namespace

KernelResult make_qmatmul_kernel(const Node& node, const KernelOptions&) {
  for (size_t i = 0; i < 8; ++i)
    if (!node.has_input(i)) return Status::invalid_model(fmt::format("input {} is missing (QMatMul needs 8)", i));
  if (node.outputs.size() != 1 || !node.has_output(0)) return no_kernel();
  if (node.inputs[0]->is_constant()) return no_kernel();
  for (size_t i = 1; i < node.inputs.size(); ++i)
    if (node.has_input(i) && !node.inputs[i]->is_constant()) return no_kernel();
  const DataType a_type = input_dtype(node, 0);
  const Tensor& a_scale = *node.inputs[1]->constant;
  const Tensor& a_zp = *node.inputs[2]->constant;
  const Tensor& b = *node.inputs[3]->constant;
  const Tensor& b_scale = *node.inputs[4]->constant;
  const Tensor& b_zp = *node.inputs[5]->constant;
  const Tensor& y_scale = *node.inputs[6]->constant;
  const Tensor& y_zp = *node.inputs[7]->constant;
  const Tensor* bias = node.has_input(8) ? &*node.inputs[8]->constant : nullptr;

  if (!is_8bit_integer(a_type) || !is_8bit_integer(b.dtype()))
    return Status::invalid_model(fmt::format("a and b must be u8 or i8, got {} and {}", dtype_name(a_type), b.type_string()));
  if (b.rank() != 2) return Status::invalid_model(fmt::format("b must be a 2-D weight [K, N], got {}", b.type_string()));
  const int64_t K = b.dim(0), N = b.dim(1);
  if (K > INT32_MAX - launch::kQMatMulTileK || N > INT32_MAX - launch::kQMatMulTileN)
    return Status::unsupported(fmt::format("b {} is too large for the int32 kernel geometry", b.type_string()));
  KILN_RETURN_IF_ERROR(check_scalar(a_scale, "a_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(a_zp, "a_zero_point"));
  KILN_RETURN_IF_ERROR(check_per_column(b_scale, N, "b_scale"));
  KILN_RETURN_IF_ERROR(check_per_column(b_zp, N, "b_zero_point"));
  KILN_RETURN_IF_ERROR(check_scalar(y_scale, "y_scale"));
  KILN_RETURN_IF_ERROR(check_scalar(y_zp, "y_zero_point"));
  for (const auto& [t, name] : {std::pair{&a_scale, "a_scale"}, std::pair{&b_scale, "b_scale"}, std::pair{&y_scale, "y_scale"}})
    KILN_RETURN_IF_ERROR(check_scale(*t, name));
  if (a_zp.dtype() != a_type || b_zp.dtype() != b.dtype())
    return Status::invalid_model(fmt::format("the zero points must have their operand's dtype: a {} with {}, b {} with {}",
                                             dtype_name(a_type), a_zp.type_string(), b.type_string(), b_zp.type_string()));
  if (bias && (bias->dtype() != DataType::kI32 || bias->size() != N))
    return Status::invalid_model(fmt::format("bias must be i32 with {} elements, got {}", N, bias->type_string()));
  const DataType y_type = y_zp.dtype();
  if (output_dtype(node, 0) != y_type)
    return Status::invalid_model(fmt::format("the output is {}, expected y_zero_point's dtype {}",
                                             dtype_name(output_dtype(node, 0)), dtype_name(y_type)));
  const double ys = y_scale.element_as_double(0);
  const int64_t yz = y_zp.element_as_int64(0);
  KILN_ASSIGN_OR_RETURN(QuantRange range, quantized_output_range(node, y_type, ys, yz));

  // u8 operands shifted onto i8 (dp4a multiplies signed bytes): a' = a - 128, b' = b - 128, zero points alike.
  const int32_t a_shift = a_type == DataType::kU8 ? 128 : 0, b_shift = b.dtype() == DataType::kU8 ? 128 : 0;
  const uint32_t za = static_cast<uint32_t>(a_zp.element_as_int64(0) - a_shift);
  launch::QMatMulGeometry g{};
  g.k = static_cast<int32_t>(K);
  g.n = static_cast<int32_t>(N);
  g.k_padded = static_cast<int32_t>(round_up(K, launch::kQMatMulTileK));
  g.a_flip = a_shift ? 0x80 : 0;
  g.y_zero_point = static_cast<int32_t>(yz);
  g.y_lo = range.lo;
  g.y_hi = range.hi;
  const int64_t n_padded = round_up(N, launch::kQMatMulTileN);
  std::vector<int8_t> packed(static_cast<size_t>(n_padded * g.k_padded), 0);
  std::vector<int32_t> col_offset(static_cast<size_t>(N)), col_zp(static_cast<size_t>(N));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> bv, b.to_int64_vector());
  for (int64_t n = 0; n < N; ++n) {
    const int64_t zb = b_zp.element_as_int64(b_zp.size() == 1 ? 0 : n) - b_shift;
    uint32_t col_sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t v = bv[static_cast<size_t>(k * N + n)] - b_shift;
      packed[static_cast<size_t>(n * g.k_padded + k)] = static_cast<int8_t>(v);
      col_sum += static_cast<uint32_t>(v);
    }
    // uint32 throughout: the accumulator's int32 wrap-around, as the reference's.
    uint32_t offset = bias ? static_cast<uint32_t>(bias->data<int32_t>()[n]) : 0u;
    offset -= za * col_sum;
    offset += static_cast<uint32_t>(K) * za * static_cast<uint32_t>(zb);
    col_offset[static_cast<size_t>(n)] = static_cast<int32_t>(offset);
    col_zp[static_cast<size_t>(n)] = static_cast<int32_t>(zb);
    if (zb != 0) g.row_sums = true;
  }
  const std::vector<float> mult = requant_multipliers(a_scale.element_as_double(0), b_scale, ys, N);

  auto c = std::make_shared<QMatMulConstants>();
  KILN_ASSIGN_OR_RETURN(c->b_packed, DeviceBuffer::upload(packed.data(), packed.size()));
  KILN_ASSIGN_OR_RETURN(c->col_offset, DeviceBuffer::upload(col_offset.data(), col_offset.size() * sizeof(int32_t)));
  KILN_ASSIGN_OR_RETURN(c->col_zero_point, DeviceBuffer::upload(col_zp.data(), col_zp.size() * sizeof(int32_t)));
  KILN_ASSIGN_OR_RETURN(c->multiplier, DeviceBuffer::upload(mult.data(), mult.size() * sizeof(float)));
  return std::unique_ptr<CudaKernel>(std::make_unique<QMatMulKernel>(node, *elem_type(y_type), g, std::move(c)));
}

}  // namespace kiln::cuda
