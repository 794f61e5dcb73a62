// Decoding (stb_image), resampling and normalisation of photos into model inputs (see image.h).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "data/image.h"

namespace kiln {

namespace {

// PIL's fixed-point precision for 8-bit resampling (Resample.c).
constexpr int kPrecisionBits = 32 - 8 - 2;

// One output position of a separable resampling: input taps [first, first + weights.size()).
struct Taps {
  int first = 0;
  std::vector<double> weights;
};

std::vector<Taps> resample_taps(int in_size, int out_size, Interpolation interpolation) {
  std::vector<Taps> taps(static_cast<size_t>(out_size));
  const double scale = static_cast<double>(in_size) / out_size;
  for (int x = 0; x < out_size; ++x) {
    Taps& t = taps[static_cast<size_t>(x)];
    switch (interpolation) {
      case Interpolation::kNearest: {
        int src = std::min(static_cast<int>(std::floor((x + 0.5) * scale)), in_size - 1);
        t.first = src;
        t.weights = {1.0};
        break;
      }
      case Interpolation::kBilinear: {  // OpenCV INTER_LINEAR's index arithmetic
        double fx = (x + 0.5) * scale - 0.5;
        int sx = static_cast<int>(std::floor(fx));
        fx -= sx;
        if (sx < 0) fx = 0, sx = 0;
        if (sx >= in_size - 1) fx = 0, sx = in_size - 1;
        t.first = sx;
        t.weights = fx == 0 ? std::vector<double>{1.0} : std::vector<double>{1.0 - fx, fx};
        break;
      }
      case Interpolation::kBilinearAntialias: {  // PIL precompute_coeffs with the triangle filter
        double filterscale = std::max(scale, 1.0);
        double support = 1.0 * filterscale;
        double center = (x + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
        double ww = 0;
        t.first = xmin;
        for (int k = 0; k < xmax; ++k) {
          double d = std::fabs((k + xmin - center + 0.5) * ss);
          double w = d < 1.0 ? 1.0 - d : 0.0;
          t.weights.push_back(w);
          ww += w;
        }
        if (ww != 0.0)
          for (double& w : t.weights) w /= ww;
        break;
      }
    }
  }
  return taps;
}

// PIL's fixed-point conversion of the normalised weights.
std::vector<std::vector<int32_t>> fixed_weights(const std::vector<Taps>& taps) {
  std::vector<std::vector<int32_t>> out;
  out.reserve(taps.size());
  for (const Taps& t : taps) {
    std::vector<int32_t> k;
    for (double w : t.weights)
      k.push_back(static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits)));
    out.push_back(std::move(k));
  }
  return out;
}

uint8_t clip8(int64_t acc) {
  int64_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

// PIL's two-pass 8-bit resampler: horizontal into an 8-bit temporary, then vertical.
Image8 resize_pil_fixed(const Image8& in, int width, int height) {
  const int c = in.channels;
  Image8 tmp{width, in.height, c, std::vector<uint8_t>(static_cast<size_t>(width) * in.height * c)};
  if (width != in.width) {
    auto taps = resample_taps(in.width, width, Interpolation::kBilinearAntialias);
    auto k = fixed_weights(taps);
    for (int y = 0; y < in.height; ++y)
      for (int x = 0; x < width; ++x)
        for (int ch = 0; ch < c; ++ch) {
          int64_t acc = int64_t{1} << (kPrecisionBits - 1);
          for (size_t i = 0; i < k[x].size(); ++i)
            acc += int64_t{in.pixels[(static_cast<size_t>(y) * in.width + taps[x].first + i) * c + ch]} * k[x][i];
          tmp.pixels[(static_cast<size_t>(y) * width + x) * c + ch] = clip8(acc);
        }
  } else {
    tmp = in;
  }
  if (height == in.height) return tmp;
  Image8 out{width, height, c, std::vector<uint8_t>(static_cast<size_t>(width) * height * c)};
  auto taps = resample_taps(in.height, height, Interpolation::kBilinearAntialias);
  auto k = fixed_weights(taps);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (size_t i = 0; i < k[y].size(); ++i)
          acc += int64_t{tmp.pixels[((taps[y].first + i) * static_cast<size_t>(width) + x) * c + ch]} * k[y][i];
        out.pixels[(static_cast<size_t>(y) * width + x) * c + ch] = clip8(acc);
      }
  return out;
}

// Separable resampling in double precision (horizontal, then vertical), no intermediate rounding.
std::vector<float> resize_float(const Image8& in, int width, int height, Interpolation interpolation) {
  const int c = in.channels;
  auto tx = resample_taps(in.width, width, interpolation);
  auto ty = resample_taps(in.height, height, interpolation);
  std::vector<double> tmp(static_cast<size_t>(width) * in.height * c);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch) {
        double acc = 0;
        for (size_t i = 0; i < tx[x].weights.size(); ++i)
          acc += in.pixels[(static_cast<size_t>(y) * in.width + tx[x].first + i) * c + ch] * tx[x].weights[i];
        tmp[(static_cast<size_t>(y) * width + x) * c + ch] = acc;
      }
  std::vector<float> out(static_cast<size_t>(width) * height * c);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int ch = 0; ch < c; ++ch) {
        double acc = 0;
        for (size_t i = 0; i < ty[y].weights.size(); ++i)
          acc += tmp[((ty[y].first + i) * static_cast<size_t>(width) + x) * c + ch] * ty[y].weights[i];
        out[(static_cast<size_t>(y) * width + x) * c + ch] = static_cast<float>(acc);
      }
  return out;
}

