// All implementations oneDNN offers for a 1x1 convolution with a fused 3x3 depthwise post-op (post_ops::append_dw), timed.
//   g++ -O2 -std=c++17 bench/onednn_dw_fusion_probe.cc -ldnnl -o /tmp/dw_probe && OMP_NUM_THREADS=2 /tmp/dw_probe C K H STRIDE
// Result on this machine (docs/roadmap.md): only ref_fused_convolution (the two primitives back to back) for
// stride 1, no implementation at all for stride 2 — no real fusion in oneDNN 2.6 here.
#include <oneapi/dnnl/dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <unordered_map>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
double time_ms(std::function<void()> f) {
  for (int i = 0; i < 20; ++i) f();
  std::vector<double> t;
  for (int r = 0; r < 200; ++r) { auto a = std::chrono::steady_clock::now(); f(); t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count()); }
  std::sort(t.begin(), t.end()); return t[t.size() / 2];
}
int main(int argc, char** argv) {
  engine eng(engine::kind::cpu, 0); stream s(eng);
  if (argc < 5) { printf("usage: %s C K H STRIDE\n", argv[0]); return 2; }
  int N = 1, C = atoi(argv[1]), K = atoi(argv[2]), H = atoi(argv[3]), stride = atoi(argv[4]);
  int Ho = (H + 2 - 3) / stride + 1;
  memory::desc src({N, C, H, H}, dt::f32, tag::any), wei({K, C, 1, 1}, dt::f32, tag::any), bia({K}, dt::f32, tag::x);
  memory::desc dst({N, K, Ho, Ho}, dt::f32, tag::any);
  post_ops po;
  po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f);
  po.append_dw(dt::f32, dt::f32, dt::f32, 3, stride, 1, 0, {});
  po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 6.f);
  primitive_attr attr; attr.set_post_ops(po);
  try {
    auto d = convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src, wei, bia, dst, {1, 1}, {0, 0}, {0, 0});
    auto pd = convolution_forward::primitive_desc(d, attr, eng);
    do {
      memory msrc(pd.src_desc(), eng), mw(pd.weights_desc(), eng), mb(bia, eng), mdst(pd.dst_desc(), eng);
      memory mdw(pd.query_md(query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS), eng), mdwb(memory::desc({K}, dt::f32, tag::x), eng);
      convolution_forward conv(pd);
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, msrc}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, mdst},
        {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, mdw}, {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, mdwb}};
      printf("C=%d K=%d H=%d s=%d  %-70s %.4f ms\n", C, K, H, stride, pd.impl_info_str(), time_ms([&] { conv.execute(s, args); s.wait(); }));
    } while (pd.next_impl());
  } catch (const error& e) { printf("C=%d K=%d H=%d s=%d: %s\n", C, K, H, stride, e.what()); }
}
