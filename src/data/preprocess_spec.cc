// PreprocessSpec: presets, JSON and compact-string parsing, validation (see image.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "core/file_util.h"
#include "data/image.h"

namespace kiln {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

const char* resize_name(ResizeMode m) { return m == ResizeMode::kDirect ? "direct" : "shorter_side_then_center_crop"; }
const char* interpolation_name(Interpolation i) {
  switch (i) {
    case Interpolation::kBilinear: return "bilinear";
    case Interpolation::kBilinearAntialias: return "bilinear_antialias";
    case Interpolation::kNearest: return "nearest";
  }
  return "?";
}
const char* channels_name(Channels c) {
  switch (c) {
    case Channels::kRGB: return "rgb";
    case Channels::kBGR: return "bgr";
    case Channels::kGray: return "gray";
  }
  return "?";
}

Status bad_value(const std::string& key, const std::string& value, const std::string& allowed) {
  return Status::invalid_argument(fmt::format("preprocessing key '{}': '{}' is not one of {}", key, value, allowed));
}

Result<float> parse_float(const std::string& key, const std::string& text) {
  std::string t = trim(text);
  float v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size())
    return Status::invalid_argument(fmt::format("preprocessing key '{}': '{}' is not a number", key, text));
  return v;
}

// Applies one key with its value given as text (compact form) — the JSON path converts to text first.
Status apply(PreprocessSpec& s, const std::string& raw_key, const std::string& raw_value) {
  const std::string key = lower(trim(raw_key));
  const std::string value = lower(trim(raw_value));
  if (key == "resize") {
    if (value == "direct") s.resize = ResizeMode::kDirect;
    else if (value == "shorter_side_then_center_crop" || value == "crop" || value == "shorter")
      s.resize = ResizeMode::kShorterSideThenCenterCrop;
    else return bad_value(key, raw_value, "direct, shorter_side_then_center_crop (crop, shorter)");
  } else if (key == "resize_to") {
    KILN_ASSIGN_OR_RETURN(float v, parse_float(key, value));
    if (v < 0 || v != static_cast<float>(static_cast<int>(v)))
      return Status::invalid_argument(fmt::format("preprocessing key 'resize_to': '{}' is not a size ≥ 0", raw_value));
    s.resize_to = static_cast<int>(v);
  } else if (key == "crop_fraction") {
    KILN_ASSIGN_OR_RETURN(s.crop_fraction, parse_float(key, value));
  } else if (key == "interpolation") {
    if (value == "bilinear" || value == "linear") s.interpolation = Interpolation::kBilinear;
    else if (value == "bilinear_antialias" || value == "pil") s.interpolation = Interpolation::kBilinearAntialias;
    else if (value == "nearest") s.interpolation = Interpolation::kNearest;
    else return bad_value(key, raw_value, "bilinear, bilinear_antialias, nearest");
  } else if (key == "round_resized") {
    if (value == "true" || value == "1") s.round_resized = true;
    else if (value == "false" || value == "0") s.round_resized = false;
    else return bad_value(key, raw_value, "true, false");
  } else if (key == "channels" || key == "order") {
    if (value == "rgb") s.channels = Channels::kRGB;
    else if (value == "bgr") s.channels = Channels::kBGR;
    else if (value == "gray" || value == "grey") s.channels = Channels::kGray;
    else return bad_value(key, raw_value, "rgb, bgr, gray");
  } else if (key == "scale") {
    KILN_ASSIGN_OR_RETURN(s.scale, parse_float(key, value));
  } else if (key == "mean" || key == "std") {
    std::vector<float> list;
    std::stringstream ss(value);
    std::string item;
    while (std::getline(ss, item, '/')) {
      KILN_ASSIGN_OR_RETURN(float v, parse_float(key, item));
      list.push_back(v);
    }
    (key == "mean" ? s.mean : s.std) = list;
  } else if (key == "layout") {
    if (value == "nchw") s.layout = Layout::kNCHW;
    else if (value == "nhwc") s.layout = Layout::kNHWC;
    else return bad_value(key, raw_value, "nchw, nhwc");
  } else if (key == "dtype") {
    if (value == "f32" || value == "float32") s.dtype = DataType::kF32;
    else if (value == "f16" || value == "float16") s.dtype = DataType::kF16;
    else if (value == "u8" || value == "uint8") s.dtype = DataType::kU8;
    else if (value == "i8" || value == "int8") s.dtype = DataType::kI8;
    else return bad_value(key, raw_value, "f32, f16, u8, i8");
  } else {
    return Status::invalid_argument(fmt::format(
        "unknown preprocessing key '{}' (keys: preset, resize, resize_to, crop_fraction, interpolation, round_resized, channels, "
        "scale, mean, std, layout, dtype)", raw_key));
  }
  return {};
}

