#include "backends/cuda/cudnn_conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <optional>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/cudnn_conv_shapes.h"
#include "backends/cuda/cudnn_engine_choice.h"
#include "backends/cuda/cudnn_graph.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/fused_activation.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "backends/cuda/tactic_choice_kernel.h"
#include "ir/ops/conv_geometry.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

// Unique ids of the graph's tensors (virtual intermediates from kUidVirtual on).
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3, kUidB = 4, kUidZ = 5, kUidVirtual = 100;

// The activation as a cuDNN pointwise op, when cuDNN has one with the same semantics.
std::optional<PointwiseSpec> cudnn_activation(const FusedActivation& a) {
  PointwiseSpec p;
  switch (a.kind) {
    case EpilogueActivation::kRelu:
      p.mode = CUDNN_POINTWISE_RELU_FWD;
      return p;
    case EpilogueActivation::kLeakyRelu:
      // x < lower_clip (0): lower_clip + slope * (x - lower_clip) = alpha * x.
      p.mode = CUDNN_POINTWISE_RELU_FWD;
      p.relu_lower_clip_slope = a.p0;
      return p;
    case EpilogueActivation::kClip: {
      if (std::isnan(a.p0) || std::isnan(a.p1) || a.p0 > a.p1) return std::nullopt;
      p.mode = CUDNN_POINTWISE_RELU_FWD;
      p.relu_lower_clip = std::max<double>(a.p0, -FLT_MAX);
      p.relu_upper_clip = std::min<double>(a.p1, FLT_MAX);
      return p;
    }
    case EpilogueActivation::kSigmoid: p.mode = CUDNN_POINTWISE_SIGMOID_FWD; return p;
    case EpilogueActivation::kTanh: p.mode = CUDNN_POINTWISE_TANH_FWD; return p;
    case EpilogueActivation::kElu:
      p.mode = CUDNN_POINTWISE_ELU_FWD;
      p.elu_alpha = a.p0;
      return p;
    case EpilogueActivation::kSoftplus:
      p.mode = CUDNN_POINTWISE_SOFTPLUS_FWD;
      p.softplus_beta = 1.0;
      return p;
    case EpilogueActivation::kGelu: p.mode = CUDNN_POINTWISE_GELU_FWD; return p;  // the erf form
    default: return std::nullopt;
  }
}

// Device copies of the node's constants, shared by the kernel and its prepared nodes.
struct ConvConstants {
  DeviceBuffer w;  // KCRS (NCHW) or KRSC (NHWC)
  DeviceBuffer b;  // B as f32 [K] (whatever the data dtype: cuDNN's fused engines want a FLOAT bias)
  DeviceBuffer z;  // Z when it is a constant (unusual)
};

// What the kernel knows at creation.
struct ConvNode {
  std::string name;  // node.describe(), for errors
  DataType dtype = DataType::kF32;
  cudnnDataType_t io = CUDNN_DATA_FLOAT;
  ConvGeometry geo;
  bool has_bias = false;
  bool has_z = false, z_constant = false;
  FusedActivation act;
  std::optional<PointwiseSpec> act_pointwise;  // set when cuDNN can apply the activation
  bool allow_tf32 = false;
};

bool graph_has_bias(ConvPath p, const ConvNode& n) { return n.has_bias && p != ConvPath::kConv; }
bool graph_has_z(ConvPath p, const ConvNode& n) { return n.has_z && p == ConvPath::kFused; }
bool graph_has_act(ConvPath p, const ConvNode& n) { return !n.act.none() && p == ConvPath::kFused; }

// The graphs worth trying for this node, most fused first.
std::vector<ConvPath> conv_paths(const ConvNode& n) {
  std::vector<ConvPath> paths;
  const bool extra = n.has_bias || n.has_z || !n.act.none();
  const bool act_ok = n.act.none() || n.act_pointwise.has_value();
  if (extra && act_ok) paths.push_back(ConvPath::kFused);
  if (n.has_bias && (n.has_z || !n.act.none())) paths.push_back(ConvPath::kBias);
  paths.push_back(ConvPath::kConv);
  return paths;
}

