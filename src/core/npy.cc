#include "core/npy.h"

#include <fmt/format.h>

#include <cctype>
#include <cstring>

#include "core/file_util.h"

namespace kiln {

namespace {
struct NpyType {
  const char* descr;
  DataType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"<f4", DataType::kF32}, {"<f8", DataType::kF64}, {"<f2", DataType::kF16}, {"|i1", DataType::kI8},
    {"|u1", DataType::kU8},  {"<i2", DataType::kI16}, {"<u2", DataType::kU16}, {"<i4", DataType::kI32},
    {"<u4", DataType::kU32}, {"<i8", DataType::kI64}, {"<u8", DataType::kU64}, {"|b1", DataType::kBool},
};

// Finds the value text after 'key': in the header dict.
std::string dict_value(const std::string& header, const std::string& key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return "";
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return "";
  if (header[start] == '(') return header.substr(start, header.find(')', start) - start + 1);
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}
}  // namespace

Result<Tensor> parse_npy(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    return Status::invalid_argument(fmt::format("{}: not a .npy file (bad magic)", path));
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::invalid_argument(fmt::format("{}: truncated .npy header", path));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    return Status::unsupported(fmt::format("{}: .npy format version {} is not supported", path, major));
  }
  if (header_start + header_len > bytes.size())
    return Status::invalid_argument(fmt::format("{}: truncated .npy header", path));
  std::string header = bytes.substr(header_start, header_len);
  std::string descr = dict_value(header, "descr");
  if (descr.size() >= 2) descr = descr.substr(1, descr.size() - 2);  // strip quotes
  if (descr == "<b1" || descr == "b1") descr = "|b1";
  if (descr == "<i1") descr = "|i1";
  if (descr == "<u1") descr = "|u1";
  std::string fortran = dict_value(header, "fortran_order");
  if (fortran.rfind("True", 0) == 0)
    return Status::unsupported(fmt::format("{}: Fortran-ordered arrays are not supported; save with C order", path));
  DataType dtype = DataType::kUndefined;
  for (const auto& t : kNpyTypes)
    if (descr == t.descr) dtype = t.dtype;
  if (dtype == DataType::kUndefined)
    return Status::unsupported(fmt::format("{}: .npy dtype '{}' is not supported", path, descr));
  std::string shape_text = dict_value(header, "shape");
  Dims dims;
  for (size_t i = 0; i < shape_text.size();) {
    if (std::isdigit(static_cast<unsigned char>(shape_text[i]))) {
      size_t end = i;
      while (end < shape_text.size() && std::isdigit(static_cast<unsigned char>(shape_text[end]))) ++end;
      dims.push_back(std::stoll(shape_text.substr(i, end - i)));
      i = end;
    } else {
      ++i;
    }
  }
  KILN_ASSIGN_OR_RETURN(int64_t count, checked_element_count(dims));
  size_t data_start = header_start + header_len;
  size_t need = static_cast<size_t>(count) * dtype_size(dtype);
  if (bytes.size() - data_start < need)
    return Status::invalid_argument(fmt::format("{}: truncated .npy data: shape {} needs {} bytes, file has {}",
                                                path, dims_to_string(dims), need, bytes.size() - data_start));
  Tensor t(dtype, dims);
  if (need) std::memcpy(t.raw(), bytes.data() + data_start, need);
  return t;
}

Result<Tensor> read_npy(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string bytes, read_file(path, ".npy file"));
  return parse_npy(bytes, path);
}

Status write_npy(const std::string& path, const Tensor& tensor) {
  const char* descr = nullptr;
  for (const auto& t : kNpyTypes)
    if (t.dtype == tensor.dtype()) descr = t.descr;
  if (!descr) return Status::unsupported(fmt::format("cannot write {} as .npy", tensor.type_string()));
  std::string shape;
  if (tensor.rank() == 1)
    shape = fmt::format("({},)", tensor.dim(0));
  else
    shape = fmt::format("({})", fmt::join(tensor.dims(), ", "));
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw()), tensor.byte_size());
  return write_file_atomic(path, out);
}

}  // namespace kiln
