// kiln.QLookup (fold_qdq_lookup's 256-entry tables) on the CPU: the reference kernel's loop, split over the
// OpenMP threads. Not a oneDNN primitive, so a plain NodeKernel next to the CpuKernels.
#include "backends/cpu/lookup_kernel.h"

#include <fmt/format.h>

#include <algorithm>

#include "backends/ref/qlookup.h"

namespace kiln::cpu {

namespace {

class LookupKernel final : public NodeKernel {
 public:
  explicit LookupKernel(std::string name) : name_(std::move(name)) {}
  std::string tactic() const override { return "cpu:lookup"; }

  Status run(ref::KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& table = ctx.input(1);
    if (std::string e = ref::qlookup_operand_error(x, table); !e.empty())
      return Status::invalid_argument(fmt::format("{}: {}", name_, e));
    Tensor& y = ctx.allocate_output(0, table.dtype(), x.dims(), /*zero_fill=*/false);
    // Chunks of 64 Ki elements per task: enough work per thread, few tasks.
    constexpr int64_t kChunk = 1 << 16;
    const int64_t n = x.size(), chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c) ref::qlookup_range(x, table, y, c * kChunk, std::min(n, (c + 1) * kChunk));
    return {};
  }

 private:
  std::string name_;
};

}  // namespace

std::shared_ptr<const NodeKernel> create_lookup_kernel(const Node& node) {
  if (node.domain != "kiln" || node.op_type != "QLookup" || node.outputs.size() != 1) return nullptr;
  return std::make_shared<LookupKernel>(node.describe());
}

}  // namespace kiln::cpu
