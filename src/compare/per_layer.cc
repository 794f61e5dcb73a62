#include "compare/per_layer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace kiln {

namespace {

bool is_op(const Node* n, const char* domain, const char* op) { return n && n->domain == domain && n->op_type == op; }

// Scale and zero point of an int8 value: from its QuantizeLinear / QConv / QMatMul, walking up through
// data ops (MaxPool, Reshape, ...) that keep their input's scale.
struct QParams {
  std::vector<double> scale, zero_point;
  int64_t axis = 1;
};

std::optional<QParams> qparams_of(const Value* v) {
  for (int depth = 0; v && v->producer && depth < 64; ++depth) {
    const Node* n = v->producer;
    size_t s_at = 0;
    if (is_op(n, "", "QuantizeLinear")) s_at = 1;
    else if (is_op(n, "kiln", "QConv") || is_op(n, "kiln", "QMatMul") || is_op(n, "", "QLinearConv") ||
             is_op(n, "", "QLinearMatMul"))
      s_at = 6;
    if (s_at) {
      if (!n->has_input(s_at) || !n->inputs[s_at]->is_constant()) return std::nullopt;
      QParams p;
      p.scale = n->inputs[s_at]->constant->to_double_vector();
      if (n->has_input(s_at + 1) && n->inputs[s_at + 1]->is_constant())
        p.zero_point = n->inputs[s_at + 1]->constant->to_double_vector();
      if (p.zero_point.empty()) p.zero_point.assign(p.scale.size(), 0.0);
      p.axis = n->attr_int("axis", 1);
      return p;
    }
    v = n->has_input(0) ? n->inputs[0] : nullptr;
  }
  return std::nullopt;
}

Tensor dequantize(const Tensor& q, const QParams& p) {
  Tensor out(DataType::kF32, q.dims());
  float* dst = out.data<float>();
  int64_t channels = static_cast<int64_t>(p.scale.size()), inner = 1;
  if (channels > 1) {
    int64_t axis = p.axis < 0 ? p.axis + static_cast<int64_t>(q.rank()) : p.axis;
    for (int64_t d = axis + 1; d < static_cast<int64_t>(q.rank()); ++d) inner *= q.dim(static_cast<size_t>(d));
  }
  for (int64_t i = 0; i < q.size(); ++i) {
    int64_t c = channels > 1 ? (i / inner) % channels : 0;
    dst[i] = static_cast<float>((q.element_as_double(i) - p.zero_point[c]) * p.scale[c]);
  }
  return out;
}

// The node to keep in float for a candidate value: its compute node, seen through Q/DQ/Cast wrappers.
const Node* compute_node(const Value* v) {
  for (int depth = 0; v && v->producer && depth < 8; ++depth) {
    const Node* n = v->producer;
    if (!is_op(n, "", "QuantizeLinear") && !is_op(n, "", "DequantizeLinear") && !is_op(n, "", "Cast")) return n;
    v = n->has_input(0) ? n->inputs[0] : nullptr;
  }
  return nullptr;
}

struct Match {
  const Value* ref = nullptr;
  const Value* cand = nullptr;
  std::optional<QParams> q;  // set when the candidate value is int8
  ErrorAccumulator acc;
  bool shape_mismatch = false;
};

// Largest error of the nearest matched values upstream of `v` (exclusive), memoized per value.
double upstream_error(const Value* v, const std::map<const Value*, double>& error,
                      std::map<const Value*, double>& memo) {
  if (!v->producer) return 0;
  if (auto it = memo.find(v); it != memo.end()) return it->second;
  double worst = 0;
  for (const Value* in : v->producer->inputs) {
    if (!in || in->is_constant()) continue;
    auto e = error.find(in);
    worst = std::max(worst, e != error.end() ? e->second : upstream_error(in, error, memo));
  }
  memo[v] = worst;
  return worst;
}

}  // namespace

