// Node attributes, mirroring ONNX AttributeProto.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace kiln {

class Graph;

enum class AttrType { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors, kGraphs };

std::string_view attr_type_name(AttrType t);

struct Attribute {
  AttrType type = AttrType::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::shared_ptr<Graph> graph;  // subgraphs are carried but not executed by this version

  static Attribute of_float(float v) { Attribute a; a.type = AttrType::kFloat; a.f = v; return a; }
  static Attribute of_int(int64_t v) { Attribute a; a.type = AttrType::kInt; a.i = v; return a; }
  static Attribute of_string(std::string v) { Attribute a; a.type = AttrType::kString; a.s = std::move(v); return a; }
  static Attribute of_tensor(Tensor v) { Attribute a; a.type = AttrType::kTensor; a.t = std::move(v); return a; }
  static Attribute of_floats(std::vector<float> v) { Attribute a; a.type = AttrType::kFloats; a.floats = std::move(v); return a; }
  static Attribute of_ints(std::vector<int64_t> v) { Attribute a; a.type = AttrType::kInts; a.ints = std::move(v); return a; }
  static Attribute of_strings(std::vector<std::string> v) { Attribute a; a.type = AttrType::kStrings; a.strings = std::move(v); return a; }
};

}  // namespace kiln
