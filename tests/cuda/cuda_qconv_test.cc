// kiln.QConv on cuDNN's int8 graph (src/backends/cuda/cudnn_qconv.cc) against the reference kernel, on odd
// shapes: RGB-like inputs whose channels the kernel pads, 1x1 and 3x3, strides, bias, residual, Relu / Clip,
// values at the int8 limits; every candidate tactic (kiln's own implicit and pointwise GEMMs where they
// apply), captured launches.
//
// Tolerance: the reference requantizes in f64, the GPU in f32 (the accumulator itself is exact in both), so an
// output may differ by one quantization step where t = acc * multiplier lies within f32 rounding of a .5 tie.
// We require |gpu - ref| <= 1 everywhere and at least 99% of the outputs identical (an indexing, scale or
// rounding-mode bug breaks one or the other: truncation instead of rounding would make about half differ).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "tests/cuda/cuda_test_util.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace)

struct QConvCase {
  const char* name;
  int64_t n, c, h, w, m, k, stride, pad;
  bool residual = false;
  std::string act;  // "", "Relu", "Clip"
  bool extreme = false;  // inputs and weights at the int8 limits, a small y_scale (saturation)
};

const QConvCase kCases[] = {
    {"stem_c3_7x7_s2", 2, 3, 23, 19, 16, 7, 2, 3, false, "Relu"},
    {"pointwise_residual", 3, 32, 7, 9, 64, 1, 1, 0, true, "Relu"},
    {"c20_3x3_s2_clip", 1, 20, 15, 13, 24, 3, 2, 1, false, "Clip"},
    {"c16_3x3_no_act", 2, 16, 11, 11, 36, 3, 1, 1, false, ""},
    {"c64_3x3_residual_at_limits", 4, 64, 14, 14, 64, 3, 1, 1, true, "Relu", true},
    {"c5_odd_out_channels", 1, 5, 9, 9, 10, 3, 1, 1, false, "Relu"},
    // 16 channels and a multiple of 16 outputs: kiln's implicit GEMM is a candidate too. ResNet-50's
    // space-to-depth stem (4x4, 16 taps); two output-channel tiles (64 + 16) with 9 taps (an odd count: the last
    // int8 k-step half empty), stride 2 and Clip; 4 taps at the int8 limits.
    {"c16_4x4_s2d_stem", 3, 16, 13, 11, 64, 4, 1, 0, false, "Relu"},
    {"c16_3x3_s2_k80_clip", 2, 16, 9, 10, 80, 3, 2, 1, false, "Clip"},
    {"c16_2x2_at_limits", 2, 16, 7, 7, 16, 2, 1, 0, false, "Relu", true},
    // Multiples of 64 input channels: kiln's int8 implicit GEMM is a candidate (as for kCases[4]): a strided
    // 1x1 over two channel slices with a partial output-channel tile, a strided 3x3 with Clip and 80 outputs,
    // a 1x1 over three slices with a residual.
    {"c128_1x1_s2_k48", 2, 128, 9, 11, 48, 1, 2, 0, false, "Relu"},
    {"c64_3x3_s2_k80_clip", 3, 64, 13, 10, 80, 3, 2, 1, false, "Clip"},
    {"c192_1x1_residual", 2, 192, 7, 9, 32, 1, 1, 0, true, "Relu"},
    // Stride-1 1x1s take wider channel slices: 256 (one slice, residual), 128 (three), 256 (two, no activation).
    {"c256_1x1_residual", 2, 256, 5, 7, 32, 1, 1, 0, true, "Relu"},
    {"c384_1x1", 1, 384, 6, 5, 64, 1, 1, 0, false, "Relu"},
    {"c512_1x1_k16", 2, 512, 3, 9, 16, 1, 1, 0, false, ""},
    // 576 tiles: more than the H100's 264 blocks take in one round, so blocks loop over 2-3 tiles (and reuse
    // their W stages: one slice).
    {"c64_1x1_many_tiles", 16, 64, 64, 72, 32, 1, 1, 0, false, "Relu"},
    // kiln's pointwise GEMM takes the 1x1s above too; these two need W's rows resident with one block per
    // multiprocessor (64 and 128 KB): a strided one with a residual and a partial output-channel tile, and a
    // 2048-channel one over 16 slices.
    {"c1024_1x1_s2_k80_residual", 2, 1024, 7, 9, 80, 1, 2, 0, true, "Relu"},
    {"c2048_1x1_k32_residual", 1, 2048, 3, 5, 32, 1, 1, 0, true, "Clip"},
};

