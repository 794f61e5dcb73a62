#include "backends/ref/kernel.h"

#include <fmt/format.h>

#include <map>

namespace kiln::ref {

#define KILN_REF_FAMILY(family) std::span<const KernelEntry> family##_kernels();
#include "backends/ref/ref_kernel_families.inc"
#undef KILN_REF_FAMILY

Tensor& KernelContext::allocate_output(size_t i, DataType dtype, Dims dims, bool zero_fill) {
  (*outputs_)[i] = allocator_ && *allocator_ ? (*allocator_)(i, dtype, dims, zero_fill) : Tensor(dtype, std::move(dims));
  return (*outputs_)[i];
}

Status KernelContext::error(const std::string& message) const {
  return Status::invalid_argument(fmt::format("{}: {}", node_.describe(), message));
}

namespace {
using Table = std::map<std::pair<std::string, std::string>, KernelFn, std::less<>>;
const Table& table() {
  static const Table t = [] {
    Table tab;
#define KILN_REF_FAMILY(family) \
  for (const KernelEntry& e : family##_kernels()) tab[{std::string(e.domain), std::string(e.op_type)}] = e.fn;
#include "backends/ref/ref_kernel_families.inc"
#undef KILN_REF_FAMILY
    return tab;
  }();
  return t;
}
}  // namespace

KernelFn find_kernel(std::string_view domain, std::string_view op_type) {
  auto it = table().find(std::pair<std::string, std::string>(std::string(domain), std::string(op_type)));
  return it == table().end() ? nullptr : it->second;
}

std::vector<KernelEntry> all_kernels() {
  std::vector<KernelEntry> out;
  for (auto& [key, fn] : table()) out.push_back({key.second, key.first, fn});
  return out;
}

}  // namespace kiln::ref
