// Focused tests of the tensor family (shape and data-movement ops): shape inference from constant shape
// inputs, edge cases the official backend tests miss, and bad input that must give an error Status.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "runtime/graph_runner.h"
#include "tests/support/single_op.h"

namespace kiln {
namespace {

using namespace kiln::testing;  // NOLINT(google-build-using-namespace): run_single_op, tensor, values

TEST(RefTensor, GatherOutOfRangeIndexIsAnErrorNamingIndexAndRange) {
  auto r = trace_single_op("Gather", 13, {{tensor<float>({1, 2, 3}, {3})}, {i64({0, 5})}});
  ASSERT_FALSE(r.status.ok());
  EXPECT_TRUE(mentions(r.status, "indices[1] = 5")) << r.status.message();
  EXPECT_TRUE(mentions(r.status, "[-3, 2]")) << r.status.message();
  auto neg = trace_single_op("Gather", 13, {{tensor<float>({1, 2, 3}, {3})}, {i64({-4})}});
  EXPECT_FALSE(neg.status.ok());
}

TEST(RefTensor, GatherNegativeIndexOnStrings) {
  auto r = trace_single_op("Gather", 13, {{tensor<std::string>({"a", "b", "c", "d", "e", "f"}, {3, 2})}, {i64({-1, 0})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<std::string>(r.outputs[0]), (std::vector<std::string>{"e", "f", "a", "b"}));
}

TEST(RefTensor, ReshapeInfersExactShapeFromConstant) {
  std::vector<float> x(24, 1.0f);
  auto r = trace_single_op("Reshape", 14, {{tensor(x, {2, 3, 4})}, {i64({0, -1}), true}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[0], Shape::from_dims({2, 12}));
  EXPECT_EQ(r.outputs[0].dims(), (Dims{2, 12}));
  // Shape as a runtime input: only the rank is known statically.
  auto dyn = trace_single_op("Reshape", 14, {{tensor(x, {2, 3, 4})}, {i64({4, -1})}});
  ASSERT_TRUE(dyn.status.ok()) << dyn.status.message();
  ASSERT_TRUE(dyn.inferred[0].has_rank());
  EXPECT_EQ(dyn.inferred[0].rank(), 2u);
  EXPECT_FALSE(dyn.inferred[0][0].known());
  EXPECT_EQ(dyn.outputs[0].dims(), (Dims{4, 6}));
}

TEST(RefTensor, ReshapeBadShapesAreErrors) {
  std::vector<float> x(6, 1.0f);
  EXPECT_FALSE(trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({-1, -1}), true}}).status.ok());
  EXPECT_FALSE(trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({4, -1})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({7})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({-2, -3})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({0, 0, 6})}}).status.ok());  // 0 beyond input rank
  // allowzero: 0 is a real zero extent, so [0, 3] cannot hold 6 elements.
  auto az = trace_single_op("Reshape", 14, {{tensor(x, {6})}, {i64({0, 3})}}, {{"allowzero", Attribute::of_int(1)}});
  EXPECT_FALSE(az.status.ok());
}

TEST(RefTensor, SliceNegativeStepClampsStartAndEnd) {
  std::vector<int32_t> x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  // start 20 clamps to 9, end -100 clamps to "before 0": 9, 6, 3, 0.
  auto r = trace_single_op("Slice", 13, {{tensor(x, {10})}, {i64({20}), true}, {i64({-100}), true}, {i64({0}), true},
                                {i64({-3}), true}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[0], Shape::from_dims({4}));
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{9, 6, 3, 0}));
  auto zero_step =
      trace_single_op("Slice", 13, {{tensor(x, {10})}, {i64({0})}, {i64({5})}, {i64({0})}, {i64({0})}});
  EXPECT_FALSE(zero_step.status.ok());
  auto bad_axis = trace_single_op("Slice", 13, {{tensor(x, {10})}, {i64({0})}, {i64({5})}, {i64({1})}});
  EXPECT_FALSE(bad_axis.status.ok());
}

