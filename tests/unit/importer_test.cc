// ONNX import: specific errors for bad files and models, IR<4 initializer-inputs, symbolic shapes, and the
// text form's round trip.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ir/text_format.h"
#include "onnx/importer.h"
#include "runtime/graph_runner.h"
#include "tests/support/onnx_builder.h"

using namespace kiln;
using kiln::testing::OnnxBuilder;
namespace fs = std::filesystem;

namespace {

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

OnnxBuilder relu_model() {
  OnnxBuilder b;
  b.input("x", DataType::kF32, {-1, 3}, {"N"}).output("y", DataType::kF32);
  b.node("Relu", {"x"}, {"y"}, "relu1");
  return b;
}

}  // namespace

TEST(Importer, MissingFileIsNamed) {
  auto r = import_onnx_file("/no/such/model.onnx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "ONNX model not found: /no/such/model.onnx");
}

TEST(Importer, EmptyTruncatedAndForeignFilesAreRejected) {
  std::string empty = temp_path("kiln_empty.onnx");
  std::ofstream(empty).close();
  auto r1 = import_onnx_file(empty);
  ASSERT_FALSE(r1.ok());
  EXPECT_TRUE(contains(r1.status().message(), "empty")) << r1.status().message();

  std::string text = temp_path("kiln_text.onnx");
  std::ofstream(text) << "this is not a model\n";
  auto r2 = import_onnx_file(text);
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(contains(r2.status().message(), "not an ONNX model")) << r2.status().message();

  std::string bytes = relu_model().bytes();
  std::string truncated = temp_path("kiln_trunc.onnx");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto r3 = import_onnx_file(truncated);
  ASSERT_FALSE(r3.ok());
  EXPECT_TRUE(contains(r3.status().message(), truncated)) << r3.status().message();
}

TEST(Importer, ListsEveryUnsupportedNodeAtOnce) {
  OnnxBuilder b;
  b.input("x", DataType::kF32, {2}).output("z", DataType::kF32);
  auto& n1 = b.node("FancyOp", {"x"}, {"y"}, "first");
  n1.set_domain("com.example");
  auto* op = const_cast<onnx::ModelProto&>(b.model()).add_opset_import();
  op->set_domain("com.example");
  op->set_version(1);
  b.node("OtherFancyOp", {"y"}, {"z"}, "second").set_domain("com.example");
  auto r = import_onnx_bytes(b.bytes(), ".", "m.onnx", {.run_checker = false});
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_TRUE(contains(m, "2 unsupported node(s)")) << m;
  EXPECT_TRUE(contains(m, "'first' (com.example.FancyOp, opset 1)")) << m;
  EXPECT_TRUE(contains(m, "'second' (com.example.OtherFancyOp, opset 1)")) << m;
}

TEST(Importer, RejectsOpsetNewerThanSupported) {
  OnnxBuilder b(kMaxSupportedOpset + 1);
  b.input("x", DataType::kF32, {2}).output("y", DataType::kF32);
  b.node("Relu", {"x"}, {"y"});
  auto r = import_onnx_bytes(b.bytes(), ".", "m.onnx");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "opset 22")) << r.status().message();
}

TEST(Importer, KeepsSymbolicDimsAndInfersOutputTypes) {
  auto g = import_onnx_bytes(relu_model().bytes(), ".", "m.onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->inputs.at(0)->type.to_string(), "f32[N,3]");
  EXPECT_EQ(g->outputs.at(0)->type.to_string(), "f32[N,3]");
}

TEST(Importer, InitializersListedAsInputsAreOptionalInputs) {
  // IR version 3: initializers must also be graph inputs; the runtime then uses the initializer value.
  OnnxBuilder b(7, 3);
  b.input("x", DataType::kF32, {2}).output("y", DataType::kF32);
  b.initializer("bias", Tensor::from_vector<float>({-5.0f, 5.0f}, {2}), /*also_graph_input=*/true);
  b.node("Relu", {"bias"}, {"y"});
  auto g = import_onnx_bytes(b.bytes(), ".", "m.onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto runner = GraphRunner::create(*g);
  ASSERT_TRUE(runner.ok());
  auto out = runner->run({{"x", Tensor::from_vector<float>({1, 2}, {2})}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].data<float>()[0], 0.0f);
  EXPECT_EQ((*out)[0].data<float>()[1], 5.0f);
}

TEST(GraphRunner, WrongInputShapeAndDtypeNameTheInput) {
  auto g = import_onnx_bytes(relu_model().bytes(), ".", "m.onnx");
  ASSERT_TRUE(g.ok());
  auto runner = GraphRunner::create(*g);
  ASSERT_TRUE(runner.ok());
  auto bad_shape = runner->run({{"x", Tensor(DataType::kF32, {2, 4})}});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_TRUE(contains(bad_shape.status().message(), "input 'x': dimension 1 must be 3, got 4"))
      << bad_shape.status().message();
  auto bad_dtype = runner->run({{"x", Tensor(DataType::kI64, {2, 3})}});
  ASSERT_FALSE(bad_dtype.ok());
  EXPECT_TRUE(contains(bad_dtype.status().message(), "expected dtype f32, got i64")) << bad_dtype.status().message();
  auto missing = runner->run({});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), "missing input 'x'")) << missing.status().message();
  auto extra = runner->run({{"x", Tensor(DataType::kF32, {1, 3})}, {"nope", Tensor(DataType::kF32, {1})}});
  ASSERT_FALSE(extra.ok());
  EXPECT_TRUE(contains(extra.status().message(), "no input 'nope'")) << extra.status().message();
}

TEST(TextFormat, PrintParsePrintIsIdentity) {
  OnnxBuilder b;
  b.input("x", DataType::kF32, {-1, 3}, {"N"}).output("onnx::y/1", DataType::kF32);
  b.initializer("w", Tensor::from_vector<float>({0.1f, -2.5f, 1e-8f}, {3}));
  b.node("Relu", {"x"}, {"onnx::y/1"}, "relu \"quoted\"");
  auto g = import_onnx_bytes(b.bytes(), ".", "m.onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  std::string text = print_graph(*g);
  auto parsed = parse_graph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << text;
  EXPECT_EQ(print_graph(*parsed), text);
  EXPECT_TRUE(contains(text, "%\"onnx::y/1\": f32[N,3]")) << text;
  ASSERT_TRUE(parsed->find_value("w")->is_constant());
  EXPECT_EQ(parsed->find_value("w")->constant->data<float>()[2], 1e-8f);
}

TEST(TextFormat, ParseErrorsGiveLineAndColumn) {
  auto r = parse_graph("kiln-ir 1\ngraph \"g\"\ninput %x: f99[2]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "line 3")) << r.status().message();
  EXPECT_TRUE(contains(r.status().message(), "unknown dtype 'f99'")) << r.status().message();
}
