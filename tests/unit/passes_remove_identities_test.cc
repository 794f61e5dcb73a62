// Identity removal: IR text in -> remove_identities -> IR text out.
#include "passes/testing/pass_test_util.h"

using namespace kiln;
using namespace kiln::testing;

TEST(RemoveIdentities, RemovesNoOpsAndRewiresReaders) {
  PassCounts counts;
  std::string out = pass_text(remove_identities, opset13_ir(R"(input %x: f32[2,3]
const %shape: i64[2] = [2, 3]
const %zero: f32[] = [0]
node "id" Identity<13>(%x) -> (%a: f32[2,3])
node "drop" Dropout<13>(%a) -> (%b: f32[2,3])
node "cast" Cast<13>(%b) -> (%c: f32[2,3]) {to: int = 1}
node "reshape" Reshape<13>(%c, %shape) -> (%d: f32[2,3])
node "add0" Add<13>(%d, %zero) -> (%e: f32[2,3])
node "t" Transpose<13>(%e) -> (%f: f32[3,2]) {perm: ints = [1, 0]}
node "relu" Relu<13>(%f) -> (%y: f32[3,2])
output %y
)"), &counts);
  EXPECT_TRUE(has_line(out, "node \"t\" Transpose<13>(%x) -> (%f: f32[3,2]) {perm: ints = [1, 0]}")) << out;
  EXPECT_EQ(counts["Identity"], 1);
  EXPECT_EQ(counts["Dropout"], 1);
  EXPECT_EQ(counts["Cast"], 1);
  EXPECT_EQ(counts["Reshape"], 1);
  EXPECT_EQ(counts["Add"], 1);
  EXPECT_EQ(counts["Transpose"], 0);
}

TEST(RemoveIdentities, GraphOutputKeepsItsName) {
  std::string out = pass_text(remove_identities, opset13_ir(R"(input %x: f32[4]
node "relu" Relu<13>(%x) -> (%r: f32[4])
node "id" Identity<13>(%r) -> (%y: f32[4])
output %y
)"));
  EXPECT_TRUE(has_line(out, "node \"relu\" Relu<13>(%x) -> (%y: f32[4])")) << out;
  EXPECT_TRUE(has_line(out, "output %y")) << out;
  EXPECT_EQ(out.find("Identity"), std::string::npos) << out;
}

TEST(RemoveIdentities, KeepsIdentityBetweenGraphInputAndOutput) {
  std::string out = pass_text(remove_identities, opset13_ir(R"(input %x: f32[4]
node "id" Identity<13>(%x) -> (%y: f32[4])
output %y
)"));
  EXPECT_NE(out.find("Identity<13>(%x)"), std::string::npos) << out;
}

TEST(RemoveIdentities, KeepsOpsThatChangeSomething) {
  PassCounts counts;
  std::string out = pass_text(remove_identities, opset13_ir(R"(input %x: f32[2,3]
const %shape: i64[2] = [3, 2]
const %half: f32[] = [0.5]
const %train: bool[] = [true]
node "cast" Cast<13>(%x) -> (%c: f16[2,3]) {to: int = 10}
node "reshape" Reshape<13>(%x, %shape) -> (%d: f32[3,2])
node "mul" Mul<13>(%x, %half) -> (%e: f32[2,3])
node "drop" Dropout<13>(%x, %half, %train) -> (%f: f32[2,3])
node "drop2" Dropout<13>(%x) -> (%g: f32[2,3], %mask: bool[2,3])
output %c
output %d
output %e
output %f
output %g
output %mask
)"), &counts);
  EXPECT_TRUE(counts.empty() || counts.begin()->second == 0) << out;
  for (const char* op : {"Cast<13>", "Reshape<13>", "Mul<13>", "\"drop\" Dropout", "\"drop2\" Dropout"})
    EXPECT_NE(out.find(op), std::string::npos) << op << "\n" << out;
}
