// fold_qdq: DQ → Conv/Gemm → Q into kiln.QConv/QMatMul, int8 data-movement ops, DQ → Q cancellation, and the
// explicitly quantized MobileNetV1 (uint8 Q/DQ) folded and run against its ONNX Runtime reference.
#include <filesystem>

#include "onnx/importer.h"
#include "onnx/tensor_proto.h"
#include "passes/precision/fold_qdq.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;
namespace fs = std::filesystem;

namespace {

// Random u8/i8 data for every quantized graph input.
std::map<std::string, Tensor, std::less<>> random_int_inputs(const Graph& g, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : g.inputs) {
    Tensor t(v->type.dtype, v->type.shape.static_dims());
    for (int64_t i = 0; i < t.size(); ++i) {
      if (t.dtype() == DataType::kU8) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
      if (t.dtype() == DataType::kI8) t.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    }
    inputs[v->name] = t;
  }
  return inputs;
}

struct IntDiff {
  int64_t max = 0, count = 0;
};
IntDiff int_diff(const Tensor& a, const Tensor& b) {
  IntDiff d;
  if (a.dims() != b.dims()) return {1 << 30, a.size()};
  for (int64_t i = 0; i < a.size(); ++i) {
    int64_t e = std::abs(a.element_as_int64(i) - b.element_as_int64(i));
    d.max = std::max(d.max, e);
    d.count += e != 0;
  }
  return d;
}

std::vector<Tensor> run(const Graph& g, const std::map<std::string, Tensor, std::less<>>& inputs) {
  auto runner = GraphRunner::create(g);
  EXPECT_TRUE(runner.ok()) << runner.status().message();
  if (!runner.ok()) return {};
  auto out = runner->run(inputs);
  EXPECT_TRUE(out.ok()) << out.status().message() << "\n" << print_graph(g, {.max_constant_elements = 8});
  return out.ok() ? *out : std::vector<Tensor>{};
}

FoldQdqReport fold(Graph& g) {
  FoldQdqReport r;
  Status s = fold_qdq(g, &r);
  EXPECT_TRUE(s.ok()) << s.message();
  auto reparsed = parse_graph(print_graph(g));
  EXPECT_TRUE(reparsed.ok()) << reparsed.status().message();
  return r;
}

const char* kConvText = R"(kiln-ir 1
graph "g"
opset "" 13
input %xq: u8[1,2,4,4]
const %xs: f32[] = [0.5]
const %xz: u8[] = [128]
const %wq: i8[3,2,3,3] = [2, -3, 5, 7, -1, 0, 4, 4, -6, 1, 2, 3, -4, -5, 6, 7, 8, 9, 9, -9, 8, -8, 7, -7, 6, -6, 5, -5, 4, -4, 3, -3, 2, -2, 1, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12, -13, -14, 15, 16, 17]
const %ws: f32[3] = [0.25, 0.125, 0.0625]
const %wz: i8[3] = [0, 0, 0]
const %bq: i32[3] = [40, -80, 7]
const %bs: f32[3] = [0.125, 0.0625, 0.03125]
const %bz: i32[3] = [0, 0, 0]
const %ys: f32[] = [0.3]
const %yz: u8[] = [10]
node "dqx" DequantizeLinear<13>(%xq, %xs, %xz) -> (%x: f32[1,2,4,4])
node "dqw" DequantizeLinear<13>(%wq, %ws, %wz) -> (%w: f32[3,2,3,3]) {axis: int = 0}
node "dqb" DequantizeLinear<13>(%bq, %bs, %bz) -> (%b: f32[3]) {axis: int = 0}
node "conv" Conv<13>(%x, %w, %b) -> (%y: f32[1,3,4,4]) {pads: ints = [1, 1, 1, 1]}
node "q" QuantizeLinear<13>(%y, %ys, %yz) -> (%yq: u8[1,3,4,4])
output %yq
)";

TEST(FoldQdq, ConvWithPerChannelWeightsAndInt32BiasBecomesQConv) {
  Graph original = parse_text(kConvText), g = parse_text(kConvText);
  FoldQdqReport r = fold(g);
  std::string out = print_graph(g);
  EXPECT_EQ(r.qconv, 1);
  // The bias was already at x_scale * w_scale: its integers are kept.
  EXPECT_TRUE(has_line(out, "const %conv_bias_int32: i32[3] = [40, -80, 7]")) << out;
  EXPECT_TRUE(has_line(out, "node \"conv\" QConv@kiln<1>(%xq, %xs, %xz, %wq, %ws, %wz, %ys, %yz, %conv_bias_int32) "
                            "-> (%yq: u8[1,3,4,4]) {pads: ints = [1, 1, 1, 1]}")) << out;
  EXPECT_EQ(g.nodes().size(), 1u) << out;
  auto inputs = random_int_inputs(original);
  auto a = run(original, inputs), b = run(g, inputs);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  // The unfused graph computes in float32, QConv in float64 from an exact int32 accumulator: equal except
  // where float32 rounding moves a value across a .5 boundary.
  IntDiff d = int_diff(a[0], b[0]);
  EXPECT_LE(d.max, 1);
  EXPECT_LE(d.count, 1) << "of " << a[0].size();
}

