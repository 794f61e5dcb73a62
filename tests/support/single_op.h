// Runs one ONNX op on the reference backend, for the focused op-family tests (tests/unit/ref_*_test.cc):
// builds a one-node Graph, validates the node, infers shapes and runs it, so every failure (validation,
// inference or the kernel) comes back as a Status, never a crash. Also small tensor helpers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace kiln::testing {

/// One input of the node: `{x}` a graph input (shape known to inference), `{x, true}` a constant (value
/// visible to inference too), and `{}` / `std::nullopt` / an undefined Tensor an omitted optional input.
struct OpInput {
  OpInput() = default;
  OpInput(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): omitted input
  OpInput(Tensor v, bool is_constant = false)  // NOLINT(google-explicit-constructor)
      : value(std::move(v)), constant(is_constant) {}

  Tensor value;           ///< undefined = omitted
  bool constant = false;  ///< a constant (initializer) rather than a graph input
};

struct SingleOpOptions {
  std::string domain;                 ///< the op's domain; "" is the default ai.onnx domain
  bool unknown_input_shapes = false;  ///< declare graph inputs with unknown rank (constants keep their shape),
                                      ///< so only the kernel can catch bad shapes
};

/// A built (validated, shape-inferred) one-node graph: node "n", inputs "in<i>", outputs "out<i>".
struct SingleOpGraph {
  std::unique_ptr<Graph> graph;
  std::map<std::string, Tensor, std::less<>> feeds;  ///< the non-constant inputs, by name
  std::vector<Value*> outputs;                       ///< the node's outputs (types as inferred)
};

using OpAttributes = std::map<std::string, Attribute>;

/// Builds the one-node graph for `op_type` at `opset`, validates the node and infers shapes.
Result<SingleOpGraph> build_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                                      const OpAttributes& attrs = {}, int num_outputs = 1,
                                      const SingleOpOptions& options = {});

/// Builds the graph as build_single_op does and runs it on the reference backend; returns all outputs.
Result<std::vector<Tensor>> run_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                                          const OpAttributes& attrs = {}, int num_outputs = 1,
                                          const SingleOpOptions& options = {});

/// What run_single_op saw, stage by stage.
struct SingleOpTrace {
  Status status;                ///< the first failure: validation, inference or the kernel
  std::vector<Shape> inferred;  ///< the statically inferred output shapes (when inference succeeded)
  std::vector<Tensor> outputs;  ///< the outputs (when the run succeeded)
};
SingleOpTrace trace_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                              const OpAttributes& attrs = {}, int num_outputs = 1,
                              const SingleOpOptions& options = {});

/// The first output of a run (or its error).
Result<Tensor> first_output(Result<std::vector<Tensor>> outputs);

template <typename T>
Tensor tensor(const std::vector<T>& v, Dims d) {
  return Tensor::from_vector<T>(v, std::move(d));
}
/// 1-D tensors.
inline Tensor f32(const std::vector<float>& v) { return tensor<float>(v, {static_cast<int64_t>(v.size())}); }
inline Tensor i64(const std::vector<int64_t>& v) { return tensor<int64_t>(v, {static_cast<int64_t>(v.size())}); }

/// The elements of `t` (of element type T) as a vector.
template <typename T = float>
std::vector<T> values(const Tensor& t) {
  auto s = t.span<T>();
  return {s.begin(), s.end()};
}

/// Whether the status message mentions `text`.
inline bool mentions(const Status& s, std::string_view text) { return s.message().find(text) != std::string::npos; }

}  // namespace kiln::testing
