// Depthwise 3x3 convolutions (bias + ReLU6) on oneDNN 2.6 in NHWC vs the blocked nChw16c / nChw8c layouts,
// at MobileNetV2 shapes: whether a blocked activation layout would speed up its depthwise layers.
//
//   g++ -O2 -std=c++17 bench/onednn_dw_layout_probe.cc -ldnnl -o /tmp/dw && /tmp/dw
//
// Prints the median of 15 runs per shape and layout, and the implementation oneDNN chose.
#include <oneapi/dnnl/dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag; using dt = memory::data_type;
double time_it(const std::function<void()>& f) {
  std::vector<double> v; for (int i = 0; i < 15; ++i) { auto s = std::chrono::steady_clock::now(); f(); v.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count()); }
  std::sort(v.begin(), v.end()); return v[v.size()/2];
}
int main() {
  engine eng(engine::kind::cpu, 0); stream s(eng);
  struct Sh { int n, h, w, c, stride; };
  for (Sh sh : {Sh{16, 56, 56, 144, 1}, Sh{16, 112, 112, 96, 2}, Sh{16, 28, 28, 192, 1}, Sh{1, 56, 56, 144, 1}, Sh{16,14,14,384,1}}) {
    for (tag t : {tag::nhwc, tag::nChw16c, tag::nChw8c}) {
      const int oh = (sh.h + 2 - 3) / sh.stride + 1, ow = (sh.w + 2 - 3) / sh.stride + 1;
      memory::desc src({sh.n, sh.c, sh.h, sh.w}, dt::f32, t), dst({sh.n, sh.c, oh, ow}, dt::f32, t);
      memory::desc w({sh.c, 1, 1, 3, 3}, dt::f32, tag::any), b({sh.c}, dt::f32, tag::a);
      post_ops po; po.append_eltwise(1.f, algorithm::eltwise_clip_v2, 0.f, 6.f); primitive_attr attr; attr.set_post_ops(po);
      try {
        auto pd = convolution_forward::primitive_desc(convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src, w, b, dst, {sh.stride, sh.stride}, {1, 1}, {1, 1}), attr, eng);
        memory ms(src, eng), md(dst, eng), mw(pd.weights_desc(), eng), mb(b, eng);
        std::fill((float*)ms.get_data_handle(), (float*)ms.get_data_handle() + src.get_size() / 4, 0.5f);
        convolution_forward cv(pd);
        double tm = time_it([&]{ cv.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, md}}); s.wait(); });
        const char* impl = nullptr; dnnl_primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &impl);
        std::printf("%dx%dx%dx%d s%d %s: %.3f ms (%s)\n", sh.n, sh.h, sh.w, sh.c, sh.stride, t == tag::nhwc ? "nhwc" : t == tag::nChw16c ? "nChw16c" : "nChw8c", tm, impl);
      } catch (const dnnl::error& e) { std::printf("error %s\n", e.what()); }
    }
  }
}
