// Focused tests of the nn family (convolutions, pools, normalizations, Dropout) and of conv_geometry: cases
// the official backend tests miss, and bad input that must give an error Status rather than a crash.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_def.h"
#include "ir/ops/conv_geometry.h"
#include "ir/shape_inference.h"
#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

// Deterministic, varied test data.
std::vector<float> ramp(size_t n, float scale = 0.37f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * scale) * 2.0f;
  return v;
}
Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }

// --- conv_geometry ---------------------------------------------------------------------------------------

TEST(NnGeometry, SameLowerPutsTheOddPadFirst) {
  Node n;
  n.attrs["auto_pad"] = Attribute::of_string("SAME_LOWER");
  n.attrs["strides"] = ints({2});
  auto a = read_window_attrs(n, 1, {4}, false);
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto g = window_geometry(*a, {7});
  ASSERT_TRUE(g.ok()) << g.status().message();
  // out = ceil(7/2) = 4; total pad = 3*2 + 4 - 7 = 3 -> 2 before, 1 after.
  EXPECT_EQ(g->out, (Dims{4}));
  EXPECT_EQ(g->pads, (std::vector<int64_t>{2, 1}));
}

TEST(NnGeometry, CeilModeDropsAWindowStartingInThePadding) {
  Node n;
  n.attrs["ceil_mode"] = Attribute::of_int(1);
  n.attrs["kernel_shape"] = ints({2});
  n.attrs["strides"] = ints({2});
  n.attrs["pads"] = ints({1, 1});
  auto a = read_window_attrs(n, 1, {}, false);
  ASSERT_TRUE(a.ok()) << a.status().message();
  // in 4, padded 6: ceil((6-2)/2)+1 = 3 windows starting at -1, 1, 3: all start inside the input.
  EXPECT_EQ(window_geometry(*a, {4})->out, (Dims{3}));
  // in 5, padded 7: ceil((7-2)/2)+1 = 4 windows, but the last starts at 5, past the input -> dropped.
  EXPECT_EQ(window_geometry(*a, {5})->out, (Dims{3}));
  n.attrs["pads"] = ints({0, 1});
  a = read_window_attrs(n, 1, {}, false);
  // in 4, pads (0,1): ceil(3/2)+1 = 3, but the third window starts at 4 (only padding) -> dropped.
  EXPECT_EQ(window_geometry(*a, {4})->out, (Dims{2}));
}

TEST(NnGeometry, SymbolicExtentsStayUnknown) {
  Node n;
  n.attrs["strides"] = ints({2, 1});
  auto a = read_window_attrs(n, 2, {3, -1}, false);
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto out = window_output_dims(*a, {Dim(9), Dim(9)});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0], Dim(4));
  EXPECT_FALSE((*out)[1].known());  // the kernel extent is unknown
  out = window_output_dims(*a, {Dim::symbolic("H"), Dim(9)});
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)[0].known());
}

TEST(NnGeometry, RejectsBadAttributes) {
  Node n;
  n.attrs["auto_pad"] = Attribute::of_string("SAME");
  EXPECT_FALSE(read_window_attrs(n, 2, {3, 3}, false).ok());
  n.attrs.clear();
  n.attrs["pads"] = ints({1, 1, 1});
  EXPECT_FALSE(read_window_attrs(n, 2, {3, 3}, false).ok());
  n.attrs.clear();
  n.attrs["strides"] = ints({0, 1});
  EXPECT_FALSE(read_window_attrs(n, 2, {3, 3}, false).ok());
  n.attrs.clear();
  n.attrs["kernel_shape"] = ints({2, 2});
  EXPECT_FALSE(read_window_attrs(n, 2, {3, 3}, false).ok());  // disagrees with the weight
  EXPECT_FALSE(read_window_attrs(Node(), 2, {}, false).ok());  // pools need kernel_shape
}

// --- Conv / ConvTranspose --------------------------------------------------------------------------------