Result<BuiltGraph> build_graph(cudnnHandle_t handle, const ConvNode& n, const ConvShapes& s, ConvPath path) {
  BuiltGraph g;
  auto tensor = [&](int64_t uid, cudnnDataType_t dt, const std::vector<int64_t>& dims,
                    const std::vector<int64_t>& strides, bool is_virtual) -> Result<size_t> {
    KILN_ASSIGN_OR_RETURN(BackendDesc t, make_tensor({uid, dt, dims, strides, is_virtual}));
    g.keep.push_back(std::move(t));
    return g.keep.size() - 1;
  };
  const bool with_bias = graph_has_bias(path, n), with_z = graph_has_z(path, n), with_act = graph_has_act(path, n);
  const int steps = int{with_bias} + int{with_z} + int{with_act};

  KILN_ASSIGN_OR_RETURN(size_t x, tensor(kUidX, n.io, s.x, s.x_strides, false));
  KILN_ASSIGN_OR_RETURN(size_t w, tensor(kUidW, n.io, s.w, s.w_strides, false));
  KILN_ASSIGN_OR_RETURN(size_t y, tensor(kUidY, n.io, s.y, s.y_strides, false));
  g.uids = {kUidX, kUidW, kUidY};
  int64_t next_virtual = kUidVirtual;
  // The output of the next step: Y for the last one, else a new virtual FLOAT tensor.
  int remaining = steps;
  auto step_output = [&]() -> Result<size_t> {
    if (remaining-- == 0) return y;
    return tensor(next_virtual++, CUDNN_DATA_FLOAT, s.y, s.y_strides, true);
  };

  std::vector<size_t> ops;
  KILN_ASSIGN_OR_RETURN(size_t cur, step_output());
  {
    KILN_ASSIGN_OR_RETURN(BackendDesc op, make_conv_fprop(s.conv, g.keep[x], g.keep[w], g.keep[cur], g.keep));
    g.keep.push_back(std::move(op));
    ops.push_back(g.keep.size() - 1);
  }
  auto add_step = [&](const PointwiseSpec& spec, std::optional<size_t> operand) -> Status {
    KILN_ASSIGN_OR_RETURN(size_t out, step_output());
    const BackendDesc* b = operand ? &g.keep[*operand] : nullptr;
    KILN_ASSIGN_OR_RETURN(BackendDesc op, make_pointwise(spec, g.keep[cur], b, g.keep[out], g.keep));
    g.keep.push_back(std::move(op));
    ops.push_back(g.keep.size() - 1);
    cur = out;
    return {};
  };
  PointwiseSpec add;
  add.mode = CUDNN_POINTWISE_ADD;
  if (with_bias) {
    // FLOAT even for HALF data: with a HALF bias cuDNN 9.14's heuristics (H100) offer no fused engine for
    // conv + bias + Relu (only the generic ones, 40x slower); with FLOAT they offer the runtime-fusion engines.
    KILN_ASSIGN_OR_RETURN(size_t b, tensor(kUidB, CUDNN_DATA_FLOAT, s.b, s.b_strides, false));
    g.uids.push_back(kUidB);
    KILN_RETURN_IF_ERROR(add_step(add, b));
  }
  if (with_z) {
    KILN_ASSIGN_OR_RETURN(size_t z, tensor(kUidZ, n.io, s.y, s.y_strides, false));
    g.uids.push_back(kUidZ);
    KILN_RETURN_IF_ERROR(add_step(add, z));
  }
  if (with_act) KILN_RETURN_IF_ERROR(add_step(*n.act_pointwise, std::nullopt));

  std::vector<const BackendDesc*> op_list;
  for (size_t i : ops) op_list.push_back(&g.keep[i]);
  KILN_ASSIGN_OR_RETURN(g.graph, make_operation_graph(handle, op_list));
  return g;
}

// Whether an engine config's numerics are acceptable for the node.
bool acceptable(const EngineConfigInfo& info, const ConvNode& n) {
  if (info.has_note(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS)) return false;
  if (info.has_note(CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)) return false;
  if (n.dtype == DataType::kF32 && !n.allow_tf32 && info.has_note(CUDNN_NUMERICAL_NOTE_TENSOR_CORE)) return false;
  return true;
}

