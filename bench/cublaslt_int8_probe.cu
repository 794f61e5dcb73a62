// Probe (not part of kiln): would ResNet-50's 1x1 convolutions run faster as cuBLASLt int8 GEMMs than on cuDNN's
// int8 engines (which on the H100 take about their f16 time)? In NHWC a 1x1 stride-1 convolution is
// Y[M = N*H*W, K] = X[M, C] W[K, C]^T. Times, for batch-128 ResNet-50 shapes, cuBLASLt's best heuristic algo for
//   int8: A/B int8, INT32 compute, D int8 with a per-output-channel f32 alpha vector, f32 bias and ReLU
//         (CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO; the requantization kiln's QConv does)
//   f16:  f16 data, f32 compute, f16 bias + ReLU epilogue
// and prints median microseconds over 50 runs of each. Build and run on the GPU machine:
//   nvcc -O2 -std=c++17 -gencode=arch=compute_90,code=sm_90 bench/cublaslt_int8_probe.cu -lcublasLt -o probe && ./probe
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#define CHECK_CUDA(x) do { cudaError_t e = (x); if (e != cudaSuccess) { std::printf("cuda %s at %d\n", cudaGetErrorString(e), __LINE__); return 1; } } while (0)

struct Shape {
  const char* name;
  int64_t m, c, k;
};

// Median time (us) of the best heuristic algo, or -1 when cuBLASLt has none (status printed).
double time_gemm(cublasLtHandle_t lt, bool int8, const Shape& s, void* x, void* w, void* y, void* alpha_vec, void* bias,
                 void* workspace, size_t ws_bytes, cudaStream_t stream) {
  const cudaDataType_t data = int8 ? CUDA_R_8I : CUDA_R_16F;
  cublasLtMatmulDesc_t op;
  cublasLtMatmulDescCreate(&op, int8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F, CUDA_R_32F);
  const int32_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
  const uint32_t epi = CUBLASLT_EPILOGUE_RELU_BIAS;
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi));
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
  const int32_t bias_type = int8 ? CUDA_R_32F : CUDA_R_16F;
  cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type));
  if (int8) {
    const int32_t mode = CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO;
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_POINTER_MODE, &mode, sizeof(mode));
  }
  cublasLtMatrixLayout_t a, b, d;
  cublasLtMatrixLayoutCreate(&a, data, s.c, s.k, s.c);  // W [K, C] row-major = C x K col-major, op T
  cublasLtMatrixLayoutCreate(&b, data, s.c, s.m, s.c);  // X [M, C] row-major = C x M col-major
  cublasLtMatrixLayoutCreate(&d, data, s.k, s.m, s.k);  // Y [M, K] row-major = K x M col-major
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate(&pref);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof(ws_bytes));
  cublasLtMatmulHeuristicResult_t res[8];
  int n = 0;
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt, op, a, b, d, d, pref, 8, res, &n);
  double best = -1;
  if (st != CUBLAS_STATUS_SUCCESS || n == 0) {
    std::printf("  %s %s: no algo (status %d, %d results)\n", s.name, int8 ? "int8" : "f16", int(st), n);
  } else {
    const float one = 1.0f, zero = 0.0f;
    const void* alpha = int8 ? alpha_vec : static_cast<const void*>(&one);
    for (int i = 0; i < n; ++i) {
      cudaEvent_t e0, e1;
      cudaEventCreate(&e0);
      cudaEventCreate(&e1);
      std::vector<float> ms;
      bool ok = true;
      for (int r = 0; r < 55 && ok; ++r) {
        cudaEventRecord(e0, stream);
        ok = cublasLtMatmul(lt, op, alpha, w, a, x, b, &zero, y, d, y, d, &res[i].algo, workspace, ws_bytes, stream) ==
             CUBLAS_STATUS_SUCCESS;
        cudaEventRecord(e1, stream);
        cudaEventSynchronize(e1);
        float t = 0;
        cudaEventElapsedTime(&t, e0, e1);
        if (r >= 5) ms.push_back(t);
      }
      if (ok) {
        std::sort(ms.begin(), ms.end());
        const double us = ms[ms.size() / 2] * 1000.0;
        if (best < 0 || us < best) best = us;
      }
      cudaEventDestroy(e0);
      cudaEventDestroy(e1);
    }
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(d);
  cublasLtMatmulDescDestroy(op);
  return best;
}

int main() {
  // Batch 128 ResNet-50 1x1 convolutions (M = 128 * H * W).
  const Shape shapes[] = {{"layer1.conv3 56x56 64->256", 128 * 56 * 56, 64, 256},
                          {"layer1.conv1 56x56 256->64", 128 * 56 * 56, 256, 64},
                          {"layer2.conv3 28x28 128->512", 128 * 28 * 28, 128, 512},
                          {"layer3.conv1 14x14 1024->256", 128 * 14 * 14, 1024, 256},
                          {"layer4.conv3 7x7 512->2048", 128 * 7 * 7, 512, 2048}};
  cublasLtHandle_t lt;
  cublasLtCreate(&lt);
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreate(&stream));
  const size_t max_bytes = size_t{128 * 56 * 56} * 2048 * 2;
  void *x, *w, *y, *alpha, *bias, *ws;
  const size_t ws_bytes = size_t{32} << 20;
  CHECK_CUDA(cudaMalloc(&x, max_bytes));
  CHECK_CUDA(cudaMalloc(&w, 2048 * 2048 * 2));
  CHECK_CUDA(cudaMalloc(&y, max_bytes));
  CHECK_CUDA(cudaMalloc(&alpha, 2048 * 4));
  CHECK_CUDA(cudaMalloc(&bias, 2048 * 4));
  CHECK_CUDA(cudaMalloc(&ws, ws_bytes));
  CHECK_CUDA(cudaMemset(x, 1, max_bytes));
  CHECK_CUDA(cudaMemset(w, 1, 2048 * 2048 * 2));
  std::vector<float> a(2048, 0.001f);
  CHECK_CUDA(cudaMemcpy(alpha, a.data(), a.size() * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(bias, 0, 2048 * 4));
  std::printf("shape | int8 us | f16 us | f16 / int8\n");
  for (const Shape& s : shapes) {
    const double i8 = time_gemm(lt, true, s, x, w, y, alpha, bias, ws, ws_bytes, stream);
    const double f16 = time_gemm(lt, false, s, x, w, y, alpha, bias, ws, ws_bytes, stream);
    std::printf("%s | %.1f | %.1f | %.2f\n", s.name, i8, f16, i8 > 0 ? f16 / i8 : 0.0);
  }
  CHECK_CUDA(cudaGetLastError());
  return 0;
}
