// Image loading and preprocessing: photo file → one model-ready input tensor.
//
//   kiln::Result<kiln::PreprocessSpec> spec = kiln::preprocess_preset("imagenet_bgr_mean");   // SqueezeNet
//   kiln::Result<kiln::Tensor> x = kiln::load_image("kitten.jpg", *spec, 224, 224);           // f32[1x3x224x224]
//
// The pipeline, in this order:
//   1. decode (stb_image: JPEG baseline/progressive, PNG, BMP, GIF, TGA, PSD, PNM) to 8-bit RGB; grey images are
//      replicated to RGB, an alpha channel is dropped (not composited: RGBA PNGs keep their stored colours);
//   2. grey models only (Channels::kGray): convert to 8-bit luma L = round(0.299 R + 0.587 G + 0.114 B) — PIL's
//      Image.convert("L") (ITU-R 601-2, the same Y as PIL's YCbCr), computed exactly as PIL does;
//   3. resize (ResizeMode) with Interpolation, to an 8-bit image when `round_resized` (as PIL and OpenCV do on
//      8-bit images), else kept in float;
//   4. per channel c, in the model's channel order: out = (pixel * scale - mean[c]) / std[c];
//   5. convert to the output dtype (f32, f16: round to nearest even; u8, i8: round half away from zero and
//      saturate) and lay out as [1,C,H,W] (NCHW) or [1,H,W,C] (NHWC).
//
// Resampling conventions (Interpolation):
//   - kBilinear: pixel-centre aligned bilinear (src = (dst + 0.5) * in/out - 0.5, clamped at the borders),
//     NO antialiasing — the convention of OpenCV's cv::resize INTER_LINEAR, PyTorch's
//     F.interpolate(mode="bilinear", align_corners=False) and torchvision's resize(antialias=False). Weights are
//     computed in double and the result rounded to the nearest 8-bit value; OpenCV's 8-bit path uses 11-bit
//     fixed-point weights, so it can differ from ours by ±1 in a few pixels.
//   - kBilinearAntialias: PIL's Image.resize(size, Image.BILINEAR) (also torchvision's resize on PIL images
//     and on tensors with antialias=True): a triangle filter whose support widens by the downscale factor,
//     separable, horizontal pass first, each pass rounded to 8 bits with PIL's 22-bit fixed-point weights,
//     so it reproduces PIL bit for bit (checked against the shared models' stored inputs, see the unit test).
//   - kNearest: src = floor((dst + 0.5) * in/out) (PIL's NEAREST; OpenCV's INTER_NEAREST_EXACT).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "kiln/status.h"

