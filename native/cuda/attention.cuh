// attention.cuh: the CUDA twin of the CPU self-attention core (cpu/attention.cpp): scores, padding
// mask, softmax, dropout and the weighted sum of values, flash-style (no T x T matrix in global memory
// but the optional saved probabilities). Not the q/k/v and output projections (plain matmuls).
// CUDA-only header (nvcc).
//
// Dimension legend: B batch, T sequence length, C hidden size, NH heads, HS head size (C / NH:
// 32, 64 or 128; others throw electra::Error).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/kernels.h"  // electra::Precision

namespace electra {
namespace cuda {

// The semantics of electra::attention_forward<float>, on device pointers. qkv (B, T, 3C) holds
// q | k | v; mask (B, T) is 1 for tokens and 0 for padding keys (null: all tokens); padding keys get no
// attention unless a whole sequence is padding (then all keys do). P = softmax(q k^T / sqrt(HS)) by
// rows; att (B, NH, T, T), when non-null, receives P (before dropout); out (B, T, C) = dropout(P) v,
// heads concatenated. Dropout keeps element (b, h, t, t2) iff random_unit(seed, stream,
// ((b NH + h) T + t) T + t2) >= p_drop and scales it by 1 / (1 - p_drop); p_drop <= 0: none. With
// Precision::Bf16 the operands of q k^T and dropout(P) v are rounded to bf16 (nearest even), sums fp32.
void attention_forward(float* out, float* att, const float* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream, Precision prec, cudaStream_t cs = 0);

// dqkv (B, T, 3C) = (assigned) the gradients of q, k and v from dout (B, T, C). att: the forward's
// saved probabilities, or null to recompute them from qkv (the same bits as the forward's). The same
// masks and precision as the forward; in bf16 mode the operands of dy v^T, dS k, dS^T q and
// dropout(P)^T dy are rounded to bf16. Deterministic: no atomics, fixed summation orders. Takes
// 3 B NH T floats of scratch for per-row statistics, grown on demand and reused (no allocation per
// step); calls on one device must not run concurrently on two streams.
void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, const int32_t* mask,
                        int B, int T, int C, int NH, float p_drop, uint64_t seed, uint64_t stream, Precision prec,
                        cudaStream_t cs = 0);

}  // namespace cuda
}  // namespace electra
