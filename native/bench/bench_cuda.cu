// bench_cuda.cu: the GPU benchmark run by native/test/gpu-check.sh: the bf16 and fp32 GEMM on a large
// square product (our kernels' peak) and on ELECTRA's shapes, then whole pre-training steps of
// ELECTRA-Small (B 128, T 128) and ELECTRA-Base (T 128) on the CUDA engine: tokens/s, sequences/s,
// achieved matrix-product TFLOP/s and its share of the measured bf16 GEMM rate. Prints "|" table rows
// (gpu-check.sh collects them) and one JSON line per measurement. No timing assertions.
//   bench_cuda [steps]
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cuda/backend.h"
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "engine/pretrain.h"

using namespace electra;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// TFLOP/s of C (M, N) = A (M, K) B (K, N)^T as a linear layer runs it, best of `reps`.
double gemm_tflops(int M, int N, int K, Precision prec, int reps = 10) {
  cuda::DeviceVec<float> a((size_t)M * K), b((size_t)N * K), c((size_t)M * N);
  std::vector<float> h((size_t)std::max(M, N) * K);
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  for (auto& x : h) x = nd(g);
  CUDA_CHECK(cudaMemcpy(a.data(), h.data(), sizeof(float) * a.size(), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(b.data(), h.data(), sizeof(float) * b.size(), cudaMemcpyHostToDevice));
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  cuda::matmul_forward(c.data(), a.data(), b.data(), nullptr, M, K, N, prec);  // warm-up
  float best = 1e30f;
  for (int r = 0; r < reps; r++) {
    CUDA_CHECK(cudaEventRecord(e0));
    cuda::matmul_forward(c.data(), a.data(), b.data(), nullptr, M, K, N, prec);
    CUDA_CHECK(cudaEventRecord(e1));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    best = std::min(best, ms);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * M * N * K / (best * 1e-3) / 1e12;
}

// Encoder forward matrix-product FLOPs per token (as src/bench/flops.ts counts them).
double encoder_per_token(const ElectraConfig& c, int T) {
  const double C = c.hidden_size, F = c.intermediate_size;
  return 2.0 * c.embedding_size * C + c.num_hidden_layers * (6 * C * C + 2 * C * C + 4 * C * F + 4.0 * T * C);
}
double step_flops_per_token(const PretrainConfig& pc, int T) {
  const double C = pc.disc.hidden_size;
  const int N = max_predictions(pc.mask_prob, T);
  const double disc = encoder_per_token(pc.disc, T) + 2 * C * C + 2 * C;
  const double gen = encoder_per_token(pc.gen, T) +
                     (2.0 * pc.gen.hidden_size * pc.gen.embedding_size + 2.0 * pc.gen.embedding_size * pc.gen.vocab_size) * N / T;
  return 3 * (disc + gen);
}

ElectraConfig cfg(int E, int C, int L, int NH, int F) {
  ElectraConfig c;
  c.embedding_size = E, c.hidden_size = C, c.num_hidden_layers = L, c.num_attention_heads = NH, c.intermediate_size = F;
  return c;
}

struct StepResult {
  double tokens_per_s, seqs_per_s, tflops;
};

StepResult pretrain_steps(const char* name, const PretrainConfig& pc, int B, int T, int steps, double peak) {
  Pretrainer<float, CudaBackend> m(pc);
  m.init_weights(1);
  const int64_t n = (int64_t)m.table().total();
  std::vector<cuda::AdamWSegment> segs;
  for (const TensorEntry& e : m.table().entries())
    segs.push_back({(int64_t)e.offset, (int64_t)e.size, 1.f, e.decay ? 0.01f : 0.f});
  cuda::DeviceVec<cuda::AdamWSegment> dsegs(segs.size());
  CUDA_CHECK(cudaMemcpy(dsegs.data(), segs.data(), sizeof(segs[0]) * segs.size(), cudaMemcpyHostToDevice));
  cuda::DeviceVec<float> mom(n), vel(n);
  cuda::DeviceVec<double> norm(1);
  CUDA_CHECK(cudaMemset(mom.data(), 0, sizeof(float) * n));
  CUDA_CHECK(cudaMemset(vel.data(), 0, sizeof(float) * n));
  std::mt19937 g(2);
  std::vector<int32_t> ids((size_t)B * T), tt((size_t)B * T, 0), mask((size_t)B * T, 1);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) ids[(size_t)b * T + t] = t == 0 ? 101 : t == T - 1 ? 102 : (int32_t)(1000 + g() % 29000);
  const Batch batch{B, T, ids.data(), tt.data(), mask.data()};
  MaskedInputs mk;
  double t0 = 0;
  for (int s = -2; s < steps; s++) {  // two warm-up steps (allocations, first launches)
    if (s == 0) {
      CUDA_CHECK(cudaDeviceSynchronize());
      t0 = now();
    }
    electra_mask(mk, batch, pc.mask_prob, max_predictions(pc.mask_prob, T), pc.special, 1, (uint32_t)(s + 2));
    m.zero_grads();
    m.forward_backward(batch, mk, nullptr, 1, (uint32_t)(s + 2), true, true);
    cuda::adamw_step(m.params().data(), m.grads().data(), mom.data(), vel.data(), dsegs.data(), (int)segs.size(), n,
                     norm.data(), 1e-4f, 0.9f, 0.999f, 1e-6f, 1.f);
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  const double dt = (now() - t0) / steps;
  StepResult r;
  r.tokens_per_s = (double)B * T / dt;
  r.seqs_per_s = B / dt;
  r.tflops = step_flops_per_token(pc, T) * r.tokens_per_s / 1e12;
  std::printf("| %-28s | %9.0f | %8.1f | %7.1f | %5.1f%% | %8.1f ms |\n", name, r.tokens_per_s, r.seqs_per_s, r.tflops,
              100 * r.tflops / peak, dt * 1e3);
  std::printf("{\"bench\":\"cuda_pretrain_step\",\"model\":\"%s\",\"batch\":%d,\"seq\":%d,\"tokens_per_s\":%.0f,"
              "\"seqs_per_s\":%.1f,\"tflops\":%.2f,\"step_ms\":%.2f}\n",
              name, B, T, r.tokens_per_s, r.seqs_per_s, r.tflops, dt * 1e3);
  std::fflush(stdout);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 5;
  const CudaStatus s = cuda_status();
  if (s.devices.empty()) {
    std::printf("skipped: no CUDA device (%s)\n", s.note.c_str());
    return 0;
  }
  std::printf("device: %s, compute %d.%d, %d SMs\n", s.devices[0].name.c_str(), s.devices[0].major, s.devices[0].minor,
              s.devices[0].multiprocessors);
  try {
    const double bf = gemm_tflops(4096, 4096, 4096, Precision::Bf16), f32 = gemm_tflops(4096, 4096, 4096, Precision::Fp32, 3);
    std::printf("| gemm 4096^3 bf16 (ours)      | %.1f TFLOP/s |\n| gemm 4096^3 fp32 (ours)      | %.1f TFLOP/s |\n", bf, f32);
    struct Shape {
      const char* name;
      int M, N, K;
    };
    for (Shape sh : {Shape{"small qkv 16384x768x256", 16384, 768, 256}, Shape{"small ffn_in 16384x1024x256", 16384, 1024, 256},
                     Shape{"base qkv 16384x2304x768", 16384, 2304, 768}, Shape{"base ffn_in 16384x3072x768", 16384, 3072, 768},
                     Shape{"gen logits 2432x30522x128", 2432, 30522, 128}})
      std::printf("| gemm %-24s | %.1f TFLOP/s bf16 |\n", sh.name, gemm_tflops(sh.M, sh.N, sh.K, Precision::Bf16));
    std::printf("\n| pre-training step            |  tokens/s |  seqs/s | TFLOP/s | of bf16 GEMM | step |\n");
    PretrainConfig small;
    small.disc = cfg(128, 256, 12, 4, 1024);
    small.gen = cfg(128, 64, 12, 1, 256);
    small.precision = Precision::Bf16;
    pretrain_steps("ELECTRA-Small B128 T128 bf16", small, 128, 128, steps, bf);
    small.precision = Precision::Fp32;
    pretrain_steps("ELECTRA-Small B128 T128 fp32", small, 128, 128, steps, bf);
    PretrainConfig base;
    base.disc = cfg(768, 768, 12, 12, 3072);
    base.gen = cfg(768, 256, 12, 4, 1024);
    base.precision = Precision::Bf16;
    pretrain_steps("ELECTRA-Base B128 T128 bf16", base, 128, 128, steps, bf);
  } catch (const std::exception& e) {
    std::printf("bench_cuda failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