TEST(RefTensor, PadModesOnOneAxis) {
  Tensor x = tensor<float>({1, 2, 3}, {3});
  auto pad = [&](const char* mode) {
    return trace_single_op("Pad", 18, {{x}, {i64({2, 2}), true}}, {{"mode", Attribute::of_string(mode)}});
  };
  auto reflect = pad("reflect"), edge = pad("edge"), wrap = pad("wrap"), constant = pad("constant");
  for (auto* r : {&reflect, &edge, &wrap, &constant}) {
    ASSERT_TRUE(r->status.ok()) << r->status.message();
    EXPECT_EQ(r->inferred[0], Shape::from_dims({7}));
  }
  EXPECT_EQ(values<float>(reflect.outputs[0]), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(values<float>(edge.outputs[0]), (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  EXPECT_EQ(values<float>(wrap.outputs[0]), (std::vector<float>{2, 3, 1, 2, 3, 1, 2}));
  EXPECT_EQ(values<float>(constant.outputs[0]), (std::vector<float>{0, 0, 1, 2, 3, 0, 0}));
  // Negative pads crop; cropping more than the axis holds is an error.
  auto crop = trace_single_op("Pad", 13, {{x}, {i64({-1, 0})}});
  ASSERT_TRUE(crop.status.ok()) << crop.status.message();
  EXPECT_EQ(values<float>(crop.outputs[0]), (std::vector<float>{2, 3}));
  EXPECT_FALSE(trace_single_op("Pad", 13, {{x}, {i64({-2, -2})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Pad", 13, {{x}, {i64({1, 1, 1})}}).status.ok());
}

TEST(RefTensor, PadAxesInputOpset18) {
  Tensor x = tensor<int64_t>({1, 2, 3, 4}, {2, 2});
  auto r = trace_single_op("Pad", 18, {{x}, {i64({1, 0}), true}, {Tensor::scalar<int64_t>(9)}, {i64({-1}), true}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[0], Shape::from_dims({2, 3}));
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{9, 1, 2, 9, 3, 4}));
}

TEST(RefTensor, SplitNumOutputsUnevenAndBadSplit) {
  std::vector<int64_t> x = {1, 2, 3, 4, 5, 6, 7};
  auto r = trace_single_op("Split", 18, {{tensor(x, {7})}}, {{"num_outputs", Attribute::of_int(3)}}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[2], Shape::from_dims({1}));
  EXPECT_EQ(values<int64_t>(r.outputs[1]), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(values<int64_t>(r.outputs[2]), (std::vector<int64_t>{7}));
  auto bad = trace_single_op("Split", 13, {{tensor(x, {7})}, {i64({3, 3})}}, {}, 2);
  EXPECT_FALSE(bad.status.ok());
  auto uneven = trace_single_op("Split", 13, {{tensor(x, {7})}}, {}, 2);
  EXPECT_FALSE(uneven.status.ok());
}

TEST(RefTensor, TransposeAndConcatOfBoolAndStrings) {
  auto t = trace_single_op("Transpose", 13, {{tensor<bool>({true, false, false, true, true, false}, {2, 3})}});
  ASSERT_TRUE(t.status.ok()) << t.status.message();
  EXPECT_EQ(t.outputs[0].dims(), (Dims{3, 2}));
  EXPECT_EQ(values<bool>(t.outputs[0]), (std::vector<bool>{true, true, false, true, false, false}));
  auto c = trace_single_op("Concat", 13, {{tensor<std::string>({"a", "b"}, {1, 2})}, {tensor<std::string>({"c"}, {1, 1})}},
                  {{"axis", Attribute::of_int(-1)}});
  ASSERT_TRUE(c.status.ok()) << c.status.message();
  EXPECT_EQ(values<std::string>(c.outputs[0]), (std::vector<std::string>{"a", "b", "c"}));
  auto bad = trace_single_op("Concat", 13, {{tensor<float>({1, 2}, {1, 2})}, {tensor<float>({1, 2}, {2, 1})}},
                    {{"axis", Attribute::of_int(0)}});
  EXPECT_FALSE(bad.status.ok());
  auto bad_perm = trace_single_op("Transpose", 13, {{tensor<float>({1, 2}, {1, 2})}}, {{"perm", Attribute::of_ints({0, 0})}});
  EXPECT_FALSE(bad_perm.status.ok());
}

TEST(RefTensor, ScatterErrorsAndReductions) {
  Tensor data = tensor<float>({1, 2, 3}, {3});
  auto oob = trace_single_op("ScatterElements", 16, {{data}, {i64({3})}, {tensor<float>({5}, {1})}});
  ASSERT_FALSE(oob.status.ok());
  EXPECT_TRUE(mentions(oob.status, "indices[0] = 3")) << oob.status.message();
  auto add = trace_single_op("ScatterElements", 16, {{data}, {i64({1, 1})}, {tensor<float>({10, 20}, {2})}},
                    {{"reduction", Attribute::of_string("add")}});
  ASSERT_TRUE(add.status.ok()) << add.status.message();
  EXPECT_EQ(values<float>(add.outputs[0]), (std::vector<float>{1, 32, 3}));
  auto mx = trace_single_op("ScatterND", 18, {{data}, {tensor<int64_t>({0, 2}, {2, 1})}, {tensor<float>({0, 7}, {2})}},
                   {{"reduction", Attribute::of_string("max")}});
  ASSERT_TRUE(mx.status.ok()) << mx.status.message();
  EXPECT_EQ(values<float>(mx.outputs[0]), (std::vector<float>{1, 2, 7}));
  auto nd_oob = trace_single_op("ScatterND", 13, {{data}, {tensor<int64_t>({-4}, {1, 1})}, {tensor<float>({0}, {1})}});
  EXPECT_FALSE(nd_oob.status.ok());
}

TEST(RefTensor, GatherNDBatchDimsAndBadIndex) {
  Tensor data = tensor<int32_t>({0, 1, 2, 3, 4, 5, 6, 7}, {2, 2, 2});
  auto r = trace_single_op("GatherND", 13, {{data}, {tensor<int64_t>({1, 0}, {2, 1})}},
                  {{"batch_dims", Attribute::of_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[0], Shape::from_dims({2, 2}));
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{2, 3, 4, 5}));
  auto bad = trace_single_op("GatherND", 13, {{data}, {tensor<int64_t>({2, 0}, {1, 2})}});
  EXPECT_FALSE(bad.status.ok());
}

TEST(RefTensor, ConstantForms) {
  auto ints_c = trace_single_op("Constant", 13, {}, {{"value_ints", Attribute::of_ints({4, 5})}});
  ASSERT_TRUE(ints_c.status.ok()) << ints_c.status.message();
  EXPECT_EQ(values<int64_t>(ints_c.outputs[0]), (std::vector<int64_t>{4, 5}));
  auto s = trace_single_op("Constant", 13, {}, {{"value_string", Attribute::of_string("hi")}});
  ASSERT_TRUE(s.status.ok()) << s.status.message();
  EXPECT_EQ(s.outputs[0].rank(), 0);
  EXPECT_EQ(values<std::string>(s.outputs[0])[0], "hi");
  auto sparse = trace_single_op("Constant", 13, {}, {{"sparse_value", Attribute::of_tensor(Tensor::scalar<float>(1))}});
  ASSERT_FALSE(sparse.status.ok());
  EXPECT_TRUE(mentions(sparse.status, "sparse_value")) << sparse.status.message();
  EXPECT_FALSE(trace_single_op("Constant", 13, {}).status.ok());
}

TEST(RefTensor, ShapeDrivenOutputsAreValidated) {
  EXPECT_FALSE(trace_single_op("ConstantOfShape", 13, {{i64({2, -1})}}).status.ok());
  EXPECT_FALSE(trace_single_op("ConstantOfShape", 13, {{i64({1 << 30, 1 << 30, 1 << 30})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Expand", 13, {{tensor<float>({1, 2}, {2})}, {i64({3})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Tile", 13, {{tensor<float>({1, 2}, {2})}, {i64({-1})}}).status.ok());
  EXPECT_FALSE(trace_single_op("Range", 13, {{Tensor::scalar<int64_t>(0)}, {Tensor::scalar<int64_t>(5)},
                                    {Tensor::scalar<int64_t>(0)}}).status.ok());
  auto sq = trace_single_op("Squeeze", 13, {{tensor<float>({1, 2}, {1, 2})}, {i64({1})}});
  EXPECT_FALSE(sq.status.ok());
  auto range = trace_single_op("Range", 13, {{Tensor::scalar<int32_t>(10), true}, {Tensor::scalar<int32_t>(1), true},
                                    {Tensor::scalar<int32_t>(-4), true}});
  ASSERT_TRUE(range.status.ok()) << range.status.message();
  EXPECT_EQ(range.inferred[0], Shape::from_dims({3}));
  EXPECT_EQ(values<int32_t>(range.outputs[0]), (std::vector<int32_t>{10, 6, 2}));
}

TEST(RefTensor, ExpandBidirectionalAndConstantShapeInference) {
  auto r = trace_single_op("Expand", 13, {{tensor<float>({1, 2, 3}, {3, 1})}, {i64({2, 1, 2}), true}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.inferred[0], Shape::from_dims({2, 3, 2}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(RefTensor, UnsqueezeAttributeFormAndOneHotOutOfRange) {
  auto u = trace_single_op("Unsqueeze", 11, {{tensor<float>({1, 2}, {2})}}, {{"axes", Attribute::of_ints({-1, 0})}});
  ASSERT_TRUE(u.status.ok()) << u.status.message();
  EXPECT_EQ(u.inferred[0], Shape::from_dims({1, 2, 1}));
  auto dup = trace_single_op("Unsqueeze", 13, {{tensor<float>({1, 2}, {2})}, {i64({0, 0})}});
  EXPECT_FALSE(dup.status.ok());
  // An index outside [-depth, depth-1] gives an all-off row (not an error).
  auto oh = trace_single_op("OneHot", 11, {{i64({1, 7, -1})}, {Tensor::scalar<int64_t>(3), true},
                                  {tensor<float>({0, 1}, {2})}});
  ASSERT_TRUE(oh.status.ok()) << oh.status.message();
  EXPECT_EQ(oh.inferred[0], Shape::from_dims({3, 3}));
  EXPECT_EQ(values<float>(oh.outputs[0]), (std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0, 1}));
}

TEST(RefTensor, CompressNonZeroAndReverseSequenceErrors) {
  auto c = trace_single_op("Compress", 11, {{tensor<float>({1, 2, 3}, {3})}, {tensor<bool>({false, true, true, true}, {4})}},
                  {{"axis", Attribute::of_int(0)}});
  EXPECT_FALSE(c.status.ok());
  auto nz = trace_single_op("NonZero", 13, {{tensor<int32_t>({0, 3, 0, 4}, {2, 2})}});
  ASSERT_TRUE(nz.status.ok()) << nz.status.message();
  EXPECT_EQ(nz.outputs[0].dims(), (Dims{2, 2}));
  EXPECT_EQ(values<int64_t>(nz.outputs[0]), (std::vector<int64_t>{0, 1, 1, 1}));
  auto rs = trace_single_op("ReverseSequence", 10, {{tensor<float>({1, 2, 3, 4}, {2, 2})}, {i64({3, 1})}});
  EXPECT_FALSE(rs.status.ok());
}

// Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters write "x.view(x.size(0), -1)": with a static
// input shape, inference must give the exact output shape.
TEST(RefTensor, ShapeArithmeticFoldsIntoExactReshapeShape) {
  Graph g;
  g.opset_imports[""] = 13;
  Value* x = g.add_value("x", {DataType::kF32, Shape::from_dims({2, 3, 4})});
  g.inputs.push_back(x);
  auto add = [&](const std::string& op, std::vector<Value*> ins, std::map<std::string, Attribute> attrs = {}) {
    auto n = std::make_unique<Node>();
    n->op_type = op;
    n->name = op + std::to_string(g.nodes().size());
    n->opset = 13;
    n->def = find_op_def("", op);
    n->inputs = std::move(ins);
    n->attrs.insert(attrs.begin(), attrs.end());
    Value* out = g.add_value(n->name + "_out");
    n->outputs.push_back(out);
    g.add_node(std::move(n));
    return out;
  };
  Value* zero = g.add_value("zero");
  zero->constant = Tensor::scalar<int64_t>(0);
  zero->type = {DataType::kI64, Shape::from_dims({})};
  Value* axes0 = g.add_value("axes0");
  axes0->constant = i64({0});
  axes0->type = {DataType::kI64, Shape::from_dims({1})};
  Value* shape = add("Shape", {x});
  Value* batch = add("Gather", {shape, zero});
  Value* batch1 = add("Unsqueeze", {batch, axes0});
  Value* minus1 = add("Constant", {}, {{"value_ints", Attribute::of_ints({-1})}});
  Value* target = add("Concat", {batch1, minus1}, {{"axis", Attribute::of_int(0)}});
  Value* y = add("Reshape", {x, target});
  g.outputs.push_back(y);
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(y->type.shape, Shape::from_dims({2, 12}));
  auto runner = GraphRunner::create(g);
  ASSERT_TRUE(runner.ok()) << runner.status().message();
  std::vector<float> xv(24, 0.5f);
  auto out = runner->run({{"x", tensor(xv, {2, 3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].dims(), (Dims{2, 12}));
}

}  // namespace
}  // namespace kiln