// Conv written independently: zero-padded input buffer, then a direct sum.
std::vector<float> naive_conv2d(const std::vector<float>& x, Dims xd, const std::vector<float>& w, Dims wd,
                                int64_t group, std::array<int64_t, 2> s, std::array<int64_t, 2> d,
                                std::array<int64_t, 4> p, Dims& out) {
  const int64_t N = xd[0], C = xd[1], H = xd[2], W = xd[3], M = wd[0], CG = wd[1], KH = wd[2], KW = wd[3];
  const int64_t PH = H + p[0] + p[2], PW = W + p[1] + p[3];
  std::vector<double> padded(N * C * PH * PW, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t x_ = 0; x_ < W; ++x_)
          padded[((n * C + c) * PH + h + p[0]) * PW + x_ + p[1]] = x[((n * C + c) * H + h) * W + x_];
  const int64_t OH = (PH - (KH - 1) * d[0] - 1) / s[0] + 1, OW = (PW - (KW - 1) * d[1] - 1) / s[1] + 1;
  out = {N, M, OH, OW};
  std::vector<float> y(N * M * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = 0;
          const int64_t g = m / (M / group);
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw)
                acc += padded[((n * C + g * CG + c) * PH + oh * s[0] + kh * d[0]) * PW + ow * s[1] + kw * d[1]] *
                       w[((m * CG + c) * KH + kh) * KW + kw];
          y[((n * M + m) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
  return y;
}

TEST(RefNn, ConvGroupsDilationsStridesAsymmetricPads) {
  const Dims xd = {2, 4, 7, 6}, wd = {6, 2, 3, 2};
  auto x = ramp(element_count(xd)), w = ramp(element_count(wd), 0.91f);
  Dims expected_dims;
  auto expected = naive_conv2d(x, xd, w, wd, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}, expected_dims);
  auto out = run_single_op("Conv", 11, {{tensor<float>(x, xd)}, {tensor<float>(w, wd), true}},
                    {{"group", Attribute::of_int(2)},
                     {"strides", ints({2, 1})},
                     {"dilations", ints({1, 2})},
                     {"pads", ints({1, 0, 2, 1})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ((*out)[0].dims(), expected_dims);
  auto got = values((*out)[0]);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4) << i;
}

TEST(RefNn, ConvTransposeIsTheAdjointOfConv) {
  // <Conv(x), y> == <x, ConvTranspose(y)> for the same W, strides, dilations and pads.
  const Dims xd = {1, 3, 6, 5}, wd = {2, 3, 3, 2};
  std::map<std::string, Attribute> attrs = {
      {"strides", ints({2, 1})}, {"dilations", ints({1, 2})}, {"pads", ints({1, 0, 1, 1})}};
  auto x = ramp(element_count(xd)), w = ramp(element_count(wd), 0.53f);
  auto cx = run_single_op("Conv", 11, {{tensor<float>(x, xd)}, {tensor<float>(w, wd)}}, attrs);
  ASSERT_TRUE(cx.ok()) << cx.status().message();
  Dims yd = (*cx)[0].dims();
  auto y = ramp(element_count(yd), 0.29f);
  // output_padding recovers X's last row, which Conv reads but the natural transposed extent misses.
  auto ty = run_single_op("ConvTranspose", 11, {{tensor<float>(y, yd)}, {tensor<float>(w, wd)}},
                   {{"strides", ints({2, 1})},
                    {"dilations", ints({1, 2})},
                    {"pads", ints({1, 0, 1, 1})},
                    {"output_padding", ints({1, 0})}});
  ASSERT_TRUE(ty.ok()) << ty.status().message();
  ASSERT_EQ((*ty)[0].dims(), xd);
  double lhs = 0, rhs = 0;
  auto cv = values((*cx)[0]), tv = values((*ty)[0]);
  for (size_t i = 0; i < cv.size(); ++i) lhs += double(cv[i]) * y[i];
  for (size_t i = 0; i < tv.size(); ++i) rhs += double(tv[i]) * x[i];
  EXPECT_NEAR(lhs, rhs, 1e-3 * std::abs(lhs) + 1e-4);
}

TEST(RefNn, ConvHalfMatchesFloat) {
  const Dims xd = {1, 2, 5, 5}, wd = {3, 2, 3, 3};
  auto x = ramp(element_count(xd)), w = ramp(element_count(wd), 0.7f);
  auto to_half = [](const std::vector<float>& v, Dims d) {
    Tensor t(DataType::kF16, std::move(d));
    for (size_t i = 0; i < v.size(); ++i) t.data<Float16>()[i] = Float16(v[i]);
    return t;
  };
  // Round the float inputs through half first so both runs see the same values.
  std::vector<float> xh(x.size()), wh(w.size());
  for (size_t i = 0; i < x.size(); ++i) xh[i] = static_cast<float>(Float16(x[i]));
  for (size_t i = 0; i < w.size(); ++i) wh[i] = static_cast<float>(Float16(w[i]));
  auto f = run_single_op("Conv", 11, {{tensor<float>(xh, xd)}, {tensor<float>(wh, wd)}}, {{"pads", ints({1, 1, 1, 1})}});
  auto h = run_single_op("Conv", 11, {{to_half(x, xd)}, {to_half(w, wd)}}, {{"pads", ints({1, 1, 1, 1})}});
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ((*h)[0].dtype(), DataType::kF16);
  auto fv = values((*f)[0]);
  for (size_t i = 0; i < fv.size(); ++i)
    EXPECT_NEAR(static_cast<float>((*h)[0].data<Float16>()[i]), fv[i], 1e-3 * std::abs(fv[i]) + 1e-3) << i;
}

TEST(RefNn, ConvInfersSymbolicBatch) {
  Graph g;
  g.opset_imports[""] = 13;
  Value* x = g.add_value("x", {DataType::kF32, Shape({Dim::symbolic("N"), Dim(3), Dim(), Dim(8)})});
  Value* w = g.add_value("w", {DataType::kF32, Shape::from_dims({5, 3, 3, 3})});
  w->constant = Tensor(DataType::kF32, {5, 3, 3, 3});
  Value* y = g.add_value("y");
  auto node = std::make_unique<Node>();
  node->op_type = "Conv";
  node->opset = 13;
  node->def = find_op_def("", "Conv");
  node->inputs = {x, w};
  node->outputs = {y};
  node->attrs["strides"] = ints({2, 2});
  g.inputs.push_back(x);
  g.outputs.push_back(y);
  g.add_node(std::move(node));
  ASSERT_TRUE(infer_shapes(g).ok());
  ASSERT_EQ(y->type.shape.rank(), 4u);
  EXPECT_EQ(y->type.shape[0], Dim::symbolic("N"));
  EXPECT_EQ(y->type.shape[1], Dim(5));
  EXPECT_FALSE(y->type.shape[2].known());
  EXPECT_EQ(y->type.shape[3], Dim(3));
}

TEST(RefNn, ConvBadInputGivesErrors) {
  auto x = tensor<float>(ramp(2 * 3 * 4 * 4), {2, 3, 4, 4});
  // Channel mismatch (weight expects 2 input channels).
  EXPECT_FALSE(run_single_op("Conv", 11, {{x}, {tensor<float>(ramp(4 * 2 * 3 * 3), {4, 2, 3, 3})}}).ok());
  // Kernel larger than the input.
  EXPECT_FALSE(run_single_op("Conv", 11, {{x}, {tensor<float>(ramp(4 * 3 * 5 * 5), {4, 3, 5, 5})}}).ok());
  // Bias of the wrong length.
  EXPECT_FALSE(run_single_op("Conv", 11, {{x}, {tensor<float>(ramp(4 * 3 * 3 * 3), {4, 3, 3, 3})}, {tensor<float>({1, 2}, {2})}}).ok());
  // Rank-2 input.
  EXPECT_FALSE(run_single_op("Conv", 11, {{tensor<float>(ramp(6), {2, 3})}, {tensor<float>(ramp(6), {2, 3})}}).ok());
  // Group that does not divide the channels.
  EXPECT_FALSE(run_single_op("ConvTranspose", 11, {{x}, {tensor<float>(ramp(3 * 2 * 3 * 3), {3, 2, 3, 3})}},
                      {{"group", Attribute::of_int(2)}})
                   .ok());
}

// --- pools -------------------------------------------------------------------------------------------------

TEST(RefNn, MaxPoolIndicesStorageOrderAndUnpoolRoundTrip) {
  // 1x1x3x4: max of each 2x2 window (stride 2) with ceil_mode.
  std::vector<float> x = {1, 9, 2, 3, 4, 5, 8, 6, 7, 0, 11, 10};
  std::map<std::string, Attribute> attrs = {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})},
                                            {"ceil_mode", Attribute::of_int(1)}};
  auto out = run_single_op("MaxPool", 12, {{tensor<float>(x, {1, 1, 3, 4})}}, attrs, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values((*out)[0]), (std::vector<float>{9, 8, 7, 11}));
  auto idx = (*out)[1].span<const int64_t>();
  EXPECT_EQ(std::vector<int64_t>(idx.begin(), idx.end()), (std::vector<int64_t>{1, 6, 8, 10}));
  attrs["storage_order"] = Attribute::of_int(1);  // column-major: (h, w) -> h + w * 3
  out = run_single_op("MaxPool", 12, {{tensor<float>(x, {1, 1, 3, 4})}}, attrs, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  idx = (*out)[1].span<const int64_t>();
  EXPECT_EQ(std::vector<int64_t>(idx.begin(), idx.end()), (std::vector<int64_t>{3, 7, 2, 8}));

  // MaxUnpool puts each maximum back where MaxPool found it.
  auto pooled = run_single_op("MaxPool", 12, {{tensor<float>(x, {1, 1, 3, 4})}},
                       {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}, 2);
  ASSERT_TRUE(pooled.ok());
  auto shape = Tensor::from_vector<int64_t>({1, 1, 3, 4}, {4});
  auto un = run_single_op("MaxUnpool", 11, {{(*pooled)[0]}, {(*pooled)[1]}, {shape}},
                   {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  ASSERT_TRUE(un.ok()) << un.status().message();
  EXPECT_EQ(values((*un)[0]), (std::vector<float>{0, 9, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0}));
  // Out-of-range index.
  auto bad_idx = Tensor::from_vector<int64_t>({0, 99}, {1, 1, 1, 2});
  EXPECT_FALSE(run_single_op("MaxUnpool", 11, {{tensor<float>({1, 2}, {1, 1, 1, 2})}, {bad_idx}},
                      {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}})
                   .ok());
}

TEST(RefNn, LpPoolAndGlobalLpPool) {
  // 1-D windows of 2, stride 2: p=2 gives the Euclidean norm, p=1 the sum of magnitudes.
  auto x = tensor<float>({3, -4, 6, 8, -1, 0}, {1, 1, 6});
  auto p2 = run_single_op("LpPool", 11, {{x}}, {{"kernel_shape", ints({2})}, {"strides", ints({2})}});
  ASSERT_TRUE(p2.ok()) << p2.status().message();
  EXPECT_EQ(values((*p2)[0]), (std::vector<float>{5, 10, 1}));
  auto p1 = run_single_op("LpPool", 11, {{x}}, {{"kernel_shape", ints({2})}, {"strides", ints({2})}, {"p", Attribute::of_int(1)}});
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(values((*p1)[0]), (std::vector<float>{7, 14, 1}));
  auto g = run_single_op("GlobalLpPool", 2, {{tensor<float>({3, 4, 12, 0}, {1, 2, 2})}});
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)[0].dims(), (Dims{1, 2, 1}));
  EXPECT_EQ(values((*g)[0]), (std::vector<float>{5, 12}));
}

