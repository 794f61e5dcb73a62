// Reads engine files: validates every byte before trusting it, then rebuilds the graph over the mapping.
//
// Order of checks, so each damaged file gets the most useful message: magic, format version, size
// (truncated), checksum (corrupted), structure (offsets and sizes within the file), JSON, backend, blobs, graph.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>

#include "engine/engine_file.h"
#include "engine/engine_layout.h"
#include "ir/text_format.h"

namespace kiln {
namespace {

using namespace engine_layout;

struct ValidatedFile {
  std::shared_ptr<MappedFile> mapping;
  uint32_t format_version = 0;
  std::map<uint32_t, SectionEntry> sections;  // known kinds only

  std::string_view text(uint32_t kind) const {
    const SectionEntry& s = sections.at(kind);
    return {reinterpret_cast<const char*>(mapping->data()) + s.offset, static_cast<size_t>(s.size)};
  }
};

Status corrupted(const std::string& path, const std::string& what) {
  return Status::invalid_model(fmt::format("engine file {} is corrupted: {}", path, what));
}

std::string printable(const std::byte* bytes, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    s += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? std::string(1, static_cast<char>(c))
                                                           : fmt::format("\\x{:02x}", c);
  }
  return s;
}

Status check_header(const MappedFile& file, bool verify_checksum) {
  const std::string& path = file.path();
  const std::byte* data = file.data();
  size_t size = file.size();
  if (size == 0) return Status::invalid_model(fmt::format("engine file {} is empty", path));
  size_t magic_bytes = std::min(size, sizeof(kMagic));
  if ( std::memcmp(data, kMagic, magic_bytes) != 0)
    return Status::invalid_model(fmt::format("{} is not a kiln engine file (it starts with \"{}\", expected \"KILNENG\")",
                                             path, printable(data, std::min<size_t>(size, 8))));
  if (size < kHeaderSize)
    return Status::invalid_model(fmt::format("engine file {} is truncated: {} bytes, shorter than the {}-byte header",
                                             path, size, kHeaderSize));
  auto version = load<uint32_t>(data, kVersionAt);
  if (version > kEngineFormatVersion)
    return Status::unsupported(fmt::format(
        "engine file {} has format version {}, newer than this kiln reads (up to {}): upgrade kiln or rebuild the "
        "engine with this version", path, version, kEngineFormatVersion));
  if (version == 0) return corrupted(path, "format version 0");
  auto declared = load<uint64_t>(data, kFileSizeAt);
  if (size < declared)
    return Status::invalid_model(
        fmt::format("engine file {} is truncated: {} bytes, the header says {}", path, size, declared));
  if (size > declared) return corrupted(path, fmt::format("{} bytes, the header says only {}", size, declared));
  if (verify_checksum) {
    auto stored = load<uint64_t>(data, kChecksumAt);
    uint64_t computed = file_checksum(data, size);
    if (stored != computed)
      return corrupted(path, fmt::format("checksum mismatch (stored {:016x}, computed {:016x})", stored, computed));
  }
  return {};
}

// Structure checks matter even after the checksum: it can be switched off, and a crafted file can carry a
// valid checksum. Nothing below may read outside the mapping.
Result<ValidatedFile> validate(const std::shared_ptr<MappedFile>& file, bool verify_checksum) {
  KILN_RETURN_IF_ERROR(check_header(*file, verify_checksum));
  const std::string& path = file->path();
  const std::byte* data = file->data();
  const uint64_t size = file->size();
  ValidatedFile v;
  v.mapping = file;
  v.format_version = load<uint32_t>(data, kVersionAt);
  auto header_size = load<uint32_t>(data, kHeaderSizeAt);
  auto table = load<uint64_t>(data, kTableOffsetAt);
  auto count = load<uint32_t>(data, kSectionCountAt);
  if (header_size < kHeaderSize || header_size > size) return corrupted(path, fmt::format("header size {}", header_size));
  if (count > kMaxSections) return corrupted(path, fmt::format("{} sections", count));
  if (table < header_size || table > size || uint64_t{count} * kSectionEntrySize > size - table)
    return corrupted(path, "the section table lies outside the file");
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t at = table + uint64_t{i} * kSectionEntrySize;
    SectionEntry s{load<uint32_t>(data, at), load<uint32_t>(data, at + 4), load<uint64_t>(data, at + 8),
                   load<uint64_t>(data, at + 16), load<uint64_t>(data, at + 24)};
    const char* name = section_name(s.kind);
    if (s.offset > size || s.size > size - s.offset)
      return corrupted(path, fmt::format("section {} ({} bytes at {}) lies outside the file", name, s.size, s.offset));
    if (s.alignment == 0 || (s.alignment & (s.alignment - 1)) != 0 || s.offset % s.alignment != 0)
      return corrupted(path, fmt::format("section {} at {} has alignment {}", name, s.offset, s.alignment));
    if (s.kind < kMetadata || s.kind > kWeights) continue;  // a later minor addition: skip
    if (!v.sections.emplace(s.kind, s).second) return corrupted(path, fmt::format("two {} sections", name));
  }
  for (uint32_t kind : {kMetadata, kGraph, kWeightIndex, kWeights})
    if (!v.sections.count(kind)) return corrupted(path, fmt::format("no {} section", section_name(kind)));
  if (v.sections[kWeights].alignment < kEngineBlobAlignment)
    return corrupted(path, fmt::format("WEIGHTS alignment {} < {}", v.sections[kWeights].alignment, kEngineBlobAlignment));
  return v;
}

