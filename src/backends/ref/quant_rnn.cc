// Reference kernels of the recurrent ops RNN, GRU and LSTM (quant family).
//
// Each batch entry runs its own recurrence over its sequence_lens[b] steps (backwards for the reverse
// direction); Y is zero past a sequence's end and Y_h/Y_c hold the state after its last step. All arithmetic
// is in double; outputs are rounded to X's dtype at the end. Gate orders follow the spec: GRU W = [z, r, h],
// LSTM W = [i, o, f, c], LSTM P = [i, o, f].
#include "backends/ref/quant_rnn.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

namespace kiln::ref {

namespace {

enum class Cell { kRnn, kGru, kLstm };

int gate_count(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 3 : 4; }
int activation_count(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 2 : 3; }

struct Activation {
  enum Kind { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu,
              kSoftsign, kSoftplus } kind = kTanh;
  double alpha = 0, beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case kRelu: return std::max(0.0, x);
      case kTanh: return std::tanh(x);
      case kSigmoid: return 1.0 / (1.0 + std::exp(-x));
      case kAffine: return alpha * x + beta;
      case kLeakyRelu: return x >= 0 ? x : alpha * x;
      case kThresholdedRelu: return x > alpha ? x : 0.0;
      case kScaledTanh: return alpha * std::tanh(beta * x);
      case kHardSigmoid: return std::clamp(alpha * x + beta, 0.0, 1.0);
      case kElu: return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
      case kSoftsign: return x / (1.0 + std::abs(x));
      case kSoftplus: return std::log1p(std::exp(x));
    }
    return x;
  }
};

// Parses the activations attribute; alphas/betas are consumed in order by the functions that take them
// (missing ones get the defaults of the matching ONNX ops), as onnxruntime does.
Result<std::vector<Activation>> read_activations(const KernelContext& ctx, Cell cell, int64_t dirs) {
  std::vector<std::string> names = ctx.node().attr_strings("activations");
  const size_t per_dir = static_cast<size_t>(activation_count(cell));
  if (names.empty()) {
    std::vector<std::string> defaults = cell == Cell::kRnn   ? std::vector<std::string>{"Tanh"}
                                        : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                             : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    for (int64_t d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  }
  if (dirs == 2 && names.size() == per_dir) names.insert(names.end(), names.begin(), names.end());
  if (names.size() != per_dir * static_cast<size_t>(dirs))
    return ctx.error(fmt::format("activations has {} entries, expected {} ({} per direction)", names.size(),
                                 per_dir * dirs, per_dir));
  std::vector<float> alphas = ctx.node().attr_floats("activation_alpha");
  std::vector<float> betas = ctx.node().attr_floats("activation_beta");
  size_t ai = 0, bi = 0;
  auto take = [](const std::vector<float>& v, size_t& i, double def) { return i < v.size() ? v[i++] : def; };
  std::vector<Activation> out;
  for (const std::string& name : names) {
    std::string n = name;
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    Activation a;
    if (n == "relu") a.kind = Activation::kRelu;
    else if (n == "tanh") a.kind = Activation::kTanh;
    else if (n == "sigmoid") a.kind = Activation::kSigmoid;
    else if (n == "affine") a = {Activation::kAffine, take(alphas, ai, 1.0), take(betas, bi, 0.0)};
    else if (n == "leakyrelu") a = {Activation::kLeakyRelu, take(alphas, ai, 0.01), 0};
    else if (n == "thresholdedrelu") a = {Activation::kThresholdedRelu, take(alphas, ai, 1.0), 0};
    else if (n == "scaledtanh") a = {Activation::kScaledTanh, take(alphas, ai, 1.0), take(betas, bi, 1.0)};
    else if (n == "hardsigmoid") a = {Activation::kHardSigmoid, take(alphas, ai, 0.2), take(betas, bi, 0.5)};
    else if (n == "elu") a = {Activation::kElu, take(alphas, ai, 1.0), 0};
    else if (n == "softsign") a.kind = Activation::kSoftsign;
    else if (n == "softplus") a.kind = Activation::kSoftplus;
    else return ctx.error(fmt::format("unknown activation function '{}'", name));
    out.push_back(a);
  }
  return out;
}

// Everything a recurrence needs, validated and converted to double, independent of the layout.
struct Setup {
  Cell cell = Cell::kRnn;
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, layout = 0, gates = 1;
  std::vector<bool> reverse;                 // per direction
  std::vector<double> x;                     // [seq][batch][input]
  std::vector<double> w, r, b;               // [dirs][gates*hidden][input], [..][hidden], [dirs][2*gates*hidden]
  std::vector<double> h0, c0;                // [dirs][batch][hidden]
  std::vector<double> p;                     // [dirs][3*hidden] (LSTM peepholes, zeros when absent)
  std::vector<int64_t> seq_lens;             // [batch]
  std::optional<double> clip;
  std::vector<Activation> acts;              // [dirs][activation_count]
  bool linear_before_reset = false, input_forget = false;

  double pre(double v) const { return clip ? std::clamp(v, -*clip, *clip) : v; }
};

Status expect_dims(const KernelContext& ctx, const Tensor& t, const Dims& want, const char* name) {
  if (t.dims() != want)
    return ctx.error(fmt::format("{} must have shape [{}], got {}", name, fmt::join(want, ","), t.type_string()));
  return {};
}

// Reads an optional [dirs, batch, hidden] state input (layout 1: [batch, dirs, hidden]) into [dirs][batch][hidden].
Result<std::vector<double>> read_state(const KernelContext& ctx, const Setup& s, size_t index, const char* name) {
  std::vector<double> out(static_cast<size_t>(s.dirs * s.batch * s.hidden), 0.0);
  if (!ctx.has_input(index)) return out;
  const Tensor& t = ctx.input(index);
  Dims want = s.layout == 0 ? Dims{s.dirs, s.batch, s.hidden} : Dims{s.batch, s.dirs, s.hidden};
  KILN_RETURN_IF_ERROR(expect_dims(ctx, t, want, name));
  std::vector<double> v = t.to_double_vector();
  for (int64_t d = 0; d < s.dirs; ++d)
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t j = 0; j < s.hidden; ++j) {
        int64_t src = s.layout == 0 ? (d * s.batch + b) * s.hidden + j : (b * s.dirs + d) * s.hidden + j;
        out[(d * s.batch + b) * s.hidden + j] = v[src];
      }
  return out;
}

