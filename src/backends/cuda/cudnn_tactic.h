// Tactic ids of the cuDNN convolution kernels: which operation graph ("path") and which engine config ran.
//
//   cudnn:<path>:e<engine global index>[:k<knob type>=<value>,k<knob type>=<value>,...]
//
// e.g. "cudnn:fused:e12:k2=3,k14=4". The path says how much of the node cuDNN runs: "fused" (conv, bias,
// residual and activation in one graph), "bias" (conv + bias; kiln's epilogue kernel adds the residual and
// applies the activation) or "conv" (conv alone; the epilogue does the rest). The engine index is
// CUDNN_ATTR_ENGINE_GLOBAL_INDEX and the knobs CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, in cuDNN's order, so the
// same engine config can be re-created in another process on the same GPU and cuDNN version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::cuda {

enum class ConvPath { kFused, kBias, kConv };

/// "fused", "bias", "conv".
std::string_view conv_path_name(ConvPath p);

struct CudnnTactic {
  ConvPath path = ConvPath::kConv;
  int64_t engine = 0;
  std::vector<std::pair<int64_t, int64_t>> knobs;  ///< (knob type, value)

  std::string to_string() const;
  /// The tactic an id names; nullopt when `id` is not a well-formed cuDNN tactic id.
  static std::optional<CudnnTactic> parse(std::string_view id);

  bool operator==(const CudnnTactic&) const = default;
};

/// What tactic() reports when no tactic was set.
inline constexpr const char* kCudnnHeuristicTactic = "cudnn:heuristic";

}  // namespace kiln::cuda