Result<nlohmann::json> parse_json_section(const ValidatedFile& v, uint32_t kind) {
  std::string_view text = v.text(kind);
  auto json = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return corrupted(v.mapping->path(), fmt::format("the {} section is not valid JSON", section_name(kind)));
  return json;
}

Result<nlohmann::json> parse_metadata(const ValidatedFile& v) {
  KILN_ASSIGN_OR_RETURN(nlohmann::json meta, parse_json_section(v, kMetadata));
  if (!meta.is_object() || !meta.contains("backend") || !meta["backend"].is_object() ||
      !meta["backend"].contains("name") || !meta["backend"]["name"].is_string())
    return corrupted(v.mapping->path(), "METADATA has no backend.name");
  return meta;
}

Status check_backend(const std::string& path, const nlohmann::json& meta, const EngineReadOptions& options) {
  const nlohmann::json& backend = meta["backend"];
  std::string name = backend["name"].get<std::string>();
  const auto& supported = options.supported_backends;
  if (!supported.empty() && std::find(supported.begin(), supported.end(), name) == supported.end())
    return Status::unsupported(fmt::format("engine file {} was built for backend '{}', this runtime supports {}",
                                           path, name, fmt::join(supported, ", ")));
  if (options.check_backend) {
    Status s = options.check_backend(backend);
    if (!s.ok()) return s.with_context(fmt::format("engine file {} (backend '{}')", path, name));
  }
  return {};
}