Result<std::vector<PathGraph>> build_graphs(cudnnHandle_t handle, const ConvNode& n, const ConvShapes& s,
                                            std::string& last_error) {
  std::vector<PathGraph> graphs;
  for (ConvPath path : conv_paths(n)) {
    auto g = build_graph(handle, n, s, path);
    if (!g.ok()) {
      last_error = g.status().message();
      continue;
    }
    graphs.push_back({path, std::move(*g)});
  }
  return graphs;
}

// A prepared convolution: the graph, its plan, and what the epilogue kernel still has to do.
class PreparedConv : public PreparedNode {
 public:
  size_t workspace_bytes() const override { return static_cast<size_t>(chosen_.plan.workspace_bytes); }

  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    if (empty_) return {};
    auto input = [&](size_t i) -> void* { return i < inputs.size() ? inputs[i] : nullptr; };
    void* x = input(0);
    void* y = outputs.empty() ? nullptr : outputs[0];
    void* w = constants_->w.get();
    void* b = node_.has_bias ? constants_->b.get() : nullptr;
    void* z = node_.has_z ? (node_.z_constant ? constants_->z.get() : input(3)) : nullptr;
    if (!x || !y || !w || (node_.has_bias && !b) || (node_.has_z && !z))
      return Status::internal(fmt::format("{}: a data pointer is null", node_.name));
    std::vector<void*> ptrs;
    for (int64_t uid : graph_->uids)
      ptrs.push_back(uid == kUidX ? x : uid == kUidW ? w : uid == kUidY ? y : uid == kUidB ? b : z);
    if (workspace_bytes() > 0 && (!ctx.workspace || ctx.workspace_bytes < workspace_bytes()))
      return Status::internal(fmt::format("{}: the context's workspace ({} bytes) is smaller than the {} bytes "
                                          "this convolution needs",
                                          node_.name, ctx.workspace_bytes, workspace_bytes()));
    Status s = execute_plan(ctx.cudnn, chosen_.plan.plan, graph_->uids, ptrs, ctx.workspace);
    if (!s.ok()) return s.with_context(node_.name);
    if (epilogue_) {
      EpilogueArgs args = *epilogue_;
      args.y = y;
      args.bias = graph_has_bias(chosen_.tactic.path, node_) ? nullptr : static_cast<const float*>(b);
      args.z = graph_has_z(chosen_.tactic.path, node_) ? nullptr : z;
      Status e = cuda_status(launch_epilogue(args, ctx.stream), "launch_epilogue");
      if (!e.ok()) return e.with_context(node_.name);
    }
    return {};
  }

  static std::unique_ptr<PreparedConv> make_empty() {
    auto p = std::unique_ptr<PreparedConv>(new PreparedConv());
    p->empty_ = true;
    return p;
  }

  static std::unique_ptr<PreparedConv> make(const ConvNode& node, std::shared_ptr<const ConvConstants> constants,
                                            const ConvShapes& shapes, PlannedGraph planned) {
    auto p = std::unique_ptr<PreparedConv>(new PreparedConv());
    p->node_ = node;
    p->constants_ = std::move(constants);
    p->graph_ = std::move(planned.graph);
    p->chosen_ = std::move(planned.chosen);
    const ConvPath path = p->chosen_.tactic.path;
    const bool rest = (node.has_bias && !graph_has_bias(path, node)) || (node.has_z && !graph_has_z(path, node)) ||
                      (!node.act.none() && !graph_has_act(path, node));
    if (rest) {
      EpilogueArgs a;
      a.count = shapes.y_count;
      a.channels = shapes.channels;
      a.inner = node.geo.nhwc ? 1 : shapes.y_inner;
      a.dtype = node.dtype == DataType::kF16 ? EpilogueDtype::kF16 : EpilogueDtype::kF32;
      a.act = node.act.kind;
      a.p0 = node.act.p0;
      a.p1 = node.act.p1;
      p->epilogue_ = a;
    }
    return p;
  }

 private:
  PreparedConv() = default;

  bool empty_ = false;
  ConvNode node_;
  std::shared_ptr<const ConvConstants> constants_;
  std::shared_ptr<const BuiltGraph> graph_;
  ChosenConfig chosen_;  // declared after graph_: destroyed first
  std::optional<EpilogueArgs> epilogue_;
};

