#include "passes/layout/stem_space_to_depth.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "ir/op_def.h"
#include "ir/ops/layout_util.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

constexpr int64_t kMaxChannels = 4;
// Smaller stems (MobileNet's 3x3) lost more to the extra Pad / SpaceToDepth passes than the convolution
// gained: MobileNetV2 FP16 batch 32 went from 44,121 to 38,588 img/s on the H100 (bench/results, 2026-11-27).
constexpr int64_t kMinKernel = 5;
constexpr int64_t kBlock = 2;

// What the rewrite needs to know of a matching convolution.
struct StemConv {
  Node* node;
  size_t w_index;  // 1 for Conv / FusedConv, 3 for QConv
  int64_t c, k_h, k_w;
  std::vector<int64_t> pads;  // [pt, pl, pb, pr]
  int64_t h, w;               // input spatial extents
  int64_t extra_h = 0, extra_w = 0;  // end padding that makes the padded extents even (0 or 1)
};

bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  for (int64_t e : v)
    if (e != x) return false;
  return true;
}

// Extra end padding (0 or 1 for the odd kernels matched) so the padded extent is even and the stride-1
// convolution of ceil(k/2) over its space-to-depth gives the original output extent.
int64_t extra_end_pad(int64_t extent, int64_t pre, int64_t post, int64_t k) {
  const int64_t out = (extent + pre + post - k) / kBlock + 1;
  const int64_t k2 = (k + 1) / 2;
  return kBlock * (out + k2 - 1) - (extent + pre + post);
}

std::optional<StemConv> match(Node& n) {
  const bool kiln_op = n.domain == "kiln" && (n.op_type == "FusedConv" || n.op_type == "QConv");
  if (!kiln_op && !(n.domain.empty() && n.op_type == "Conv")) return std::nullopt;
  if (kiln_op && n.attr_string("layout", "NCHW") != "NCHW") return std::nullopt;
  const size_t w_index = n.op_type == "QConv" ? 3 : 1;
  if (!n.has_input(0) || !n.has_input(w_index)) return std::nullopt;
  const Tensor* w = passes::constant_of(n.inputs[w_index]);
  const Shape& xs = n.inputs[0]->type.shape;
  if (!w || w->rank() != 4 || !xs.has_rank() || xs.rank() != 4 || !xs[2].known() || !xs[3].known())
    return std::nullopt;
  if (n.attr_int("group", 1) != 1 || n.attr_string("auto_pad", "NOTSET") != "NOTSET") return std::nullopt;
  StemConv s{&n, w_index, w->dim(1), w->dim(2), w->dim(3), n.attr_ints("pads", {0, 0, 0, 0}),
             xs[2].value, xs[3].value};
  if (s.c > kMaxChannels || s.pads.size() != 4) return std::nullopt;
  if (s.k_h < kMinKernel || s.k_w < kMinKernel || s.k_h % 2 == 0 || s.k_w % 2 == 0) return std::nullopt;
  if (!all_equal(n.attr_ints("strides", {1, 1}), kBlock) || !all_equal(n.attr_ints("dilations", {1, 1}), 1))
    return std::nullopt;
  if (n.has_attr("kernel_shape") && n.attr_ints("kernel_shape") != std::vector<int64_t>{s.k_h, s.k_w})
    return std::nullopt;
  s.extra_h = extra_end_pad(s.h, s.pads[0], s.pads[2], s.k_h);
  s.extra_w = extra_end_pad(s.w, s.pads[1], s.pads[3], s.k_w);
  return s;
}

// W [K, C, kh, kw] as W' [K, 4*C2, ceil(kh/2), ceil(kw/2)] (see the header), any element size.
Tensor space_to_depth_weights(const Tensor& w, int64_t c2) {
  const int64_t k = w.dim(0), c = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t kh2 = (kh + 1) / 2, kw2 = (kw + 1) / 2;
  Tensor out(w.dtype(), {k, kBlock * kBlock * c2, kh2, kw2});
  const size_t es = dtype_size(w.dtype());
  std::memset(out.raw(), 0, out.byte_size());
  const auto* src = static_cast<const unsigned char*>(w.raw());
  auto* dst = static_cast<unsigned char*>(out.raw());
  for (int64_t ko = 0; ko < k; ++ko)
    for (int64_t u = 0; u < kBlock; ++u)
      for (int64_t v = 0; v < kBlock; ++v)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t p = 0; p < kh2; ++p)
            for (int64_t q = 0; q < kw2; ++q) {
              const int64_t i = kBlock * p + u, j = kBlock * q + v;
              if (i >= kh || j >= kw) continue;
              const int64_t cn = (u * kBlock + v) * c2 + ci;
              std::memcpy(dst + (((ko * out.dim(1) + cn) * kh2 + p) * kw2 + q) * es,
                          src + (((ko * c + ci) * kh + i) * kw + j) * es, es);
            }
  return out;
}

// x's Cast from FLOAT to FLOAT16 when nothing else reads the cast (the FP16 rewrite's input Cast): the
// space-to-depth can read FLOAT and convert as it writes.
const Node* absorbable_cast(const Graph& g, const Value* x) {
  const Node* c = x->producer;
  if (!c || !c->domain.empty() || c->op_type != "Cast" || !c->has_input(0)) return nullptr;
  if (c->inputs[0]->type.dtype != DataType::kF32 || x->type.dtype != DataType::kF16) return nullptr;
  if (passes::reader_count(g, x) != 1 || passes::is_graph_output(g, x)) return nullptr;
  return c;
}