TEST(RefNn, AveragePoolCountIncludePadCountsOnlyThePaddedArea) {
  // 1-D: in 3, k 2, s 2, pads (1, 0), ceil: windows [-1,0] and [1,2]; the second is complete.
  auto x = tensor<float>({2, 4, 6}, {1, 1, 3});
  std::map<std::string, Attribute> attrs = {{"kernel_shape", ints({2})}, {"strides", ints({2})}, {"pads", ints({1, 0})}};
  auto out = run_single_op("AveragePool", 11, {{x}}, attrs);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values((*out)[0]), (std::vector<float>{2, 5}));
  attrs["count_include_pad"] = Attribute::of_int(1);
  out = run_single_op("AveragePool", 11, {{x}}, attrs);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(values((*out)[0]), (std::vector<float>{1, 5}));
}

TEST(RefNn, PoolsRejectBadInput) {
  EXPECT_FALSE(run_single_op("MaxPool", 12, {{tensor<float>({1, 2}, {1, 2})}}, {{"kernel_shape", ints({1})}}).ok());
  EXPECT_FALSE(run_single_op("MaxPool", 12, {{tensor<float>({1, 2, 3}, {1, 1, 3})}}, {{"kernel_shape", ints({4})}}).ok());
  EXPECT_FALSE(run_single_op("AveragePool", 11, {{tensor<float>({1, 2, 3}, {1, 1, 3})}}, {{"kernel_shape", ints({2, 2})}}).ok());
  EXPECT_FALSE(
      run_single_op("MaxPool", 12, {{tensor<float>({1, 2, 3}, {1, 1, 3})}}, {{"kernel_shape", ints({2})}, {"storage_order", Attribute::of_int(5)}})
          .ok());
  EXPECT_FALSE(run_single_op("LpPool", 11, {{tensor<float>({1, 2, 3}, {1, 1, 3})}}, {{"kernel_shape", ints({2})}, {"p", Attribute::of_int(0)}})
                   .ok());
}

