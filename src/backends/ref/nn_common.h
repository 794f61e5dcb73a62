// Helpers shared by the nn family's reference kernels (nn.cc, nn_pool.cc, nn_norm.cc).
#pragma once

#include <fmt/format.h>

#include <span>
#include <vector>

#include "backends/ref/kernel.h"
#include "ir/ops/conv_geometry.h"

namespace kiln::ref {

// Kernel tables of the nn family's files; nn_kernels() in nn.cc concatenates them.
std::span<const KernelEntry> nn_pool_kernels();
std::span<const KernelEntry> nn_norm_kernels();

/// Element converted to double via the compute type (f16/bf16 go through float).
template <typename T>
double nn_to_double(T v) {
  return static_cast<double>(static_cast<compute_type_t<T>>(v));
}

/// Checks that `x` is N x C x D1 x ... (rank >= 3) and returns the number of spatial axes.
inline Result<size_t> nn_spatial_rank(const KernelContext& ctx, const Tensor& x, const char* what) {
  if (x.rank() < 3)
    return ctx.error(fmt::format("{} must have rank >= 3 (N, C, spatial...), got {}", what, x.type_string()));
  return static_cast<size_t>(x.rank() - 2);
}

/// The spatial extents of an N x C x ... tensor.
inline Dims nn_spatial_dims(const Tensor& x) { return Dims(x.dims().begin() + 2, x.dims().end()); }

/// read_window_attrs + window_geometry for `x`, with errors naming the node.
inline Result<WindowGeometry> nn_window(const KernelContext& ctx, const Tensor& x, const std::vector<int64_t>& weight_kernel,
                                        bool transposed, WindowAttrs* attrs_out = nullptr) {
  KILN_ASSIGN_OR_RETURN(size_t n, nn_spatial_rank(ctx, x, "input X"));
  auto attrs = read_window_attrs(ctx.node(), n, weight_kernel, transposed);
  if (!attrs.ok()) return ctx.error(attrs.status().message());
  auto g = window_geometry(*attrs, nn_spatial_dims(x));
  if (!g.ok()) return ctx.error(g.status().message());
  Dims out = {x.dim(0), x.dim(1)};
  out.insert(out.end(), g->out.begin(), g->out.end());
  if (!checked_element_count(out).ok())
    return ctx.error(fmt::format("output extents {} overflow", dims_to_string(out)));
  if (attrs_out) *attrs_out = *attrs;
  return *g;
}

/// Advances a row-major multi-index over `extents`; returns false after the last one (index wraps to 0).
inline bool nn_next_index(std::vector<int64_t>& idx, const Dims& extents) {
  for (size_t a = idx.size(); a-- > 0;) {
    if (++idx[a] < extents[a]) return true;
    idx[a] = 0;
  }
  return false;
}

}  // namespace kiln::ref
