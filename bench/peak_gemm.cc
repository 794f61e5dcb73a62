// Measured FP32 and INT8 peak of this CPU through oneDNN GEMMs: the "100%" that kiln's and ONNX Runtime's
// whole-model GFLOP/s are compared against (bench/cpu_vs_ort.sh reads fp32_gflops and int8_gops).
//
//   g++ -O2 -std=c++17 bench/peak_gemm.cc -ldnnl -o /tmp/peak_gemm
//   /tmp/peak_gemm [--threads N] [--sizes 2048,4096] [--runs 10]
//
// Times, for each square size M=N=K:
//   f32:  dnnl_sgemm (row-major, plain B) and a matmul primitive with prepacked weights (tag::any);
//   int8: dnnl_gemm_u8s8s32, dnnl_gemm_s8s8s32 and u8×s8→s32 / s8×s8→s32 matmul primitives (prepacked weights).
// Each is run twice to warm up, then --runs times; the median counts. fp32_gflops / int8_gops are the best
// median over APIs and sizes (2·M·N·K operations per GEMM). Prints one JSON object on stdout.
// Threads: oneDNN here uses OpenMP; --threads calls omp_set_num_threads (found at run time, so no -fopenmp
// is needed), default: OMP_NUM_THREADS if set, else every online core.
#include <oneapi/dnnl/dnnl.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

using namespace dnnl;
using dt = memory::data_type;
using tag = memory::format_tag;

