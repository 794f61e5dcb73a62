#include "backends/cuda/cudnn_conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/cudnn_graph.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/epilogue.h"
#include "backends/cuda/fused_activation.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "ir/ops/conv_geometry.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

// Unique ids of the graph's tensors (virtual intermediates from kUidVirtual on).
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3, kUidB = 4, kUidZ = 5, kUidVirtual = 100;
// Candidate tactics offered per node and shape. Each costs a plan (often a runtime compilation) and a
// timing at build: 8 made a ResNet-50 FP16 build take 75 s on the H100 (the bar is 60 s).
constexpr size_t kMaxCandidates = 4;
// The alignment the tensors are described with (and enqueue checks).
constexpr uintptr_t kAlignment = 16;

// Row-major strides of `dims`.
std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// Strides of logical [N, C, spatial...] dims stored channels-last ([N, spatial..., C]).
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  const int64_t c = dims[1];
  int64_t acc = c;
  for (size_t i = dims.size(); i-- > 2;) {
    s[i] = acc;
    acc *= dims[i];
  }
  s[1] = 1;
  s[0] = acc;
  return s;
}

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
  bool nhwc = false;
  size_t spatial = 2;  // spatial axes of the node (1, 2 or 3)
  int64_t group = 1;
  Dims w_dims;         // [K, C/group, k...]
  WindowAttrs window;
  bool has_bias = false;
  bool has_z = false, z_constant = false;
  FusedActivation act;
  std::optional<PointwiseSpec> act_pointwise;  // set when cuDNN can apply the activation
  bool allow_tf32 = false;
};

// The shapes of one prepare, in cuDNN's logical order [N, C, spatial...] (1-D convs get a unit H axis).
struct ConvShapes {
  std::vector<int64_t> x, w, y, b;
  std::vector<int64_t> x_strides, w_strides, y_strides, b_strides;
  ConvSpec conv;
  int64_t y_count = 0;
  int64_t y_inner = 1;  // elements per (n, k) run in NCHW: the output's spatial size
  int64_t channels = 0;
};

// One operation graph and the descriptors it refers to (declared so the graph is destroyed first).
struct BuiltGraph {
  DescList keep;
  BackendDesc graph;
  std::vector<int64_t> uids;  // the non-virtual tensors to bind, in order
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

// The graphs worth trying at some shapes, most fused first (those cuDNN could not build are left out).
struct PathGraph {
  ConvPath path;
  BuiltGraph graph;
};

// An engine config of one of those graphs, with its rank: tier 0 the heuristics' mode A, tier 1 mode
// FALLBACK, tier 2 the generic engines with the STRICT_NAN_PROP note (seen on an H100 with cuDNN 9.14: engine
// 0, 40-500x slower than the others), used only when nothing else runs.
struct RankedConfig {
  size_t graph = 0;  // index into the PathGraph list
  BackendDesc config;
  EngineConfigInfo info;
  int tier = 0;
};

// One engine config that runs, with its plan.
struct ChosenConfig {
  DescList keep;  // engine / knob choices of a re-created config
  BackendDesc config;
  ExecutionPlan plan;
  CudnnTactic tactic;
};

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

// Every acceptable engine config the heuristics (modes A and FALLBACK) offer for the graphs, best first:
// by tier, then graph (most fused first), then the heuristics' order. Duplicates are dropped.
std::vector<RankedConfig> ranked_configs(const ConvNode& n, const std::vector<PathGraph>& graphs,
                                         std::string& last_error) {
  std::vector<RankedConfig> ranked;
  std::set<std::string> seen;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    for (size_t gi = 0; gi < graphs.size(); ++gi) {
      auto configs = heuristic_engine_configs(graphs[gi].graph.graph, mode);
      if (!configs.ok()) {
        last_error = configs.status().message();
        continue;
      }
      for (BackendDesc& cfg : *configs) {
        auto info = engine_config_info(cfg);
        if (!info.ok()) {
          last_error = info.status().message();
          continue;
        }
        if (!acceptable(*info, n)) {
          last_error = fmt::format("engine {} has numerical notes this precision excludes", info->engine);
          continue;
        }
        CudnnTactic t{graphs[gi].path, info->engine, info->knobs};
        if (!seen.insert(t.to_string()).second) continue;
        RankedConfig r;
        r.graph = gi;
        r.tier = info->has_note(CUDNN_NUMERICAL_NOTE_STRICT_NAN_PROP) ? 2 : mode == CUDNN_HEUR_MODE_A ? 0 : 1;
        r.config = std::move(cfg);
        r.info = std::move(*info);
        ranked.push_back(std::move(r));
      }
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const RankedConfig& a, const RankedConfig& b) { return a.tier < b.tier; });
  return ranked;
}

