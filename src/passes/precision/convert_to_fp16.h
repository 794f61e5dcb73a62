// FP16 as an IR rewrite: nodes that are safe in half precision store their float data (weights and
// activations) as f16; the rest stay f32, with Cast nodes at the borders. Backends only honour the types.
//
// Kept in f32 (they lose accuracy in f16 — exponentials, large reductions, normalization accumulators):
// Softmax, LogSoftmax, LayerNormalization, GroupNormalization, Reduce*, Exp, Log, Pow, Erf, CumSum and every
// op not on the f16 list. Graph inputs and outputs stay f32 unless `fp16_io`.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct Fp16Report {
  int64_t nodes_fp16 = 0;
  int64_t nodes_fp32 = 0;
  int64_t casts_inserted = 0;
  int64_t weights_converted = 0;  ///< constants converted to f16
  /// Constants with elements that overflow f16 (|x| > 65504, become ±inf), become f16 subnormals
  /// (|x| < 2^-14, precision loss) or turn into zero; each entry is "name (count of N)".
  std::vector<std::string> overflowed;
  std::vector<std::string> subnormal;
  std::vector<std::string> flushed_to_zero;
};

Status convert_to_fp16(Graph& graph, bool fp16_io, Fp16Report* report);

/// `t` (a float constant named `name`) in f16; overflow, subnormal and flushed elements are noted in `r`.
Tensor to_f16(const Tensor& t, const std::string& name, Fp16Report& r);

}  // namespace kiln
