#include "compare/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

#include "builder/calibration_data.h"
#include "compare/labels.h"
#include "data/image.h"

namespace kiln {

namespace {

std::string shape_text(const TensorInfo& t) {
  std::vector<std::string> dims;
  for (size_t d = 0; d < t.dims.size(); ++d) {
    const DimRange& r = t.dims[d];
    if (r.min == r.max) dims.push_back(std::to_string(r.min));
    else dims.push_back(!t.dim_names[d].empty() ? t.dim_names[d] : "?");
  }
  return fmt::format("{}[{}]", dtype_name(t.dtype), fmt::join(dims, ","));
}

// Per-sample shapes must agree: the batch axis may have any range, other fixed axes must be equal.
Status same_tensor(const std::string& what, const TensorInfo& ref, const TensorInfo& other, const std::string& ref_path,
                   const std::string& path) {
  auto differ = [&](const std::string& detail) {
    return Status::shape_mismatch(fmt::format("engines have different I/O: {} '{}' is {} in {} but {} in {}{}; "
                                              "compare needs identical inputs and outputs (did one build use "
                                              "--fp16-io, or come from another model?)",
                                              what, ref.name, shape_text(ref), ref_path, shape_text(other), path,
                                              detail));
  };
  if (ref.dtype != other.dtype) return differ(" (dtype differs)");
  if (ref.dims.size() != other.dims.size()) return differ(" (rank differs)");
  for (size_t d = 1; d < ref.dims.size(); ++d) {
    const DimRange &a = ref.dims[d], &b = other.dims[d];
    if (a.min == a.max && b.min == b.max && a.min != b.min) return differ(fmt::format(" (axis {} differs)", d));
  }
  return {};
}

Status same_list(const std::string& what, const std::vector<TensorInfo>& ref, const std::vector<TensorInfo>& other,
                 const std::string& ref_path, const std::string& path) {
  std::vector<std::string> a, b;
  for (const auto& t : ref) a.push_back(t.name);
  for (const auto& t : other) b.push_back(t.name);
  if (a != b)
    return Status::shape_mismatch(fmt::format("engines have different I/O: {} {} are [{}] but {} {} are [{}]",
                                              ref_path, what, fmt::join(a, ", "), path, what, fmt::join(b, ", ")));
  for (size_t i = 0; i < ref.size(); ++i)
    KILN_RETURN_IF_ERROR(same_tensor(what == "inputs" ? "input" : "output", ref[i], other[i], ref_path, path));
  return {};
}

Tensor slice_rows(const Tensor& t, int64_t first, int64_t count, int64_t padded_to) {
  Dims dims = t.dims();
  dims[0] = std::max(count, padded_to);
  Tensor out(t.dtype(), dims);
  size_t row = t.byte_size() / static_cast<size_t>(t.dim(0));
  for (int64_t i = 0; i < dims[0]; ++i) {  // padding repeats the last row; its outputs are dropped
    int64_t src = first + std::min(i, count - 1);
    std::memcpy(static_cast<std::byte*>(out.raw()) + i * row, static_cast<const std::byte*>(t.raw()) + src * row, row);
  }
  return out;
}

// Runs `model` on every row of `x`, in batches its profile allows; outputs keep only x's rows.
Result<std::vector<Tensor>> run_rows(ComparedModel& model, const Tensor& x, int64_t batch) {
  DimRange r = model.batch_range();
  int64_t b = std::clamp(batch, r.min, r.max);
  int64_t n = x.dim(0);
  std::vector<Tensor> out;
  for (int64_t first = 0; first < n; first += b) {
    int64_t k = std::min(b, n - first);
    KILN_ASSIGN_OR_RETURN(std::vector<Tensor> part, model.run(slice_rows(x, first, k, std::max(k, r.min))));
    if (out.empty()) {
      for (const Tensor& p : part) {
        Dims d = p.dims();
        if (d.empty()) return Status::unsupported(fmt::format("{}: scalar outputs cannot be split per sample", model.path()));
        d[0] = n;
        out.emplace_back(DataType::kF32, d);
      }
    }
    for (size_t o = 0; o < part.size(); ++o) {
      size_t row = out[o].byte_size() / static_cast<size_t>(n);
      std::memcpy(static_cast<std::byte*>(out[o].raw()) + first * row, part[o].raw(), row * k);
    }
  }
  return out;
}

std::span<const float> row_of(const Tensor& t, int64_t i) {
  int64_t per = t.size() / t.dim(0);
  return {t.data<float>() + i * per, static_cast<size_t>(per)};
}

Result<PreprocessSpec> resolve_preprocess(const std::string& text) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(text, ec)) return load_preprocess_file(text);
  auto spec = parse_preprocess_string(text);
  if (!spec.ok()) return spec.status().with_context("--preprocess");
  return spec;
}

}  // namespace

Status check_same_io(const std::vector<std::unique_ptr<ComparedModel>>& models) {
  for (size_t i = 1; i < models.size(); ++i) {
    KILN_RETURN_IF_ERROR(same_list("inputs", models[0]->inputs(), models[i]->inputs(), models[0]->path(), models[i]->path()));
    KILN_RETURN_IF_ERROR(same_list("outputs", models[0]->outputs(), models[i]->outputs(), models[0]->path(), models[i]->path()));
  }
  return {};
}

