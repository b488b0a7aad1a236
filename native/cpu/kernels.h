// kernels.h: the CPU kernels of the ELECTRA model, one function per layer and direction. Each is
// templated on the scalar type F (float for training, double for gradient checks). Kernels know
// nothing of models, files or Node.
//
// Dimension legend: B batch, T sequence length, C hidden size, E embedding size, V vocabulary,
// NH heads, HS head size (C / NH), F feed-forward size, N rows (usually B*T), IC/OC a linear map's
// input/output features, R rows of a loss (masked positions or tokens).
//
// Conventions (as llm.c): outputs first, then inputs, weights, dimensions. Gradients carry a `d`
// prefix. Parameter gradients accumulate (+=). Activation gradients are assigned (=), except where a
// function says `accumulate` (the residual stream). Linear weights are [out, in] as torch.nn.Linear:
// out = inp @ weight^T + bias. Every parallel loop gives each output element to one thread and sums
// in a fixed order, so results are bit-identical whatever the thread count.
#pragma once
#include <cstdint>

namespace electra {

// The precision of matrix products (matmuls and attention's): fp32, or bf16, the engine's bf16 mode,
// where both operands are rounded to bf16 (nearest even) and products are summed in fp32. Everything
// else (LayerNorm, softmax, losses, optimizer) stays fp32. Ignored for double.
enum class Precision { Fp32, Bf16 };

// out (N, OC) = inp (N, IC) @ weight (OC, IC)^T + bias (OC); bias may be null.
template <typename F>
void matmul_forward(F* out, const F* inp, const F* weight, const F* bias, int N, int IC, int OC,
                    Precision prec = Precision::Fp32);
// dinp (N, IC) = (or += when accumulate) dout @ weight; dweight (OC, IC) += dout^T @ inp;
// dbias (OC) += column sums of dout. Any of dinp, dweight, dbias may be null (skipped).
template <typename F>
void matmul_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight, int N,
                     int IC, int OC, bool accumulate, Precision prec = Precision::Fp32);

// out (N, C) = LayerNorm(inp) * weight + bias, biased variance; saves mean and rstd (N).
template <typename F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* weight, const F* bias, int N, int C,
                       double eps);
// dinp (N, C) = (or += when accumulate) the input gradient; dweight, dbias (C) += (summed in fixed
// chunks of rows: the same bits at any thread count). dinp may alias dout.
template <typename F>
void layernorm_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* mean,
                        const F* rstd, const F* weight, int N, int C, bool accumulate);
// layernorm_backward, then dropped = dropout_apply_bits(dinp, p, bits) (dropped null: none; it must not
// alias dinp): the same bits, the masks applied to each chunk of rows while it is in L2 where C is a
// multiple of 64.
template <typename F>
void layernorm_dropout_backward(F* dinp, F* dropped, F* dweight, F* dbias, const F* dout, const F* inp, const F* mean,
                                const F* rstd, const F* weight, int N, int C, bool accumulate, float p,
                                const uint64_t* bits);

// pre = inp @ weight^T + bias, then post = gelu(pre) (post may be pre): matmul_forward and
// gelu_forward's bits, in one pass where the bf16 GEMM runs (each tile through GELU while in L1).
template <typename F>
void matmul_gelu_forward(F* pre, F* post, const F* inp, const F* weight, const F* bias, int N, int IC, int OC,
                         Precision prec = Precision::Fp32);

// bf16 mode with bf16 activations: matmul_forward reading its input as bf16 rows in place (inp16, N x
// IC, IC even: never packed); matmul_gelu_forward with GELU's output stored as bf16 (post16, N x OC, OC
// a multiple of 16: gelu(pre) rounded to nearest even, as the next product's packing would round it),
// its input fp32 (inp) or bf16 (inp16, the other null), pre null when not wanted (then never written);
// layernorm_forward also writing out as bf16 (out16). Each gives the bits of the fp32 path (the
// products round their inputs to bf16 the same way), with half the traffic and no packing.
void matmul_forward_b16(float* out, const uint16_t* inp16, const float* weight, const float* bias, int N, int IC, int OC);
void matmul_gelu_forward_b16(float* pre, uint16_t* post16, const float* inp, const uint16_t* inp16, const float* weight,
                             const float* bias, int N, int IC, int OC, bool pre_bf16 = false,
                             uint16_t* pre16 = nullptr);
void layernorm_forward_b16(float* out, uint16_t* out16, float* mean, float* rstd, const float* inp, const float* weight,
                           const float* bias, int N, int C, double eps);