Result<Setup> read_setup(const KernelContext& ctx, Cell cell) {
  const Node& node = ctx.node();
  Setup s;
  s.cell = cell;
  s.gates = gate_count(cell);
  std::string direction = node.attr_string("direction", "forward");
  if (direction == "forward") s.reverse = {false};
  else if (direction == "reverse") s.reverse = {true};
  else if (direction == "bidirectional") s.reverse = {false, true};
  else return ctx.error(fmt::format("direction '{}' is not one of forward, reverse, bidirectional", direction));
  s.dirs = static_cast<int64_t>(s.reverse.size());
  s.layout = node.attr_int("layout", 0);
  if (s.layout != 0 && s.layout != 1) return ctx.error(fmt::format("layout must be 0 or 1, got {}", s.layout));
  if (node.has_attr("clip")) {
    s.clip = node.attr_float("clip");
    if (*s.clip < 0) return ctx.error(fmt::format("clip must be >= 0, got {}", *s.clip));
  }
  s.linear_before_reset = node.attr_int("linear_before_reset", 0) != 0;
  s.input_forget = node.attr_int("input_forget", 0) != 0;

  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor& R = ctx.input(2);
  if (!is_float(X.dtype())) return ctx.error(fmt::format("X must be a float tensor, got {}", X.type_string()));
  for (size_t i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && i != 4 && ctx.input(i).dtype() != X.dtype())
      return ctx.error(fmt::format("input {} is {}, expected X's dtype {}", i, ctx.input(i).type_string(),
                                   dtype_name(X.dtype())));
  if (X.rank() != 3) return ctx.error(fmt::format("X must have rank 3, got {}", X.type_string()));
  if (R.rank() != 3) return ctx.error(fmt::format("R must have rank 3, got {}", R.type_string()));
  s.seq = s.layout == 0 ? X.dim(0) : X.dim(1);
  s.batch = s.layout == 0 ? X.dim(1) : X.dim(0);
  s.input = X.dim(2);
  s.hidden = node.has_attr("hidden_size") ? node.attr_int("hidden_size") : R.dim(2);
  if (s.hidden <= 0) return ctx.error(fmt::format("hidden_size must be positive, got {}", s.hidden));
  const int64_t gh = s.gates * s.hidden;
  KILN_RETURN_IF_ERROR(expect_dims(ctx, W, {s.dirs, gh, s.input}, "W"));
  KILN_RETURN_IF_ERROR(expect_dims(ctx, R, {s.dirs, gh, s.hidden}, "R"));

  std::vector<double> xv = X.to_double_vector();
  s.x.resize(xv.size());
  for (int64_t t = 0; t < s.seq; ++t)
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t i = 0; i < s.input; ++i) {
        int64_t src = s.layout == 0 ? (t * s.batch + b) * s.input + i : (b * s.seq + t) * s.input + i;
        s.x[(t * s.batch + b) * s.input + i] = xv[src];
      }
  s.w = W.to_double_vector();
  s.r = R.to_double_vector();
  s.b.assign(static_cast<size_t>(s.dirs * 2 * gh), 0.0);
  if (ctx.has_input(3)) {
    KILN_RETURN_IF_ERROR(expect_dims(ctx, ctx.input(3), {s.dirs, 2 * gh}, "B"));
    s.b = ctx.input(3).to_double_vector();
  }
  s.seq_lens.assign(static_cast<size_t>(s.batch), s.seq);
  if (ctx.has_input(4)) {
    const Tensor& sl = ctx.input(4);
    if (!is_integer(sl.dtype())) return ctx.error(fmt::format("sequence_lens must be i32, got {}", sl.type_string()));
    KILN_RETURN_IF_ERROR(expect_dims(ctx, sl, {s.batch}, "sequence_lens"));
    KILN_ASSIGN_OR_RETURN(s.seq_lens, sl.to_int64_vector());
    for (int64_t len : s.seq_lens)
      if (len < 0 || len > s.seq)
        return ctx.error(fmt::format("sequence_lens value {} is outside [0, {}]", len, s.seq));
  }
  KILN_ASSIGN_OR_RETURN(s.h0, read_state(ctx, s, 5, "initial_h"));
  if (cell == Cell::kLstm) {
    KILN_ASSIGN_OR_RETURN(s.c0, read_state(ctx, s, 6, "initial_c"));
    s.p.assign(static_cast<size_t>(s.dirs * 3 * s.hidden), 0.0);
    if (ctx.has_input(7)) {
      KILN_RETURN_IF_ERROR(expect_dims(ctx, ctx.input(7), {s.dirs, 3 * s.hidden}, "P"));
      s.p = ctx.input(7).to_double_vector();
    }
  }
  KILN_ASSIGN_OR_RETURN(s.acts, read_activations(ctx, cell, s.dirs));
  return s;
}

