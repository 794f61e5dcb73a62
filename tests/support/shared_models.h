// Paths into ../shared (real models and photos) for the unit tests that read them, relative to this source
// tree as CI's clean clone lays it out (shared/ beside the checkout).
#pragma once

#include <filesystem>
#include <string>

namespace kiln::testing {

inline std::filesystem::path shared_dir() { return std::filesystem::path(__FILE__).parent_path() / "../../../shared"; }

/// The flowers MobileNetV2 (0.35, 128x128, NCHW): small enough for every calibrator in CI.
inline std::string flowers_mobilenet_v2() {
  return (shared_dir() / "models/st_mobilenet_v2_0.35_128_flowers_fp32/mobilenet_v2_0.35_128_tfs_channel_first.onnx")
      .string();
}

}  // namespace kiln::testing