// Whether kiln's implicit GEMMs (few_channel_conv_kernel.cc, int8_conv_kernel.cc) run the case.
bool few_channel_kernel_runs(const QConvCase& c) { return c.c == 16 && c.m % 16 == 0 && !c.residual; }
bool int8_igemm_runs(const QConvCase& c) { return c.c % 64 == 0 && c.m % 16 == 0 && c.k * c.k <= 9; }
bool int8_pointwise_runs(const QConvCase& c) { return c.c % 64 == 0 && c.m % 16 == 0 && c.k == 1 && c.pad == 0; }
// Its three-blocks variant, where three blocks' W rows and two stages fit (up to 256 channels in these cases).
bool int8_pointwise_3_blocks_runs(const QConvCase& c) { return int8_pointwise_runs(c) && c.c <= 256; }
// Whether cuBLASLt's int8 products (cublaslt_qconv.cc) run it: stride-1 1x1s over multiples of 16 channels whose
// output range its epilogue gives (no activation or Relu; not Clip).
bool cublaslt_runs(const QConvCase& c) {
  return c.k == 1 && c.stride == 1 && c.pad == 0 && c.c % 16 == 0 && c.m % 16 == 0 && c.act != "Clip";
}
size_t count_with_prefix(const std::vector<std::string>& ids, const std::string& prefix) {
  return static_cast<size_t>(
      std::count_if(ids.begin(), ids.end(), [&](const std::string& id) { return id.starts_with(prefix); }));
}

Tensor random_i8(const Dims& d, uint32_t seed, bool extreme) {
  Tensor t = random_tensor(DataType::kI8, d, -128.0f, 127.0f, seed);
  if (extreme)
    for (int64_t i = 0; i < t.size(); ++i) t.data<int8_t>()[i] = (i % 3 == 0) ? int8_t{-128} : int8_t{127};
  return t;
}

struct Built {
  std::vector<OpInput> inputs;
  OpAttributes attrs;
};

Built qconv_inputs(const QConvCase& c) {
  Built b;
  const int64_t oh = (c.h + 2 * c.pad - c.k) / c.stride + 1, ow = (c.w + 2 * c.pad - c.k) / c.stride + 1;
  const float y_scale = c.extreme ? 0.5f : 0.05f;
  auto scalar_f = [](float v) { return Tensor::scalar<float>(v); };
  auto zero_i8 = [] { return Tensor::scalar<int8_t>(0); };
  Tensor w_scale = random_tensor(DataType::kF32, {c.m}, 0.001f, 0.004f, 11);
  Tensor bias = random_tensor(DataType::kI32, {c.m}, -3000.0f, 3000.0f, 12);
  b.inputs = {OpInput(random_i8({c.n, c.h, c.w, c.c}, 1, c.extreme)), OpInput(scalar_f(0.02f), true),
              OpInput(zero_i8(), true), OpInput(random_i8({c.m, c.c, c.k, c.k}, 2, c.extreme), true),
              OpInput(w_scale, true), OpInput(Tensor(DataType::kI8, {c.m}), true),
              OpInput(scalar_f(y_scale), true), OpInput(zero_i8(), true), OpInput(bias, true)};
  for (int8_t& v : b.inputs[5].value.span<int8_t>()) v = 0;
  if (c.residual) {
    b.inputs.emplace_back(random_i8({c.n, oh, ow, c.m}, 3, c.extreme));
    b.inputs.emplace_back(scalar_f(0.04f), true);
    b.inputs.emplace_back(zero_i8(), true);
  }
  b.attrs["kernel_shape"] = Attribute::of_ints({c.k, c.k});
  b.attrs["strides"] = Attribute::of_ints({c.stride, c.stride});
  b.attrs["pads"] = Attribute::of_ints({c.pad, c.pad, c.pad, c.pad});
  b.attrs["layout"] = Attribute::of_string("NHWC");
  if (!c.act.empty()) b.attrs["activation"] = Attribute::of_string(c.act);
  if (c.act == "Clip") b.attrs["activation_params"] = Attribute::of_floats({-1.5f, 2.0f});
  return b;
}

const SingleOpOptions kKiln{.domain = "kiln"};

