// Which tactic sources a GPU build may choose among (`kiln build --tactic-sources`, TensorRT's
// --tacticSources): cuDNN's engine configs, cuBLASLt's algorithms, kiln's own CUDA kernels. Restricting them
// shows what one source does for a model (e.g. `--tactic-sources kiln` runs kiln's kernels wherever they
// apply, to profile them inside the network) and works around a source that misbehaves on a GPU.
#pragma once

#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {

/// The tactic-id prefixes of `sources` ("cudnn" -> "cudnn:", "cublaslt" -> "cublaslt:", "kiln" -> "cuda:"); empty
/// for none given (every source). An invalid-argument error names an unknown or repeated source.
Result<std::vector<std::string>> tactic_source_prefixes(const std::vector<std::string>& sources);

/// The ids in `ids` (same order) that start with one of `prefixes`; all of them when `prefixes` is empty.
std::vector<std::string> tactics_from_sources(const std::vector<std::string>& ids,
                                              const std::vector<std::string>& prefixes);

}  // namespace kiln
