#include "builder/calibration_data.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/npy.h"

namespace fs = std::filesystem;

namespace kiln {

namespace {

std::string dims_text(const Dims& d) { return dims_to_string(d); }

// Stacks per-sample tensors (each exactly `sample_dims`) into [n, ...sample_dims].
Tensor stack(const std::vector<Tensor>& samples, DataType dtype, const Dims& sample_dims) {
  Dims dims = {static_cast<int64_t>(samples.size())};
  dims.insert(dims.end(), sample_dims.begin(), sample_dims.end());
  Tensor out(dtype, dims);
  size_t bytes = static_cast<size_t>(element_count(sample_dims)) * dtype_size(dtype);
  for (size_t i = 0; i < samples.size(); ++i)
    std::memcpy(static_cast<std::byte*>(out.raw()) + i * bytes, samples[i].raw(), bytes);
  return out;
}

class ImageFolderSource : public CalibrationSource {
 public:
  ImageFolderSource(std::string folder, std::vector<std::string> files, PreprocessSpec spec, DataType dtype,
                    Dims sample_dims)
      : folder_(std::move(folder)), files_(std::move(files)), spec_(std::move(spec)), dtype_(dtype),
        sample_dims_(std::move(sample_dims)) {}
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  std::string describe() const override {
    return fmt::format("{} images from {} ({})", files_.size(), folder_, to_string(spec_));
  }
  Result<Tensor> batch(int64_t first, int64_t count) override {
    bool nhwc = spec_.layout == Layout::kNHWC;
    int64_t h = nhwc ? sample_dims_[0] : sample_dims_[1];
    int64_t w = nhwc ? sample_dims_[1] : sample_dims_[2];
    std::vector<Tensor> samples;
    for (int64_t i = first; i < first + count; ++i) {
      KILN_ASSIGN_OR_RETURN(Tensor t, load_image(files_[i], spec_, h, w));
      Dims got(t.dims().begin() + 1, t.dims().end());
      if (got != sample_dims_ || t.dtype() != dtype_)
        return Status::shape_mismatch(fmt::format("{}: preprocessed to {}, the model input needs {}[{}]", files_[i],
                                                  t.type_string(), dtype_name(dtype_), dims_text(sample_dims_)));
      samples.push_back(std::move(t));
    }
    return stack(samples, dtype_, sample_dims_);
  }

 private:
  std::string folder_;
  std::vector<std::string> files_;
  PreprocessSpec spec_;
  DataType dtype_;
  Dims sample_dims_;
};

// Samples held in memory (from .npy files or an IDX file), already converted and shaped.
class InMemorySource : public CalibrationSource {
 public:
  InMemorySource(std::vector<Tensor> samples, DataType dtype, Dims sample_dims, std::string description)
      : samples_(std::move(samples)), dtype_(dtype), sample_dims_(std::move(sample_dims)),
        description_(std::move(description)) {}
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  std::string describe() const override { return description_; }
  Result<Tensor> batch(int64_t first, int64_t count) override {
    std::vector<Tensor> part(samples_.begin() + first, samples_.begin() + first + count);
    return stack(part, dtype_, sample_dims_);
  }

 private:
  std::vector<Tensor> samples_;
  DataType dtype_;
  Dims sample_dims_;
  std::string description_;
};

// Splits one .npy array into samples: its shape must be the sample shape, or [n, ...sample shape].
Status split_npy(const Tensor& t, const std::string& path, DataType dtype, const Dims& sample_dims,
                 int64_t max_samples, std::vector<Tensor>& out) {
  if (t.dtype() != dtype)
    return Status::shape_mismatch(fmt::format("{}: dtype {}, the model input needs {}", path, dtype_name(t.dtype()),
                                              dtype_name(dtype)));
  Dims dims = t.dims();
  if (dims == sample_dims) dims.insert(dims.begin(), 1);
  Dims rest(dims.begin() + (dims.empty() ? 0 : 1), dims.end());
  if (dims.empty() || rest != sample_dims)
    return Status::shape_mismatch(fmt::format("{}: shape {}, expected one sample [{}] or a batch [N,{}]", path,
                                              dims_text(t.dims()), dims_text(sample_dims), dims_text(sample_dims)));
  size_t bytes = static_cast<size_t>(element_count(sample_dims)) * dtype_size(dtype);
  for (int64_t i = 0; i < dims[0] && static_cast<int64_t>(out.size()) < max_samples; ++i) {
    Tensor s(dtype, sample_dims);
    std::memcpy(s.raw(), static_cast<const std::byte*>(t.raw()) + i * bytes, bytes);
    out.push_back(std::move(s));
  }
  return {};
}

Result<std::string> read_maybe_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) return Status::io_error(fmt::format("cannot open {}", path));
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
  bool failed = n < 0;
  gzclose(f);
  if (failed) return Status::io_error(fmt::format("{}: read error (corrupt gzip?)", path));
  return data;
}

