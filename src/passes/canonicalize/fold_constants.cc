// Constant folding.
//
// 1. A node whose inputs are all constants is evaluated with its reference kernel and its outputs become
//    constants (counted "folded"), unless the op is random or the result would bloat the engine (an
//    Expand/Tile/ConstantOfShape of small inputs to more than PassOptions::max_folded_elements).
// 2. Partial shape folding (counted "shape_folded"): Shape(x) is known element by element from x's static
//    dims even when other dims are symbolic; the pass follows such partially known i64 vectors through
//    data-movement ops (Gather, Slice, Concat, Unsqueeze, ...) and folds any output whose elements turn out
//    all known — e.g. Gather(Shape(x), 1) = 3 for x: f32[N,3,H,W]. Unknown elements travel as unique
//    sentinels through the real reference kernels, so no kernel logic is duplicated here.
// Types are re-inferred after each round (a folded Reshape shape makes its output static, which can make
// further Shape nodes foldable), and the rounds repeat until nothing changes.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "backends/ref/kernel.h"
#include "ir/shape_inference.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

using passes::constant_of;

// Random ops must stay; Q/DQ of constant weights must stay too, since the int8 passes look for the explicit
// DQ -> Conv -> Q pattern (folding DQ(weights) would silently turn an int8 model back into fp32).
bool never_folded(const Node& n) {
  static const std::set<std::string, std::less<>> kKeep = {
      "RandomNormal", "RandomUniform",    "RandomNormalLike",     "RandomUniformLike",    "Multinomial",
      "Bernoulli",    "QuantizeLinear",   "DequantizeLinear",     "DynamicQuantizeLinear"};
  return !n.domain.empty() || kKeep.count(n.op_type) > 0 || (n.op_type == "Dropout" && n.has_input(2));
}

// Ops whose outputs are copies of input elements (so sentinels pass through unchanged).
bool moves_data_only(const Node& n) {
  static const std::set<std::string, std::less<>> kOps = {"Gather", "Slice",   "Concat",    "Unsqueeze",
                                                           "Squeeze", "Reshape", "Identity",  "Flatten",
                                                           "Expand", "Transpose"};
  return n.domain.empty() && kOps.count(n.op_type) > 0;
}

int64_t element_count_of(const Value* v) {
  if (!v || !v->type.shape.is_static()) return -1;
  return element_count(v->type.shape.static_dims());
}

class Folder {
 public:
  Folder(Graph& g, const PassOptions& options, PassCounts& counts) : g_(g), options_(options), counts_(counts) {}

  // One sweep in topological order; returns whether anything was folded.
  bool sweep() {
    std::set<const Node*> doomed;
    for (const auto& node : g_.nodes()) {
      Node& n = *node;
      if (n.outputs.empty() || !n.has_output(0)) continue;
      if (try_fold(n)) {
        doomed.insert(&n);
        ++counts_["folded"];
      } else if (try_partial(n)) {
        doomed.insert(&n);
        ++counts_["shape_folded"];
      }
    }
    passes::remove_nodes(g_, doomed);
    return !doomed.empty();
  }

 private:
  static constexpr int64_t kSentinelBase = std::numeric_limits<int64_t>::min() / 2;

  bool all_inputs_constant(const Node& n) const {
    for (const Value* v : n.inputs)
      if (v && !v->is_constant()) return false;
    return true;
  }

  // Runs n's reference kernel on the given input tensors; false when there is none or it fails.
  bool evaluate(const Node& n, std::vector<const Tensor*> inputs, std::vector<Tensor>& outs) const {
    ref::KernelFn fn = ref::find_kernel(n.domain, n.op_type);
    if (!fn) return false;
    outs.assign(n.outputs.size(), Tensor());
    ref::KernelContext ctx(n, std::move(inputs), &outs);
    if (!fn(ctx).ok()) return false;
    for (size_t i = 0; i < outs.size(); ++i)
      if (n.has_output(i) && !outs[i].defined()) return false;
    return true;
  }

