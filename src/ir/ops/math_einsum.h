// Einsum equation parsing, shared by the op definition (shape inference) and the reference kernel.
//
// Labels are numbered: 'a'..'z' -> 0..25, 'A'..'Z' -> 26..51, and the axes an ellipsis stands for get
// 52 + k, where k counts the broadcast ellipsis axes from the left (right-aligned across inputs, numpy style).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/status.h"

namespace kiln {

constexpr int kEinsumLetterCount = 52;

struct EinsumSpec {
  std::vector<std::vector<int>> input_labels;  ///< per input, one label per axis (ellipsis expanded)
  std::vector<int> output_labels;              ///< one label per output axis
  int ellipsis_rank = 0;                       ///< number of broadcast axes the ellipsis stands for
  int num_labels() const { return kEinsumLetterCount + ellipsis_rank; }
};

/// "label 'j'" or "ellipsis axis 0", for error messages.
inline std::string einsum_label_name(int label) {
  if (label < 26) return fmt::format("label '{}'", static_cast<char>('a' + label));
  if (label < kEinsumLetterCount) return fmt::format("label '{}'", static_cast<char>('A' + label - 26));
  return fmt::format("ellipsis axis {}", label - kEinsumLetterCount);
}

namespace einsum_detail {

inline int letter_label(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

struct Term {
  std::vector<int> before;  ///< letters before the ellipsis (all letters when there is none)
  std::vector<int> after;   ///< letters after the ellipsis
  bool has_ellipsis = false;
};

inline Result<Term> parse_term(std::string_view s, std::string_view what) {
  Term t;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '.') {
      if (s.substr(i, 3) != "...")
        return Status::invalid_argument(fmt::format("einsum {} '{}': '.' must be part of '...'", what, s));
      if (t.has_ellipsis)
        return Status::invalid_argument(fmt::format("einsum {} '{}' has more than one '...'", what, s));
      t.has_ellipsis = true;
      i += 3;
      continue;
    }
    int label = letter_label(c);
    if (label < 0)
      return Status::invalid_argument(fmt::format("einsum {} '{}': unexpected character '{}'", what, s, c));
    (t.has_ellipsis ? t.after : t.before).push_back(label);
    ++i;
  }
  return t;
}

}  // namespace einsum_detail

/// Parses `equation` for inputs of the given ranks. Errors name the equation and what is wrong.
inline Result<EinsumSpec> parse_einsum(std::string_view equation, const std::vector<int64_t>& input_ranks) {
  using einsum_detail::Term;
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq.push_back(c);
  size_t arrow = eq.find("->");
  std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
  std::optional<std::string> rhs;
  if (arrow != std::string::npos) {
    rhs = eq.substr(arrow + 2);
    if (rhs->find("->") != std::string::npos || rhs->find(',') != std::string::npos)
      return Status::invalid_argument(fmt::format("einsum equation '{}': malformed output after '->'", equation));
  }
  std::vector<std::string> terms;
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != input_ranks.size())
    return Status::invalid_argument(fmt::format("einsum equation '{}' has {} input term(s), but the node has {} input(s)",
                                                equation, terms.size(), input_ranks.size()));

  EinsumSpec spec;
  std::vector<Term> parsed;
  std::vector<int> ellipsis_dims(terms.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(Term t, einsum_detail::parse_term(terms[i], fmt::format("input term {}", i)));
    int64_t letters = static_cast<int64_t>(t.before.size() + t.after.size());
    if (t.has_ellipsis) {
      if (letters > input_ranks[i])
        return Status::invalid_argument(fmt::format("einsum term '{}' names {} axes, but input {} has rank {}",
                                                    terms[i], letters, i, input_ranks[i]));
      ellipsis_dims[i] = static_cast<int>(input_ranks[i] - letters);
    } else if (letters != input_ranks[i]) {
      return Status::invalid_argument(fmt::format("einsum term '{}' names {} axes, but input {} has rank {}",
                                                  terms[i], letters, i, input_ranks[i]));
    }
    spec.ellipsis_rank = std::max(spec.ellipsis_rank, ellipsis_dims[i]);
    parsed.push_back(std::move(t));
  }
  // Expand each input's ellipsis into the right-aligned broadcast labels.
  std::vector<int> count(kEinsumLetterCount, 0);
  for (size_t i = 0; i < parsed.size(); ++i) {
    std::vector<int> labels = parsed[i].before;
    for (int k = 0; k < ellipsis_dims[i]; ++k)
      labels.push_back(kEinsumLetterCount + spec.ellipsis_rank - ellipsis_dims[i] + k);
    labels.insert(labels.end(), parsed[i].after.begin(), parsed[i].after.end());
    for (int l : parsed[i].before) ++count[l];
    for (int l : parsed[i].after) ++count[l];
    spec.input_labels.push_back(std::move(labels));
  }
  if (rhs) {
    KILN_ASSIGN_OR_RETURN(Term out, einsum_detail::parse_term(*rhs, "output term"));
    std::vector<int> labels = out.before;
    if (out.has_ellipsis)
      for (int k = 0; k < spec.ellipsis_rank; ++k) labels.push_back(kEinsumLetterCount + k);
    labels.insert(labels.end(), out.after.begin(), out.after.end());
    std::vector<bool> seen(kEinsumLetterCount, false);
    for (int l : labels) {
      if (l >= kEinsumLetterCount) continue;
      if (count[l] == 0)
        return Status::invalid_argument(
            fmt::format("einsum equation '{}': output {} appears in no input", equation, einsum_label_name(l)));
      if (seen[l])
        return Status::invalid_argument(
            fmt::format("einsum equation '{}': output {} appears twice", equation, einsum_label_name(l)));
      seen[l] = true;
    }
    spec.output_labels = std::move(labels);
  } else {
    // Implicit output: the ellipsis axes, then the labels used exactly once, in alphabetical (ASCII) order.
    for (int k = 0; k < spec.ellipsis_rank; ++k) spec.output_labels.push_back(kEinsumLetterCount + k);
    for (int l = 26; l < 52; ++l)  // uppercase sorts before lowercase in ASCII
      if (count[l] == 1) spec.output_labels.push_back(l);
    for (int l = 0; l < 26; ++l)
      if (count[l] == 1) spec.output_labels.push_back(l);
  }
  return spec;
}

}  // namespace kiln
