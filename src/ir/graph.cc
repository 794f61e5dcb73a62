#include "ir/graph.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>

#include "ir/op_def.h"

namespace kiln {

std::string_view attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::kFloat: return "float";
    case AttrType::kInt: return "int";
    case AttrType::kString: return "string";
    case AttrType::kTensor: return "tensor";
    case AttrType::kGraph: return "graph";
    case AttrType::kFloats: return "floats";
    case AttrType::kInts: return "ints";
    case AttrType::kStrings: return "strings";
    case AttrType::kTensors: return "tensors";
    case AttrType::kGraphs: return "graphs";
  }
  return "?";
}

std::string ValueType::to_string() const { return fmt::format("{}{}", dtype_name(dtype), shape.to_string()); }

const Attribute* Node::find_attr(std::string_view attr_name) const {
  auto it = attrs.find(attr_name);
  if (it != attrs.end()) return &it->second;
  if (def) {
    for (const AttrSpec& spec : def->attrs)
      if (spec.name == attr_name && spec.default_value) return &*spec.default_value;
  }
  return nullptr;
}

int64_t Node::attr_int(std::string_view n, int64_t fallback) const {
  const Attribute* a = find_attr(n);
  return a ? a->i : fallback;
}
float Node::attr_float(std::string_view n, float fallback) const {
  const Attribute* a = find_attr(n);
  return a ? a->f : fallback;
}
std::string Node::attr_string(std::string_view n, std::string fallback) const {
  const Attribute* a = find_attr(n);
  return a ? a->s : fallback;
}
std::vector<int64_t> Node::attr_ints(std::string_view n, std::vector<int64_t> fallback) const {
  const Attribute* a = find_attr(n);
  return a ? a->ints : fallback;
}
std::vector<float> Node::attr_floats(std::string_view n, std::vector<float> fallback) const {
  const Attribute* a = find_attr(n);
  return a ? a->floats : fallback;
}
std::vector<std::string> Node::attr_strings(std::string_view n) const {
  const Attribute* a = find_attr(n);
  return a ? a->strings : std::vector<std::string>{};
}
const Tensor* Node::attr_tensor(std::string_view n) const {
  const Attribute* a = find_attr(n);
  return a && a->t.defined() ? &a->t : nullptr;
}

std::string Node::describe() const {
  std::string dom = domain.empty() ? "" : domain + ".";
  return fmt::format("{}{} node '{}' (opset {})", dom, op_type, name, opset);
}

Value* Graph::add_value(std::string value_name, ValueType type) {
  if (value_name.empty() || by_name_.count(value_name)) {
    std::string base = value_name.empty() ? "v" : value_name;
    for (int k = 1;; ++k) {
      std::string candidate = fmt::format("{}_{}", base, k);
      if (!by_name_.count(candidate)) {
        value_name = candidate;
        break;
      }
    }
  }
  auto v = std::make_unique<Value>();
  v->name = value_name;
  v->type = std::move(type);
  Value* raw = v.get();
  by_name_[value_name] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::find_value(std::string_view value_name) const {
  auto it = by_name_.find(value_name);
  return it == by_name_.end() ? nullptr : it->second;
}

Node* Graph::add_node(std::unique_ptr<Node> node) {
  for (Value* out : node->outputs)
    if (out) out->producer = node.get();
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

Status Graph::topo_sort() {
  std::unordered_map<const Node*, int> pending;
  std::unordered_map<const Value*, std::vector<Node*>> readers;
  for (auto& n : nodes_) {
    int count = 0;
    std::set<const Value*> seen;
    for (Value* in : n->inputs) {
      if (!in || !in->producer || !seen.insert(in).second) continue;
      ++count;
      readers[in].push_back(n.get());
    }
    pending[n.get()] = count;
  }
  std::vector<Node*> ready;
  for (auto& n : nodes_)
    if (pending[n.get()] == 0) ready.push_back(n.get());
  std::vector<Node*> order;
  // Keep the original order among ready nodes so printing stays stable.
  std::unordered_map<const Node*, size_t> position;
  for (size_t i = 0; i < nodes_.size(); ++i) position[nodes_[i].get()] = i;
  while (!ready.empty()) {
    auto it = std::min_element(ready.begin(), ready.end(),
                               [&](Node* a, Node* b) { return position[a] < position[b]; });
    Node* n = *it;
    ready.erase(it);
    order.push_back(n);
    for (Value* out : n->outputs) {
      if (!out) continue;
      for (Node* r : readers[out])
        if (--pending[r] == 0) ready.push_back(r);
    }
  }
  if (order.size() != nodes_.size()) {
    for (auto& n : nodes_)
      if (pending[n.get()] > 0)
        return Status::invalid_model(fmt::format("graph has a cycle through {}", n->describe()));
  }
  std::unordered_map<const Node*, std::unique_ptr<Node>> owned;
  for (auto& n : nodes_) owned[n.get()] = std::move(n);
  nodes_.clear();
  for (Node* n : order) nodes_.push_back(std::move(owned[n]));
  return {};
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (auto& n : nodes_)
    for (Value* in : n->inputs)
      if (in == v) {
        out.push_back(n.get());
        break;
      }
  return out;
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (auto& n : nodes_)
    for (Value*& in : n->inputs)
      if (in == from) in = to;
  for (Value*& out : outputs)
    if (out == from) out = to;
}

void Graph::remove_unused_values() {
  std::set<const Value*> used;
  for (auto& n : nodes_) {
    for (Value* v : n->inputs) used.insert(v);
    for (Value* v : n->outputs) used.insert(v);
  }
  for (Value* v : inputs) used.insert(v);
  for (Value* v : outputs) used.insert(v);
  std::erase_if(values_, [&](const std::unique_ptr<Value>& v) {
    if (used.count(v.get())) return false;
    by_name_.erase(v->name);
    return true;
  });
}

const Tensor* constant_input(const Node& node, size_t i) {
  return node.has_input(i) && node.inputs[i]->is_constant() ? &*node.inputs[i]->constant : nullptr;
}

}  // namespace kiln
