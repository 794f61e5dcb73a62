// The cuDNN convolution and cuBLASLt matrix-product kernels (src/backends/cuda/cudnn_conv.cc,
// cublaslt_gemm.cc) against the reference kernels, on odd shapes, both layouts, f32 and f16, with and without
// bias / residual / activation; every candidate tactic; tactic ids that round-trip.
//
// Tolerances (|gpu - ref| <= atol + rtol * |ref|, element by element):
//
// * f32 (strict FP32, the default): the reference accumulates in double, cuDNN / cuBLASLt in f32 in an order of
//   their own. Summing R products of magnitude <= P = max|x| * max|w| in f32 errs by at most about
//   R * eps32 * R * P in the worst case and ~sqrt(R) * eps32 * P typically (eps32 = 1.2e-7); we allow
//   atol = 1e-5 * (R * P + max|bias| + max|Z|), i.e. 1e-5 of the sum-of-|products| scale (~80 eps32 per
//   term: room for any summation order, Winograd/FFT transforms included) and rtol = 0. That is still far
//   below what an indexing bug gives (O(P)), and below the error of a TF32 product for the inputs of the
//   StrictFp32 tests (exact in f32, off by 2^-12 per term in TF32).
// * f16: the GPU result (f16 data, f32 accumulation, f16 output) is compared with the reference run in f32 on
//   the same f16-rounded inputs. The output's rounding to f16 errs by <= 2^-11 |y| (4.9e-4 relative); where
//   the library cannot fuse, the conv / product is rounded to f16 before kiln's epilogue adds bias and Z, a
//   second error <= 4.9e-4 * (|y| + |bias| + |Z|). We allow rtol = 1e-2 and
//   atol = 2e-3 * (1 + max|ref| + max|bias| + max|Z|): ~4x both roundings, plus f32 accumulation order and
//   the activation's f32 evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/cudnn_engine_choice.h"
#include "backends/cuda/cudnn_tactic.h"
#include "backends/cuda/device_buffer.h"
#include "core/float16.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace)

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
Attribute str(std::string s) { return Attribute::of_string(std::move(s)); }
Attribute flt(float f) { return Attribute::of_float(f); }
Attribute floats(std::vector<float> v) { return Attribute::of_floats(std::move(v)); }
Attribute one_int(int64_t i) { return Attribute::of_int(i); }

const SingleOpOptions kKiln{.domain = "kiln"};

// ---- tensors ----

Tensor as_f32(const Tensor& t) {
  if (!t.defined() || t.dtype() == DataType::kF32) return t;
  Tensor out(DataType::kF32, t.dims());
  for (int64_t i = 0; i < t.size(); ++i) out.data<float>()[i] = static_cast<float>(t.data<Float16>()[i]);
  return out;
}

float max_abs(const Tensor& t) {
  if (!t.defined()) return 0.0f;
  Tensor f = as_f32(t);
  float m = 0.0f;
  for (float v : f.span<float>()) m = std::max(m, std::fabs(v));
  return m;
}

Tensor filled(DataType dtype, const Dims& dims, float v) {
  Tensor t(dtype, dims);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (dtype == DataType::kF16) t.data<Float16>()[i] = Float16(v);
    else t.data<float>()[i] = v;
  }
  return t;
}

Dims to_nhwc(const Dims& nchw) { return {nchw[0], nchw[2], nchw[3], nchw[1]}; }

struct Tolerance {
  float atol = 0.0f, rtol = 0.0f;
};

// Element-by-element |gpu - ref| <= atol + rtol * |ref|; names the worst element.
::testing::AssertionResult close(const Tensor& gpu_in, const Tensor& ref_in, Tolerance tol) {
  Tensor gpu = as_f32(gpu_in), ref = as_f32(ref_in);
  if (gpu.dims() != ref.dims())
    return ::testing::AssertionFailure() << "shapes differ: " << dims_to_string(gpu.dims()) << " vs "
                                         << dims_to_string(ref.dims());
  int64_t worst = -1;
  float worst_excess = 0.0f;
  for (int64_t i = 0; i < gpu.size(); ++i) {
    const float g = gpu.data<float>()[i], r = ref.data<float>()[i];
    const float allowed = tol.atol + tol.rtol * std::fabs(r);
    const float err = std::fabs(g - r);
    if (!(err <= allowed)) {  // NaN fails too
      const float excess = std::isnan(err) ? INFINITY : err - allowed;
      if (worst < 0 || excess > worst_excess) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  Result<float> mad = max_abs_diff(gpu, ref);
  return ::testing::AssertionFailure() << "element " << worst << " of " << dims_to_string(ref.dims()) << ": gpu "
                                       << gpu.data<float>()[worst] << ", reference " << ref.data<float>()[worst]
                                       << " (atol " << tol.atol << ", rtol " << tol.rtol << "; max |diff| "
                                       << (mad.ok() ? *mad : -1.0f) << ")";
}

// ---- running one op on both backends ----

struct OpCase {
  std::string op;
  int opset = 13;
  SingleOpOptions options;
  std::vector<OpInput> inputs;
  OpAttributes attrs;
};

struct Outcome {
  Tensor gpu;  // as computed (f16 for f16 nodes)
  Tensor ref;  // f32 reference on the same (f16-rounded) values
  std::string tactic;
};

Result<SingleOpGraph> build(const OpCase& c) {
  return build_single_op(c.op, c.opset, c.inputs, c.attrs, 1, c.options);
}

// The node's GPU output and the f32 reference on the same values.
Result<Outcome> run_both(const OpCase& c, const cuda::KernelOptions& options = {}) {
  KILN_ASSIGN_OR_RETURN(SingleOpGraph g, build(c));
  Outcome o;
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> gpu, run_node_on_cuda(g, options, &o.tactic));
  o.gpu = gpu.at(0);
  std::vector<OpInput> ref_inputs;
  for (const OpInput& in : c.inputs) ref_inputs.emplace_back(as_f32(in.value), in.constant);
  KILN_ASSIGN_OR_RETURN(o.ref, first_output(run_single_op(c.op, c.opset, ref_inputs, c.attrs, 1, c.options)));
  return o;
}

// The kernel's candidate tactics at the graph's shapes.
Result<std::vector<std::string>> candidates(const OpCase& c, const cuda::KernelOptions& options = {}) {
  KILN_ASSIGN_OR_RETURN(SingleOpGraph g, build(c));
  return node_candidate_tactics(g, options);
}

// Every candidate tactic of the case's kernel computes it within `tol`.
void expect_every_candidate_close(const OpCase& c, const Tolerance& tol) {
  auto ids = candidates(c);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  for (const std::string& id : *ids) {
    auto t = run_both(c, {.tactic = id});
    ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
    EXPECT_TRUE(close(t->gpu, t->ref, tol)) << "tactic " << id;
  }
}

// Runs the node as the executor does: prepared once, its enqueue captured into a CUDA graph, the graph
// replayed twice.
Result<Tensor> run_captured(const OpCase& c, const cuda::KernelOptions& options = {}) {
  KILN_ASSIGN_OR_RETURN(SingleOpGraph g, build(c));
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> out, run_node_on_cuda(g, options, nullptr, Launch::kCaptured));
  return out.at(0);
}