// |gpu - ref| <= 1 everywhere and at most 1% of the outputs differ.
::testing::AssertionResult within_one_step(const Tensor& gpu, const Tensor& ref) {
  if (gpu.dims() != ref.dims() || gpu.dtype() != ref.dtype())
    return ::testing::AssertionFailure() << "gpu " << gpu.type_string() << " vs reference " << ref.type_string();
  int64_t differ = 0;
  for (int64_t i = 0; i < gpu.size(); ++i) {
    const int64_t g = gpu.element_as_int64(i), r = ref.element_as_int64(i);
    if (std::abs(g - r) > 1)
      return ::testing::AssertionFailure() << "element " << i << ": gpu " << g << ", reference " << r;
    differ += g != r;
  }
  if (differ * 100 > gpu.size())
    return ::testing::AssertionFailure() << differ << " of " << gpu.size() << " outputs differ by one step";
  return ::testing::AssertionSuccess() << differ << " of " << gpu.size() << " differ by one step";
}

// The case's one-node graph and the reference kernel's output.
struct Prepared {
  SingleOpGraph graph;
  Tensor ref;
};
Result<Prepared> prepare_case(const QConvCase& c) {
  Built b = qconv_inputs(c);
  Prepared p;
  KILN_ASSIGN_OR_RETURN(p.graph, build_single_op("QConv", 1, b.inputs, b.attrs, 1, kKiln));
  KILN_ASSIGN_OR_RETURN(p.ref, first_output(run_single_op("QConv", 1, b.inputs, b.attrs, 1, kKiln)));
  return p;
}

TEST(CudaQConv, MatchesReferenceWithEveryCandidateTactic) {
  KILN_REQUIRE_GPU();
  for (const QConvCase& c : kCases) {
    SCOPED_TRACE(c.name);
    auto p = prepare_case(c);
    ASSERT_TRUE(p.ok()) << p.status().message();
    const SingleOpGraph* g = &p->graph;
    const Tensor* ref = &p->ref;
    std::string tactic;
    auto gpu = run_node_on_cuda(*g, {}, &tactic);
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    EXPECT_TRUE(within_one_step(gpu->at(0), *ref)) << "default tactic " << tactic;
    auto ids = node_candidate_tactics(*g);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    EXPECT_FALSE(ids->empty());
    std::string listed;
    EXPECT_EQ(std::count(ids->begin(), ids->end(), "cuda:few_channel_igemm"), few_channel_kernel_runs(c) ? 1 : 0);
    EXPECT_EQ(std::count(ids->begin(), ids->end(), "cuda:int8_igemm"), int8_igemm_runs(c) ? 1 : 0);
    EXPECT_EQ(std::count(ids->begin(), ids->end(), "cuda:int8_pointwise"), int8_pointwise_runs(c) ? 1 : 0);
    EXPECT_EQ(std::count(ids->begin(), ids->end(), "cuda:int8_pointwise_3_blocks"),
              int8_pointwise_3_blocks_runs(c) ? 1 : 0);
    EXPECT_EQ(count_with_prefix(*ids, "cublaslt:") > 0, cublaslt_runs(c));
    for (const std::string& id : *ids) {
      listed += id + " ";
      auto t = run_node_on_cuda(*g, {.tactic = id});
      ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
      EXPECT_TRUE(within_one_step(t->at(0), *ref)) << "tactic " << id;
    }
    std::printf("[ qconv    ] %s: default %s; candidates %s\n", c.name, tactic.c_str(), listed.c_str());
  }
}

// kiln's own kernels alone on every case they run (the test above also times cuDNN's many candidates: ~3 min):
// the quick check after a change to one of them.
TEST(CudaQConv, OwnKernelsMatchReference) {
  KILN_REQUIRE_GPU();
  int runs = 0;
  for (const QConvCase& c : kCases) {
    SCOPED_TRACE(c.name);
    auto p = prepare_case(c);
    ASSERT_TRUE(p.ok()) << p.status().message();
    const std::pair<const char*, bool> own[] = {{"cuda:few_channel_igemm", few_channel_kernel_runs(c)},
                                                {"cuda:int8_igemm", int8_igemm_runs(c)},
                                                {"cuda:int8_pointwise", int8_pointwise_runs(c)},
                                                {"cuda:int8_pointwise_3_blocks", int8_pointwise_3_blocks_runs(c)}};
    for (const auto& [id, runs_case] : own) {
      if (!runs_case) continue;
      auto t = run_node_on_cuda(p->graph, {.tactic = id});
      ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
      EXPECT_TRUE(within_one_step(t->at(0), p->ref)) << "tactic " << id;
      ++runs;
    }
  }
  EXPECT_GT(runs, 20);
}

