// bench_gemm.cpp: our GEMM kernels on the linear layers' shapes of an ELECTRA-Small pre-training step
// (B = 32, T = 128: M = 4096 rows), one thread, fp32 and bf16: out (M, N) = x (M, K) @ W (N, K)^T as
// a linear layer computes it (W read transposed in place), x fp32, and in bf16 also x already bf16
// ("x": "bf16": read in place, as torch.mm's bf16 operands are). One JSON line per shape and precision:
// the best of `reps` runs, in GFLOP/s. `npm run bench` runs it beside torch.mm on the same shapes
// (native/bench/torch_reference.py --gemm-shapes), i.e. OpenBLAS (fp32) and oneDNN (bf16).
//   bench_gemm [reps]
//   bench_gemm --peak   the register peak of one core instead: independent fp32 FMA and bf16 dot-product
//                       chains, no memory (the ceiling a GEMM kernel can approach; torch.mm's best may
//                       not: OpenBLAS runs its AVX2 kernels on some CPUs with full-width AVX-512)
//   bench_gemm --layers THREADS [reps]
//                       the linear layers as the engine runs them (matmul_forward, and matmul_backward's
//                       dinp and dweight + dbias separately) in bf16 on THREADS threads: GFLOP/s of each
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/simd.h"
#include "engine/info.h"

using namespace electra;

struct Shape {
  const char* layer;
  int M, K, N;
};

// the products of ELECTRA-Small's layers (discriminator C = 256, F = 1024, E = 128; generator head V = 30522)
static const Shape kShapes[] = {
    {"embeddings_project", 4096, 128, 256}, {"qkv", 4096, 256, 768},      {"attention_output", 4096, 256, 256},
    {"ffn_in", 4096, 256, 1024},            {"ffn_out", 4096, 1024, 256}, {"generator_logits", 608, 128, 30522},
};

#if defined(__x86_64__) && defined(__GNUC__)
// 24 accumulators (more than latency x issue width on current x86 cores), `iters` rounds; GFLOP/s.
__attribute__((target("avx512f,avx512bf16"))) static double peak_bf16(long iters) {
  __m512 c[24];
  for (auto& v : c) v = _mm512_setzero_ps();
  __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x00010001);
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
    for (auto& v : c) v = _mm512_dpbf16_ps(v, a, b);
    asm volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  float sink = 0;
  for (auto& v : c) sink += _mm512_reduce_add_ps(v);
  asm volatile("" : : "x"(sink));
  return 64.0 * 24 * iters / s / 1e9;
}
__attribute__((target("avx512f,fma"))) static double peak_fp32_avx512(long iters) {
  __m512 c[24];
  for (auto& v : c) v = _mm512_setzero_ps();
  __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < iters; it++) {
#pragma GCC unroll 24
    for (auto& v : c) v = _mm512_fmadd_ps(v, a, b);
    asm volatile("" : "+v"(a));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  float sink = 0;
  for (auto& v : c) sink += _mm512_reduce_add_ps(v);
  asm volatile("" : : "x"(sink));
  return 32.0 * 24 * iters / s / 1e9;
}
#endif

// Best of 5 runs of 0.1-0.2 s each, per instruction the CPU has (none: no line).
static int print_peaks() {
#if defined(__x86_64__) && defined(__GNUC__)
  const char* what = "register peak: 24 independent accumulator chains, 1 thread";
  if (cpu_isa() == Isa::Avx512) {
    double best = 0;
    for (int r = 0; r < 5; r++) best = std::max(best, peak_fp32_avx512(4000000));
    std::printf("{\"bench\": \"gemm_peak\", \"impl\": \"electra\", \"dtype\": \"fp32\", \"threads\": 1, \"gflops\": %.1f, \"what\": \"%s (vfmadd)\"}\n", best, what);
  }
  if (gemm_bf16_native()) {
    double best = 0;
    for (int r = 0; r < 5; r++) best = std::max(best, peak_bf16(4000000));
    std::printf("{\"bench\": \"gemm_peak\", \"impl\": \"electra\", \"dtype\": \"bf16\", \"threads\": 1, \"gflops\": %.1f, \"what\": \"%s (vdpbf16ps)\"}\n", best, what);
  }
#endif
  return 0;
}