// One time step of one batch entry in direction d: updates h (and c for LSTM) in place.
void step(const Setup& s, int64_t d, const double* x, std::vector<double>& h, std::vector<double>& c) {
  const int64_t H = s.hidden, I = s.input, gh = s.gates * H;
  const double* w = s.w.data() + d * gh * I;
  const double* r = s.r.data() + d * gh * H;
  const double* wb = s.b.data() + d * 2 * gh;
  const double* rb = wb + gh;
  const Activation* act = &s.acts[d * activation_count(s.cell)];
  // Xt*W^T + Wb for gate row `row`; and Ht-1*R^T (with h scaled per element when given) for row `row`.
  auto xw = [&](int64_t row) {
    double sum = wb[row];
    for (int64_t i = 0; i < I; ++i) sum += x[i] * w[row * I + i];
    return sum;
  };
  auto hr = [&](int64_t row, const std::vector<double>& hv) {
    double sum = 0;
    for (int64_t k = 0; k < H; ++k) sum += hv[k] * r[row * H + k];
    return sum;
  };
  std::vector<double> next(static_cast<size_t>(H));
  if (s.cell == Cell::kRnn) {
    for (int64_t j = 0; j < H; ++j) next[j] = act[0](s.pre(xw(j) + hr(j, h) + rb[j]));
    h = next;
    return;
  }
  if (s.cell == Cell::kGru) {
    std::vector<double> z(H), rg(H);
    for (int64_t j = 0; j < H; ++j) {
      z[j] = act[0](s.pre(xw(j) + hr(j, h) + rb[j]));
      rg[j] = act[0](s.pre(xw(H + j) + hr(H + j, h) + rb[H + j]));
    }
    std::vector<double> rh(H);
    for (int64_t k = 0; k < H; ++k) rh[k] = rg[k] * h[k];
    for (int64_t j = 0; j < H; ++j) {
      const int64_t row = 2 * H + j;
      double recur = s.linear_before_reset ? rg[j] * (hr(row, h) + rb[row]) : hr(row, rh) + rb[row];
      double cand = act[1](s.pre(xw(row) + recur));
      next[j] = (1.0 - z[j]) * cand + z[j] * h[j];
    }
    h = next;
    return;
  }
  // LSTM: gate rows i = 0, o = H, f = 2H, c = 3H; peepholes p = [i, o, f].
  const double* p = s.p.data() + d * 3 * H;
  auto gate = [&](int64_t g, int64_t j) { return xw(g * H + j) + hr(g * H + j, h) + rb[g * H + j]; };
  std::vector<double> c_next(H);
  for (int64_t j = 0; j < H; ++j) {
    double i_g = act[0](s.pre(gate(0, j) + p[j] * c[j]));
    double f_g = s.input_forget ? 1.0 - i_g : act[0](s.pre(gate(2, j) + p[2 * H + j] * c[j]));
    double c_g = act[1](s.pre(gate(3, j)));
    c_next[j] = f_g * c[j] + i_g * c_g;
    double o_g = act[0](s.pre(gate(1, j) + p[H + j] * c_next[j]));
    next[j] = o_g * act[2](c_next[j]);
  }
  h = next;
  c = c_next;
}

