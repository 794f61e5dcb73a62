#include "tests/support/single_op.h"

#include "ir/op_def.h"
#include "ir/shape_inference.h"
#include "runtime/graph_runner.h"

namespace kiln::testing {

Result<SingleOpGraph> build_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                                      const OpAttributes& attrs, int num_outputs, const SingleOpOptions& options) {
  SingleOpGraph b;
  b.graph = std::make_unique<Graph>();
  Graph& g = *b.graph;
  g.opset_imports[options.domain] = opset;
  auto node = std::make_unique<Node>();
  node->op_type = op_type;
  node->domain = options.domain;
  node->name = "n";
  node->opset = opset;
  node->def = find_op_def(options.domain, op_type);
  if (!node->def) return Status::unsupported("no op def for " + op_type);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const OpInput& in = inputs[i];
    if (!in.value.defined()) {
      node->inputs.push_back(nullptr);
      continue;
    }
    bool unknown_shape = options.unknown_input_shapes && !in.constant;
    Value* v = g.add_value("in" + std::to_string(i),
                           {in.value.dtype(), unknown_shape ? Shape() : Shape::from_dims(in.value.dims())});
    if (in.constant) {
      v->constant = in.value;
    } else {
      g.inputs.push_back(v);
      b.feeds[v->name] = in.value;
    }
    node->inputs.push_back(v);
  }
  for (int i = 0; i < num_outputs; ++i) {
    Value* v = g.add_value("out" + std::to_string(i));
    node->outputs.push_back(v);
    g.outputs.push_back(v);
    b.outputs.push_back(v);
  }
  node->attrs.insert(attrs.begin(), attrs.end());
  Node* n = g.add_node(std::move(node));
  KILN_RETURN_IF_ERROR(validate_node(*n, *n->def));
  KILN_RETURN_IF_ERROR(infer_shapes(g));
  return b;
}

Result<std::vector<Tensor>> run_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                                          const OpAttributes& attrs, int num_outputs, const SingleOpOptions& options) {
  KILN_ASSIGN_OR_RETURN(SingleOpGraph b, build_single_op(op_type, opset, inputs, attrs, num_outputs, options));
  KILN_ASSIGN_OR_RETURN(GraphRunner runner, GraphRunner::create(*b.graph));
  return runner.run(b.feeds);
}

SingleOpTrace trace_single_op(const std::string& op_type, int opset, const std::vector<OpInput>& inputs,
                              const OpAttributes& attrs, int num_outputs, const SingleOpOptions& options) {
  SingleOpTrace r;
  Result<SingleOpGraph> b = build_single_op(op_type, opset, inputs, attrs, num_outputs, options);
  if (!b.ok()) {
    r.status = b.status();
    return r;
  }
  for (Value* v : b->outputs) r.inferred.push_back(v->type.shape);
  Result<GraphRunner> runner = GraphRunner::create(*b->graph);
  if (!runner.ok()) {
    r.status = runner.status();
    return r;
  }
  Result<std::vector<Tensor>> out = runner->run(b->feeds);
  if (!out.ok()) r.status = out.status();
  else r.outputs = *out;
  return r;
}

Result<Tensor> first_output(Result<std::vector<Tensor>> outputs) {
  KILN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, std::move(outputs));
  return outs[0];
}

}  // namespace kiln::testing
