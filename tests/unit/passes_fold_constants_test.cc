// Constant folding: IR text in -> fold_constants -> IR text out.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

TEST(FoldConstants, EvaluatesConstantSubgraphs) {
  PassCounts counts;
  std::string out = pass_text(fold_constants, opset13_ir(R"(input %x: f32[2]
const %a: f32[2] = [1, 2]
const %b: f32[2] = [10, 20]
node "add" Add<13>(%a, %b) -> (%ab: f32[2])
node "neg" Neg<13>(%ab) -> (%n: f32[2])
node "use" Mul<13>(%x, %n) -> (%y: f32[2])
output %y
)"), &counts);
  EXPECT_EQ(counts["folded"], 2);
  EXPECT_TRUE(has_line(out, "const %n: f32[2] = [-11, -22]")) << out;
  EXPECT_TRUE(has_line(out, "node \"use\" Mul<13>(%x, %n) -> (%y: f32[2])")) << out;
  EXPECT_EQ(out.find("Add<13>"), std::string::npos) << out;
}

TEST(FoldConstants, FoldsConstantNodesAndGraphOutputsKeepTheirNames) {
  std::string out = pass_text(fold_constants, opset13_ir(R"(node "c" Constant<13>() -> (%c: i64[2]) {value: tensor = i64[2] [3, 4]}
node "r" Identity<13>(%c) -> (%out: i64[2])
output %out
)"));
  EXPECT_TRUE(has_line(out, "const %out: i64[2] = [3, 4]")) << out;
  EXPECT_TRUE(has_line(out, "output %out")) << out;
  EXPECT_EQ(out.find("node "), std::string::npos) << out;
}

TEST(FoldConstants, PartialShapeFoldingReadsOnlyStaticDims) {
  PassCounts counts;
  std::string out = pass_text(fold_constants, opset13_ir(R"(input %x: f32[N,3,4,5]
const %i1: i64[] = [1]
const %i0: i64[] = [0]
const %starts: i64[1] = [2]
const %ends: i64[1] = [4]
const %minus1: i64[1] = [-1]
node "shape" Shape<13>(%x) -> (%s: i64[4])
node "c" Gather<13>(%s, %i1) -> (%c: i64[]) {axis: int = 0}
node "n" Gather<13>(%s, %i0) -> (%n: i64[]) {axis: int = 0}
node "hw" Slice<13>(%s, %starts, %ends) -> (%hw: i64[2])
node "cat" Concat<13>(%minus1, %hw) -> (%target: i64[3]) {axis: int = 0}
node "r" Reshape<13>(%x, %target) -> (%y: f32[?,?,?])
node "u" Unsqueeze<13>(%c, %i0) -> (%cu: i64[1])
output %y
output %cu
output %n
)"), &counts);
  EXPECT_TRUE(has_line(out, "const %target: i64[3] = [-1, 4, 5]")) << out;
  EXPECT_TRUE(has_line(out, "const %cu: i64[1] = [3]")) << out;
  // The batch dim is symbolic: Shape and the Gather of dim 0 stay.
  EXPECT_TRUE(has_line(out, "node \"n\" Gather<13>(%s, %i0) -> (%n: i64[]) {axis: int = 0}")) << out;
  // Re-inference after folding makes the Reshape's output static in the known dims.
  EXPECT_TRUE(has_line(out, "node \"r\" Reshape<13>(%x, %target) -> (%y: f32[?,4,5])")) << out;
  EXPECT_EQ(counts["shape_folded"], 2);  // Gather of dim 1 and the Slice of dims 2..3
  EXPECT_EQ(counts["folded"], 2);        // then Concat and Unsqueeze of constants
}

TEST(FoldConstants, StaticShapeFoldsCompletely) {
  std::string out = pass_text(fold_constants, opset13_ir(R"(input %x: f32[2,3]
node "shape" Shape<13>(%x) -> (%s: i64[2])
node "size" Size<13>(%x) -> (%n: i64[])
output %s
output %n
)"));
  EXPECT_TRUE(has_line(out, "const %s: i64[2] = [2, 3]")) << out;
  EXPECT_TRUE(has_line(out, "const %n: i64[] = [6]")) << out;
}

TEST(FoldConstants, DoesNotBloatTheGraph) {
  Graph g = parse_text(opset13_ir(R"(input %x: f32[2000,1000]
const %shape: i64[2] = [2000, 1000]
const %one: f32[1] = [1]
node "big" Expand<13>(%one, %shape) -> (%ones: f32[2000,1000])
node "add" Add<13>(%x, %ones) -> (%y: f32[2000,1000])
output %y
)"));
  PassCounts counts = apply(fold_constants, g);
  EXPECT_EQ(counts["folded"], 0);
  EXPECT_EQ(g.nodes().size(), 2u);
  PassOptions generous;
  generous.max_folded_elements = 4'000'000;
  counts = apply(fold_constants, g, generous);
  EXPECT_EQ(counts["folded"], 1);
}

TEST(FoldConstants, KeepsDequantizeOfConstantWeights) {
  std::string out = pass_text(fold_constants, opset13_ir(R"(input %x: f32[2]
const %w: u8[2] = [1, 2]
const %scale: f32[] = [0.5]
const %zp: u8[] = [0]
node "dq" DequantizeLinear<13>(%w, %scale, %zp) -> (%wf: f32[2])
node "mul" Mul<13>(%x, %wf) -> (%y: f32[2])
output %y
)"));
  EXPECT_NE(out.find("DequantizeLinear<13>"), std::string::npos) << out;
}