Status run_recurrence(KernelContext& ctx, Cell cell) {
  KILN_ASSIGN_OR_RETURN(Setup s, read_setup(ctx, cell));
  const int64_t H = s.hidden, B = s.batch, D = s.dirs, T = s.seq;
  std::vector<double> y(static_cast<size_t>(T * D * B * H), 0.0);  // [seq][dirs][batch][hidden]
  std::vector<double> yh(static_cast<size_t>(D * B * H), 0.0), yc(yh.size(), 0.0);  // [dirs][batch][hidden]
  for (int64_t d = 0; d < D; ++d)
    for (int64_t b = 0; b < B; ++b) {
      const size_t state = static_cast<size_t>((d * B + b) * H);
      std::vector<double> h(s.h0.begin() + state, s.h0.begin() + state + H);
      std::vector<double> c;
      if (cell == Cell::kLstm) c.assign(s.c0.begin() + state, s.c0.begin() + state + H);
      const int64_t len = s.seq_lens[b];
      for (int64_t n = 0; n < len; ++n) {
        const int64_t t = s.reverse[d] ? len - 1 - n : n;
        step(s, d, s.x.data() + (t * B + b) * s.input, h, c);
        std::copy(h.begin(), h.end(), y.begin() + ((t * D + d) * B + b) * H);
      }
      std::copy(h.begin(), h.end(), yh.begin() + state);
      if (cell == Cell::kLstm) std::copy(c.begin(), c.end(), yc.begin() + state);
    }

  const DataType dt = ctx.input(0).dtype();
  return visit_float(dt, [&](auto tag) -> Status {
    using V = decltype(tag);
    using C = compute_type_t<V>;
    auto put = [](Tensor& t, int64_t i, double v) { t.data<V>()[i] = static_cast<V>(static_cast<C>(v)); };
    if (ctx.has_output(0)) {
      Tensor& out = ctx.allocate_output(0, dt, s.layout == 0 ? Dims{T, D, B, H} : Dims{B, T, D, H});
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d)
          for (int64_t b = 0; b < B; ++b)
            for (int64_t j = 0; j < H; ++j) {
              int64_t dst = s.layout == 0 ? ((t * D + d) * B + b) * H + j : ((b * T + t) * D + d) * H + j;
              put(out, dst, y[((t * D + d) * B + b) * H + j]);
            }
    }
    for (size_t o = 1; o <= (cell == Cell::kLstm ? 2u : 1u); ++o) {
      if (!ctx.has_output(o)) continue;
      const std::vector<double>& src = o == 1 ? yh : yc;
      Tensor& out = ctx.allocate_output(o, dt, s.layout == 0 ? Dims{D, B, H} : Dims{B, D, H});
      for (int64_t d = 0; d < D; ++d)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < H; ++j) {
            int64_t dst = s.layout == 0 ? (d * B + b) * H + j : (b * D + d) * H + j;
            put(out, dst, src[(d * B + b) * H + j]);
          }
    }
    return {};
  });
}

}  // namespace

Status rnn_kernel(KernelContext& ctx) { return run_recurrence(ctx, Cell::kRnn); }
Status gru_kernel(KernelContext& ctx) { return run_recurrence(ctx, Cell::kGru); }
Status lstm_kernel(KernelContext& ctx) { return run_recurrence(ctx, Cell::kLstm); }

}  // namespace kiln::ref
