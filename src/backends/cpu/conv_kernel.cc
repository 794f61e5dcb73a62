// Convolution on oneDNN: ONNX Conv, kiln.FusedConv (bias, residual Z as a `sum` post-op, activation as an
// eltwise post-op) in f32, and kiln.QConv in int8 (s8/u8 activations × s8 per-channel weights → s32 →
// requantized by per-channel output scales, residual and activation as post-ops). 2-D convolutions in
// NCHW or NHWC (the `layout` attribute); anything else stays on the reference kernels.
//
// Integer semantics vs the reference (src/backends/ref/qfused.cc): identical accumulation; the reference
// requantizes in double, oneDNN in float, so an output may differ by one quantization step where t lands
// within float rounding of a .5 boundary. On CPUs without VNNI oneDNN halves s8 weights to avoid s16
// saturation (documented in docs/cpu_backend.md), which costs one bit of weight precision.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "backends/cpu/cpu_kernel.h"

namespace kiln::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct ConvGeometry {
  int64_t group = 1;
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: top, left, bottom, right (ONNX order)
  std::string auto_pad;
  bool nhwc = false;
};

class ConvKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node);
  size_t weight_input() const override { return quantized_ ? 3 : 1; }
  Status run(ref::KernelContext& ctx) const override;

 private:
  Result<PreparedPrimitive> create_primitive(const Dims& x, bool list_offered) const override;
  /// Output spatial size and explicit pads for an input of H×W.
  void output_geometry(int64_t h, int64_t w, int64_t out[2], int64_t pad_begin[2], int64_t pad_end[2]) const;

  ConvGeometry geo_;
  bool quantized_ = false;
  dt src_type_ = dt::f32, dst_type_ = dt::f32, bias_type_ = dt::f32;
  int64_t out_channels_ = 0, in_channels_per_group_ = 0;
  bool has_bias_ = false, has_residual_ = false;
  Tensor constant_bias_;  // when the bias is a constant (widened from f16 storage when needed)
  std::string activation_;
  std::vector<float> activation_params_;
  std::vector<float> output_scales_;  // int8: x_scale · w_scale[c] / y_scale
  float residual_scale_ = 1.0f;       // int8: z_scale / y_scale
  float activation_bound_scale_ = 1.0f;
};

