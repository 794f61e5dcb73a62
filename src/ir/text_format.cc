#include "ir/text_format.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "ir/op_def.h"

namespace kiln {

namespace {

// ---------------------------------------------------------------- printing

bool is_bare_name(const std::string& s, bool allow_punct) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (allow_punct && (c == '.' || c == '/'));
    if (!ok) return false;
  }
  return true;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out + "\"";
}

std::string value_ref(const Value* v) {
  if (!v) return "_";
  return "%" + (is_bare_name(v->name, true) ? v->name : quote(v->name));
}

std::string print_shape(const Shape& s) {
  if (!s.has_rank()) return "[*]";
  std::string out = "[";
  for (size_t i = 0; i < s.rank(); ++i) {
    const Dim& d = s[i];
    if (i) out += ",";
    if (d.known()) out += std::to_string(d.value);
    else if (d.symbol.empty()) out += "?";
    else out += is_bare_name(d.symbol, false) && !std::isdigit(static_cast<unsigned char>(d.symbol[0])) ? d.symbol : quote(d.symbol);
  }
  return out + "]";
}

std::string print_type(const ValueType& t) { return std::string(dtype_name(t.dtype)) + print_shape(t.shape); }

std::string print_double(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.{}g}", v, digits);
}

std::string print_elements(const Tensor& t, int64_t max_elements) {
  if (max_elements >= 0 && t.size() > max_elements) return fmt::format("<{} values>", t.size());
  std::string out = "[";
  for (int64_t i = 0; i < t.size(); ++i) {
    if (i) out += ", ";
    switch (t.dtype()) {
      case DataType::kString: out += quote(t.data<std::string>()[i]); break;
      case DataType::kBool: out += t.data<bool>()[i] ? "true" : "false"; break;
      case DataType::kF64: out += print_double(t.data<double>()[i], 17); break;
      case DataType::kF32: case DataType::kF16: case DataType::kBF16:
        out += print_double(t.element_as_double(i), 9);
        break;
      case DataType::kU64: out += std::to_string(t.data<uint64_t>()[i]); break;
      default: out += std::to_string(t.element_as_int64(i)); break;
    }
  }
  return out + "]";
}

std::string print_tensor_literal(const Tensor& t, int64_t max_elements) {
  return fmt::format("{}[{}] {}", dtype_name(t.dtype()), fmt::join(t.dims(), ","), print_elements(t, max_elements));
}

std::string print_attr(const std::string& name, const Attribute& a, int64_t max_elements) {
  std::string v;
  switch (a.type) {
    case AttrType::kFloat: v = print_double(a.f, 9); break;
    case AttrType::kInt: v = std::to_string(a.i); break;
    case AttrType::kString: v = quote(a.s); break;
    case AttrType::kTensor: v = print_tensor_literal(a.t, max_elements); break;
    case AttrType::kGraph: case AttrType::kGraphs: v = "<subgraph>"; break;
    case AttrType::kFloats: {
      std::vector<std::string> parts;
      for (float f : a.floats) parts.push_back(print_double(f, 9));
      v = fmt::format("[{}]", fmt::join(parts, ", "));
      break;
    }
    case AttrType::kInts: v = fmt::format("[{}]", fmt::join(a.ints, ", ")); break;
    case AttrType::kStrings: {
      std::vector<std::string> parts;
      for (const auto& s : a.strings) parts.push_back(quote(s));
      v = fmt::format("[{}]", fmt::join(parts, ", "));
      break;
    }
    case AttrType::kTensors: {
      std::vector<std::string> parts;
      for (const auto& t : a.tensors) parts.push_back(print_tensor_literal(t, max_elements));
      v = fmt::format("[{}]", fmt::join(parts, ", "));
      break;
    }
  }
  return fmt::format("{}: {} = {}", name, attr_type_name(a.type), v);
}

// ---------------------------------------------------------------- parsing

class Parser {
 public:
  Parser(const std::string& text, const ParseOptions& options) : s_(text), options_(options) {}

