// Reference kernels of kiln's fused ops (domain "kiln").
#include "backends/ref/kernel.h"

namespace kiln::ref {

namespace {
constexpr KernelEntry kKernels[] = {
    {"", "", nullptr},  // placeholder, skipped by the registry
};
}  // namespace

std::span<const KernelEntry> fused_kernels() { return std::span(kKernels).subspan(1); }

}  // namespace kiln::ref
