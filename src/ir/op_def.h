// Op definitions: each op is defined once — its attributes (with defaults), arity, opset range, and the
// type and shape inference the IR relies on. Families of ops live in src/ir/ops/<family>.cc and are
// listed in src/ir/ops/op_families.inc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/attribute.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// One attribute an op accepts. `default_value` is used when the node omits the attribute.
struct AttrSpec {
  std::string name;
  AttrType type;
  std::optional<Attribute> default_value;
  bool required = false;
};

// Short helpers for op tables.
AttrSpec attr_int(std::string name, std::optional<int64_t> def = std::nullopt);
AttrSpec attr_float(std::string name, std::optional<float> def = std::nullopt);
AttrSpec attr_string(std::string name, std::optional<std::string> def = std::nullopt);
AttrSpec attr_ints(std::string name);
AttrSpec attr_floats(std::string name);
AttrSpec attr_strings(std::string name);
AttrSpec attr_tensor(std::string name);
AttrSpec required(AttrSpec spec);

class InferContext;
using InferFn = Status (*)(InferContext&);

struct OpDef {
  std::string op_type;
  std::string domain;        ///< "" for ai.onnx
  int min_inputs = 0;
  int max_inputs = 0;        ///< -1: variadic
  int min_outputs = 1;
  int max_outputs = 1;
  std::vector<AttrSpec> attrs;
  InferFn infer = nullptr;   ///< sets every present output's dtype and shape
  int since_opset = 1;       ///< first opset of the op's domain that has it
};

/// What an inference function sees: the node, its input types, constant input values where known.
class InferContext {
 public:
  explicit InferContext(Node& node) : node_(node) {}

  const Node& node() const { return node_; }
  int opset() const { return node_.opset; }
  size_t num_inputs() const { return node_.inputs.size(); }
  bool has_input(size_t i) const { return node_.has_input(i); }
  DataType input_dtype(size_t i) const { return node_.inputs[i]->type.dtype; }
  const Shape& input_shape(size_t i) const { return node_.inputs[i]->type.shape; }
  /// The input's value when it is a constant (initializer or folded), else null.
  const Tensor* input_value(size_t i) const;
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_output(size_t i) const { return node_.has_output(i); }
  /// Sets output i's type (ignored when the output is omitted).
  void set_output(size_t i, DataType dtype, Shape shape);
  /// An error Status whose message names the node.
  Status error(const std::string& message) const;

 private:
  Node& node_;
};

/// Looks up an op definition; null if kiln does not know it.
const OpDef* find_op_def(std::string_view domain, std::string_view op_type);
/// All known op definitions (for listings and tests).
std::vector<const OpDef*> all_op_defs();

/// Checks the node's arity and attributes against its OpDef (names, types, required ones).
Status validate_node(const Node& node, const OpDef& def);

/// A node of a known op (its OpDef resolved), for passes that build graphs. Outputs' producer is set by
/// Graph::add_node.
std::unique_ptr<Node> make_node(const std::string& op_type, const std::string& name, int opset,
                                std::vector<Value*> inputs, std::vector<Value*> outputs, const std::string& domain = "");
/// A new constant value holding `t` (name made unique if taken).
Value* add_constant(Graph& graph, const std::string& name, Tensor t);

// Reusable inference functions for common patterns.
Status infer_same_as_input0(InferContext& ctx);      ///< output 0 = input 0's type
Status infer_broadcast_inputs(InferContext& ctx);    ///< output 0 = broadcast of all inputs, input 0 dtype
Status infer_broadcast_to_bool(InferContext& ctx);   ///< comparisons: broadcast shape, bool dtype

}  // namespace kiln