  Result<Graph> parse() {
    Graph g;
    KILN_RETURN_IF_ERROR(expect_word("kiln-ir"));
    KILN_ASSIGN_OR_RETURN(int64_t version, parse_int());
    if (version != 1) return error(fmt::format("unsupported kiln-ir version {}", version));
    while (true) {
      skip_ws();
      if (pos_ >= s_.size()) break;
      KILN_ASSIGN_OR_RETURN(std::string kw, parse_word());
      if (kw == "graph") {
        KILN_ASSIGN_OR_RETURN(g.name, parse_quoted());
      } else if (kw == "producer") {
        KILN_ASSIGN_OR_RETURN(g.producer, parse_quoted());
      } else if (kw == "opset") {
        KILN_ASSIGN_OR_RETURN(std::string domain, parse_quoted());
        KILN_ASSIGN_OR_RETURN(int64_t v, parse_int());
        g.opset_imports[domain] = static_cast<int>(v);
      } else if (kw == "input" || kw == "const") {
        KILN_ASSIGN_OR_RETURN(std::string name, parse_value_name());
        KILN_RETURN_IF_ERROR(expect(':'));
        KILN_ASSIGN_OR_RETURN(ValueType type, parse_type());
        if (g.find_value(name)) return error(fmt::format("value '{}' is defined twice", name));
        Value* v = g.add_value(name, type);
        if (kw == "input") {
          g.inputs.push_back(v);
        } else {
          KILN_RETURN_IF_ERROR(expect('='));
          if (!type.shape.is_static()) return error("a constant needs a static shape");
          skip_ws();
          if (peek() == '@') {
            ++pos_;
            KILN_ASSIGN_OR_RETURN(std::string ref, parse_word());
            if (!options_.resolve_constant) return error("constant reference @" + ref + " but no resolver");
            auto t = options_.resolve_constant(ref, type);
            if (!t.ok()) return error(t.status().message());
            if (t->dtype() != type.dtype || t->dims() != type.shape.static_dims())
              return error(fmt::format("constant @{} is {}, declared {}", ref, t->type_string(), print_type(type)));
            v->constant = std::move(*t);
          } else {
            KILN_ASSIGN_OR_RETURN(Tensor t, parse_elements(type.dtype, type.shape.static_dims()));
            v->constant = std::move(t);
          }
          skip_ws();
          if (peek_word() == "input") {  // "const %w ... input": an initializer also listed as input
            (void)parse_word();
            g.inputs.push_back(v);
          }
        }
      } else if (kw == "node") {
        KILN_RETURN_IF_ERROR(parse_node(g));
      } else if (kw == "output") {
        KILN_ASSIGN_OR_RETURN(std::string name, parse_value_name());
        Value* v = g.find_value(name);
        if (!v) return error(fmt::format("output '{}' is not defined", name));
        g.outputs.push_back(v);
      } else {
        return error(fmt::format("expected graph, opset, input, const, node or output, got '{}'", kw));
      }
    }
    return g;
  }

