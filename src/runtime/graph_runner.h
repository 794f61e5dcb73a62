// GraphRunner: executes an IR graph node by node on the reference kernels. It is the oracle every engine
// and backend is checked against, so it favours checks over speed: inputs are validated against the
// graph's declared types, and every output against the statically inferred type.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"
#include "runtime/node_kernel.h"

namespace kiln {

struct RunOptions {
  /// Fail when a kernel's output disagrees with the statically inferred dtype or a known extent.
  bool check_inferred_types = true;
  /// Called with every value computed (node outputs), e.g. for calibration or per-layer comparison.
  std::function<void(const Value&, const Tensor&)> observer;
  /// Supplies memory for a node output (an engine's arena slot); null: the heap.
  std::function<Tensor(const Value&, DataType, const Dims&, bool zero_fill)> allocate;
  /// Called with each node output after its kernel ran; may move it into planned memory (kernels that
  /// return views of their inputs, like Reshape, bypass `allocate`).
  std::function<Tensor(const Value&, Tensor)> place;
  /// Called after each node with its wall time in seconds (profiling); null: no clock reads.
  std::function<void(const Node&, size_t node_index, double seconds)> node_timer;
};

class GraphRunner {
 public:
  /// Checks that every node has a kernel (`kernels[i]` for node i when set, else the reference kernel);
  /// lists all that do not, in one message.
  static Result<GraphRunner> create(const Graph& graph, NodeKernels kernels = {});

  /// The tactic that runs node i ("ref" for the reference kernel).
  std::string tactic(size_t node_index) const;

  /// Runs the graph. `inputs` maps graph input names to tensors; returns outputs in graph order.
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor, std::less<>>& inputs,
                                  const RunOptions& options = {}) const;

 private:
  GraphRunner(const Graph& graph, NodeKernels kernels) : graph_(&graph), kernels_(std::move(kernels)) {}
  const Graph* graph_;
  NodeKernels kernels_;
};

/// Checks a tensor against a declared value type; binds symbolic dims in `symbols`.
/// The message names the input, the axis, and expected vs given.
Status check_input_tensor(const Value& declared, const Tensor& given, std::map<std::string, int64_t>& symbols);

}  // namespace kiln