std::string number(float v) { return fmt::format("{:.9g}", v); }

}  // namespace

std::vector<std::string> preprocess_preset_names() {
  return {"imagenet_bgr_mean", "mobilenet_flowers", "rgb_01", "ultraface", "nhwc_u8", "gray_255", "gray_01", "imagenet"};
}

Result<PreprocessSpec> preprocess_preset(const std::string& name) {
  PreprocessSpec s;
  s.interpolation = Interpolation::kBilinearAntialias;
  const std::string n = lower(trim(name));
  if (n == "imagenet_bgr_mean") {
    s.resize = ResizeMode::kShorterSideThenCenterCrop;
    s.channels = Channels::kBGR;
    s.mean = {104, 117, 123};
  } else if (n == "mobilenet_flowers") {
    s.scale = 1.0f / 127.5f;
    s.mean = {1};
  } else if (n == "rgb_01") {
    s.scale = 1.0f / 255.0f;
  } else if (n == "ultraface") {
    s.mean = {127};
    s.std = {128};
  } else if (n == "nhwc_u8") {
    s.resize = ResizeMode::kShorterSideThenCenterCrop;
    s.layout = Layout::kNHWC;
    s.dtype = DataType::kU8;
  } else if (n == "gray_255") {
    s.channels = Channels::kGray;
  } else if (n == "gray_01") {
    s.channels = Channels::kGray;
    s.scale = 1.0f / 255.0f;
  } else if (n == "imagenet") {
    s.resize = ResizeMode::kShorterSideThenCenterCrop;
    s.scale = 1.0f / 255.0f;
    s.mean = {0.485f, 0.456f, 0.406f};
    s.std = {0.229f, 0.224f, 0.225f};
  } else {
    auto names = preprocess_preset_names();
    return Status::not_found(fmt::format("no preprocessing preset '{}' (presets: {})", name, fmt::join(names, ", ")));
  }
  return s;
}

Status validate(const PreprocessSpec& s) {
  const size_t c = s.channels == Channels::kGray ? 1 : 3;
  if (s.resize_to < 0) return Status::invalid_argument(fmt::format("preprocessing: resize_to {} < 0", s.resize_to));
  if (!(s.crop_fraction > 0 && s.crop_fraction <= 1))
    return Status::invalid_argument(fmt::format("preprocessing: crop_fraction {} is not in (0, 1]", s.crop_fraction));
  if (s.mean.size() != 1 && s.mean.size() != c)
    return Status::invalid_argument(fmt::format("preprocessing: mean has {} values, expected 1 or {}", s.mean.size(), c));
  if (s.std.size() != 1 && s.std.size() != c)
    return Status::invalid_argument(fmt::format("preprocessing: std has {} values, expected 1 or {}", s.std.size(), c));
  for (float v : s.std)
    if (v == 0) return Status::invalid_argument("preprocessing: std has a zero");
  if (s.dtype != DataType::kF32 && s.dtype != DataType::kF16 && s.dtype != DataType::kU8 && s.dtype != DataType::kI8)
    return Status::invalid_argument(fmt::format("preprocessing: output dtype {} is not one of f32, f16, u8, i8",
                                                dtype_name(s.dtype)));
  return {};
}

