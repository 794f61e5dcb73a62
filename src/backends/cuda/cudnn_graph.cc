#include "backends/cuda/cudnn_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

namespace {

// cudnnBackendSetAttribute on a BackendDesc, checked; the Status names the attribute.
#define KILN_CUDNN_SET(desc, name, type, count, values) \
  KILN_CUDNN_TRY(cudnnBackendSetAttribute((desc).get(), name, type, count, values))

// A status with cuDNN's own explanation appended (finalize failures say little on their own).
Status cudnn_status_detailed(cudnnStatus_t e, const char* what) {
  if (e == CUDNN_STATUS_SUCCESS) return {};
  Status s = cudnn_status(e, what);
  std::string detail = cudnn_last_error();
  if (detail.empty()) return s;
  return Status(s.code(), s.message() + " (" + detail + ")");
}

#define KILN_CUDNN_FINALIZE(desc) \
  KILN_RETURN_IF_ERROR(cudnn_status_detailed(cudnnBackendFinalize((desc).get()), "cudnnBackendFinalize(" #desc ")"))

// More knob choices than any engine has (CUDNN_KNOB_TYPE_COUNTS is 44 in cuDNN 9.19).
constexpr int64_t kMaxKnobs = 64;

}  // namespace

Result<BackendDesc> BackendDesc::create(cudnnBackendDescriptorType_t type) {
  BackendDesc d;
  KILN_CUDNN_TRY(cudnnBackendCreateDescriptor(type, &d.d_));
  return d;
}

std::string cudnn_last_error() {
  std::array<char, 1024> buf{};
  cudnnGetLastErrorString(buf.data(), buf.size());
  buf.back() = '\0';
  return std::string(buf.data());
}

Result<cudnnDataType_t> cudnn_data_type(DataType dtype) {
  switch (dtype) {
    case DataType::kF32: return CUDNN_DATA_FLOAT;
    case DataType::kF16: return CUDNN_DATA_HALF;
    default: return Status::unsupported(fmt::format("cuDNN kernels do not run dtype {}", dtype_name(dtype)));
  }
}

Result<BackendDesc> make_tensor(const TensorSpec& spec) {
  if (spec.dims.size() != spec.strides.size() || spec.dims.size() < 3 || spec.dims.size() > CUDNN_DIM_MAX)
    return Status::internal(fmt::format("cuDNN tensor {} has {} dims and {} strides", spec.uid, spec.dims.size(),
                                        spec.strides.size()));
  KILN_ASSIGN_OR_RETURN(BackendDesc t, BackendDesc::create(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  const int64_t n = static_cast<int64_t>(spec.dims.size());
  const bool is_virtual = spec.is_virtual;
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &spec.dtype);
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, n, spec.dims.data());
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, n, spec.strides.data());
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &spec.uid);
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &spec.alignment);
  KILN_CUDNN_SET(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  KILN_CUDNN_FINALIZE(t);
  return t;
}

Result<BackendDesc> make_conv_fprop(const ConvSpec& spec, const BackendDesc& x, const BackendDesc& w,
                                    const BackendDesc& y, DescList& keep) {
  const int64_t n = static_cast<int64_t>(spec.pre_pads.size());
  if (n < 1 || spec.post_pads.size() != spec.pre_pads.size() || spec.strides.size() != spec.pre_pads.size() ||
      spec.dilations.size() != spec.pre_pads.size())
    return Status::internal("cuDNN convolution: pads, strides and dilations must have one value per spatial axis");
  KILN_ASSIGN_OR_RETURN(BackendDesc conv, BackendDesc::create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &spec.compute);
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &n);
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, n, spec.dilations.data());
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, n, spec.strides.data());
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, n, spec.pre_pads.data());
  KILN_CUDNN_SET(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, n, spec.post_pads.data());
  KILN_CUDNN_FINALIZE(conv);

  KILN_ASSIGN_OR_RETURN(BackendDesc op, BackendDesc::create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR));
  cudnnBackendDescriptor_t xd = x.get(), wd = w.get(), yd = y.get(), cd = conv.get();
  const float alpha = 1.0f, beta = 0.0f;  // FLOAT scalars: the compute type is FLOAT for f32 and f16 data
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &wd);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  KILN_CUDNN_FINALIZE(op);
  keep.push_back(std::move(conv));
  return op;
}

