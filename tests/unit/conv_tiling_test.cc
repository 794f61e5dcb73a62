// How kiln's implicit-GEMM convolutions tile their output and spread blocks (src/backends/cuda/kernels/
// conv_tiling.h, host-side C++ shared with the CUDA kernels): checked here on the CPU because the choices decide
// how much work the GPU wastes.
#include "backends/cuda/kernels/conv_tiling.h"

#include <gtest/gtest.h>

namespace kiln::cuda::launch {
namespace {

ConvWindow window(int out_h, int out_w, int k, int stride) {
  ConvWindow w;
  w.out_h = out_h, w.out_w = out_w;
  w.kernel_h = w.kernel_w = k;
  w.stride_h = w.stride_w = stride;
  return w;
}

TEST(ConvTiling, CoversTheOutputWithTheFewestIdlePixels) {
  // ResNet-50's space-to-depth stem: 112x112 outputs, 4x4 stride 1, 16 int8 channels per pixel.
  const ConvTiling stem = conv_tiling(window(112, 112, 4, 1), 16, 24 * 1024);
  EXPECT_EQ(stem.tile_h * stem.tile_w, kConvTilePixels);
  EXPECT_EQ(112 % stem.tile_h, 0);
  EXPECT_EQ(112 % stem.tile_w, 0);
  EXPECT_EQ(stem.patch_h, stem.tile_h + 3);
  EXPECT_EQ(stem.patch_w, stem.tile_w + 3);
  // A flattened stride-1 1x1 (one row of n*h*w pixels): 128 x 1 tiles, a 128-pixel patch.
  const ConvTiling row = conv_tiling(window(1, 32 * 56 * 56, 1, 1), 64, 64 * 1024);
  EXPECT_EQ(row.tile_h, 1);
  EXPECT_EQ(row.tile_w, 128);
  EXPECT_EQ(row.patch_bytes(), 128 * 64);
  EXPECT_EQ(conv_tile_count(window(1, 32 * 56 * 56, 1, 1), row, 1), 32 * 56 * 56 / 128);
  // A stride-2 3x3: the patch holds (tile - 1) * 2 + 3 pixels per side.
  const ConvTiling s2 = conv_tiling(window(28, 28, 3, 2), 64, 200 * 1024);
  EXPECT_EQ(s2.patch_h, (s2.tile_h - 1) * 2 + 3);
  EXPECT_EQ(s2.patch_w, (s2.tile_w - 1) * 2 + 3);
}

TEST(ConvTiling, APatchThatFitsOrElseTheSmallest) {
  // A 3x3 over 256-byte pixels at 56x56: 8x16 or 16x8 tiles have the smallest patch (10 x 18 pixels, 46 KB).
  const ConvTiling fits = conv_tiling(window(56, 56, 3, 1), 256, 48 * 1024);
  EXPECT_LE(fits.patch_bytes(), 48 * 1024);
  EXPECT_EQ(fits.patch_bytes(), 10 * 18 * 256);
  // Nothing fits 1 KB: the smallest patch comes back, for the caller to refuse.
  const ConvTiling none = conv_tiling(window(56, 56, 3, 1), 256, 1024);
  EXPECT_EQ(none.patch_bytes(), 10 * 18 * 256);
  // With room for wider tiles the idle pixels decide: a 7x7 output takes 8 x 16 or 16 x 8 tiles (128 pixels,
  // 79 idle), never 1 x 128 (7 rows of 128: 847 idle).
  const ConvTiling small = conv_tiling(window(7, 7, 1, 1), 64, 200 * 1024);
  EXPECT_GE(small.tile_h, 8);
}

TEST(IgemmGrid, AllBlocksResidentAndChannelTilesTogether) {
  // 784 pixel tiles, 4 channel tiles, 264 resident blocks: 66 x 4, each block ~12 tiles in one round.
  IgemmGrid g = igemm_grid(784, 4, 264);
  EXPECT_EQ(g.x, 66);
  EXPECT_EQ(g.y, 4);
  // Fewer tiles than a column's share: one block per tile.
  g = igemm_grid(49, 2, 264);
  EXPECT_EQ(g.x, 49);
  EXPECT_EQ(g.y, 2);
  // More channel tiles than resident blocks: still at least one block per channel tile.
  g = igemm_grid(100, 400, 264);
  EXPECT_EQ(g.x, 1);
  EXPECT_EQ(g.y, 400);
  EXPECT_TRUE(conv_tile_count_fits(int64_t{1} << 30));
  EXPECT_FALSE(conv_tile_count_fits((int64_t{1} << 30) + 1));
}

}  // namespace
}  // namespace kiln::cuda::launch
