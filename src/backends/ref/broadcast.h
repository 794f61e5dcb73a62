// Numpy-style broadcasting for reference kernels: maps each output element to the element of an input
// with a (broadcast-compatible) smaller or equal shape.
#pragma once

#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace kiln::ref {

/// For an input of shape `in` broadcast to `out`, returns per-output-axis strides into the input
/// (0 on broadcast axes). Requires that `in` broadcasts to `out`.
inline std::vector<int64_t> broadcast_strides(const Dims& in, const Dims& out) {
  std::vector<int64_t> strides(out.size(), 0);
  std::vector<int64_t> in_strides = row_major_strides(in);
  size_t offset = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) strides[offset + i] = in[i] == 1 ? 0 : in_strides[i];
  return strides;
}

/// Walks the output elements in row-major order and yields the matching linear offset into each input.
/// Usage:
///   BroadcastWalker w(out_dims, {a.dims(), b.dims()});
///   for (int64_t i = 0; i < n; ++i, w.next()) out[i] = f(a[w.offset(0)], b[w.offset(1)]);
class BroadcastWalker {
 public:
  BroadcastWalker(const Dims& out, const std::vector<Dims>& inputs) : out_(out), index_(out.size(), 0) {
    for (const Dims& in : inputs) strides_.push_back(broadcast_strides(in, out));
    offsets_.assign(inputs.size(), 0);
  }
  int64_t offset(size_t input) const { return offsets_[input]; }
  void next() {
    for (int64_t axis = static_cast<int64_t>(out_.size()) - 1; axis >= 0; --axis) {
      if (++index_[axis] < out_[axis]) {
        for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] += strides_[k][axis];
        return;
      }
      index_[axis] = 0;
      for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] -= strides_[k][axis] * (out_[axis] - 1);
    }
  }

 private:
  Dims out_;
  std::vector<int64_t> index_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> offsets_;
};

}  // namespace kiln::ref
