// kiln/data_type.h — element types. The numeric values equal ONNX's TensorProto.DataType.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

enum class DataType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kI32 = 6,
  kI64 = 7,
  kString = 8,
  kBool = 9,
  kF16 = 10,
  kF64 = 11,
  kU32 = 12,
  kU64 = 13,
  kBF16 = 16,
};

/// Bytes per element (0 for undefined; strings are stored out of line and report sizeof(std::string)).
size_t dtype_size(DataType t);
/// kiln's short dtype name: "f32", "f16", "i64", "bool", ...
std::string_view dtype_name(DataType t);
/// Parses a short name ("f32") or an ONNX name ("float", "FLOAT16", "int64").
std::optional<DataType> parse_dtype(std::string_view name);
/// True for a dtype whose numeric value is one kiln knows.
bool is_known_dtype(int32_t onnx_type);

bool is_float(DataType t);    ///< f16, bf16, f32, f64
bool is_integer(DataType t);  ///< signed or unsigned integers (not bool)
bool is_signed_integer(DataType t);
bool is_8bit_integer(DataType t);  ///< i8, u8 (the element types of kiln's quantized tensors)

}  // namespace kiln
