// Dead-code elimination: IR text in -> eliminate_dead_code -> IR text out.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

TEST(EliminateDeadCode, RemovesUnreadBranchesAndConstants) {
  PassCounts counts;
  std::string out = pass_text(eliminate_dead_code, opset13_ir(R"(input %x: f32[4]
const %w: f32[4] = [1, 2, 3, 4]
const %unused: f32[1] = [7]
node "live" Relu<13>(%x) -> (%y: f32[4])
node "dead1" Mul<13>(%x, %w) -> (%d1: f32[4])
node "dead2" Exp<13>(%d1) -> (%d2: f32[4])
output %y
)"), &counts);
  EXPECT_EQ(out, opset13_ir(R"(input %x: f32[4]
node "live" Relu<13>(%x) -> (%y: f32[4])
output %y
)"));
  EXPECT_EQ(counts["nodes"], 2);
  EXPECT_EQ(counts["constants"], 2);
}

TEST(EliminateDeadCode, OmitsUnreadOptionalOutputsOnly) {
  std::string out = pass_text(eliminate_dead_code, opset13_ir(R"(input %x: f32[1,1,4,4]
node "pool" MaxPool<13>(%x) -> (%y: f32[1,1,2,2], %idx: i64[1,1,2,2]) {kernel_shape: ints = [2, 2], strides: ints = [2, 2]}
node "drop" Dropout<13>(%x) -> (%d: f32[1,1,4,4], %mask: bool[1,1,4,4])
output %y
output %mask
)"));
  EXPECT_TRUE(has_line(out, "node \"pool\" MaxPool<13>(%x) -> (%y: f32[1,1,2,2]) {kernel_shape: ints = [2, 2], "
                            "strides: ints = [2, 2]}")) << out;
  // Dropout's output 0 is required even when only the mask is read.
  EXPECT_TRUE(has_line(out, "node \"drop\" Dropout<13>(%x) -> (%d: f32[1,1,4,4], %mask: bool[1,1,4,4])")) << out;
}
