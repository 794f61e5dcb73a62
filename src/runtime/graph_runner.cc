#include "runtime/graph_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <unordered_map>

#include "backends/ref/kernel.h"

namespace kiln {

Result<GraphRunner> GraphRunner::create(const Graph& graph, NodeKernels kernels) {
  kernels.resize(graph.nodes().size());
  std::vector<std::string> missing;
  for (size_t i = 0; i < graph.nodes().size(); ++i) {
    const Node& node = *graph.nodes()[i];
    if (!kernels[i] && !ref::find_kernel(node.domain, node.op_type)) missing.push_back(node.describe());
  }
  if (!missing.empty())
    return Status::unsupported(fmt::format("no reference kernel for {} node(s): {}", missing.size(),
                                           fmt::join(missing, "; ")));
  return GraphRunner(graph, std::move(kernels));
}

std::string GraphRunner::tactic(size_t node_index) const {
  return node_index < kernels_.size() && kernels_[node_index] ? kernels_[node_index]->tactic() : "ref";
}

Status check_input_tensor(const Value& declared, const Tensor& given, std::map<std::string, int64_t>& symbols) {
  const ValueType& want = declared.type;
  if (want.dtype != given.dtype())
    return Status::shape_mismatch(fmt::format("input '{}': expected dtype {}, got {} (expected {}, given {})",
                                              declared.name, dtype_name(want.dtype), dtype_name(given.dtype()),
                                              want.to_string(), given.type_string()));
  if (!want.shape.has_rank()) return {};
  if (want.shape.rank() != static_cast<size_t>(given.rank()))
    return Status::shape_mismatch(fmt::format("input '{}': expected rank {} {}, got rank {} ({})", declared.name,
                                              want.shape.rank(), want.to_string(), given.rank(),
                                              given.type_string()));
  for (size_t axis = 0; axis < want.shape.rank(); ++axis) {
    const Dim& d = want.shape[axis];
    int64_t got = given.dim(static_cast<int64_t>(axis));
    if (d.known() && d.value != got)
      return Status::shape_mismatch(fmt::format("input '{}': dimension {} must be {}, got {} (expected {}, given {})",
                                                declared.name, axis, d.value, got, want.to_string(),
                                                given.type_string()));
    if (!d.known() && !d.symbol.empty()) {
      auto [it, inserted] = symbols.emplace(d.symbol, got);
      if (!inserted && it->second != got)
        return Status::shape_mismatch(fmt::format(
            "input '{}': dimension {} ('{}') is {}, but another input bound '{}' to {}", declared.name, axis,
            d.symbol, got, d.symbol, it->second));
    }
  }
  return {};
}

namespace {
Status check_output_type(const Node& node, size_t i, const Value& v, const Tensor& t) {
  if (t.dtype() != v.type.dtype)
    return Status::internal(fmt::format("{}: output {} ('{}') is {}, but inference said {}", node.describe(), i,
                                        v.name, t.type_string(), v.type.to_string()));
  const Shape& s = v.type.shape;
  if (!s.has_rank()) return {};
  bool ok = s.rank() == static_cast<size_t>(t.rank());
  for (size_t a = 0; ok && a < s.rank(); ++a)
    if (s[a].known() && s[a].value != t.dim(static_cast<int64_t>(a))) ok = false;
  if (!ok)
    return Status::internal(fmt::format("{}: output {} ('{}') is {}, but inference said {}", node.describe(), i,
                                        v.name, t.type_string(), v.type.to_string()));
  return {};
}
}  // namespace

Result<std::vector<Tensor>> GraphRunner::run(const std::map<std::string, Tensor, std::less<>>& inputs,
                                             const RunOptions& options) const {
  const Graph& g = *graph_;
  std::unordered_map<const Value*, Tensor> env;
  std::map<std::string, int64_t> symbols;
  for (const Value* in : g.inputs) {
    auto it = inputs.find(in->name);
    if (it == inputs.end()) {
      if (in->is_constant()) {  // an initializer listed as an input (IR < 4): its value is the default
        env[in] = *in->constant;
        continue;
      }
      return Status::invalid_argument(fmt::format("missing input '{}' ({})", in->name, in->type.to_string()));
    }
    KILN_RETURN_IF_ERROR(check_input_tensor(*in, it->second, symbols));
    env[in] = it->second;
  }
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const Value* in : g.inputs) known |= in->name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const Value* in : g.inputs) names.push_back(in->name);
      return Status::invalid_argument(
          fmt::format("the model has no input '{}' (inputs: {})", name, fmt::join(names, ", ")));
    }
  }

  // Remaining reads per value, so intermediates are freed as soon as possible.
  std::unordered_map<const Value*, int> reads;
  for (const auto& node : g.nodes())
    for (const Value* v : node->inputs)
      if (v) ++reads[v];
  for (const Value* v : g.outputs) ++reads[v];

  for (size_t node_index = 0; node_index < g.nodes().size(); ++node_index) {
    const Node& node = *g.nodes()[node_index];
    std::vector<const Tensor*> in_tensors;
    for (const Value* v : node.inputs) {
      if (!v) {
        in_tensors.push_back(nullptr);
        continue;
      }
      auto it = env.find(v);
      if (it == env.end()) {
        if (!v->is_constant())
          return Status::internal(fmt::format("{}: input '{}' was not computed", node.describe(), v->name));
        it = env.emplace(v, *v->constant).first;
      }
      in_tensors.push_back(&it->second);
    }
    std::vector<Tensor> outs(node.outputs.size());
    ref::OutputAllocator allocator;
    if (options.allocate)
      allocator = [&](size_t i, DataType dtype, const Dims& dims, bool zero_fill) {
        return node.outputs[i] ? options.allocate(*node.outputs[i], dtype, dims, zero_fill) : Tensor(dtype, dims);
      };
    ref::KernelContext ctx(node, std::move(in_tensors), &outs, &allocator);
    const NodeKernel* fast = node_index < kernels_.size() ? kernels_[node_index].get() : nullptr;
    ref::KernelFn fn = fast ? nullptr : ref::find_kernel(node.domain, node.op_type);
    if (!fast && !fn) return Status::unsupported(fmt::format("no reference kernel for {}", node.describe()));
    // Kernels report bad input as Status; an allocation failure (a huge but valid-looking shape) or a
    // library exception must not take the process down either.
    auto start = options.node_timer ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      KILN_RETURN_IF_ERROR(fast ? fast->run(ctx) : fn(ctx));
    } catch (const std::bad_alloc&) {
      return Status::invalid_argument(fmt::format("{}: out of memory allocating its outputs", node.describe()));
    } catch (const std::exception& e) {
      return Status::internal(fmt::format("{}: {}", node.describe(), e.what()));
    }
    if (options.node_timer)
      options.node_timer(node, node_index,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const Value* v = node.outputs[i];
      if (!v) continue;
      if (!outs[i].defined())
        return Status::internal(fmt::format("{}: kernel did not produce output {}", node.describe(), i));
      if (options.check_inferred_types) KILN_RETURN_IF_ERROR(check_output_type(node, i, *v, outs[i]));
      if (options.place) outs[i] = options.place(*v, std::move(outs[i]));
      if (options.observer) options.observer(*v, outs[i]);
      env[v] = std::move(outs[i]);
    }
    for (const Value* v : node.inputs)
      if (v && --reads[v] == 0) env.erase(v);
  }

  std::vector<Tensor> results;
  for (const Value* v : g.outputs) {
    auto it = env.find(v);
    if (it == env.end()) {
      if (v->is_constant()) {
        results.push_back(*v->constant);
        continue;
      }
      return Status::internal(fmt::format("graph output '{}' was not computed", v->name));
    }
    results.push_back(it->second);
  }
  return results;
}

}  // namespace kiln