// The bf16 mode's FFN rounds its pre-activation to bf16 before GELU (as PyTorch's bf16 autocast stores
// a linear layer's output in bf16 and runs GELU on it), and training keeps it so: matmul_gelu_forward_b16
// with pre_bf16 takes GELU of bf16(pre), and given pre16 (pre then usually null) stores those values
// there, for the backward pass: the forward pass, the recomputed GELU and its derivative all see the
// same numbers, in training and inference alike. gelu_forward_b16 and
// matmul_gelu_backward_b16 are gelu_forward and matmul_gelu_backward on such a pre16: their bits on
// its fp32 values (bf16 -> fp32 is exact) where IC (n) is a multiple of 16.
void gelu_forward_b16(float* out, const uint16_t* inp16, int64_t n);
void matmul_gelu_backward_b16(float* dpre, const float* dout, const uint16_t* pre16, const float* weight, int N, int IC,
                              int OC);

// dpre = (dout @ weight) * gelu'(pre) (N x IC): matmul_backward's input gradient then gelu_backward,
// their bits, in one pass where the bf16 GEMM runs (each tile through GELU's derivative while in L1).
// dpre must not alias dout, pre or weight.
template <typename F>
void matmul_gelu_backward(F* dpre, const F* dout, const F* pre, const F* weight, int N, int IC, int OC,
                          Precision prec = Precision::Fp32);

// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). out may alias inp.
template <typename F>
void gelu_forward(F* out, const F* inp, int64_t n);
// gelu_forward's fp32 formula on rows [0, rows) x [0, cols) (row strides ldo, ldi), on the calling
// thread. The same bits as gelu_forward where cols and the row starts are multiples of 16 (then both
// run the vector loop only).
void gelu_rows(float* out, int ldo, const float* inp, int ldi, int rows, int cols);
// gelu_backward's fp32 formula in place on rows [0, rows) x [0, cols) of d (row stride ldd), inp's
// rows at stride ldi, on the calling thread; the same bits as gelu_backward where cols and the row
// starts are multiples of 16.
void gelu_backward_rows(float* d, int ldd, const float* inp, int ldi, int rows, int cols);
// dinp = dout * gelu'(inp); dinp may alias dout.
template <typename F>
void gelu_backward(F* dinp, const F* inp, const F* dout, int64_t n);

// Inverted dropout with a counter-based mask: out[i] = keep(i) ? inp[i] / (1 - p) : 0, where
// keep(i) = random_unit(seed, stream, i) >= p. The backward pass is the same call on the gradient.
// p == 0 copies (or is a no-op in place). out may alias inp.
template <typename F>
void dropout_forward(F* out, const F* inp, int64_t n, float p, uint64_t seed, uint64_t stream);
// The same dropout on a slice: dst[i] = dropout(src)[i] with the masks of elements base + i of the
// stream, i in [0, n); keep, when non-null, receives the multipliers (0 or 1 / (1 - p)), bits, when
// non-null, the masks (bit i % 64 of word i / 64: element i kept; ceil(n / 64) words). One thread
// (callers split the work); dst may alias src. dropout_forward is this over [0, n).
template <typename F>
void dropout_range(F* dst, F* keep, const F* src, int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t base,
                   uint64_t* bits = nullptr);

// x[0, n) = 0, in parallel (gradient buffers of tens of MB, zeroed every step).
template <typename F>
void fill_zero(F* x, int64_t n);

// The residual connection: out[i] = dropout(inp)[i] + resid[i] (the same masks as dropout_forward),
// in one pass. out may alias inp. When bits is non-null (and p > 0) the masks are also saved there,
// bit i % 64 of word i / 64 (ceil(n / 64) words), for dropout_apply_bits in the backward pass.
template <typename F>
void dropout_add_forward(F* out, const F* inp, const F* resid, int64_t n, float p, uint64_t seed, uint64_t stream,
                         uint64_t* bits = nullptr);
// out = inp with the saved masks applied (kept elements scaled by 1 / (1 - p)): dropout_forward's
// result without drawing the random numbers again. out may alias inp.
template <typename F>
void dropout_apply_bits(F* out, const F* inp, int64_t n, float p, const uint64_t* bits);
// dropout_apply_bits on elements [lo, hi) (lo a multiple of 64), on the calling thread.
template <typename F>
void dropout_apply_bits_range(F* out, const F* inp, int64_t lo, int64_t hi, float p, const uint64_t* bits);

// Embeddings: out (B, T, E) = wte[ids] + wpe[t] + wtt[token_type]. ids/tt (B, T).
template <typename F>
void embedding_forward(F* out, const int32_t* ids, const int32_t* tt, const F* wte, const F* wpe, const F* wtt,
                       int B, int T, int E);