TEST(FoldQdq, FusedConvWithReluAndResidual) {
  std::string text = kConvText;
  text.replace(text.find("node \"conv\" Conv<13>(%x, %w, %b)"), 32,
               "node \"conv\" FusedConv@kiln<1>(%x, %w, %b, %z)");
  text.replace(text.find("{pads: ints = [1, 1, 1, 1]}"), 27,
               "{activation: string = \"Relu\", pads: ints = [1, 1, 1, 1]}");
  text.replace(text.find("opset \"\" 13\n"), 12, "opset \"\" 13\nopset \"kiln\" 1\n");
  text.replace(text.find("const %xs"), 0, "input %zq: i8[1,3,4,4]\n");
  text.replace(text.find("node \"dqx\""), 0,
               "const %zs: f32[] = [0.2]\nconst %zz: i8[] = [3]\n"
               "node \"dqz\" DequantizeLinear<13>(%zq, %zs, %zz) -> (%z: f32[1,3,4,4])\n");
  Graph original = parse_text(text), g = parse_text(text);
  ASSERT_FALSE(original.nodes().empty());
  FoldQdqReport r = fold(g);
  EXPECT_EQ(r.qconv, 1) << print_graph(g);
  EXPECT_EQ(g.nodes().size(), 1u) << print_graph(g);
  auto inputs = random_int_inputs(original, 3);
  auto a = run(original, inputs), b = run(g, inputs);
  ASSERT_EQ(b.size(), 1u);
  IntDiff d = int_diff(a[0], b[0]);
  EXPECT_LE(d.max, 1);
  EXPECT_LE(d.count, 1);
  for (int64_t i = 0; i < b[0].size(); ++i) ASSERT_GE(b[0].data<uint8_t>()[i], 10) << "Relu clamps at y_zp";
}

TEST(FoldQdq, GemmWithTransposedWeightsBecomesQMatMul) {
  const char* text = R"(kiln-ir 1
graph "g"
opset "" 13
input %aq: i8[2,3]
const %as: f32[] = [0.05]
const %az: i8[] = [0]
const %bq: i8[4,3] = [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12]
const %bs: f32[4] = [0.5, 0.25, 0.125, 1]
const %bz: i8[4] = [0, 0, 0, 0]
const %c: f32[4] = [0.1, -0.2, 0.3, -0.4]
const %ys: f32[] = [0.02]
const %yz: i8[] = [0]
node "dqa" DequantizeLinear<13>(%aq, %as, %az) -> (%a: f32[2,3])
node "dqb" DequantizeLinear<13>(%bq, %bs, %bz) -> (%b: f32[4,3]) {axis: int = 0}
node "fc" Gemm<13>(%a, %b, %c) -> (%y: f32[2,4]) {transB: int = 1}
node "q" QuantizeLinear<13>(%y, %ys, %yz) -> (%yq: i8[2,4])
output %yq
)";
  Graph original = parse_text(text), g = parse_text(text);
  FoldQdqReport r = fold(g);
  EXPECT_EQ(r.qmatmul, 1);
  std::string out = print_graph(g);
  EXPECT_TRUE(has_line(out, "const %bq_t: i8[3,4] = [1, -4, 7, -10, -2, 5, -8, 11, 3, -6, 9, -12]")) << out;
  auto inputs = random_int_inputs(original);
  auto a = run(original, inputs), b = run(g, inputs);
  ASSERT_EQ(b.size(), 1u);
  // The float bias is rounded to the accumulator's scale: at most one step apart.
  EXPECT_LE(int_diff(a[0], b[0]).max, 1);
}

