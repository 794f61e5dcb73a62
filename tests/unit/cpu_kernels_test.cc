// Every oneDNN kernel of the CPU backend against the reference kernels, on random inputs with odd sizes,
// per dtype, through plain and packed (engine-stored) weights.
//
// Tolerances (docs/cpu_backend.md): f32 — max |cpu - ref| <= 1e-4 · max(1, max |ref|) (oneDNN sums in
// float in another order; the reference sums in double). int8 — outputs within one quantization step
// (the reference requantizes in double, oneDNN in float), on CPUs with VNNI; without VNNI oneDNN halves
// the weights (saturation-safe path), so a few steps are allowed there.
#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <cstring>
#include <random>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_kernel.h"
#include "core/float16.h"
#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "ir/text_format.h"
#include "runtime/graph_runner.h"

namespace kiln {
namespace {

std::mt19937 rng(7);

Tensor random_f32(const Dims& dims, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(DataType::kF32, dims);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

// int8 values; `extreme` draws only from the ends of the range (the saturation-prone case).
Tensor random_i8(const Dims& dims, bool extreme = false) {
  Tensor t(DataType::kI8, dims);
  std::uniform_int_distribution<int> d(-128, 127), coin(0, 1);
  for (int8_t& x : t.span<int8_t>()) x = static_cast<int8_t>(extreme ? (coin(rng) ? 127 : -128) : d(rng));
  return t;
}

struct Operand {
  std::string name;
  Tensor value;
  bool constant = true;
};

// One node with the given operands (runtime inputs and constants; "" = omitted) and attributes.
struct SingleNode {
  Graph graph;
  std::map<std::string, Tensor, std::less<>> feeds;

  SingleNode(const std::string& op, const std::string& domain, const std::vector<Operand>& operands,
             std::map<std::string, Attribute> attrs) {
    graph.opset_imports[""] = 19;
    graph.opset_imports["kiln"] = 1;
    std::vector<Value*> inputs;
    for (const Operand& o : operands) {
      if (o.name.empty()) {
        inputs.push_back(nullptr);
      } else if (o.constant) {
        inputs.push_back(add_constant(graph, o.name, o.value));
      } else {
        Value* v = graph.add_value(o.name, {o.value.dtype(), Shape::from_dims(o.value.dims())});
        graph.inputs.push_back(v);
        feeds[o.name] = o.value;
        inputs.push_back(v);
      }
    }
    Value* y = graph.add_value("y");
    auto node = make_node(op, "n", domain.empty() ? 19 : 1, inputs, {y}, domain);
    for (auto& [k, v] : attrs) node->attrs[k] = v;
    graph.add_node(std::move(node));
    graph.outputs.push_back(y);
    Status s = infer_shapes(graph);
    EXPECT_TRUE(s.ok()) << s.message();
  }
};

Result<Tensor> run(const Graph& g, const std::map<std::string, Tensor, std::less<>>& feeds, NodeKernels kernels) {
  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(g, std::move(kernels)));
  KILN_ASSIGN_OR_RETURN(auto outs, runner.run(feeds));
  return outs[0];
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a.element_as_double(i) - b.element_as_double(i)));
  return worst;
}