// MNIST IDX image file: magic 0x00000803, count, rows, cols (big-endian), then u8 pixels.
Result<std::vector<Tensor>> read_idx_images(const std::string& path, DataType dtype, const Dims& sample_dims,
                                            const std::optional<PreprocessSpec>& spec, int64_t max_samples) {
  KILN_ASSIGN_OR_RETURN(std::string data, read_maybe_gzip(path));
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<uint8_t>(data[at])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(data[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(data[at + 2])) << 8) | static_cast<uint8_t>(data[at + 3]);
  };
  if (data.size() < 16 || be32(0) != 0x00000803)
    return Status::invalid_argument(fmt::format("{}: not an IDX image file (expected magic 0x00000803)", path));
  int64_t count = be32(4), rows = be32(8), cols = be32(12);
  if (static_cast<int64_t>(data.size()) < 16 + count * rows * cols)
    return Status::invalid_argument(fmt::format("{}: truncated IDX file ({} images of {}x{} need {} bytes, have {})",
                                                path, count, rows, cols, 16 + count * rows * cols, data.size()));
  if (element_count(sample_dims) != rows * cols)
    return Status::shape_mismatch(fmt::format("{}: {}x{} images, the model input needs one sample of [{}]", path,
                                              rows, cols, dims_text(sample_dims)));
  if (dtype != DataType::kF32)
    return Status::unsupported(fmt::format("{}: IDX data feeds f32 inputs only (the model needs {})", path,
                                           dtype_name(dtype)));
  float scale = spec ? spec->scale : 1.0f / 255.0f;
  float mean = spec ? spec->mean.at(0) : 0.0f;
  float std = spec ? spec->std.at(0) : 1.0f;
  std::vector<Tensor> out;
  for (int64_t i = 0; i < count && i < max_samples; ++i) {
    Tensor s(DataType::kF32, sample_dims);
    const auto* px = reinterpret_cast<const uint8_t*>(data.data()) + 16 + i * rows * cols;
    for (int64_t k = 0; k < rows * cols; ++k) s.data<float>()[k] = (px[k] * scale - mean) / std;
    out.push_back(std::move(s));
  }
  return out;
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<CalibrationSource>> open_calibration_source(const std::string& path, DataType dtype,
                                                                  const Dims& sample_dims,
                                                                  const CalibrationDataOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::not_found(fmt::format("calibration data not found: {}", path));
  if (options.max_samples <= 0)
    return Status::invalid_argument(fmt::format("--calib-samples must be positive, got {}", options.max_samples));

  if (fs::is_directory(path, ec)) {
    std::vector<std::string> npys;
    for (const auto& e : fs::recursive_directory_iterator(path, ec))
      if (e.is_regular_file() && e.path().extension() == ".npy") npys.push_back(e.path().string());
    std::sort(npys.begin(), npys.end());
    KILN_ASSIGN_OR_RETURN(std::vector<std::string> images, list_images(path));
    if (!npys.empty() && !images.empty())
      return Status::invalid_argument(fmt::format("calibration folder {} holds both .npy files and images; use one kind",
                                                  path));
    if (!images.empty()) {
      if (!options.preprocess)
        return Status::invalid_argument(fmt::format(
            "calibration folder {} holds images: say how to preprocess them with --preprocess (a preset such as "
            "'imagenet', key=value pairs, or a JSON file)", path));
      if (static_cast<int64_t>(images.size()) > options.max_samples) images.resize(options.max_samples);
      return std::unique_ptr<CalibrationSource>(
          new ImageFolderSource(path, std::move(images), *options.preprocess, dtype, sample_dims));
    }
    if (npys.empty())
      return Status::invalid_argument(fmt::format("calibration folder {} holds no images (.jpg .jpeg .png .bmp) and "
                                                  "no .npy files", path));
    std::vector<Tensor> samples;
    for (const auto& f : npys) {
      if (static_cast<int64_t>(samples.size()) >= options.max_samples) break;
      KILN_ASSIGN_OR_RETURN(Tensor t, read_npy(f));
      KILN_RETURN_IF_ERROR(split_npy(t, f, dtype, sample_dims, options.max_samples, samples));
    }
    std::string what = fmt::format("{} samples from {} .npy file(s) in {}", samples.size(), npys.size(), path);
    return std::unique_ptr<CalibrationSource>(new InMemorySource(std::move(samples), dtype, sample_dims, what));
  }
  if (has_suffix(path, ".npy")) {
    KILN_ASSIGN_OR_RETURN(Tensor t, read_npy(path));
    std::vector<Tensor> samples;
    KILN_RETURN_IF_ERROR(split_npy(t, path, dtype, sample_dims, options.max_samples, samples));
    std::string what = fmt::format("{} samples from {}", samples.size(), path);
    return std::unique_ptr<CalibrationSource>(new InMemorySource(std::move(samples), dtype, sample_dims, what));
  }
  if (path.find("idx3") != std::string::npos || has_suffix(path, ".idx") || has_suffix(path, ".gz")) {
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> samples,
                          read_idx_images(path, dtype, sample_dims, options.preprocess, options.max_samples));
    if (samples.empty()) return Status::invalid_argument(fmt::format("{}: the IDX file holds no images", path));
    std::string what = fmt::format("{} images from IDX file {}", samples.size(), path);
    return std::unique_ptr<CalibrationSource>(new InMemorySource(std::move(samples), dtype, sample_dims, what));
  }
  return Status::invalid_argument(fmt::format(
      "calibration data {}: expected a folder of images or .npy files, a .npy file, or an IDX image file "
      "(e.g. train-images-idx3-ubyte.gz)", path));
}

Result<std::vector<int64_t>> read_idx_labels(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::not_found(fmt::format("labels file not found: {}", path));
  KILN_ASSIGN_OR_RETURN(std::string data, read_maybe_gzip(path));
  auto byte = [&](size_t at) { return static_cast<uint32_t>(static_cast<uint8_t>(data[at])); };
  if (data.size() < 8 || (byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3)) != 0x00000801)
    return Status::invalid_argument(fmt::format("{}: not an IDX label file (expected magic 0x00000801)", path));
  int64_t count = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
  if (static_cast<int64_t>(data.size()) < 8 + count)
    return Status::invalid_argument(fmt::format("{}: truncated IDX label file ({} labels need {} bytes, have {})",
                                                path, count, 8 + count, data.size()));
  std::vector<int64_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) labels[i] = byte(8 + i);
  return labels;
}

}  // namespace kiln