TEST(FoldQdq, DataMovementRunsOnQuantizedDataAndPairsCancel) {
  const char* text = R"(kiln-ir 1
graph "g"
opset "" 13
input %xq: i8[1,1,4,4]
const %s: f32[] = [0.5]
const %z: i8[] = [0]
node "dq" DequantizeLinear<13>(%xq, %s, %z) -> (%x: f32[1,1,4,4])
node "pool" MaxPool<13>(%x) -> (%p: f32[1,1,2,2]) {kernel_shape: ints = [2, 2], strides: ints = [2, 2]}
node "q" QuantizeLinear<13>(%p, %s, %z) -> (%pq: i8[1,1,2,2])
node "dq2" DequantizeLinear<13>(%pq, %s, %z) -> (%p2: f32[1,1,2,2])
node "q2" QuantizeLinear<13>(%p2, %s, %z) -> (%pq2: i8[1,1,2,2])
node "flat" Flatten<13>(%pq2) -> (%out: i8[1,4])
output %out
)";
  Graph original = parse_text(text), g = parse_text(text);
  FoldQdqReport r = fold(g);
  std::string out = print_graph(g);
  EXPECT_EQ(r.int8_data_ops, 1);
  EXPECT_EQ(r.qdq_cancelled, 1);
  EXPECT_TRUE(has_line(out, "node \"pool\" MaxPool<13>(%xq) -> (%pq: i8[1,1,2,2]) "
                            "{kernel_shape: ints = [2, 2], strides: ints = [2, 2]}")) << out;
  EXPECT_TRUE(has_line(out, "node \"flat\" Flatten<13>(%pq) -> (%out: i8[1,4])")) << out;
  EXPECT_EQ(g.nodes().size(), 2u) << out;
  auto inputs = random_int_inputs(original);
  EXPECT_EQ(int_diff(run(original, inputs)[0], run(g, inputs)[0]).count, 0);
}

TEST(FoldQdq, LeavesUnmatchedPatternsAlone) {
  // A per-tensor DQ → Conv without a Q after it stays float.
  std::string text = kConvText;
  text.replace(text.find("node \"q\""), std::string::npos, "output %y\n");
  Graph g = parse_text(text);
  size_t before = g.nodes().size();
  FoldQdqReport r = fold(g);
  EXPECT_EQ(r.qconv, 0);
  EXPECT_EQ(g.nodes().size(), before);
}

// The explicitly quantized MobileNetV1 (uint8, per tensor, opset 16): every Conv folds into QConv and the
// folded graph reproduces ONNX Runtime's stored uint8 output (±1 where ORT's float32 requantization rounds
// a near-tie the other way).
TEST(FoldQdq, ExplicitQdqMobileNetV1MatchesReference) {
  fs::path dir = fs::path(__FILE__).parent_path() / "../../../shared/models/st_mobilenet_v1_0.5_128_quant";
  fs::path model = dir / "mobilenet_v1_0.5_128_quant.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "shared model not found: " << model;
  auto graph = import_onnx_file(model.string());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto input = read_tensor_pb((dir / "test_data_set_0/input_0.pb").string());
  auto expected = read_tensor_pb((dir / "test_data_set_0/output_0.pb").string());
  ASSERT_TRUE(input.ok() && expected.ok());
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : graph->inputs)
    if (!v->is_constant()) inputs[v->name] = *input;
  auto unfolded = run(*graph, inputs);

  FoldQdqReport r = fold(*graph);
  EXPECT_EQ(r.qconv, 28);
  int64_t float_convs = 0, qdq = 0;
  for (const auto& n : graph->nodes()) {
    float_convs += n->op_type == "Conv";
    qdq += n->op_type == "QuantizeLinear" || n->op_type == "DequantizeLinear";
  }
  EXPECT_EQ(float_convs, 0);
  EXPECT_LE(qdq, 4) << "left: DQ → AveragePool → Q and DQ → Softmax → Q";
  auto folded = run(*graph, inputs);
  ASSERT_EQ(folded.size(), 1u);
  ASSERT_EQ(folded[0].dims(), expected->dims());
  IntDiff vs_ort = int_diff(folded[0], *expected);
  IntDiff vs_unfolded = unfolded.empty() ? IntDiff{} : int_diff(folded[0], unfolded[0]);
  std::cout << "MobileNetV1 folded vs ORT reference: " << vs_ort.count << " of " << expected->size()
            << " elements differ (max " << vs_ort.max << "); vs kiln's unfolded graph: " << vs_unfolded.count
            << " (max " << vs_unfolded.max << ")\n";
  EXPECT_LE(vs_ort.max, 1);
  int64_t top = 0, top_ref = 0;
  for (int64_t i = 1; i < expected->size(); ++i) {
    if (folded[0].element_as_int64(i) > folded[0].element_as_int64(top)) top = i;
    if (expected->element_as_int64(i) > expected->element_as_int64(top_ref)) top_ref = i;
  }
  EXPECT_EQ(top, top_ref);
}

}  // namespace
