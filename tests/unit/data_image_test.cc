// src/data: image decoding, resampling, normalisation, spec parsing, folder listing; and reproduction of the
// shared models' stored reference inputs from the photos named in their SOURCE.txt.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "onnx/tensor_proto.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path shared_dir() { return fs::path(__FILE__).parent_path() / "../../../shared"; }

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::path(testing::TempDir()) / ("kiln_data_test_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Writes an RGB (or grey) image as PNG (lossless) and returns its path.
std::string write_png(const fs::path& path, int w, int h, int c, const std::vector<uint8_t>& pixels) {
  EXPECT_NE(stbi_write_png(path.string().c_str(), w, h, c, pixels.data(), w * c), 0);
  return path.string();
}

struct Diff {
  double max_abs = 0;
  int64_t count = 0;  // elements differing by more than 1e-6
};

Diff diff(const Tensor& a, const Tensor& b) {
  Diff d;
  EXPECT_EQ(a.dims(), b.dims());
  EXPECT_EQ(a.dtype(), b.dtype());
  if (a.dims() != b.dims()) return {1e30, a.size()};
  for (int64_t i = 0; i < a.size(); ++i) {
    double e = std::fabs(a.element_as_double(i) - b.element_as_double(i));
    d.max_abs = std::max(d.max_abs, e);
    d.count += e > 1e-6;
  }
  return d;
}

// ---- resampling -------------------------------------------------------------------------------------------

TEST(DataResize, BilinearUpsampleUsesPixelCentres) {
  Image8 in{2, 1, 1, {0, 100}};
  Image8 out = resize_image(in, 4, 1, Interpolation::kBilinear);
  // src x = (dst + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
}

TEST(DataResize, BilinearDownsampleHasNoAntialias) {
  Image8 in{4, 1, 1, {0, 100, 200, 40}};
  // src x = 0.5 and 2.5: the midpoints, no wider filter.
  EXPECT_EQ(resize_image(in, 2, 1, Interpolation::kBilinear).pixels, (std::vector<uint8_t>{50, 120}));
}

TEST(DataResize, AntialiasMatchesPilTriangleFilter) {
  Image8 in{4, 1, 1, {0, 100, 200, 40}};
  // PIL: support 2, weights (0.75, 0.75, 0.25)/1.75 and (0.25, 0.75, 0.75)/1.75.
  EXPECT_EQ(resize_image(in, 2, 1, Interpolation::kBilinearAntialias).pixels, (std::vector<uint8_t>{71, 117}));
  // Vertical pass too, and channels stay apart.
  Image8 col{1, 4, 2, {0, 7, 100, 7, 200, 7, 40, 7}};
  EXPECT_EQ(resize_image(col, 1, 2, Interpolation::kBilinearAntialias).pixels, (std::vector<uint8_t>{71, 7, 117, 7}));
}

TEST(DataResize, Nearest) {
  Image8 in{4, 1, 1, {0, 100, 200, 40}};
  EXPECT_EQ(resize_image(in, 2, 1, Interpolation::kNearest).pixels, (std::vector<uint8_t>{100, 40}));
  EXPECT_EQ(resize_image(in, 8, 1, Interpolation::kNearest).pixels,
            (std::vector<uint8_t>{0, 0, 100, 100, 200, 200, 40, 40}));
}

TEST(DataResize, ConstantImageStaysConstant) {
  Image8 in{37, 23, 3, std::vector<uint8_t>(37 * 23 * 3, 77)};
  for (auto interp : {Interpolation::kBilinear, Interpolation::kBilinearAntialias, Interpolation::kNearest})
    for (auto [w, h] : {std::pair{5, 9}, std::pair{100, 61}, std::pair{37, 1}}) {
      Image8 out = resize_image(in, w, h, interp);
      ASSERT_EQ(out.pixels.size(), static_cast<size_t>(w * h * 3));
      for (uint8_t v : out.pixels) ASSERT_EQ(v, 77);
    }
}

// ---- the pipeline -------------------------------------------------------------------------------------------

TEST(DataPreprocess, ChannelOrderLayoutScaleMeanStd) {
  // 2x1 image: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60).
  Image8 in{2, 1, 3, {10, 20, 30, 40, 50, 60}};
  PreprocessSpec s;
  s.scale = 0.5f;
  s.mean = {1, 2, 3};
  s.std = {2, 4, 8};
  auto rgb = preprocess_image(in, s, 1, 2);
  ASSERT_TRUE(rgb.ok()) << rgb.status().message();
  EXPECT_EQ(rgb->dims(), (Dims{1, 3, 1, 2}));
  // NCHW: channel R = (10*0.5-1)/2, (40*0.5-1)/2; G = (10-2)/4, (25-2)/4; B = (15-3)/8, (30-3)/8.
  std::vector<float> want = {2, 9.5f, 2, 5.75f, 1.5f, 3.375f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(rgb->data<float>()[i], want[i]) << i;

  s.channels = Channels::kBGR;
  s.layout = Layout::kNHWC;
  auto bgr = preprocess_image(in, s, 1, 2);
  ASSERT_TRUE(bgr.ok());
  EXPECT_EQ(bgr->dims(), (Dims{1, 1, 2, 3}));
  // Output channel 0 is blue now, normalised with mean[0]/std[0].
  std::vector<float> want_bgr = {(15 - 1) / 2.f, (10 - 2) / 4.f, (5 - 3) / 8.f, (30 - 1) / 2.f, (25 - 2) / 4.f, (20 - 3) / 8.f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(bgr->data<float>()[i], want_bgr[i]) << i;
}

TEST(DataPreprocess, OutputDtypes) {
  Image8 in{2, 1, 3, {0, 128, 255, 1, 2, 3}};
  PreprocessSpec s;
  s.dtype = DataType::kU8;
  auto u8 = preprocess_image(in, s, 1, 2);
  ASSERT_TRUE(u8.ok());
  EXPECT_EQ(u8->dtype(), DataType::kU8);
  EXPECT_EQ(u8->data<uint8_t>()[1], 1);    // R of pixel 1
  EXPECT_EQ(u8->data<uint8_t>()[4], 255);  // B of pixel 0

  s.dtype = DataType::kI8;
  s.mean = {128};
  auto i8 = preprocess_image(in, s, 1, 2);
  ASSERT_TRUE(i8.ok());
  EXPECT_EQ(i8->data<int8_t>()[0], -128);  // 0 - 128
  EXPECT_EQ(i8->data<int8_t>()[4], 127);   // 255 - 128
  EXPECT_EQ(i8->data<int8_t>()[2], 0);     // 128 - 128

  s.dtype = DataType::kF16;
  s.scale = 1 / 255.0f;
  s.mean = {0};
  auto f16 = preprocess_image(in, s, 1, 2);
  ASSERT_TRUE(f16.ok());
  EXPECT_EQ(f16->dtype(), DataType::kF16);
  EXPECT_NEAR(static_cast<float>(f16->data<Float16>()[2]), 128 / 255.0f, 1e-3);

  s.dtype = DataType::kI32;
  EXPECT_FALSE(preprocess_image(in, s, 1, 2).ok());
}

TEST(DataPreprocess, GrayIsPilLuma) {
  Image8 in{3, 1, 3, {255, 0, 0, 0, 255, 0, 10, 20, 30}};
  PreprocessSpec s;
  s.channels = Channels::kGray;
  auto g = preprocess_image(in, s, 1, 3);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->dims(), (Dims{1, 1, 1, 3}));
  // PIL convert("L"): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
  EXPECT_EQ(g->data<float>()[0], 76);
  EXPECT_EQ(g->data<float>()[1], 150);
  EXPECT_EQ(g->data<float>()[2], 18);
}

TEST(DataPreprocess, ShorterSideThenCenterCrop) {
  // 8 wide, 4 high; each pixel's value is its column * 10 + row.
  Image8 in{8, 4, 1, {}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) in.pixels.push_back(static_cast<uint8_t>(x * 10 + y));
  PreprocessSpec s;
  s.channels = Channels::kGray;
  s.resize = ResizeMode::kShorterSideThenCenterCrop;
  s.resize_to = 4;  // no resampling: 8x4 stays, crop the centre 4x4 → columns 2..5
  auto t = preprocess_image(in, s, 4, 4);
  ASSERT_TRUE(t.ok()) << t.status().message();
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(t->data<float>()[y * 4 + x], (x + 2) * 10 + y);
  // resize_to 0 with crop_fraction 0.5: shorter side 4 / 0.5 = 8, image becomes 16x8, crop 4x4 at (6, 2).
  s.resize_to = 0;
  s.crop_fraction = 0.5f;
  s.interpolation = Interpolation::kNearest;
  t = preprocess_image(in, s, 4, 4);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data<float>()[0], 30 + 1);  // resized (6, 2) ← source (3, 1)
  // A crop larger than the resized image is refused.
  s.resize_to = 2;
  EXPECT_FALSE(preprocess_image(in, s, 4, 4).ok());
}

// ---- files --------------------------------------------------------------------------------------------------

TEST(DataLoad, PngRoundTripAndErrors) {
  fs::path dir = temp_dir("load");
  std::vector<uint8_t> px;
  for (int i = 0; i < 6 * 4; ++i) px.insert(px.end(), {static_cast<uint8_t>(i), static_cast<uint8_t>(2 * i), 7});
  std::string png = write_png(dir / "a.png", 6, 4, 3, px);
  auto t = load_image(png, *preprocess_preset("nhwc_u8"), 4, 4);  // shorter side floor(4/0.875) = 4: crop only
  ASSERT_TRUE(t.ok()) << t.status().message();
  PreprocessSpec raw;
  raw.layout = Layout::kNHWC;
  raw.dtype = DataType::kU8;
  t = load_image(png, raw, 4, 6);  // same size: pixels unchanged
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::vector<uint8_t>(t->data<uint8_t>(), t->data<uint8_t>() + t->size()), px);

  auto missing = load_image((dir / "nope.jpg").string(), raw, 4, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.jpg"), std::string::npos);

  std::ofstream(dir / "text.jpg") << "this is not a JPEG";
  auto not_image = load_image((dir / "text.jpg").string(), raw, 4, 4);
  ASSERT_FALSE(not_image.ok());
  EXPECT_NE(not_image.status().message().find("text.jpg"), std::string::npos);
  EXPECT_NE(not_image.status().message().find("not an image"), std::string::npos);

  std::ofstream(dir / "empty.png").close();
  auto empty = load_image((dir / "empty.png").string(), raw, 4, 4);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty.png"), std::string::npos);
  EXPECT_NE(empty.status().message().find("0 bytes"), std::string::npos);

  auto folder = load_image(dir.string(), raw, 4, 4);
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.status().message().find("folder"), std::string::npos);

  auto bad_size = load_image(png, raw, 0, 4);
  ASSERT_FALSE(bad_size.ok());
  EXPECT_NE(bad_size.status().message().find("a.png"), std::string::npos);
}

