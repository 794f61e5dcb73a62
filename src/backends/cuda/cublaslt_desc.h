// RAII owners of cuBLASLt's descriptors, shared by the float products (cublaslt_gemm.cc) and the int8 1x1
// convolutions (cublaslt_qconv.cc). Move-only.
#pragma once

#include <cublasLt.h>

#include <utility>

namespace kiln::cuda {

struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  MatmulDesc() = default;
  MatmulDesc(MatmulDesc&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
  MatmulDesc& operator=(MatmulDesc&& o) noexcept {
    std::swap(d, o.d);
    return *this;
  }
  ~MatmulDesc() {
    if (d) cublasLtMatmulDescDestroy(d);
  }
};

struct MatrixLayout {
  cublasLtMatrixLayout_t d = nullptr;
  MatrixLayout() = default;
  MatrixLayout(MatrixLayout&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
  MatrixLayout& operator=(MatrixLayout&& o) noexcept {
    std::swap(d, o.d);
    return *this;
  }
  ~MatrixLayout() {
    if (d) cublasLtMatrixLayoutDestroy(d);
  }
};

struct MatmulPreference {
  cublasLtMatmulPreference_t d = nullptr;
  MatmulPreference() = default;
  MatmulPreference(MatmulPreference&&) = delete;
  ~MatmulPreference() {
    if (d) cublasLtMatmulPreferenceDestroy(d);
  }
};

}  // namespace kiln::cuda
