#include "compare/compared_model.h"

#include <fmt/format.h>

#include "backends/cpu/cpu_backend.h"

#include <filesystem>
#include <limits>

#include "engine/engine_file.h"
#include "onnx/importer.h"

namespace kiln {

struct ComparedModel::GraphState {
  std::unique_ptr<LoadedEngineFile> file;  // engines: keeps the graph's weight mapping alive
  std::unique_ptr<Graph> own;              // ONNX models
  const Graph* graph = nullptr;
  std::optional<GraphRunner> runner;
};

namespace {

bool is_engine_path(const std::string& path) { return std::filesystem::path(path).extension() == ".kiln"; }

std::vector<TensorInfo> infos_of(const std::vector<Value*>& values, int64_t opt_batch) {
  std::vector<TensorInfo> out;
  for (const Value* v : values) {
    if (v->is_constant()) continue;
    TensorInfo info{v->name, v->type.dtype, {}, {}};
    if (v->type.shape.has_rank())
      for (const Dim& d : v->type.shape.dims()) {
        bool known = d.value >= 0;
        info.dims.push_back(known ? DimRange{d.value, d.value, d.value}
                                  : DimRange{1, opt_batch, std::numeric_limits<int64_t>::max()});
        info.dim_names.push_back(d.symbol);
      }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

Tensor to_f32(const Tensor& t) {
  if (t.dtype() == DataType::kF32) return t.clone();
  Tensor out(DataType::kF32, t.dims());
  float* dst = out.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) dst[i] = static_cast<float>(t.element_as_double(i));
  return out;
}

ComparedModel::~ComparedModel() = default;

Result<std::unique_ptr<ComparedModel>> ComparedModel::open(const std::string& path, int64_t onnx_opt_batch) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::not_found(fmt::format("engine or model not found: {}", path));
  std::unique_ptr<ComparedModel> m(new ComparedModel());
  m->path_ = path;
  m->file_bytes_ = std::filesystem::file_size(path, ec);
  if (is_engine_path(path)) {
    KILN_ASSIGN_OR_RETURN(m->engine_, Engine::load(path));
    KILN_ASSIGN_OR_RETURN(m->context_, m->engine_->create_context());
    m->precision_ = std::string(precision_name(m->engine_->precision()));
    m->inputs_ = m->engine_->inputs();
    m->outputs_ = m->engine_->outputs();
  } else {
    auto state = std::make_unique<GraphState>();
    KILN_ASSIGN_OR_RETURN(Graph g, import_onnx_file(path));
    state->own = std::make_unique<Graph>(std::move(g));
    state->graph = state->own.get();
    KILN_ASSIGN_OR_RETURN(NodeKernels kernels, cpu::create_cpu_kernels(*state->graph));
    KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(*state->graph, std::move(kernels)));
    state->runner.emplace(std::move(runner));
    m->precision_ = "onnx";
    m->inputs_ = infos_of(state->graph->inputs, onnx_opt_batch);
    m->outputs_ = infos_of(state->graph->outputs, onnx_opt_batch);
    m->graph_ = std::move(state);
  }
  if (m->inputs_.size() != 1)
    return Status::unsupported(fmt::format("{}: kiln compare feeds models with exactly one input; this one has {}",
                                           path, m->inputs_.size()));
  return m;
}

DimRange ComparedModel::batch_range() const {
  const TensorInfo& in = inputs_.at(0);
  if (in.dims.empty()) return {1, 1, 1};
  return in.dims[0];
}

Result<const Graph*> ComparedModel::graph() {
  if (!graph_) {
    auto state = std::make_unique<GraphState>();
    KILN_ASSIGN_OR_RETURN(LoadedEngineFile file, read_engine(path_));
    state->file = std::make_unique<LoadedEngineFile>(std::move(file));
    state->graph = &state->file->graph;
    KILN_ASSIGN_OR_RETURN(NodeKernels kernels, cpu::create_cpu_kernels(*state->graph));
    KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(*state->graph, std::move(kernels)));
    state->runner.emplace(std::move(runner));
    graph_ = std::move(state);
  }
  return graph_->graph;
}

Status ComparedModel::run_only(const Tensor& input) {
  if (engine_) {
    KILN_RETURN_IF_ERROR(context_->set_input(inputs_[0].name, TensorView{input.dtype(), input.dims(), input.raw()}));
    return context_->run();
  }
  std::map<std::string, Tensor, std::less<>> feeds{{inputs_[0].name, input}};
  return graph_->runner->run(feeds).status();
}

Result<std::vector<Tensor>> ComparedModel::run(const Tensor& input) {
  std::vector<Tensor> out;
  if (engine_) {
    KILN_RETURN_IF_ERROR(run_only(input));
    for (const TensorInfo& o : outputs_) {
      KILN_ASSIGN_OR_RETURN(TensorView view, context_->output(o.name));
      out.push_back(to_f32(Tensor::wrap(view.dtype, view.dims, const_cast<void*>(view.data), nullptr)));
    }
    return out;
  }
  std::map<std::string, Tensor, std::less<>> feeds{{inputs_[0].name, input}};
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> results, graph_->runner->run(feeds));
  for (const Tensor& t : results) out.push_back(to_f32(t));
  return out;
}

Status ComparedModel::run_observed(const Tensor& input,
                                   const std::function<void(const Value&, const Tensor&)>& observer) {
  KILN_ASSIGN_OR_RETURN(const Graph* g, graph());
  for (const Value* v : g->inputs)
    if (v->name == inputs_[0].name) observer(*v, input);
  std::map<std::string, Tensor, std::less<>> feeds{{inputs_[0].name, input}};
  RunOptions options;
  options.observer = observer;
  return graph_->runner->run(feeds, options).status();
}

}  // namespace kiln
