// The typed IR: a Graph owns Values (typed edges) and Nodes (operations) kept in topological order.
//
// Every Value has a dtype and a (possibly symbolic) Shape. Initializers are Values with a constant
// Tensor. A Node's optional inputs/outputs that the model omits are null pointers.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"
#include "ir/attribute.h"
#include "kiln/status.h"

namespace kiln {

struct OpDef;
class Node;

struct ValueType {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  std::string to_string() const;  // "f32[N,3,224,224]"
};

class Value {
 public:
  std::string name;
  ValueType type;
  std::optional<Tensor> constant;  ///< set for initializers and folded constants
  Node* producer = nullptr;

  bool is_constant() const { return constant.has_value(); }
};

class Node {
 public:
  std::string name;
  std::string op_type;
  std::string domain;  ///< "" for the default ai.onnx domain
  int opset = 0;       ///< the model's opset version for this node's domain
  std::vector<Value*> inputs;   ///< null = omitted optional input
  std::vector<Value*> outputs;  ///< null = omitted optional output
  std::map<std::string, Attribute, std::less<>> attrs;
  const OpDef* def = nullptr;   ///< resolved at import

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  bool has_output(size_t i) const { return i < outputs.size() && outputs[i] != nullptr; }
  const Attribute* find_attr(std::string_view attr_name) const;
  bool has_attr(std::string_view attr_name) const { return find_attr(attr_name) != nullptr; }

  // Attribute getters: the node's value, else the OpDef's default, else `fallback`.
  int64_t attr_int(std::string_view n, int64_t fallback = 0) const;
  float attr_float(std::string_view n, float fallback = 0.0f) const;
  std::string attr_string(std::string_view n, std::string fallback = "") const;
  std::vector<int64_t> attr_ints(std::string_view n, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(std::string_view n, std::vector<float> fallback = {}) const;
  std::vector<std::string> attr_strings(std::string_view n) const;
  const Tensor* attr_tensor(std::string_view n) const;

  /// "Conv 'conv1' (opset 13)" for error messages.
  std::string describe() const;
};

/// The constant value of the node's input i, or null when it is absent or computed.
const Tensor* constant_input(const Node& node, size_t i);

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  std::string name;
  std::vector<Value*> inputs;   ///< runtime inputs (initializers excluded)
  std::vector<Value*> outputs;
  std::map<std::string, int, std::less<>> opset_imports;  ///< domain ("" = ai.onnx) -> version
  std::string producer;  ///< e.g. "pytorch 1.13"

  /// Creates a value with a unique name (the name is made unique if taken).
  Value* add_value(std::string value_name, ValueType type = {});
  /// Finds a value by name; null if absent.
  Value* find_value(std::string_view value_name) const;
  /// Appends a node (callers keep topological order, or call topo_sort()).
  Node* add_node(std::unique_ptr<Node> node);
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  /// Reorders nodes topologically; error names a node on a cycle or with an undefined input.
  Status topo_sort();
  /// Nodes that read `v`.
  std::vector<Node*> consumers(const Value* v) const;
  /// Removes nodes for which pred is true. Their outputs stay as values without a producer (a pass that
  /// removes a node either rewires its readers or gives the outputs a constant).
  template <typename Pred>
  void remove_nodes_if(Pred pred) {
    std::erase_if(nodes_, [&](const std::unique_ptr<Node>& n) {
      if (!pred(*n)) return false;
      for (Value* out : n->outputs)
        if (out && out->producer == n.get()) out->producer = nullptr;
      return true;
    });
  }
  /// Makes every reader of `from` (nodes and graph outputs) read `to` instead.
  void replace_all_uses(Value* from, Value* to);
  /// Drops values that nothing produces, reads or exposes (and are not constants in use).
  void remove_unused_values();

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*, std::less<>> by_name_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace kiln
