// BatchNormalization folding (inference mode only).
//
// y = (x - mean) * s + bias with s = scale / sqrt(var + epsilon), per channel (axis 1):
// - after a Conv with constant weights (and bias) whose output only the BN reads: W'[o] = W[o] * s[o],
//   B' = B * s + t with t = bias - mean * s; the Conv then writes the BN's output ("conv");
// - after a Gemm with constant B (and C broadcasting along N) on rank-2 data: B's output columns scaled,
//   C' = beta * C * s + t, beta = 1 ("gemm");
// - after a rank-2 MatMul with a constant 2-D B: B's columns scaled and the BN becomes Add(t), which the
//   bias fusion then folds into a FusedMatMul ("matmul");
// - otherwise (a "standalone" BN): Mul(x, s) then Add(t) with [C,1,...,1] constants, ops every backend
//   already has ("standalone").
// The scaled weights are computed in double and rounded once, so results differ from the unfolded graph
// only by float rounding.
#include <cmath>

#include "ir/op_def.h"
#include "passes/pass_manager.h"
#include "passes/pass_util.h"

namespace kiln {

namespace {

using passes::constant_of;

bool is_op(const Node* n, const char* op) { return n && n->domain.empty() && n->op_type == op; }

// A tensor of `like`'s dtype and the given dims from doubles.
Result<Tensor> from_doubles(DataType dtype, const std::vector<double>& v, Dims dims) {
  Tensor t(dtype, std::move(dims));
  KILN_RETURN_IF_ERROR(visit_float(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(static_cast<compute_type_t<T>>(v[i]));
    return {};
  }));
  return t;
}

// w with every element multiplied by s[index along `axis`].
Result<Tensor> scale_along(const Tensor& w, int64_t axis, const std::vector<double>& s) {
  if (axis >= w.rank() || w.dim(axis) != static_cast<int64_t>(s.size()))
    return Status::shape_mismatch("scale does not match the weight's axis");
  int64_t inner = 1;
  for (int64_t a = axis + 1; a < w.rank(); ++a) inner *= w.dim(a);
  std::vector<double> v = w.to_double_vector();
  for (size_t i = 0; i < v.size(); ++i) v[i] *= s[(static_cast<int64_t>(i) / inner) % w.dim(axis)];
  return from_doubles(w.dtype(), v, w.dims());
}

// An optional bias broadcast to `channels` values (absent -> zeros); nullopt if it does not broadcast
// along the channel dimension alone.
std::optional<std::vector<double>> per_channel(const Value* v, size_t channels) {
  if (!v) return std::vector<double>(channels, 0.0);
  const Tensor* t = constant_of(v);
  if (!t) return std::nullopt;
  for (int64_t a = 0; a + 1 < t->rank(); ++a)
    if (t->dim(a) != 1) return std::nullopt;
  if (t->size() == 1) return std::vector<double>(channels, t->element_as_double(0));
  if (t->size() != static_cast<int64_t>(channels)) return std::nullopt;
  return t->to_double_vector();
}

class BatchNormFolder {
 public:
  BatchNormFolder(Graph& g, PassCounts& counts) : g_(g), counts_(counts) {}

