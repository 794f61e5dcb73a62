// Shared plumbing of the oneDNN kernels: the engine, per-thread streams and scratchpads, type and
// attribute translation, and the packed-weight blob format stored in engines.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kiln/status.h"

namespace kiln::cpu {

/// The process-wide oneDNN CPU engine.
const dnnl::engine& onednn_engine();
/// A stream for the calling thread (streams are cheap but not meant to be shared between threads).
dnnl::stream& thread_stream();
/// A scratchpad of at least `bytes` for the calling thread. Primitives run with user-managed scratchpads so
/// that one primitive can execute on several threads at once (contexts share an engine's kernels).
void* thread_scratchpad(size_t bytes);

/// oneDNN's element type for a kiln dtype (f32, f16, bf16, s8, u8, s32); nullopt when it has none.
std::optional<dnnl::memory::data_type> onednn_type(DataType dtype);

/// Appends a kiln/ONNX activation ("", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Elu",
/// "HardSigmoid", "Softplus") as an eltwise post-op; false when oneDNN has no equivalent. `scale` divides
/// the bounds of Relu6-style clamps when the post-op acts on a scaled (quantized) value.
bool append_activation(dnnl::post_ops& ops, const std::string& activation, const std::vector<float>& params,
                       float bound_scale = 1.0f);

/// The implementation oneDNN picked, e.g. "brgconv:avx512_core".
std::string implementation_name(const dnnl::primitive_desc_base& pd);

/// Tactic choice among oneDNN's implementations of one primitive: `make()` creates a primitive
/// descriptor positioned at oneDNN's first choice; the result is positioned at the implementation named
/// `tactic` when offered (else the first choice). `offered` (optional) receives every implementation name
/// in oneDNN's order, reference implementations excluded.
template <class PD, class Make>
PD choose_implementation(const Make& make, const std::string& tactic, std::vector<std::string>* offered) {
  if (offered) {
    PD all = make();
    do {
      std::string name = implementation_name(all);
      if (!name.starts_with("ref")) offered->push_back(name);
    } while (all.next_impl());
  }
  PD pd = make();
  if (tactic.empty()) return pd;
  do {
    if (implementation_name(pd) == tactic) return pd;
  } while (pd.next_impl());
  return make();
}

/// A memory object viewing `data` (oneDNN never writes inputs; the const_cast is only for its API).
inline dnnl::memory view_memory(const dnnl::memory::desc& md, const void* data) {
  return dnnl::memory(md, onednn_engine(), const_cast<void*>(data));
}

/// Weights stored in an engine already in the layout a primitive wants. The blob is a u8 tensor:
///   char[4] "KPW1", u32 oneDNN version (major*10000 + minor*100 + patch), u32 sizeof(dnnl_memory_desc_t),
///   the memory descriptor's bytes, zero padding to 64, then md.get_size() bytes of weights.
/// Another oneDNN version or CPU may want another layout: the kernel then reorders from this one at load.
struct PackedWeights {
  dnnl::memory::desc md;
  const void* data = nullptr;
};
Tensor make_packed_weights(const dnnl::memory::desc& md, const void* data);
/// Parses a blob made by make_packed_weights; the error says what does not match.
Result<PackedWeights> parse_packed_weights(const Tensor& blob);

/// Reorders `src` (memory described by src_md at src_data) into a new buffer laid out as dst_md.
std::shared_ptr<std::vector<std::byte>> reorder_to(const dnnl::memory::desc& src_md, const void* src_data,
                                                  const dnnl::memory::desc& dst_md);

}  // namespace kiln::cpu
