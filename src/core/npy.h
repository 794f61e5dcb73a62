// NumPy .npy files (format 1.0/2.0/3.0, little-endian, C order) to and from Tensors.
#pragma once

#include <string>

#include "core/tensor.h"
#include "kiln/status.h"

namespace kiln {

/// Reads a .npy file; errors name the file and what was wrong (fortran order, dtype, truncation).
Result<Tensor> read_npy(const std::string& path);
/// Parses .npy bytes (path is only used in messages).
Result<Tensor> parse_npy(const std::string& bytes, const std::string& path);
/// Writes a .npy file (version 1.0).
Status write_npy(const std::string& path, const Tensor& tensor);

}  // namespace kiln