TEST(DataLoad, ListImagesIsRecursiveAndSorted) {
  fs::path dir = temp_dir("list");
  fs::create_directories(dir / "sub" / "deeper");
  for (const char* name : {"b.JPG", "a.png", "c.txt", "sub/z.bmp", "sub/deeper/y.jpeg", "sub/notes.md"})
    std::ofstream(dir / name) << "x";
  auto list = list_images(dir.string());
  ASSERT_TRUE(list.ok()) << list.status().message();
  std::vector<std::string> want = {(dir / "a.png").string(), (dir / "b.JPG").string(),
                                   (dir / "sub/deeper/y.jpeg").string(), (dir / "sub/z.bmp").string()};
  EXPECT_EQ(*list, want);
  auto missing = list_images((dir / "missing").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
  EXPECT_FALSE(list_images((dir / "a.png").string()).ok());
}

// ---- spec parsing -------------------------------------------------------------------------------------------

TEST(DataSpec, PresetsParseAndRoundTrip) {
  for (const std::string& name : preprocess_preset_names()) {
    auto p = preprocess_preset(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_TRUE(validate(*p).ok()) << name;
    auto again = parse_preprocess_string(to_string(*p));
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(to_string(*again), to_string(*p));
    auto by_name = parse_preprocess_string(name);
    ASSERT_TRUE(by_name.ok());
    EXPECT_EQ(to_string(*by_name), to_string(*p));
  }
  auto none = preprocess_preset("resnet_magic");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("resnet_magic"), std::string::npos);
  EXPECT_NE(none.status().message().find("imagenet_bgr_mean"), std::string::npos);  // lists the presets
}

TEST(DataSpec, CompactString) {
  auto s = parse_preprocess_string("ultraface,dtype=f16,layout=nhwc");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->dtype, DataType::kF16);
  EXPECT_EQ(s->layout, Layout::kNHWC);
  EXPECT_EQ(s->mean, std::vector<float>{127});
  s = parse_preprocess_string("resize=crop,resize_to=256,interpolation=bilinear,channels=bgr,scale=0.5,mean=1/2/3,std=4");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->resize, ResizeMode::kShorterSideThenCenterCrop);
  EXPECT_EQ(s->resize_to, 256);
  EXPECT_EQ(s->interpolation, Interpolation::kBilinear);
  EXPECT_EQ(s->channels, Channels::kBGR);
  EXPECT_EQ(s->scale, 0.5f);
  EXPECT_EQ(s->mean, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(s->std, std::vector<float>{4});

  auto bad_key = parse_preprocess_string("colour=rgb");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("colour"), std::string::npos);
  auto bad_value = parse_preprocess_string("layout=chw");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("layout"), std::string::npos);
  EXPECT_FALSE(parse_preprocess_string("mean=1/2").ok());        // 2 values for 3 channels
  EXPECT_FALSE(parse_preprocess_string("std=0").ok());
  EXPECT_FALSE(parse_preprocess_string("scale=abc").ok());
  EXPECT_FALSE(parse_preprocess_string("dtype=f16,ultraface").ok());  // preset must come first
  EXPECT_FALSE(parse_preprocess_string("").ok());
  EXPECT_TRUE(parse_preprocess_string("channels=gray,mean=0.5").ok());
}