// ---- convolutions ----

struct ConvCase {
  const char* name;
  Dims x;  // NCHW (or NCW / NCDHW)
  Dims w;  // [K, C/group, k...]
  int64_t group = 1;
  std::vector<int64_t> pads, strides, dilations;
  std::string auto_pad;
  bool bias = false, residual = false;
  std::string act;
  std::vector<float> act_params;
};

// The FusedConv (or plain Conv, when `onnx_conv`) node of `cc` in `dtype` and layout, with seeded inputs.
Result<OpCase> conv_op(const ConvCase& cc, DataType dtype, bool nhwc, bool onnx_conv = false, uint32_t seed = 1,
                       int64_t batch = -1) {
  OpCase c;
  c.op = onnx_conv ? "Conv" : "FusedConv";
  c.opset = onnx_conv ? 11 : 1;
  if (!onnx_conv) c.options = kKiln;
  if (cc.group != 1) c.attrs["group"] = one_int(cc.group);
  if (!cc.pads.empty()) c.attrs["pads"] = ints(cc.pads);
  if (!cc.strides.empty()) c.attrs["strides"] = ints(cc.strides);
  if (!cc.dilations.empty()) c.attrs["dilations"] = ints(cc.dilations);
  if (!cc.auto_pad.empty()) c.attrs["auto_pad"] = str(cc.auto_pad);
  if (!cc.act.empty()) {
    c.attrs["activation"] = str(cc.act);
    c.attrs["activation_params"] = floats(cc.act_params);
  }
  if (nhwc) c.attrs["layout"] = str("NHWC");
  Dims xd = cc.x;
  if (batch > 0) xd[0] = batch;
  const int64_t k = cc.w[0];
  c.inputs.emplace_back(random_tensor(dtype, nhwc ? to_nhwc(xd) : xd, -1.0f, 1.0f, seed));
  c.inputs.emplace_back(random_tensor(dtype, cc.w, -1.0f, 1.0f, seed + 1), true);
  if (cc.bias) c.inputs.emplace_back(random_tensor(dtype, {k}, -1.0f, 1.0f, seed + 2), true);
  else if (cc.residual) c.inputs.emplace_back(std::nullopt);
  if (cc.residual) {
    // Z has Y's shape: infer it from the node without Z.
    OpCase no_z = c;
    no_z.inputs.resize(cc.bias ? 3 : 2);
    KILN_ASSIGN_OR_RETURN(SingleOpGraph g, build(no_z));
    c.inputs.emplace_back(random_tensor(dtype, g.outputs[0]->type.shape.static_dims(), -1.0f, 1.0f, seed + 3));
  }
  return c;
}

Tolerance conv_tolerance(const OpCase& c, const Tensor& ref) {
  const Tensor& x = c.inputs[0].value;
  const Tensor& w = c.inputs[1].value;
  const float bias = c.inputs.size() > 2 ? max_abs(c.inputs[2].value) : 0.0f;
  const float z = c.inputs.size() > 3 ? max_abs(c.inputs[3].value) : 0.0f;
  const float reduction = static_cast<float>(w.size() / w.dim(0));  // C/group * kernel taps
  if (x.dtype() == DataType::kF32) return {1e-5f * (reduction * max_abs(x) * max_abs(w) + bias + z), 0.0f};
  return {2e-3f * (1.0f + max_abs(ref) + bias + z), 1e-2f};
}