  Status fold(Node& bn) {
    if (!is_op(&bn, "BatchNormalization") || bn.inputs.size() != 5 || !bn.has_output(0)) return {};
    for (size_t i = 1; i < bn.outputs.size(); ++i)
      if (bn.has_output(i)) return {};  // training statistics requested
    if ((bn.opset >= 14 && bn.attr_int("training_mode", 0) != 0) || (bn.opset < 9 && bn.attr_int("spatial", 1) == 0))
      return {};
    Value* x = bn.inputs[0];
    const ValueType type = x->type;
    if (!type.shape.has_rank() || type.shape.rank() < 2 || !type.shape[1].known()) return {};
    const size_t channels = static_cast<size_t>(type.shape[1].value);
    const Tensor* scale = constant_of(bn.inputs[1]);
    const Tensor* bias = constant_of(bn.inputs[2]);
    const Tensor* mean = constant_of(bn.inputs[3]);
    const Tensor* var = constant_of(bn.inputs[4]);
    if (!scale || !bias || !mean || !var) return {};
    for (const Tensor* t : {scale, bias, mean, var})
      if (t->size() != static_cast<int64_t>(channels)) return {};
    if (type.dtype != DataType::kF32 && type.dtype != DataType::kF16 && type.dtype != DataType::kBF16) return {};
    const double eps = bn.attr_float("epsilon", 1e-5f);
    s_.assign(channels, 0);
    t_.assign(channels, 0);
    for (size_t c = 0; c < channels; ++c) {
      s_[c] = scale->element_as_double(c) / std::sqrt(var->element_as_double(c) + eps);
      t_[c] = bias->element_as_double(c) - mean->element_as_double(c) * s_[c];
    }
    Node* p = x->producer;
    const bool owned = p && passes::sole_reader(g_, x) == &bn && p->outputs.size() == 1;
    if (owned && is_op(p, "Conv")) {
      KILN_ASSIGN_OR_RETURN(bool done, into_conv(*p, bn));
      if (done) return {};
    }
    if (owned && is_op(p, "Gemm") && type.shape.rank() == 2) {
      KILN_ASSIGN_OR_RETURN(bool done, into_gemm(*p, bn));
      if (done) return {};
    }
    if (owned && is_op(p, "MatMul") && type.shape.rank() == 2) {
      KILN_ASSIGN_OR_RETURN(bool done, into_matmul(*p, bn));
      if (done) return {};
    }
    return standalone(bn);
  }

 private:
  // The producer takes over the BN's output; the BN goes.
  void take_output(Node& producer, Node& bn) {
    Value* y = bn.outputs[0];
    passes::remove_nodes(g_, {&bn});
    producer.outputs[0] = y;
    y->producer = &producer;
  }

  Result<bool> into_conv(Node& conv, Node& bn) {
    const Tensor* w = constant_of(conv.inputs[1]);
    if (!w || w->rank() < 3 || w->dim(0) != static_cast<int64_t>(s_.size()) || w->dtype() != bn.inputs[0]->type.dtype)
      return false;
    auto b = per_channel(conv.has_input(2) ? conv.inputs[2] : nullptr, s_.size());
    if (!b) return false;
    KILN_ASSIGN_OR_RETURN(Tensor w2, scale_along(*w, 0, s_));
    std::vector<double> b2(s_.size());
    for (size_t c = 0; c < s_.size(); ++c) b2[c] = (*b)[c] * s_[c] + t_[c];
    KILN_ASSIGN_OR_RETURN(Tensor bt, from_doubles(w->dtype(), b2, {static_cast<int64_t>(b2.size())}));
    conv.inputs[1] = kiln::add_constant(g_, conv.inputs[1]->name + "_bn", std::move(w2));
    conv.inputs.resize(3);
    conv.inputs[2] = kiln::add_constant(g_, bn.name + "_bias", std::move(bt));
    take_output(conv, bn);
    ++counts_["conv"];
    return true;
  }