  bool try_fold(Node& n) {
    if (never_folded(n) || !all_inputs_constant(n)) return false;
    for (const Value* out : n.outputs)
      if (out && passes::is_graph_input(g_, out)) return false;
    int64_t input_elements = 0;
    std::vector<const Tensor*> inputs;
    for (const Value* v : n.inputs) {
      inputs.push_back(constant_of(v));
      if (v) input_elements += v->constant->size();
    }
    const int64_t limit = std::max(options_.max_folded_elements, input_elements);
    const bool unlimited = n.op_type == "Constant" && n.domain.empty();  // its value already exists
    for (const Value* out : n.outputs)
      if (!unlimited && element_count_of(out) > limit) return false;
    std::vector<Tensor> outs;
    if (!evaluate(n, inputs, outs)) return false;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!n.has_output(i)) continue;
      if (!unlimited && outs[i].size() > limit) return false;
      // A kernel may return a view of an input: folded constants own their storage.
      if (outs[i].dtype() != n.outputs[i]->type.dtype) return false;
    }
    for (size_t i = 0; i < outs.size(); ++i)
      if (n.has_output(i)) passes::make_constant(n.outputs[i], outs[i].clone());
    return true;
  }

  // The partially known i64 vector a value holds (sentinels for unknown elements), or null.
  const Tensor* partial_of(const Value* v) const {
    if (!v) return nullptr;
    if (const Tensor* c = constant_of(v)) return c->dtype() == DataType::kI64 ? c : nullptr;
    auto it = partial_.find(v);
    return it == partial_.end() ? nullptr : &it->second;
  }

  Tensor shape_vector(const Node& n) {
    const Shape& s = n.inputs[0]->type.shape;
    const int64_t rank = static_cast<int64_t>(s.rank());
    int64_t start = 0, end = rank;
    if (n.opset >= 15) {
      auto clamp = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
      start = clamp(n.attr_int("start", 0));
      if (n.has_attr("end")) end = clamp(n.attr_int("end", rank));
    }
    std::vector<int64_t> dims;
    for (int64_t a = start; a < end; ++a) dims.push_back(s[a].known() ? s[a].value : next_sentinel_++);
    return Tensor::from_vector<int64_t>(dims, {static_cast<int64_t>(dims.size())});
  }

  static bool has_sentinel(const Tensor& t) {
    for (int64_t x : t.span<int64_t>())
      if (x >= kSentinelBase && x < kSentinelBase + (int64_t{1} << 40)) return true;
    return false;
  }

  bool try_partial(Node& n) {
    if (n.outputs.size() != 1 || n.outputs[0]->type.dtype != DataType::kI64) return false;
    if (passes::is_graph_input(g_, n.outputs[0])) return false;
    Tensor result;
    if (n.domain.empty() && n.op_type == "Shape" && n.has_input(0) && n.inputs[0]->type.shape.has_rank()) {
      result = shape_vector(n);
    } else if (n.domain.empty() && n.op_type == "Size" && n.has_input(0) && n.inputs[0]->type.shape.is_static()) {
      result = Tensor::scalar<int64_t>(element_count(n.inputs[0]->type.shape.static_dims()));
    } else if (moves_data_only(n)) {
      std::vector<const Tensor*> inputs;
      bool any_partial = false;
      for (const Value* v : n.inputs) {
        if (!v) {
          inputs.push_back(nullptr);
          continue;
        }
        const Tensor* t = v->is_constant() ? constant_of(v) : partial_of(v);
        if (!t) return false;
        any_partial |= !v->is_constant();
        inputs.push_back(t);
      }
      if (!any_partial) return false;
      std::vector<Tensor> outs;
      if (!evaluate(n, inputs, outs) || outs[0].dtype() != DataType::kI64) return false;
      result = outs[0].clone();
    } else {
      return false;
    }
    if (has_sentinel(result)) {
      partial_[n.outputs[0]] = std::move(result);
      return false;
    }
    passes::make_constant(n.outputs[0], std::move(result));
    return true;
  }

  Graph& g_;
  const PassOptions& options_;
  PassCounts& counts_;
  std::map<const Value*, Tensor> partial_;
  int64_t next_sentinel_ = kSentinelBase;
};

}  // namespace

Status fold_constants(Graph& graph, const PassOptions& options, PassCounts& counts) {
  Folder folder(graph, options, counts);
  for (int round = 0; round < 16 && folder.sweep(); ++round) {
    // Newly constant inputs can make shapes static, which lets the next sweep fold more.
    KILN_RETURN_IF_ERROR(infer_shapes(graph).with_context("constant folding"));
  }
  return {};
}

}  // namespace kiln
