// Reference kernels of the resize family (see ref_kernel_families.inc).
#include "backends/ref/kernel.h"

namespace kiln::ref {

namespace {
constexpr KernelEntry kKernels[] = {
    {"", "", nullptr},  // placeholder, skipped by the registry
};
}  // namespace

std::span<const KernelEntry> resize_kernels() { return std::span(kKernels).subspan(1); }

}  // namespace kiln::ref
