#include "kiln/data_type.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace kiln {

namespace {
struct DtypeInfo {
  DataType type;
  std::string_view short_name;
  std::string_view onnx_name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {DataType::kF32, "f32", "float", 4},    {DataType::kU8, "u8", "uint8", 1},
    {DataType::kI8, "i8", "int8", 1},       {DataType::kU16, "u16", "uint16", 2},
    {DataType::kI16, "i16", "int16", 2},    {DataType::kI32, "i32", "int32", 4},
    {DataType::kI64, "i64", "int64", 8},    {DataType::kString, "string", "string", sizeof(std::string)},
    {DataType::kBool, "bool", "bool", 1},   {DataType::kF16, "f16", "float16", 2},
    {DataType::kF64, "f64", "double", 8},   {DataType::kU32, "u32", "uint32", 4},
    {DataType::kU64, "u64", "uint64", 8},   {DataType::kBF16, "bf16", "bfloat16", 2},
};

const DtypeInfo* find_info(DataType t) {
  for (const auto& info : kDtypes)
    if (info.type == t) return &info;
  return nullptr;
}
}  // namespace

size_t dtype_size(DataType t) {
  const DtypeInfo* info = find_info(t);
  return info ? info->size : 0;
}

std::string_view dtype_name(DataType t) {
  const DtypeInfo* info = find_info(t);
  return info ? info->short_name : "undefined";
}

std::optional<DataType> parse_dtype(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "float32") lower = "float";
  if (lower == "float64") lower = "double";
  for (const auto& info : kDtypes)
    if (lower == info.short_name || lower == info.onnx_name) return info.type;
  return std::nullopt;
}

bool is_known_dtype(int32_t onnx_type) { return find_info(static_cast<DataType>(onnx_type)) != nullptr; }

bool is_float(DataType t) {
  return t == DataType::kF32 || t == DataType::kF16 || t == DataType::kBF16 || t == DataType::kF64;
}

bool is_signed_integer(DataType t) {
  return t == DataType::kI8 || t == DataType::kI16 || t == DataType::kI32 || t == DataType::kI64;
}

bool is_8bit_integer(DataType t) { return t == DataType::kI8 || t == DataType::kU8; }

bool is_integer(DataType t) {
  return is_signed_integer(t) || t == DataType::kU8 || t == DataType::kU16 || t == DataType::kU32 ||
         t == DataType::kU64;
}

}  // namespace kiln
