// Reference kernels of the extra family's signal ops: HannWindow, HammingWindow, BlackmanWindow, DFT, STFT,
// MelWeightMatrix. Transforms are naive O(n^2) sums in double: exact enough to be the oracle for FFTs.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "backends/ref/extra_common.h"

namespace kiln::ref {

namespace {

// Sizes beyond this are rejected rather than attempted (a bad size input must not exhaust memory).
constexpr int64_t kMaxSignalLength = int64_t{1} << 31;

Result<DataType> output_datatype(const KernelContext& ctx) {
  int64_t v = ctx.node().attr_int("output_datatype", 1);
  if (v < 0 || v > 1000 || !is_known_dtype(static_cast<int32_t>(v)) || v == static_cast<int64_t>(DataType::kString) ||
      v == static_cast<int64_t>(DataType::kBool))
    return ctx.error("output_datatype " + std::to_string(v) + " is not a numeric ONNX data type");
  return static_cast<DataType>(v);
}

/// Generalized cosine window w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), with N = size for a
/// periodic window and size - 1 for a symmetric one.
Status cosine_window(KernelContext& ctx, double a0, double a1, double a2) {
  KILN_ASSIGN_OR_RETURN(int64_t size, read_scalar_int(ctx, 0, "size"));
  if (size < 0 || size > kMaxSignalLength) return ctx.error("size must be in [0, 2^31], got " + std::to_string(size));
  KILN_ASSIGN_OR_RETURN(DataType dtype, output_datatype(ctx));
  bool periodic = ctx.node().attr_int("periodic", 1) != 0;
  int64_t denom = periodic ? size : size - 1;
  std::vector<double> w(static_cast<size_t>(size), 1.0);  // a one-point symmetric window is [1]
  if (denom > 0) {
    for (int64_t n = 0; n < size; ++n) {
      double t = 2.0 * std::numbers::pi * static_cast<double>(n) / static_cast<double>(denom);
      w[n] = a0 - a1 * std::cos(t) + a2 * std::cos(2.0 * t);
    }
  }
  Tensor& out = ctx.allocate_output(0, dtype, {size});
  return store_doubles(out, w);
}

/// One complex DFT bin: sum over k < count of x[k] * exp(sign * 2 pi i f k / length), with x read through
/// `re(k)` / `im(k)`. The angle is reduced mod length first so large indices keep full precision.
template <typename Re, typename Im>
void dft_bin(int64_t f, int64_t count, int64_t length, double sign, Re re, Im im, double& out_re, double& out_im) {
  double sum_re = 0.0, sum_im = 0.0;
  for (int64_t k = 0; k < count; ++k) {
    int64_t phase = static_cast<int64_t>((static_cast<unsigned __int128>(f) * static_cast<uint64_t>(k)) %
                                         static_cast<uint64_t>(length));
    double angle = sign * 2.0 * std::numbers::pi * static_cast<double>(phase) / static_cast<double>(length);
    double c = std::cos(angle), s = std::sin(angle);
    double xr = re(k), xi = im(k);
    sum_re += xr * c - xi * s;
    sum_im += xr * s + xi * c;
  }
  out_re = sum_re;
  out_im = sum_im;
}

}  // namespace

Status hann_window(KernelContext& ctx) { return cosine_window(ctx, 0.5, 0.5, 0.0); }
Status hamming_window(KernelContext& ctx) { return cosine_window(ctx, 25.0 / 46.0, 21.0 / 46.0, 0.0); }
Status blackman_window(KernelContext& ctx) { return cosine_window(ctx, 0.42, 0.5, 0.08); }

Status dft(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error("input must be a float tensor, got " + x.type_string());
  const int64_t rank = x.rank();
  if (rank < 2 || (x.dim(rank - 1) != 1 && x.dim(rank - 1) != 2))
    return ctx.error("input must be [..., n, 1] (real) or [..., n, 2] (complex), got " + x.type_string());
  int64_t axis = 1;
  if (ctx.opset() >= 20) {
    axis = -2;
    if (ctx.has_input(2)) {
      KILN_ASSIGN_OR_RETURN(axis, read_scalar_int(ctx, 2, "axis"));
    }
  } else {
    axis = ctx.node().attr_int("axis", 1);
  }
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank - 2)
    return ctx.error("axis " + std::to_string(axis) + " is out of range for input " + x.type_string() +
                     " (the last axis holds the real/imaginary parts)");
  const int64_t n = x.dim(a);
  int64_t length = n;
  if (ctx.has_input(1) && ctx.input(1).size() > 0) {
    KILN_ASSIGN_OR_RETURN(length, read_scalar_int(ctx, 1, "dft_length"));
    if (length <= 0 || length > kMaxSignalLength)
      return ctx.error("dft_length must be in [1, 2^31], got " + std::to_string(length));
  }
  if (length == 0) return ctx.error("the transformed axis of input " + x.type_string() + " is empty");
  const bool inverse = ctx.node().attr_int("inverse", 0) != 0;
  const bool onesided = ctx.node().attr_int("onesided", 0) != 0;
  const int64_t out_len = onesided ? length / 2 + 1 : length;
  const int64_t comps = x.dim(rank - 1);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < a; ++i) outer *= x.dim(i);
  for (int64_t i = a + 1; i < rank - 1; ++i) inner *= x.dim(i);

  if (static_cast<double>(outer) * static_cast<double>(out_len) * static_cast<double>(inner) >
      static_cast<double>(kMaxSignalLength))
    return ctx.error("output of more than 2^31 complex values is too large");
  Dims out_dims = x.dims();
  out_dims[a] = out_len;
  out_dims[rank - 1] = 2;
  std::vector<double> v = x.to_double_vector();
  std::vector<double> out(static_cast<size_t>(outer * out_len * inner * 2));
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t count = std::min(n, length);  // the signal is truncated or zero-padded to dft_length
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return static_cast<size_t>(((o * n + k) * inner + i) * comps); };
      auto re = [&](int64_t k) { return v[at(k)]; };
      auto im = [&](int64_t k) { return comps == 2 ? v[at(k) + 1] : 0.0; };
      for (int64_t f = 0; f < out_len; ++f) {
        size_t dst = static_cast<size_t>(((o * out_len + f) * inner + i) * 2);
        dft_bin(f, count, length, sign, re, im, out[dst], out[dst + 1]);
        if (inverse) {
          out[dst] /= static_cast<double>(length);
          out[dst + 1] /= static_cast<double>(length);
        }
      }
    }
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), out_dims);
  return store_doubles(y, out);
}

