#include "backends/cuda/cudnn_conv_shapes.h"

#include <fmt/format.h>

#include <cstring>

namespace kiln::cuda {

std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

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

Result<ConvGeometry> read_conv_geometry(const Node& node, const Tensor& w, bool nhwc) {
  ConvGeometry g;
  g.nhwc = nhwc;
  g.spatial = static_cast<size_t>(w.rank() - 2);
  g.w_dims = w.dims();
  g.group = node.attr_int("group", 1);
  if (g.group < 1 || g.w_dims[0] % g.group != 0)
    return Status::invalid_model(fmt::format("W {} does not split into group {}", w.type_string(), g.group));
  for (int64_t d : g.w_dims)
    if (d < 1) return Status::invalid_model(fmt::format("W {} has an empty axis", w.type_string()));
  auto window = read_window_attrs(node, g.spatial, Dims(g.w_dims.begin() + 2, g.w_dims.end()), false);
  if (!window.ok()) return Status::invalid_model(window.status().message());
  g.window = std::move(*window);
  return g;
}

Result<ConvShapes> conv_shapes(const ConvGeometry& g, const Dims& xd, const Dims& y_dims) {
  const size_t rank = g.spatial + 2;
  if (xd.size() != rank)
    return Status::shape_mismatch(fmt::format("X is {}, expected rank {}", dims_to_string(xd), rank));
  // X in logical [N, C, spatial...] order.
  Dims x_logical = xd;
  if (g.nhwc) x_logical = {xd[0], xd[3], xd[1], xd[2]};
  const int64_t c = x_logical[1];
  if (c != g.w_dims[1] * g.group)
    return Status::shape_mismatch(fmt::format("X has {} channels, but W {} with group {} expects {}", c,
                                              dims_to_string(g.w_dims), g.group, g.w_dims[1] * g.group));
  Dims in_spatial(x_logical.begin() + 2, x_logical.end());
  auto geo = window_geometry(g.window, in_spatial);
  if (!geo.ok()) return Status::invalid_argument(geo.status().message());
  const int64_t k = g.w_dims[0];
  Dims y_logical = {x_logical[0], k};
  y_logical.insert(y_logical.end(), geo->out.begin(), geo->out.end());
  Dims y_node = g.nhwc ? Dims{y_logical[0], y_logical[2], y_logical[3], y_logical[1]} : y_logical;
  if (y_dims != y_node)
    return Status::shape_mismatch(fmt::format("Y is {}, but the convolution of X {} gives {}", dims_to_string(y_dims),
                                              dims_to_string(xd), dims_to_string(y_node)));
  ConvShapes s;
  s.channels = k;
  s.y_count = element_count(y_logical);
  s.y_inner = element_count(Dims(y_logical.begin() + 2, y_logical.end()));
  s.x = x_logical;
  s.y = y_logical;
  s.w = g.w_dims;
  s.conv.compute = CUDNN_DATA_FLOAT;
  const size_t sp = g.spatial;
  for (size_t i = 0; i < sp; ++i) {
    s.conv.pre_pads.push_back(geo->pads[i]);
    s.conv.post_pads.push_back(geo->pads[i + sp]);
    s.conv.strides.push_back(g.window.strides[i]);
    s.conv.dilations.push_back(g.window.dilations[i]);
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
  auto strides = g.nhwc ? channels_last_strides : packed_strides;
  s.x_strides = strides(s.x);
  s.y_strides = strides(s.y);
  s.w_strides = strides(s.w);  // KRSC memory for NHWC (uploaded so), KCRS otherwise
  s.b_strides = strides(s.b);
  return s;
}

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

}  // namespace kiln::cuda
