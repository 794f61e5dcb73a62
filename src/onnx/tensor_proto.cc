#include "onnx/tensor_proto.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/file_util.h"
#include "core/npy.h"
#include "onnx/onnx_pb.h"

namespace kiln {

namespace {

template <typename Dst, typename Field>
void copy_field(const Field& field, Tensor& t) {
  Dst* out = t.data<Dst>();
  for (int64_t i = 0; i < t.size(); ++i) out[i] = static_cast<Dst>(field.Get(static_cast<int>(i)));
}

Result<std::string> read_external(const onnx::TensorProto& proto, const std::string& base_dir) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = std::stoll(kv.value());
    else if (kv.key() == "length") length = std::stoll(kv.value());
  }
  if (location.empty())
    return Status::invalid_model(fmt::format("tensor '{}': external data without a location", proto.name()));
  std::filesystem::path rel(location);
  if (rel.is_absolute() || location.find("..") != std::string::npos)
    return Status::invalid_model(
        fmt::format("tensor '{}': external data location '{}' must be a relative path inside the model's folder",
                    proto.name(), location));
  std::string path = (std::filesystem::path(base_dir) / rel).string();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::not_found(fmt::format("tensor '{}': external data file not found: {}", proto.name(), path));
  in.seekg(0, std::ios::end);
  int64_t file_size = in.tellg();
  if (length < 0) length = file_size - offset;
  if (offset < 0 || offset + length > file_size)
    return Status::invalid_model(fmt::format("tensor '{}': external data range [{}, {}) exceeds {} ({} bytes)",
                                             proto.name(), offset, offset + length, path, file_size));
  std::string bytes(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(bytes.data(), length);
  return bytes;
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir) {
  if (!is_known_dtype(proto.data_type()))
    return Status::unsupported(
        fmt::format("tensor '{}': ONNX data type {} is not supported", proto.name(), proto.data_type()));
  DataType dtype = static_cast<DataType>(proto.data_type());
  Dims dims(proto.dims().begin(), proto.dims().end());
  auto count_or = checked_element_count(dims);
  if (!count_or.ok()) return count_or.status().with_context(fmt::format("tensor '{}'", proto.name()));
  Tensor t(dtype, dims);
  size_t nbytes = t.byte_size();

  if (dtype == DataType::kString) {
    if (proto.string_data_size() != t.size())
      return Status::invalid_model(fmt::format("tensor '{}': {} strings for shape {}", proto.name(),
                                               proto.string_data_size(), dims_to_string(dims)));
    for (int64_t i = 0; i < t.size(); ++i) t.data<std::string>()[i] = proto.string_data(static_cast<int>(i));
    return t;
  }

  const std::string* raw = nullptr;
  std::string external;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    KILN_ASSIGN_OR_RETURN(external, read_external(proto, base_dir));
    raw = &external;
  } else if (proto.has_raw_data()) {
    raw = &proto.raw_data();
  }
  if (raw) {
    if (raw->size() != nbytes)
      return Status::invalid_model(fmt::format("tensor '{}': {} bytes of data for {} (expected {})", proto.name(),
                                               raw->size(), t.type_string(), nbytes));
    if (nbytes) std::memcpy(t.raw(), raw->data(), nbytes);  // ONNX raw data is little-endian, as is x86/ARM
    return t;
  }

  int64_t n = t.size();
  auto check = [&](int field_size, const char* field) -> Status {
    if (field_size != n)
      return Status::invalid_model(fmt::format("tensor '{}': {} has {} values for {} ({} expected)", proto.name(),
                                               field, field_size, t.type_string(), n));
    return {};
  };
  switch (dtype) {
    case DataType::kF32:
      KILN_RETURN_IF_ERROR(check(proto.float_data_size(), "float_data"));
      copy_field<float>(proto.float_data(), t);
      break;
    case DataType::kF64:
      KILN_RETURN_IF_ERROR(check(proto.double_data_size(), "double_data"));
      copy_field<double>(proto.double_data(), t);
      break;
    case DataType::kI64:
      KILN_RETURN_IF_ERROR(check(proto.int64_data_size(), "int64_data"));
      copy_field<int64_t>(proto.int64_data(), t);
      break;
    case DataType::kU32:
    case DataType::kU64:
      KILN_RETURN_IF_ERROR(check(proto.uint64_data_size(), "uint64_data"));
      if (dtype == DataType::kU32) copy_field<uint32_t>(proto.uint64_data(), t);
      else copy_field<uint64_t>(proto.uint64_data(), t);
      break;
    case DataType::kF16:
    case DataType::kBF16:
      KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data"));
      copy_field<uint16_t>(proto.int32_data(), t);  // the fields hold the 16-bit patterns
      break;
    case DataType::kI32: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<int32_t>(proto.int32_data(), t); break;
    case DataType::kI16: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<int16_t>(proto.int32_data(), t); break;
    case DataType::kI8: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<int8_t>(proto.int32_data(), t); break;
    case DataType::kU16: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<uint16_t>(proto.int32_data(), t); break;
    case DataType::kU8: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<uint8_t>(proto.int32_data(), t); break;
    case DataType::kBool: KILN_RETURN_IF_ERROR(check(proto.int32_data_size(), "int32_data")); copy_field<bool>(proto.int32_data(), t); break;
    default:
      return Status::unsupported(fmt::format("tensor '{}': dtype {} not supported", proto.name(), dtype_name(dtype)));
  }
  return t;
}

void tensor_to_proto(const Tensor& tensor, onnx::TensorProto& proto) {
  proto.set_data_type(static_cast<int32_t>(tensor.dtype()));
  proto.clear_dims();
  for (int64_t d : tensor.dims()) proto.add_dims(d);
  if (tensor.dtype() == DataType::kString) {
    for (int64_t i = 0; i < tensor.size(); ++i) proto.add_string_data(tensor.data<std::string>()[i]);
  } else {
    proto.set_raw_data(std::string(static_cast<const char*>(tensor.raw()), tensor.byte_size()));
  }
}

Result<Tensor> read_tensor_pb(const std::string& path, std::string* name) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path, "tensor file"));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes))
    return Status::invalid_argument(fmt::format("{}: not a valid ONNX TensorProto file", path));
  if (name) *name = proto.name();
  std::string base = std::filesystem::path(path).parent_path().string();
  auto t = tensor_from_proto(proto, base);
  if (!t.ok()) return t.status().with_context(path);
  return t;
}

Result<Tensor> read_tensor_file(const std::string& path, std::string* name) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".npy") return read_npy(path);
  if (ext == ".pb") return read_tensor_pb(path, name);
  return Status::invalid_argument(fmt::format("{}: unknown tensor file type '{}' (expected .npy or .pb)", path, ext));
}

}  // namespace kiln
