// kiln.QLookup's element loop, shared by the reference kernel (src/backends/ref/qfused.cc) and the CPU
// backend's threaded kernel (src/backends/cpu/lookup_kernel.cc).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace kiln::ref {

/// The table index of an 8-bit value v is v - min(x's dtype): the byte of v XOR this (int8 v -> v + 128).
inline uint8_t qlookup_index_flip(DataType x_dtype) { return x_dtype == DataType::kI8 ? 0x80 : 0; }

/// Empty when x is 8-bit and table holds 256 values of 1, 2 or 4 bytes; else what is wrong.
std::string qlookup_operand_error(const Tensor& x, const Tensor& table);

/// y[i] = table[x[i] - min(x's dtype)] for i in [begin, end); y has x's dims and table's dtype.
void qlookup_range(const Tensor& x, const Tensor& table, Tensor& y, int64_t begin, int64_t end);

}  // namespace kiln::ref