// PIL's Image.convert("L").
Image8 to_gray(const Image8& in) {
  if (in.channels == 1) return in;
  Image8 out{in.width, in.height, 1, std::vector<uint8_t>(static_cast<size_t>(in.width) * in.height)};
  for (size_t i = 0; i < out.pixels.size(); ++i) {
    const uint8_t* p = &in.pixels[i * in.channels];
    out.pixels[i] = static_cast<uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
  }
  return out;
}

Image8 crop(const Image8& in, int left, int top, int width, int height) {
  Image8 out{width, height, in.channels, std::vector<uint8_t>(static_cast<size_t>(width) * height * in.channels)};
  for (int y = 0; y < height; ++y)
    std::memcpy(&out.pixels[static_cast<size_t>(y) * width * in.channels],
                &in.pixels[(static_cast<size_t>(y + top) * in.width + left) * in.channels],
                static_cast<size_t>(width) * in.channels);
  return out;
}

template <typename T>
T saturate_round(float v) {
  float lo = static_cast<float>(std::numeric_limits<T>::min()), hi = static_cast<float>(std::numeric_limits<T>::max());
  if (std::isnan(v)) return 0;
  return static_cast<T>(std::clamp(std::round(v), lo, hi));
}

}  // namespace

Image8 resize_image(const Image8& image, int width, int height, Interpolation interpolation) {
  if (width == image.width && height == image.height) return image;
  if (interpolation == Interpolation::kBilinearAntialias) return resize_pil_fixed(image, width, height);
  std::vector<float> f = resize_float(image, width, height, interpolation);
  Image8 out{width, height, image.channels, std::vector<uint8_t>(f.size())};
  for (size_t i = 0; i < f.size(); ++i) out.pixels[i] = static_cast<uint8_t>(std::clamp(std::lround(f[i]), 0L, 255L));
  return out;
}

Result<Image8> decode_image(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found(fmt::format("image file {} does not exist", path));
  if (std::filesystem::is_directory(path, ec))
    return Status::invalid_argument(fmt::format("image file {} is a folder, not an image", path));
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return Status::io_error(fmt::format("cannot read image file {}: {}", path, std::strerror(errno)));
  if (std::filesystem::file_size(path, ec) == 0)
    return Status::invalid_argument(fmt::format("image file {} is empty (0 bytes)", path));
  int w = 0, h = 0, n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_file(file.get(), &w, &h, &n, 3), &stbi_image_free);
  if (!pixels) {
    if (std::ferror(file.get()))
      return Status::io_error(fmt::format("cannot read image file {}: {}", path, std::strerror(errno)));
    return Status::invalid_argument(
        fmt::format("{} is not an image kiln can decode (JPEG, PNG, BMP, ...): {}", path, stbi_failure_reason()));
  }
  if (w <= 0 || h <= 0) return Status::invalid_argument(fmt::format("image file {} has zero size ({}x{})", path, w, h));
  Image8 image{w, h, 3, {}};
  image.pixels.assign(pixels.get(), pixels.get() + static_cast<size_t>(w) * h * 3);
  return image;
}