template <typename F>
void embedding_backward(F* dwte, F* dwpe, F* dwtt, const F* dout, const int32_t* ids, const int32_t* tt, int B,
                        int T, int E);

// Multi-head self-attention core. qkv (B, T, 3C) holds q | k | v; mask (B, T) is 1 for tokens, 0
// for padding keys (never attended). att (B, NH, T, T), when not null, saves the softmax probabilities
// (before dropout); out (B, T, C) = dropout(P) @ v, heads concatenated. Scores are scaled by 1/sqrt(HS).
// The backward pass takes the same att, or null to recompute the probabilities from qkv (less memory).
// bits (B * NH * T * ceil(T / 64) words, or null) keeps the dropout masks where the fused bf16 path
// runs (float, bf16, att null, AVX512-BF16) and p_drop > 0; the backward pass given the same bits
// then applies them instead of drawing them again (the same values either way). With out16 (float,
// bf16), out is written as bf16 there instead (rounded to nearest even as the next product's packing
// would: the fused path never writes out), else both.
template <typename F>
void attention_forward(F* out, F* att, const F* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream, Precision prec = Precision::Fp32,
                       uint64_t* bits = nullptr, uint16_t* out16 = nullptr);
// dqkv (B, T, 3C) = the gradient of q, k and v.
template <typename F>
void attention_backward(F* dqkv, const F* dout, const F* qkv, const F* att, const int32_t* mask, int B, int T,
                        int C, int NH, float p_drop, uint64_t seed, uint64_t stream,
                        Precision prec = Precision::Fp32, const uint64_t* bits = nullptr);

// Attention for each sequence's first query only (a sequence classifier's last layer, whose other
// positions nothing reads): q (B, C) those queries, kv (B, T, 2C) every position's keys | values,
// out (B, C). The same function as attention_forward's row 0: the same padding mask, scale and
// dropout masks (elements ((b NH + h) T) T + j of the stream); products in F, not rounded to bf16
// (their cost is 1/T of the full attention's). p (B, NH, T) receives the probabilities and keep (B,
// NH, T) the dropout multipliers (0 or 1 / (1 - p_drop); 1 without dropout), both for the backward pass.
template <typename F>
void attention_cls_forward(F* out, F* p, F* keep, const F* q, const F* kv, const int32_t* mask, int B, int T, int C,
                           int NH, float p_drop, uint64_t seed, uint64_t stream);
// dq (B, C) and dkv (B, T, 2C), both assigned, from dout (B, C) and the forward pass's q, kv, p, keep.
template <typename F>
void attention_cls_backward(F* dq, F* dkv, const F* dout, const F* q, const F* kv, const F* p, const F* keep, int B,
                            int T, int C, int NH);

// Softmax cross-entropy over R rows of V logits with per-row weights w (null = 1) and integer targets.
// Returns sum_r w[r] * loss[r] (in double). When dlogits is non-null it is assigned
// dscale * w[r] * (softmax - onehot). Rows with w == 0 get zero gradient. dlogits may be logits
// (the gradient overwrites them).
template <typename F>
double crossentropy_forward_backward(F* dlogits, const F* logits, const int32_t* targets, const float* w, int R,
                                     int V, double dscale);
// Replaced-token-detection loss: sigmoid cross-entropy of logits (R) against labels (R, 0/1) over the
// rows with mask == 1. Returns the sum of the masked losses; dlogits (R) = dscale * mask * (sigmoid - label).
template <typename F>
double rtd_loss_forward_backward(F* dlogits, const F* logits, const int32_t* labels, const int32_t* mask, int R,
                                 double dscale);
// Mean squared error: returns sum_r (pred[r] - target[r])^2; dpred = dscale * 2 (pred - target).
template <typename F>
double mse_forward_backward(F* dpred, const F* pred, const float* target, int R, double dscale);

// out[r] = the index of the first largest of logits[r, 0..V) (std::max_element's choice), rows in parallel.
template <typename F>
void argmax_rows(int32_t* out, const F* logits, int R, int V);

// Gumbel-max sampling: out[r] = argmax_v(logits[r, v] / temperature + g), g = -log(-log(u + 1e-9) + 1e-9),
// with u from `u` (R, V) when given, else random_unit(seed, stream, r * V + v). Computed in fp32.
// No gradient.
template <typename F>
void gumbel_sample(int32_t* out, const F* logits, int R, int V, float temperature, const float* u, uint64_t seed,
                   uint64_t stream);

}  // namespace electra