// --- normalizations ------------------------------------------------------------------------------------------

TEST(RefNn, GroupNormWithOneChannelPerGroupEqualsInstanceNorm) {
  const Dims xd = {2, 3, 2, 2};
  auto x = tensor<float>(ramp(element_count(xd)), xd);
  auto scale = tensor<float>({0.5f, 2.0f, -1.0f}, {3}), bias = tensor<float>({1.0f, 0.0f, 0.25f}, {3});
  auto gn = run_single_op("GroupNormalization", 18, {{x}, {scale}, {bias}}, {{"num_groups", Attribute::of_int(3)}});
  auto in = run_single_op("InstanceNormalization", 6, {{x}, {scale}, {bias}});
  ASSERT_TRUE(gn.ok()) << gn.status().message();
  ASSERT_TRUE(in.ok()) << in.status().message();
  auto a = values((*gn)[0]), b = values((*in)[0]);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;
  // One group over all channels: every sample has mean 0 and variance ~1 (scale 1, bias 0).
  auto one = run_single_op("GroupNormalization", 18, {{x}, {tensor<float>({1}, {1})}, {tensor<float>({0}, {1})}},
                    {{"num_groups", Attribute::of_int(1)}});
  ASSERT_TRUE(one.ok()) << one.status().message();
  auto v = values((*one)[0]);
  for (int n = 0; n < 2; ++n) {
    double m = 0, s = 0;
    for (int i = 0; i < 12; ++i) m += v[n * 12 + i];
    for (int i = 0; i < 12; ++i) s += v[n * 12 + i] * v[n * 12 + i];
    EXPECT_NEAR(m / 12, 0.0, 1e-5);
    EXPECT_NEAR(s / 12, 1.0, 1e-3);
  }
  EXPECT_FALSE(run_single_op("GroupNormalization", 18, {{x}, {scale}, {bias}}, {{"num_groups", Attribute::of_int(2)}}).ok());
}