// One WEIGHT_INDEX entry → a tensor viewing the mapping. Every number is checked before it is used.
Result<Tensor> blob_tensor(const ValidatedFile& v, const nlohmann::json& e, std::string* id) {
  const std::string& path = v.mapping->path();
  if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("offset") ||
      !e["offset"].is_number_unsigned() || !e.contains("size") || !e["size"].is_number_unsigned() ||
      !e.contains("dtype") || !e["dtype"].is_string() || !e.contains("dims") || !e["dims"].is_array())
    return corrupted(path, "a WEIGHT_INDEX entry lacks id, offset, size, dtype or dims");
  *id = e["id"].get<std::string>();
  auto dtype = parse_dtype(e["dtype"].get<std::string>());
  if (!dtype || *dtype == DataType::kString || *dtype == DataType::kUndefined || dtype_size(*dtype) == 0)
    return corrupted(path, fmt::format("blob {} has dtype '{}'", *id, e["dtype"].get<std::string>()));
  Dims dims;
  for (const auto& d : e["dims"]) {
    if (!d.is_number_integer()) return corrupted(path, fmt::format("blob {} has a non-integer extent", *id));
    dims.push_back(d.get<int64_t>());
  }
  auto count = checked_element_count(dims);
  const SectionEntry& weights = v.sections.at(kWeights);
  auto offset = e["offset"].get<uint64_t>(), bytes = e["size"].get<uint64_t>();
  if (!count.ok() || static_cast<uint64_t>(*count) > bytes || bytes != uint64_t(*count) * dtype_size(*dtype))
    return corrupted(path, fmt::format("blob {} is {} bytes, which does not hold {}[{}]", *id, bytes,
                                       dtype_name(*dtype), dims_to_string(dims)));
  if (offset % kEngineBlobAlignment != 0 || offset > weights.size || bytes > weights.size - offset)
    return corrupted(path, fmt::format("blob {} ({} bytes at {}) is misaligned or outside WEIGHTS", *id, bytes, offset));
  std::byte* p = v.mapping->mutable_data() + weights.offset + offset;
  // A bool that is neither 0 nor 1 is undefined behaviour to read: refuse it here, once.
  if (*dtype == DataType::kBool)
    for (uint64_t i = 0; i < bytes; ++i)
      if (static_cast<unsigned char>(p[i]) > 1) return corrupted(path, fmt::format("blob {} holds a bool other than 0/1", *id));
  return Tensor::wrap(*dtype, std::move(dims), p, v.mapping);
}

Result<std::map<std::string, Tensor>> load_blobs(const ValidatedFile& v) {
  KILN_ASSIGN_OR_RETURN(nlohmann::json index, parse_json_section(v, kWeightIndex));
  if (!index.is_array()) return corrupted(v.mapping->path(), "WEIGHT_INDEX is not a JSON array");
  std::map<std::string, Tensor> blobs;
  for (const auto& entry : index) {
    std::string id;
    KILN_ASSIGN_OR_RETURN(Tensor t, blob_tensor(v, entry, &id));
    if (!blobs.emplace(id, std::move(t)).second) return corrupted(v.mapping->path(), fmt::format("blob {} twice", id));
  }
  return blobs;
}

Result<LoadedEngineFile> read_validated(const ValidatedFile& v, const EngineReadOptions& options) {
  const std::string& path = v.mapping->path();
  LoadedEngineFile out;
  KILN_ASSIGN_OR_RETURN(out.metadata, parse_metadata(v));
  KILN_RETURN_IF_ERROR(check_backend(path, out.metadata, options));
  KILN_ASSIGN_OR_RETURN(auto blobs, load_blobs(v));
  ParseOptions parse_options;
  parse_options.resolve_constant = [&](const std::string& ref, const ValueType&) -> Result<Tensor> {
    auto it = blobs.find(ref);
    if (it == blobs.end()) return Status::invalid_model(fmt::format("no blob '{}' in WEIGHT_INDEX", ref));
    return it->second;  // a view: shares the mapping, no copy
  };
  auto graph = parse_graph(std::string(v.text(kGraph)), parse_options);
  if (!graph.ok()) return corrupted(path, "GRAPH section: " + graph.status().message());
  out.graph = std::move(*graph);
  out.mapping = v.mapping;
  out.format_version = v.format_version;
  out.blob_count = blobs.size();
  out.weight_bytes = v.sections.at(kWeights).size;
  return out;
}

}  // namespace

Result<LoadedEngineFile> read_engine(const std::string& path, const EngineReadOptions& options) {
  KILN_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  KILN_ASSIGN_OR_RETURN(ValidatedFile v, validate(file, options.verify_checksum));
  try {
    return read_validated(v, options);
  } catch (const std::exception& e) {  // a JSON accessor on a shape the checks above missed: still a value
    return corrupted(path, e.what());
  }
}

Result<nlohmann::json> read_engine_metadata(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  KILN_ASSIGN_OR_RETURN(ValidatedFile v, validate(file, /*verify_checksum=*/true));
  return parse_metadata(v);
}

}  // namespace kiln