 private:
  Status parse_node(Graph& g) {
    auto node = std::make_unique<Node>();
    KILN_ASSIGN_OR_RETURN(node->name, parse_quoted());
    KILN_ASSIGN_OR_RETURN(node->op_type, parse_word());
    skip_ws();
    if (peek() == '@') {
      ++pos_;
      KILN_ASSIGN_OR_RETURN(node->domain, parse_word());
    }
    KILN_RETURN_IF_ERROR(expect('<'));
    KILN_ASSIGN_OR_RETURN(int64_t opset, parse_int());
    node->opset = static_cast<int>(opset);
    KILN_RETURN_IF_ERROR(expect('>'));
    KILN_RETURN_IF_ERROR(expect('('));
    skip_ws();
    while (peek() != ')') {
      if (!node->inputs.empty()) KILN_RETURN_IF_ERROR(expect(','));
      skip_ws();
      if (peek() == '_') {
        ++pos_;
        node->inputs.push_back(nullptr);
      } else {
        KILN_ASSIGN_OR_RETURN(std::string name, parse_value_name());
        Value* v = g.find_value(name);
        if (!v) return error(fmt::format("node '{}' reads '{}', which is not defined above", node->name, name));
        node->inputs.push_back(v);
      }
      skip_ws();
    }
    ++pos_;
    KILN_RETURN_IF_ERROR(expect('-'));
    KILN_RETURN_IF_ERROR(expect('>'));
    KILN_RETURN_IF_ERROR(expect('('));
    skip_ws();
    while (peek() != ')') {
      if (!node->outputs.empty()) KILN_RETURN_IF_ERROR(expect(','));
      skip_ws();
      if (peek() == '_') {
        ++pos_;
        node->outputs.push_back(nullptr);
      } else {
        KILN_ASSIGN_OR_RETURN(std::string name, parse_value_name());
        KILN_RETURN_IF_ERROR(expect(':'));
        KILN_ASSIGN_OR_RETURN(ValueType type, parse_type());
        if (g.find_value(name)) return error(fmt::format("value '{}' is defined twice", name));
        node->outputs.push_back(g.add_value(name, type));
      }
      skip_ws();
    }
    ++pos_;
    skip_ws();
    if (peek() == '{') {
      ++pos_;
      skip_ws();
      while (peek() != '}') {
        if (!node->attrs.empty()) KILN_RETURN_IF_ERROR(expect(','));
        KILN_ASSIGN_OR_RETURN(std::string attr_name, parse_word());
        KILN_RETURN_IF_ERROR(expect(':'));
        KILN_ASSIGN_OR_RETURN(Attribute a, parse_attr_value());
        node->attrs[attr_name] = std::move(a);
        skip_ws();
      }
      ++pos_;
    }
    node->def = find_op_def(node->domain, node->op_type);
    if (!node->def) return error(fmt::format("unknown op {}", node->op_type));
    g.add_node(std::move(node));
    return {};
  }

  Result<Attribute> parse_attr_value() {
    KILN_ASSIGN_OR_RETURN(std::string type, parse_word());
    KILN_RETURN_IF_ERROR(expect('='));
    skip_ws();
    if (type == "float") {
      KILN_ASSIGN_OR_RETURN(double v, parse_double());
      return Attribute::of_float(static_cast<float>(v));
    }
    if (type == "int") {
      KILN_ASSIGN_OR_RETURN(int64_t v, parse_int());
      return Attribute::of_int(v);
    }
    if (type == "string") {
      KILN_ASSIGN_OR_RETURN(std::string v, parse_quoted());
      return Attribute::of_string(v);
    }
    if (type == "tensor") {
      KILN_ASSIGN_OR_RETURN(Tensor t, parse_tensor_literal());
      return Attribute::of_tensor(std::move(t));
    }
    if (type == "graph" || type == "graphs") return error("subgraph attributes cannot be parsed from text");
    Attribute a;
    KILN_RETURN_IF_ERROR(expect('['));
    skip_ws();
    bool first = true;
    while (peek() != ']') {
      if (!first) KILN_RETURN_IF_ERROR(expect(','));
      first = false;
      skip_ws();
      if (type == "floats") {
        KILN_ASSIGN_OR_RETURN(double v, parse_double());
        a.floats.push_back(static_cast<float>(v));
      } else if (type == "ints") {
        KILN_ASSIGN_OR_RETURN(int64_t v, parse_int());
        a.ints.push_back(v);
      } else if (type == "strings") {
        KILN_ASSIGN_OR_RETURN(std::string v, parse_quoted());
        a.strings.push_back(v);
      } else if (type == "tensors") {
        KILN_ASSIGN_OR_RETURN(Tensor t, parse_tensor_literal());
        a.tensors.push_back(std::move(t));
      } else {
        return error(fmt::format("unknown attribute type '{}'", type));
      }
      skip_ws();
    }
    ++pos_;
    a.type = type == "floats" ? AttrType::kFloats : type == "ints" ? AttrType::kInts
           : type == "strings" ? AttrType::kStrings : AttrType::kTensors;
    return a;
  }

  Result<Tensor> parse_tensor_literal() {
    KILN_ASSIGN_OR_RETURN(std::string dt, parse_word());
    auto dtype = parse_dtype(dt);
    if (!dtype) return error(fmt::format("unknown dtype '{}'", dt));
    KILN_RETURN_IF_ERROR(expect('['));
    Dims dims;
    skip_ws();
    while (peek() != ']') {
      if (!dims.empty()) KILN_RETURN_IF_ERROR(expect(','));
      KILN_ASSIGN_OR_RETURN(int64_t d, parse_int());
      dims.push_back(d);
      skip_ws();
    }
    ++pos_;
    return parse_elements(*dtype, dims);
  }

