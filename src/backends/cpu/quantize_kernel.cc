// QuantizeLinear / DequantizeLinear with one (per-tensor) scale and a zero zero-point, f32 ↔ s8/u8, as
// oneDNN reorders with an output scale: the borders of the float islands in an INT8 engine run vectorized.
// Quantize multiplies by 1/scale where ONNX divides by scale; the two can round differently when x/scale
// lies within one float ulp of a .5 boundary: at most one quantization step, the INT8 tolerance.
#include <fmt/format.h>

#include "backends/cpu/cpu_kernel.h"

namespace kiln::cpu {

namespace {

using dt = dnnl::memory::data_type;

class QuantizeKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node) {
    const std::shared_ptr<const CpuKernel> none;
    bool quantize = node.op_type == "QuantizeLinear", dequantize = node.op_type == "DequantizeLinear";
    if (!node.domain.empty() || (!quantize && !dequantize) || node.inputs.size() < 2) return none;
    const Value *x = node.inputs[0], *scale = node.inputs[1], *y = node.outputs[0];
    const Value* zp = node.inputs.size() > 2 ? node.inputs[2] : nullptr;
    if (!scale->is_constant() || scale->constant->size() != 1) return none;
    if (zp && (!zp->is_constant() || zp->constant->size() != 1 || zp->constant->element_as_double(0) != 0)) return none;
    auto from = onednn_type(x->type.dtype), to = onednn_type(y->type.dtype);
    if (!from || !to) return none;
    if (quantize && (*from != dt::f32 || (*to != dt::s8 && *to != dt::u8))) return none;
    if (dequantize && ((*from != dt::s8 && *from != dt::u8) || *to != dt::f32)) return none;
    double s = scale->constant->element_as_double(0);
    if (!(s > 0)) return none;
    auto k = std::make_shared<QuantizeKernel>();
    k->name_ = node.name;
    k->from_ = *from;
    k->to_ = *to;
    k->scale_ = static_cast<float>(quantize ? 1.0 / s : s);
    return std::shared_ptr<const CpuKernel>(std::move(k));
  }
  size_t weight_input() const override { return 0; }

  Status run(ref::KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(x.dims()));
    Tensor& y = ctx.allocate_output(0, ctx.node().outputs[0]->type.dtype, x.dims(), /*zero_fill=*/false);
    execute(*p, {{DNNL_ARG_FROM, view_memory(p->src, x.raw())}, {DNNL_ARG_TO, view_memory(p->dst, y.raw())}});
    return {};
  }

 private:
  Result<PreparedPrimitive> create_primitive(const Dims& x, bool list_offered) const override {
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {scale_});
    return prepare_reorder(dense_desc(x, from_), dense_desc(x, to_), attr);
  }

  dt from_ = dt::f32, to_ = dt::s8;
  float scale_ = 1;
};

}  // namespace

Result<std::shared_ptr<const CpuKernel>> create_quantize_kernel(const Node& node) { return QuantizeKernel::create(node); }

}  // namespace kiln::cpu