bool has_vnni() {
  auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

// Runs the node on the reference kernels, on the oneDNN kernel with plain weights, and on the oneDNN kernel
// with weights packed as an engine stores them; expects both fast results within tolerance of the reference.
void expect_matches_reference(SingleNode& t, const char* what) {
  SCOPED_TRACE(what);
  auto ref = run(t.graph, t.feeds, {});
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  auto kernels = cpu::create_cpu_kernels(t.graph);
  ASSERT_TRUE(kernels.ok()) << kernels.status().message();
  ASSERT_TRUE((*kernels)[0]) << "the CPU backend did not take the node";
  auto fast = run(t.graph, t.feeds, *kernels);
  ASSERT_TRUE(fast.ok()) << fast.status().message();
  ASSERT_EQ(fast->dims(), ref->dims());
  ASSERT_EQ(fast->dtype(), ref->dtype());

  // Packed: as the builder does, then through the engine's text form and back (the runtime's view).
  Graph packed_graph = std::move(parse_graph(print_graph(t.graph)).value());
  std::map<std::string, Dims> dims = {{"n", t.feeds.begin()->second.dims()}};
  cpu::PackReport report;
  ASSERT_TRUE(cpu::pack_cpu_weights(packed_graph, dims, &report).ok());
  auto packed_kernels = cpu::create_cpu_kernels(packed_graph);
  ASSERT_TRUE(packed_kernels.ok()) << packed_kernels.status().message();
  auto packed = run(packed_graph, t.feeds, *packed_kernels);
  ASSERT_TRUE(packed.ok()) << packed.status().message();

  double tolerance = 0;
  if (ref->dtype() == DataType::kF32) {
    double peak = 1;
    for (int64_t i = 0; i < ref->size(); ++i) peak = std::max(peak, std::abs(ref->element_as_double(i)));
    tolerance = 1e-4 * peak;
  } else {
    tolerance = has_vnni() ? 1 : 4;
  }
  EXPECT_LE(max_abs_diff(*fast, *ref), tolerance);
  EXPECT_LE(max_abs_diff(*packed, *ref), tolerance);
  if (report.nodes_packed) EXPECT_EQ(max_abs_diff(*packed, *fast), 0.0) << "packing changed the result";
}

Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
Attribute str(std::string s) { return Attribute::of_string(std::move(s)); }

struct ConvCase {
  int64_t n, c, h, w, m, k, group, stride, pad, dilation;
  std::string activation;
  bool residual;
  std::string layout;
};

const ConvCase kConvCases[] = {
    {1, 3, 11, 9, 5, 3, 1, 1, 1, 1, "", false, "NCHW"},
    {2, 6, 7, 13, 10, 3, 2, 2, 1, 1, "Relu", false, "NCHW"},
    {3, 7, 9, 9, 7, 3, 7, 1, 1, 1, "Clip", false, "NCHW"},   // depthwise, ReLU6
    {2, 5, 8, 6, 11, 1, 1, 1, 0, 1, "", true, "NCHW"},       // 1x1 with residual
    {1, 4, 10, 10, 6, 3, 1, 1, 2, 2, "LeakyRelu", true, "NCHW"},
    {2, 17, 5, 7, 19, 5, 1, 2, 2, 1, "Relu", false, "NCHW"},
    {1, 3, 11, 9, 5, 3, 1, 1, 1, 1, "Relu", true, "NHWC"},
    {2, 9, 7, 5, 9, 3, 9, 2, 1, 1, "Clip", false, "NHWC"},
    {2, 8, 9, 7, 12, 1, 1, 1, 0, 1, "Swish", true, "NHWC"},  // SiLU (fuse_swish), 1x1 with residual
    {1, 6, 9, 9, 6, 3, 6, 2, 1, 1, "Swish", false, "NHWC"},  // SiLU after a depthwise conv
};

// Activations a QConv has (its int8 form takes Relu and Clip only; quantize_int8 leaves the others float).
bool int8_activation(const std::string& act) { return act != "LeakyRelu" && act != "Swish"; }

std::map<std::string, Attribute> conv_attrs(const ConvCase& c) {
  std::map<std::string, Attribute> a = {{"group", Attribute::of_int(c.group)},
                                        {"strides", ints({c.stride, c.stride})},
                                        {"pads", ints({c.pad, c.pad, c.pad, c.pad})},
                                        {"dilations", ints({c.dilation, c.dilation})},
                                        {"kernel_shape", ints({c.k, c.k})},
                                        {"activation", str(c.activation)}};
  if (c.activation == "Clip") a["activation_params"] = Attribute::of_floats({0.0f, 6.0f});
  if (c.activation == "LeakyRelu") a["activation_params"] = Attribute::of_floats({0.1f});
  if (c.layout == "NHWC") a["layout"] = str("NHWC");
  return a;
}

Dims conv_out(const ConvCase& c) {
  int64_t span = (c.k - 1) * c.dilation + 1;
  int64_t oh = (c.h + 2 * c.pad - span) / c.stride + 1, ow = (c.w + 2 * c.pad - span) / c.stride + 1;
  return c.layout == "NHWC" ? Dims{c.n, oh, ow, c.m} : Dims{c.n, c.m, oh, ow};
}

Dims conv_in(const ConvCase& c) {
  return c.layout == "NHWC" ? Dims{c.n, c.h, c.w, c.c} : Dims{c.n, c.c, c.h, c.w};
}

TEST(CpuKernels, FusedConvF32) {
  for (const ConvCase& c : kConvCases) {
    std::vector<Operand> ops = {{"x", random_f32(conv_in(c)), false},
                                {"w", random_f32({c.m, c.c / c.group, c.k, c.k})},
                                {"b", random_f32({c.m})}};
    if (c.residual) ops.push_back({"z", random_f32(conv_out(c)), false});
    SingleNode t("FusedConv", "kiln", ops, conv_attrs(c));
    expect_matches_reference(t, ("conv case c=" + std::to_string(c.c) + " layout " + c.layout).c_str());
  }
}

TEST(CpuKernels, OnnxConvF32WithoutBias) {
  ConvCase c{2, 5, 9, 7, 4, 3, 1, 2, 1, 1, "", false, "NCHW"};
  auto attrs = conv_attrs(c);
  attrs.erase("activation");
  attrs["auto_pad"] = str("SAME_UPPER");
  attrs.erase("pads");
  SingleNode t("Conv", "", {{"x", random_f32(conv_in(c)), false}, {"w", random_f32({4, 5, 3, 3})}}, attrs);
  expect_matches_reference(t, "Conv SAME_UPPER");
}

// QConv with per-channel weight scales, int32 bias, optional residual and activation; `extreme` inputs and
// weights sit at the int8 limits.
void check_qconv(const ConvCase& c, bool extreme) {
  float x_scale = 0.02f, y_scale = extreme ? 2.0f : 0.05f;
  Tensor w_scale = random_f32({c.m}, 0.002f, 0.01f);
  Tensor bias(DataType::kI32, {c.m});
  for (int32_t& b : bias.span<int32_t>()) b = std::uniform_int_distribution<int>(-3000, 3000)(rng);
  auto i8 = [](int8_t v) { return Tensor::scalar<int8_t>(v); };
  std::vector<Operand> ops = {{"x", random_i8(conv_in(c), extreme), false},
                              {"xs", Tensor::scalar<float>(x_scale)}, {"xz", i8(0)},
                              {"w", random_i8({c.m, c.c / c.group, c.k, c.k}, extreme)},
                              {"ws", w_scale}, {"wz", Tensor(DataType::kI8, {c.m})},
                              {"ys", Tensor::scalar<float>(y_scale)}, {"yz", i8(0)},
                              {"b", bias}};
  if (c.residual) {
    ops.push_back({"z", random_i8(conv_out(c), extreme), false});
    ops.push_back({"zs", Tensor::scalar<float>(0.04f)});
    ops.push_back({"zz", i8(0)});
  }
  SingleNode t("QConv", "kiln", ops, conv_attrs(c));
  expect_matches_reference(t, extreme ? "QConv extreme" : "QConv");
}

TEST(CpuKernels, QConvInt8) {
  for (const ConvCase& c : kConvCases)
    if (int8_activation(c.activation)) check_qconv(c, false);
}

TEST(CpuKernels, QConvInt8AtTheLimits) {
  for (const ConvCase& c : kConvCases)
    if (int8_activation(c.activation)) check_qconv(c, true);
}

// kiln.QLookup: the threaded lookup kernel equals the reference kernel exactly, for int8 and uint8 inputs, tables
// of 1, 2 and 4 bytes, and sizes below and across the kernel's 64 KiB chunks.
TEST(CpuKernels, QLookupMatchesTheReference) {
  std::mt19937 gen(77);
  for (DataType x_type : {DataType::kI8, DataType::kU8})
    for (DataType t_type : {DataType::kI8, DataType::kF16, DataType::kF32})
      for (int64_t n : {int64_t{7}, int64_t{65536 * 3 + 11}}) {
        SCOPED_TRACE(std::string(dtype_name(x_type)) + " -> " + std::string(dtype_name(t_type)) + " n=" + std::to_string(n));
        Tensor x(x_type, {n});
        for (size_t i = 0; i < x.byte_size(); ++i) static_cast<uint8_t*>(x.raw())[i] = static_cast<uint8_t>(gen());
        Tensor table(t_type, {256});
        for (size_t i = 0; i < table.byte_size(); ++i) static_cast<uint8_t*>(table.raw())[i] = static_cast<uint8_t>(gen());
        SingleNode t("QLookup", "kiln", {{"x", x, false}, {"table", table}}, {});
        auto ref = run(t.graph, t.feeds, {});
        ASSERT_TRUE(ref.ok()) << ref.status().message();
        auto kernels = cpu::create_cpu_kernels(t.graph);
        ASSERT_TRUE(kernels.ok()) << kernels.status().message();
        ASSERT_TRUE((*kernels)[0]) << "the CPU backend did not take the node";
        EXPECT_EQ((*kernels)[0]->tactic(), "cpu:lookup");
        auto fast = run(t.graph, t.feeds, *kernels);
        ASSERT_TRUE(fast.ok()) << fast.status().message();
        ASSERT_EQ(fast->dims(), ref->dims());
        ASSERT_EQ(fast->dtype(), t_type);
        EXPECT_EQ(std::memcmp(fast->raw(), ref->raw(), ref->byte_size()), 0);
      }
}

TEST(CpuKernels, GemmAndMatMulF32) {
  SingleNode gemm_t("Gemm", "", {{"a", random_f32({3, 37}), false}, {"b", random_f32({11, 37})}, {"c", random_f32({11})}},
                    {{"transB", Attribute::of_int(1)}});
  expect_matches_reference(gemm_t, "Gemm transB");
  SingleNode gemm("FusedGemm", "kiln", {{"a", random_f32({5, 19}), false}, {"b", random_f32({19, 13})}, {"c", random_f32({1, 13})}},
                  {{"activation", str("Relu")}});
  expect_matches_reference(gemm, "FusedGemm");
  SingleNode matmul("MatMul", "", {{"a", random_f32({2, 3, 23}), false}, {"b", random_f32({23, 9})}}, {});
  expect_matches_reference(matmul, "MatMul rank 3");
  SingleNode fused("FusedMatMul", "kiln", {{"a", random_f32({7, 17}), false}, {"b", random_f32({17, 5})}, {"bias", random_f32({5})}},
                   {{"activation", str("Clip")}, {"activation_params", Attribute::of_floats({-0.5f, 0.5f})}});
  expect_matches_reference(fused, "FusedMatMul");
}

TEST(CpuKernels, QMatMulInt8) {
  for (bool extreme : {false, true}) {
    Tensor bias(DataType::kI32, {13});
    for (int32_t& b : bias.span<int32_t>()) b = std::uniform_int_distribution<int>(-2000, 2000)(rng);
    SingleNode t("QMatMul", "kiln",
                 {{"a", random_i8({5, 67}, extreme), false}, {"as", Tensor::scalar<float>(0.03f)},
                  {"az", Tensor::scalar<int8_t>(0)}, {"b", random_i8({67, 13}, extreme)},
                  {"bs", random_f32({13}, 0.001f, 0.01f)}, {"bz", Tensor(DataType::kI8, {13})},
                  {"ys", Tensor::scalar<float>(extreme ? 3.0f : 0.1f)}, {"yz", Tensor::scalar<int8_t>(0)}, {"bias", bias}},
                 {{"activation", str("Relu")}});
    expect_matches_reference(t, extreme ? "QMatMul extreme" : "QMatMul");
  }
}

TEST(CpuKernels, Pooling) {
  struct PoolCase {
    std::string op;
    DataType dtype;
    int64_t k, stride, pad;
    bool ceil, include_pad;
  };
  const PoolCase cases[] = {{"MaxPool", DataType::kF32, 3, 2, 1, false, false},
                            {"MaxPool", DataType::kF32, 3, 2, 0, true, false},
                            {"MaxPool", DataType::kI8, 2, 2, 0, true, false},
                            {"AveragePool", DataType::kF32, 3, 2, 1, false, false},
                            {"AveragePool", DataType::kF32, 3, 1, 1, false, true},
                            {"GlobalAveragePool", DataType::kF32, 0, 0, 0, false, false},
                            {"GlobalMaxPool", DataType::kF32, 0, 0, 0, false, false}};
  for (const PoolCase& c : cases) {
    Tensor x = c.dtype == DataType::kF32 ? random_f32({2, 5, 11, 8}) : random_i8({2, 5, 11, 8});
    std::map<std::string, Attribute> attrs;
    if (c.k) {
      attrs = {{"kernel_shape", ints({c.k, c.k})}, {"strides", ints({c.stride, c.stride})},
               {"pads", ints({c.pad, c.pad, c.pad, c.pad})}, {"ceil_mode", Attribute::of_int(c.ceil)}};
      if (c.op == "AveragePool") attrs["count_include_pad"] = Attribute::of_int(c.include_pad);
    }
    SingleNode t(c.op, "", {{"x", x, false}}, attrs);
    expect_matches_reference(t, c.op.c_str());
  }
}

TEST(CpuKernels, TransposeBetweenLayouts) {
  SingleNode to_nhwc("Transpose", "", {{"x", random_f32({2, 5, 7, 3}), false}}, {{"perm", ints({0, 2, 3, 1})}});
  expect_matches_reference(to_nhwc, "to NHWC");
  SingleNode to_nchw("Transpose", "", {{"x", random_i8({3, 4, 5, 9}), false}}, {{"perm", ints({0, 3, 1, 2})}});
  expect_matches_reference(to_nchw, "to NCHW, int8");
}

TEST(CpuKernels, UnaryAndChains) {
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Softplus", "HardSwish"}) {
    SingleNode t(op, "", {{"x", random_f32({3, 7, 5}, -3.0f, 3.0f), false}}, {});
    expect_matches_reference(t, op);
  }
  SingleNode clip("Clip", "", {{"x", random_f32({2, 9}, -8.0f, 8.0f), false}, {"lo", Tensor::scalar<float>(0.0f)},
                               {"hi", Tensor::scalar<float>(6.0f)}}, {});
  expect_matches_reference(clip, "Clip");
  SingleNode chain("ElementwiseChain", "kiln", {{"x", random_f32({4, 11}, -3.0f, 3.0f), false}},
                   {{"ops", Attribute::of_strings({"Mul", "Add:r", "Sigmoid", "Sub:r", "Max"})},
                    {"params", Attribute::of_floats({1.5f, 0, 0.25f, 0, 0, 0, 2.0f, 0, 1.2f, 0})}});
  expect_matches_reference(chain, "ElementwiseChain");
}

