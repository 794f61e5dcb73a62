// Writes engine files: text sections first, then every constant as a 64-byte-aligned blob.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/file_util.h"
#include "engine/engine_file.h"
#include "engine/engine_layout.h"
#include "ir/text_format.h"

#ifndef KILN_VERSION_STRING
#define KILN_VERSION_STRING "unknown"
#endif

namespace kiln {
namespace {

using namespace engine_layout;

nlohmann::json shape_to_json(const Shape& shape) {
  if (!shape.has_rank()) return nullptr;
  nlohmann::json dims = nlohmann::json::array();
  for (const Dim& d : shape.dims()) {
    if (d.known()) dims.push_back(d.value);
    else if (!d.symbol.empty()) dims.push_back(d.symbol);
    else dims.push_back(nullptr);
  }
  return dims;
}

nlohmann::json io_to_json(const std::vector<Value*>& values, bool skip_constants) {
  nlohmann::json list = nlohmann::json::array();
  for (const Value* v : values) {
    if (!v || (skip_constants && v->is_constant())) continue;
    list.push_back({{"name", v->name}, {"dtype", std::string(dtype_name(v->type.dtype))},
                    {"shape", shape_to_json(v->type.shape)}});
  }
  return list;
}

Status check_metadata(const nlohmann::json& metadata) {
  if (!metadata.is_object()) return Status::invalid_argument("engine metadata must be a JSON object");
  auto backend = metadata.find("backend");
  if (backend == metadata.end() || !backend->is_object() || !backend->contains("name") ||
      !(*backend)["name"].is_string() || (*backend)["name"].get<std::string>().empty())
    return Status::invalid_argument(
        "engine metadata needs \"backend\": {\"name\": ...} (the reader refuses engines for other backends)");
  return {};
}

// A constant whose tensor disagrees with its declared type would write an engine that cannot be loaded.
Status check_constant(const Value& v) {
  const Tensor& t = *v.constant;
  if (!v.type.shape.is_static() || t.dtype() != v.type.dtype || t.dims() != v.type.shape.static_dims())
    return Status::invalid_argument(fmt::format("constant '{}' holds {} but is declared {}; cannot write it to an engine",
                                                v.name, t.type_string(), v.type.to_string()));
  return {};
}

struct Blob {
  std::string id;
  const Tensor* tensor;
  uint64_t offset;  // within WEIGHTS
};

}  // namespace

Result<std::string> serialize_engine(const Graph& graph, const nlohmann::json& metadata) {
  KILN_RETURN_IF_ERROR(check_metadata(metadata));
  nlohmann::json meta = metadata;
  if (!meta.contains("producer")) meta["producer"] = std::string("kiln ") + KILN_VERSION_STRING;
  if (!meta.contains("io"))
    meta["io"] = {{"inputs", io_to_json(graph.inputs, true)}, {"outputs", io_to_json(graph.outputs, false)}};

  constexpr size_t kInlineConstantBytes = 16;
  // Blob ids follow the text form's order of constants, so ids (and the file) are deterministic.
  std::vector<Blob> blobs;
  Status constant_error;
  uint64_t weights_size = 0;
  TextOptions text_options;
  text_options.constant_reference = [&](const Value& v) -> std::optional<std::string> {
    if (v.constant->dtype() == DataType::kString) return std::nullopt;  // no fixed-size bytes: stays inline
    // Scalars and tiny vectors (quantization scales and zero points, shape constants) print exactly in the
    // graph text; a blob each would cost 64-byte padding plus an index entry.
    if (v.constant->byte_size() <= kInlineConstantBytes) return std::nullopt;
    if (Status s = check_constant(v); !s.ok() && constant_error.ok()) constant_error = s;
    uint64_t offset = align_up(weights_size, kEngineBlobAlignment);
    blobs.push_back({fmt::format("blob_{}", blobs.size()), &*v.constant, offset});
    weights_size = offset + v.constant->byte_size();
    return blobs.back().id;
  };
  std::string graph_text = print_graph(graph, text_options);
  KILN_RETURN_IF_ERROR(constant_error);
  weights_size = align_up(weights_size, kEngineBlobAlignment);

  nlohmann::json index = nlohmann::json::array();
  for (const Blob& b : blobs)
    index.push_back({{"id", b.id},
                     {"offset", b.offset},
                     {"size", b.tensor->byte_size()},
                     {"dtype", std::string(dtype_name(b.tensor->dtype()))},
                     {"dims", b.tensor->dims()}});

  const std::string texts[3] = {meta.dump(2) + "\n", graph_text, index.dump() + "\n"};
  const uint32_t kinds[4] = {kMetadata, kGraph, kWeightIndex, kWeights};
  std::vector<SectionEntry> sections;
  uint64_t cursor = kHeaderSize + 4 * kSectionEntrySize;
  for (int i = 0; i < 3; ++i) {
    sections.push_back({kinds[i], 0, cursor, texts[i].size(), 1});
    cursor += texts[i].size();
  }
  uint64_t weights_offset = align_up(cursor, kEngineBlobAlignment);
  sections.push_back({kWeights, 0, weights_offset, weights_size, kEngineBlobAlignment});
  uint64_t file_size = weights_offset + weights_size;

  std::string out(file_size, '\0');  // zero padding everywhere, so the bytes are deterministic
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  store<uint32_t>(out, kVersionAt, kEngineFormatVersion);
  store<uint32_t>(out, kHeaderSizeAt, kHeaderSize);
  store<uint64_t>(out, kFileSizeAt, file_size);
  store<uint64_t>(out, kTableOffsetAt, kHeaderSize);
  store<uint32_t>(out, kSectionCountAt, static_cast<uint32_t>(sections.size()));
  store<uint32_t>(out, kFlagsAt, 0);
  for (size_t i = 0; i < sections.size(); ++i) {
    size_t at = kHeaderSize + i * kSectionEntrySize;
    store<uint32_t>(out, at, sections[i].kind);
    store<uint32_t>(out, at + 4, sections[i].flags);
    store<uint64_t>(out, at + 8, sections[i].offset);
    store<uint64_t>(out, at + 16, sections[i].size);
    store<uint64_t>(out, at + 24, sections[i].alignment);
  }
  for (int i = 0; i < 3; ++i) std::memcpy(out.data() + sections[i].offset, texts[i].data(), texts[i].size());
  for (const Blob& b : blobs)
    if (b.tensor->byte_size() > 0)
      std::memcpy(out.data() + weights_offset + b.offset, b.tensor->raw(), b.tensor->byte_size());
  store<uint64_t>(out, kChecksumAt, file_checksum(out.data(), out.size()));
  return out;
}

Status write_engine(const std::string& path, const Graph& graph, const nlohmann::json& metadata) {
  auto bytes = serialize_engine(graph, metadata);
  if (!bytes.ok()) return bytes.status().with_context(fmt::format("cannot write engine file {}", path));
  return write_file_atomic(path, *bytes);
}

}  // namespace kiln
