// The IR's text form: prints a whole graph and parses it back (print → parse → print is the identity).
//
//   kiln-ir 1
//   graph "torch_jit"
//   opset "" 13
//   input %x: f32[N,3,8,8]
//   const %w: f32[4,3,3,3] = [0.1, ...]
//   node "conv1" Conv<13>(%x, %w, _) -> (%y: f32[N,4,6,6]) {kernel_shape: ints = [3, 3]}
//   output %y
//
// Names that are not plain identifiers are quoted (%"onnx::Conv_12"). `_` is an omitted optional input or
// output. Shapes print extents, symbols (N) or ? for unknown; f32[*] is an unknown rank. Ops outside
// ai.onnx print as Op@domain. Constants print every value (exactly, so parsing restores the same bits)
// unless `max_constant_elements` elides large ones as `<N values>`, which cannot be parsed back.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct TextOptions {
  /// Constants with more elements than this print as `<N values>` (-1: print all; round-trips).
  int64_t max_constant_elements = -1;
  /// When set and it returns a reference for a constant, the constant prints as `= @REFERENCE` instead of
  /// its values (engine files keep weights in separate aligned blobs this way).
  std::function<std::optional<std::string>(const Value&)> constant_reference;
};

struct ParseOptions {
  /// Resolves `= @REFERENCE` constants (see TextOptions::constant_reference) to tensors.
  std::function<Result<Tensor>(const std::string& reference, const ValueType& type)> resolve_constant;
};

std::string print_graph(const Graph& graph, const TextOptions& options = {});
/// Parses the text form. Ops are resolved against kiln's op definitions; errors give line and column.
Result<Graph> parse_graph(const std::string& text, const ParseOptions& options = {});

}  // namespace kiln
