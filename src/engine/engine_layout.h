// Byte layout of the engine file shared by the writer and the reader (documented in engine_file.h).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kiln::engine_layout {

// The format stores native integers and tensor bytes; a big-endian port would need byte swapping here.
static_assert(std::endian::native == std::endian::little, "the engine format is little-endian");

inline constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'E', 'N', 'G', '\0'};
inline constexpr uint32_t kHeaderSize = 64;
inline constexpr uint32_t kSectionEntrySize = 32;
// Header field offsets.
inline constexpr size_t kVersionAt = 8;
inline constexpr size_t kHeaderSizeAt = 12;
inline constexpr size_t kFileSizeAt = 16;
inline constexpr size_t kTableOffsetAt = 24;
inline constexpr size_t kSectionCountAt = 32;
inline constexpr size_t kFlagsAt = 36;
inline constexpr size_t kChecksumAt = 40;
// A sane cap so a corrupted count cannot make the reader loop for long.
inline constexpr uint32_t kMaxSections = 64;

enum SectionKind : uint32_t {
  kMetadata = 1,
  kGraph = 2,
  kWeightIndex = 3,
  kWeights = 4,
};

inline const char* section_name(uint32_t kind) {
  switch (kind) {
    case kMetadata: return "METADATA";
    case kGraph: return "GRAPH";
    case kWeightIndex: return "WEIGHT_INDEX";
    case kWeights: return "WEIGHTS";
    default: return "unknown";
  }
}

struct SectionEntry {
  uint32_t kind = 0;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t alignment = 1;
};

template <typename T>
T load(const void* base, size_t at) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + at, sizeof(T));
  return v;
}

template <typename T>
void store(std::string& out, size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof(T));
}

inline uint64_t align_up(uint64_t v, uint64_t alignment) { return (v + alignment - 1) / alignment * alignment; }

}  // namespace kiln::engine_layout

namespace kiln::engine_layout {

/// XXH3-64 of `size` bytes (size >= kHeaderSize) with the header's checksum field read as zero.
uint64_t file_checksum(const void* data, size_t size);

}  // namespace kiln::engine_layout
