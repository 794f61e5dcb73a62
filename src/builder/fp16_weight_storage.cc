#include "builder/fp16_weight_storage.h"

#include "backends/cpu/cpu_kernel.h"
#include "ir/op_def.h"

namespace kiln {

Status store_cpu_weights_fp16(Graph& graph, Fp16Report* report) {
  Fp16Report local;
  Fp16Report& r = report ? *report : local;
  for (const auto& node : graph.nodes()) {
    KILN_ASSIGN_OR_RETURN(auto kernel, cpu::create_cpu_kernel(*node));
    if (!kernel || !node->attr_string(cpu::kWeightPackingAttr).empty()) {
      ++r.nodes_fp32;
      continue;
    }
    size_t w = kernel->weight_input();
    Value* weights = node->inputs[w];
    if (!weights || !weights->is_constant() || weights->constant->dtype() != DataType::kF32) {
      ++r.nodes_fp32;  // int8 or weight-free kernels (pooling)
      continue;
    }
    ++r.nodes_fp16;
    node->inputs[w] = add_constant(graph, weights->name + ".f16", to_f16(*weights->constant, weights->name, r));
    node->attrs[cpu::kWeightPackingAttr] = Attribute::of_string(cpu::kFp16Storage);
    size_t bias = w + 1;  // Conv/FusedConv B, Gemm/FusedGemm C, FusedMatMul bias
    Value* b = bias < node->inputs.size() ? node->inputs[bias] : nullptr;
    if (b && b->is_constant() && b->constant->dtype() == DataType::kF32) {
      node->inputs[bias] = add_constant(graph, b->name + ".f16", to_f16(*b->constant, b->name, r));
      node->attrs[cpu::kBiasStorageAttr] = Attribute::of_string(cpu::kFp16Storage);
    }
  }
  graph.remove_unused_values();
  return {};
}

}  // namespace kiln
