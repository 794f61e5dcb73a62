// kiln.QConv's pointwise convolutions (1x1, stride 1, no padding) as cuBLASLt int8 products on the tensor
// cores, a tactic that competes with cuDNN's int8 engines and kiln's own GEMMs (make_qconv_kernel). With X
// [rows, C] and W [K, C] (NHWC / KRSC), Y^T = W X^T is cuBLASLt's column-major D (K x rows) = op(A) B with A = W
// transposed and B = X: the "TN" form its int8 kernels take with plain (non-COL32) layouts. The requantization
// is cuBLASLt's own epilogue: a per-output-channel alpha vector (ALPHA_DEVICE_VECTOR_BETA_HOST) for
// x_scale * w_scale[k] / y_scale, beta = z_scale / y_scale on the residual Z as C, the scaled bias (f32) and
// Relu in the epilogue, then int8 saturation. So only output ranges that Relu and saturation give are
// offered: [-128, 127] (no activation) and [0, 127] (Relu); a Clip to other bounds keeps the other kernels.
//
// Why it was tried: ResNet-50's 1x1s are memory-bound at batch 128, kiln's own int8 GEMM moves ~2 TB/s there and
// cuBLASLt's f16 products of the same layers with the same epilogue ~3.8 TB/s (H200). Measured (session 9): it
// runs correctly but cuBLASLt offers 1-2 algorithms and none wins a ResNet-50 layer at batch 128 (layer1's
// residual expansion 0.210 ms against 0.118 for cuda:int8_pointwise); the build's timing leaves it out there.
#include <fmt/format.h>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cublaslt_util.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/igemm_shapes.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/kernels/quant_util.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

constexpr const char* kTactic = "cublaslt:";  // the ids are cublaslt_tactic_id's
// kCublasLtAlignment (16): X's and Y's rows (C and K bytes) start 16-byte aligned, so C, K % 16 == 0.

struct QGemmNode {
  std::string name;
  ConvGeometry geo;
  int64_t k = 0, c = 0;
  bool has_z = false;
  bool relu = false;  // output range [0, 127]; else [-128, 127]
  float z_mult = 0.0f;
};

struct QGemmConstants {
  DeviceBuffer w;     // i8 [K, C]
  DeviceBuffer mult;  // f32 [K]: cuBLASLt's alpha vector
  DeviceBuffer bias;  // f32 [K]: B * mult (zeros without B)
};

struct QGemmDescs {
  MatmulDesc op;
  MatrixLayout w, x, y;  // A, B, and C / D
};

Result<QGemmDescs> make_qgemm_descs(const QGemmNode& n, int64_t rows, const void* bias) {
  QGemmDescs d;
  KILN_CUBLAS_TRY(cublasLtMatmulDescCreate(&d.op.d, CUBLAS_COMPUTE_32I, CUDA_R_32F));
  const int32_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)));
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof(keep)));
  const int32_t pointer_mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST;
  KILN_CUBLAS_TRY(
      cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_POINTER_MODE, &pointer_mode, sizeof(pointer_mode)));
  const uint32_t epilogue = n.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  const int32_t bias_type = CUDA_R_32F;
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  KILN_CUBLAS_TRY(
      cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  const uint64_t k = static_cast<uint64_t>(n.k), c = static_cast<uint64_t>(n.c), r = static_cast<uint64_t>(rows);
  // W [K, C] row-major is C x K column-major (ld C), used transposed; X [rows, C] is C x rows (ld C); Y [rows, K]
  // is K x rows (ld K), and the residual Z likewise.
  KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.w.d, CUDA_R_8I, c, k, n.c));
  KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.x.d, CUDA_R_8I, c, r, n.c));
  KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.y.d, CUDA_R_8I, k, r, n.k));
  return d;
}

class PreparedQGemm : public PreparedNode {
 public:
  PreparedQGemm(const QGemmNode& node, std::shared_ptr<const QGemmConstants> constants, QGemmDescs descs,
                const cublasLtMatmulAlgo_t& algo, size_t workspace)
      : node_(node), constants_(std::move(constants)), descs_(std::move(descs)), algo_(algo), workspace_(workspace) {}

  size_t workspace_bytes() const override { return workspace_; }

  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    const void* x = inputs.size() > kX ? inputs[kX] : nullptr;
    const void* z = node_.has_z && inputs.size() > kZ ? inputs[kZ] : nullptr;
    void* y = outputs.empty() ? nullptr : outputs[0];
    if (!x || !y || (node_.has_z && !z)) return named(node_.name, Status::internal("a data pointer is null"));
    KILN_RETURN_IF_ERROR(named(node_.name, check_aligned_16(kTactic, {x, y, z})));
    if (workspace_ > 0 && (!ctx.workspace || ctx.workspace_bytes < workspace_))
      return named(node_.name, Status::internal(fmt::format("the context's workspace ({} bytes) is smaller than the "
                                                            "{} bytes this product needs",
                                                            ctx.workspace_bytes, workspace_)));
    const float beta = node_.has_z ? node_.z_mult : 0.0f;
    Status s = cublas_status(cublasLtMatmul(ctx.cublaslt, descs_.op.d, constants_->mult.get(), constants_->w.get(),
                                            descs_.w.d, x, descs_.x.d, &beta, node_.has_z ? z : y, descs_.y.d, y,
                                            descs_.y.d, &algo_, workspace_ ? ctx.workspace : nullptr, workspace_,
                                            ctx.stream),
                             "cublasLtMatmul");
    return named(node_.name, s);
  }

 private:
  QGemmNode node_;
  std::shared_ptr<const QGemmConstants> constants_;
  QGemmDescs descs_;
  cublasLtMatmulAlgo_t algo_{};
  size_t workspace_ = 0;
};