class CudnnConvKernel : public CudnnTacticKernel {
 public:
  CudnnConvKernel(ConvNode node, std::shared_ptr<const ConvConstants> constants, std::string tactic_id,
                  size_t knob_variants)
      : CudnnTacticKernel(std::move(tactic_id), knob_variants),
        node_(std::move(node)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    auto r = prepare_conv(ctx, input_dims, output_dims);
    if (!r.ok()) return r.status().with_context(node_.name);
    return std::unique_ptr<PreparedNode>(std::move(*r));
  }

  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    auto shapes = node_shapes(input_dims, output_dims);
    if (!shapes.ok()) return shapes.status().with_context(node_.name);
    if (shapes->y_count == 0) return std::vector<std::string>{};
    std::string last_error;
    auto graphs = build_graphs(ctx.cudnn, node_, *shapes, last_error);
    if (!graphs.ok()) return graphs.status().with_context(node_.name);
    return candidate_tactic_ids(ctx.cudnn, std::move(*graphs), filter(), ctx.workspace_limit,
                                max_cudnn_candidates(node_.geo.group, node_.geo.w_dims),
                                knob_variants(node_.geo.group, node_.geo.w_dims),
                                plan_cache_slot(ctx, node_.name, input_dims));
  }

 private:
  ConfigFilter filter() const {
    return [this](const EngineConfigInfo& info) { return acceptable(info, node_); };
  }

  Result<ConvShapes> node_shapes(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    if (input_dims.empty() || output_dims.empty())
      return Status::internal("prepare needs the input and output shapes");
    KILN_ASSIGN_OR_RETURN(ConvShapes s, conv_shapes(node_.geo, input_dims[0], output_dims[0]));
    if (node_.has_z && (input_dims.size() < 4 || input_dims[3] != output_dims[0]))
      return Status::unsupported(fmt::format("Z {} must have Y's shape {} (no broadcasting)",
                                             input_dims.size() > 3 ? dims_to_string(input_dims[3]) : "?",
                                             dims_to_string(output_dims[0])));
    return s;
  }

  Result<std::unique_ptr<PreparedConv>> prepare_conv(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const {
    KILN_ASSIGN_OR_RETURN(ConvShapes shapes, node_shapes(input_dims, output_dims));
    if (shapes.y_count == 0) return PreparedConv::make_empty();
    std::string last_error;
    KILN_ASSIGN_OR_RETURN(std::vector<PathGraph> graphs, build_graphs(ctx.cudnn, node_, shapes, last_error));
    auto chosen = choose_plan(ctx.cudnn, graphs, tactic_, filter(), ctx.workspace_limit, last_error,
                              plan_cache_slot(ctx, node_.name, input_dims));
    if (!chosen.ok())
      return Status::unsupported(fmt::format("no cuDNN engine config runs this convolution (X {}, W {}, {} {}): {}",
                                             dims_to_string(input_dims[0]), dims_to_string(node_.geo.w_dims),
                                             dtype_name(node_.dtype), node_.geo.nhwc ? "NHWC" : "NCHW",
                                             chosen.status().message()));
    return PreparedConv::make(node_, constants_, shapes, std::move(*chosen));
  }

  ConvNode node_;
  std::shared_ptr<const ConvConstants> constants_;
};

}  // namespace