Result<PerLayerResult> compare_layers(ComparedModel& reference, ComparedModel& candidate, CalibrationSource& data,
                                      int64_t samples) {
  KILN_ASSIGN_OR_RETURN(const Graph* ga, reference.graph());
  KILN_ASSIGN_OR_RETURN(const Graph* gb, candidate.graph());
  PerLayerResult result;
  result.reference = reference.path();
  result.candidate = candidate.path();

  std::map<std::string, Match, std::less<>> matches;  // by reference value name
  std::map<const Value*, Match*> by_candidate;
  for (const auto& v : ga->values()) {
    if (v->is_constant() || (!v->producer && v->name != reference.inputs()[0].name)) continue;
    ++result.reference_values;
    const Value* b = gb->find_value(v->name);
    if (!b || b->is_constant()) b = gb->find_value(v->name + "_quantized");
    if (!b || b->is_constant()) continue;
    Match m{v.get(), b, std::nullopt, {}, false};
    if (b->type.dtype == DataType::kI8 || b->type.dtype == DataType::kU8) {
      m.q = qparams_of(b);
      if (!m.q) continue;  // no scale to read it with: not comparable
    }
    by_candidate[b] = &(matches[v->name] = std::move(m));
  }

  samples = std::min(samples, data.size());
  for (int64_t s = 0; s < samples; ++s) {
    KILN_ASSIGN_OR_RETURN(Tensor x, data.batch(s, 1));
    std::map<std::string, Tensor, std::less<>> ref_values;
    KILN_RETURN_IF_ERROR(reference.run_observed(x, [&](const Value& v, const Tensor& t) {
      if (matches.count(v.name)) ref_values[v.name] = to_f32(t);
    }));
    KILN_RETURN_IF_ERROR(candidate.run_observed(x, [&](const Value& v, const Tensor& t) {
      auto it = by_candidate.find(&v);
      if (it == by_candidate.end()) return;
      Match& m = *it->second;
      auto ref = ref_values.find(m.ref->name);
      if (ref == ref_values.end()) return;
      Tensor b = m.q ? dequantize(t, *m.q) : to_f32(t);
      if (b.size() != ref->second.size()) {
        m.shape_mismatch = true;
        return;
      }
      m.acc.add(ref->second.span<float>(), b.span<float>());
    }));
    ++result.samples;
  }

  std::map<const Value*, int64_t> position;
  for (size_t i = 0; i < ga->nodes().size(); ++i)
    for (const Value* out : ga->nodes()[i]->outputs)
      if (out) position[out] = static_cast<int64_t>(i);
  std::map<const Value*, double> error, memo;
  for (auto& [name, m] : matches)
    if (!m.acc.empty() && !m.shape_mismatch) error[m.ref] = m.acc.stats().rel_rms;
  for (auto& [name, m] : matches) {
    if (m.acc.empty() || m.shape_mismatch || !m.ref->producer) continue;
    LayerError l;
    l.value = name;
    l.candidate_value = m.cand->name;
    l.candidate_dtype = std::string(dtype_name(m.cand->type.dtype));
    const Node* node = compute_node(m.cand);
    if (!node) node = m.ref->producer;
    l.node = node->name;
    l.op_type = node->domain.empty() ? node->op_type : node->domain + "." + node->op_type;
    l.position = position[m.ref];
    l.stats = m.acc.stats();
    l.error = l.stats.rel_rms;
    l.input_error = upstream_error(m.ref, error, memo);
    l.added = l.error - l.input_error;
    if (std::isnan(l.added)) l.added = 0;  // inf - inf: both sides saturated, nothing measurable added
    result.layers.push_back(std::move(l));
  }
  std::sort(result.layers.begin(), result.layers.end(), [](const LayerError& a, const LayerError& b) {
    return a.added != b.added ? a.added > b.added : a.position < b.position;
  });
  return result;
}

}  // namespace kiln
