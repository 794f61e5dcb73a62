// Fully connected layers on oneDNN's inner product: Gemm / kiln.FusedGemm (transA = 0, alpha = beta = 1,
// 1-D bias), MatMul / kiln.FusedMatMul with a constant 2-D right operand (leading dims of A flattened into
// rows), in f32, and kiln.QMatMul in int8 (symmetric, per-column weight scales). Weights are packed in
// oneDNN's blocked layout like convolution weights.
#include <fmt/format.h>

#include "backends/cpu/cpu_kernel.h"

namespace kiln::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

class InnerProductKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node);
  size_t weight_input() const override { return quantized_ ? 3 : 1; }
  Status run(ref::KernelContext& ctx) const override;

 private:
  Result<PreparedPrimitive> create_primitive(const Dims& a, bool list_offered) const override;

  bool quantized_ = false;
  int64_t out_features_ = 0, in_features_ = 0;
  size_t bias_input_ = 0;  // 0: none
  Tensor constant_bias_;    // when the bias is a constant (widened from f16 storage when needed)
  dt src_type_ = dt::f32, dst_type_ = dt::f32, bias_type_ = dt::f32;
  std::string activation_;
  std::vector<float> activation_params_;
  std::vector<float> output_scales_;
  float activation_bound_scale_ = 1.0f;
};

Result<std::shared_ptr<const CpuKernel>> InnerProductKernel::create(const Node& node) {
  const std::shared_ptr<const CpuKernel> none;
  bool gemm = (node.domain.empty() && node.op_type == "Gemm") || (node.domain == "kiln" && node.op_type == "FusedGemm");
  bool matmul = (node.domain.empty() && node.op_type == "MatMul") || (node.domain == "kiln" && node.op_type == "FusedMatMul");
  bool quantized = node.domain == "kiln" && node.op_type == "QMatMul";
  if (!gemm && !matmul && !quantized) return none;
  auto k = std::make_shared<InnerProductKernel>();
  k->name_ = node.name;
  k->quantized_ = quantized;
  size_t w_index = quantized ? 3 : 1;
  const Value* a = node.inputs[0];
  const Value* b = node.inputs[w_index];
  if (!b->is_constant() || !a->type.shape.has_rank() || a->type.shape.rank() < 2) return none;
  if (gemm && a->type.shape.rank() != 2) return none;
  bool packed = node.attr_string(kWeightPackingAttr) == kOneDnnPacking;
  // Plain weights are B as given: [K, M] ("io" in oneDNN's terms) or, for Gemm with transB, [M, K] ("oi").
  bool b_is_out_by_in = gemm && node.attr_int("transB", 0) == 1;
  if (packed) {
    KILN_ASSIGN_OR_RETURN(PackedWeights p, parse_packed_weights(*b->constant));
    if (p.md.dims().size() != 2) return Status::invalid_model(fmt::format("{}: packed weights of rank {}", node.describe(), p.md.dims().size()));
    k->out_features_ = p.md.dims()[0];
    k->in_features_ = p.md.dims()[1];
  } else {
    const Dims& bd = b->constant->dims();
    if (bd.size() != 2) return none;
    k->out_features_ = b_is_out_by_in ? bd[0] : bd[1];
    k->in_features_ = b_is_out_by_in ? bd[1] : bd[0];
  }
  if (gemm && (node.attr_int("transA", 0) != 0 || node.attr_float("alpha", 1.0f) != 1.0f ||
               (node.has_input(2) && node.attr_float("beta", 1.0f) != 1.0f)))
    return none;
  k->tactic_ = node.attr_string(kTacticAttr);
  k->activation_ = node.attr_string("activation");
  k->activation_params_ = node.attr_floats("activation_params");

  if (!quantized) {
    if (a->type.dtype != DataType::kF32 || node.outputs[0]->type.dtype != DataType::kF32) return none;
    if (!packed && b->constant->dtype() != stored_float_dtype(node, kWeightPackingAttr)) return none;
    if (node.has_input(2)) {
      // The bias must be a vector over the output features ([M] or [1, M]).
      const Shape& s = node.inputs[2]->type.shape;
      if (node.inputs[2]->type.dtype != stored_float_dtype(node, kBiasStorageAttr) || !s.is_static()) return none;
      if (element_count(s.static_dims()) != k->out_features_ || s.static_dims().back() != k->out_features_) return none;
      k->bias_input_ = 2;
    }
  } else {
    auto at = onednn_type(a->type.dtype), yt = onednn_type(node.outputs[0]->type.dtype);
    if (!at || !yt || (*at != dt::s8 && *at != dt::u8) || (*yt != dt::s8 && *yt != dt::u8)) return none;
    k->src_type_ = *at;
    k->dst_type_ = *yt;
    const Tensor *as = constant_input(node, 1), *ws = constant_input(node, 4), *ys = constant_input(node, 6);
    if (!as || !ws || !ys || as->size() != 1 || ys->size() != 1) return none;
    if (!all_zero(constant_input(node, 2)) || !all_zero(constant_input(node, 5)) || !all_zero(constant_input(node, 7)))
      return none;
    if ((node.has_input(2) && !constant_input(node, 2)) || (node.has_input(5) && !constant_input(node, 5)) ||
        (node.has_input(7) && !constant_input(node, 7)))
      return none;
    if (!packed && b->constant->dtype() != DataType::kI8) return none;
    if (ws->size() != 1 && ws->size() != k->out_features_) return none;
    double a_scale = as->element_as_double(0), y_scale = ys->element_as_double(0);
    for (int64_t c = 0; c < ws->size(); ++c)
      k->output_scales_.push_back(static_cast<float>(a_scale * ws->element_as_double(c) / y_scale));
    if (node.has_input(8)) k->bias_input_ = 8;
    k->bias_type_ = dt::s32;
    k->activation_bound_scale_ = static_cast<float>(y_scale);
    if (!k->activation_.empty() && k->activation_ != "Relu" && k->activation_ != "Clip") return none;
  }
  dnnl::post_ops probe;
  if (!append_activation(probe, k->activation_, k->activation_params_)) return none;
  dnnl::memory::desc plain({k->out_features_, k->in_features_}, quantized ? dt::s8 : dt::f32,
                           b_is_out_by_in ? tag::oi : tag::io);
  KILN_ASSIGN_OR_RETURN(k->weights_, read_weights(node, w_index, plain));
  if (k->bias_input_ && node.inputs[k->bias_input_]->is_constant())
    k->constant_bias_ = bias_as_stored(node, k->bias_input_);
  return std::shared_ptr<const CpuKernel>(std::move(k));
}

