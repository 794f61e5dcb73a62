// kiln.QLookup (fold_qdq_lookup's 256-entry tables) on the CPU: the reference kernel's loop, split over the
// OpenMP threads. Not a oneDNN primitive, so a plain NodeKernel next to the CpuKernels.
#include "backends/cpu/lookup_kernel.h"

#include <fmt/format.h>
#include <omp.h>

#include <cstdint>

namespace kiln::cpu {

namespace {

template <typename T>
void lookup(const uint8_t* in, uint8_t flip, const T* table, T* out, int64_t n) {
  // Chunks of 64 KiB of input per task: enough work per thread, few tasks.
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) out[i] = table[static_cast<uint8_t>(in[i] ^ flip)];
  }
}

class LookupKernel final : public NodeKernel {
 public:
  explicit LookupKernel(std::string name) : name_(std::move(name)) {}
  std::string tactic() const override { return "cpu:lookup"; }

  Status run(ref::KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Tensor& table = ctx.input(1);
    const size_t es = table.dtype() == DataType::kString ? 0 : dtype_size(table.dtype());
    if ((x.dtype() != DataType::kI8 && x.dtype() != DataType::kU8) || table.size() != 256 || (es != 1 && es != 2 && es != 4))
      return Status::invalid_argument(fmt::format("{}: needs an 8-bit x and a table of 256 values of 1, 2 or 4 bytes, "
                                                  "got {} and {}", name_, x.type_string(), table.type_string()));
    Tensor& y = ctx.allocate_output(0, table.dtype(), x.dims(), /*zero_fill=*/false);
    const auto* in = static_cast<const uint8_t*>(x.raw());
    const uint8_t flip = x.dtype() == DataType::kI8 ? 0x80 : 0;  // int8 v -> index v + 128
    if (es == 1) lookup(in, flip, static_cast<const uint8_t*>(table.raw()), static_cast<uint8_t*>(y.raw()), x.size());
    if (es == 2) lookup(in, flip, static_cast<const uint16_t*>(table.raw()), static_cast<uint16_t*>(y.raw()), x.size());
    if (es == 4) lookup(in, flip, static_cast<const uint32_t*>(table.raw()), static_cast<uint32_t*>(y.raw()), x.size());
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