// x's QuantizeLinear when the space-to-depth can do it instead (the INT8 stem's input quantization): FLOAT in,
// per tensor (a constant one-element scale), its zero point (absent: 0) equal to the QConv's x zero point,
// which the space-to-depth pads with, and nothing else reading x.
const Node* absorbable_quantize(const Graph& g, const Value* x, const Node& qconv) {
  const Node* q = x->producer;
  if (!q || !q->domain.empty() || q->op_type != "QuantizeLinear" || !q->has_input(0) || !q->has_input(1))
    return nullptr;
  if (q->inputs[0]->type.dtype != DataType::kF32 || !is_8bit_integer(x->type.dtype)) return nullptr;
  if (q->attr_int("block_size", 0) != 0) return nullptr;
  const Tensor* scale = passes::constant_of(q->inputs[1]);
  if (!scale || scale->size() != 1 || scale->dtype() != DataType::kF32) return nullptr;
  const Tensor* fill = qconv.has_input(2) ? passes::constant_of(qconv.inputs[2]) : nullptr;
  if (!fill || fill->size() != 1 || fill->dtype() != x->type.dtype) return nullptr;
  int64_t zero_point = 0;
  if (q->has_input(2)) {
    const Tensor* z = passes::constant_of(q->inputs[2]);
    if (!z || z->size() != 1 || z->dtype() != x->type.dtype) return nullptr;
    zero_point = z->element_as_int64(0);
  }
  if (fill->element_as_int64(0) != zero_point) return nullptr;
  if (passes::reader_count(g, x) != 1 || passes::is_graph_output(g, x)) return nullptr;
  return q;
}

Status rewrite(Graph& g, const StemConv& s, std::set<const Node*>& absorbed) {
  Node& n = *s.node;
  Value* x = n.inputs[0];
  const Tensor& w = *passes::constant_of(n.inputs[s.w_index]);
  const int64_t c2 = (s.c + 1) / 2 * 2;  // 4 * c2 channels after space-to-depth: a multiple of 8
  const int64_t eh = s.extra_h, ew = s.extra_w;
  const Dim batch = x->type.shape[0];

  // One kiln.PaddedSpaceToDepth does Pad (C to c2, H and W by the conv's pads and the extra end row/column)
  // and SpaceToDepth, and absorbs the input's FP16 Cast or INT8 QuantizeLinear; channels_last may then make it
  // write NHWC.
  std::vector<Value*> inputs = {x};
  int64_t to = 0;
  Value* quantize_scale = nullptr;
  if (const Node* cast = absorbable_cast(g, x)) {
    inputs[0] = cast->inputs[0];
    to = static_cast<int64_t>(DataType::kF16);
    absorbed.insert(cast);
  } else if (const Node* q = s.w_index == 3 ? absorbable_quantize(g, x, n) : nullptr) {
    inputs[0] = q->inputs[0];
    to = static_cast<int64_t>(x->type.dtype);
    quantize_scale = q->inputs[1];
    absorbed.insert(q);
  }
  // Padding is the real value 0: QConv's x zero point for int8 data, 0 for float.
  if (s.w_index == 3 && n.has_input(2)) inputs.push_back(n.inputs[2]);
  if (quantize_scale) inputs.push_back(quantize_scale);
  PaddedSpaceToDepthParams p;
  p.block = kBlock;
  p.pads = {0, s.pads[0], s.pads[1], c2 - s.c, s.pads[2] + eh, s.pads[3] + ew};
  KILN_ASSIGN_OR_RETURN(const int64_t out_c, padded_space_to_depth_extent(p, 1, s.c));
  KILN_ASSIGN_OR_RETURN(const int64_t out_h, padded_space_to_depth_extent(p, 2, s.h));
  KILN_ASSIGN_OR_RETURN(const int64_t out_w, padded_space_to_depth_extent(p, 3, s.w));
  Value* packed = g.add_value(n.name + "__s2d", {x->type.dtype, Shape({batch, out_c, out_h, out_w})});
  auto s2d = make_node("PaddedSpaceToDepth", n.name + "__s2d", 1, inputs, {packed}, "kiln");
  s2d->attrs["blocksize"] = Attribute::of_int(kBlock);
  s2d->attrs["pads"] = Attribute::of_ints(std::vector<int64_t>(p.pads.begin(), p.pads.end()));
  if (to != 0) s2d->attrs["to"] = Attribute::of_int(to);
  g.add_node(std::move(s2d));
  passes::ensure_kiln_opset(g);

  Value* new_w = add_constant(g, n.inputs[s.w_index]->name + "__s2d", space_to_depth_weights(w, c2));
  n.inputs[0] = packed;
  n.inputs[s.w_index] = new_w;
  n.attrs["kernel_shape"] = Attribute::of_ints({(s.k_h + 1) / 2, (s.k_w + 1) / 2});
  n.attrs["strides"] = Attribute::of_ints({1, 1});
  n.attrs["pads"] = Attribute::of_ints({0, 0, 0, 0});
  n.attrs["dilations"] = Attribute::of_ints({1, 1});
  return {};
}

}  // namespace

Status stem_space_to_depth(Graph& graph, StemSpaceToDepthReport* report) {
  std::vector<StemConv> stems;
  for (const auto& n : graph.nodes())
    if (auto s = match(*n)) stems.push_back(*s);
  std::set<const Node*> absorbed;  // input Casts and QuantizeLinears the space-to-depth now does
  for (const StemConv& s : stems)
    KILN_RETURN_IF_ERROR(rewrite(graph, s, absorbed).with_context(s.node->describe()));
  passes::remove_nodes(graph, absorbed);
  KILN_RETURN_IF_ERROR(passes::tidy_after_rewrites(graph, stems.size()));
  if (report) report->rewritten = static_cast<int64_t>(stems.size());
  return {};
}

}  // namespace kiln