Result<BackendDesc> make_pointwise(const PointwiseSpec& spec, const BackendDesc& x, const BackendDesc* b,
                                   const BackendDesc& y, DescList& keep) {
  KILN_ASSIGN_OR_RETURN(BackendDesc pw, BackendDesc::create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR));
  const cudnnDataType_t prec = CUDNN_DATA_FLOAT;
  KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &spec.mode);
  KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec);
  if (spec.mode == CUDNN_POINTWISE_RELU_FWD) {
    KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, 1, &spec.relu_lower_clip);
    KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, 1, &spec.relu_upper_clip);
    KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, CUDNN_TYPE_DOUBLE, 1, &spec.relu_lower_clip_slope);
  } else if (spec.mode == CUDNN_POINTWISE_ELU_FWD) {
    KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_ELU_ALPHA, CUDNN_TYPE_DOUBLE, 1, &spec.elu_alpha);
  } else if (spec.mode == CUDNN_POINTWISE_SOFTPLUS_FWD) {
    KILN_CUDNN_SET(pw, CUDNN_ATTR_POINTWISE_SOFTPLUS_BETA, CUDNN_TYPE_DOUBLE, 1, &spec.softplus_beta);
  }
  KILN_CUDNN_FINALIZE(pw);

  KILN_ASSIGN_OR_RETURN(BackendDesc op, BackendDesc::create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR));
  cudnnBackendDescriptor_t pd = pw.get(), xd = x.get(), yd = y.get();
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pd);
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd);
  if (b) {
    cudnnBackendDescriptor_t bd = b->get();
    KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &bd);
  }
  KILN_CUDNN_SET(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd);
  KILN_CUDNN_FINALIZE(op);
  keep.push_back(std::move(pw));
  return op;
}

Result<BackendDesc> make_operation_graph(cudnnHandle_t handle, const std::vector<const BackendDesc*>& ops) {
  KILN_ASSIGN_OR_RETURN(BackendDesc g, BackendDesc::create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  std::vector<cudnnBackendDescriptor_t> raw;
  raw.reserve(ops.size());
  for (const BackendDesc* op : ops) raw.push_back(op->get());
  KILN_CUDNN_SET(g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw.size()),
                 raw.data());
  KILN_CUDNN_SET(g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  KILN_CUDNN_FINALIZE(g);
  return g;
}

namespace {

// An attribute holding up to `max` descriptors of `type` (cuDNN fills descriptors the caller created); the
// ones it filled.
Result<std::vector<BackendDesc>> descriptor_array(const BackendDesc& from, cudnnBackendAttributeName_t attr,
                                                  cudnnBackendDescriptorType_t type, int64_t max) {
  std::vector<BackendDesc> out;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < max; ++i) {
    KILN_ASSIGN_OR_RETURN(BackendDesc d, BackendDesc::create(type));
    raw.push_back(d.get());
    out.push_back(std::move(d));
  }
  int64_t got = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(from.get(), attr, CUDNN_TYPE_BACKEND_DESCRIPTOR, max, &got, raw.data()));
  out.resize(static_cast<size_t>(std::clamp<int64_t>(got, 0, max)));
  return out;
}

}  // namespace

Result<std::vector<BackendDesc>> heuristic_engine_configs(const BackendDesc& graph, cudnnBackendHeurMode_t mode) {
  KILN_ASSIGN_OR_RETURN(BackendDesc heur, BackendDesc::create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  cudnnBackendDescriptor_t gd = graph.get();
  KILN_CUDNN_SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &gd);
  KILN_CUDNN_SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  KILN_CUDNN_FINALIZE(heur);
  int64_t count = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                          &count, nullptr));
  if (count <= 0) return std::vector<BackendDesc>{};
  return descriptor_array(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, count);
}

bool EngineConfigInfo::has_note(cudnnBackendNumericalNote_t n) const {
  return std::find(notes.begin(), notes.end(), n) != notes.end();
}

Result<EngineConfigInfo> engine_config_info(const BackendDesc& config) {
  EngineConfigInfo info;
  KILN_ASSIGN_OR_RETURN(BackendDesc engine, BackendDesc::create(CUDNN_BACKEND_ENGINE_DESCRIPTOR));
  cudnnBackendDescriptor_t ed = engine.get();
  int64_t n = 0;
  KILN_CUDNN_TRY(
      cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &ed));
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                                          &info.engine));
  std::array<cudnnBackendNumericalNote_t, 32> notes{};
  int64_t note_count = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                          static_cast<int64_t>(notes.size()), &note_count, notes.data()));
  note_count = std::clamp<int64_t>(note_count, 0, static_cast<int64_t>(notes.size()));
  info.notes.assign(notes.begin(), notes.begin() + note_count);

  KILN_ASSIGN_OR_RETURN(std::vector<BackendDesc> choices,
                        descriptor_array(config, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR,
                                         kMaxKnobs));
  for (const BackendDesc& choice : choices) {
    cudnnBackendKnobType_t type{};
    int64_t value = 0;
    KILN_CUDNN_TRY(
        cudnnBackendGetAttribute(choice.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &n, &type));
    KILN_CUDNN_TRY(
        cudnnBackendGetAttribute(choice.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &n, &value));
    info.knobs.emplace_back(static_cast<int64_t>(type), value);
  }
  return info;
}

namespace {

// Engine `engine_index` of `graph`, finalized (fails when that engine does not run the graph).
Result<BackendDesc> make_engine(const BackendDesc& graph, int64_t engine_index) {
  KILN_ASSIGN_OR_RETURN(BackendDesc engine, BackendDesc::create(CUDNN_BACKEND_ENGINE_DESCRIPTOR));
  cudnnBackendDescriptor_t gd = graph.get();
  KILN_CUDNN_SET(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &gd);
  KILN_CUDNN_SET(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &engine_index);
  KILN_CUDNN_FINALIZE(engine);
  return engine;
}

}  // namespace