KernelResult make_conv_kernel(const Node& node, const KernelOptions& options) {
  const bool fused = node.domain == "kiln" && node.op_type == "FusedConv";
  if (!fused && !(node.domain.empty() && node.op_type == "Conv")) return std::unique_ptr<CudaKernel>{};
  const Value* x = input_value(node, 0);
  const Value* w = input_value(node, 1);
  const Value* b = input_value(node, 2);
  const Value* z = fused ? input_value(node, 3) : nullptr;
  if (!x || !w || !node.has_output(0)) return std::unique_ptr<CudaKernel>{};
  if (!w->is_constant()) return std::unique_ptr<CudaKernel>{};  // weights are uploaded (and reordered) at creation

  ConvNode n;
  n.name = node.describe();
  n.dtype = x->type.dtype;
  if (n.dtype != DataType::kF32 && n.dtype != DataType::kF16) return std::unique_ptr<CudaKernel>{};
  if (w->type.dtype != n.dtype || node.outputs[0]->type.dtype != n.dtype) return std::unique_ptr<CudaKernel>{};
  if ((b && b->type.dtype != n.dtype) || (z && z->type.dtype != n.dtype)) return std::unique_ptr<CudaKernel>{};
  KILN_ASSIGN_OR_RETURN(n.io, cudnn_data_type(n.dtype));
  n.allow_tf32 = options.allow_tf32;

  const Tensor& wt = *w->constant;
  if (wt.rank() < 3 || wt.rank() > 5) return std::unique_ptr<CudaKernel>{};
  bool nhwc = false;
  if (fused) {
    KILN_ASSIGN_OR_RETURN(nhwc, layout::is_nhwc(node));
    if (nhwc && wt.rank() != 4) return std::unique_ptr<CudaKernel>{};
  }
  KILN_ASSIGN_OR_RETURN(n.geo, read_conv_geometry(node, wt, nhwc));

  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act) return std::unique_ptr<CudaKernel>{};
  n.act = *act;
  n.act_pointwise = cudnn_activation(n.act);

  auto constants = std::make_shared<ConvConstants>();
  {
    Tensor wk = n.geo.nhwc ? to_krsc(wt) : wt;
    KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(wk.raw(), wk.byte_size()));
  }
  if (b) {
    if (!b->is_constant()) return std::unique_ptr<CudaKernel>{};  // uploaded as f32 at creation
    n.has_bias = true;
    const Tensor& bt = *b->constant;
    if (bt.size() != n.geo.w_dims[0])
      return Status::invalid_model(fmt::format("bias B is {}, expected [{}]", bt.type_string(), n.geo.w_dims[0]));
    std::vector<float> bias(static_cast<size_t>(bt.size()));
    for (int64_t i = 0; i < bt.size(); ++i) bias[static_cast<size_t>(i)] = static_cast<float>(bt.element_as_double(i));
    KILN_ASSIGN_OR_RETURN(constants->b, DeviceBuffer::upload(bias.data(), bias.size() * sizeof(float)));
  }
  if (z) {
    // Z must have Y's shape (no broadcasting); where the static shapes already say otherwise, no kernel.
    const Shape& ys = node.outputs[0]->type.shape;
    const Shape zs = z->is_constant() ? Shape::from_dims(z->constant->dims()) : z->type.shape;
    if (zs.has_rank() && ys.has_rank()) {
      if (zs.rank() != ys.rank()) return std::unique_ptr<CudaKernel>{};
      for (size_t i = 0; i < zs.rank(); ++i)
        if (zs[i].known() && ys[i].known() && zs[i].value != ys[i].value) return std::unique_ptr<CudaKernel>{};
    }
    n.has_z = true;
    n.z_constant = z->is_constant();
    if (n.z_constant) {
      const Tensor& zt = *z->constant;
      KILN_ASSIGN_OR_RETURN(constants->z, DeviceBuffer::upload(zt.raw(), zt.byte_size()));
    }
  }

  std::string tactic_id = options.tactic.empty() ? node.attr_string("tactic", "") : options.tactic;
  std::unique_ptr<CudaKernel> kernel(
      new CudnnConvKernel(std::move(n), std::move(constants), tactic_id, options.knob_variants));
  // A 1x1 channels-last convolution is also a plain product: let cuBLASLt's algorithms compete.
  KILN_ASSIGN_OR_RETURN(kernel, with_alternative(std::move(kernel), make_conv1x1_gemm_kernel(node, options),
                                                 "cublaslt:", tactic_id));
  // A 16-channel f16 convolution (the space-to-depth stem) also has kiln's own implicit GEMM.
  return with_alternative(std::move(kernel), make_few_channel_conv_kernel(node, options), kFewChannelTactic,
                          tactic_id);
}

}  // namespace kiln::cuda