Status stft(KernelContext& ctx) {
  const Tensor& sig = ctx.input(0);
  if (!is_float(sig.dtype())) return ctx.error("signal must be a float tensor, got " + sig.type_string());
  if (sig.rank() != 3 || (sig.dim(2) != 1 && sig.dim(2) != 2))
    return ctx.error("signal must be [batch, length, 1] (real) or [batch, length, 2] (complex), got " +
                     sig.type_string());
  KILN_ASSIGN_OR_RETURN(int64_t step, read_scalar_int(ctx, 1, "frame_step"));
  if (step <= 0) return ctx.error("frame_step must be > 0, got " + std::to_string(step));
  std::vector<double> window;
  int64_t frame_length = -1;
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    if (w.rank() != 1 || !is_float(w.dtype()))
      return ctx.error("window must be a 1-D float tensor, got " + w.type_string());
    window = w.to_double_vector();
    frame_length = w.dim(0);
  }
  if (ctx.has_input(3)) {
    KILN_ASSIGN_OR_RETURN(int64_t fl, read_scalar_int(ctx, 3, "frame_length"));
    if (frame_length >= 0 && fl != frame_length)
      return ctx.error("frame_length " + std::to_string(fl) + " differs from the window's length " +
                       std::to_string(frame_length));
    frame_length = fl;
  }
  if (frame_length < 0 && !ctx.has_input(2) && !ctx.has_input(3))
    return ctx.error("either window or frame_length must be given");
  const int64_t batch = sig.dim(0), length = sig.dim(1), comps = sig.dim(2);
  if (frame_length <= 0 || frame_length > length)
    return ctx.error("frame_length must be in [1, signal length " + std::to_string(length) + "], got " +
                     std::to_string(frame_length));
  if (window.empty()) window.assign(static_cast<size_t>(frame_length), 1.0);  // rectangular window
  const int64_t frames = (length - frame_length) / step + 1;
  const int64_t bins = ctx.node().attr_int("onesided", 1) != 0 ? frame_length / 2 + 1 : frame_length;

  std::vector<double> v = sig.to_double_vector();
  std::vector<double> out(static_cast<size_t>(batch * frames * bins * 2));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t fr = 0; fr < frames; ++fr) {
      int64_t start = fr * step;
      auto at = [&](int64_t k) { return static_cast<size_t>((b * length + start + k) * comps); };
      auto re = [&](int64_t k) { return v[at(k)] * window[k]; };
      auto im = [&](int64_t k) { return comps == 2 ? v[at(k) + 1] * window[k] : 0.0; };
      for (int64_t f = 0; f < bins; ++f) {
        size_t dst = static_cast<size_t>(((b * frames + fr) * bins + f) * 2);
        dft_bin(f, frame_length, frame_length, -1.0, re, im, out[dst], out[dst + 1]);
      }
    }
  }
  Tensor& y = ctx.allocate_output(0, sig.dtype(), {batch, frames, bins, 2});
  return store_doubles(y, out);
}

