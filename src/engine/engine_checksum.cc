// Checksums: the whole-file XXH3-64 of the engine format and the XXH3-128 source-model hash.
#include <fmt/format.h>
#include <xxhash.h>

#include <memory>

#include "engine/engine_file.h"
#include "engine/engine_layout.h"

namespace kiln {
namespace engine_layout {

uint64_t file_checksum(const void* data, size_t size) {
  // Hashing the checksum field as zeros lets the checksum cover the header too (version, sizes, table offset).
  const auto* bytes = static_cast<const unsigned char*>(data);
  const unsigned char zeros[8] = {};
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  XXH3_64bits_update(state.get(), bytes, kChecksumAt);
  XXH3_64bits_update(state.get(), zeros, sizeof(zeros));
  XXH3_64bits_update(state.get(), bytes + kChecksumAt + 8, size - kChecksumAt - 8);
  return XXH3_64bits_digest(state.get());
}

}  // namespace engine_layout

std::string source_model_hash(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

}  // namespace kiln