TEST(CpuKernels, BinaryWithBroadcasting) {
  const std::pair<Dims, Dims> shapes[] = {{{2, 7, 5, 3}, {2, 7, 5, 3}}, {{2, 7, 5, 3}, {3}}, {{2, 7, 5, 3}, {2, 1, 1, 3}},
                                          {{2, 1, 1, 3}, {2, 7, 5, 3}}, {{4, 9}, {1, 9}}};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    for (const auto& [a, b] : shapes) {
      std::string what = std::string(op) + " " + dims_to_string(a) + " x " + dims_to_string(b);
      // (Sub/Div with the first operand broadcast run on the reference kernel inside the CPU kernel.)
      SingleNode t(op, "", {{"a", random_f32(a), false}, {"b", random_f32(b, 0.5f, 2.0f), false}}, {});
      expect_matches_reference(t, what.c_str());
    }
  }
}

TEST(CpuKernels, QuantizeAndDequantize) {
  // Values spread over and beyond the int8 range (saturation), including exact .5 steps.
  Tensor x = random_f32({2, 7, 5, 3}, -6.0f, 6.0f);
  x.data<float>()[0] = 0.25f, x.data<float>()[1] = -0.75f, x.data<float>()[2] = 100.0f;
  SingleNode q("QuantizeLinear", "", {{"x", x, false}, {"s", Tensor::scalar<float>(0.05f)}, {"z", Tensor::scalar<int8_t>(0)}}, {});
  expect_matches_reference(q, "QuantizeLinear s8");
  SingleNode qu("QuantizeLinear", "", {{"x", x, false}, {"s", Tensor::scalar<float>(0.03f)}, {"z", Tensor::scalar<uint8_t>(0)}}, {});
  expect_matches_reference(qu, "QuantizeLinear u8");
  SingleNode dq("DequantizeLinear", "", {{"x", random_i8({3, 11}, false), false}, {"s", Tensor::scalar<float>(0.07f)},
                                         {"z", Tensor::scalar<int8_t>(0)}}, {});
  expect_matches_reference(dq, "DequantizeLinear");
}