class CublasLtQConvKernel : public CudaKernel {
 public:
  CublasLtQConvKernel(QGemmNode node, std::shared_ptr<const QGemmConstants> constants, std::string tactic_id)
      : node_(std::move(node)),
        constants_(std::move(constants)),
        tactic_id_(std::move(tactic_id)),
        tactic_(parse_cublaslt_tactic(tactic_id_)) {}

  std::string tactic() const override { return tactic_ ? tactic_id_ : kCublasLtHeuristicTactic; }

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(int64_t rows, rows_at(input_dims, output_dims));
    auto descs = make_qgemm_descs(node_, rows, constants_->bias.get());
    if (!descs.ok()) return named(node_.name, descs.status());
    QGemmDescs& d = *descs;
    auto chosen = cublaslt_choose_algo(ctx.cublaslt, d.op.d, d.w.d, d.x.d, d.y.d, tactic_, ctx.workspace_limit);
    if (!chosen.ok()) return named(node_.name, chosen.status());
    if (!*chosen)
      return named(node_.name, Status::unsupported(fmt::format("cuBLASLt offers no int8 algorithm for {} rows x {} "
                                                               "channels -> {}",
                                                               rows, node_.c, node_.k)));
    return std::unique_ptr<PreparedNode>(
        new PreparedQGemm(node_, constants_, std::move(d), (*chosen)->algo, (*chosen)->workspace));
  }

  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(int64_t rows, rows_at(input_dims, output_dims));
    if (rows == 0) return std::vector<std::string>{};
    auto descs = make_qgemm_descs(node_, rows, constants_->bias.get());
    if (!descs.ok()) return named(node_.name, descs.status());
    const QGemmDescs& d = *descs;
    auto algos = cublaslt_heuristic_algos(ctx.cublaslt, d.op.d, d.w.d, d.x.d, d.y.d, ctx.workspace_limit);
    if (!algos.ok()) return named(node_.name, algos.status());
    return cublaslt_candidate_ids(*algos);
  }

 private:
  // The product's rows (n * h * w) at these shapes; errors say what was expected.
  Result<int64_t> rows_at(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    KILN_ASSIGN_OR_RETURN(NhwcConvShape shape,
                          nhwc_conv_shape(node_.name, kTactic, node_.geo, input_dims, output_dims));
    if (node_.has_z && (input_dims.size() <= kZ || input_dims[kZ] != output_dims[0]))
      return named(node_.name, Status::unsupported(fmt::format("{}: Z must have Y's shape {}", kTactic,
                                                               dims_to_string(output_dims[0]))));
    return shape.n * shape.h * shape.w;
  }

  QGemmNode node_;
  std::shared_ptr<const QGemmConstants> constants_;
  std::string tactic_id_;
  std::optional<cublasLtMatmulAlgo_t> tactic_;
};


}  // namespace

KernelResult make_cublaslt_qconv_kernel(const Node& node, const KernelOptions& options) {
  KILN_ASSIGN_OR_RETURN(std::optional<SymmetricQConv> q, read_symmetric_qconv(node));
  if (!q || node.attr_int("group", 1) != 1) return no_kernel();
  const Tensor& w = *q->w;
  if (w.rank() != 4 || w.dim(2) != 1 || w.dim(3) != 1 || w.dim(0) % 16 != 0 || w.dim(1) % 16 != 0) return no_kernel();
  if (!unit_stride_unpadded(node)) return no_kernel();
  // The output ranges cuBLASLt's epilogue gives: saturation alone, or Relu then saturation.
  if (q->hi != 127.0f || (q->lo != -128.0f && q->lo != 0.0f)) return no_kernel();
  KILN_ASSIGN_OR_RETURN(bool nhwc, layout::is_nhwc(node));
  if (!nhwc) return no_kernel();
  auto geo = read_conv_geometry(node, w, /*nhwc=*/true);
  if (!geo.ok()) return no_kernel();  // cuDNN's kernel reports the invalid model

  QGemmNode n;
  n.name = node.describe();
  n.geo = std::move(*geo);
  n.k = w.dim(0);
  n.c = w.dim(1);
  n.has_z = q->z != nullptr;
  n.relu = q->lo == 0.0f;
  n.z_mult = q->z_mult;
  auto constants = std::make_shared<QGemmConstants>();
  KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(w.raw(), w.byte_size()));  // [K, C, 1, 1] is [K, C]
  KILN_ASSIGN_OR_RETURN(constants->mult, DeviceBuffer::upload(q->mult.data(), q->mult.size() * sizeof(float)));
  KILN_ASSIGN_OR_RETURN(constants->bias,
                        DeviceBuffer::upload(q->scaled_bias.data(), q->scaled_bias.size() * sizeof(float)));
  std::string tactic_id = options.tactic.empty() ? node.attr_string("tactic", "") : options.tactic;
  return std::unique_ptr<CudaKernel>(new CublasLtQConvKernel(std::move(n), std::move(constants), std::move(tactic_id)));
}

}  // namespace kiln::cuda