  Result<Tensor> parse_elements(DataType dtype, const Dims& dims) {
    auto count = checked_element_count(dims);
    if (!count.ok()) return error(count.status().message());
    skip_ws();
    if (peek() == '<') return error("constant values were elided (<N values>); print with all constants to parse");
    KILN_RETURN_IF_ERROR(expect('['));
    Tensor t(dtype, dims);
    for (int64_t i = 0; i < *count; ++i) {
      if (i) KILN_RETURN_IF_ERROR(expect(','));
      skip_ws();
      Status st = set_element(t, i);
      if (!st.ok()) return st;
    }
    KILN_RETURN_IF_ERROR(expect(']'));
    return t;
  }

  Status set_element(Tensor& t, int64_t i) {
    switch (t.dtype()) {
      case DataType::kString: {
        KILN_ASSIGN_OR_RETURN(t.data<std::string>()[i], parse_quoted());
        return {};
      }
      case DataType::kBool: {
        KILN_ASSIGN_OR_RETURN(std::string w, parse_word());
        if (w != "true" && w != "false") return error("expected true or false");
        t.data<bool>()[i] = w == "true";
        return {};
      }
      case DataType::kU64: {
        KILN_ASSIGN_OR_RETURN(std::string w, parse_word());
        t.data<uint64_t>()[i] = std::strtoull(w.c_str(), nullptr, 10);
        return {};
      }
      default: break;
    }
    if (is_float(t.dtype())) {
      KILN_ASSIGN_OR_RETURN(double v, parse_double());
      return visit_float(t.dtype(), [&](auto tag) -> Status {
        using T = decltype(tag);
        t.data<T>()[i] = static_cast<T>(v);
        return {};
      });
    }
    KILN_ASSIGN_OR_RETURN(int64_t v, parse_int());
    return visit_numeric(t.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      t.data<T>()[i] = static_cast<T>(v);
      return {};
    });
  }

  Result<ValueType> parse_type() {
    ValueType vt;
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    auto dtype = parse_dtype(s_.substr(start, pos_ - start));
    if (!dtype) return error(fmt::format("unknown dtype '{}'", s_.substr(start, pos_ - start)));
    vt.dtype = *dtype;
    KILN_RETURN_IF_ERROR(expect('['));
    skip_ws();
    if (peek() == '*') {
      ++pos_;
      KILN_RETURN_IF_ERROR(expect(']'));
      return vt;
    }
    std::vector<Dim> dims;
    while (peek() != ']') {
      if (!dims.empty()) KILN_RETURN_IF_ERROR(expect(','));
      skip_ws();
      if (peek() == '?') {
        ++pos_;
        dims.emplace_back();
      } else if (peek() == '"') {
        KILN_ASSIGN_OR_RETURN(std::string sym, parse_quoted());
        dims.push_back(Dim::symbolic(sym));
      } else if (std::isdigit(static_cast<unsigned char>(peek()))) {
        KILN_ASSIGN_OR_RETURN(int64_t v, parse_int());
        dims.emplace_back(v);
      } else {
        KILN_ASSIGN_OR_RETURN(std::string sym, parse_word());
        dims.push_back(Dim::symbolic(sym));
      }
      skip_ws();
    }
    ++pos_;
    vt.shape = Shape(std::move(dims));
    return vt;
  }

  Result<std::string> parse_value_name() {
    KILN_RETURN_IF_ERROR(expect('%'));
    if (peek() == '"') return parse_quoted();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                s_[pos_] == '.' || s_[pos_] == '/'))
      ++pos_;
    if (pos_ == start) return error("expected a value name after %");
    return s_.substr(start, pos_ - start);
  }

  Result<std::string> parse_word() {
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                s_[pos_] == '-' || s_[pos_] == '.'))
      ++pos_;
    if (pos_ == start) return error("expected a word");
    return s_.substr(start, pos_ - start);
  }

  std::string peek_word() {
    size_t save = pos_;
    auto w = parse_word();
    pos_ = save;
    return w.ok() ? *w : "";
  }

  Result<std::string> parse_quoted() {
    skip_ws();
    if (peek() != '"') return error("expected a quoted string");
    ++pos_;
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
        ++pos_;
        out += s_[pos_] == 'n' ? '\n' : s_[pos_];
      } else {
        out += s_[pos_];
      }
      ++pos_;
    }
    if (pos_ >= s_.size()) return error("unterminated string");
    ++pos_;
    return out;
  }

  Result<int64_t> parse_int() {
    skip_ws();
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(begin, &end, 10);
    if (end == begin) return error("expected an integer");
    if (errno == ERANGE) return error("integer out of range");
    pos_ += static_cast<size_t>(end - begin);
    return static_cast<int64_t>(v);
  }

  Result<double> parse_double() {
    skip_ws();
    for (const char* special : {"nan", "-nan", "inf", "-inf"}) {
      std::string w(special);
      if (s_.compare(pos_, w.size(), w) == 0 &&
          (pos_ + w.size() >= s_.size() || !std::isalnum(static_cast<unsigned char>(s_[pos_ + w.size()])))) {
        pos_ += w.size();
        if (w == "nan" || w == "-nan") return std::numeric_limits<double>::quiet_NaN();
        return w == "inf" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
      }
    }
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end == begin) return error("expected a number");
    pos_ += static_cast<size_t>(end - begin);
    return v;
  }

  Status expect_word(const std::string& w) {
    auto got = parse_word();
    if (!got.ok() || *got != w) return error(fmt::format("expected '{}'", w));
    return {};
  }

  Status expect(char c) {
    skip_ws();
    if (peek() != c) return error(fmt::format("expected '{}'", c));
    ++pos_;
    return {};
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  void skip_ws() {
    while (pos_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        ++pos_;
      } else if (s_[pos_] == '#') {  // comment to end of line
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  Status error(const std::string& message) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status::invalid_argument(fmt::format("kiln-ir text, line {} column {}: {}", line, col, message));
  }

  const std::string& s_;
  const ParseOptions& options_;
  size_t pos_ = 0;
};

}  // namespace

