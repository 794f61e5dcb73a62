#include "backends/cuda/cublaslt_gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "backends/cuda/cublaslt_util.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/fused_activation.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "core/float16.h"

namespace kiln::cuda {

namespace {


enum class CMode { kNone, kBias, kFull };

// What the kernel knows at creation.
struct GemmNode {
  std::string name;
  DataType dtype = DataType::kF32;
  cudaDataType_t type = CUDA_R_32F;
  bool matmul = false;  // MatMul / FusedMatMul: A flattened to [M, K], B [K, N]
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  CMode c_mode = CMode::kNone;
  float beta = 0.0f;  // for kFull
  bool a_constant = false, b_constant = false, c_constant = false;
  FusedActivation act;
  bool relu_in_cublaslt = false;
  bool allow_tf32 = false;
  bool bias_with_c = false;  // kFull C (a convolution's residual) and a bias epilogue together
};

struct GemmConstants {
  DeviceBuffer a, b, bias, c;
};

// The problem at one set of shapes.
struct GemmShapes {
  int64_t m = 0, n = 0, k = 0;
};

// The descriptors of one problem (cuBLASLt's view: D (N x M) = op(A_lt) (N x K) op(B_lt) (K x M), column-major).
struct GemmDescs {
  MatmulDesc op;
  MatrixLayout a, b, c;  // a: kiln's B, b: kiln's A, c: C and D
};

Result<GemmDescs> make_descs(const GemmNode& g, const GemmShapes& s, const void* bias) {
  GemmDescs d;
  const cublasComputeType_t compute =
      g.dtype == DataType::kF32 && g.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  KILN_CUBLAS_TRY(cublasLtMatmulDescCreate(&d.op.d, compute, CUDA_R_32F));
  const int32_t op_a = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;  // kiln's B is cuBLASLt's A
  const int32_t op_b = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const bool with_bias = g.c_mode == CMode::kBias || g.bias_with_c;
  if (with_bias) epilogue = g.relu_in_cublaslt ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (g.relu_in_cublaslt) epilogue = CUBLASLT_EPILOGUE_RELU;
  KILN_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  if (with_bias) {
    const int32_t bias_type = g.type;
    KILN_CUBLAS_TRY(
        cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    KILN_CUBLAS_TRY(
        cublasLtMatmulDescSetAttribute(d.op.d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
  }
  const uint64_t m = static_cast<uint64_t>(s.m), n = static_cast<uint64_t>(s.n), k = static_cast<uint64_t>(s.k);
  // kiln's B: [K, N] row-major is N x K column-major (ld N); transposed [N, K] is K x N (ld K), used with op T.
  if (g.trans_b) KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.a.d, g.type, k, n, static_cast<int64_t>(k)));
  else KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.a.d, g.type, n, k, static_cast<int64_t>(n)));
  // kiln's A: [M, K] row-major is K x M column-major (ld K); transposed [K, M] is M x K (ld M), op T.
  if (g.trans_a) KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.b.d, g.type, m, k, static_cast<int64_t>(m)));
  else KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.b.d, g.type, k, m, static_cast<int64_t>(k)));
  // Y [M, N] row-major is N x M column-major (ld N); C (when full) likewise.
  KILN_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&d.c.d, g.type, n, m, static_cast<int64_t>(n)));
  return d;
}

// f16 products: split-K partial sums in f32 only, not in the f16 output.
bool f32_split_k_only(const GemmNode& g) { return g.dtype == DataType::kF16; }

