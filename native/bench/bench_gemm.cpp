// bench_gemm.cpp: our GEMM kernels on the linear layers' shapes of an ELECTRA-Small pre-training step
// (B = 32, T = 128: M = 4096 rows), one thread, fp32 and bf16: out (M, N) = x (M, K) @ W (N, K)^T as
// a linear layer computes it (W read transposed in place). One JSON line per shape and precision:
// the best of `reps` runs, in GFLOP/s. `npm run bench` runs it beside torch.mm on the same shapes
// (native/bench/torch_reference.py --gemm-shapes), i.e. OpenBLAS (fp32) and oneDNN (bf16).
//   bench_gemm [reps]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cpu/gemm.h"
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

int main(int argc, char** argv) {
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
  }
  return 0;
}