Result<std::shared_ptr<const CpuKernel>> ConvKernel::create(const Node& node) {
  bool onnx_conv = node.domain.empty() && node.op_type == "Conv";
  bool fused = node.domain == "kiln" && node.op_type == "FusedConv";
  bool quantized = node.domain == "kiln" && node.op_type == "QConv";
  if (!onnx_conv && !fused && !quantized) return std::shared_ptr<const CpuKernel>();
  auto k = std::make_shared<ConvKernel>();
  k->quantized_ = quantized;
  k->name_ = node.name;
  size_t w_index = quantized ? 3 : 1;
  const Value* x = node.inputs[0];
  const Value* w = node.inputs[w_index];
  const Value* y = node.outputs[0];
  if (!w->is_constant() || !x->type.shape.has_rank() || x->type.shape.rank() != 4) return std::shared_ptr<const CpuKernel>();
  bool packed = node.attr_string(kWeightPackingAttr) == kOneDnnPacking;
  // The logical weight shape: from the constant, or (packed) from the descriptor.
  Dims w_dims;
  if (packed) {
    // The descriptor keeps the logical dims: oihw, or goihw for grouped convolutions.
    KILN_ASSIGN_OR_RETURN(PackedWeights p, parse_packed_weights(*w->constant));
    dnnl::memory::dims d = p.md.dims();
    if (d.size() == 5) w_dims = {d[0] * d[1], d[2], d[3], d[4]};
    else if (d.size() == 4) w_dims = {d[0], d[1], d[2], d[3]};
    else return Status::invalid_model(fmt::format("{}: packed weights of rank {}", node.describe(), d.size()));
  } else {
    w_dims = w->constant->dims();
    if (w_dims.size() != 4) return std::shared_ptr<const CpuKernel>();
  }

  ConvGeometry& g = k->geo_;
  g.group = node.attr_int("group", 1);
  g.strides = node.attr_ints("strides", {1, 1});
  g.dilations = node.attr_ints("dilations", {1, 1});
  g.pads = node.attr_ints("pads", {0, 0, 0, 0});
  g.auto_pad = node.attr_string("auto_pad", "NOTSET");
  g.nhwc = node.attr_string("layout", "NCHW") == "NHWC";
  g.kernel = node.attr_ints("kernel_shape");
  if (g.strides.size() != 2 || g.dilations.size() != 2 || g.pads.size() != 4) return std::shared_ptr<const CpuKernel>();
  if (g.auto_pad == "VALID") g.pads = {0, 0, 0, 0};
  if (g.kernel.empty()) g.kernel = {w_dims[2], w_dims[3]};
  k->out_channels_ = w_dims[0];
  k->in_channels_per_group_ = w_dims[1];
  if (g.kernel.size() != 2 || k->out_channels_ % g.group) return std::shared_ptr<const CpuKernel>();

  k->tactic_ = node.attr_string(kTacticAttr);
  k->activation_ = node.attr_string("activation");
  k->activation_params_ = node.attr_floats("activation_params");

  if (!quantized) {
    if (x->type.dtype != DataType::kF32 || y->type.dtype != DataType::kF32) return std::shared_ptr<const CpuKernel>();
    if (!packed && w->constant->dtype() != stored_float_dtype(node, kWeightPackingAttr))
      return std::shared_ptr<const CpuKernel>();
    k->has_bias_ = node.has_input(2);
    if (k->has_bias_ && node.inputs[2]->type.dtype != stored_float_dtype(node, kBiasStorageAttr))
      return std::shared_ptr<const CpuKernel>();
    k->has_residual_ = fused && node.has_input(3);
    if (k->has_residual_) {
      const Shape& zs = node.inputs[3]->type.shape, &ys = y->type.shape;
      if (zs.rank() != 4 || node.inputs[3]->type.dtype != DataType::kF32) return std::shared_ptr<const CpuKernel>();
      for (size_t a = 0; a < 4; ++a)  // Z must have the output's full shape (no broadcasting in a sum post-op)
        if (!(zs[a] == ys[a]) && !(zs[a].known() && ys[a].known() && zs[a].value == ys[a].value))
          return std::shared_ptr<const CpuKernel>();
    }
  } else {
    auto xt = onednn_type(x->type.dtype), yt = onednn_type(y->type.dtype);
    if (!xt || !yt || (*xt != dt::s8 && *xt != dt::u8) || (*yt != dt::s8 && *yt != dt::u8)) return std::shared_ptr<const CpuKernel>();
    k->src_type_ = *xt;
    k->dst_type_ = *yt;
    const Tensor *xs = constant_input(node, 1), *xz = constant_input(node, 2), *ws = constant_input(node, 4),
                 *wz = constant_input(node, 5), *ys = constant_input(node, 6), *yz = constant_input(node, 7);
    if (!xs || !ws || !ys || xs->size() != 1 || ys->size() != 1) return std::shared_ptr<const CpuKernel>();
    // oneDNN 2.6's fast int8 convolutions take symmetric (zero-point-free) tensors; kiln's INT8 builds are.
    if (!all_zero(xz) || !all_zero(wz) || !all_zero(yz)) return std::shared_ptr<const CpuKernel>();
    if (!packed && w->constant->dtype() != DataType::kI8) return std::shared_ptr<const CpuKernel>();
    if (ws->size() != 1 && ws->size() != k->out_channels_) return std::shared_ptr<const CpuKernel>();
    double x_scale = xs->element_as_double(0), y_scale = ys->element_as_double(0);
    for (int64_t c = 0; c < ws->size(); ++c)
      k->output_scales_.push_back(static_cast<float>(x_scale * ws->element_as_double(c) / y_scale));
    k->has_bias_ = node.has_input(8);
    k->bias_type_ = dt::s32;
    k->has_residual_ = node.has_input(9);
    if (k->has_residual_) {
      const Tensor *zs = constant_input(node, 10), *zz = constant_input(node, 11);
      if (!zs || zs->size() != 1 || !all_zero(zz) || node.inputs[9]->type.dtype != y->type.dtype)
        return std::shared_ptr<const CpuKernel>();
      k->residual_scale_ = static_cast<float>(zs->element_as_double(0) / y_scale);
    }
    // The activation clamps the quantized output: apply it to t = acc·scale, i.e. in units of y_scale.
    k->activation_bound_scale_ = static_cast<float>(y_scale);
    if (!k->activation_.empty() && k->activation_ != "Relu" && k->activation_ != "Clip") return std::shared_ptr<const CpuKernel>();
  }
  dnnl::post_ops probe;
  if (!append_activation(probe, k->activation_, k->activation_params_)) return std::shared_ptr<const CpuKernel>();

  // Plain weights: [M, C/g, kH, kW] (oihw), or [g, M/g, C/g, kH, kW] (goihw) for grouped convolutions.
  dt w_type = quantized ? dt::s8 : dt::f32;
  dnnl::memory::desc plain = g.group == 1
      ? dnnl::memory::desc({k->out_channels_, k->in_channels_per_group_, g.kernel[0], g.kernel[1]}, w_type, tag::oihw)
      : dnnl::memory::desc({g.group, k->out_channels_ / g.group, k->in_channels_per_group_, g.kernel[0], g.kernel[1]},
                           w_type, tag::goihw);
  KILN_ASSIGN_OR_RETURN(k->weights_, read_weights(node, w_index, plain));
  size_t b_index = quantized ? 8 : 2;
  if (k->has_bias_ && node.inputs[b_index]->is_constant()) k->constant_bias_ = bias_as_stored(node, b_index);
  return std::shared_ptr<const CpuKernel>(std::move(k));
}

