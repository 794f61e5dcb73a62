#include "backends/cpu/cpu_backend.h"

#include <fmt/format.h>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/lookup_kernel.h"
#include "ir/op_def.h"

namespace kiln::cpu {

std::shared_ptr<const NodeKernel> create_own_cpu_kernel(const Node& node) { return create_lookup_kernel(node); }

Result<NodeKernels> create_cpu_kernels(const Graph& graph) {
  NodeKernels kernels;
  for (const auto& node : graph.nodes()) {
    if (auto own = create_own_cpu_kernel(*node)) {
      kernels.push_back(std::move(own));
      continue;
    }
    KILN_ASSIGN_OR_RETURN(auto kernel, create_cpu_kernel(*node));
    kernels.push_back(std::move(kernel));
  }
  return kernels;
}

Status pack_cpu_weights(Graph& graph, const std::map<std::string, Dims>& opt_input_dims, PackReport* report) {
  PackReport local;
  for (const auto& node : graph.nodes()) {
    if (!node->attr_string(kWeightPackingAttr).empty()) continue;  // already packed or stored in f16
    KILN_ASSIGN_OR_RETURN(auto kernel, create_cpu_kernel(*node));
    if (!kernel) continue;
    Dims dims;
    if (auto it = opt_input_dims.find(node->name); it != opt_input_dims.end()) dims = it->second;
    else if (node->inputs[0]->type.shape.is_static()) dims = node->inputs[0]->type.shape.static_dims();
    else continue;  // no shape to pack for: the kernel packs plain weights when it first runs
    KILN_ASSIGN_OR_RETURN(std::optional<Tensor> blob, kernel->packed_weights(dims));
    if (!blob) continue;
    size_t w = kernel->weight_input();
    Value* plain = node->inputs[w];
    // Blocked layouts pad channels to the vector width (e.g. 24 → 32) and the blob carries a descriptor:
    // where that costs more than 1% the engine keeps the plain weights (packed when it loads), so engine
    // sizes stay at the weights' own size.
    if (blob->byte_size() > plain->constant->byte_size() + plain->constant->byte_size() / 100) {
      ++local.nodes_left_plain;
      continue;
    }
    local.bytes_before += plain->constant->byte_size();
    local.bytes_after += blob->byte_size();
    ++local.nodes_packed;
    node->inputs[w] = add_constant(graph, plain->name + ".onednn", std::move(*blob));
    node->attrs[kWeightPackingAttr] = Attribute::of_string(kOneDnnPacking);
  }
  graph.remove_unused_values();
  if (report) *report = local;
  return {};
}

}  // namespace kiln::cpu