// cuBLASLt's int8 products, every algorithm its heuristics offer, on every case they run; captured too.
TEST(CudaQConv, CublasLtProductsMatchReference) {
  KILN_REQUIRE_GPU();
  int runs = 0;
  for (const QConvCase& c : kCases) {
    if (c.k != 1) continue;  // listing every candidate of the larger windows takes minutes; none is cuBLASLt's
    SCOPED_TRACE(c.name);
    auto p = prepare_case(c);
    ASSERT_TRUE(p.ok()) << p.status().message();
    auto ids = node_candidate_tactics(p->graph);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    ASSERT_EQ(count_with_prefix(*ids, "cublaslt:") > 0, cublaslt_runs(c));
    for (const std::string& id : *ids) {
      if (!id.starts_with("cublaslt:")) continue;
      for (Launch launch : {Launch::kEager, Launch::kCaptured}) {
        auto t = run_node_on_cuda(p->graph, {.tactic = id}, nullptr, launch);
        ASSERT_TRUE(t.ok()) << id << ": " << t.status().message();
        EXPECT_TRUE(within_one_step(t->at(0), p->ref)) << "tactic " << id;
      }
      ++runs;
    }
  }
  EXPECT_GE(runs, 6);  // the six cases it runs, at least one algorithm each
}

TEST(CudaQConv, CapturedAndMisalignedLaunches) {
  KILN_REQUIRE_GPU();
  // cuDNN's default tactic on two cases, kiln's implicit GEMMs on the stem case and residual 1x1s (64- and
  // 256-channel slices), its pointwise GEMM on residual 1x1s (64-channel slices; strided, one block per
  // multiprocessor), the three-blocks variant on a residual and a strided 1x1 (128-channel slices).
  const std::pair<QConvCase, std::string> runs[] = {{kCases[0], ""},
                                                    {kCases[1], ""},
                                                    {kCases[6], "cuda:few_channel_igemm"},
                                                    {kCases[11], "cuda:int8_igemm"},
                                                    {kCases[12], "cuda:int8_igemm"},
                                                    {kCases[11], "cuda:int8_pointwise"},
                                                    {kCases[16], "cuda:int8_pointwise"},
                                                    {kCases[12], "cuda:int8_pointwise_3_blocks"},
                                                    {kCases[9], "cuda:int8_pointwise_3_blocks"}};
  for (const auto& [c, tactic] : runs) {
    SCOPED_TRACE(std::string(c.name) + " " + tactic);
    auto p = prepare_case(c);
    ASSERT_TRUE(p.ok()) << p.status().message();
    const SingleOpGraph* g = &p->graph;
    const Tensor* ref = &p->ref;
    auto captured = run_node_on_cuda(*g, {.tactic = tactic}, nullptr, Launch::kCaptured);
    ASSERT_TRUE(captured.ok()) << captured.status().message();
    EXPECT_TRUE(within_one_step(captured->at(0), *ref));
    // 16-byte copies want aligned tensors: a misaligned buffer must be refused with a message, not misread.
    auto misaligned = run_node_on_cuda(*g, {.tactic = tactic}, nullptr, Launch::kCapturedMisaligned);
    if (misaligned.ok()) EXPECT_TRUE(within_one_step(misaligned->at(0), *ref));
    else EXPECT_NE(misaligned.status().message().find("aligned"), std::string::npos) << misaligned.status().message();
  }
}

TEST(CudaQConv, AsymmetricOrNchwGetsNoKernel) {
  KILN_REQUIRE_GPU();
  Built b = qconv_inputs(kCases[3]);
  b.inputs[7] = OpInput(Tensor::scalar<int8_t>(3), true);  // y_zero_point 3: not kiln's symmetric scheme
  auto g = build_single_op("QConv", 1, b.inputs, b.attrs, 1, kKiln);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto k = cuda::create_cuda_kernel(*g->graph->nodes()[0], {});
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, nullptr);

  Built nchw = qconv_inputs(kCases[3]);
  nchw.attrs.erase("layout");
  const QConvCase& c = kCases[3];
  nchw.inputs[0] = OpInput(random_i8({c.n, c.c, c.h, c.w}, 1, false));
  auto g2 = build_single_op("QConv", 1, nchw.inputs, nchw.attrs, 1, kKiln);
  ASSERT_TRUE(g2.ok()) << g2.status().message();
  auto k2 = cuda::create_cuda_kernel(*g2->graph->nodes()[0], {});
  ASSERT_TRUE(k2.ok()) << k2.status().message();
  EXPECT_EQ(*k2, nullptr);
}

}  // namespace
}  // namespace kiln