// Triangular filters on the mel scale, following the ONNX reference: num_mel_bins + 2 points evenly spaced
// in mel between the edges, mapped to DFT bins by floor((dft_length + 1) * hz / sample_rate).
Status mel_weight_matrix(KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(int64_t num_mel_bins, read_scalar_int(ctx, 0, "num_mel_bins"));
  KILN_ASSIGN_OR_RETURN(int64_t dft_length, read_scalar_int(ctx, 1, "dft_length"));
  KILN_ASSIGN_OR_RETURN(int64_t sample_rate, read_scalar_int(ctx, 2, "sample_rate"));
  KILN_ASSIGN_OR_RETURN(double lower_hz, read_scalar_float(ctx, 3, "lower_edge_hertz"));
  KILN_ASSIGN_OR_RETURN(double upper_hz, read_scalar_float(ctx, 4, "upper_edge_hertz"));
  KILN_ASSIGN_OR_RETURN(DataType dtype, output_datatype(ctx));
  if (num_mel_bins <= 0 || num_mel_bins > kMaxSignalLength)
    return ctx.error("num_mel_bins must be in [1, 2^31], got " + std::to_string(num_mel_bins));
  if (dft_length <= 0 || dft_length > kMaxSignalLength)
    return ctx.error("dft_length must be in [1, 2^31], got " + std::to_string(dft_length));
  if (sample_rate <= 0) return ctx.error("sample_rate must be > 0, got " + std::to_string(sample_rate));
  if (!(lower_hz >= 0.0) || !(upper_hz >= lower_hz) || !std::isfinite(upper_hz))
    return ctx.error("need 0 <= lower_edge_hertz <= upper_edge_hertz (finite), got " + std::to_string(lower_hz) +
                     " and " + std::to_string(upper_hz));
  const int64_t spectrogram_bins = dft_length / 2 + 1;
  if (static_cast<double>(spectrogram_bins) * static_cast<double>(num_mel_bins) > static_cast<double>(kMaxSignalLength))
    return ctx.error("output of " + std::to_string(spectrogram_bins) + "x" + std::to_string(num_mel_bins) +
                     " elements is too large");

  auto hz_to_mel = [](double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); };
  const double low_mel = hz_to_mel(lower_hz), high_mel = hz_to_mel(upper_hz);
  const double mel_step = (high_mel - low_mel) / static_cast<double>(num_mel_bins + 2);
  std::vector<int64_t> bin(static_cast<size_t>(num_mel_bins + 2));
  for (int64_t i = 0; i < num_mel_bins + 2; ++i) {
    double hz = 700.0 * (std::pow(10.0, (static_cast<double>(i) * mel_step + low_mel) / 2595.0) - 1.0);
    double b = std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate));
    // Clamped so the cast is defined; bins past the spectrogram are dropped below.
    bin[i] = static_cast<int64_t>(std::clamp(b, -1.0, static_cast<double>(spectrogram_bins)));
  }
  std::vector<double> out(static_cast<size_t>(spectrogram_bins * num_mel_bins), 0.0);
  auto set = [&](int64_t row, int64_t col, double value) {
    if (row >= 0 && row < spectrogram_bins) out[row * num_mel_bins + col] = value;
  };
  for (int64_t i = 0; i < num_mel_bins; ++i) {
    int64_t left = bin[i], center = bin[i + 1], right = bin[i + 2];
    if (center == left) {
      set(center, i, 1.0);
    } else {
      for (int64_t j = left; j <= center; ++j)
        set(j, i, static_cast<double>(j - left) / static_cast<double>(center - left));
    }
    for (int64_t j = center; j < right; ++j)
      set(j, i, static_cast<double>(right - j) / static_cast<double>(right - center));
  }
  Tensor& y = ctx.allocate_output(0, dtype, {spectrogram_bins, num_mel_bins});
  return store_doubles(y, out);
}

}  // namespace kiln::ref