// The execution plan of a ranked config, when it finalizes within the workspace limit.
Result<ExecutionPlan> plan_for(cudnnHandle_t handle, const BackendDesc& config, int64_t engine,
                               size_t workspace_limit) {
  KILN_ASSIGN_OR_RETURN(ExecutionPlan plan, make_execution_plan(handle, config));
  if (static_cast<uint64_t>(plan.workspace_bytes) > workspace_limit)
    return Status::unsupported(fmt::format("engine {} needs {} bytes of workspace, over the limit of {}", engine,
                                           plan.workspace_bytes, workspace_limit));
  return plan;
}

// The order in which candidate_tactics offers ranked configs: first the best config of every distinct
// (graph, engine) of mode A, then their second best, then the best of every FALLBACK engine, then the rest
// (so a few knob variants of one engine do not crowd out other engines and graphs).
std::vector<size_t> candidate_order(const std::vector<RankedConfig>& ranked) {
  struct Group {
    int tier;
    std::vector<size_t> members;
  };
  std::vector<Group> groups;
  std::vector<std::pair<size_t, int64_t>> keys;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (ranked[i].tier > 1) continue;
    std::pair<size_t, int64_t> key{ranked[i].graph, ranked[i].info.engine};
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) {
      keys.push_back(key);
      groups.push_back({ranked[i].tier, {i}});
    } else {
      groups[static_cast<size_t>(it - keys.begin())].members.push_back(i);
    }
  }
  std::vector<size_t> order;
  auto take = [&](int tier, size_t round) {
    for (const Group& g : groups)
      if (g.tier == tier && round < g.members.size()) order.push_back(g.members[round]);
  };
  take(0, 0);
  take(0, 1);
  take(1, 0);
  for (size_t round = 2;; ++round) {
    const size_t before = order.size();
    take(0, round);
    if (order.size() == before) break;
  }
  for (size_t round = 1;; ++round) {
    const size_t before = order.size();
    take(1, round);
    if (order.size() == before) break;
  }
  if (order.empty())  // only generic engines: offer those
    for (size_t i = 0; i < ranked.size(); ++i) order.push_back(i);
  return order;
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
    for (int64_t uid : graph_.uids) {
      void* p = uid == kUidX ? x : uid == kUidW ? w : uid == kUidY ? y : uid == kUidB ? b : z;
      if (reinterpret_cast<uintptr_t>(p) % kAlignment != 0)
        return Status::internal(fmt::format("{}: cuDNN tensor {} at {} is not {}-byte aligned", node_.name, uid, p,
                                            kAlignment));
      ptrs.push_back(p);
    }
    if (workspace_bytes() > 0 && (!ctx.workspace || ctx.workspace_bytes < workspace_bytes()))
      return Status::internal(fmt::format("{}: the context's workspace ({} bytes) is smaller than the {} bytes "
                                          "this convolution needs",
                                          node_.name, ctx.workspace_bytes, workspace_bytes()));
    Status s = execute_plan(ctx.cudnn, chosen_.plan.plan, graph_.uids, ptrs, ctx.workspace);
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
                                            const ConvShapes& shapes, BuiltGraph graph, ChosenConfig chosen) {
    auto p = std::unique_ptr<PreparedConv>(new PreparedConv());
    p->node_ = node;
    p->constants_ = std::move(constants);
    p->graph_ = std::move(graph);
    p->chosen_ = std::move(chosen);
    const ConvPath path = p->chosen_.tactic.path;
    const bool rest = (node.has_bias && !graph_has_bias(path, node)) || (node.has_z && !graph_has_z(path, node)) ||
                      (!node.act.none() && !graph_has_act(path, node));
    if (rest) {
      EpilogueArgs a;
      a.count = shapes.y_count;
      a.channels = shapes.channels;
      a.inner = node.nhwc ? 1 : shapes.y_inner;
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
  BuiltGraph graph_;
  ChosenConfig chosen_;  // declared after graph_: destroyed first
  std::optional<EpilogueArgs> epilogue_;
};

class CudnnConvKernel : public CudaKernel {
 public:
  CudnnConvKernel(ConvNode node, std::shared_ptr<const ConvConstants> constants, std::string tactic_id,
                  std::optional<CudnnTactic> tactic)
      : node_(std::move(node)),
        constants_(std::move(constants)),
        tactic_id_(std::move(tactic_id)),
        tactic_(std::move(tactic)) {}

  std::string tactic() const override { return tactic_ ? tactic_id_ : kCudnnHeuristicTactic; }

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    auto r = prepare_conv(ctx, input_dims, output_dims);
    if (!r.ok()) return r.status().with_context(node_.name);
    return std::unique_ptr<PreparedNode>(std::move(*r));
  }

  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    auto shapes = conv_shapes(input_dims, output_dims);
    if (!shapes.ok()) return shapes.status().with_context(node_.name);
    std::vector<std::string> ids;
    if (shapes->y_count == 0) return ids;
    std::string last_error;
    auto graphs = build_graphs(ctx.cudnn, node_, *shapes, last_error);
    if (!graphs.ok()) return graphs.status().with_context(node_.name);
    const std::vector<RankedConfig> ranked = ranked_configs(node_, *graphs, last_error);
    for (size_t i : candidate_order(ranked)) {
      if (ids.size() >= kMaxCandidates) break;
      const RankedConfig& r = ranked[i];
      if (!plan_for(ctx.cudnn, r.config, r.info.engine, ctx.workspace_limit).ok()) continue;
      ids.push_back(CudnnTactic{(*graphs)[r.graph].path, r.info.engine, r.info.knobs}.to_string());
    }
    return ids;
  }

 private:
  Result<ConvShapes> conv_shapes(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    const ConvNode& n = node_;
    if (input_dims.empty() || output_dims.empty())
      return Status::internal("prepare needs the input and output shapes");
    const Dims& xd = input_dims[0];
    const size_t rank = n.spatial + 2;
    if (xd.size() != rank)
      return Status::shape_mismatch(fmt::format("X is {}, expected rank {}", dims_to_string(xd), rank));
    // The node's X in logical [N, C, spatial...] order.
    Dims x_logical = xd;
    if (n.nhwc) x_logical = {xd[0], xd[3], xd[1], xd[2]};
    const int64_t c = x_logical[1];
    if (c != n.w_dims[1] * n.group)
      return Status::shape_mismatch(fmt::format("X has {} channels, but W {} with group {} expects {}", c,
                                                dims_to_string(n.w_dims), n.group, n.w_dims[1] * n.group));
    Dims in_spatial(x_logical.begin() + 2, x_logical.end());
    auto geo = window_geometry(n.window, in_spatial);
    if (!geo.ok()) return Status::invalid_argument(geo.status().message());
    const int64_t k = n.w_dims[0];
    Dims y_logical = {x_logical[0], k};
    y_logical.insert(y_logical.end(), geo->out.begin(), geo->out.end());
    Dims y_node = n.nhwc ? Dims{y_logical[0], y_logical[2], y_logical[3], y_logical[1]} : y_logical;
    if (output_dims[0] != y_node)
      return Status::shape_mismatch(fmt::format("Y is {}, but the convolution of X {} gives {}",
                                                dims_to_string(output_dims[0]), dims_to_string(xd),
                                                dims_to_string(y_node)));
    if (n.has_z && (input_dims.size() < 4 || input_dims[3] != y_node))
      return Status::unsupported(fmt::format("Z {} must have Y's shape {} (no broadcasting)",
                                             input_dims.size() > 3 ? dims_to_string(input_dims[3]) : "?",
                                             dims_to_string(y_node)));

    ConvShapes s;
    s.channels = k;
    s.y_count = element_count(y_logical);
    s.y_inner = element_count(Dims(y_logical.begin() + 2, y_logical.end()));
    s.x = x_logical;
    s.y = y_logical;
    s.w = n.w_dims;
    s.conv.compute = CUDNN_DATA_FLOAT;
    const size_t sp = n.spatial;
    for (size_t i = 0; i < sp; ++i) {
      s.conv.pre_pads.push_back(geo->pads[i]);
      s.conv.post_pads.push_back(geo->pads[i + sp]);
      s.conv.strides.push_back(n.window.strides[i]);
      s.conv.dilations.push_back(n.window.dilations[i]);
    }
    if (sp == 1) {  // 1-D as 2-D with a unit H axis
      s.x.insert(s.x.begin() + 2, 1);
      s.y.insert(s.y.begin() + 2, 1);
      s.w.insert(s.w.begin() + 2, 1);
      s.conv.pre_pads.insert(s.conv.pre_pads.begin(), 0);
      s.conv.post_pads.insert(s.conv.post_pads.begin(), 0);
      s.conv.strides.insert(s.conv.strides.begin(), 1);
      s.conv.dilations.insert(s.conv.dilations.begin(), 1);
    }
    s.b.assign(s.y.size(), 1);
    s.b[1] = k;
    auto strides = n.nhwc ? channels_last_strides : packed_strides;
    s.x_strides = strides(s.x);
    s.y_strides = strides(s.y);
    s.w_strides = strides(s.w);  // KRSC memory for NHWC (uploaded so), KCRS otherwise
    s.b_strides = strides(s.b);
    return s;
  }

  Result<std::unique_ptr<PreparedConv>> prepare_conv(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const {
    KILN_ASSIGN_OR_RETURN(ConvShapes shapes, conv_shapes(input_dims, output_dims));
    if (shapes.y_count == 0) return PreparedConv::make_empty();
    std::string last_error = "no engine config offered";
    KILN_ASSIGN_OR_RETURN(std::vector<PathGraph> graphs, build_graphs(ctx.cudnn, node_, shapes, last_error));

    // The configured tactic first, when its graph is one of this node's and it still runs at these shapes.
    if (tactic_) {
      for (PathGraph& pg : graphs) {
        if (pg.path != tactic_->path) continue;
        DescList keep;
        auto config = make_engine_config(pg.graph.graph, tactic_->engine, tactic_->knobs, keep);
        if (!config.ok()) {
          last_error = config.status().message();
          break;
        }
        auto info = engine_config_info(*config);
        if (!info.ok() || !acceptable(*info, node_)) {
          last_error = info.ok() ? "the tactic's engine has numerical notes this precision excludes"
                                 : info.status().message();
          break;
        }
        auto plan = plan_for(ctx.cudnn, *config, tactic_->engine, ctx.workspace_limit);
        if (!plan.ok()) {
          last_error = plan.status().message();
          break;
        }
        ChosenConfig chosen{std::move(keep), std::move(*config), std::move(*plan), *tactic_};
        return PreparedConv::make(node_, constants_, shapes, std::move(pg.graph), std::move(chosen));
      }
    }

    // Else the first ranked config that runs.
    std::vector<RankedConfig> ranked = ranked_configs(node_, graphs, last_error);
    for (RankedConfig& r : ranked) {
      auto plan = plan_for(ctx.cudnn, r.config, r.info.engine, ctx.workspace_limit);
      if (!plan.ok()) {
        last_error = plan.status().message();
        continue;
      }
      PathGraph& pg = graphs[r.graph];
      ChosenConfig chosen{{}, std::move(r.config), std::move(*plan), CudnnTactic{pg.path, r.info.engine, r.info.knobs}};
      return PreparedConv::make(node_, constants_, shapes, std::move(pg.graph), std::move(chosen));
    }
    return Status::unsupported(fmt::format("no cuDNN engine config runs this convolution (X {}, W {}, {} {}): {}",
                                           dims_to_string(input_dims[0]), dims_to_string(node_.w_dims),
                                           dtype_name(node_.dtype), node_.nhwc ? "NHWC" : "NCHW", last_error));
  }

  ConvNode node_;
  std::shared_ptr<const ConvConstants> constants_;
  std::string tactic_id_;
  std::optional<CudnnTactic> tactic_;
};

