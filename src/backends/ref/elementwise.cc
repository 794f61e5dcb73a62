// Reference kernels of the elementwise family (see ref_kernel_families.inc).
#include "backends/ref/kernel.h"

namespace kiln::ref {

namespace {

Status relu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate_output(0, x.dtype(), x.dims());
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = compute_type_t<T>;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < x.size(); ++i) {
      C v = static_cast<C>(in[i]);
      out[i] = static_cast<T>(v > C(0) ? v : C(0));
    }
    return {};
  });
}

constexpr KernelEntry kKernels[] = {
    {"Relu", "", relu},
};
}  // namespace

std::span<const KernelEntry> elementwise_kernels() { return kKernels; }

}  // namespace kiln::ref
