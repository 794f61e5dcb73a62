// The CPU backend's kernels: oneDNN primitives for the nodes that dominate run time (convolutions,
// fully connected layers, pooling), in f32 and int8. A kernel parses its node once, creates a oneDNN
// primitive per input shape on first use (cached; thread-safe), and uses weights packed into the
// primitive's preferred layout — packed at build time and stored in the engine, or packed on creation
// when given plain weights (calibration runs on the unpacked graph).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "backends/cpu/onednn_common.h"
#include "runtime/node_kernel.h"

namespace kiln::cpu {

/// Node attribute set on nodes whose weight input holds a packed blob (see PackedWeights).
inline constexpr const char* kWeightPackingAttr = "weight_packing";
inline constexpr const char* kOneDnnPacking = "onednn";
/// FP16 engines on the CPU: weights (and `bias_storage` = "f16": the bias) stored in half precision, plain
/// layout; the kernel widens them to f32 and packs them when the engine loads (this CPU has no FP16
/// arithmetic; storage is what FP16 buys here — see docs/cpu_backend.md).
inline constexpr const char* kFp16Storage = "f16";
inline constexpr const char* kBiasStorageAttr = "bias_storage";

/// Weights as a kernel holds them: the constant (plain or packed) it reads.
struct KernelWeights {
  dnnl::memory::desc md;  ///< plain (e.g. oihw) or the packed layout
  const void* data = nullptr;
  Tensor keep;  ///< keeps the constant's storage (an engine mapping, or widened f16 weights) alive
};

/// The dtype a float weight or bias input holds: f16 when the node's `storage_attr` (kWeightPackingAttr or
/// kBiasStorageAttr) says kFp16Storage, else f32.
DataType stored_float_dtype(const Node& node, const char* storage_attr);

/// A constant bias as the kernel reads it: widened to f32 when stored in f16, else the constant itself.
Tensor bias_as_stored(const Node& node, size_t input);

/// One primitive ready to run at one input shape.
struct PreparedPrimitive {
  dnnl::primitive primitive;
  dnnl::memory::desc src, weights, dst, bias;
  const void* weights_data = nullptr;
  std::shared_ptr<std::vector<std::byte>> owned_weights;  ///< when the stored layout had to be reordered
  size_t scratchpad_bytes = 0;
  std::string implementation;
  std::vector<std::string> offered;  ///< every implementation oneDNN offered (when asked for)
};

/// Node attribute naming the oneDNN implementation the builder timed fastest (empty: oneDNN's choice).
inline constexpr const char* kTacticAttr = "tactic";

class CpuKernel : public NodeKernel {
 public:
  std::string tactic() const override;
  /// Which input holds the weights (for packing at build).
  virtual size_t weight_input() const = 0;
  /// Build time: the weights in the layout the primitive wants at input shape `input_dims`, as a blob for
  /// the engine (make_packed_weights); nullopt when the kernel has no weights to pack.
  Result<std::optional<Tensor>> packed_weights(const Dims& input_dims) const;
  /// The oneDNN implementation chosen for input 0 of shape `input_dims` (creates the primitive).
  Result<std::string> implementation_at(const Dims& input_dims) const;
  /// Every implementation oneDNN offers at `input_dims` (the tactics the builder may time).
  Result<std::vector<std::string>> candidate_tactics(const Dims& input_dims) const;

 protected:
  /// Creates the primitive for input 0 of shape `input_dims` (weights not yet attached), at the
  /// implementation `tactic_` names when offered; lists the offered ones when `list_offered`.
  virtual Result<PreparedPrimitive> create_primitive(const Dims& input_dims, bool list_offered = false) const = 0;
  /// The cached primitive for `input_dims`, with weights in its layout.
  Result<const PreparedPrimitive*> prepared(const Dims& input_dims) const;

  KernelWeights weights_;
  std::string name_;    ///< node name, for errors
  std::string tactic_;  ///< the node's kTacticAttr

 private:
  mutable std::mutex mutex_;
  mutable std::map<Dims, std::unique_ptr<PreparedPrimitive>> cache_;
  mutable std::string last_implementation_;
};

/// The oneDNN kernel for `node`, or null when the CPU backend leaves it to the reference kernels
/// (unsupported op, dtype, rank, attribute or activation). Errors only for malformed packed weights.
Result<std::shared_ptr<const CpuKernel>> create_cpu_kernel(const Node& node);

// Per-family factories (null: not supported).
Result<std::shared_ptr<const CpuKernel>> create_conv_kernel(const Node& node);
Result<std::shared_ptr<const CpuKernel>> create_inner_product_kernel(const Node& node);
Result<std::shared_ptr<const CpuKernel>> create_pool_kernel(const Node& node);
Result<std::shared_ptr<const CpuKernel>> create_transpose_kernel(const Node& node);
Result<std::shared_ptr<const CpuKernel>> create_elementwise_kernel(const Node& node);
Result<std::shared_ptr<const CpuKernel>> create_quantize_kernel(const Node& node);

/// Reads a weight input: packed blob (node marked with kWeightPackingAttr), f16 storage (widened to f32) or
/// plain tensor of `plain_md`.
Result<KernelWeights> read_weights(const Node& node, size_t input, const dnnl::memory::desc& plain_md);

/// A primitive with weights (convolution, inner product) at the implementation `tactic` names: oneDNN's
/// descriptors, scratchpad size and implementation name filled in from its primitive descriptor.
template <class Primitive, class Desc>
PreparedPrimitive prepare_weighted(const Desc& desc, const dnnl::primitive_attr& attr, const dnnl::memory::desc& bias,
                                   const std::string& tactic, bool list_offered) {
  using PD = typename Primitive::primitive_desc;
  PreparedPrimitive p;
  PD pd = choose_implementation<PD>([&] { return PD(desc, attr, onednn_engine()); }, tactic,
                                    list_offered ? &p.offered : nullptr);
  p.primitive = Primitive(pd);
  p.src = pd.src_desc();
  p.dst = pd.dst_desc();
  p.weights = pd.weights_desc();
  p.bias = bias;
  p.scratchpad_bytes = pd.scratchpad_desc().get_size();
  p.implementation = implementation_name(pd);
  return p;
}

/// A reorder from `src` to `dst` layouts/types (attr: e.g. output scales), as a prepared primitive.
PreparedPrimitive prepare_reorder(const dnnl::memory::desc& src, const dnnl::memory::desc& dst,
                                  dnnl::primitive_attr attr = {});

/// A dense row-major descriptor of `dims` (rank 0 becomes [1]).
dnnl::memory::desc dense_desc(const Dims& dims, dnnl::memory::data_type type);

/// Runs `p` with the given arguments plus weights and a scratchpad.
void execute(const PreparedPrimitive& p, std::unordered_map<int, dnnl::memory> args);

}  // namespace kiln::cpu
