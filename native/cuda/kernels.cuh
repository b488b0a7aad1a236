// kernels.cuh: the CUDA twins of the CPU kernels (cpu/kernels.h), same names, same semantics, in
// namespace electra::cuda: device pointers in and out, fp32 storage, work queued on `stream`. The
// CPU kernels are their oracle (native/test/test_cuda_*.cu). Losses are summed on the device into a
// double at `loss` (a device pointer) in a fixed order: nothing returns to the host in a step.
// The matrix products and attention have their own headers (matmul.cuh, attention.cuh).
//
// Dimension legend: B batch, T sequence length, C hidden size, E embedding size, V vocabulary,
// N rows (usually B*T), R rows of a loss.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace electra {
namespace cuda {

// ---- activation.cu ---------------------------------------------------------------------------
// Exact GELU 0.5 x (1 + erf(x / sqrt 2)); out may alias inp.
void gelu_forward(float* out, const float* inp, int64_t n, cudaStream_t s = 0);
// dinp = dout * gelu'(inp); dinp may alias dout.
void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, cudaStream_t s = 0);
// Inverted dropout with the CPU engine's masks: keep(i) = random_unit(seed, stream, i) >= p.
void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t stream,
                     cudaStream_t s = 0);
// out = dropout(inp) + resid; bits (ceil(n / 64) words, when non-null and p > 0) receive the masks.
void dropout_add_forward(float* out, const float* inp, const float* resid, int64_t n, float p, uint64_t seed,
                         uint64_t stream, uint64_t* bits, cudaStream_t s = 0);
// out = inp with the saved masks applied.
void dropout_apply_bits(float* out, const float* inp, int64_t n, float p, const uint64_t* bits, cudaStream_t s = 0);

// ---- layernorm.cu ----------------------------------------------------------------------------
// out (N, C) = LayerNorm(inp) * weight + bias (biased variance, statistics in double); mean, rstd (N).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, double eps, cudaStream_t s = 0);
// dinp = (or += when accumulate) the input gradient; dweight, dbias (C) += (fixed-order sums over rows).
// dinp may alias dout.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* mean, const float* rstd, const float* weight, int N, int C, bool accumulate,
                        cudaStream_t s = 0);

// ---- embedding.cu ----------------------------------------------------------------------------
// out (B, T, E) = wte[ids] + wpe[t] + wtt[tt] (tt may be null: type 0).
void embedding_forward(float* out, const int32_t* ids, const int32_t* tt, const float* wte, const float* wpe,
                       const float* wtt, int B, int T, int E, cudaStream_t s = 0);
// The tables' gradients (+=), each summed over tokens in order (as the CPU engine: the same bits).
void embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                        const int32_t* tt, int B, int T, int E, cudaStream_t s = 0);

// dst row r (C values) = src row rows[r], for r < R.
void gather_rows(float* dst, const float* src, const int32_t* rows, int R, int C, cudaStream_t s = 0);
// dst row rows[r] += src row r for the rows of non-zero weight (whose rows are distinct: masked positions
// of a sequence are), so no two threads add to one element; rows of weight 0 carry zero gradients.
void scatter_add_rows(float* dst, const float* src, const int32_t* rows, const float* weights, int R, int C,
                      cudaStream_t s = 0);

// ---- loss.cu ---------------------------------------------------------------------------------
// Softmax cross-entropy over R rows of V logits, weights w (null = 1): *loss = sum_r w[r] loss[r];
// dlogits (may be logits itself, or null) = dscale * w[r] * (softmax - onehot).
void crossentropy_forward_backward(double* loss, float* dlogits, const float* logits, const int32_t* targets,
                                   const float* w, int R, int V, double dscale, cudaStream_t s = 0);
// Sigmoid cross-entropy of R logits against 0/1 labels over rows with mask != 0 (mask may be null).
void rtd_loss_forward_backward(double* loss, float* dlogits, const float* logits, const int32_t* labels,
                               const int32_t* mask, int R, double dscale, cudaStream_t s = 0);
// Mean squared error (sum, not mean) with dpred = dscale * 2 (pred - target).
void mse_forward_backward(double* loss, float* dpred, const float* pred, const float* target, int R, double dscale,
                          cudaStream_t s = 0);
// out[r] = the first index of the largest of logits[r, 0..V).
void argmax_rows(int32_t* out, const float* logits, int R, int V, cudaStream_t s = 0);
// Gumbel-max sampling with the CPU engine's noise: u = random_unit(seed, stream, r * V + v).
void gumbel_sample(int32_t* out, const float* logits, int R, int V, float temperature, uint64_t seed,
                   uint64_t stream, cudaStream_t s = 0);

// ---- optim.cu --------------------------------------------------------------------------------
// *norm = the L2 norm of x[0, n), summed in double in chunks of 16384 (as the CPU engine).
void global_norm(double* norm, const float* x, int64_t n, cudaStream_t s = 0);

// One tensor of the flat buffer for AdamW: where it is, its learning-rate multiplier, its decay.
struct AdamWSegment {
  int64_t offset, size;
  float lr_scale;
  float weight_decay;  // 0 for LayerNorm weights and biases
};
// ELECTRA's AdamW (no bias correction) on the flat buffer: clips grads in place to the global norm
// (clip_norm <= 0: no clipping), then updates params, m, v. segments: a device array. *norm receives
// the norm before clipping (computed on the device; the host never waits).
void adamw_step(float* params, float* grads, float* m, float* v, const AdamWSegment* segments, int n_segments,
                int64_t total, double* norm, float lr, float beta1, float beta2, float eps, float clip_norm,
                cudaStream_t s = 0);

}  // namespace cuda
}  // namespace electra