void ConvKernel::output_geometry(int64_t h, int64_t w, int64_t out[2], int64_t pad_begin[2], int64_t pad_end[2]) const {
  const int64_t in[2] = {h, w};
  for (int a = 0; a < 2; ++a) {
    int64_t span = (geo_.kernel[a] - 1) * geo_.dilations[a] + 1;
    if (geo_.auto_pad == "SAME_UPPER" || geo_.auto_pad == "SAME_LOWER") {
      out[a] = (in[a] + geo_.strides[a] - 1) / geo_.strides[a];
      int64_t total = std::max<int64_t>(0, (out[a] - 1) * geo_.strides[a] + span - in[a]);
      pad_begin[a] = geo_.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pad_end[a] = total - pad_begin[a];
    } else {
      pad_begin[a] = geo_.pads[a];
      pad_end[a] = geo_.pads[a + 2];
      out[a] = (in[a] + pad_begin[a] + pad_end[a] - span) / geo_.strides[a] + 1;
    }
  }
}

Result<PreparedPrimitive> ConvKernel::create_primitive(const Dims& x, bool list_offered) const {
  int64_t n = x[0], c = geo_.nhwc ? x[3] : x[1], h = geo_.nhwc ? x[1] : x[2], w = geo_.nhwc ? x[2] : x[3];
  if (c != in_channels_per_group_ * geo_.group)
    return Status::shape_mismatch(fmt::format("node '{}': input has {} channels, the weights expect {}", name_, c,
                                              in_channels_per_group_ * geo_.group));
  int64_t out[2], pb[2], pe[2];
  output_geometry(h, w, out, pb, pe);
  tag layout = geo_.nhwc ? tag::nhwc : tag::nchw;
  dnnl::memory::desc src({n, c, h, w}, src_type_, layout);
  dnnl::memory::desc dst({n, out_channels_, out[0], out[1]}, dst_type_, layout);
  dnnl::memory::desc bias = has_bias_ ? dnnl::memory::desc({out_channels_}, bias_type_, tag::a) : dnnl::memory::desc();
  dt w_type = quantized_ ? dt::s8 : dt::f32;
  dnnl::memory::desc weights = geo_.group == 1
      ? dnnl::memory::desc({out_channels_, in_channels_per_group_, geo_.kernel[0], geo_.kernel[1]}, w_type, tag::any)
      : dnnl::memory::desc({geo_.group, out_channels_ / geo_.group, in_channels_per_group_, geo_.kernel[0], geo_.kernel[1]},
                           w_type, tag::any);

  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (has_residual_) ops.append_sum(residual_scale_);
  append_activation(ops, activation_, activation_params_, activation_bound_scale_);
  attr.set_post_ops(ops);
  if (quantized_) attr.set_output_scales(output_scales_.size() > 1 ? 1 << 1 : 0, output_scales_);

  dnnl::memory::dims strides = {geo_.strides[0], geo_.strides[1]};
  dnnl::memory::dims dilations = {geo_.dilations[0] - 1, geo_.dilations[1] - 1};
  dnnl::memory::dims pad_l = {pb[0], pb[1]}, pad_r = {pe[0], pe[1]};
  auto desc = has_bias_
      ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                        weights, bias, dst, strides, dilations, pad_l, pad_r)
      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                        weights, dst, strides, dilations, pad_l, pad_r);
  return prepare_weighted<dnnl::convolution_forward>(desc, attr, bias, tactic_, list_offered);
}

Status ConvKernel::run(ref::KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(x.dims()));
  dnnl::memory::dims d = p->dst.dims();  // logical n, c, h, w
  Dims y_dims = geo_.nhwc ? Dims{d[0], d[2], d[3], d[1]} : Dims{d[0], d[1], d[2], d[3]};
  DataType y_type = ctx.node().outputs[0]->type.dtype;
  Tensor& y = ctx.allocate_output(0, y_type, y_dims, /*zero_fill=*/false);
  size_t z_index = quantized_ ? 9 : 3;
  if (has_residual_) {
    const Tensor& z = ctx.input(z_index);
    if (z.dims() != y_dims)
      return ctx.error(fmt::format("residual {} does not match the output {}", dims_to_string(z.dims()),
                                   dims_to_string(y_dims)));
    if (z.raw() != y.raw()) std::memcpy(y.raw(), z.raw(), y.byte_size());  // the sum post-op adds dst's content
  }
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, view_memory(p->src, x.raw())},
                                                {DNNL_ARG_DST, view_memory(p->dst, y.raw())}};
  size_t b_index = quantized_ ? 8 : 2;
  if (has_bias_)
    args[DNNL_ARG_BIAS] = view_memory(p->bias, constant_bias_.defined() ? constant_bias_.raw() : ctx.input(b_index).raw());
  execute(*p, std::move(args));
  return {};
}

}  // namespace

Result<std::shared_ptr<const CpuKernel>> create_conv_kernel(const Node& node) { return ConvKernel::create(node); }

}  // namespace kiln::cpu
