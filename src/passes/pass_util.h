// Small graph-editing helpers shared by the passes.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/op_def.h"

namespace kiln::passes {

bool is_graph_output(const Graph& g, const Value* v);
bool is_graph_input(const Graph& g, const Value* v);
/// The constant's tensor, or null when `v` is absent or not a constant.
const Tensor* constant_of(const Value* v);
/// The only node reading `v` when exactly one node reads it (in one or more slots) and it is not a graph
/// output; else null. A fusion may only swallow a value whose single reader is the next node of the pattern.
Node* sole_reader(const Graph& g, const Value* v);
/// Number of nodes reading `v`.
size_t reader_count(const Graph& g, const Value* v);

/// Makes `v` a constant holding `t` (its type follows the tensor; nothing produces it any more).
void make_constant(Value* v, Tensor t);

/// Removes `n` from the graph so that readers of `out` read `in` instead (`out` = `in` semantically).
/// When `out` is a graph output, `in` is renamed away instead: its producer then writes `out` directly.
/// Returns false (and changes nothing) when that is impossible (e.g. `in` is a graph input or constant).
bool bypass_node(Graph& g, Node* n, Value* in, Value* out);

/// Removes the given nodes (their outputs lose their producer).
void remove_nodes(Graph& g, const std::set<const Node*>& doomed);

/// After a pass rewrote `rewrites` places (none: nothing to do): puts the nodes back in topological order and
/// drops the values nobody reads any more.
Status tidy_after_rewrites(Graph& g, size_t rewrites);

/// Declares kiln's fused-op domain in the graph's opset imports.
void ensure_kiln_opset(Graph& g);

/// Turns `n` (the last node of a matched pattern, so every input of the fused op is computed before it)
/// into a kiln fused op in place, keeping its outputs.
void become_fused(Node* n, const std::string& op_type, std::string name);

/// True when both types have the same dtype and the same rank with equal (known or same-symbol) dims.
bool same_type(const ValueType& a, const ValueType& b);

}  // namespace kiln::passes