// W [K, C/g, k...] (KCRS) as KRSC: the filter with channels-last strides.
Tensor to_krsc(const Tensor& w) {
  const Dims& d = w.dims();
  const int64_t k = d[0], c = d[1];
  const int64_t rs = element_count(Dims(d.begin() + 2, d.end()));
  Dims out_dims = {k};
  out_dims.insert(out_dims.end(), d.begin() + 2, d.end());
  out_dims.push_back(c);
  Tensor out(w.dtype(), out_dims);
  const size_t es = dtype_size(w.dtype());
  const auto* src = static_cast<const unsigned char*>(w.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t ki = 0; ki < k; ++ki)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t p = 0; p < rs; ++p)
        std::memcpy(dst + ((ki * rs + p) * c + ci) * es, src + ((ki * c + ci) * rs + p) * es, es);
  return out;
}

const Value* input_value(const Node& node, size_t i) { return node.has_input(i) ? node.inputs[i] : nullptr; }

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
  n.spatial = static_cast<size_t>(wt.rank() - 2);
  n.w_dims = wt.dims();
  if (fused) {
    KILN_ASSIGN_OR_RETURN(n.nhwc, layout::is_nhwc(node));
    if (n.nhwc && wt.rank() != 4) return std::unique_ptr<CudaKernel>{};
  }
  n.group = node.attr_int("group", 1);
  if (n.group < 1 || n.w_dims[0] % n.group != 0)
    return Status::invalid_model(fmt::format("W {} does not split into group {}", wt.type_string(), n.group));
  for (int64_t d : n.w_dims)
    if (d < 1) return Status::invalid_model(fmt::format("W {} has an empty axis", wt.type_string()));
  auto window = read_window_attrs(node, n.spatial, Dims(n.w_dims.begin() + 2, n.w_dims.end()), false);
  if (!window.ok()) return Status::invalid_model(window.status().message());
  n.window = std::move(*window);

  KILN_ASSIGN_OR_RETURN(std::optional<FusedActivation> act, read_fused_activation(node));
  if (!act) return std::unique_ptr<CudaKernel>{};
  n.act = *act;
  n.act_pointwise = cudnn_activation(n.act);

  auto constants = std::make_shared<ConvConstants>();
  {
    Tensor wk = n.nhwc ? to_krsc(wt) : wt;
    KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(wk.raw(), wk.byte_size()));
  }
  if (b) {
    if (!b->is_constant()) return std::unique_ptr<CudaKernel>{};  // uploaded as f32 at creation
    n.has_bias = true;
    const Tensor& bt = *b->constant;
    if (bt.size() != n.w_dims[0])
      return Status::invalid_model(fmt::format("bias B is {}, expected [{}]", bt.type_string(), n.w_dims[0]));
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
  std::optional<CudnnTactic> tactic = CudnnTactic::parse(tactic_id);
  return std::unique_ptr<CudaKernel>(
      new CudnnConvKernel(std::move(n), std::move(constants), std::move(tactic_id), std::move(tactic)));
}

}  // namespace kiln::cuda
