// Tensor comparison as onnx.backend.test scores it (numpy.testing.assert_allclose for floats).
#pragma once

#include <string>

#include "core/tensor.h"

namespace kiln {

/// Empty when `actual` matches `expected`: same dtype and shape; floats within |a-e| <= atol + rtol*|e|
/// (NaN matches NaN, inf matches inf of the same sign); integers, bools and strings exactly.
/// Otherwise a one-line description of the first mismatch and the count of mismatches.
std::string compare_tensors(const Tensor& expected, const Tensor& actual, double rtol, double atol);

}  // namespace kiln
