// Thin, checked wrappers over cuDNN 9's backend (graph) API, for the convolution kernels (cudnn_conv.cc).
//
// Every descriptor is owned by a BackendDesc (destroyed with it); every cuDNN call's status is checked and
// comes back as a Status naming the call. The builders here describe one operation graph; engine configs
// come from the heuristics or are re-created from a tactic (engine global index + knob choices).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "core/data_type.h"
#include "kiln/status.h"

namespace kiln::cuda {

/// Owns one cudnnBackendDescriptor_t. Move-only.
class BackendDesc {
 public:
  BackendDesc() = default;
  BackendDesc(BackendDesc&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  BackendDesc& operator=(BackendDesc&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  ~BackendDesc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }

  /// A new, not yet finalized descriptor of `type`.
  static Result<BackendDesc> create(cudnnBackendDescriptorType_t type);

  cudnnBackendDescriptor_t get() const { return d_; }
  explicit operator bool() const { return d_ != nullptr; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

/// cuDNN's message for the last error of this thread (cudnnGetLastErrorString), or "".
std::string cudnn_last_error();

/// The cuDNN data type of a kiln dtype (f32 -> FLOAT, f16 -> HALF); an unsupported Status otherwise.
Result<cudnnDataType_t> cudnn_data_type(DataType dtype);

/// Descriptors an operation or config refers to, kept alive as long as it (cuDNN does not say it copies them).
/// A deque: references to its elements stay valid while more are appended.
using DescList = std::deque<BackendDesc>;

/// The data-pointer alignment every tensor is described with (and execute_plan checks).
inline constexpr int64_t kCudnnAlignment = 16;

/// A tensor: dims and strides in elements (same length, 3..8), kCudnnAlignment of its data pointer.
/// Virtual tensors are intermediates that never reach memory.
struct TensorSpec {
  int64_t uid = 0;
  cudnnDataType_t dtype = CUDNN_DATA_FLOAT;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
  bool is_virtual = false;
  int64_t alignment = kCudnnAlignment;
};
Result<BackendDesc> make_tensor(const TensorSpec& spec);

/// A forward convolution (cross-correlation) over `pre_pads.size()` spatial axes.
struct ConvSpec {
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  std::vector<int64_t> pre_pads, post_pads, strides, dilations;
};
/// The operation; the convolution descriptor goes to `keep`.
Result<BackendDesc> make_conv_fprop(const ConvSpec& spec, const BackendDesc& x, const BackendDesc& w,
                                    const BackendDesc& y, DescList& keep);

/// A pointwise operation y = op(x) or y = op(x, b) computed in FLOAT; `b` may be null for unary modes.
/// RELU_FWD uses lower_clip / upper_clip / lower_clip_slope, ELU_FWD `elu_alpha`, SOFTPLUS_FWD
/// `softplus_beta` (the other fields are ignored).
struct PointwiseSpec {
  cudnnPointwiseMode_t mode = CUDNN_POINTWISE_ADD;
  double relu_lower_clip = 0.0;
  double relu_upper_clip = 3.402823466e38;  // FLT_MAX: no upper clip
  double relu_lower_clip_slope = 0.0;
  double elu_alpha = 1.0;
  double softplus_beta = 1.0;
};
/// The operation; the pointwise descriptor goes to `keep`.
Result<BackendDesc> make_pointwise(const PointwiseSpec& spec, const BackendDesc& x, const BackendDesc* b,
                                   const BackendDesc& y, DescList& keep);

/// A finalized operation graph of `ops` (in order) on `handle`.
Result<BackendDesc> make_operation_graph(cudnnHandle_t handle, const std::vector<const BackendDesc*>& ops);

/// The engine configs the heuristics propose for `graph` in `mode`, best first (may be empty; an error only
/// when cuDNN fails in a way other than "not supported").
Result<std::vector<BackendDesc>> heuristic_engine_configs(const BackendDesc& graph, cudnnBackendHeurMode_t mode);

/// What identifies an engine config across processes (same GPU and cuDNN): the engine's global index and its
/// knob choices (knob type, value) in cuDNN's order; plus the engine's numerical notes.
struct EngineConfigInfo {
  int64_t engine = -1;
  std::vector<std::pair<int64_t, int64_t>> knobs;
  std::vector<cudnnBackendNumericalNote_t> notes;
  bool has_note(cudnnBackendNumericalNote_t n) const;
};
Result<EngineConfigInfo> engine_config_info(const BackendDesc& config);

/// A knob of an engine and the values it takes: minimum, minimum + stride, ..., maximum.
struct KnobRange {
  int64_t type = 0;
  int64_t minimum = 0, maximum = 0, stride = 1;
};
/// The knobs engine `engine` has on `graph` (CUDNN_ATTR_ENGINE_KNOB_INFO).
Result<std::vector<KnobRange>> engine_knob_ranges(const BackendDesc& graph, int64_t engine);

/// Re-creates the engine config `engine` + `knobs` on `graph`. Fails (not supported) when that engine does
/// not run the graph. The engine and knob-choice descriptors go to `keep`.
Result<BackendDesc> make_engine_config(const BackendDesc& graph, int64_t engine,
                                       const std::vector<std::pair<int64_t, int64_t>>& knobs, DescList& keep);

/// An execution plan for `config` on `handle` and the workspace it needs.
struct ExecutionPlan {
  BackendDesc plan;
  int64_t workspace_bytes = 0;
};
Result<ExecutionPlan> make_execution_plan(cudnnHandle_t handle, const BackendDesc& config);

/// Runs `plan` with the data pointers of `uids` (same length) and `workspace`, on the handle's stream. An
/// internal error (naming the tensor) when a pointer is not kCudnnAlignment-aligned, as the tensors promise.
Status execute_plan(cudnnHandle_t handle, const BackendDesc& plan, const std::vector<int64_t>& uids,
                    const std::vector<void*>& pointers, void* workspace);

}  // namespace kiln::cuda