class PreparedGemm : public PreparedNode {
 public:
  size_t workspace_bytes() const override { return workspace_; }

  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    if (empty_) return {};
    auto input = [&](size_t i) -> void* { return i < inputs.size() ? inputs[i] : nullptr; };
    const void* a = node_.a_constant ? constants_->a.get() : input(0);
    const void* b = node_.b_constant ? constants_->b.get() : input(1);
    void* y = outputs.empty() ? nullptr : outputs[0];
    const void* c = y;
    if (node_.c_mode == CMode::kFull) c = node_.c_constant ? constants_->c.get() : input(2);
    if (!a || !b || !c || !y) return Status::internal(fmt::format("{}: a data pointer is null", node_.name));
    for (const void* p : {a, b, c, static_cast<const void*>(y)})
      if (reinterpret_cast<uintptr_t>(p) % kCublasLtAlignment != 0)
        return Status::internal(
            fmt::format("{}: matrix at {} is not {}-byte aligned", node_.name, p, kCublasLtAlignment));
    if (workspace_ > 0 && (!ctx.workspace || ctx.workspace_bytes < workspace_))
      return Status::internal(fmt::format("{}: the context's workspace ({} bytes) is smaller than the {} bytes this "
                                          "product needs",
                                          node_.name, ctx.workspace_bytes, workspace_));
    const float beta = node_.c_mode == CMode::kFull ? node_.beta : 0.0f;
    // cuBLASLt's A is kiln's B and its B kiln's A (Y^T = B^T A^T).
    Status s = cublas_status(cublasLtMatmul(ctx.cublaslt, descs_.op.d, &node_.alpha, b, descs_.a.d, a, descs_.b.d,
                                            &beta, c, descs_.c.d, y, descs_.c.d, &algo_,
                                            workspace_ ? ctx.workspace : nullptr, workspace_, ctx.stream),
                             "cublasLtMatmul");
    if (!s.ok()) return s.with_context(node_.name);
    if (!node_.act.none() && !node_.relu_in_cublaslt) {
      EpilogueArgs args;
      args.y = y;
      args.count = shapes_.m * shapes_.n;
      args.channels = shapes_.n;
      args.inner = 1;
      args.dtype = node_.dtype == DataType::kF16 ? EpilogueDtype::kF16 : EpilogueDtype::kF32;
      args.act = node_.act.kind;
      args.p0 = node_.act.p0;
      args.p1 = node_.act.p1;
      Status e = cuda_status(launch_epilogue(args, ctx.stream), "launch_epilogue");
      if (!e.ok()) return e.with_context(node_.name);
    }
    return {};
  }

  static std::unique_ptr<PreparedGemm> make_empty() {
    auto p = std::unique_ptr<PreparedGemm>(new PreparedGemm());
    p->empty_ = true;
    return p;
  }
  static std::unique_ptr<PreparedGemm> make(const GemmNode& node, std::shared_ptr<const GemmConstants> constants,
                                            const GemmShapes& shapes, GemmDescs descs,
                                            const cublasLtMatmulAlgo_t& algo, size_t workspace) {
    auto p = std::unique_ptr<PreparedGemm>(new PreparedGemm());
    p->node_ = node;
    p->constants_ = std::move(constants);
    p->shapes_ = shapes;
    p->descs_ = std::move(descs);
    p->algo_ = algo;
    p->workspace_ = workspace;
    return p;
  }

 private:
  PreparedGemm() = default;

  bool empty_ = false;
  GemmNode node_;
  std::shared_ptr<const GemmConstants> constants_;
  GemmShapes shapes_;
  GemmDescs descs_;
  cublasLtMatmulAlgo_t algo_{};
  size_t workspace_ = 0;
};

class CublasLtGemmKernel : public CudaKernel {
 public:
  CublasLtGemmKernel(GemmNode node, std::shared_ptr<const GemmConstants> constants, Dims c_dims,
                     std::string tactic_id, std::optional<cublasLtMatmulAlgo_t> tactic)
      : node_(std::move(node)),
        constants_(std::move(constants)),
        c_dims_(std::move(c_dims)),
        tactic_id_(std::move(tactic_id)),
        tactic_(tactic) {}

