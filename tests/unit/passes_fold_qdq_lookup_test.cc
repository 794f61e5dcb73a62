// fold_qdq_lookup (src/passes/precision/fold_qdq_lookup.h): a per-tensor DequantizeLinear -> elementwise float
// ops (-> QuantizeLinear) region becomes one kiln.QLookup whose table the reference kernels computed, so the
// graph's outputs stay bit-identical on the reference runner; regions it cannot express stay as they are.
#include "passes/precision/fold_qdq_lookup.h"
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

constexpr PassFn run_pass = counted_pass<fold_qdq_lookup>;

// Applies the pass and expects bit-identical outputs; returns the printed graph.
std::string expect_exact(const std::string& text, int64_t want_folded) {
  Graph original = parse_text(text), g = parse_text(text);
  PassCounts counts = apply(run_pass, g);
  EXPECT_EQ(counts["count"], want_folded) << print_graph(g);
  expect_same_outputs(original, g, random_inputs(original, 5), 0.0, 0.0);
  return print_graph(g);
}

const char* kSilu = R"(
node "dq" DequantizeLinear<13>(%x, %s1, %z1) -> (%v: f32[2,3,4,5])
node "sig" Sigmoid<13>(%v) -> (%sg: f32[2,3,4,5])
node "mul" Mul<14>(%v, %sg) -> (%silu: f32[2,3,4,5])
)";

TEST(FoldQdqLookup, SiluBetweenQuantizationsBecomesAnInt8Table) {
  const std::string text = opset13_ir(
      "input %x: i8[2,3,4,5]\nconst %s1: f32[] = [0.05]\nconst %z1: i8[] = [3]\nconst %s2: f32[] = [0.03]\n"
      "const %z2: i8[] = [-2]\nconst %six: f32[] = [6]\nconst %zero: f32[] = [0]\n" + std::string(kSilu) +
      R"(node "clip" Clip<13>(%silu, %zero, %six) -> (%c: f32[2,3,4,5])
node "q" QuantizeLinear<13>(%c, %s2, %z2) -> (%y: i8[2,3,4,5])
output %y
)");
  const std::string out = expect_exact(text, 1);
  EXPECT_NE(out.find("QLookup@kiln<1>(%x, %y__lookup) -> (%y: i8[2,3,4,5])"), std::string::npos) << out;
  EXPECT_EQ(out.find("Sigmoid"), std::string::npos) << out;
  EXPECT_EQ(out.find("DequantizeLinear"), std::string::npos) << out;
}

TEST(FoldQdqLookup, WithoutAQuantizeTheTableIsFloat) {
  // The SiLU's output goes on in float to a pool and to a product with another tensor (squeeze-excite).
  const std::string text = opset13_ir(
      "input %x: u8[2,3,4,5]\ninput %g: f32[2,3,4,5]\nconst %s1: f32[] = [0.05]\nconst %z1: u8[] = [128]\n" +
      std::string(kSilu) +
      R"(node "pool" GlobalAveragePool<1>(%silu) -> (%p: f32[2,3,1,1])
node "se" Mul<14>(%silu, %g) -> (%y: f32[2,3,4,5])
output %p
output %y
)");
  const std::string out = expect_exact(text, 1);
  EXPECT_NE(out.find("QLookup@kiln<1>(%x, %silu__lookup) -> (%silu: f32[2,3,4,5])"), std::string::npos) << out;
}

TEST(FoldQdqLookup, LeavesOtherRegionsAlone) {
  const std::string header = "input %x: i8[2,3,4,5]\nconst %s1: f32[] = [0.05]\nconst %z1: i8[] = [3]\n";
  const std::string cases[] = {
      // Two region values read outside (the sigmoid and the product).
      opset13_ir(header + kSilu + "output %sg\noutput %silu\n"),
      // Per-channel dequantization.
      opset13_ir("input %x: i8[2,3,4,5]\nconst %s1: f32[3] = [0.05, 0.1, 0.2]\nconst %z1: i8[3] = [0, 0, 0]\n" +
                 std::string(R"(node "dq" DequantizeLinear<13>(%x, %s1, %z1) -> (%v: f32[2,3,4,5]) {axis: int = 1}
node "sig" Sigmoid<13>(%v) -> (%y: f32[2,3,4,5])
output %y
)")),
      // A broadcasting operand that is not a one-element constant.
      opset13_ir(header + "const %b: f32[5] = [1, 2, 3, 4, 5]\n" +
                 R"(node "dq" DequantizeLinear<13>(%x, %s1, %z1) -> (%v: f32[2,3,4,5])
node "add" Add<14>(%v, %b) -> (%y: f32[2,3,4,5])
output %y
)"),
      // Nothing elementwise after the dequantization.
      opset13_ir(header + R"(node "dq" DequantizeLinear<13>(%x, %s1, %z1) -> (%v: f32[2,3,4,5])
node "pool" GlobalAveragePool<1>(%v) -> (%y: f32[2,3,1,1])
output %y
)"),
  };
  for (const std::string& text : cases) expect_exact(text, 0);
}

}  // namespace
