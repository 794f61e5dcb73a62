// Helpers shared by the Conv/Gemm/MatMul fusion passes.
#pragma once

#include <string>

#include "ir/graph.h"
#include "passes/fusion/activation.h"

namespace kiln::passes {

bool is_onnx(const Node* n, const char* op);
bool is_kiln(const Node* n, const char* op);
/// The kiln fused op that extends `n` ("FusedConv" for Conv or FusedConv, ...), or "" when `n` is none of
/// Conv, Gemm, MatMul and their fused forms without an activation yet.
std::string fused_form(const Node& n);
/// Turns `last` (the final node of the pattern) into `fused` computing first's op with first's inputs and
/// attributes (plus `extra_inputs` at the given slots), sets the activation when given, and removes
/// `first`. `last` keeps its outputs and its place in topological order.
void fuse_into(Graph& g, Node& first, Node& last, const std::string& fused, std::vector<Value*> inputs,
               const Activation* activation);

}  // namespace kiln::passes