// FP16 engines on the CPU store weights and bias in f16 (builder: store_cpu_weights_fp16); the kernel widens
// them. Expected: the f32 reference on the same f16-rounded values.
TEST(CpuKernels, Fp16StoredWeightsAreWidenedExactly) {
  ConvCase c{2, 6, 9, 7, 10, 3, 2, 1, 1, 1, "Relu", false, "NHWC"};
  Tensor w = random_f32({c.m, c.c / c.group, c.k, c.k}), b = random_f32({c.m});
  Tensor w16(DataType::kF16, w.dims()), b16(DataType::kF16, b.dims());
  for (int64_t i = 0; i < w.size(); ++i) {
    static_cast<uint16_t*>(w16.raw())[i] = float_to_half_bits(w.data<float>()[i]);
    w.data<float>()[i] = half_bits_to_float(static_cast<uint16_t*>(w16.raw())[i]);  // the rounded value
  }
  for (int64_t i = 0; i < b.size(); ++i) {
    static_cast<uint16_t*>(b16.raw())[i] = float_to_half_bits(b.data<float>()[i]);
    b.data<float>()[i] = half_bits_to_float(static_cast<uint16_t*>(b16.raw())[i]);
  }
  Tensor x = random_f32(conv_in(c));
  SingleNode reference("FusedConv", "kiln", {{"x", x, false}, {"w", w}, {"b", b}}, conv_attrs(c));
  auto expected = run(reference.graph, reference.feeds, {});
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  // Same node, weights and bias swapped for their f16 storage (after inference, as the builder does).
  Node& n = *reference.graph.nodes()[0];
  n.inputs[1] = add_constant(reference.graph, "w16", w16);
  n.inputs[2] = add_constant(reference.graph, "b16", b16);
  n.attrs[cpu::kWeightPackingAttr] = Attribute::of_string(cpu::kFp16Storage);
  n.attrs[cpu::kBiasStorageAttr] = Attribute::of_string(cpu::kFp16Storage);
  auto kernels = cpu::create_cpu_kernels(reference.graph);
  ASSERT_TRUE(kernels.ok()) << kernels.status().message();
  ASSERT_TRUE((*kernels)[0]);
  auto got = run(reference.graph, reference.feeds, *kernels);
  ASSERT_TRUE(got.ok()) << got.status().message();
  double peak = 1;
  for (int64_t i = 0; i < expected->size(); ++i) peak = std::max(peak, std::abs(expected->element_as_double(i)));
  EXPECT_LE(max_abs_diff(*got, *expected), 1e-4 * peak);
}

TEST(CpuKernels, LeavesUnsupportedNodesToTheReference) {
  // 1-D convolution and a non-constant weight stay on the reference kernels.
  SingleNode conv1d("Conv", "", {{"x", random_f32({1, 3, 9}), false}, {"w", random_f32({2, 3, 3})}}, {});
  auto k = cpu::create_cpu_kernels(conv1d.graph);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE((*k)[0]);
  SingleNode dynamic_w("MatMul", "", {{"a", random_f32({2, 4}), false}, {"b", random_f32({4, 3}), false}}, {});
  k = cpu::create_cpu_kernels(dynamic_w.graph);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE((*k)[0]);
}

TEST(CpuKernels, RefusesCorruptPackedWeights) {
  SingleNode t("Conv", "", {{"x", random_f32({1, 3, 5, 5}), false}, {"w", random_f32({2, 3, 3, 3})}}, {});
  Node& n = *t.graph.nodes()[0];
  n.attrs[cpu::kWeightPackingAttr] = Attribute::of_string(cpu::kOneDnnPacking);  // but the weights are plain
  auto k = cpu::create_cpu_kernels(t.graph);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("packed weights"), std::string::npos) << k.status().message();
}

}  // namespace
}  // namespace kiln
