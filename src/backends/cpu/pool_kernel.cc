// Pooling on oneDNN: ONNX MaxPool (without the Indices output), AveragePool, GlobalAveragePool and
// GlobalMaxPool on NCHW tensors, and kiln.Pool (the same ops in NCHW or NHWC). 2-D only. Max pooling runs
// in f32, s8 and u8 (exact); average pooling in f32 only (integer averages round differently). Average
// pooling with ceil_mode stays on the reference kernels (ONNX and oneDNN count the overhang differently).
#include <fmt/format.h>

#include "backends/cpu/cpu_kernel.h"

namespace kiln::cpu {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

class PoolKernel final : public CpuKernel {
 public:
  static Result<std::shared_ptr<const CpuKernel>> create(const Node& node);
  size_t weight_input() const override { return 0; }
  Status run(ref::KernelContext& ctx) const override;

 private:
  Result<PreparedPrimitive> create_primitive(const Dims& x, bool list_offered) const override;

  std::string mode_;
  bool nhwc_ = false, global_ = false, ceil_mode_ = false, include_pad_ = false;
  std::vector<int64_t> kernel_, strides_, dilations_, pads_;
  std::string auto_pad_;
  dt type_ = dt::f32;
};

Result<std::shared_ptr<const CpuKernel>> PoolKernel::create(const Node& node) {
  const std::shared_ptr<const CpuKernel> none;
  auto k = std::make_shared<PoolKernel>();
  if (node.domain == "kiln" && node.op_type == "Pool") {
    k->mode_ = node.attr_string("mode");
    k->nhwc_ = node.attr_string("layout", "NCHW") == "NHWC";
  } else if (node.domain.empty()) {
    k->mode_ = node.op_type;
  }
  if (k->mode_ != "MaxPool" && k->mode_ != "AveragePool" && k->mode_ != "GlobalAveragePool" && k->mode_ != "GlobalMaxPool")
    return none;
  if (node.outputs.size() > 1 && node.outputs[1]) return none;  // MaxPool's Indices
  const Value* x = node.inputs[0];
  if (!x->type.shape.has_rank() || x->type.shape.rank() != 4) return none;
  auto type = onednn_type(x->type.dtype);
  bool is_max = k->mode_ == "MaxPool" || k->mode_ == "GlobalMaxPool";
  if (!type || !(*type == dt::f32 || (is_max && (*type == dt::s8 || *type == dt::u8)))) return none;
  k->type_ = *type;
  k->name_ = node.name;
  k->global_ = k->mode_.starts_with("Global");
  if (!k->global_) {
    k->kernel_ = node.attr_ints("kernel_shape");
    if (k->kernel_.size() != 2) return none;
    k->strides_ = node.attr_ints("strides", {1, 1});
    k->dilations_ = node.attr_ints("dilations", {1, 1});
    k->pads_ = node.attr_ints("pads", {0, 0, 0, 0});
    if (k->strides_.empty()) k->strides_ = {1, 1};
    if (k->dilations_.empty()) k->dilations_ = {1, 1};
    if (k->pads_.empty()) k->pads_ = {0, 0, 0, 0};
    k->auto_pad_ = node.attr_string("auto_pad", "NOTSET");
    k->ceil_mode_ = node.attr_int("ceil_mode", 0) != 0;
    k->include_pad_ = node.attr_int("count_include_pad", 0) != 0;
    if (k->strides_.size() != 2 || k->dilations_.size() != 2 || k->pads_.size() != 4) return none;
    if (k->auto_pad_ != "NOTSET" && k->auto_pad_ != "VALID") return none;
    if (k->auto_pad_ == "VALID") k->pads_ = {0, 0, 0, 0};
    if (!is_max && (k->ceil_mode_ || k->dilations_ != std::vector<int64_t>{1, 1})) return none;
  }
  return std::shared_ptr<const CpuKernel>(std::move(k));
}

Result<PreparedPrimitive> PoolKernel::create_primitive(const Dims& x, bool list_offered) const {
  int64_t n = x[0], c = nhwc_ ? x[3] : x[1], h = nhwc_ ? x[1] : x[2], w = nhwc_ ? x[2] : x[3];
  const int64_t in[2] = {h, w};
  dnnl::memory::dims kernel(2), strides(2), dilations(2), pad_l(2), pad_r(2), out(2);
  for (int a = 0; a < 2; ++a) {
    if (global_) {
      kernel[a] = in[a], strides[a] = 1, dilations[a] = 0, pad_l[a] = pad_r[a] = 0, out[a] = 1;
      continue;
    }
    kernel[a] = kernel_[a];
    strides[a] = strides_[a];
    dilations[a] = dilations_[a] - 1;
    pad_l[a] = pads_[a];
    pad_r[a] = pads_[a + 2];
    int64_t span = (kernel_[a] - 1) * dilations_[a] + 1;
    int64_t room = in[a] + pad_l[a] + pad_r[a] - span;
    if (room < 0)
      return Status::shape_mismatch(fmt::format("node '{}': pooling window {} is larger than the padded input {}",
                                                name_, span, in[a] + pad_l[a] + pad_r[a]));
    out[a] = (ceil_mode_ ? (room + strides[a] - 1) / strides[a] : room / strides[a]) + 1;
    // ceil_mode: a last window that would start in the right padding is dropped (ONNX, PyTorch).
    if (ceil_mode_ && (out[a] - 1) * strides[a] >= in[a] + pad_l[a]) --out[a];
    // oneDNN wants the padding that makes its floor-based size equal `out`.
    pad_r[a] = (out[a] - 1) * strides[a] + span - in[a] - pad_l[a];
  }
  tag layout = nhwc_ ? tag::nhwc : tag::nchw;
  dnnl::memory::desc src({n, c, h, w}, type_, layout), dst({n, c, out[0], out[1]}, type_, layout);
  dnnl::algorithm alg = (mode_ == "MaxPool" || mode_ == "GlobalMaxPool") ? dnnl::algorithm::pooling_max
                        : include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                       : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src, dst, strides, kernel, dilations,
                                      pad_l, pad_r);
  dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, onednn_engine());
  PreparedPrimitive p;
  p.primitive = dnnl::pooling_v2_forward(pd);
  p.src = pd.src_desc();
  p.dst = pd.dst_desc();
  p.scratchpad_bytes = pd.scratchpad_desc().get_size();
  p.implementation = implementation_name(pd);
  return p;
}

Status PoolKernel::run(ref::KernelContext& ctx) const {
  const Tensor& x = ctx.input(0);
  KILN_ASSIGN_OR_RETURN(const PreparedPrimitive* p, prepared(x.dims()));
  dnnl::memory::dims d = p->dst.dims();
  Dims y_dims = nhwc_ ? Dims{d[0], d[2], d[3], d[1]} : Dims{d[0], d[1], d[2], d[3]};
  Tensor& y = ctx.allocate_output(0, x.dtype(), y_dims, /*zero_fill=*/false);
  execute(*p, {{DNNL_ARG_SRC, view_memory(p->src, x.raw())}, {DNNL_ARG_DST, view_memory(p->dst, y.raw())}});
  return {};
}

}  // namespace

Result<std::shared_ptr<const CpuKernel>> create_pool_kernel(const Node& node) { return PoolKernel::create(node); }

}  // namespace kiln::cpu
