// Test helpers for the pass unit tests (tests/unit/passes_*_test.cc): IR text in -> pass -> IR text out,
// and numeric equivalence of an original and an optimized graph on the reference runner.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "ir/shape_inference.h"
#include "ir/text_format.h"
#include "passes/pass_manager.h"
#include "runtime/graph_runner.h"

namespace kiln::testing {

using PassFn = Status (*)(Graph&, const PassOptions&, PassCounts&);

/// IR text of a graph "g" importing the default domain at opset 13: the common header, then `body` (the
/// inputs, constants, nodes and outputs).
inline std::string opset13_ir(std::string_view body) {
  return "kiln-ir 1\ngraph \"g\"\nopset \"\" 13\n" + std::string(body);
}

/// Parses `text` (failing the test on a parse error).
inline Graph parse_text(const std::string& text) {
  auto g = parse_graph(text);
  EXPECT_TRUE(g.ok()) << g.status().message() << "\n" << text;
  return g.ok() ? std::move(g).value() : Graph();
}

/// Runs `pass` on `g`, re-infers types, and returns the counts (failing the test on an error).
inline PassCounts apply(PassFn pass, Graph& g, const PassOptions& options = {}) {
  PassCounts counts;
  Status s = pass(g, options, counts);
  EXPECT_TRUE(s.ok()) << s.message();
  Status inferred = infer_shapes(g);
  EXPECT_TRUE(inferred.ok()) << inferred.message() << "\n" << print_graph(g);
  return counts;
}

/// The printed graph after the pass.
inline std::string pass_text(PassFn pass, const std::string& text, PassCounts* counts = nullptr) {
  Graph g = parse_text(text);
  PassCounts c = apply(pass, g);
  if (counts) *counts = c;
  std::string out = print_graph(g);
  // The text form must stay parseable after every pass.
  auto reparsed = parse_graph(out);
  EXPECT_TRUE(reparsed.ok()) << reparsed.status().message() << "\n" << out;
  return out;
}

/// Deterministic pseudo-random inputs for every graph input (static shapes; symbols bound to 2): f32 in
/// [-2, 2), i8/u8 over their whole range; other dtypes zero.
inline std::map<std::string, Tensor, std::less<>> random_inputs(const Graph& g, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::map<std::string, Tensor, std::less<>> inputs;
  for (const Value* v : g.inputs) {
    if (v->is_constant()) continue;
    Dims dims;
    for (const Dim& d : v->type.shape.dims()) dims.push_back(d.known() ? d.value : 2);
    Tensor t(v->type.dtype, dims);
    if (v->type.dtype == DataType::kF32)
      for (float& x : t.span<float>()) x = dist(rng);
    if (v->type.dtype == DataType::kI8 || v->type.dtype == DataType::kU8)
      for (size_t i = 0; i < t.byte_size(); ++i) static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(rng());
    inputs[v->name] = t;
  }
  return inputs;
}

/// A pass of the form `Status pass(Graph&, int64_t* count)` as a PassFn whose counter is "count".
template <Status (*Pass)(Graph&, int64_t*)>
Status counted_pass(Graph& g, const PassOptions&, PassCounts& counts) {
  int64_t n = 0;
  KILN_RETURN_IF_ERROR(Pass(g, &n));
  counts["count"] = n;
  return {};
}

/// Max |a-b| / (|b| + atol) over all elements of two float tensors (inf when they differ in shape).
inline double relative_error(const Tensor& a, const Tensor& b, double atol) {
  if (a.dims() != b.dims() || a.dtype() != b.dtype()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    double x = a.element_as_double(i), y = b.element_as_double(i);
    if (std::isnan(x) && std::isnan(y)) continue;
    worst = std::max(worst, std::abs(x - y) / (std::abs(y) + atol));
  }
  return worst;
}

/// Runs both graphs on the same inputs and expects every output within `rtol` (relative, with `atol`
/// as the floor of the denominator).
inline void expect_same_outputs(const Graph& original, const Graph& optimized,
                                const std::map<std::string, Tensor, std::less<>>& inputs, double rtol,
                                double atol = 1e-6) {
  auto r0 = GraphRunner::create(original);
  auto r1 = GraphRunner::create(optimized);
  ASSERT_TRUE(r0.ok()) << r0.status().message();
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  auto o0 = r0->run(inputs);
  auto o1 = r1->run(inputs);
  ASSERT_TRUE(o0.ok()) << o0.status().message();
  ASSERT_TRUE(o1.ok()) << o1.status().message() << "\n" << print_graph(optimized, {.max_constant_elements = 8});
  ASSERT_EQ(o0->size(), o1->size());
  for (size_t i = 0; i < o0->size(); ++i)
    EXPECT_LE(relative_error((*o1)[i], (*o0)[i], atol), rtol) << "output " << original.outputs[i]->name;
}

/// Applies `pass` to the graph in `text` and expects it to compute what the original graph does on random
/// inputs (within `rtol`, see expect_same_outputs); returns the optimized graph.
inline Graph expect_pass_keeps_outputs(PassFn pass, const std::string& text, double rtol) {
  Graph original = parse_text(text), optimized = parse_text(text);
  apply(pass, optimized);
  expect_same_outputs(original, optimized, random_inputs(original), rtol);
  return optimized;
}

// A constant line of the IR text with deterministic random values (integers for integer dtypes).
inline std::string rand_const(const std::string& name, const std::string& dtype, const Dims& dims, uint32_t seed,
                       double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::string text = "const %" + name + ": " + dtype + "[";
  int64_t count = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) text += ",";
    text += std::to_string(dims[i]);
    count *= dims[i];
  }
  text += "] = [";
  for (int64_t i = 0; i < count; ++i) {
    double v = dist(rng);
    if (i) text += ", ";
    text += dtype == "f32" || dtype == "f16" ? fmt::format("{:.6g}", v) : std::to_string(std::lround(v));
  }
  return text + "]\n";
}

/// Text of a graph: a header with the given inputs/opsets is spliced by the caller; this only checks that
/// `text` contains `line` as a whole line.
inline bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace kiln::testing