Result<PreparedPrimitive> InnerProductKernel::create_primitive(const Dims& a, bool list_offered) const {
  if (a.back() != in_features_)
    return Status::shape_mismatch(fmt::format("node '{}': input {} has {} features, the weights expect {}", name_,
                                              dims_to_string(a), a.back(), in_features_));
  int64_t rows = element_count(a) / in_features_;
  dnnl::memory::desc src({rows, in_features_}, src_type_, tag::nc);
  dnnl::memory::desc dst({rows, out_features_}, dst_type_, tag::nc);
  dnnl::memory::desc weights({out_features_, in_features_}, quantized_ ? dt::s8 : dt::f32, tag::any);
  dnnl::memory::desc bias = bias_input_ ? dnnl::memory::desc({out_features_}, bias_type_, tag::a) : dnnl::memory::desc();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  append_activation(ops, activation_, activation_params_, activation_bound_scale_);
  attr.set_post_ops(ops);
  if (quantized_) attr.set_output_scales(output_scales_.size() > 1 ? 1 << 1 : 0, output_scales_);
  auto desc = bias_input_ ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src, weights, bias, dst)
                          : dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src, weights, dst);
  return prepare_weighted<dnnl::inner_product_forward>(desc, attr, bias, tactic_, list_offered);
}

Status InnerProductKernel::run(ref::KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(a.dims()));
  Dims y_dims = a.dims();
  y_dims.back() = out_features_;
  Tensor& y = ctx.allocate_output(0, ctx.node().outputs[0]->type.dtype, y_dims, /*zero_fill=*/false);
  if (p->src != dnnl::memory::desc({element_count(a.dims()) / in_features_, in_features_}, src_type_, tag::nc))
    return ctx.error("oneDNN chose an unexpected input layout");
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, view_memory(p->src, a.raw())},
                                                {DNNL_ARG_DST, view_memory(p->dst, y.raw())}};
  if (bias_input_)
    args[DNNL_ARG_BIAS] =
        view_memory(p->bias, constant_bias_.defined() ? constant_bias_.raw() : ctx.input(bias_input_).raw());
  execute(*p, std::move(args));
  return {};
}

}  // namespace

Result<std::shared_ptr<const CpuKernel>> create_inner_product_kernel(const Node& node) {
  return InnerProductKernel::create(node);
}

}  // namespace kiln::cpu