namespace {

struct Result {
  std::string kind, api, impl;
  int64_t m, n, k;
  double median_ms, min_ms, rate;  // rate: GFLOP/s (f32) or GOP/s (int8)
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Median and minimum (in seconds) of `runs` timed calls after two warm-up calls.
std::pair<double, double> time_it(const std::function<void()>& f, int runs) {
  f();
  f();
  std::vector<double> t;
  for (int i = 0; i < runs; i++) {
    auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(seconds_since(a));
  }
  std::sort(t.begin(), t.end());
  double med = t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
  return {med, t[0]};
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      std::string s = line.substr(p + 1);
      s.erase(0, s.find_first_not_of(" \t"));
      return s;
    }
  return "unknown";
}

const char* isa_name(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::sse41: return "sse41";
    case cpu_isa::avx: return "avx";
    case cpu_isa::avx2: return "avx2";
    case cpu_isa::avx2_vnni: return "avx2_vnni";
    case cpu_isa::avx512_mic: return "avx512_mic";
    case cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case cpu_isa::avx512_core: return "avx512_core";
    case cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

template <typename T>
std::vector<T> pattern(size_t n, int lo, int span) {  // deterministic, non-zero-ish fill
  std::vector<T> v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<T>(lo + static_cast<int>((i * 37 + i / 7) % span));
  return v;
}

// A matmul primitive C[M,N] = A[M,K] · B[K,N] with B reordered once into the layout oneDNN picks (as an
// inference engine does with constant weights); only the execution is timed.
Result time_matmul(engine& eng, stream& s, dt a_dt, dt b_dt, dt c_dt, int64_t M, int64_t N, int64_t K, int runs,
                   const char* kind, const char* api) {
  memory::desc a_md({M, K}, a_dt, tag::ab), b_any({K, N}, b_dt, tag::any), c_md({M, N}, c_dt, tag::ab);
  matmul::primitive_desc pd(matmul::desc(a_md, b_any, c_md), eng);
  memory a(a_md, eng), b_plain({{K, N}, b_dt, tag::ab}, eng), b(pd.weights_desc(), eng), c(c_md, eng);
  size_t an = static_cast<size_t>(M * K), bn = static_cast<size_t>(K * N);
  if (a_dt == dt::f32) {
    auto* p = static_cast<float*>(a.get_data_handle());
    for (size_t i = 0; i < an; i++) p[i] = std::sin(i * 0.37f);
    auto* q = static_cast<float*>(b_plain.get_data_handle());
    for (size_t i = 0; i < bn; i++) q[i] = std::cos(i * 0.11f);
  } else {
    auto* p = static_cast<uint8_t*>(a.get_data_handle());  // u8 0..15 or s8 -8..7: same bytes pattern
    for (size_t i = 0; i < an; i++) p[i] = a_dt == dt::u8 ? (i * 37) % 16 : static_cast<uint8_t>(int8_t((i * 37) % 16 - 8));
    auto* q = static_cast<int8_t*>(b_plain.get_data_handle());
    for (size_t i = 0; i < bn; i++) q[i] = static_cast<int8_t>((i * 13) % 16 - 8);
  }
  reorder(b_plain, b).execute(s, b_plain, b);
  s.wait();
  matmul prim(pd);
  auto [med, mn] = time_it([&] {
    prim.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    s.wait();
  }, runs);
  return {kind, api, pd.impl_info_str(), M, N, K, med * 1e3, mn * 1e3, 2.0 * M * N * K / med / 1e9};
}

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) v.push_back(std::atoll(item.c_str()));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, runs = 10;
  std::vector<int64_t> sizes = {2048, 4096};
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--sizes" && i + 1 < argc) sizes = parse_list(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--sizes 2048,4096] [--runs 10]\n", argv[0]);
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  // oneDNN (Debian) is built on OpenMP: libgomp is already loaded through libdnnl.
  auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  auto max_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  if (threads <= 0 && !std::getenv("OMP_NUM_THREADS")) threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (threads > 0 && set_threads) set_threads(threads);
  int used_threads = max_threads ? max_threads() : threads;

  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::vector<Result> results;
  for (int64_t sz : sizes) {
    const int64_t M = sz, N = sz, K = sz;
    std::fprintf(stderr, "size %lld\n", static_cast<long long>(sz));
    {  // dnnl_sgemm, row-major: C = A·B
      auto A = std::vector<float>(M * K), B = std::vector<float>(K * N), C = std::vector<float>(M * N);
      for (size_t i = 0; i < A.size(); i++) A[i] = std::sin(i * 0.37f);
      for (size_t i = 0; i < B.size(); i++) B[i] = std::cos(i * 0.11f);
      auto [med, mn] = time_it([&] {
        if (dnnl_sgemm('N', 'N', M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N) != dnnl_success) std::abort();
      }, runs);
      results.push_back({"f32", "dnnl_sgemm", "", M, N, K, med * 1e3, mn * 1e3, 2.0 * M * N * K / med / 1e9});
    }
    results.push_back(time_matmul(eng, s, dt::f32, dt::f32, dt::f32, M, N, K, runs, "f32", "matmul"));
    {  // integer GEMMs, row-major, zero offsets
      auto Au = pattern<uint8_t>(M * K, 0, 16);
      auto As = pattern<int8_t>(M * K, -8, 16);
      auto B = pattern<int8_t>(K * N, -8, 16);
      std::vector<int32_t> C(M * N);
      int32_t co = 0;
      auto [med, mn] = time_it([&] {
        if (dnnl_gemm_u8s8s32('N', 'N', 'F', M, N, K, 1.f, Au.data(), K, 0, B.data(), N, 0, 0.f, C.data(), N, &co) !=
            dnnl_success) std::abort();
      }, runs);
      results.push_back({"u8s8s32", "dnnl_gemm_u8s8s32", "", M, N, K, med * 1e3, mn * 1e3, 2.0 * M * N * K / med / 1e9});
      auto [med2, mn2] = time_it([&] {
        if (dnnl_gemm_s8s8s32('N', 'N', 'F', M, N, K, 1.f, As.data(), K, 0, B.data(), N, 0, 0.f, C.data(), N, &co) !=
            dnnl_success) std::abort();
      }, runs);
      results.push_back({"s8s8s32", "dnnl_gemm_s8s8s32", "", M, N, K, med2 * 1e3, mn2 * 1e3, 2.0 * M * N * K / med2 / 1e9});
    }
    results.push_back(time_matmul(eng, s, dt::u8, dt::s8, dt::s32, M, N, K, runs, "u8s8s32", "matmul"));
    results.push_back(time_matmul(eng, s, dt::s8, dt::s8, dt::s32, M, N, K, runs, "s8s8s32", "matmul"));
  }

  double fp32 = 0, int8 = 0;
  const Result *best_f = nullptr, *best_i = nullptr;
  for (const auto& r : results) {
    if (r.kind == "f32" && r.rate > fp32) fp32 = r.rate, best_f = &r;
    if (r.kind != "f32" && r.rate > int8) int8 = r.rate, best_i = &r;
  }
  const auto* v = dnnl::version();
  std::printf("{\n");
  std::printf("  \"fp32_gflops\": %.1f,\n  \"int8_gops\": %.1f,\n", fp32, int8);
  std::printf("  \"fp32_best\": \"%s %lld^3\",\n  \"int8_best\": \"%s %s %lld^3\",\n", best_f->api.c_str(),
              static_cast<long long>(best_f->m), best_i->api.c_str(), best_i->kind.c_str(),
              static_cast<long long>(best_i->m));
  std::printf("  \"threads\": %d,\n  \"cpu\": \"%s\",\n", used_threads, json_escape(cpu_model()).c_str());
  std::printf("  \"onednn\": \"%d.%d.%d\",\n  \"onednn_isa\": \"%s\",\n", v->major, v->minor, v->patch,
              isa_name(get_effective_cpu_isa()));
  std::printf("  \"runs\": %d,\n  \"statistic\": \"median of runs after 2 warm-up runs; rate = 2*M*N*K / median\",\n", runs);
  std::printf("  \"details\": [\n");
  for (size_t i = 0; i < results.size(); i++) {
    const auto& r = results[i];
    std::printf("    {\"type\": \"%s\", \"api\": \"%s\", \"m\": %lld, \"n\": %lld, \"k\": %lld, \"median_ms\": %.3f, "
                "\"min_ms\": %.3f, \"%s\": %.1f%s%s%s}%s\n",
                r.kind.c_str(), r.api.c_str(), static_cast<long long>(r.m), static_cast<long long>(r.n),
                static_cast<long long>(r.k), r.median_ms, r.min_ms, r.kind == "f32" ? "gflops" : "gops", r.rate,
                r.impl.empty() ? "" : ", \"impl\": \"", json_escape(r.impl).c_str(), r.impl.empty() ? "" : "\"",
                i + 1 < results.size() ? "," : "");
  }
  std::printf("  ]\n}\n");
}
