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

TEST(Importer, ReadsExternalDataAndRefusesPathsOutsideTheModelFolder) {
  auto dir = fs::temp_directory_path() / "kiln_external";
  fs::create_directories(dir);
  std::vector<float> w = {1.5f, -2.0f, 3.25f};
  std::ofstream(dir / "weights.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size() * sizeof(float)));
  auto make = [&](const std::string& location) {
    OnnxBuilder b;
    b.input("x", DataType::kF32, {3}).output("y", DataType::kF32);
    auto& model = const_cast<onnx::ModelProto&>(b.model());
    auto* init = model.mutable_graph()->add_initializer();
    init->set_name("w");
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_dims(3);
    init->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* loc = init->add_external_data();
    loc->set_key("location");
    loc->set_value(location);
    b.node("Add", {"x", "w"}, {"y"});
    return b;
  };
  make("weights.bin").save((dir / "model.onnx").string());
  auto g = import_onnx_file((dir / "model.onnx").string());
  ASSERT_TRUE(g.ok()) << g.status().message();
  const Tensor& t = *g->find_value("w")->constant;
  EXPECT_EQ(t.data<float>()[2], 3.25f);

  make("../../etc/passwd").save((dir / "evil.onnx").string());
  auto evil = import_onnx_bytes(make("../../etc/passwd").bytes(), dir.string(), "evil.onnx", {.run_checker = false});
  ASSERT_FALSE(evil.ok());
  EXPECT_TRUE(contains(evil.status().message(), "inside the model's folder")) << evil.status().message();
}

TEST(TextFormat, RealModelsRoundTrip) {
  fs::path models = fs::path(__FILE__).parent_path() / "../../../shared/models";
  if (!fs::exists(models)) GTEST_SKIP() << "shared models not found at " << models;
  for (const char* m : {"mnist_8/model.onnx", "squeezenet1.0/SqueezeNet_fp16.onnx", "ultraface/version-RFB-320.onnx",
                        "st_mobilenet_v1_0.5_128_quant/mobilenet_v1_0.5_128_quant.onnx"}) {
    auto g = import_onnx_file((models / m).string());
    ASSERT_TRUE(g.ok()) << g.status().message();
    std::string text = print_graph(*g);
    auto parsed = parse_graph(text);
    ASSERT_TRUE(parsed.ok()) << m << ": " << parsed.status().message();
    EXPECT_EQ(print_graph(*parsed), text) << m;
  }
}