Result<PreprocessSpec> parse_preprocess_json(const std::string& json_text) {
  auto json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::invalid_argument("preprocessing spec is not valid JSON");
  if (!json.is_object()) return Status::invalid_argument("preprocessing spec must be a JSON object");
  PreprocessSpec s;
  if (json.contains("preset")) {
    if (!json["preset"].is_string()) return Status::invalid_argument("preprocessing key 'preset' must be a string");
    KILN_ASSIGN_OR_RETURN(s, preprocess_preset(json["preset"].get<std::string>()));
  }
  for (const auto& [key, value] : json.items()) {
    if (key == "preset") continue;
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_boolean()) {
      text = value.get<bool>() ? "true" : "false";
    } else if (value.is_number()) {
      text = value.dump();
    } else if (value.is_array() && (key == "mean" || key == "std")) {
      std::vector<std::string> items;
      for (const auto& v : value) {
        if (!v.is_number()) return Status::invalid_argument(fmt::format("preprocessing key '{}': {} is not a number", key, v.dump()));
        items.push_back(v.dump());
      }
      text = fmt::format("{}", fmt::join(items, "/"));
      if (items.empty()) return Status::invalid_argument(fmt::format("preprocessing key '{}' is an empty list", key));
    } else {
      return Status::invalid_argument(fmt::format("preprocessing key '{}': unexpected value {}", key, value.dump()));
    }
    if ((key == "mean" || key == "std" || key == "scale" || key == "resize_to" || key == "crop_fraction") && value.is_string())
      return Status::invalid_argument(fmt::format("preprocessing key '{}' must be a number, not a string", key));
    KILN_RETURN_IF_ERROR(apply(s, key, text));
  }
  KILN_RETURN_IF_ERROR(validate(s));
  return s;
}

Result<PreprocessSpec> load_preprocess_file(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string text, read_file(path, "preprocessing spec"));
  auto spec = parse_preprocess_json(text);
  if (!spec.ok()) return spec.status().with_context(path);
  return spec;
}

Result<PreprocessSpec> parse_preprocess_string(const std::string& text) {
  PreprocessSpec s;
  std::stringstream ss(text);
  std::string item;
  bool first = true;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) return Status::invalid_argument(fmt::format("preprocessing spec '{}' has an empty item", text));
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      if (!first)
        return Status::invalid_argument(
            fmt::format("preprocessing spec '{}': a preset name ('{}') may only come first", text, item));
      KILN_ASSIGN_OR_RETURN(s, preprocess_preset(item));
    } else if (lower(trim(item.substr(0, eq))) == "preset") {
      if (!first) return Status::invalid_argument(fmt::format("preprocessing spec '{}': preset= may only come first", text));
      KILN_ASSIGN_OR_RETURN(s, preprocess_preset(item.substr(eq + 1)));
    } else {
      KILN_RETURN_IF_ERROR(apply(s, item.substr(0, eq), item.substr(eq + 1)));
    }
    first = false;
  }
  if (first) return Status::invalid_argument("preprocessing spec is empty");
  KILN_RETURN_IF_ERROR(validate(s));
  return s;
}

std::string to_string(const PreprocessSpec& s) {
  auto list = [](const std::vector<float>& v) {
    std::vector<std::string> items;
    for (float x : v) items.push_back(number(x));
    return fmt::format("{}", fmt::join(items, "/"));
  };
  return fmt::format("resize={},resize_to={},crop_fraction={},interpolation={},round_resized={},channels={},scale={},mean={},std={},"
                     "layout={},dtype={}",
                     resize_name(s.resize), s.resize_to, number(s.crop_fraction), interpolation_name(s.interpolation),
                     s.round_resized ? "true" : "false", channels_name(s.channels), number(s.scale), list(s.mean),
                     list(s.std), s.layout == Layout::kNCHW ? "nchw" : "nhwc", dtype_name(s.dtype));
}

}  // namespace kiln
