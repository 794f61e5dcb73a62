// Pooling on pool.cu: kiln.Pool (mode MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool, layout
// NCHW or NHWC) and the ONNX MaxPool (output Y only: null when Indices is asked for), AveragePool,
// GlobalAveragePool and GlobalMaxPool in NCHW. f32 and f16; windowed pools over 1 to 3 spatial axes. The
// windowed max pool also runs on i8 / u8 (int8 engines: fold_qdq moves MaxPool onto the quantized data);
// average and global pools on integers get no kernel (the reference computes those in float only).
// The window geometry (pads, auto_pad, ceil_mode, dilations) is conv_geometry's, as the reference's.
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/kernels/kernel_util.h"
#include "ir/ops/conv_geometry.h"
#include "ir/ops/layout_util.h"

namespace kiln::cuda {

namespace {

using launch::PoolKind;

class PoolKernel final : public CudaKernel {
 public:
  PoolKernel(const Node& node, PoolKind kind, bool global, bool nhwc, std::shared_ptr<const ConstantInputs> constants)
      : node_(node.describe()),
        attrs_(attribute_node(node)),
        kind_(kind),
        global_(global),
        nhwc_(nhwc),
        type_(*elem_type(input_dtype(node, 0))),
        constants_(std::move(constants)) {}

  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims> input_dims,
                                                std::span<const Dims> output_dims) const override {
    if (input_dims.empty() || output_dims.empty()) return named(node_, Status::internal("prepare needs the shapes"));
    const Dims& in = input_dims[0];
    const size_t rank = in.size();
    if (rank < 3 || (nhwc_ && rank != 4))
      return named(node_, Status::invalid_argument(fmt::format("input X must be N x C x spatial ({}), got {}",
                                                               nhwc_ ? "NHWC, rank 4" : "rank >= 3", dims_to_string(in))));
    // Batch, channels and spatial extents from the memory order.
    const int64_t batch = in[0], channels = nhwc_ ? in[3] : in[1];
    const Dims spatial = nhwc_ ? Dims{in[1], in[2]} : Dims(in.begin() + 2, in.end());
    if (global_) return prepare_global(batch, channels, spatial, output_dims[0]);
    return prepare_window(batch, channels, spatial, output_dims[0]);
  }
  std::string tactic() const override { return "cuda:pool"; }

 private:
  // The attributes alone (what read_window_attrs reads), kept beyond the graph's lifetime.
  static Node attribute_node(const Node& node) {
    Node n;
    n.op_type = node.op_type;
    n.domain = node.domain;
    n.opset = node.opset;
    n.attrs = node.attrs;
    n.def = node.def;
    return n;
  }

  // The output dims in the node's memory order for spatial extents `out`.
  Dims output_dims(int64_t batch, int64_t channels, const Dims& out) const {
    Dims d = {batch};
    if (!nhwc_) d.push_back(channels);
    d.insert(d.end(), out.begin(), out.end());
    if (nhwc_) d.push_back(channels);
    return d;
  }

  Status check_output(const Dims& expected, const Dims& given) const {
    if (expected == given) return {};
    return Status::shape_mismatch(
        fmt::format("the pool's output is {}, but the output value is {}", dims_to_string(expected), dims_to_string(given)));
  }

  Result<std::unique_ptr<PreparedNode>> prepare_global(int64_t batch, int64_t channels, const Dims& spatial,
                                                       const Dims& given) const {
    KILN_RETURN_IF_ERROR(named(node_, check_output(output_dims(batch, channels, Dims(spatial.size(), 1)), given)));
    const int64_t size = element_count(spatial);
    if (size == 0 && kind_ == PoolKind::kMax)
      return named(node_, Status::invalid_argument("GlobalMaxPool of an input with an empty spatial extent"));
    return make_prepared(node_, [kind = kind_, type = type_, batch, channels, size, nhwc = nhwc_, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> out) -> Status {
      KILN_CUDA_TRY(launch::launch_global_pool(kind, type, constants->get(in, 0), out[0], batch, channels, size, nhwc,
                                               ctx.stream));
      return {};
    });
  }

