#include "builder/profile.h"

#include <fmt/format.h>

#include "ir/shape_inference.h"

namespace kiln {

namespace {
constexpr DimRange kDefaultBatch{1, 16, 32};

std::string shape_text(const std::vector<int64_t>& d) { return dims_to_string(d); }
}  // namespace

Result<ResolvedProfile> resolve_profile(Graph& graph, const BuildOptions& options) {
  ResolvedProfile out;
  for (const auto& [name, p] : options.input_profiles) {
    bool found = false;
    for (const Value* v : graph.inputs) found |= (v->name == name && !v->is_constant());
    if (!found) return Status::invalid_argument(fmt::format("profile given for '{}', which is not a model input", name));
  }
  for (Value* in : graph.inputs) {
    if (in->is_constant()) continue;
    if (!in->type.shape.has_rank())
      return Status::unsupported(fmt::format("input '{}' has unknown rank; give its shapes with --min-shapes/"
                                             "--opt-shapes/--max-shapes", in->name));
    std::vector<Dim>& dims = in->type.shape.dims();
    InputProfile p;
    auto explicit_it = options.input_profiles.find(in->name);
    if (explicit_it != options.input_profiles.end()) {
      p = explicit_it->second;
      if (p.min.size() != dims.size() || p.opt.size() != dims.size() || p.max.size() != dims.size())
        return Status::invalid_argument(fmt::format("input '{}' has rank {}, but its profile shapes are {} / {} / {}",
                                                    in->name, dims.size(), shape_text(p.min), shape_text(p.opt),
                                                    shape_text(p.max)));
    } else {
      for (size_t d = 0; d < dims.size(); ++d) {
        bool dynamic = !dims[d].known() || (d == 0 && options.dynamic_batch);
        DimRange r{dims[d].value, dims[d].value, dims[d].value};
        if (dynamic && d == 0) {
          r = options.batch.value_or(kDefaultBatch);
        } else if (dynamic) {
          return Status::invalid_argument(fmt::format(
              "input '{}' dimension {} ('{}') is dynamic; give its range with --min-shapes/--opt-shapes/"
              "--max-shapes {}:{}",
              in->name, d, dims[d].to_string(), in->name, in->type.shape.to_string()));
        } else if (d == 0 && options.batch && options.batch->max != dims[d].value) {
          // A fixed batch with --batch given: honour it only with --dynamic-batch.
          return Status::invalid_argument(fmt::format(
              "input '{}' has a fixed batch of {}; add --dynamic-batch to build it for --batch {}:{}:{}", in->name,
              dims[d].value, options.batch->min, options.batch->opt, options.batch->max));
        }
        p.min.push_back(r.min);
        p.opt.push_back(r.opt);
        p.max.push_back(r.max);
      }
    }
    for (size_t d = 0; d < dims.size(); ++d) {
      if (p.min[d] < 0 || p.min[d] > p.opt[d] || p.opt[d] > p.max[d])
        return Status::invalid_argument(fmt::format("input '{}' dimension {}: need 0 <= min <= opt <= max, got {}:{}:{}",
                                                    in->name, d, p.min[d], p.opt[d], p.max[d]));
      if (dims[d].known() && !(d == 0 && options.dynamic_batch) && (p.min[d] != dims[d].value || p.max[d] != dims[d].value))
        return Status::invalid_argument(fmt::format("input '{}' dimension {} is fixed at {} in the model, the profile "
                                                    "asks for {}..{}", in->name, d, dims[d].value, p.min[d], p.max[d]));
      bool dynamic = p.min[d] != p.max[d];
      if (dynamic) {
        std::string symbol = dims[d].symbol.empty() ? (d == 0 ? "batch" : fmt::format("{}_d{}", in->name, d)) : dims[d].symbol;
        dims[d] = Dim::symbolic(symbol);
      } else {
        dims[d] = Dim(p.min[d]);
      }
    }
    out.inputs[in->name] = p;
  }
  KILN_RETURN_IF_ERROR(infer_shapes(graph));
  return out;
}

Status specialize_inputs(Graph& graph, const ResolvedProfile& profile, int pick) {
  for (Value* in : graph.inputs) {
    auto it = profile.inputs.find(in->name);
    if (it == profile.inputs.end()) continue;
    const std::vector<int64_t>& dims = pick == 0 ? it->second.min : pick == 1 ? it->second.opt : it->second.max;
    in->type.shape = Shape::from_dims(dims);
  }
  Status s = infer_shapes(graph);
  if (!s.ok()) {
    const char* which = pick == 0 ? "min" : pick == 1 ? "opt" : "max";
    return s.with_context(fmt::format("the model does not accept the profile's {} shapes", which));
  }
  return {};
}

Status restore_symbolic_inputs(Graph& graph, const std::map<std::string, std::vector<Dim>>& symbolic) {
  for (Value* in : graph.inputs) {
    auto it = symbolic.find(in->name);
    if (it != symbolic.end()) in->type.shape = Shape(it->second);
  }
  return infer_shapes(graph);
}

}  // namespace kiln