std::string print_graph(const Graph& g, const TextOptions& options) {
  std::string out = "kiln-ir 1\n";
  out += fmt::format("graph {}\n", quote(g.name));
  if (!g.producer.empty()) out += fmt::format("producer {}\n", quote(g.producer));
  for (const auto& [domain, version] : g.opset_imports) out += fmt::format("opset {} {}\n", quote(domain), version);
  for (const Value* v : g.inputs)
    if (!v->is_constant()) out += fmt::format("input {}: {}\n", value_ref(v), print_type(v->type));
  for (const auto& v : g.values()) {
    if (!v->is_constant() || v->producer) continue;
    bool listed_input = std::find(g.inputs.begin(), g.inputs.end(), v.get()) != g.inputs.end();
    std::optional<std::string> ref;
    if (options.constant_reference) ref = options.constant_reference(*v);
    out += fmt::format("const {}: {} = {}{}\n", value_ref(v.get()), print_type(v->type),
                       ref ? "@" + *ref : print_elements(*v->constant, options.max_constant_elements),
                       listed_input ? " input" : "");
  }
  for (const auto& n : g.nodes()) {
    std::vector<std::string> ins, outs, attrs;
    for (const Value* v : n->inputs) ins.push_back(value_ref(v));
    for (const Value* v : n->outputs) outs.push_back(v ? value_ref(v) + ": " + print_type(v->type) : "_");
    for (const auto& [name, a] : n->attrs) attrs.push_back(print_attr(name, a, options.max_constant_elements));
    std::string op = n->domain.empty() ? n->op_type : n->op_type + "@" + n->domain;
    out += fmt::format("node {} {}<{}>({}) -> ({})", quote(n->name), op, n->opset, fmt::join(ins, ", "),
                       fmt::join(outs, ", "));
    if (!attrs.empty()) out += fmt::format(" {{{}}}", fmt::join(attrs, ", "));
    out += "\n";
  }
  for (const Value* v : g.outputs) out += fmt::format("output {}\n", value_ref(v));
  return out;
}

Result<Graph> parse_graph(const std::string& text, const ParseOptions& options) {
  return Parser(text, options).parse();
}

}  // namespace kiln