Result<CompareResult> run_compare(const CompareOptions& o) {
  if (o.models.empty()) return Status::invalid_argument("compare needs at least one engine or model");
  if (o.per_layer && o.models.size() != 2)
    return Status::invalid_argument(fmt::format("--per-layer compares exactly two engines, got {}", o.models.size()));
  if (o.data.empty()) return Status::invalid_argument("compare needs evaluation data: --data PATH");
  std::error_code ec;
  if (!std::filesystem::exists(o.data, ec)) return Status::not_found(fmt::format("evaluation data not found: {}", o.data));
  if (o.samples <= 0 || o.batch <= 0)
    return Status::invalid_argument(fmt::format("--samples and --batch must be positive (got {} and {})", o.samples, o.batch));

  std::vector<std::unique_ptr<ComparedModel>> models;
  for (const std::string& path : o.models) {
    KILN_ASSIGN_OR_RETURN(auto m, ComparedModel::open(path, o.batch));
    models.push_back(std::move(m));
  }
  KILN_RETURN_IF_ERROR(check_same_io(models));

  const TensorInfo& input = models[0]->inputs()[0];
  Dims sample_dims;
  for (size_t d = 1; d < input.dims.size(); ++d) sample_dims.push_back(input.dims[d].opt);
  CalibrationDataOptions data_options;
  data_options.max_samples = std::numeric_limits<int64_t>::max() / 2;  // all: labels must match the full count
  if (!o.preprocess.empty()) {
    KILN_ASSIGN_OR_RETURN(data_options.preprocess, resolve_preprocess(o.preprocess));
  }
  auto opened = open_calibration_source(o.data, input.dtype, sample_dims, data_options);
  if (!opened.ok()) return opened.status().with_context("--data");
  std::unique_ptr<CalibrationSource> source = std::move(*opened);
  if (source->size() == 0) return Status::invalid_argument(fmt::format("--data {} holds no samples", o.data));

  CompareResult result;
  result.data_description = source->describe();
  result.input = fmt::format("{}: {}", input.name, shape_text(input));
  result.output = models[0]->outputs()[0].name;
  std::vector<int64_t> labels;
  if (!o.labels.empty()) {
    KILN_ASSIGN_OR_RETURN(labels, load_labels(o.labels, o.data, source->size(), o.class_names));
    result.has_labels = true;
  }
  int64_t n = std::min(o.samples, source->size());
  result.samples = n;

  result.engines.resize(models.size());
  std::vector<ClassificationCounter> counters(models.size());
  std::vector<std::vector<ErrorAccumulator>> errors(models.size(),
                                                    std::vector<ErrorAccumulator>(models[0]->outputs().size()));
  for (int64_t first = 0; first < n; first += o.batch) {
    int64_t k = std::min(o.batch, n - first);
    KILN_ASSIGN_OR_RETURN(Tensor x, source->batch(first, k));
    std::vector<Tensor> reference;
    std::vector<int64_t> ref_top1(k, -1);
    for (size_t m = 0; m < models.size(); ++m) {
      auto outputs = run_rows(*models[m], x, o.batch);
      if (!outputs.ok()) return outputs.status().with_context(models[m]->path());
      if (m == 0) reference = *outputs;
      for (size_t out = 0; out < outputs->size(); ++out)
        for (int64_t i = 0; i < k; ++i) errors[m][out].add(row_of(reference[out], i), row_of((*outputs)[out], i));
      for (int64_t i = 0; i < k; ++i) {
        std::span<const float> scores = row_of((*outputs)[0], i);
        if (m == 0) {
          auto top = top_k_indices(scores, 1);
          ref_top1[i] = top.empty() ? -1 : top[0];
        }
        counters[m].add(scores, labels.empty() ? -1 : labels[first + i], ref_top1[i]);
      }
    }
    if (o.progress) o.progress(fmt::format("evaluated {}/{} samples", first + k, n));
  }

  for (size_t m = 0; m < models.size(); ++m) {
    EngineResult& e = result.engines[m];
    e.path = models[m]->path();
    e.precision = models[m]->precision();
    e.file_bytes = models[m]->file_bytes();
    e.samples = n;
    DimRange r = models[m]->batch_range();
    e.eval_batch = std::clamp(o.batch, r.min, r.max);
    if (result.has_labels) {
      e.top1 = counters[m].top1();
      e.top5 = counters[m].top5();
    }
    e.top1_agreement = counters[m].agreement();
    for (size_t out = 0; out < errors[m].size(); ++out)
      e.output_errors.push_back({models[m]->outputs()[out].name, errors[m][out].stats()});
    if (o.time_budget_s > 0) {
      if (o.progress) o.progress(fmt::format("timing {} ({:.1f} s)", e.path, o.time_budget_s));
      KILN_ASSIGN_OR_RETURN(Tensor one, source->batch(0, 1));
      auto timing = measure_timing(*models[m], one, o.time_budget_s);
      if (!timing.ok()) return timing.status().with_context(e.path);
      e.timing = *timing;
    }
  }
  if (o.per_layer) {
    if (o.progress) o.progress(fmt::format("per-layer comparison on {} samples", std::min(o.per_layer_samples, n)));
    auto layers = compare_layers(*models[0], *models[1], *source, std::min(o.per_layer_samples, n));
    if (!layers.ok()) return layers.status().with_context("--per-layer");
    result.per_layer = std::move(*layers);
  }
  return result;
}

}  // namespace kiln