namespace kiln {

enum class ResizeMode {
  /// Resize straight to the target H×W (aspect ratio not kept).
  kDirect,
  /// Resize so the shorter side is `resize_to` (aspect kept, the longer side rounded down like torchvision),
  /// then crop the centre H×W (offsets rounded like torchvision's center_crop).
  kShorterSideThenCenterCrop,
};

enum class Interpolation { kBilinear, kBilinearAntialias, kNearest };

/// Channel order of the output; kGray gives one channel (luma, see the pipeline above).
enum class Channels { kRGB, kBGR, kGray };

enum class Layout { kNCHW, kNHWC };

/// How to turn a photo into a model input. Every field has a JSON and compact-string spelling (see
/// parse_preprocess_json / parse_preprocess_string).
struct PreprocessSpec {
  ResizeMode resize = ResizeMode::kDirect;
  /// kShorterSideThenCenterCrop only: the shorter side after resizing. 0: floor(max(H, W) / crop_fraction),
  /// i.e. 256 for a 224 crop and 146 for a 128 crop with the default 0.875 (the ImageNet convention).
  int resize_to = 0;
  /// kShorterSideThenCenterCrop with resize_to == 0 only: the fraction of the shorter side the crop keeps
  /// (in (0, 1]; 1: resize just enough to cover the target).
  float crop_fraction = 0.875f;
  Interpolation interpolation = Interpolation::kBilinear;
  /// Round the resized image to 8 bits before normalising (what PIL/OpenCV pipelines on 8-bit images do).
  bool round_resized = true;
  Channels channels = Channels::kRGB;
  /// out = (pixel * scale - mean[c]) / std[c], pixel in 0..255, c in the output channel order. `mean` and
  /// `std` hold one value (used for every channel) or one per channel.
  float scale = 1.0f;
  std::vector<float> mean = {0.0f};
  std::vector<float> std = {1.0f};
  Layout layout = Layout::kNCHW;
  /// kF32, kF16, kU8 or kI8.
  DataType dtype = DataType::kF32;
};

/// Named presets for the shared models (the string names are accepted by parse_preprocess_string too):
///   "imagenet_bgr_mean"  SqueezeNet 1.0 (Caffe style): BGR 0..255 minus (104,117,123); shorter side to
///                        H/0.875 (256 for 224), centre crop — reproduces the stored SqueezeNet input exactly.
///   "mobilenet_flowers"  ST MobileNetV2 flowers as the model was trained (README): RGB/127.5 − 1.
///   "rgb_01"             RGB/255 in [0,1]; the stored flowers reference input (SOURCE.txt mode nchw_01) uses this.
///   "ultraface"          UltraFace: (RGB − 127)/128, direct resize to 320×240.
///   "nhwc_u8"            raw RGB bytes, NHWC, u8 (the already-quantized MobileNetV1); shorter side to H/0.875
///                        (146 for 128), centre crop — reproduces the stored MobileNetV1 input exactly.
///   "gray_255"           one grey channel 0..255 (MNIST-8).
///   "gray_01"            one grey channel /255 (super-resolution's Y input).
///   "imagenet"           torchvision ImageNet: shorter side H/0.875 (256), centre crop, RGB/255, mean (0.485,0.456,0.406),
///                        std (0.229,0.224,0.225).
/// Unless stated otherwise presets resize directly to H×W; all use kBilinearAntialias (PIL's bilinear, which
/// is what made the shared models' stored inputs), NCHW, f32.
Result<PreprocessSpec> preprocess_preset(const std::string& name);
/// The preset names, in the order above.
std::vector<std::string> preprocess_preset_names();

/// Parses a spec from JSON text. Keys (all optional): "preset" (start from a preset, the other keys override
/// it), "resize" ("direct" | "shorter_side_then_center_crop"), "resize_to" (int), "crop_fraction" (number),
/// "interpolation"
/// ("bilinear" | "bilinear_antialias" | "nearest"), "round_resized" (bool), "channels" ("rgb" | "bgr" |
/// "gray"), "scale" (number), "mean" / "std" (number or array of numbers), "layout" ("nchw" | "nhwc"),
/// "dtype" ("f32" | "f16" | "u8" | "i8"). Unknown keys and bad values are errors naming the key.
///   {"preset": "imagenet", "resize_to": 232, "dtype": "f16"}
Result<PreprocessSpec> parse_preprocess_json(const std::string& json_text);
/// Reads and parses a JSON spec file (errors name the file).
Result<PreprocessSpec> load_preprocess_file(const std::string& path);
/// Parses the compact form: a preset name and/or comma-separated key=value pairs with the JSON keys, lists
/// separated by '/', and resize also spelled "crop" / "shorter":
///   "imagenet_bgr_mean"
///   "channels=bgr,mean=104/117/123"
///   "ultraface,dtype=f16"
///   "resize=crop,resize_to=256,interpolation=bilinear,scale=0.00392157,mean=0.485/0.456/0.406,std=0.229/0.224/0.225"
Result<PreprocessSpec> parse_preprocess_string(const std::string& text);
/// The compact form of a spec (parse_preprocess_string reads it back to an equal spec).
std::string to_string(const PreprocessSpec& spec);

/// Checks a spec: resize_to ≥ 0, crop_fraction in (0, 1], mean/std of 1 or C values, std ≠ 0, a supported dtype.
Status validate(const PreprocessSpec& spec);

/// An 8-bit interleaved image (rows of width × channels bytes).
struct Image8 {
  int width = 0;
  int height = 0;
  int channels = 0;  ///< 1 (grey) or 3 (RGB)
  std::vector<uint8_t> pixels;
};

/// Decodes an image file to 8-bit RGB. Errors name the file: missing (kNotFound), unreadable (kIoError), not
/// an image or zero-sized (kInvalidArgument).
Result<Image8> decode_image(const std::string& path);

/// Loads one photo as one sample: [1,C,H,W] (NCHW) or [1,H,W,C] (NHWC), C = 3, or 1 for Channels::kGray.
/// `height`, `width` > 0. Errors name the file.
Result<Tensor> load_image(const std::string& path, const PreprocessSpec& spec, int64_t height, int64_t width);

/// The pipeline on an already-decoded 8-bit RGB (or grey) image.
Result<Tensor> preprocess_image(const Image8& image, const PreprocessSpec& spec, int64_t height, int64_t width);

/// Resizes an 8-bit image (any channel count) to width × height with `interpolation`, rounding to 8 bits.
Image8 resize_image(const Image8& image, int width, int height, Interpolation interpolation);

/// Image files (.jpg .jpeg .png .bmp, case-insensitive) under `folder`, RECURSIVELY (sub-folders included),
/// sorted by path (byte order). Errors: the folder is missing or not a folder. An empty result is not an error.
Result<std::vector<std::string>> list_images(const std::string& folder);

}  // namespace kiln
