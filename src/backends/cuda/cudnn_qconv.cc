// kiln.QConv on cuDNN's graph API: int8 x int8 -> int32 convolution with the requantization fused into the
// same operation graph (see cudnn_qconv.h for what runs and what gets no kernel).
#include "backends/cuda/cudnn_qconv.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/cudnn_conv_shapes.h"
#include "backends/cuda/cudnn_engine_choice.h"
#include "backends/cuda/cudnn_graph.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/quant_util.h"
#include "backends/cuda/qconv_kernels.h"
#include "backends/cuda/tactic_choice_kernel.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

// Unique ids of the graph's tensors (virtual intermediates from kUidVirtual on).
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3, kUidMult = 4, kUidBias = 5, kUidZ = 6, kUidZMult = 7,
                  kUidVirtual = 100;
// Offsets of the kernel's own scratch areas in the context's workspace.
constexpr size_t kScratchAlignment = 256;
// cuDNN's int8 convolutions want the input channels a multiple of this (PyTorch pads them likewise).
constexpr int64_t kChannelMultiple = 4;

size_t align_up(size_t n) { return (n + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment; }

// What the kernel knows at creation.
struct QConvNode {
  std::string name;     // node.describe(), for errors
  ConvGeometry geo;     // geo.w_dims has the padded channel count
  int64_t channels = 0;  // X's channels in memory (before padding)
  bool has_bias = false;
  bool has_z = false;
  float z_mult = 0.0f;   // z_scale / y_scale
  float lo = -128.0f, hi = 127.0f;  // the activation's range in quantized units
};

struct QConvConstants {
  DeviceBuffer w;       // KRSC int8, channels padded
  DeviceBuffer mult;    // f32 [K]: x_scale * w_scale[k] / y_scale
  DeviceBuffer bias;    // f32 [K]: B[k] * mult[k]
  DeviceBuffer z_mult;  // f32 [1]
};

// The paths: "fused" runs conv, scale, bias, residual, clamp and the int8 store in one cuDNN graph; "conv"
// has cuDNN write the accumulator as f32 to scratch and requantize_i8 do the rest.
bool fused(ConvPath p) { return p == ConvPath::kFused; }

Result<BuiltGraph> build_qgraph(cudnnHandle_t handle, const QConvNode& n, const ConvShapes& s, ConvPath path) {
  BuiltGraph g;
  auto tensor = [&](int64_t uid, cudnnDataType_t dt, const std::vector<int64_t>& dims,
                    const std::vector<int64_t>& strides, bool is_virtual) -> Result<size_t> {
    KILN_ASSIGN_OR_RETURN(BackendDesc t, make_tensor({uid, dt, dims, strides, is_virtual}));
    g.keep.push_back(std::move(t));
    return g.keep.size() - 1;
  };
  std::vector<size_t> ops;
  auto add_op = [&](Result<BackendDesc> op) -> Status {
    if (!op.ok()) return op.status();
    g.keep.push_back(std::move(*op));
    ops.push_back(g.keep.size() - 1);
    return {};
  };
  int64_t next_virtual = kUidVirtual;
  auto virtual_f32 = [&]() { return tensor(next_virtual++, CUDNN_DATA_FLOAT, s.y, s.y_strides, true); };

  KILN_ASSIGN_OR_RETURN(size_t x, tensor(kUidX, CUDNN_DATA_INT8, s.x, s.x_strides, false));
  KILN_ASSIGN_OR_RETURN(size_t w, tensor(kUidW, CUDNN_DATA_INT8, s.w, s.w_strides, false));
  g.uids = {kUidX, kUidW, kUidY};
  if (!fused(path)) {
    KILN_ASSIGN_OR_RETURN(size_t acc, tensor(kUidY, CUDNN_DATA_FLOAT, s.y, s.y_strides, false));
    KILN_RETURN_IF_ERROR(add_op(make_conv_fprop(s.conv, g.keep[x], g.keep[w], g.keep[acc], g.keep)));
  } else {
    KILN_ASSIGN_OR_RETURN(size_t acc, virtual_f32());
    KILN_RETURN_IF_ERROR(add_op(make_conv_fprop(s.conv, g.keep[x], g.keep[w], g.keep[acc], g.keep)));
    auto pointwise = [&](const PointwiseSpec& spec, size_t in, std::optional<size_t> operand,
                         std::optional<size_t> out) -> Result<size_t> {
      size_t o = 0;
      if (out) {
        o = *out;
      } else {
        KILN_ASSIGN_OR_RETURN(o, virtual_f32());
      }
      const BackendDesc* b = operand ? &g.keep[*operand] : nullptr;
      KILN_RETURN_IF_ERROR(add_op(make_pointwise(spec, g.keep[in], b, g.keep[o], g.keep)));
      return o;
    };
    PointwiseSpec mul, add, clamp;
    mul.mode = CUDNN_POINTWISE_MUL;
    add.mode = CUDNN_POINTWISE_ADD;
    // RELU_FWD with both clips is a clamp: below lower_clip it gives lower_clip (slope 0).
    clamp.mode = CUDNN_POINTWISE_RELU_FWD;
    clamp.relu_lower_clip = n.lo;
    clamp.relu_upper_clip = n.hi;
    KILN_ASSIGN_OR_RETURN(size_t mult, tensor(kUidMult, CUDNN_DATA_FLOAT, s.b, s.b_strides, false));
    g.uids.push_back(kUidMult);
    KILN_ASSIGN_OR_RETURN(size_t cur, pointwise(mul, acc, mult, std::nullopt));
    if (n.has_bias) {
      KILN_ASSIGN_OR_RETURN(size_t bias, tensor(kUidBias, CUDNN_DATA_FLOAT, s.b, s.b_strides, false));
      g.uids.push_back(kUidBias);
      KILN_ASSIGN_OR_RETURN(cur, pointwise(add, cur, bias, std::nullopt));
    }
    if (n.has_z) {
      KILN_ASSIGN_OR_RETURN(size_t z, tensor(kUidZ, CUDNN_DATA_INT8, s.y, s.y_strides, false));
      const std::vector<int64_t> one(s.y.size(), 1);
      KILN_ASSIGN_OR_RETURN(size_t zm, tensor(kUidZMult, CUDNN_DATA_FLOAT, one, one, false));
      g.uids.push_back(kUidZ);
      g.uids.push_back(kUidZMult);
      KILN_ASSIGN_OR_RETURN(size_t scaled_z, pointwise(mul, z, zm, std::nullopt));
      KILN_ASSIGN_OR_RETURN(cur, pointwise(add, cur, scaled_z, std::nullopt));
    }
    KILN_ASSIGN_OR_RETURN(size_t y, tensor(kUidY, CUDNN_DATA_INT8, s.y, s.y_strides, false));
    KILN_RETURN_IF_ERROR(pointwise(clamp, cur, std::nullopt, y).status());
  }
  std::vector<const BackendDesc*> op_list;
  for (size_t i : ops) op_list.push_back(&g.keep[i]);
  KILN_ASSIGN_OR_RETURN(g.graph, make_operation_graph(handle, op_list));
  return g;
}

// Integer accumulation is exact: every engine's numerics are acceptable except those that down-convert.
bool acceptable(const EngineConfigInfo& info) { return !info.has_note(CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS); }

class PreparedQConv : public PreparedNode {
 public:
  PreparedQConv(const QConvNode& node, std::shared_ptr<const QConvConstants> constants, const ConvShapes& shapes,
                PlannedGraph planned)
      : node_(node),
        constants_(std::move(constants)),
        graph_(std::move(planned.graph)),
        chosen_(std::move(planned.chosen)) {
    count_ = shapes.y_count;
    rows_ = shapes.x[0] * shapes.x[2] * shapes.x[3];
    padded_channels_ = shapes.x[1];
    pad_bytes_ = padded_channels_ != node_.channels ? align_up(static_cast<size_t>(rows_ * padded_channels_)) : 0;
    acc_bytes_ = fused(chosen_.tactic.path) ? 0 : align_up(static_cast<size_t>(count_) * sizeof(float));
  }

  size_t workspace_bytes() const override {
    return pad_bytes_ + acc_bytes_ + static_cast<size_t>(chosen_.plan.workspace_bytes);
  }

  Status enqueue(const LaunchContext& ctx, std::span<void* const> inputs,
                 std::span<void* const> outputs) const override {
    if (count_ == 0) return {};
    auto input = [&](size_t i) -> void* { return i < inputs.size() ? inputs[i] : nullptr; };
    void* x = input(kX);
    void* z = node_.has_z ? input(kZ) : nullptr;
    void* y = outputs.empty() ? nullptr : outputs[0];
    if (!x || !y || (node_.has_z && !z)) return Status::internal(fmt::format("{}: a data pointer is null", node_.name));
    if (workspace_bytes() > 0 && (!ctx.workspace || ctx.workspace_bytes < workspace_bytes()))
      return Status::internal(fmt::format("{}: the context's workspace ({} bytes) is smaller than the {} bytes this "
                                          "convolution needs", node_.name, ctx.workspace_bytes, workspace_bytes()));
    auto* scratch = static_cast<char*>(ctx.workspace);
    if (pad_bytes_) {
      auto* padded = reinterpret_cast<int8_t*>(scratch);
      Status s = cuda_status(launch_pad_channels_i8(static_cast<const int8_t*>(x), padded, rows_, node_.channels,
                                                    padded_channels_, ctx.stream),
                             "launch_pad_channels_i8");
      if (!s.ok()) return s.with_context(node_.name);
      x = padded;
    }
    void* acc = acc_bytes_ ? scratch + pad_bytes_ : nullptr;
    void* cudnn_workspace = chosen_.plan.workspace_bytes > 0 ? scratch + pad_bytes_ + acc_bytes_ : nullptr;
    std::vector<void*> ptrs;
    for (int64_t uid : graph_->uids) {
      void* p = uid == kUidX       ? x
                : uid == kUidW     ? constants_->w.get()
                : uid == kUidY     ? (acc ? acc : y)
                : uid == kUidMult  ? constants_->mult.get()
                : uid == kUidBias  ? constants_->bias.get()
                : uid == kUidZ     ? z
                                   : constants_->z_mult.get();
      ptrs.push_back(p);
    }
    Status s = execute_plan(ctx.cudnn, chosen_.plan.plan, graph_->uids, ptrs, cudnn_workspace);
    if (!s.ok()) return s.with_context(node_.name);
    if (acc) {
      RequantArgs a;
      a.acc = static_cast<const float*>(acc);
      a.mult = static_cast<const float*>(constants_->mult.get());
      a.bias = node_.has_bias ? static_cast<const float*>(constants_->bias.get()) : nullptr;
      a.z = static_cast<const int8_t*>(z);
      a.z_mult = node_.z_mult;
      a.y = static_cast<int8_t*>(y);
      a.count = count_;
      a.channels = node_.geo.w_dims[0];
      a.lo = node_.lo;
      a.hi = node_.hi;
      Status e = cuda_status(launch_requantize_i8(a, ctx.stream), "launch_requantize_i8");
      if (!e.ok()) return e.with_context(node_.name);
    }
    return {};
  }

 private:
  QConvNode node_;
  std::shared_ptr<const QConvConstants> constants_;
  std::shared_ptr<const BuiltGraph> graph_;
  ChosenConfig chosen_;  // declared after graph_: destroyed first
  int64_t count_ = 0, rows_ = 0, padded_channels_ = 0;
  size_t pad_bytes_ = 0, acc_bytes_ = 0;
};

class CudnnQConvKernel : public CudnnTacticKernel {
 public:
  CudnnQConvKernel(QConvNode node, std::shared_ptr<const QConvConstants> constants, std::string tactic_id,
                  size_t knob_variants)
      : CudnnTacticKernel(std::move(tactic_id), knob_variants),
        node_(std::move(node)),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    auto r = prepare_qconv(ctx, input_dims, output_dims);
    if (!r.ok()) return r.status().with_context(node_.name);
    return std::move(*r);
  }

  Result<std::vector<std::string>> candidate_tactics(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                     std::span<const Dims> output_dims) const override {
    auto shapes = node_shapes(input_dims, output_dims);
    if (!shapes.ok()) return shapes.status().with_context(node_.name);
    if (shapes->y_count == 0) return std::vector<std::string>{};
    return candidate_tactic_ids(ctx.cudnn, build_graphs(ctx, *shapes), acceptable, ctx.workspace_limit,
                                max_cudnn_candidates(node_.geo.group, node_.geo.w_dims),
                                knob_variants(node_.geo.group, node_.geo.w_dims),
                                plan_cache_slot(ctx, node_.name, input_dims));
  }

 private:
  // The shapes cuDNN sees: X with its channels padded to the filter's.
  Result<ConvShapes> node_shapes(std::span<const Dims> input_dims, std::span<const Dims> output_dims) const {
    if (input_dims.size() <= kX || output_dims.empty()) return Status::internal("prepare needs X's and Y's shapes");
    Dims x = input_dims[kX];
    if (x.size() != 4 || x[3] != node_.channels)
      return Status::shape_mismatch(fmt::format("X is {}, expected NHWC with {} channels", dims_to_string(x),
                                                node_.channels));
    x[3] = node_.geo.w_dims[1] * node_.geo.group;
    if (node_.has_z && (input_dims.size() <= kZ || input_dims[kZ] != output_dims[0]))
      return Status::unsupported(fmt::format("z {} must have Y's shape {} (no broadcasting)",
                                             input_dims.size() > kZ ? dims_to_string(input_dims[kZ]) : "?",
                                             dims_to_string(output_dims[0])));
    KILN_ASSIGN_OR_RETURN(ConvShapes s, conv_shapes(node_.geo, x, output_dims[0]));
    s.conv.compute = CUDNN_DATA_INT32;
    return s;
  }

  // The graphs of both paths that cuDNN accepts (possibly none).
  std::vector<PathGraph> build_graphs(const LaunchContext& ctx, const ConvShapes& shapes,
                                      std::string* last_error = nullptr) const {
    std::vector<PathGraph> graphs;
    for (ConvPath path : {ConvPath::kFused, ConvPath::kConv}) {
      auto g = build_qgraph(ctx.cudnn, node_, shapes, path);
      if (g.ok()) graphs.push_back({path, std::move(*g)});
      else if (last_error) *last_error = g.status().message();
    }
    return graphs;
  }

  Result<std::unique_ptr<PreparedNode>> prepare_qconv(const LaunchContext& ctx, std::span<const Dims> input_dims,
                                                      std::span<const Dims> output_dims) const {
    KILN_ASSIGN_OR_RETURN(ConvShapes shapes, node_shapes(input_dims, output_dims));
    if (shapes.y_count == 0)
      return std::unique_ptr<PreparedNode>(
          new PreparedQConv(node_, constants_, shapes, PlannedGraph{std::make_shared<BuiltGraph>(), {}}));
    std::string last_error;
    std::vector<PathGraph> graphs = build_graphs(ctx, shapes, &last_error);
    auto chosen = choose_plan(ctx.cudnn, graphs, tactic_, acceptable, ctx.workspace_limit, last_error,
                              plan_cache_slot(ctx, node_.name, input_dims));
    if (!chosen.ok())
      return Status::unsupported(fmt::format("no cuDNN engine config runs this int8 convolution (X {}, W {}): {}",
                                             dims_to_string(input_dims[kX]), dims_to_string(node_.geo.w_dims),
                                             chosen.status().message()));
    return std::unique_ptr<PreparedNode>(new PreparedQConv(node_, constants_, shapes, std::move(*chosen)));
  }

  QConvNode node_;
  std::shared_ptr<const QConvConstants> constants_;
};

}  // namespace