Result<std::vector<KnobRange>> engine_knob_ranges(const BackendDesc& graph, int64_t engine_index) {
  KILN_ASSIGN_OR_RETURN(BackendDesc engine, make_engine(graph, engine_index));
  KILN_ASSIGN_OR_RETURN(std::vector<BackendDesc> infos,
                        descriptor_array(engine, CUDNN_ATTR_ENGINE_KNOB_INFO, CUDNN_BACKEND_KNOB_INFO_DESCRIPTOR,
                                         kMaxKnobs));
  std::vector<KnobRange> ranges;
  int64_t n = 0;
  for (const BackendDesc& info : infos) {
    cudnnBackendKnobType_t type{};
    KnobRange r;
    KILN_CUDNN_TRY(cudnnBackendGetAttribute(info.get(), CUDNN_ATTR_KNOB_INFO_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &n, &type));
    KILN_CUDNN_TRY(
        cudnnBackendGetAttribute(info.get(), CUDNN_ATTR_KNOB_INFO_MINIMUM_VALUE, CUDNN_TYPE_INT64, 1, &n, &r.minimum));
    KILN_CUDNN_TRY(
        cudnnBackendGetAttribute(info.get(), CUDNN_ATTR_KNOB_INFO_MAXIMUM_VALUE, CUDNN_TYPE_INT64, 1, &n, &r.maximum));
    KILN_CUDNN_TRY(cudnnBackendGetAttribute(info.get(), CUDNN_ATTR_KNOB_INFO_STRIDE, CUDNN_TYPE_INT64, 1, &n, &r.stride));
    r.type = static_cast<int64_t>(type);
    if (r.stride < 1) r.stride = 1;
    ranges.push_back(r);
  }
  return ranges;
}

Result<BackendDesc> make_engine_config(const BackendDesc& graph, int64_t engine_index,
                                       const std::vector<std::pair<int64_t, int64_t>>& knobs, DescList& keep) {
  KILN_ASSIGN_OR_RETURN(BackendDesc engine, make_engine(graph, engine_index));

  std::vector<BackendDesc> choices;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (const auto& [type, value] : knobs) {
    KILN_ASSIGN_OR_RETURN(BackendDesc c, BackendDesc::create(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR));
    const cudnnBackendKnobType_t t = static_cast<cudnnBackendKnobType_t>(type);
    KILN_CUDNN_SET(c, CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &t);
    KILN_CUDNN_SET(c, CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &value);
    KILN_CUDNN_FINALIZE(c);
    raw.push_back(c.get());
    choices.push_back(std::move(c));
  }

  KILN_ASSIGN_OR_RETURN(BackendDesc config, BackendDesc::create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
  cudnnBackendDescriptor_t ed = engine.get();
  KILN_CUDNN_SET(config, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ed);
  if (!raw.empty())
    KILN_CUDNN_SET(config, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                   static_cast<int64_t>(raw.size()), raw.data());
  KILN_CUDNN_FINALIZE(config);
  keep.push_back(std::move(engine));
  for (BackendDesc& c : choices) keep.push_back(std::move(c));
  return config;
}

Result<ExecutionPlan> make_execution_plan(cudnnHandle_t handle, const BackendDesc& config) {
  ExecutionPlan p;
  KILN_ASSIGN_OR_RETURN(p.plan, BackendDesc::create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
  cudnnBackendDescriptor_t cd = config.get();
  KILN_CUDNN_SET(p.plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  KILN_CUDNN_SET(p.plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd);
  KILN_CUDNN_FINALIZE(p.plan);
  int64_t n = 0;
  KILN_CUDNN_TRY(cudnnBackendGetAttribute(p.plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                          &n, &p.workspace_bytes));
  if (p.workspace_bytes < 0) return Status::internal("cuDNN reported a negative workspace size");
  return p;
}

Status execute_plan(cudnnHandle_t handle, const BackendDesc& plan, const std::vector<int64_t>& uids,
                    const std::vector<void*>& pointers, void* workspace) {
  if (uids.size() != pointers.size()) return Status::internal("variant pack: one data pointer per tensor uid");
  for (size_t i = 0; i < uids.size(); ++i)
    if (reinterpret_cast<uintptr_t>(pointers[i]) % kCudnnAlignment != 0)
      return Status::internal(fmt::format("cuDNN tensor {} at {} is not {}-byte aligned", uids[i], pointers[i],
                                          kCudnnAlignment));
  KILN_ASSIGN_OR_RETURN(BackendDesc pack, BackendDesc::create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR));
  const int64_t n = static_cast<int64_t>(uids.size());
  KILN_CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids.data());
  KILN_CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, pointers.data());
  KILN_CUDNN_SET(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  KILN_CUDNN_FINALIZE(pack);
  KILN_RETURN_IF_ERROR(cudnn_status_detailed(cudnnBackendExecute(handle, plan.get(), pack.get()), "cudnnBackendExecute"));
  return {};
}

}  // namespace kiln::cuda