TEST(RefNn, LayerNormStatisticsOutputs) {
  auto x = tensor<float>({1, 2, 3, 4, 10, 10, 10, 14}, {2, 4});
  auto out = run_single_op("LayerNormalization", 17, {{x}, {tensor<float>({1, 1, 1, 1}, {4})}}, {}, 3);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[1].dims(), (Dims{2, 1}));
  EXPECT_EQ(values((*out)[1]), (std::vector<float>{2.5f, 11.0f}));
  // Variances 1.25 and 3: InvStdDev = 1/sqrt(var + 1e-5).
  EXPECT_NEAR(values((*out)[2])[0], 1.0 / std::sqrt(1.25 + 1e-5), 1e-6);
  EXPECT_NEAR(values((*out)[2])[1], 1.0 / std::sqrt(3.0 + 1e-5), 1e-6);
  EXPECT_FALSE(run_single_op("LayerNormalization", 17, {{x}, {tensor<float>({1, 1, 1, 1}, {4})}}, {{"axis", Attribute::of_int(2)}}).ok());
  EXPECT_FALSE(run_single_op("LayerNormalization", 17, {{x}, {tensor<float>({1, 1, 1}, {3})}}).ok());
}

TEST(RefNn, LpNormalizationAndMvn) {
  auto x = tensor<float>({3, 4, 0, 0, -1, 1}, {3, 2});
  auto l2 = run_single_op("LpNormalization", 1, {{x}});
  ASSERT_TRUE(l2.ok()) << l2.status().message();
  auto v = values((*l2)[0]);
  EXPECT_NEAR(v[0], 0.6, 1e-6);
  EXPECT_NEAR(v[1], 0.8, 1e-6);
  EXPECT_EQ(v[2], 0.0f);  // a zero row stays zero
  auto l1 = run_single_op("LpNormalization", 1, {{x}}, {{"axis", Attribute::of_int(0)}, {"p", Attribute::of_int(1)}});
  ASSERT_TRUE(l1.ok());
  EXPECT_NEAR(values((*l1)[0])[0], 0.75, 1e-6);
  EXPECT_FALSE(run_single_op("LpNormalization", 1, {{x}}, {{"p", Attribute::of_int(3)}}).ok());

  auto mvn = run_single_op("MeanVarianceNormalization", 13, {{tensor<float>(ramp(12), {1, 3, 2, 2})}}, {{"axes", ints({1, 2, 3})}});
  ASSERT_TRUE(mvn.ok()) << mvn.status().message();
  double m = 0, s = 0;
  for (float f : values((*mvn)[0])) m += f, s += f * f;
  EXPECT_NEAR(m / 12, 0.0, 1e-5);
  EXPECT_NEAR(s / 12, 1.0, 1e-4);
  EXPECT_FALSE(run_single_op("MeanVarianceNormalization", 13, {{tensor<float>(ramp(4), {2, 2})}}, {{"axes", ints({3})}}).ok());
}