KernelResult make_qconv_kernel(const Node& node, const KernelOptions& options) {
  auto none = [] { return KernelResult(std::unique_ptr<CudaKernel>{}); };
  KILN_ASSIGN_OR_RETURN(std::optional<SymmetricQConv> q, read_symmetric_qconv(node));
  if (!q) return none();
  KILN_ASSIGN_OR_RETURN(bool nhwc, layout::is_nhwc(node));
  if (!nhwc) return none();
  const Tensor* wt = q->w;

  QConvNode n;
  n.name = node.describe();
  KILN_ASSIGN_OR_RETURN(n.geo, read_conv_geometry(node, *wt, true));
  const int64_t k = n.geo.w_dims[0];
  n.channels = n.geo.w_dims[1] * n.geo.group;
  n.lo = q->lo;
  n.hi = q->hi;

  // Pad the input channels (group 1 only) to what cuDNN's int8 engines want; the kernel pads X to match.
  Tensor w = *wt;
  if (n.geo.group == 1 && n.channels % kChannelMultiple != 0) {
    const int64_t padded = (n.channels + kChannelMultiple - 1) / kChannelMultiple * kChannelMultiple;
    Tensor p(DataType::kI8, {k, padded, n.geo.w_dims[2], n.geo.w_dims[3]});
    std::fill_n(p.data<int8_t>(), p.size(), int8_t{0});
    const int64_t rs = n.geo.w_dims[2] * n.geo.w_dims[3];
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t ci = 0; ci < n.channels; ++ci)
        std::copy_n(wt->data<int8_t>() + (ki * n.channels + ci) * rs, rs, p.data<int8_t>() + (ki * padded + ci) * rs);
    w = std::move(p);
    n.geo.w_dims = w.dims();
  }

  auto constants = std::make_shared<QConvConstants>();
  {
    Tensor krsc = to_krsc(w);
    KILN_ASSIGN_OR_RETURN(constants->w, DeviceBuffer::upload(krsc.raw(), krsc.byte_size()));
  }
  n.has_bias = q->has_bias;
  KILN_ASSIGN_OR_RETURN(constants->mult, DeviceBuffer::upload(q->mult.data(), q->mult.size() * sizeof(float)));
  KILN_ASSIGN_OR_RETURN(constants->bias,
                        DeviceBuffer::upload(q->scaled_bias.data(), q->scaled_bias.size() * sizeof(float)));
  n.has_z = q->z != nullptr;
  n.z_mult = q->z_mult;
  KILN_ASSIGN_OR_RETURN(constants->z_mult, DeviceBuffer::upload(&n.z_mult, sizeof(float)));

  std::string tactic_id = options.tactic.empty() ? node.attr_string("tactic", "") : options.tactic;
  std::unique_ptr<CudaKernel> kernel(
      new CudnnQConvKernel(std::move(n), std::move(constants), tactic_id, options.knob_variants));
  // kiln's own kernels compete: for 16 input channels (the space-to-depth stem), for multiples of 64, and the
  // pointwise GEMM (two variants) for 1x1s over multiples of 64; so do cuBLASLt's int8 products for stride-1 1x1s.
  KILN_ASSIGN_OR_RETURN(kernel, with_alternative(std::move(kernel), make_few_channel_qconv_kernel(node, options),
                                                 kFewChannelTactic, tactic_id));
  KILN_ASSIGN_OR_RETURN(kernel, with_alternative(std::move(kernel), make_int8_conv_kernel(node, options),
                                                 kInt8IgemmTactic, tactic_id));
  KILN_ASSIGN_OR_RETURN(kernel, with_alternative(std::move(kernel), make_int8_pointwise_kernel(node, options),
                                                 kInt8PointwiseTactic, tactic_id));
  KILN_ASSIGN_OR_RETURN(kernel, with_alternative(std::move(kernel), make_int8_pointwise_3_blocks_kernel(node, options),
                                                 kInt8Pointwise3BlocksTactic, tactic_id));
  // And cuBLASLt's int8 products for the stride-1 1x1s.
  return with_alternative(std::move(kernel), make_cublaslt_qconv_kernel(node, options), "cublaslt:", tactic_id);
}

}  // namespace kiln::cuda