  Result<bool> into_gemm(Node& gemm, Node& bn) {
    const Tensor* w = constant_of(gemm.inputs[1]);
    if (!w || w->rank() != 2 || w->dtype() != bn.inputs[0]->type.dtype) return false;
    const int64_t n_axis = gemm.attr_int("transB", 0) ? 0 : 1;
    if (w->dim(n_axis) != static_cast<int64_t>(s_.size())) return false;
    auto c = per_channel(gemm.has_input(2) ? gemm.inputs[2] : nullptr, s_.size());
    if (!c) return false;
    const double beta = gemm.attr_float("beta", 1.0f);
    KILN_ASSIGN_OR_RETURN(Tensor w2, scale_along(*w, n_axis, s_));
    std::vector<double> c2(s_.size());
    for (size_t k = 0; k < s_.size(); ++k) c2[k] = beta * (*c)[k] * s_[k] + t_[k];
    KILN_ASSIGN_OR_RETURN(Tensor ct, from_doubles(w->dtype(), c2, {static_cast<int64_t>(c2.size())}));
    gemm.inputs[1] = kiln::add_constant(g_, gemm.inputs[1]->name + "_bn", std::move(w2));
    gemm.inputs.resize(3);
    gemm.inputs[2] = kiln::add_constant(g_, bn.name + "_bias", std::move(ct));
    gemm.attrs["beta"] = Attribute::of_float(1.0f);
    take_output(gemm, bn);
    ++counts_["gemm"];
    return true;
  }

  Result<bool> into_matmul(Node& matmul, Node& bn) {
    const Tensor* w = constant_of(matmul.inputs[1]);
    if (!w || w->rank() != 2 || w->dim(1) != static_cast<int64_t>(s_.size()) || w->dtype() != bn.inputs[0]->type.dtype)
      return false;
    KILN_ASSIGN_OR_RETURN(Tensor w2, scale_along(*w, 1, s_));
    KILN_ASSIGN_OR_RETURN(Tensor tt, from_doubles(w->dtype(), t_, {static_cast<int64_t>(t_.size())}));
    matmul.inputs[1] = kiln::add_constant(g_, matmul.inputs[1]->name + "_bn", std::move(w2));
    become_binary(bn, "Add", bn.inputs[0], kiln::add_constant(g_, bn.name + "_bias", std::move(tt)));
    ++counts_["matmul"];
    return true;
  }

  void become_binary(Node& n, const char* op, Value* a, Value* b) {
    n.op_type = op;
    n.domain.clear();
    n.opset = 14;
    n.attrs.clear();
    n.inputs = {a, b};
    n.def = find_op_def("", op);
  }

  Status standalone(Node& bn) {
    const ValueType type = bn.inputs[0]->type;
    Dims dims(type.shape.rank() - 1, 1);
    dims[0] = static_cast<int64_t>(s_.size());
    KILN_ASSIGN_OR_RETURN(Tensor st, from_doubles(type.dtype, s_, dims));
    KILN_ASSIGN_OR_RETURN(Tensor tt, from_doubles(type.dtype, t_, dims));
    Value* s = kiln::add_constant(g_, bn.name + "_scale", std::move(st));
    Value* t = kiln::add_constant(g_, bn.name + "_shift", std::move(tt));
    Value* y = bn.outputs[0];
    Value* scaled = g_.add_value(bn.name + "_scaled", type);
    // The BN node becomes the Mul (keeping its place); the Add is appended and sorted into place.
    become_binary(bn, "Mul", bn.inputs[0], s);
    bn.outputs = {scaled};
    scaled->producer = &bn;
    auto add = std::make_unique<Node>();
    add->name = bn.name + "_shift";
    add->outputs = {y};
    become_binary(*add, "Add", scaled, t);
    g_.add_node(std::move(add));
    needs_sort_ = true;
    ++counts_["standalone"];
    return {};
  }

 public:
  bool needs_sort_ = false;

 private:
  Graph& g_;
  PassCounts& counts_;
  std::vector<double> s_, t_;
};

}  // namespace

Status fold_batchnorm(Graph& graph, const PassOptions& options, PassCounts& counts) {
  std::vector<Node*> bns;
  for (const auto& n : graph.nodes())
    if (is_op(n.get(), "BatchNormalization")) bns.push_back(n.get());
  BatchNormFolder folder(graph, counts);
  for (Node* bn : bns) KILN_RETURN_IF_ERROR(folder.fold(*bn));
  if (folder.needs_sort_) KILN_RETURN_IF_ERROR(graph.topo_sort());
  return {};
}

}  // namespace kiln
