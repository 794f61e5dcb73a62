// Host-side helpers of kiln's implicit-GEMM convolution kernels (few_channel_conv_kernel.cc,
// int8_conv_kernel.cc): the launch geometry of an NHWC convolution at prepared shapes, and the alignment
// their 16-byte copies need.
#pragma once

#include <initializer_list>
#include <span>
#include <string>

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cudnn_conv_shapes.h"
#include "backends/cuda/kernels/conv_tiling.h"
#include "kiln/status.h"

namespace kiln::cuda {

/// X [n, h, w, c] -> Y [n, out_h, out_w, k] in NHWC with the node's window.
struct NhwcConvShape {
  int64_t n = 0;
  int32_t h = 0, w = 0, c = 0, k = 0;
  launch::ConvWindow window;
  int32_t pad_h = 0, pad_w = 0;  ///< the leading pads
};

/// The shape at prepared dims: X rank 4 NHWC, Y what the window gives (errors name `node` and say what was
/// expected); extents beyond 32-bit indexing are unsupported by `tactic`.
Result<NhwcConvShape> nhwc_conv_shape(const std::string& node, const char* tactic, const ConvGeometry& geo,
                                      std::span<const Dims> input_dims, std::span<const Dims> output_dims);

/// Base of kiln's own convolution kernels (few_channel_conv_kernel.cc, int8_conv_kernel.cc): one tactic id,
/// offered at the shapes whose launch arguments `args_for` accepts (elsewhere its error says why not).
template <typename Args>
class OwnConvKernel : public CudaKernel {
 public:
  explicit OwnConvKernel(const char* tactic) : tactic_(tactic) {}
  std::string tactic() const override { return tactic_; }
  Result<std::vector<std::string>> candidate_tactics(const LaunchContext&, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    KILN_RETURN_IF_ERROR(args_for(input_dims, output_dims).status());
    return std::vector<std::string>{tactic_};
  }

 protected:
  /// The launch arguments at these shapes, all but the data pointers.
  virtual Result<Args> args_for(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const = 0;

 private:
  const char* tactic_;
};

/// An internal error naming `tactic` unless every non-null pointer is 16-byte aligned (cp.async and uint4
/// stores): a misaligned tensor is refused, never misread.
Status check_aligned_16(const char* tactic, std::initializer_list<const void*> pointers);

}  // namespace kiln::cuda
