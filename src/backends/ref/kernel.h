// Reference kernels: plain, readable loops that define what every other backend must compute.
//
// A kernel is a function `Status fn(KernelContext&)`. It reads its inputs and attributes, computes the
// output shape, allocates each present output with `allocate_output`, and fills it. Families of kernels
// live in src/backends/ref/<family>.cc and are listed in ref_kernel_families.inc.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln::ref {

/// Supplies output memory (e.g. a slot of an engine's planned arena); zero-filled when `zero_fill`.
using OutputAllocator = std::function<Tensor(size_t output_index, DataType dtype, const Dims& dims, bool zero_fill)>;

class KernelContext {
 public:
  KernelContext(const Node& node, std::vector<const Tensor*> inputs, std::vector<Tensor>* outputs,
                const OutputAllocator* allocator = nullptr)
      : node_(node), inputs_(std::move(inputs)), outputs_(outputs), allocator_(allocator) {}

  const Node& node() const { return node_; }
  int opset() const { return node_.opset; }
  size_t num_inputs() const { return inputs_.size(); }
  /// False for an omitted optional input.
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  const Tensor& input(size_t i) const { return *inputs_[i]; }
  size_t num_outputs() const { return outputs_->size(); }
  /// False for an omitted optional output (the kernel may skip computing it).
  bool has_output(size_t i) const { return node_.has_output(i); }
  /// Allocates output i and returns it: zero-filled, unless the kernel overwrites every element anyway and
  /// passes zero_fill = false (saves a pass over memory on large activations).
  Tensor& allocate_output(size_t i, DataType dtype, Dims dims, bool zero_fill = true);
  /// Sets output i to an existing tensor (e.g. a view of an input for Reshape/Identity).
  void set_output(size_t i, Tensor t) { (*outputs_)[i] = std::move(t); }
  /// An error whose message names the node.
  Status error(const std::string& message) const;

 private:
  const Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor>* outputs_;
  const OutputAllocator* allocator_;
};

using KernelFn = Status (*)(KernelContext&);

struct KernelEntry {
  std::string_view op_type;
  std::string_view domain;  ///< "" for ai.onnx
  KernelFn fn;
};

/// The reference kernel for an op; null if none.
KernelFn find_kernel(std::string_view domain, std::string_view op_type);
/// All reference kernels.
std::vector<KernelEntry> all_kernels();

}  // namespace kiln::ref