TEST(RefNn, BatchNormAndLrnRejectBadInput) {
  auto x = tensor<float>(ramp(12), {1, 3, 2, 2});
  auto c3 = tensor<float>({1, 1, 1}, {3});
  EXPECT_TRUE(run_single_op("BatchNormalization", 15, {{x}, {c3}, {c3}, {c3}, {c3}}).ok());
  EXPECT_FALSE(run_single_op("BatchNormalization", 15, {{x}, {c3}, {tensor<float>({1, 1}, {2})}, {c3}, {c3}}).ok());
  EXPECT_FALSE(run_single_op("LRN", 13, {{x}}, {{"size", Attribute::of_int(0)}}).ok());
  EXPECT_FALSE(run_single_op("InstanceNormalization", 6, {{tensor<float>(ramp(6), {2, 3})}, {c3}, {c3}}).ok());
}

TEST(RefNn, DropoutInferenceIsIdentityWithTrueMask) {
  auto x = tensor<float>(ramp(6), {2, 3});
  auto out = run_single_op("Dropout", 13, {{x}, {Tensor::scalar<float>(0.5f)}, {Tensor::scalar<bool>(false)}}, {}, 2);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(values((*out)[0]), values(x));
  for (bool b : (*out)[1].span<const bool>()) EXPECT_TRUE(b);
  // Training with ratio 1 is undefined (scale 1/(1-ratio)).
  EXPECT_FALSE(run_single_op("Dropout", 13, {{x}, {Tensor::scalar<float>(1.0f)}, {Tensor::scalar<bool>(true)}}).ok());
  // Old opsets: the mask has X's type.
  auto old = run_single_op("Dropout", 7, {{x}}, {{"ratio", Attribute::of_float(0.3f)}}, 2);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ((*old)[1].dtype(), DataType::kF32);
  EXPECT_EQ(values((*old)[1]), std::vector<float>(6, 1.0f));
}

}  // namespace
}  // namespace kiln