  Result<std::unique_ptr<PreparedNode>> prepare_window(int64_t batch, int64_t channels, const Dims& spatial,
                                                       const Dims& given) const {
    const size_t n = spatial.size();
    if (n > 3) return named(node_, Status::unsupported(fmt::format("{} spatial axes (the kernel takes up to 3)", n)));
    Result<WindowAttrs> attrs = read_window_attrs(attrs_, n, {}, false);
    if (!attrs.ok()) return named(node_, attrs.status());
    Result<WindowGeometry> geo = window_geometry(*attrs, spatial);
    if (!geo.ok()) return named(node_, geo.status());
    KILN_RETURN_IF_ERROR(named(node_, check_output(output_dims(batch, channels, geo->out), given)));
    // Spatial axes right-aligned in 3; the leading unused ones are extent 1 with a 1-tap window.
    launch::PoolGeometry g{};
    g.batch = batch;
    g.channels = channels;
    g.channels_last = nhwc_;
    g.count_include_pad = attrs_.attr_int("count_include_pad", 0) != 0;
    const size_t lead = 3 - n;
    for (size_t d = 0; d < 3; ++d) {
      g.in[d] = g.out[d] = g.kernel[d] = g.stride[d] = g.dilation[d] = 1;
      g.pad_begin[d] = g.pad_end[d] = 0;
      if (d < lead) continue;
      const size_t s = d - lead;
      g.in[d] = spatial[s];
      g.out[d] = geo->out[s];
      g.kernel[d] = attrs->kernel[s];
      g.stride[d] = attrs->strides[s];
      g.dilation[d] = attrs->dilations[s];
      g.pad_begin[d] = geo->pads[s];
      g.pad_end[d] = geo->pads[s + n];
    }
    return make_prepared(node_, [kind = kind_, type = type_, g, constants = constants_](
                                    const LaunchContext& ctx, std::span<void* const> in,
                                    std::span<void* const> out) -> Status {
      KILN_CUDA_TRY(launch::launch_pool(kind, type, constants->get(in, 0), out[0], g, ctx.stream));
      return {};
    });
  }

  std::string node_;
  Node attrs_;
  PoolKind kind_;
  bool global_, nhwc_;
  launch::ElemType type_;
  std::shared_ptr<const ConstantInputs> constants_;
};

}  // namespace

KernelResult make_pool_kernel(const Node& node, const KernelOptions&) {
  std::string mode;
  bool nhwc = false;
  if (node.domain == "kiln" && node.op_type == "Pool") {
    mode = node.attr_string("mode");
    if (!layout::is_pool_mode(mode))
      return Status::invalid_model(fmt::format(
          "mode must be MaxPool, AveragePool, GlobalAveragePool or GlobalMaxPool, got \"{}\"", mode));
    KILN_ASSIGN_OR_RETURN(nhwc, layout::is_nhwc(node));
    if (node.outputs.size() != 1) return no_kernel();
  } else if (node.domain.empty() && layout::is_pool_mode(node.op_type)) {
    mode = node.op_type;
    // MaxPool's Indices output (flat indices over the whole input) is not implemented here.
    if (node.has_output(1)) return no_kernel();
  } else {
    return no_kernel();
  }
  const DataType t = input_dtype(node, 0);
  const bool global = mode == "GlobalAveragePool" || mode == "GlobalMaxPool";
  const bool is_int = t == DataType::kI8 || t == DataType::kU8;
  if (is_int && mode != "MaxPool") return no_kernel();
  if ((t != DataType::kF32 && t != DataType::kF16 && !is_int) || output_dtype(node, 0) != t) return no_kernel();
  // Spatial ranks the windowed kernel takes: 1 to 3 (NHWC: exactly 2).
  const Shape& shape = node.inputs[0]->type.shape;
  if (shape.has_rank() && (shape.rank() < 3 || (nhwc && shape.rank() != 4) || (!global && shape.rank() > 5)))
    return no_kernel();
  const PoolKind kind = mode == "MaxPool" || mode == "GlobalMaxPool" ? PoolKind::kMax : PoolKind::kAverage;
  KILN_ASSIGN_OR_RETURN(auto constants, ConstantInputs::upload(node));
  return std::unique_ptr<CudaKernel>(std::make_unique<PoolKernel>(node, kind, global, nhwc, std::move(constants)));
}

}  // namespace kiln::cuda
