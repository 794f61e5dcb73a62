#include "backends/cuda/fused_activation.h"

#include <fmt/format.h>

#include <limits>
#include <vector>

#include "ir/fused_activation.h"

namespace kiln::cuda {

Result<std::optional<FusedActivation>> read_fused_activation(const Node& node) {
  FusedActivation a;
  a.op = node.attr_string("activation", "");
  if (a.op.empty()) return std::optional<FusedActivation>(a);
  struct Entry {
    const char* op;
    EpilogueActivation kind;
  };
  static const Entry kEntries[] = {
      {"Relu", EpilogueActivation::kRelu},
      {"LeakyRelu", EpilogueActivation::kLeakyRelu},
      {"Clip", EpilogueActivation::kClip},
      {"Sigmoid", EpilogueActivation::kSigmoid},
      {"Tanh", EpilogueActivation::kTanh},
      {"Elu", EpilogueActivation::kElu},
      {"Selu", EpilogueActivation::kSelu},
      {"Celu", EpilogueActivation::kCelu},
      {"HardSigmoid", EpilogueActivation::kHardSigmoid},
      {"HardSwish", EpilogueActivation::kHardSwish},
      {"Softplus", EpilogueActivation::kSoftplus},
      {"Softsign", EpilogueActivation::kSoftsign},
      {"Mish", EpilogueActivation::kMish},
      {"ThresholdedRelu", EpilogueActivation::kThresholdedRelu},
      {"Shrink", EpilogueActivation::kShrink},
      {"Gelu", EpilogueActivation::kGelu},
  };
  bool found = false;
  for (const Entry& e : kEntries)
    if (a.op == e.op) {
      a.kind = e.kind;
      found = true;
    }
  if (!found) return std::optional<FusedActivation>();

  std::vector<float> p = node.attr_floats("activation_params");
  const size_t want = a.op == "Clip" ? 2 : activation_param_names(a.op).size();
  if (p.size() != want)
    return Status::invalid_model(fmt::format("activation {} takes {} params, got {}", a.op, want, p.size()));
  p.resize(2, 0.0f);
  a.p0 = p[0];
  a.p1 = p[1];
  if (a.kind == EpilogueActivation::kCelu && a.p0 == 0.0f)
    return Status::invalid_model("activation Celu: alpha must be non-zero");
  return std::optional<FusedActivation>(a);
}

}  // namespace kiln::cuda
