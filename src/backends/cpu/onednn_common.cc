#include "backends/cpu/onednn_common.h"

#include <fmt/format.h>

#include <cfloat>
#include <cmath>
#include <cstring>

namespace kiln::cpu {

const dnnl::engine& onednn_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(onednn_engine());
  return stream;
}

void* thread_scratchpad(size_t bytes) {
  thread_local std::vector<std::byte> buffer;
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer.data();
}

std::optional<dnnl::memory::data_type> onednn_type(DataType dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case DataType::kF32: return dt::f32;
    case DataType::kF16: return dt::f16;
    case DataType::kBF16: return dt::bf16;
    case DataType::kI8: return dt::s8;
    case DataType::kU8: return dt::u8;
    case DataType::kI32: return dt::s32;
    default: return std::nullopt;
  }
}

bool append_activation(dnnl::post_ops& ops, const std::string& activation, const std::vector<float>& params,
                       float bound_scale) {
  using alg = dnnl::algorithm;
  auto param = [&](size_t i, float fallback) { return i < params.size() ? params[i] : fallback; };
  if (activation.empty()) return true;
  if (activation == "Relu") ops.append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f);
  else if (activation == "LeakyRelu") ops.append_eltwise(1.0f, alg::eltwise_relu, param(0, 0.01f), 0.0f);
  else if (activation == "Clip") {
    // ±inf bounds (absent min/max) become the largest floats: clip_v2 compares, so the result is the same.
    float lo = param(0, -INFINITY), hi = param(1, INFINITY);
    lo = std::isinf(lo) ? -FLT_MAX : lo / bound_scale;
    hi = std::isinf(hi) ? FLT_MAX : hi / bound_scale;
    ops.append_eltwise(1.0f, alg::eltwise_clip_v2, lo, hi);
  } else if (activation == "Sigmoid") ops.append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f);
  else if (activation == "Tanh") ops.append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f);
  else if (activation == "Elu") ops.append_eltwise(1.0f, alg::eltwise_elu, param(0, 1.0f), 0.0f);
  else if (activation == "Softplus") ops.append_eltwise(1.0f, alg::eltwise_soft_relu, 0.0f, 0.0f);
  else if (activation == "Swish") ops.append_eltwise(1.0f, alg::eltwise_swish, 1.0f, 0.0f);  // x * sigmoid(1 * x)
  else return false;
  return true;
}

std::string implementation_name(const dnnl::primitive_desc_base& pd) {
  const char* info = nullptr;
  if (dnnl_primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &info) != dnnl_success || !info)
    return "unknown";
  return info;
}

namespace {
constexpr char kPackedMagic[4] = {'K', 'P', 'W', '1'};
constexpr size_t kPackedHeader = 12;
constexpr size_t kPackedAlign = 64;

uint32_t onednn_version_code() {
  const dnnl_version_t* v = dnnl_version();
  return v->major * 10000 + v->minor * 100 + v->patch;
}

size_t packed_data_offset() {
  size_t end = kPackedHeader + sizeof(dnnl_memory_desc_t);
  return (end + kPackedAlign - 1) / kPackedAlign * kPackedAlign;
}
}  // namespace

Tensor make_packed_weights(const dnnl::memory::desc& md, const void* data) {
  size_t offset = packed_data_offset();
  Tensor blob(DataType::kU8, {static_cast<int64_t>(offset + md.get_size())});
  auto* p = static_cast<std::byte*>(blob.raw());
  std::memcpy(p, kPackedMagic, 4);
  uint32_t version = onednn_version_code(), md_size = sizeof(dnnl_memory_desc_t);
  std::memcpy(p + 4, &version, 4);
  std::memcpy(p + 8, &md_size, 4);
  std::memcpy(p + kPackedHeader, &md.data, sizeof(dnnl_memory_desc_t));
  std::memcpy(p + offset, data, md.get_size());
  return blob;
}

Result<PackedWeights> parse_packed_weights(const Tensor& blob) {
  size_t offset = packed_data_offset();
  if (blob.dtype() != DataType::kU8 || blob.byte_size() < offset)
    return Status::invalid_model("packed weights: blob too small or not bytes");
  const auto* p = static_cast<const std::byte*>(blob.raw());
  uint32_t version = 0, md_size = 0;
  std::memcpy(&version, p + 4, 4);
  std::memcpy(&md_size, p + 8, 4);
  if (std::memcmp(p, kPackedMagic, 4) != 0) return Status::invalid_model("packed weights: bad magic");
  // The descriptor is a plain C struct whose layout is stable within a oneDNN major version.
  if (version / 10000 != onednn_version_code() / 10000 || md_size != sizeof(dnnl_memory_desc_t))
    return Status::invalid_model(fmt::format(
        "packed weights were written by oneDNN {}.{} (descriptor {} bytes); this runtime has oneDNN {}.{} ({} "
        "bytes): rebuild the engine", version / 10000, version / 100 % 100, md_size, onednn_version_code() / 10000,
        onednn_version_code() / 100 % 100, sizeof(dnnl_memory_desc_t)));
  PackedWeights w;
  std::memcpy(&w.md.data, p + kPackedHeader, sizeof(dnnl_memory_desc_t));
  if (offset + w.md.get_size() != blob.byte_size())
    return Status::invalid_model(fmt::format("packed weights: descriptor says {} bytes, blob holds {}",
                                             w.md.get_size(), blob.byte_size() - offset));
  w.data = p + offset;
  return w;
}

std::shared_ptr<std::vector<std::byte>> reorder_to(const dnnl::memory::desc& src_md, const void* src_data,
                                                  const dnnl::memory::desc& dst_md) {
  auto buffer = std::make_shared<std::vector<std::byte>>(dst_md.get_size());
  dnnl::memory src = view_memory(src_md, src_data);
  dnnl::memory dst(dst_md, onednn_engine(), buffer->data());
  dnnl::reorder(src, dst).execute(thread_stream(), src, dst);
  thread_stream().wait();
  return buffer;
}

}  // namespace kiln::cpu