Result<Tensor> preprocess_image(const Image8& image, const PreprocessSpec& spec, int64_t height, int64_t width) {
  KILN_RETURN_IF_ERROR(validate(spec));
  if (height <= 0 || width <= 0 || height > 1 << 15 || width > 1 << 15)
    return Status::invalid_argument(fmt::format("target image size {}x{} (HxW) is not in 1..32768", height, width));
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3))
    return Status::invalid_argument(fmt::format("image of {}x{}x{} cannot be preprocessed", image.width, image.height,
                                                image.channels));
  const int H = static_cast<int>(height), W = static_cast<int>(width);
  Image8 src = spec.channels == Channels::kGray ? to_gray(image) : image;

  // Resize geometry: (rw, rh) the resized size, (left, top) the crop offset within it.
  int rw = W, rh = H, left = 0, top = 0;
  if (spec.resize == ResizeMode::kShorterSideThenCenterCrop) {
    int shorter = spec.resize_to > 0 ? spec.resize_to
                                     : static_cast<int>(std::floor(std::max(H, W) / static_cast<double>(spec.crop_fraction)));
    if (src.width <= src.height) {
      rw = shorter;
      rh = static_cast<int>(static_cast<int64_t>(shorter) * src.height / src.width);
    } else {
      rh = shorter;
      rw = static_cast<int>(static_cast<int64_t>(shorter) * src.width / src.height);
    }
    if (rw < W || rh < H)
      return Status::invalid_argument(fmt::format("resize_to {} gives {}x{} (WxH), smaller than the {}x{} crop", shorter,
                                                  rw, rh, W, H));
    // torchvision center_crop: int(round((size - crop) / 2.0)), Python's round-half-even.
    left = static_cast<int>(std::nearbyint((rw - W) / 2.0));
    top = static_cast<int>(std::nearbyint((rh - H) / 2.0));
  }

  const int c = src.channels;
  std::vector<float> pixels;  // H×W×c, 0..255
  if (spec.round_resized || (rw == src.width && rh == src.height)) {
    Image8 r = resize_image(src, rw, rh, spec.interpolation);
    if (left || top || rw != W || rh != H) r = crop(r, left, top, W, H);
    pixels.assign(r.pixels.begin(), r.pixels.end());
  } else {
    std::vector<float> r = resize_float(src, rw, rh, spec.interpolation);
    pixels.resize(static_cast<size_t>(W) * H * c);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int ch = 0; ch < c; ++ch)
          pixels[(static_cast<size_t>(y) * W + x) * c + ch] = r[((static_cast<size_t>(y + top)) * rw + x + left) * c + ch];
  }

  const bool bgr = spec.channels == Channels::kBGR;
  const Dims dims = spec.layout == Layout::kNCHW ? Dims{1, c, height, width} : Dims{1, height, width, c};
  Tensor out(spec.dtype, dims);
  auto mean_of = [&](int ch) { return spec.mean.size() == 1 ? spec.mean[0] : spec.mean[static_cast<size_t>(ch)]; };
  auto std_of = [&](int ch) { return spec.std.size() == 1 ? spec.std[0] : spec.std[static_cast<size_t>(ch)]; };
  for (int ch = 0; ch < c; ++ch) {  // ch: output channel
    const int from = bgr ? 2 - ch : ch;
    const float mean = mean_of(ch), sd = std_of(ch);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        float v = (pixels[(static_cast<size_t>(y) * W + x) * c + from] * spec.scale - mean) / sd;
        size_t at = spec.layout == Layout::kNCHW ? (static_cast<size_t>(ch) * H + y) * W + x
                                                 : (static_cast<size_t>(y) * W + x) * c + ch;
        switch (spec.dtype) {
          case DataType::kF32: out.data<float>()[at] = v; break;
          case DataType::kF16: out.data<Float16>()[at] = Float16(v); break;
          case DataType::kU8: out.data<uint8_t>()[at] = saturate_round<uint8_t>(v); break;
          case DataType::kI8: out.data<int8_t>()[at] = saturate_round<int8_t>(v); break;
          default: break;  // refused by validate()
        }
      }
  }
  return out;
}

Result<Tensor> load_image(const std::string& path, const PreprocessSpec& spec, int64_t height, int64_t width) {
  KILN_ASSIGN_OR_RETURN(Image8 image, decode_image(path));
  auto t = preprocess_image(image, spec, height, width);
  if (!t.ok()) return t.status().with_context(path);
  return t;
}

Result<std::vector<std::string>> list_images(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return Status::not_found(fmt::format("image folder {} does not exist", folder));
  if (!fs::is_directory(folder, ec)) return Status::invalid_argument(fmt::format("{} is not a folder", folder));
  std::vector<std::string> out;
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return Status::io_error(fmt::format("cannot list image folder {}: {}", folder, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::io_error(fmt::format("cannot list image folder {}: {}", folder, ec.message()));
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kiln
