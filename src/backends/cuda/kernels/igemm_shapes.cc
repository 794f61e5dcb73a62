#include "backends/cuda/kernels/igemm_shapes.h"

#include <fmt/format.h>

#include <cstdint>

#include "backends/cuda/kernels/kernel_util.h"

namespace kiln::cuda {

Result<NhwcConvShape> nhwc_conv_shape(const std::string& node, const char* tactic, const ConvGeometry& geo,
                                      std::span<const Dims> input_dims, std::span<const Dims> output_dims) {
  if (input_dims.empty() || output_dims.empty()) return named(node, Status::internal("prepare needs the shapes"));
  const Dims& x = input_dims[0];
  if (x.size() != 4) return named(node, Status::shape_mismatch(fmt::format("X {} is not NHWC", dims_to_string(x))));
  if (x[3] != geo.w_dims[1] * geo.group)
    return named(node, Status::shape_mismatch(fmt::format("X {} has {} channels, W {} with group {} expects {}",
                                                          dims_to_string(x), x[3], dims_to_string(geo.w_dims),
                                                          geo.group, geo.w_dims[1] * geo.group)));
  auto window = window_geometry(geo.window, Dims{x[1], x[2]});
  if (!window.ok()) return named(node, Status::invalid_argument(window.status().message()));
  const int64_t k = geo.w_dims[0];
  const Dims expected{x[0], window->out[0], window->out[1], k};
  if (output_dims[0] != expected)
    return named(node, Status::shape_mismatch(fmt::format("the output is {}, expected {}",
                                                          dims_to_string(output_dims[0]), dims_to_string(expected))));
  constexpr int64_t kMaxExtent = int64_t{1} << 30;  // the kernels index rows, columns and channels in 32 bits
  if (x[1] > kMaxExtent || x[2] > kMaxExtent || x[3] > kMaxExtent || k > kMaxExtent)
    return named(node, Status::unsupported(fmt::format("X {} is too large for {}", dims_to_string(x), tactic)));
  NhwcConvShape s;
  s.n = x[0];
  s.h = static_cast<int32_t>(x[1]), s.w = static_cast<int32_t>(x[2]), s.c = static_cast<int32_t>(x[3]);
  s.k = static_cast<int32_t>(k);
  const WindowAttrs& wa = geo.window;
  s.window.out_h = static_cast<int32_t>(window->out[0]), s.window.out_w = static_cast<int32_t>(window->out[1]);
  s.window.kernel_h = static_cast<int32_t>(wa.kernel[0]), s.window.kernel_w = static_cast<int32_t>(wa.kernel[1]);
  s.window.stride_h = static_cast<int32_t>(wa.strides[0]), s.window.stride_w = static_cast<int32_t>(wa.strides[1]);
  s.window.dilation_h = static_cast<int32_t>(wa.dilations[0]);
  s.window.dilation_w = static_cast<int32_t>(wa.dilations[1]);
  s.pad_h = static_cast<int32_t>(window->pads[0]), s.pad_w = static_cast<int32_t>(window->pads[1]);
  return s;
}

Status check_aligned_16(const char* tactic, std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (p && reinterpret_cast<uintptr_t>(p) % 16 != 0)
      return Status::internal(fmt::format("{} needs its tensors 16-byte aligned (one is at {})", tactic, p));
  return {};
}

}  // namespace kiln::cuda
