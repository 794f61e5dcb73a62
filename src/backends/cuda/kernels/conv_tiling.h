// How kiln's implicit-GEMM convolutions (few_channel_conv.cu, int8_conv.cu) tile their output: blocks of
// kConvTilePixels output pixels, tile_h x tile_w, each reading the input patch its windows touch. Plain C++17
// (nvcc and the host code both include it).
#pragma once

#include <cstdint>
#include <tuple>

namespace kiln::cuda::launch {

inline constexpr int kConvTilePixels = 128;  ///< output pixels per tile (the GEMM's M tile)

/// The window of a 2-D convolution and its output extents.
struct ConvWindow {
  int32_t out_h = 0, out_w = 0;
  int32_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
};

/// tile_w is a power of two from 8 to 128, chosen among the tilings whose patch fits in `max_patch_bytes` to
/// cover out_h x out_w with the fewest wasted pixels, then the smallest input patch (a 112x112 output: tiles of
/// 16 rows x 8 columns, no waste, a 19 x 11 pixel patch at a 4x4 stride-1 window); the patch is
/// patch_h x patch_w pixels of `pixel_bytes` each. When no tiling fits, the one with the smallest patch (the
/// caller refuses it).
struct ConvTiling {
  int tile_h = 1, tile_w = 1, log2_tile_w = 0;
  int patch_h = 1, patch_w = 1;
  int pixel_bytes = 0;
  int patch_bytes() const { return patch_h * patch_w * pixel_bytes; }
};

inline ConvTiling conv_tiling(const ConvWindow& w, int pixel_bytes, int max_patch_bytes) {
  ConvTiling best;
  int64_t best_pixels = -1;
  bool best_fits = false;
  for (int log2_w = 3; (1 << log2_w) <= kConvTilePixels; ++log2_w) {
    ConvTiling t;
    t.log2_tile_w = log2_w;
    t.tile_w = 1 << log2_w;
    t.tile_h = kConvTilePixels / t.tile_w;
    t.pixel_bytes = pixel_bytes;
    t.patch_h = (t.tile_h - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1;
    t.patch_w = (t.tile_w - 1) * w.stride_w + (w.kernel_w - 1) * w.dilation_w + 1;
    const int64_t pixels = static_cast<int64_t>((w.out_h + t.tile_h - 1) / t.tile_h) * t.tile_h *
                           ((w.out_w + t.tile_w - 1) / t.tile_w) * t.tile_w;
    // Fitting first; among those the fewest pixels, then the smallest patch; else the smallest patch.
    const bool fits = t.patch_bytes() <= max_patch_bytes;
    auto rank = [](bool f, int64_t px, int bytes) { return std::make_tuple(f ? 0 : 1, f ? px : 0, bytes); };
    if (best_pixels < 0 || rank(fits, pixels, t.patch_bytes()) < rank(best_fits, best_pixels, best.patch_bytes())) {
      best = t;
      best_pixels = pixels;
      best_fits = fits;
    }
  }
  return best;
}

/// The output tiles of `n` images.
inline int64_t conv_tile_count(const ConvWindow& w, const ConvTiling& t, int64_t n) {
  return n * ((w.out_h + t.tile_h - 1) / t.tile_h) * ((w.out_w + t.tile_w - 1) / t.tile_w);
}

/// Whether the kernels' 32-bit tile indices (igemm_tile.cuh's TileGrid) cover `tiles` tiles (with a launch's
/// worth of blocks past the last one).
inline bool conv_tile_count_fits(int64_t tiles) { return tiles >= 0 && tiles <= (int64_t{1} << 30); }

/// The launch grid of kiln's implicit-GEMM kernels: y runs over the `channel_tiles` output-channel tiles, x over
/// blocks that loop over the `tiles` pixel tiles. x is chosen so that all x * y blocks are resident at once
/// (`resident`: blocks the device holds): each block then pays its pipeline's start (W, the first patch) once,
/// not once per round of blocks, and the y blocks of one pixel tile run together while the patch they all read
/// is in L2. (Before: x = min(tiles, resident), so a 4-channel-tile layer ran 4 rounds of blocks of ~3 tiles.)
struct IgemmGrid {
  int64_t x = 1, y = 1;
};
inline IgemmGrid igemm_grid(int64_t tiles, int64_t channel_tiles, int64_t resident) {
  IgemmGrid g;
  g.y = channel_tiles;
  const int64_t per_column = resident / channel_tiles > 1 ? resident / channel_tiles : 1;
  g.x = tiles < per_column ? tiles : per_column;
  return g;
}

/// Whether the window's extents are positive (strides and dilations at least 1).
inline bool valid_window(const ConvWindow& w) {
  return w.kernel_h >= 1 && w.kernel_w >= 1 && w.stride_h >= 1 && w.stride_w >= 1 && w.dilation_h >= 1 &&
         w.dilation_w >= 1;
}

}  // namespace kiln::cuda::launch