  std::string tactic() const override { return tactic_ ? tactic_id_ : kCublasLtHeuristicTactic; }

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    auto r = prepare_gemm(ctx, input_dims, output_dims);
    if (!r.ok()) return r.status().with_context(node_.name);
    return std::unique_ptr<PreparedNode>(std::move(*r));
  }

  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    auto shapes = gemm_shapes(input_dims, output_dims);
    if (!shapes.ok()) return shapes.status().with_context(node_.name);
    if (shapes->m == 0 || shapes->n == 0) return std::vector<std::string>{};
    auto descs = make_descs(node_, *shapes, constants_->bias.get());
    if (!descs.ok()) return descs.status().with_context(node_.name);
    const GemmDescs& d = *descs;
    auto algos = cublaslt_heuristic_algos(ctx.cublaslt, d.op.d, d.a.d, d.b.d, d.c.d, ctx.workspace_limit,
                                          f32_split_k_only(node_));
    if (!algos.ok()) return algos.status().with_context(node_.name);
    return cublaslt_candidate_ids(*algos);
  }

 private:
  Result<GemmShapes> gemm_shapes(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    if (input_dims.size() < 2 || output_dims.empty()) return Status::internal("prepare needs the operand shapes");
    const Dims& ad = input_dims[0];
    const Dims& bd = input_dims[1];
    GemmShapes s;
    int64_t kb = 0;
    if (node_.matmul) {
      if (ad.empty() || bd.size() != 2)
        return Status::shape_mismatch(
            fmt::format("MatMul of A {} and B {}: B must be 2-D", dims_to_string(ad), dims_to_string(bd)));
      s.k = ad.back();
      s.m = element_count(Dims(ad.begin(), ad.end() - 1));
      kb = bd[0];
      s.n = bd[1];
    } else {
      if (ad.size() != 2 || bd.size() != 2)
        return Status::shape_mismatch(
            fmt::format("A {} and B {} must be 2-D", dims_to_string(ad), dims_to_string(bd)));
      s.m = node_.trans_a ? ad[1] : ad[0];
      s.k = node_.trans_a ? ad[0] : ad[1];
      kb = node_.trans_b ? bd[1] : bd[0];
      s.n = node_.trans_b ? bd[0] : bd[1];
    }
    if (kb != s.k)
      return Status::shape_mismatch(fmt::format("inner dimensions differ: A {} and B {}", dims_to_string(ad),
                                                dims_to_string(bd)));
    if (element_count(output_dims[0]) != s.m * s.n)
      return Status::shape_mismatch(fmt::format("Y is {}, expected {} x {} elements", dims_to_string(output_dims[0]),
                                                s.m, s.n));
    if (node_.c_mode == CMode::kBias && constants_->bias.bytes() != static_cast<size_t>(s.n) * dtype_size(node_.dtype))
      return Status::shape_mismatch(fmt::format("the bias has {} elements, the output {} columns",
                                                constants_->bias.bytes() / dtype_size(node_.dtype), s.n));
    if (node_.c_mode == CMode::kFull) {
      const Dims& cd = node_.c_constant ? c_dims_ : (input_dims.size() > 2 ? input_dims[2] : Dims{});
      const bool ok = node_.matmul ? cd == output_dims[0] : cd == Dims{s.m, s.n};
      if (!ok)
        return Status::unsupported(fmt::format("C {} must have the output's shape {} (no broadcasting)",
                                               dims_to_string(cd), dims_to_string(output_dims[0])));
    }
    if (s.k == 0 && s.m * s.n != 0) return Status::unsupported("a product with K = 0");
    return s;
  }

  Result<std::unique_ptr<PreparedGemm>> prepare_gemm(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const {
    KILN_ASSIGN_OR_RETURN(GemmShapes s, gemm_shapes(input_dims, output_dims));
    if (s.m == 0 || s.n == 0) return PreparedGemm::make_empty();
    KILN_ASSIGN_OR_RETURN(GemmDescs d, make_descs(node_, s, constants_->bias.get()));
    KILN_ASSIGN_OR_RETURN(std::optional<CublasLtAlgo> chosen,
                          cublaslt_choose_algo(ctx.cublaslt, d.op.d, d.a.d, d.b.d, d.c.d, tactic_, ctx.workspace_limit,
                                               f32_split_k_only(node_)));
    if (!chosen)
      return Status::unsupported(fmt::format("cuBLASLt offers no algorithm for {} x {} x {} ({})", s.m, s.n, s.k,
                                             dtype_name(node_.dtype)));
    return PreparedGemm::make(node_, constants_, s, std::move(d), chosen->algo, chosen->workspace);
  }

  GemmNode node_;
  std::shared_ptr<const GemmConstants> constants_;
  Dims c_dims_;  // a constant full C's dims
  std::string tactic_id_;
  std::optional<cublasLtMatmulAlgo_t> tactic_;
};

// `values` as a host tensor of `dtype` (f32 or f16).
Tensor vector_of(DataType dtype, const std::vector<float>& values) {
  Tensor t(dtype, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DataType::kF16) t.data<Float16>()[i] = Float16(values[i]);
    else t.data<float>()[i] = values[i];
  }
  return t;
}

// The extent of axis `axis` of a value's static type, or -1.
int64_t static_extent(const Value* v, size_t axis) {
  if (v->is_constant()) return axis < v->constant->dims().size() ? v->constant->dim(static_cast<int64_t>(axis)) : -1;
  const Shape& s = v->type.shape;
  if (!s.has_rank() || axis >= s.rank() || !s[axis].known()) return -1;
  return s[axis].value;
}

