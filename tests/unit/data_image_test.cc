#include <gtest/gtest.h>
#include <filesystem>
#include <cmath>
#include "data/image.h"
#include "onnx/tensor_proto.h"
using namespace kiln;
static std::filesystem::path shared() { return std::filesystem::path(__FILE__).parent_path() / "../../../shared"; }
double maxdiff(const Tensor& a, const Tensor& b) {
  if (a.dims() != b.dims()) return 1e30;
  double m = 0; for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a.element_as_double(i) - b.element_as_double(i)));
  return m;
}
TEST(Probe, Zoom) {
  auto ref = read_tensor_pb((shared() / "models/st_mobilenet_v1_0.5_128_quant/test_data_set_0/input_0.pb").string());
  for (int r = 128; r <= 224; r += 1)
    for (auto interp : {Interpolation::kBilinear, Interpolation::kBilinearAntialias}) {
      auto s = *preprocess_preset("nhwc_u8"); s.interpolation = interp; s.resize = ResizeMode::kShorterSideThenCenterCrop; s.resize_to = r;
      auto t = load_image((shared() / "images/winml/kitten_224.png").string(), s, 128, 128);
      double sum = 0; for (int64_t i = 0; i < t->size(); ++i) sum += std::fabs(t->element_as_double(i) - ref->element_as_double(i));
      printf("r=%d interp=%d max=%g mean=%g\n", r, (int)interp, maxdiff(*t, *ref), sum / t->size());
    }
}
TEST(Probe, Variants) {
  struct C { const char* model; const char* image; const char* preset; };
  for (C c : {C{"squeezenet1.0", "winml/kitten_224.png", "imagenet_bgr_mean"}, C{"st_mobilenet_v1_0.5_128_quant", "winml/kitten_224.png", "nhwc_u8"},
              C{"st_mobilenet_v2_0.35_128_flowers_fp32", "ort_examples/tulip.jpg", "rgb_01"}, C{"ultraface", "faces/5.jpg", "ultraface"}}) {
    auto ref = read_tensor_pb((shared() / "models" / c.model / "test_data_set_0/input_0.pb").string());
    ASSERT_TRUE(ref.ok());
    int64_t H = ref->dims()[ref->dims()[1] == 3 ? 2 : 1], W = ref->dims()[ref->dims()[1] == 3 ? 3 : 2];
    for (auto interp : {Interpolation::kBilinear, Interpolation::kBilinearAntialias, Interpolation::kNearest})
      for (auto mode : {ResizeMode::kDirect, ResizeMode::kShorterSideThenCenterCrop})
        for (bool round : {true, false}) {
          auto s = *preprocess_preset(c.preset);
          s.interpolation = interp; s.resize = mode; s.round_resized = round;
          auto t = load_image((shared() / "images" / c.image).string(), s, H, W);
          ASSERT_TRUE(t.ok()) << t.status().message();
          double m = maxdiff(*t, *ref); int64_t n = 0;
          for (int64_t i = 0; i < t->size(); ++i) n += std::fabs(t->element_as_double(i) - ref->element_as_double(i)) > 1e-6;
          printf("%s %s interp=%d mode=%d round=%d maxdiff=%g ndiff=%ld/%ld\n", c.model, c.image, (int)interp, (int)mode, round, m, n, t->size());
        }
  }
}
#include <fstream>
TEST(Probe, Libjpeg) {
  struct C { const char* raw; int w, h; const char* model; const char* preset; int H, W; };
  for (C c : {C{"/tmp/probe/tulip.rgb", 500, 333, "st_mobilenet_v2_0.35_128_flowers_fp32", "rgb_01", 128, 128}, C{"/tmp/probe/face5.rgb", 1024, 769, "ultraface", "ultraface", 240, 320}}) {
    std::ifstream f(c.raw, std::ios::binary); Image8 im{c.w, c.h, 3, std::vector<uint8_t>(size_t(c.w) * c.h * 3)};
    f.read(reinterpret_cast<char*>(im.pixels.data()), im.pixels.size());
    auto ref = read_tensor_pb((shared() / "models" / c.model / "test_data_set_0/input_0.pb").string());
    auto t = preprocess_image(im, *preprocess_preset(c.preset), c.H, c.W);
    printf("%s libjpeg maxdiff=%g\n", c.model, maxdiff(*t, *ref));
  }
}
