#include "backends/cpu/cpu_kernel.h"

#include <fmt/format.h>

#include "core/float16.h"

namespace kiln::cpu {

std::string CpuKernel::tactic() const {
  std::lock_guard lock(mutex_);
  return "onednn:" + (last_implementation_.empty() ? std::string("pending") : last_implementation_);
}

Result<const PreparedPrimitive*> CpuKernel::prepared(const Dims& input_dims) const {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(input_dims);
  if (it != cache_.end()) return it->second.get();
  Result<PreparedPrimitive> created = [&]() -> Result<PreparedPrimitive> {
    try {
      return create_primitive(input_dims);
    } catch (const dnnl::error& e) {
      return Status::internal(fmt::format("node '{}': oneDNN could not create a primitive for input {}: {}", name_,
                                          dims_to_string(input_dims), e.what()));
    } catch (const std::exception& e) {
      return Status::internal(fmt::format("node '{}': creating the primitive for input {} failed: {}", name_,
                                          dims_to_string(input_dims), e.what()));
    }
  }();
  if (!created.ok()) return created.status();
  auto p = std::make_unique<PreparedPrimitive>(std::move(*created));
  if (weights_.data) {
    if (p->weights == weights_.md) {
      p->weights_data = weights_.data;  // stored in exactly the layout wanted: use the engine's bytes in place
    } else {
      p->owned_weights = reorder_to(weights_.md, weights_.data, p->weights);
      p->weights_data = p->owned_weights->data();
    }
  }
  last_implementation_ = p->implementation;
  return cache_.emplace(input_dims, std::move(p)).first->second.get();
}

Result<std::optional<Tensor>> CpuKernel::packed_weights(const Dims& input_dims) const {
  if (!weights_.data) return std::optional<Tensor>{};
  KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(input_dims));
  return std::optional<Tensor>(make_packed_weights(p->weights, p->weights_data));
}

Result<std::string> CpuKernel::implementation_at(const Dims& input_dims) const {
  KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(input_dims));
  return p->implementation;
}

namespace {
Tensor widen_f16(const Tensor& half) {
  Tensor wide(DataType::kF32, half.dims());
  const auto* src = static_cast<const uint16_t*>(half.raw());
  float* dst = wide.data<float>();
  for (int64_t i = 0; i < half.size(); ++i) dst[i] = half_bits_to_float(src[i]);
  return wide;
}
}  // namespace

DataType stored_float_dtype(const Node& node, const char* storage_attr) {
  return node.attr_string(storage_attr) == kFp16Storage ? DataType::kF16 : DataType::kF32;
}

Tensor bias_as_stored(const Node& node, size_t input) {
  const Tensor& t = *node.inputs[input]->constant;
  return node.attr_string(kBiasStorageAttr) == kFp16Storage && t.dtype() == DataType::kF16 ? widen_f16(t) : t;
}

Result<std::vector<std::string>> CpuKernel::candidate_tactics(const Dims& input_dims) const {
  try {
    KILN_ASSIGN_OR_RETURN(PreparedPrimitive p, create_primitive(input_dims, /*list_offered=*/true));
    return p.offered;
  } catch (const dnnl::error& e) {
    return Status::internal(fmt::format("node '{}': oneDNN: {}", name_, e.what()));
  }
}

Result<KernelWeights> read_weights(const Node& node, size_t input, const dnnl::memory::desc& plain_md) {
  const Value* v = node.inputs[input];
  KernelWeights w;
  w.keep = *v->constant;
  std::string packing = node.attr_string(kWeightPackingAttr);
  if (packing == kFp16Storage) {
    if (w.keep.dtype() != DataType::kF16 || static_cast<size_t>(w.keep.size()) != plain_md.get_size() / sizeof(float))
      return Status::invalid_model(fmt::format("{}: f16-stored weights '{}' are {}, expected {} f16 elements",
                                               node.describe(), v->name, w.keep.type_string(),
                                               plain_md.get_size() / sizeof(float)));
    w.keep = widen_f16(w.keep);
    w.md = plain_md;
    w.data = w.keep.raw();
    return w;
  }
  if (!packing.empty() && packing != kOneDnnPacking)
    return Status::invalid_model(fmt::format("{}: unknown weight packing '{}'", node.describe(), packing));
  if (packing == kOneDnnPacking) {
    auto packed = parse_packed_weights(w.keep);
    if (!packed.ok()) return packed.status().with_context(fmt::format("{} weights '{}'", node.describe(), v->name));
    w.md = packed->md;
    w.data = packed->data;
    return w;
  }
  w.md = plain_md;
  w.data = w.keep.raw();
  return w;
}

PreparedPrimitive prepare_reorder(const dnnl::memory::desc& src, const dnnl::memory::desc& dst,
                                  dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::reorder::primitive_desc pd(onednn_engine(), src, onednn_engine(), dst, attr);
  PreparedPrimitive p;
  p.primitive = dnnl::reorder(pd);
  p.src = src;
  p.dst = dst;
  p.scratchpad_bytes = pd.scratchpad_desc().get_size();
  p.implementation = implementation_name(pd);
  return p;
}

dnnl::memory::desc dense_desc(const Dims& dims, dnnl::memory::data_type type) {
  dnnl::memory::dims d(dims.begin(), dims.end()), strides(dims.size());
  if (d.empty()) d = {1}, strides = {1};
  int64_t s = 1;
  for (size_t i = d.size(); i-- > 0;) strides[i] = s, s *= d[i];
  return dnnl::memory::desc(d, type, strides);
}


void execute(const PreparedPrimitive& p, std::unordered_map<int, dnnl::memory> args) {
  if (p.weights_data) args[DNNL_ARG_WEIGHTS] = view_memory(p.weights, p.weights_data);
  if (p.scratchpad_bytes) {
    dnnl::memory::desc md({static_cast<dnnl::memory::dim>(p.scratchpad_bytes)}, dnnl::memory::data_type::u8,
                          dnnl::memory::format_tag::a);
    args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(md, onednn_engine(), thread_scratchpad(p.scratchpad_bytes));
  }
  p.primitive.execute(thread_stream(), args);
  thread_stream().wait();
}

Result<std::shared_ptr<const CpuKernel>> create_cpu_kernel(const Node& node) {
  try {
    KILN_ASSIGN_OR_RETURN(auto conv, create_conv_kernel(node));
    if (conv) return conv;
    KILN_ASSIGN_OR_RETURN(auto ip, create_inner_product_kernel(node));
    if (ip) return ip;
    KILN_ASSIGN_OR_RETURN(auto pool, create_pool_kernel(node));
    if (pool) return pool;
    KILN_ASSIGN_OR_RETURN(auto transpose, create_transpose_kernel(node));
    if (transpose) return transpose;
    KILN_ASSIGN_OR_RETURN(auto elementwise, create_elementwise_kernel(node));
    if (elementwise) return elementwise;
    return create_quantize_kernel(node);
  } catch (const dnnl::error& e) {
    return Status::internal(fmt::format("{}: oneDNN: {}", node.describe(), e.what()));
  }
}

}  // namespace kiln::cpu