// Whether a (non-constant) value's static shape is the output's: same rank, and per axis the same known
// extent or the same symbol.
bool same_static_shape(const Value* v, const Value* out) {
  const Shape& a = v->type.shape;
  const Shape& b = out->type.shape;
  if (!a.has_rank() || !b.has_rank() || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    if (a[i].known() != b[i].known()) return false;
    if (a[i].known() ? a[i].value != b[i].value : (a[i].symbol.empty() || a[i].symbol != b[i].symbol)) return false;
  }
  return true;
}

size_t static_rank(const Value* v) {
  if (v->is_constant()) return v->constant->dims().size();
  return v->type.shape.has_rank() ? v->type.shape.rank() : 0;
}

char hex_digit(unsigned v) { return static_cast<char>(v < 10 ? '0' + v : 'a' + (v - 10)); }

// ---- A 1x1 channels-last convolution as a product -------------------------------------------------------

// kiln.FusedConv's inputs (X, W, B, Z) seen as the product's (A = X flattened to [M, C], B = W^T [C, K]
// constant, C = Z): shapes and pointers remapped around a CublasLtGemmKernel.
class RemappedPrepared : public PreparedNode {
 public:
  explicit RemappedPrepared(std::unique_ptr<PreparedNode> inner) : inner_(std::move(inner)) {}
  size_t workspace_bytes() const override { return inner_->workspace_bytes(); }
  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    void* const mapped[3] = {inputs.empty() ? nullptr : inputs[0], nullptr, inputs.size() > 3 ? inputs[3] : nullptr};
    return inner_->enqueue(ctx, mapped, outputs);
  }

 private:
  std::unique_ptr<PreparedNode> inner_;
};

class Conv1x1GemmKernel : public CudaKernel {
 public:
  Conv1x1GemmKernel(std::unique_ptr<CudaKernel> gemm, Dims b_dims) : gemm_(std::move(gemm)), b_dims_(std::move(b_dims)) {}
  std::string tactic() const override { return gemm_->tactic(); }
  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    KILN_ASSIGN_OR_RETURN(auto inner, gemm_->prepare(ctx, gemm_dims(input_dims), output_dims));
    return std::unique_ptr<PreparedNode>(new RemappedPrepared(std::move(inner)));
  }
  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    return gemm_->candidate_tactics(ctx, gemm_dims(input_dims), output_dims);
  }

 private:
  std::vector<Dims> gemm_dims(std::span<const Dims> conv) const {
    return {conv.empty() ? Dims{} : conv[0], b_dims_, conv.size() > 3 ? conv[3] : Dims{}};
  }
  std::unique_ptr<CudaKernel> gemm_;
  Dims b_dims_;
};

// g.type from g.dtype (f32 or f16, the products kiln runs on cuBLASLt); false for other dtypes.
bool set_cuda_type(GemmNode& g) {
  if (g.dtype == DataType::kF32) g.type = CUDA_R_32F;
  else if (g.dtype == DataType::kF16) g.type = CUDA_R_16F;
  else return false;
  return true;
}


}  // namespace

std::string cublaslt_tactic_id(const cublasLtMatmulAlgo_t& algo) {
  unsigned char bytes[sizeof(algo)];
  std::memcpy(bytes, &algo, sizeof(algo));
  std::string id = "cublaslt:";
  for (unsigned char b : bytes) {
    id += hex_digit(b >> 4);
    id += hex_digit(b & 0xf);
  }
  return id;
}