TEST(DataSpec, JsonAndFile) {
  auto s = parse_preprocess_json(R"({"preset": "imagenet", "resize_to": 232, "dtype": "f16", "mean": [1, 2, 3],
                                     "std": 2, "round_resized": false, "interpolation": "nearest"})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->resize, ResizeMode::kShorterSideThenCenterCrop);  // from the preset
  EXPECT_EQ(s->resize_to, 232);
  EXPECT_EQ(s->dtype, DataType::kF16);
  EXPECT_EQ(s->mean, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(s->std, std::vector<float>{2});
  EXPECT_FALSE(s->round_resized);
  EXPECT_EQ(s->interpolation, Interpolation::kNearest);

  auto unknown = parse_preprocess_json(R"({"sclae": 2})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("sclae"), std::string::npos);
  EXPECT_FALSE(parse_preprocess_json(R"({"mean": "1/2/3"})").ok());
  EXPECT_FALSE(parse_preprocess_json(R"({"mean": [1, "x", 3]})").ok());
  EXPECT_FALSE(parse_preprocess_json("[1, 2]").ok());
  EXPECT_FALSE(parse_preprocess_json("{not json").ok());

  fs::path dir = temp_dir("json");
  std::ofstream(dir / "spec.json") << R"({"channels": "bgr", "mean": [104, 117, 123]})";
  auto f = load_preprocess_file((dir / "spec.json").string());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->channels, Channels::kBGR);
  std::ofstream(dir / "bad.json") << R"({"layout": "hwc"})";
  auto bad = load_preprocess_file((dir / "bad.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos);
  auto missing = load_preprocess_file((dir / "missing.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.json"), std::string::npos);
}

// ---- the shared models' stored inputs -----------------------------------------------------------------------
//
// Each shared model's test_data_set_0/input_0.pb was made (SOURCE.txt) from a shared photo. Measured here:
//   squeezenet1.0          kitten_224.png (PNG)  "imagenet_bgr_mean": max |diff| 0 (exact; shorter side 256,
//                          centre crop 224, PIL bilinear — the photo is already 224², so the stored input is a
//                          zoomed crop, not the photo itself)
//   st_mobilenet_v1 quant  kitten_224.png (PNG)  "nhwc_u8": max |diff| 0 (exact; shorter side 146, crop 128)
//   st_mobilenet_v2 flowers tulip.jpg (JPEG)     "rgb_01" (SOURCE: nchw_01): max |diff| 1/255 on 931 of 49152
//   ultraface              5.jpg (JPEG)          "ultraface": max |diff| 1/128 on 13239 of 230400
// The JPEG residual is stb_image's decoder against libjpeg-turbo (what PIL uses), not the resampling: the
// same pipeline on pixels decoded by libjpeg reproduces both JPEG inputs to 6e-8 (float rounding of x/255).

struct StoredInput {
  const char* model;
  const char* image;
  const char* preset;
  double max_abs;        // bound on max |diff|
  double max_fraction;   // bound on the fraction of elements that differ
};

TEST(DataPresets, ReproduceStoredInputs) {
  if (!fs::exists(shared_dir() / "models")) GTEST_SKIP() << "no shared models at " << shared_dir();
  for (StoredInput c : {StoredInput{"squeezenet1.0", "winml/kitten_224.png", "imagenet_bgr_mean", 0, 0},
                        StoredInput{"st_mobilenet_v1_0.5_128_quant", "winml/kitten_224.png", "nhwc_u8", 0, 0},
                        StoredInput{"st_mobilenet_v2_0.35_128_flowers_fp32", "ort_examples/tulip.jpg", "rgb_01",
                                    1 / 255.0 + 1e-6, 0.03},
                        StoredInput{"ultraface", "faces/5.jpg", "ultraface", 1 / 128.0 + 1e-6, 0.08}}) {
    SCOPED_TRACE(c.model);
    fs::path dir = shared_dir() / "models" / c.model / "test_data_set_0";
    std::ifstream source(dir / "SOURCE.txt");
    std::string line;
    std::getline(source, line);
    EXPECT_NE(line.find(fs::path(c.image).filename().string()), std::string::npos) << line;
    auto ref = read_tensor_pb((dir / "input_0.pb").string());
    ASSERT_TRUE(ref.ok()) << ref.status().message();
    bool nchw = ref->dims()[1] == 3;
    int64_t h = ref->dims()[nchw ? 2 : 1], w = ref->dims()[nchw ? 3 : 2];
    auto spec = preprocess_preset(c.preset);
    ASSERT_TRUE(spec.ok());
    auto mine = load_image((shared_dir() / "images" / c.image).string(), *spec, h, w);
    ASSERT_TRUE(mine.ok()) << mine.status().message();
    Diff d = diff(*mine, *ref);
    EXPECT_LE(d.max_abs, c.max_abs);
    EXPECT_LE(static_cast<double>(d.count) / ref->size(), c.max_fraction) << d.count << " of " << ref->size();
    std::printf("%s: max |diff| %.3g on %ld of %ld elements\n", c.model, d.max_abs, static_cast<long>(d.count),
                static_cast<long>(ref->size()));
  }
}

TEST(DataPresets, WrongPresetIsFarOff) {
  // The check above can fail: the README's flowers normalisation (RGB/127.5 − 1) and an un-cropped SqueezeNet
  // input are far from the stored tensors.
  if (!fs::exists(shared_dir() / "models")) GTEST_SKIP();
  auto ref = read_tensor_pb((shared_dir() / "models/st_mobilenet_v2_0.35_128_flowers_fp32/test_data_set_0/input_0.pb").string());
  ASSERT_TRUE(ref.ok());
  auto t = load_image((shared_dir() / "images/ort_examples/tulip.jpg").string(), *preprocess_preset("mobilenet_flowers"), 128, 128);
  ASSERT_TRUE(t.ok());
  EXPECT_GT(diff(*t, *ref).max_abs, 0.5);
  auto sq = read_tensor_pb((shared_dir() / "models/squeezenet1.0/test_data_set_0/input_0.pb").string());
  ASSERT_TRUE(sq.ok());
  auto spec = *preprocess_preset("imagenet_bgr_mean");
  spec.resize = ResizeMode::kDirect;
  auto direct = load_image((shared_dir() / "images/winml/kitten_224.png").string(), spec, 224, 224);
  ASSERT_TRUE(direct.ok());
  EXPECT_GT(diff(*direct, *sq).max_abs, 100);
}

TEST(DataPresets, AllSharedPhotosLoad) {
  if (!fs::exists(shared_dir() / "images")) GTEST_SKIP();
  auto list = list_images((shared_dir() / "images").string());
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_GE(list->size(), 41u);
  EXPECT_TRUE(std::is_sorted(list->begin(), list->end()));
  auto spec = *preprocess_preset("gray_255");
  for (const std::string& path : *list) {
    auto t = load_image(path, spec, 28, 28);
    ASSERT_TRUE(t.ok()) << path << ": " << t.status().message();
    EXPECT_EQ(t->dims(), (Dims{1, 1, 28, 28}));
  }
}

}  // namespace
}  // namespace kiln
