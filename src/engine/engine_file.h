// The .kiln engine file: one self-describing, mmap-able file per built engine (after GGUF).
//
//   // builder side
//   nlohmann::json meta = {{"backend", {{"name", "cpu-ref"}}}, {"precision", "fp32"}};
//   KILN_RETURN_IF_ERROR(kiln::write_engine("model.kiln", graph, meta));
//   // runtime side (weights are views into the mapping, never copied)
//   KILN_ASSIGN_OR_RETURN(auto engine, kiln::read_engine("model.kiln", {.supported_backends = {"cpu-ref"}}));
//   use(engine.graph, engine.metadata);
//
// FORMAT (version 1). All integers little-endian; offsets are absolute file offsets in bytes.
//
//   offset 0   header, 64 bytes
//     0  char[8] magic            "KILNENG\0"
//     8  u32     format_version   1 (a reader refuses versions newer than kEngineFormatVersion)
//     12 u32     header_size      64 (lets a later version grow the header)
//     16 u64     file_size        total bytes; a shorter file is "truncated"
//     24 u64     section_table_offset
//     32 u32     section_count
//     36 u32     flags            0
//     40 u64     checksum         XXH3-64 of the WHOLE file with these 8 bytes read as zero, so a flipped
//                                 byte anywhere (header, table, metadata, graph, weights, padding) is caught
//     48 u8[16]  reserved         0
//   section table: section_count entries of 32 bytes
//     u32 kind, u32 flags (0), u64 offset, u64 size, u64 alignment (power of two; offset % alignment == 0)
//   sections (each kind exactly once; unknown kinds are skipped so a minor addition stays readable):
//     1 METADATA      JSON object (see below), the only part `kiln inspect` needs
//     2 GRAPH         the kiln-ir text form (ir/text_format.h); every constant over 16 bytes prints as
//                     `= @blob_N` and resolves to a blob of WEIGHTS; strings and tiny constants (scales,
//                     zero points, shape vectors) print inline, exactly
//     3 WEIGHT_INDEX  JSON array: [{"id": "blob_0", "offset": o, "size": s, "dtype": "f32", "dims": [..]}]
//                     offsets relative to WEIGHTS, each a multiple of 64, size == elements * dtype size
//     4 WEIGHTS       64-byte-aligned raw tensor bytes (row-major, native little-endian), zero padding
//   Layout written: header, table, METADATA, GRAPH, WEIGHT_INDEX, WEIGHTS (last, so the text parts are
//   read from a few pages and the weights are paged in lazily by the kernels that use them).
//
// METADATA keys (written by the builder; the reader itself requires only backend.name):
//   "producer":      "kiln 0.1.0" (filled in by write_engine when absent)
//   "source_model":  {"path": "model.onnx", "xxh3_128": source_model_hash(bytes)}
//   "backend":       {"name": "cpu-ref"} or {"name": "cuda", "compute_capability": "9.0", ...requirements}
//   "precision":     "fp32" | "fp16" | "int8"
//   "profiles":      [{"x": {"min": [1,3,224,224], "opt": [...], "max": [...]}}, ...]
//   "io":            {"inputs": [{"name", "dtype", "shape": ["N", 3, ...]}], "outputs": [...]}
//                    (filled in from the graph by write_engine when absent)
//   "kernels":       {"node name": "tactic id"}
//   "memory_plan":   {"arena_bytes": n, "values": {"value name": {"offset": o, "size": s}}}
// Deterministic: the same graph and metadata give byte-identical files (JSON keys are sorted; nothing
// time- or machine-dependent is added).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

/// The newest engine format this build writes and reads.
inline constexpr uint32_t kEngineFormatVersion = 1;
/// Every weight blob starts at a multiple of this (cache lines and SIMD loads; the mapping is page-aligned).
inline constexpr uint64_t kEngineBlobAlignment = 64;

/// A read-only view of a whole file through mmap; unmapped when the last shared_ptr goes away. Mapped
/// copy-on-write, so a tensor view that is written to gets private pages instead of crashing or changing
/// the file.
class MappedFile {
 public:
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  /// True when [p, p + bytes) lies inside the mapping.
  bool contains(const void* p, size_t bytes = 0) const;

 private:
  MappedFile() = default;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

struct EngineReadOptions {
  /// Backend names this runtime can execute ("cpu-ref", "cpu", "cuda"). Empty: accept any (inspection).
  std::vector<std::string> supported_backends;
  /// Optional extra check of the backend's requirements (e.g. compute capability), given metadata.backend;
  /// its error is returned with the file name prepended.
  std::function<Status(const nlohmann::json& backend)> check_backend;
  /// Hashes the whole file before use (reads every page once). Leave on unless the file was just verified.
  bool verify_checksum = true;
};

/// A loaded engine file. The graph's constants are views into `mapping` (which they keep alive).
struct LoadedEngineFile {
  nlohmann::json metadata;
  Graph graph;
  std::shared_ptr<MappedFile> mapping;
  uint32_t format_version = 0;
  size_t blob_count = 0;
  uint64_t weight_bytes = 0;  ///< size of the WEIGHTS section, padding included
};

/// Writes `graph` and `metadata` (a JSON object with at least backend.name) as an engine file, atomically:
/// a temporary file in the same folder renamed over `path`, so an existing file is replaced only on success.
/// Every constant except strings is externalized to an aligned blob.
Status write_engine(const std::string& path, const Graph& graph, const nlohmann::json& metadata);
/// The file's bytes as write_engine would write them (for tests and in-memory use).
Result<std::string> serialize_engine(const Graph& graph, const nlohmann::json& metadata);

/// Maps and validates the whole file (magic, version, sizes, checksum, backend), then rebuilds the graph
/// with zero-copy constants. Each refusal names the file and says what is wrong.
Result<LoadedEngineFile> read_engine(const std::string& path, const EngineReadOptions& options = {});
/// Validates the file as read_engine does (without the backend check) and returns only its metadata.
Result<nlohmann::json> read_engine_metadata(const std::string& path);

/// Hex XXH3-128 of a source model's bytes, for metadata.source_model.xxh3_128.
std::string source_model_hash(std::string_view bytes);

}  // namespace kiln