std::optional<cublasLtMatmulAlgo_t> parse_cublaslt_tactic(std::string_view id) {
  constexpr std::string_view kPrefix = "cublaslt:";
  if (!id.starts_with(kPrefix)) return std::nullopt;
  id.remove_prefix(kPrefix.size());
  if (id.size() != 2 * sizeof(cublasLtMatmulAlgo_t)) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  unsigned char bytes[sizeof(cublasLtMatmulAlgo_t)];
  for (size_t i = 0; i < sizeof(bytes); ++i) {
    int hi = nibble(id[2 * i]), lo = nibble(id[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  cublasLtMatmulAlgo_t algo;
  std::memcpy(&algo, bytes, sizeof(algo));
  return algo;
}

KernelResult make_conv1x1_gemm_kernel(const Node& node, const KernelOptions& options) {
  auto none = [] { return KernelResult(std::unique_ptr<CudaKernel>{}); };
  if (node.domain != "kiln" || node.op_type != "FusedConv" || node.attr_string("layout", "NCHW") != "NHWC") return none();
  const Value* x = input_value(node, 0);
  const Value* w = input_value(node, 1);
  const Value* b = input_value(node, 2);
  const Value* z = input_value(node, 3);
  if (!x || !w || !w->is_constant() || !node.has_output(0) || (b && !b->is_constant())) return none();
  const Tensor& wt = *w->constant;
  if (wt.rank() != 4 || wt.dim(2) != 1 || wt.dim(3) != 1 || node.attr_int("group", 1) != 1) return none();
  if (!unit_stride_unpadded(node)) return none();
  GemmNode g;
  g.name = node.describe();
  g.matmul = true;
  g.dtype = x->type.dtype;
  if (!set_cuda_type(g)) return none();
  if (wt.dtype() != g.dtype || node.outputs[0]->type.dtype != g.dtype || (b && b->type.dtype != g.dtype) ||
      (z && (z->type.dtype != g.dtype || z->is_constant())))
    return none();
  g.allow_tf32 = options.allow_tf32;
  g.b_constant = true;
  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act) return none();
  g.act = *act;
  g.relu_in_cublaslt = g.act.kind == EpilogueActivation::kRelu;

  auto constants = std::make_shared<GemmConstants>();
  const int64_t k = wt.dim(0), c = wt.dim(1);
  {
    // B = W^T: [C, K] row-major from W [K, C, 1, 1].
    Tensor bt(g.dtype, {c, k});
    const size_t es = dtype_size(g.dtype);
    const auto* src = static_cast<const unsigned char*>(wt.raw());
    auto* dst = static_cast<unsigned char*>(bt.raw());
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t ci = 0; ci < c; ++ci) std::memcpy(dst + (ci * k + ki) * es, src + (ki * c + ci) * es, es);
    KILN_ASSIGN_OR_RETURN(constants->b, DeviceBuffer::upload(bt.raw(), bt.byte_size()));
  }
  if (b) {
    const Tensor& bias = *b->constant;
    if (bias.size() != k) return Status::invalid_model(fmt::format("bias B is {}, expected [{}]", bias.type_string(), k));
    KILN_ASSIGN_OR_RETURN(constants->bias, DeviceBuffer::upload(bias.raw(), bias.byte_size()));
  }
  if (z) {
    g.c_mode = CMode::kFull;  // C = Z, beta 1; the bias (if any) in the epilogue
    g.beta = 1.0f;
    g.bias_with_c = b != nullptr;
  } else if (b) {
    g.c_mode = CMode::kBias;
  }
  std::string tactic_id = options.tactic.empty() ? node.attr_string("tactic", "") : options.tactic;
  std::optional<cublasLtMatmulAlgo_t> tactic = parse_cublaslt_tactic(tactic_id);
  auto gemm = std::unique_ptr<CudaKernel>(
      new CublasLtGemmKernel(std::move(g), std::move(constants), Dims{}, std::move(tactic_id), tactic));
  return std::unique_ptr<CudaKernel>(new Conv1x1GemmKernel(std::move(gemm), Dims{c, k}));
}

KernelResult make_gemm_kernel(const Node& node, const KernelOptions& options) {
  const bool gemm = (node.domain.empty() && node.op_type == "Gemm") || (node.domain == "kiln" && node.op_type == "FusedGemm");
  const bool matmul =
      (node.domain.empty() && node.op_type == "MatMul") || (node.domain == "kiln" && node.op_type == "FusedMatMul");
  if (!gemm && !matmul) return std::unique_ptr<CudaKernel>{};
  const Value* a = input_value(node, 0);
  const Value* b = input_value(node, 1);
  const Value* c = input_value(node, 2);
  if (!a || !b || !node.has_output(0)) return std::unique_ptr<CudaKernel>{};

  GemmNode g;
  g.name = node.describe();
  g.matmul = matmul;
  g.dtype = a->type.dtype;
  if (!set_cuda_type(g)) return std::unique_ptr<CudaKernel>{};
  if (b->type.dtype != g.dtype || node.outputs[0]->type.dtype != g.dtype || (c && c->type.dtype != g.dtype))
    return std::unique_ptr<CudaKernel>{};
  g.allow_tf32 = options.allow_tf32;
  g.a_constant = a->is_constant();
  g.b_constant = b->is_constant();

  int64_t n_extent = -1;  // N when known now
  float beta = 1.0f;
  if (gemm) {
    g.trans_a = node.attr_int("transA", 0) != 0;
    g.trans_b = node.attr_int("transB", 0) != 0;
    g.alpha = node.attr_float("alpha", 1.0f);
    beta = node.attr_float("beta", 1.0f);
    if ((a->is_constant() || a->type.shape.has_rank()) && static_rank(a) != 2) return std::unique_ptr<CudaKernel>{};
    if ((b->is_constant() || b->type.shape.has_rank()) && static_rank(b) != 2) return std::unique_ptr<CudaKernel>{};
    n_extent = static_extent(b, g.trans_b ? 0 : 1);
  } else {
    // MatMul: B a constant matrix (uploaded now); A of rank >= 1 flattened to [M, K].
    if (!b->is_constant() || b->constant->rank() != 2) return std::unique_ptr<CudaKernel>{};
    if (a->is_constant() ? a->constant->rank() < 1 : (a->type.shape.has_rank() && a->type.shape.rank() < 1))
      return std::unique_ptr<CudaKernel>{};
    n_extent = b->constant->dim(1);
  }

  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act) return std::unique_ptr<CudaKernel>{};
  g.act = *act;
  g.relu_in_cublaslt = g.act.kind == EpilogueActivation::kRelu;

  auto constants = std::make_shared<GemmConstants>();
  Dims c_dims;
  if (c && !(gemm && beta == 0.0f)) {
    const Tensor* ct = c->is_constant() ? &*c->constant : nullptr;
    const size_t out_rank = node.outputs[0]->type.shape.has_rank() ? node.outputs[0]->type.shape.rank() : 0;
    // A bias along the last axis: N elements on it and ones elsewhere, or a single element.
    bool bias_like = false;
    if (ct && n_extent >= 0) {
      const Dims& d = ct->dims();
      const bool ones_before = d.empty() || std::all_of(d.begin(), d.end() - 1, [](int64_t e) { return e == 1; });
      bias_like = ct->size() == 1 || (ones_before && !d.empty() && d.back() == n_extent);
      if (gemm && d.size() > 2) bias_like = false;
      if (!gemm && d.size() > std::max<size_t>(out_rank, 1)) bias_like = false;
    }
    if (bias_like) {
      std::vector<float> v(static_cast<size_t>(n_extent));
      for (int64_t j = 0; j < n_extent; ++j)
        v[static_cast<size_t>(j)] = static_cast<float>(ct->element_as_double(ct->size() == 1 ? 0 : j)) *
                                    (gemm ? beta : 1.0f);
      Tensor bt = vector_of(g.dtype, v);
      KILN_ASSIGN_OR_RETURN(constants->bias, DeviceBuffer::upload(bt.raw(), bt.byte_size()));
      g.c_mode = CMode::kBias;
    } else {
      // C of the output's full shape (checked again at prepare): cuBLASLt's C, scaled by beta.
      const Value* y = node.outputs[0];
      bool full = false;
      if (ct) {
        const Shape& ys = y->type.shape;
        full = ys.has_rank() && ys.rank() == ct->dims().size() && ct->rank() >= 1;
        for (size_t i = 0; full && i < ys.rank(); ++i)
          if (ys[i].known() && ys[i].value != ct->dim(static_cast<int64_t>(i))) full = false;
      } else {
        full = same_static_shape(c, y);
      }
      if (!full) return std::unique_ptr<CudaKernel>{};
      g.c_mode = CMode::kFull;
      g.beta = gemm ? beta : 1.0f;
      g.c_constant = ct != nullptr;
      if (ct) {
        c_dims = ct->dims();
        KILN_ASSIGN_OR_RETURN(constants->c, DeviceBuffer::upload(ct->raw(), ct->byte_size()));
      }
    }
  }
  if (g.a_constant) {
    const Tensor& t = *a->constant;
    KILN_ASSIGN_OR_RETURN(constants->a, DeviceBuffer::upload(t.raw(), t.byte_size()));
  }
  if (g.b_constant) {
    const Tensor& t = *b->constant;
    KILN_ASSIGN_OR_RETURN(constants->b, DeviceBuffer::upload(t.raw(), t.byte_size()));
  }

  std::string tactic_id = options.tactic.empty() ? node.attr_string("tactic", "") : options.tactic;
  std::optional<cublasLtMatmulAlgo_t> tactic = parse_cublaslt_tactic(tactic_id);
  return std::unique_ptr<CudaKernel>(new CublasLtGemmKernel(std::move(g), std::move(constants), std::move(c_dims),
                                                            std::move(tactic_id), tactic));
}

}  // namespace kiln::cuda