// The four layer shapes of the discriminator, best of `reps`.
static int print_layers(int threads, int reps) {
  set_num_threads(threads);
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  using clock = std::chrono::steady_clock;
  const auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  for (const Shape& s : kShapes) {
    if (s.M != 4096) continue;  // the generator head has its own path
    const int N = s.M, IC = s.K, OC = s.N;
    std::vector<float> x((size_t)N * IC), w((size_t)OC * IC), dy((size_t)N * OC), y(dy.size()), dx(x.size()), dw(w.size()), db(OC);
    for (auto& v : x) v = nd(g);
    for (auto& v : w) v = nd(g);
    for (auto& v : dy) v = nd(g);
    double bf = 1e30, bi = 1e30, bw = 1e30;
    for (int r = 0; r < reps; r++) {
      const auto t0 = clock::now();
      matmul_forward(y.data(), x.data(), w.data(), db.data(), N, IC, OC, Precision::Bf16);
      const auto t1 = clock::now();
      matmul_backward(dx.data(), (float*)nullptr, (float*)nullptr, dy.data(), x.data(), w.data(), N, IC, OC, false, Precision::Bf16);
      const auto t2 = clock::now();
      matmul_backward((float*)nullptr, dw.data(), db.data(), dy.data(), x.data(), w.data(), N, IC, OC, false, Precision::Bf16);
      const auto t3 = clock::now();
      bf = std::min(bf, secs(t0, t1)), bi = std::min(bi, secs(t1, t2)), bw = std::min(bw, secs(t2, t3));
    }
    const double gf = 2.0 * N * IC * OC / 1e9;
    std::printf("{\"bench\": \"matmul_layer\", \"impl\": \"electra\", \"layer\": \"%s\", \"n\": %d, \"ic\": %d, \"oc\": %d, "
                "\"dtype\": \"bf16\", \"threads\": %d, \"fwd_gflops\": %.1f, \"dinp_gflops\": %.1f, \"dweight_gflops\": %.1f}\n",
                s.layer, N, IC, OC, threads, gf / bf, gf / bi, gf / bw);
    std::fflush(stdout);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && !std::strcmp(argv[1], "--peak")) return print_peaks();
  if (argc > 2 && !std::strcmp(argv[1], "--layers")) return print_layers(std::atoi(argv[2]), argc > 3 ? std::atoi(argv[3]) : 7);
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  set_num_threads(1);
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const Shape& s : kShapes) {
    std::vector<float> x((size_t)s.M * s.K), w((size_t)s.N * s.K), out((size_t)s.M * s.N);
    for (auto& v : x) v = nd(g);
    for (auto& v : w) v = nd(g);
    for (const char* dtype : {"fp32", "bf16"}) {
      const bool bf16 = dtype[0] == 'b';
      double best = 1e30;
      for (int r = 0; r < reps; r++) {
        const auto t0 = std::chrono::steady_clock::now();
        if (bf16) gemm_bf16(out.data(), s.N, x.data(), s.K, 1, w.data(), s.K, s.M, s.N, s.K, false, true);
        else gemm_f32(out.data(), s.N, x.data(), s.K, 1, w.data(), s.K, s.M, s.N, s.K, false, true);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::printf(
          "{\"bench\": \"gemm_shape\", \"impl\": \"electra\", \"layer\": \"%s\", \"m\": %d, \"k\": %d, \"n\": %d, "
          "\"dtype\": \"%s\", \"threads\": 1, \"gflops\": %.1f%s}\n",
          s.layer, s.M, s.K, s.N, dtype, 2.0 * s.M * s.K * s.N / best / 1e9,
          bf16 && !gemm_bf16_native() ? ", \"emulated\": true" : "");
      std::fflush(stdout);
    }
    // x already bf16 (as torch.mm's operands are; the engine's bf16 activations), read in place: the
    // same product without rounding and packing x on the way
    if (s.K % 2 == 0) {
      std::vector<uint16_t> x16(x.size());
      round_to_bf16(x16.data(), x.data(), (int64_t)x.size());
      double best = 1e30;
      for (int r = 0; r < reps; r++) {
        const auto t0 = std::chrono::steady_clock::now();
        gemm_bf16_a16(out.data(), s.N, x16.data(), s.K, w.data(), s.K, s.M, s.N, s.K, false, true);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::printf(
          "{\"bench\": \"gemm_shape\", \"impl\": \"electra\", \"layer\": \"%s\", \"m\": %d, \"k\": %d, \"n\": %d, "
          "\"dtype\": \"bf16\", \"x\": \"bf16\", \"threads\": 1, \"gflops\": %.1f%s}\n",
          s.layer, s.M, s.K, s.N, 2.0 * s.M * s.K * s.N / best / 1e9, !gemm_bf16_native() ? ", \"emulated\": true" : "");
      std::fflush(stdout);
    }
  }
  return 0;
}