const ConvCase kConvCases[] = {
    {.name = "k3_pad1", .x = {1, 3, 7, 9}, .w = {5, 3, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true},
    {.name = "k3_stride2_relu", .x = {1, 3, 7, 9}, .w = {5, 3, 3, 3}, .pads = {1, 1, 1, 1}, .strides = {2, 2},
     .bias = true, .act = "Relu"},
    {.name = "k3_dilation2_leaky", .x = {1, 3, 7, 9}, .w = {4, 3, 3, 3}, .pads = {2, 2, 2, 2}, .dilations = {2, 2},
     .act = "LeakyRelu", .act_params = {0.1f}},
    {.name = "k1_residual_relu", .x = {2, 16, 5, 6}, .w = {8, 16, 1, 1}, .bias = true, .residual = true,
     .act = "Relu"},
    {.name = "stem_k7_stride2", .x = {1, 3, 23, 19}, .w = {8, 3, 7, 7}, .pads = {3, 3, 3, 3}, .strides = {2, 2},
     .bias = true, .act = "Relu"},
    {.name = "grouped2_clip", .x = {1, 6, 9, 7}, .w = {4, 3, 3, 3}, .group = 2, .pads = {1, 1, 1, 1}, .bias = true,
     .act = "Clip", .act_params = {0.0f, 6.0f}},
    {.name = "depthwise17_clip", .x = {1, 17, 8, 9}, .w = {17, 1, 3, 3}, .group = 17, .pads = {1, 1, 1, 1},
     .bias = true, .act = "Clip", .act_params = {0.0f, 6.0f}},
    {.name = "batch3_asymmetric_pads_residual", .x = {3, 5, 6, 7}, .w = {7, 5, 3, 3}, .pads = {0, 1, 1, 0},
     .bias = true, .residual = true, .act = "Relu"},
    {.name = "same_upper_stride2", .x = {1, 4, 8, 7}, .w = {6, 4, 3, 3}, .strides = {2, 2},
     .auto_pad = "SAME_UPPER", .bias = true},
    {.name = "residual_no_bias_leaky", .x = {2, 8, 6, 6}, .w = {8, 8, 3, 3}, .pads = {1, 1, 1, 1}, .residual = true,
     .act = "LeakyRelu", .act_params = {0.2f}},
    {.name = "sigmoid", .x = {1, 8, 5, 5}, .w = {8, 8, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true, .act = "Sigmoid"},
    // HardSwish has no cuDNN pointwise op: conv (+ bias) in cuDNN, the rest in kiln's epilogue kernel.
    {.name = "hardswish_epilogue", .x = {1, 8, 5, 5}, .w = {16, 8, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true,
     .residual = true, .act = "HardSwish"},
    {.name = "clip_no_lower_bound", .x = {1, 8, 5, 5}, .w = {8, 8, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true,
     .act = "Clip", .act_params = {-INFINITY, 0.5f}},
    {.name = "wide_k3_residual", .x = {2, 64, 10, 10}, .w = {32, 64, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true,
     .residual = true, .act = "Relu"},
    {.name = "conv1d", .x = {2, 4, 11}, .w = {3, 4, 3}, .pads = {1, 1}, .bias = true},
};

class CudaConv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(CudaConv, MatchesTheReference) {
  KILN_REQUIRE_GPU();
  const ConvCase& cc = GetParam();
  for (DataType dtype : {DataType::kF32, DataType::kF16}) {
    for (bool nhwc : {false, true}) {
      if (nhwc && cc.x.size() != 4) continue;
      for (bool onnx_conv : {false, true}) {
        if (onnx_conv && (nhwc || cc.residual || !cc.act.empty())) continue;
        SCOPED_TRACE(std::string(dtype_name(dtype)) + (nhwc ? " NHWC" : " NCHW") + (onnx_conv ? " Conv" : " FusedConv"));
        auto c = conv_op(cc, dtype, nhwc, onnx_conv);
        ASSERT_TRUE(c.ok()) << c.status().message();
        auto o = run_both(*c);
        ASSERT_TRUE(o.ok()) << o.status().message();
        EXPECT_EQ(o->gpu.dtype(), dtype);
        EXPECT_TRUE(close(o->gpu, o->ref, conv_tolerance(*c, o->ref))) << "tactic " << o->tactic;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaConv, ::testing::ValuesIn(kConvCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// Strict FP32: 1 + 2^-12 is exact in f32 but rounds to 1 in TF32, so a TF32 engine would be off by
// 2^-12 per term (64 terms: 0.0156, 24x the tolerance).
TEST(CudaConvStrictFp32, NoTf32EngineIsUsedOrOffered) {
  KILN_REQUIRE_GPU();
  const float v = 1.0f + std::ldexp(1.0f, -12);
  for (bool nhwc : {false, true}) {
    SCOPED_TRACE(nhwc ? "NHWC" : "NCHW");
    OpCase c;
    c.op = "FusedConv";
    c.opset = 1;
    c.options = kKiln;
    if (nhwc) c.attrs["layout"] = str("NHWC");
    const Dims x = {1, 64, 4, 4};
    c.inputs = {{filled(DataType::kF32, nhwc ? to_nhwc(x) : x, v)}, {filled(DataType::kF32, {8, 64, 1, 1}, 1.0f), true}};
    auto o = run_both(c);
    ASSERT_TRUE(o.ok()) << o.status().message();
    const Tolerance tol = conv_tolerance(c, o->ref);
    EXPECT_NEAR(o->ref.data<float>()[0], 64.0f * v, 1e-6f);
    EXPECT_TRUE(close(o->gpu, o->ref, tol)) << "tactic " << o->tactic;
    expect_every_candidate_close(c, tol);
  }
}

// Every candidate tactic computes the node, and each one round-trips through KernelOptions::tactic.
TEST(CudaConvTactics, EveryCandidateMatchesTheReference) {
  KILN_REQUIRE_GPU();
  const ConvCase cases[] = {
      {.name = "k3", .x = {2, 16, 9, 9}, .w = {16, 16, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true,
       .act = "Relu"},
      {.name = "k1", .x = {1, 32, 7, 7}, .w = {16, 32, 1, 1}, .bias = true, .act = "Clip", .act_params = {0.0f, 6.0f}},
      {.name = "k1_residual_relu", .x = {3, 24, 5, 7}, .w = {40, 24, 1, 1}, .bias = true, .residual = true,
       .act = "Relu"},
      {.name = "k1_residual_no_bias", .x = {2, 16, 3, 5}, .w = {8, 16, 1, 1}, .residual = true},
      // 16 input channels: kiln's implicit GEMM is a candidate in f16 NHWC (two row tiles, the last partial).
      {.name = "few_channels_k4", .x = {3, 16, 13, 11}, .w = {24, 16, 4, 4}, .bias = true, .act = "Relu"},
      // ... two output-channel tiles (the second of 8), asymmetric pads, stride 2, 9 taps padded to 12.
      {.name = "few_channels_k3_stride2", .x = {2, 16, 9, 10}, .w = {72, 16, 3, 3}, .pads = {1, 0, 2, 1},
       .strides = {2, 2}},
      {.name = "few_channels_dilated", .x = {1, 16, 7, 6}, .w = {8, 16, 2, 3}, .dilations = {2, 1}, .bias = true},
  };
  for (const ConvCase& cc : cases) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      for (bool nhwc : {false, true}) {
        SCOPED_TRACE(std::string(cc.name) + " " + std::string(dtype_name(dtype)) + (nhwc ? " NHWC" : " NCHW"));
        auto c = conv_op(cc, dtype, nhwc);
        ASSERT_TRUE(c.ok()) << c.status().message();
        auto ids = candidates(*c);
        ASSERT_TRUE(ids.ok()) << ids.status().message();
        EXPECT_FALSE(ids->empty());
        size_t cublaslt_ids = 0, few_channel_ids = 0;
        for (const std::string& id : *ids) {
          if (auto algo = cuda::parse_cublaslt_tactic(id)) {
            ++cublaslt_ids;
            EXPECT_EQ(cuda::cublaslt_tactic_id(*algo), id);
          } else if (id == "cuda:few_channel_igemm") {
            ++few_channel_ids;
          } else {
            auto parsed = cuda::CudnnTactic::parse(id);
            ASSERT_TRUE(parsed.has_value()) << id;
            EXPECT_EQ(parsed->to_string(), id);
          }
          auto o = run_both(*c, {.tactic = id});
          ASSERT_TRUE(o.ok()) << id << ": " << o.status().message();
          EXPECT_EQ(o->tactic, id);
          EXPECT_TRUE(close(o->gpu, o->ref, conv_tolerance(*c, o->ref))) << "tactic " << id;
        }
        // A 1x1 channels-last convolution is also offered as a cuBLASLt product (up to 8 algorithms); nothing
        // else is. cuDNN offers up to 4 configs, 12 for a conv over few input channels.
        if (nhwc && cc.w[2] == 1) EXPECT_GT(cublaslt_ids, 0u);
        else EXPECT_EQ(cublaslt_ids, 0u);
        EXPECT_LE(cublaslt_ids, 8u);
        // kiln's implicit GEMM: f16 NHWC over 16 channels without a residual input or another activation.
        const bool few_channel_kernel = nhwc && dtype == DataType::kF16 && cc.w[1] == 16 && !cc.residual &&
                                        (cc.act.empty() || cc.act == "Relu");
        EXPECT_EQ(few_channel_ids, few_channel_kernel ? 1u : 0u);
        EXPECT_LE(ids->size() - cublaslt_ids - few_channel_ids,
                  cc.w[1] <= cuda::kFewChannels
                      ? cuda::kMaxCudnnCandidatesFewChannels + cuda::kKnobVariantsFewChannels
                      : cuda::kMaxCudnnCandidates);
      }
    }
  }
}

// A tactic chosen at batch 1 still runs at batch 3 (the same engine config, or the heuristics' first when it
// cannot), and a tactic that cannot be built or is not a cuDNN id falls back to the heuristics.
TEST(CudaConvTactics, TacticsFallBackWhereTheyCannotRun) {
  KILN_REQUIRE_GPU();
  const ConvCase cc = {.name = "k3", .x = {1, 8, 6, 6}, .w = {8, 8, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true,
                       .residual = true, .act = "Relu"};
  for (DataType dtype : {DataType::kF32, DataType::kF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    auto c1 = conv_op(cc, dtype, true);
    ASSERT_TRUE(c1.ok()) << c1.status().message();
    auto ids = candidates(*c1);
    ASSERT_TRUE(ids.ok() && !ids->empty()) << (ids.ok() ? "no candidates" : ids.status().message());
    auto c3 = conv_op(cc, dtype, true, false, 7, /*batch=*/3);
    ASSERT_TRUE(c3.ok()) << c3.status().message();
    for (const std::string& id : {ids->front(), ids->back(), std::string("cudnn:fused:e999999:k2=1"),
                                  std::string("cudnn:conv:e0"), std::string("cublaslt:zz"), std::string("")}) {
      SCOPED_TRACE("tactic '" + id + "'");
      auto o = run_both(*c3, {.tactic = id});
      ASSERT_TRUE(o.ok()) << o.status().message();
      EXPECT_EQ(o->tactic, cuda::CudnnTactic::parse(id) ? id : std::string(cuda::kCudnnHeuristicTactic));
      EXPECT_TRUE(close(o->gpu, o->ref, conv_tolerance(*c3, o->ref)));
    }
  }
}

// --knob-variants (KernelOptions::knob_variants): a convolution over many channels, which offers at most
// kMaxCudnnCandidates configs by default, also offers kernel-config variants of its first config — cuDNN ids
// that differ from it only in the kernel-config knob — and each computes the node.
TEST(CudaConvTactics, KnobVariantsAddKernelConfigsOfTheFirstCandidate) {
  KILN_REQUIRE_GPU();
  const ConvCase cc = {.name = "k3_c64", .x = {2, 64, 14, 14}, .w = {64, 64, 3, 3}, .pads = {1, 1, 1, 1},
                       .bias = true, .act = "Relu"};
  auto c = conv_op(cc, DataType::kF16, /*nhwc=*/true);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto plain = candidates(*c);
  ASSERT_TRUE(plain.ok() && !plain->empty()) << (plain.ok() ? "no candidates" : plain.status().message());
  EXPECT_LE(plain->size(), cuda::kMaxCudnnCandidates);
  auto more = candidates(*c, {.knob_variants = 6});
  ASSERT_TRUE(more.ok()) << more.status().message();
  ASSERT_GE(more->size(), plain->size());
  EXPECT_TRUE(std::equal(plain->begin(), plain->end(), more->begin()));  // the plain candidates come first
  const auto first = cuda::CudnnTactic::parse(plain->front());
  ASSERT_TRUE(first.has_value());
  size_t variants = 0;
  for (size_t i = plain->size(); i < more->size(); ++i) {
    const auto t = cuda::CudnnTactic::parse((*more)[i]);
    ASSERT_TRUE(t.has_value()) << (*more)[i];
    EXPECT_EQ(t->path, first->path);
    EXPECT_EQ(t->engine, first->engine);
    EXPECT_NE(t->knobs, first->knobs);
    ++variants;
    auto o = run_both(*c, {.tactic = (*more)[i]});
    ASSERT_TRUE(o.ok()) << (*more)[i] << ": " << o.status().message();
    EXPECT_TRUE(close(o->gpu, o->ref, conv_tolerance(*c, o->ref))) << (*more)[i];
  }
  // cuDNN 9's f16 NHWC engines for such a layer (engine 4 on the H100, session 7's profiles) have the knob.
  EXPECT_GT(variants, 0u) << "first candidate " << plain->front();
  EXPECT_LE(variants, 6u);
  std::printf("[ knobs    ] %zu plain candidates, %zu kernel-config variants of %s\n", plain->size(), variants,
              plain->front().c_str());
}

TEST(CudaConvTactics, IdsParseAndFormat) {
  KILN_REQUIRE_GPU();
  using cuda::ConvPath;
  using cuda::CudnnTactic;
  auto t = CudnnTactic::parse("cudnn:fused:e12:k2=3,k14=-4");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, ConvPath::kFused);
  EXPECT_EQ(t->engine, 12);
  EXPECT_EQ(t->knobs, (std::vector<std::pair<int64_t, int64_t>>{{2, 3}, {14, -4}}));
  EXPECT_EQ(t->to_string(), "cudnn:fused:e12:k2=3,k14=-4");
  EXPECT_EQ(CudnnTactic::parse("cudnn:conv:e0")->to_string(), "cudnn:conv:e0");
  EXPECT_EQ(CudnnTactic::parse("cudnn:bias:e7:k1=0")->path, ConvPath::kBias);
  for (const char* bad : {"", "cudnn", "cudnn:heuristic", "cudnn:fused", "cudnn:fused:12", "cudnn:fused:e",
                          "cudnn:fused:e-1", "cudnn:fused:e1:", "cudnn:fused:e1:k2", "cudnn:fused:e1:k=3",
                          "cudnn:fused:e1:k2=3,", "cudnn:other:e1", "cudnn:fused:e1:k2=3:x", "cublaslt:00"})
    EXPECT_FALSE(CudnnTactic::parse(bad).has_value()) << bad;
}

TEST(CudaConvUnsupported, ReturnsNoKernel) {
  KILN_REQUIRE_GPU();
  // W not constant.
  auto g = build_single_op("Conv", 11,
                           {{random_tensor(DataType::kF32, {1, 3, 5, 5}, -1, 1, 1)},
                            {random_tensor(DataType::kF32, {4, 3, 3, 3}, -1, 1, 2)}});
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto k = cuda::create_cuda_kernel(*g->graph->nodes()[0]);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, nullptr);
  // B not constant (it is uploaded as f32 at creation).
  g = build_single_op("Conv", 11,
                      {{random_tensor(DataType::kF32, {1, 3, 5, 5}, -1, 1, 1)},
                       {random_tensor(DataType::kF32, {4, 3, 3, 3}, -1, 1, 2), true},
                       {random_tensor(DataType::kF32, {4}, -1, 1, 3)}});
  ASSERT_TRUE(g.ok()) << g.status().message();
  k = cuda::create_cuda_kernel(*g->graph->nodes()[0]);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, nullptr);
  // A residual Z that broadcasts into Y.
  g = build_single_op("FusedConv", 1,
                      {{random_tensor(DataType::kF32, {1, 3, 5, 5}, -1, 1, 1)},
                       {random_tensor(DataType::kF32, {4, 3, 3, 3}, -1, 1, 2), true},
                       std::nullopt,
                       {random_tensor(DataType::kF32, {1, 4, 1, 1}, -1, 1, 3)}},
                      {}, 1, kKiln);
  ASSERT_TRUE(g.ok()) << g.status().message();
  k = cuda::create_cuda_kernel(*g->graph->nodes()[0]);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, nullptr);
  // f64 data.
  Tensor x(DataType::kF64, {1, 3, 5, 5}), w(DataType::kF64, {4, 3, 3, 3});
  g = build_single_op("Conv", 11, {{x}, {w, true}});
  ASSERT_TRUE(g.ok()) << g.status().message();
  k = cuda::create_cuda_kernel(*g->graph->nodes()[0]);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, nullptr);
}

// ---- matrix products ----

struct GemmCase {
  const char* name;
  std::string op;  // Gemm, FusedGemm, MatMul, FusedMatMul
  Dims a, b;
  Dims c;                   // empty: no C / bias
  bool c_constant = true;
  bool b_constant = true;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  std::string act;
  std::vector<float> act_params;
};

Result<OpCase> gemm_op(const GemmCase& gc, DataType dtype, uint32_t seed = 11) {
  OpCase c;
  c.op = gc.op;
  const bool fused = gc.op.starts_with("Fused");
  const bool gemm = gc.op.ends_with("Gemm");
  c.opset = fused ? 1 : 13;
  if (fused) c.options = kKiln;
  if (gemm) {
    if (gc.trans_a) c.attrs["transA"] = one_int(1);
    if (gc.trans_b) c.attrs["transB"] = one_int(1);
    if (gc.alpha != 1.0f) c.attrs["alpha"] = flt(gc.alpha);
    if (gc.beta != 1.0f) c.attrs["beta"] = flt(gc.beta);
  }
  if (!gc.act.empty()) {
    c.attrs["activation"] = str(gc.act);
    c.attrs["activation_params"] = floats(gc.act_params);
  }
  c.inputs.emplace_back(random_tensor(dtype, gc.a, -1.0f, 1.0f, seed));
  c.inputs.emplace_back(random_tensor(dtype, gc.b, -1.0f, 1.0f, seed + 1), gc.b_constant);
  if (!gc.c.empty())
    c.inputs.emplace_back(random_tensor(dtype, gc.c, -1.0f, 1.0f, seed + 2), gc.c_constant);
  return c;
}

Tolerance gemm_tolerance(const GemmCase& gc, const OpCase& c, const Tensor& ref) {
  const Tensor& a = c.inputs[0].value;
  const Tensor& b = c.inputs[1].value;
  const bool gemm = gc.op.ends_with("Gemm");
  const float k = static_cast<float>(gemm && gc.trans_a ? a.dim(0) : a.dim(a.rank() - 1));
  const float cterm = c.inputs.size() > 2 ? (gemm ? std::fabs(gc.beta) : 1.0f) * max_abs(c.inputs[2].value) : 0.0f;
  if (a.dtype() == DataType::kF32)
    return {1e-5f * (k * std::fabs(gemm ? gc.alpha : 1.0f) * max_abs(a) * max_abs(b) + cterm), 0.0f};
  return {2e-3f * (1.0f + max_abs(ref) + cterm), 1e-2f};
}

const GemmCase kGemmCases[] = {
    {.name = "gemm_3x37x19_bias_alpha_beta", .op = "Gemm", .a = {3, 19}, .b = {19, 37}, .c = {37}, .alpha = 0.5f,
     .beta = 2.0f},
    {.name = "gemm_transA_transB_row_bias", .op = "Gemm", .a = {19, 3}, .b = {37, 19}, .c = {1, 37}, .trans_a = true,
     .trans_b = true, .alpha = 1.5f, .beta = 0.25f},
    {.name = "gemm_fc_1x1000x2048", .op = "Gemm", .a = {1, 2048}, .b = {1000, 2048}, .c = {1000}, .trans_b = true},
    {.name = "gemm_full_c_input", .op = "Gemm", .a = {5, 7}, .b = {7, 9}, .c = {5, 9}, .c_constant = false,
     .beta = 0.7f},
    {.name = "gemm_full_c_constant_transA", .op = "Gemm", .a = {7, 6}, .b = {7, 9}, .c = {6, 9}, .trans_a = true,
     .alpha = -1.0f, .beta = 0.5f},
    {.name = "gemm_scalar_c", .op = "Gemm", .a = {4, 6}, .b = {6, 5}, .c = {1}},
    {.name = "gemm_b_input", .op = "Gemm", .a = {6, 10}, .b = {10, 7}, .b_constant = false},
    {.name = "gemm_beta0_ignores_c", .op = "Gemm", .a = {6, 10}, .b = {10, 7}, .c = {7}, .beta = 0.0f},
    {.name = "fused_gemm_relu", .op = "FusedGemm", .a = {3, 33}, .b = {33, 17}, .c = {17}, .act = "Relu"},
    {.name = "fused_gemm_relu_no_bias", .op = "FusedGemm", .a = {3, 33}, .b = {17, 33}, .trans_b = true,
     .act = "Relu"},
    {.name = "fused_gemm_sigmoid", .op = "FusedGemm", .a = {4, 33}, .b = {33, 17}, .c = {17}, .act = "Sigmoid"},
    {.name = "fused_gemm_leaky", .op = "FusedGemm", .a = {4, 33}, .b = {17, 33}, .c = {17}, .trans_b = true,
     .act = "LeakyRelu", .act_params = {0.1f}},
    {.name = "matmul_rank3", .op = "MatMul", .a = {2, 5, 19}, .b = {19, 23}},
    {.name = "matmul_rank1", .op = "MatMul", .a = {19}, .b = {19, 23}},
    {.name = "fused_matmul_bias_relu", .op = "FusedMatMul", .a = {2, 5, 19}, .b = {19, 23}, .c = {23},
     .act = "Relu"},
    {.name = "fused_matmul_scalar_bias_hardsigmoid", .op = "FusedMatMul", .a = {7, 12}, .b = {12, 9}, .c = {1},
     .act = "HardSigmoid", .act_params = {0.2f, 0.5f}},
    {.name = "fused_matmul_full_bias_input_tanh", .op = "FusedMatMul", .a = {2, 5, 19}, .b = {19, 23},
     .c = {2, 5, 23}, .c_constant = false, .act = "Tanh"},
};

class CudaGemm : public ::testing::TestWithParam<GemmCase> {};

TEST_P(CudaGemm, MatchesTheReference) {
  KILN_REQUIRE_GPU();
  const GemmCase& gc = GetParam();
  for (DataType dtype : {DataType::kF32, DataType::kF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    auto c = gemm_op(gc, dtype);
    ASSERT_TRUE(c.ok()) << c.status().message();
    auto o = run_both(*c);
    ASSERT_TRUE(o.ok()) << o.status().message();
    EXPECT_EQ(o->gpu.dtype(), dtype);
    EXPECT_TRUE(close(o->gpu, o->ref, gemm_tolerance(gc, *c, o->ref))) << "tactic " << o->tactic;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaGemm, ::testing::ValuesIn(kGemmCases),
                         [](const ::testing::TestParamInfo<GemmCase>& info) { return std::string(info.param.name); });

TEST(CudaGemmStrictFp32, NoTf32AlgoIsUsedOrOffered) {
  KILN_REQUIRE_GPU();
  const float v = 1.0f + std::ldexp(1.0f, -12);
  const GemmCase gc = {.name = "strict", .op = "Gemm", .a = {16, 64}, .b = {64, 16}};
  OpCase c;
  c.op = "Gemm";
  c.inputs = {{filled(DataType::kF32, {16, 64}, v)}, {filled(DataType::kF32, {64, 16}, 1.0f), true}};
  auto o = run_both(c);
  ASSERT_TRUE(o.ok()) << o.status().message();
  const Tolerance tol = gemm_tolerance(gc, c, o->ref);
  EXPECT_TRUE(close(o->gpu, o->ref, tol)) << "tactic " << o->tactic;
  expect_every_candidate_close(c, tol);
}

TEST(CudaGemmTactics, EveryCandidateMatchesTheReferenceAndRoundTrips) {
  KILN_REQUIRE_GPU();
  const GemmCase cases[] = {
      {.name = "bias", .op = "Gemm", .a = {3, 19}, .b = {19, 37}, .c = {37}, .alpha = 0.5f, .beta = 2.0f},
      {.name = "fc_relu", .op = "FusedGemm", .a = {8, 512}, .b = {100, 512}, .c = {100}, .trans_b = true,
       .act = "Relu"},
      {.name = "matmul", .op = "MatMul", .a = {4, 9, 64}, .b = {64, 48}},
  };
  for (const GemmCase& gc : cases) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      SCOPED_TRACE(std::string(gc.name) + " " + std::string(dtype_name(dtype)));
      auto c = gemm_op(gc, dtype);
      ASSERT_TRUE(c.ok()) << c.status().message();
      auto ids = candidates(*c);
      ASSERT_TRUE(ids.ok()) << ids.status().message();
      EXPECT_FALSE(ids->empty());
      EXPECT_LE(ids->size(), 8u);
      for (const std::string& id : *ids) {
        auto algo = cuda::parse_cublaslt_tactic(id);
        ASSERT_TRUE(algo.has_value()) << id;
        EXPECT_EQ(cuda::cublaslt_tactic_id(*algo), id);
        auto o = run_both(*c, {.tactic = id});
        ASSERT_TRUE(o.ok()) << id << ": " << o.status().message();
        EXPECT_EQ(o->tactic, id);
        EXPECT_TRUE(close(o->gpu, o->ref, gemm_tolerance(gc, *c, o->ref))) << "tactic " << id;
      }
      // A tactic from these shapes at other shapes: checked, and replaced by the heuristics' choice if needed.
      if (!ids->empty() && gc.op == "MatMul") {
        GemmCase other = gc;
        other.a = {1, 3, 64};
        auto c2 = gemm_op(other, dtype, 5);
        ASSERT_TRUE(c2.ok()) << c2.status().message();
        auto o = run_both(*c2, {.tactic = ids->back()});
        ASSERT_TRUE(o.ok()) << o.status().message();
        EXPECT_TRUE(close(o->gpu, o->ref, gemm_tolerance(other, *c2, o->ref)));
      }
      // Not a cuBLASLt id: the heuristics' choice.
      auto o = run_both(*c, {.tactic = "cudnn:conv:e0"});
      ASSERT_TRUE(o.ok()) << o.status().message();
      EXPECT_EQ(o->tactic, cuda::kCublasLtHeuristicTactic);
      EXPECT_TRUE(close(o->gpu, o->ref, gemm_tolerance(gc, *c, o->ref)));
    }
  }
}

TEST(CudaGemmTactics, IdsParseAndFormat) {
  KILN_REQUIRE_GPU();
  cublasLtMatmulAlgo_t algo{};
  for (int i = 0; i < 8; ++i) algo.data[i] = 0x0123456789abcdefULL * static_cast<uint64_t>(i + 1);
  const std::string id = cuda::cublaslt_tactic_id(algo);
  EXPECT_EQ(id.size(), std::string("cublaslt:").size() + 128);
  auto back = cuda::parse_cublaslt_tactic(id);
  ASSERT_TRUE(back.has_value());
  for (int i = 0; i < 8; ++i) EXPECT_EQ(back->data[i], algo.data[i]);
  EXPECT_FALSE(cuda::parse_cublaslt_tactic("cublaslt:heuristic").has_value());
  EXPECT_FALSE(cuda::parse_cublaslt_tactic(id.substr(0, id.size() - 1)).has_value());
  EXPECT_FALSE(cuda::parse_cublaslt_tactic("cudnn:" + id.substr(9)).has_value());
  std::string bad = id;
  bad.back() = 'g';
  EXPECT_FALSE(cuda::parse_cublaslt_tactic(bad).has_value());
}

// The executor captures enqueue into a CUDA graph: every path (fused cuDNN graph, cuDNN + kiln's epilogue,
// cuBLASLt with and without the epilogue kernel, workspace users) must be capturable and replayable.
TEST(CudaConvGemmCapture, EnqueueIsCapturable) {
  KILN_REQUIRE_GPU();
  const ConvCase convs[] = {
      {.name = "fused", .x = {2, 16, 9, 9}, .w = {16, 16, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true,
       .act = "Relu"},
      {.name = "epilogue", .x = {1, 8, 5, 5}, .w = {16, 8, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true,
       .act = "HardSwish"},
      {.name = "few_channels", .x = {2, 16, 9, 9}, .w = {16, 16, 3, 3}, .pads = {1, 1, 1, 1}, .bias = true,
       .act = "Relu"},  // kiln's implicit GEMM among the f16 NHWC candidates
  };
  for (const ConvCase& cc : convs) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      for (bool nhwc : {false, true}) {
        SCOPED_TRACE(std::string(cc.name) + " " + std::string(dtype_name(dtype)) + (nhwc ? " NHWC" : " NCHW"));
        auto c = conv_op(cc, dtype, nhwc);
        ASSERT_TRUE(c.ok()) << c.status().message();
        auto o = run_both(*c);
        ASSERT_TRUE(o.ok()) << o.status().message();
        auto y = run_captured(*c);
        ASSERT_TRUE(y.ok()) << y.status().message();
        EXPECT_TRUE(close(*y, o->ref, conv_tolerance(*c, o->ref)));
        // Every candidate too (some need workspace).
        auto ids = candidates(*c);
        ASSERT_TRUE(ids.ok()) << ids.status().message();
        for (const std::string& id : *ids) {
          auto t = run_captured(*c, {.tactic = id});
          ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
          EXPECT_TRUE(close(*t, o->ref, conv_tolerance(*c, o->ref))) << "tactic " << id;
        }
      }
    }
  }
  const GemmCase gemms[] = {
      {.name = "fc_relu", .op = "FusedGemm", .a = {8, 512}, .b = {100, 512}, .c = {100}, .trans_b = true,
       .act = "Relu"},
      {.name = "sigmoid_full_c", .op = "FusedGemm", .a = {5, 7}, .b = {7, 9}, .c = {5, 9}, .c_constant = false,
       .beta = 0.5f, .act = "Sigmoid"},
      {.name = "matmul_large_k", .op = "MatMul", .a = {2, 3, 4096}, .b = {4096, 64}},
  };
  for (const GemmCase& gc : gemms) {
    for (DataType dtype : {DataType::kF32, DataType::kF16}) {
      SCOPED_TRACE(std::string(gc.name) + " " + std::string(dtype_name(dtype)));
      auto c = gemm_op(gc, dtype);
      ASSERT_TRUE(c.ok()) << c.status().message();
      auto o = run_both(*c);
      ASSERT_TRUE(o.ok()) << o.status().message();
      auto ids = candidates(*c);
      ASSERT_TRUE(ids.ok()) << ids.status().message();
      ids->insert(ids->begin(), "");
      for (const std::string& id : *ids) {
        auto t = run_captured(*c, {.tactic = id});
        ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
        EXPECT_TRUE(close(*t, o->ref, gemm_tolerance(gc, *c, o->ref))) << "tactic " << id;
      }
    }
  }
}

TEST(CudaGemmUnsupported, ReturnsNoKernel) {
  KILN_REQUIRE_GPU();
  auto no_kernel = [](const std::string& op, int opset, const std::vector<OpInput>& inputs,
                      const OpAttributes& attrs = {}) {
    auto g = build_single_op(op, opset, inputs, attrs);
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto k = cuda::create_cuda_kernel(*g->graph->nodes()[0]);
    ASSERT_TRUE(k.ok()) << k.status().message();
    EXPECT_EQ(*k, nullptr) << op;
  };
  // MatMul with a non-constant B, and with a 3-D B.
  no_kernel("MatMul", 13, {{random_tensor(DataType::kF32, {4, 5}, -1, 1, 1)}, {random_tensor(DataType::kF32, {5, 6}, -1, 1, 2)}});
  no_kernel("MatMul", 13,
            {{random_tensor(DataType::kF32, {2, 4, 5}, -1, 1, 1)}, {random_tensor(DataType::kF32, {2, 5, 6}, -1, 1, 2), true}});
  // Gemm with a column C [M, 1].
  no_kernel("Gemm", 13,
            {{random_tensor(DataType::kF32, {4, 5}, -1, 1, 1)}, {random_tensor(DataType::kF32, {5, 6}, -1, 1, 2), true},
             {random_tensor(DataType::kF32, {4, 1}, -1, 1, 3), true}});
  // Integer data.
  no_kernel("MatMul", 13,
            {{random_tensor(DataType::kI32, {4, 5}, -3, 3, 1)}, {random_tensor(DataType::kI32, {5, 6}, -3, 3, 2), true}});
}

}  // namespace
}  // namespace kiln
