// matmul.cpp: linear layers (out = inp @ weight^T + bias) and their backward pass on the CPU.
// fp32 runs the register-blocked GEMM kernels (gemm.h: fp32, or bf16 products in bf16 mode); double
// (the gradient checks) runs straightforward loops compiled for AVX-512 / AVX2 / scalar.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include <type_traits>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/gemm_bf16_tile.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "engine/profile.h"
#include "cpu/simd.h"

namespace electra {

#define INLINE inline __attribute__((always_inline))

// Rows [n0, n1) of out = inp @ weight^T + bias, four output features at a time.
template <typename F>
static INLINE void mm_fwd_rows(F* out, const F* inp, const F* weight, const F* bias, int n0, int n1, int IC,
                               int OC) {
  for (int n = n0; n < n1; n++) {
    const F* x = inp + (int64_t)n * IC;
    F* y = out + (int64_t)n * OC;
    int o = 0;
    for (; o + 4 <= OC; o += 4) {
      const F* w0 = weight + (int64_t)o * IC;
      const F* w1 = w0 + IC;
      const F* w2 = w1 + IC;
      const F* w3 = w2 + IC;
      F s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int i = 0; i < IC; i++) {
        s0 += x[i] * w0[i];
        s1 += x[i] * w1[i];
        s2 += x[i] * w2[i];
        s3 += x[i] * w3[i];
      }
      y[o] = s0 + (bias ? bias[o] : F(0));
      y[o + 1] = s1 + (bias ? bias[o + 1] : F(0));
      y[o + 2] = s2 + (bias ? bias[o + 2] : F(0));
      y[o + 3] = s3 + (bias ? bias[o + 3] : F(0));
    }
    for (; o < OC; o++) {  // leftovers
      const F* w0 = weight + (int64_t)o * IC;
      F s0 = 0;
#pragma omp simd reduction(+ : s0)
      for (int i = 0; i < IC; i++) s0 += x[i] * w0[i];
      y[o] = s0 + (bias ? bias[o] : F(0));
    }
  }
}

// Rows [n0, n1) of dinp = (+=) dout @ weight.
template <typename F>
static INLINE void mm_bwd_inp_rows(F* dinp, const F* dout, const F* weight, int n0, int n1, int IC, int OC,
                                   bool accumulate) {
  for (int n = n0; n < n1; n++) {
    F* dx = dinp + (int64_t)n * IC;
    const F* dy = dout + (int64_t)n * OC;
    if (!accumulate) std::memset(dx, 0, sizeof(F) * IC);
    for (int o = 0; o < OC; o++) {
      const F g = dy[o];
      const F* w = weight + (int64_t)o * IC;
#pragma omp simd
      for (int i = 0; i < IC; i++) dx[i] += g * w[i];
    }
  }
}

// Output features [o0, o1) of dweight += dout^T @ inp (rows summed in order 0..N-1).
template <typename F>
static INLINE void mm_bwd_weight_cols(F* dweight, const F* dout, const F* inp, int o0, int o1, int N, int IC,
                                      int OC) {
  constexpr int OB = 8;
  for (int ob = o0; ob < o1; ob += OB) {
    const int oe = ob + OB < o1 ? ob + OB : o1;
    for (int n = 0; n < N; n++) {
      const F* x = inp + (int64_t)n * IC;
      const F* dy = dout + (int64_t)n * OC;
      for (int o = ob; o < oe; o++) {
        const F g = dy[o];
        F* dw = dweight + (int64_t)o * IC;
#pragma omp simd
        for (int i = 0; i < IC; i++) dw[i] += g * x[i];
      }
    }
  }
}

// Per-ISA entry points of the double loops (target_clones picks AVX-512 / AVX2 / scalar at load time).
#define DEFINE_VARIANTS(F, SUFFIX)                                                                          \
  ELECTRA_MULTIVERSION static void fwd_##SUFFIX(F* out, const F* inp, const F* weight, const F* bias, int n0, \
                                                int n1, int IC, int OC) {                                    \
    mm_fwd_rows<F>(out, inp, weight, bias, n0, n1, IC, OC);                                                  \
  }                                                                                                          \
  ELECTRA_MULTIVERSION static void bwd_inp_##SUFFIX(F* dinp, const F* dout, const F* weight, int n0, int n1, \
                                                    int IC, int OC, bool acc) {                              \
    mm_bwd_inp_rows<F>(dinp, dout, weight, n0, n1, IC, OC, acc);                                             \
  }                                                                                                          \
  ELECTRA_MULTIVERSION static void bwd_w_##SUFFIX(F* dweight, const F* dout, const F* inp, int o0, int o1,  \
                                                  int N, int IC, int OC) {                                   \
    mm_bwd_weight_cols<F>(dweight, dout, inp, o0, o1, N, IC, OC);                                            \
  }
DEFINE_VARIANTS(double, f64)  // fp32 runs the GEMM kernels (gemm.h) instead

// dbias[o] += sum over n of dout[n, o] for o in [lo, hi): rows in order (one sum per column, n
// increasing, as a column loop would), but swept row by row so that memory is read contiguously.
template <typename F>
static inline __attribute__((always_inline)) void bias_grad_rows(F* a, const F* dout, int N, int OC, int lo, int hi) {
  for (int n = 0; n < N; n++) {
    const F* d = dout + (int64_t)n * OC + lo;
#pragma omp simd
    for (int o = 0; o < hi - lo; o++) a[o] += d[o];
  }
}
ELECTRA_MULTIVERSION static void bias_grad_rows_f32(float* a, const float* dout, int N, int OC, int lo, int hi) {
  bias_grad_rows(a, dout, N, OC, lo, hi);  // additions only: every instruction set gives the same sums
}

template <typename F>
static void bias_grad(F* dbias, const F* dout, int N, int OC, int lo, int hi) {
  static thread_local std::vector<F> acc;
  acc.assign((size_t)(hi - lo), F(0));
  F* a = acc.data();
  if constexpr (std::is_same_v<F, float>) bias_grad_rows_f32(a, dout, N, OC, lo, hi);
  else bias_grad_rows(a, dout, N, OC, lo, hi);
  for (int o = lo; o < hi; o++) dbias[o] += a[o - lo];
}

// a_sums: bf16 only (gemm_bf16's row sums of A)
static void gemm(Precision prec, float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows,
                 int cols, int K, bool accumulate, bool b_trans = false, const float* bias = nullptr,
                 float* a_sums = nullptr) {
  if (prec == Precision::Bf16)
    gemm_bf16(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, false, bias, nullptr, a_sums);
  else gemm_f32(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias);
}

template <typename F>
void matmul_forward(F* out, const F* inp, const F* weight, const F* bias, int N, int IC, int OC, Precision prec) {
  ProfileScope prof(prec == Precision::Bf16 && sizeof(F) == 4 ? "matmul_fwd bf16" : "matmul_fwd", N, IC, OC);
  if constexpr (std::is_same_v<F, float>) {
    // the register-blocked GEMM, reading weight as its transpose (b_trans). Every thread packs all of
    // one operand: threads split the rows when the weight is the smaller (the encoder's layers), else
    // the output features in whole panels of 32 (the generator's output layer: 608 rows x 30,522, where
    // splitting rows made both threads pack all of the 15 MB embedding matrix). Each element is the
    // same sum either way.
    const bool by_rows = N >= OC || omp_get_max_threads() == 1;
    static Balance balance;
    BalancedRegion region(balance);
#pragma omp parallel
    {
      int lo, hi;
      if (by_rows) {
        const BalanceClock clock;
        region.range(N, 16, lo, hi);
        if (lo < hi)
          gemm(prec, out + (size_t)lo * OC, OC, inp + (size_t)lo * IC, IC, 1, weight, IC, hi - lo, OC, IC, false, true, bias);
        region.done(hi - lo, clock.seconds());
      } else {
        share_range((OC + 31) / 32, omp_get_thread_num(), omp_get_num_threads(), lo, hi);
        lo *= 32, hi = std::min(OC, hi * 32);
        if (lo < hi)
          gemm(prec, out + lo, OC, inp, IC, 1, weight + (size_t)lo * IC, IC, N, hi - lo, IC, false, true, bias ? bias + lo : nullptr);
      }
    }
  } else {
#pragma omp parallel
    {
      int lo, hi;
      thread_range(N, lo, hi);
      if (lo < hi) fwd_f64(out, inp, weight, bias, lo, hi, IC, OC);
    }
  }
}

// C (N x cols) = A (N x K, contiguous rows: fp32 A, or bf16 A16 read in place) x B (K x cols, or its
// transpose cols x K with b_trans) + bias, in bf16; threads split the rows. ep (may be null): its out,
// in, out16, pre16 and in16 (N x cols, row-aligned with C) are offset to each thread's first row; with ep->scratch
// C may be null.
static void gemm_bf16_rows(float* C, const float* A, const uint16_t* A16, const float* B, bool b_trans,
                           const float* bias, int N, int cols, int K, const GemmEpilogue* ep) {
  static Balance balance;
  BalancedRegion region(balance);
#pragma omp parallel
  {
    const BalanceClock clock;
    int lo, hi;
    region.range(N, 16, lo, hi);
    if (lo < hi) {
      const size_t o = (size_t)lo * cols;
      GemmEpilogue e = ep ? *ep : GemmEpilogue{};
      if (e.out) e.out += o;
      if (e.in) e.in += o;
      if (e.out16) e.out16 += o;
      if (e.pre16) e.pre16 += o;
      if (e.in16) e.in16 += o;
      float* c = C ? C + o : nullptr;
      const int ldb = b_trans ? K : cols;
      if (A16)
        gemm_bf16_a16(c, cols, A16 + (size_t)lo * K, K, B, ldb, hi - lo, cols, K, false, b_trans, bias, ep ? &e : nullptr);
      else
        gemm_bf16(c, cols, A + (size_t)lo * K, K, 1, B, ldb, hi - lo, cols, K, false, b_trans, false, bias,
                  ep ? &e : nullptr);
    }
    region.done(hi - lo, clock.seconds());
  }
}

// The epilogue of the fused forward product (gemm.h): GELU into e.out (which may be C itself). (A
// residual-add epilogue for inference was slower than the separate pass, by about 3 ms per step on
// each of the attention-output and FFN-output products, with or without prefetching the residual
// rows: not used.)
static void gelu_epilogue(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols) {
  gelu_rows(e.out + (int64_t)i * e.ld + j, e.ld, c, ldc, rows, cols);
}

template <typename F>
void matmul_gelu_forward(F* pre, F* post, const F* inp, const F* weight, const F* bias, int N, int IC, int OC,
                         Precision prec) {
  if constexpr (std::is_same_v<F, float>) {
    // fused in bf16 where every GELU row segment is whole vectors of 16, as in gelu_forward (gelu_rows)
    if (prec == Precision::Bf16 && OC % 16 == 0) {
      ProfileScope prof("matmul_fwd+gelu bf16", N, IC, OC);
      const GemmEpilogue ep{gelu_epilogue, post, nullptr, OC};
      gemm_bf16_rows(pre, inp, nullptr, weight, true, bias, N, OC, IC, &ep);
      return;
    }
  }
  matmul_forward(pre, inp, weight, bias, N, IC, OC, prec);
  gelu_forward(post, pre, (int64_t)N * OC);
}

#if defined(__x86_64__) && defined(__GNUC__)
// round_rows_to_bf16 of rows x cols (a multiple of 16), and with t (cols per row) also
// widen_rows_from_bf16 of the result into t: the same bits, inlined into the epilogue below (the
// calls per row of a register tile cost ~7% of the fused product).
BF16_TARGET static inline void round_rows16_avx512(uint16_t* d, int ldd, float* t, const float* x, int ldx, int rows,
                                                   int cols) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c += 16) {
      const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + (long)r * ldx + c));
      _mm256_storeu_si256((__m256i*)(d + (long)r * ldd + c), h);
      if (t) _mm512_storeu_ps(t + (long)r * cols + c, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
    }
}
#endif
// d (row stride ldd) = bf16(x), and with t also t (cols per row) = the fp32 values of d
static inline void round_rows(uint16_t* d, int ldd, float* t, const float* x, int ldx, int rows, int cols) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cols % 16 == 0 && gemm_bf16_native()) return round_rows16_avx512(d, ldd, t, x, ldx, rows, cols);
#endif
  round_rows_to_bf16(d, ldd, x, ldx, rows, cols);
  if (t) widen_rows_from_bf16(t, cols, d, ldd, rows, cols);
}

// The epilogue of the fused forward product with a bf16 output: e.out16 = bf16(gelu(C)); with
// e.pre_bf16, GELU of bf16(C), which also goes to e.pre16 where non-null.
static void gelu_bf16_epilogue(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols) {
  alignas(64) float t[8 * 256];  // a register tile at a time (8 x 32), or blocks of the whole C elsewhere
  for (int r0 = 0; r0 < rows; r0 += 8)
    for (int c0 = 0; c0 < cols; c0 += 256) {
      const int nr = std::min(8, rows - r0), nc = std::min(256, cols - c0);
      const float* x = c + (int64_t)r0 * ldc + c0;
      int ldx = ldc;
      if (e.pre_bf16) {
        alignas(64) uint16_t t16[8 * 256];
        uint16_t* p16 = e.pre16 ? e.pre16 + (int64_t)(i + r0) * e.ld + j + c0 : t16;
        const int ld16 = e.pre16 ? e.ld : nc;
        round_rows(p16, ld16, t, x, ldc, nr, nc);
        x = t, ldx = nc;
      }
      gelu_rows(t, nc, x, ldx, nr, nc);
      round_rows(e.out16 + (int64_t)(i + r0) * e.ld + j + c0, e.ld, nullptr, t, nc, nr, nc);
    }
}

void matmul_gelu_forward_b16(float* pre, uint16_t* post16, const float* inp, const uint16_t* inp16, const float* weight,
                             const float* bias, int N, int IC, int OC, bool pre_bf16, uint16_t* pre16) {
  ProfileScope prof("matmul_fwd+gelu bf16", N, IC, OC);
  GemmEpilogue ep{gelu_bf16_epilogue, nullptr, nullptr, OC};
  ep.out16 = post16;
  ep.pre_bf16 = pre_bf16 || pre16;
  ep.pre16 = pre16;
  ep.scratch = !pre;
  gemm_bf16_rows(pre, inp, inp16, weight, true, bias, N, OC, IC, &ep);
}

void matmul_forward_b16(float* out, const uint16_t* inp16, const float* weight, const float* bias, int N, int IC, int OC) {
  ProfileScope prof("matmul_fwd bf16 (bf16 input)", N, IC, OC);
  gemm_bf16_rows(out, nullptr, inp16, weight, true, bias, N, OC, IC, nullptr);
}

// The epilogue of the fused backward product: C *= gelu'(e.in), in place.
static void gelu_backward_epilogue(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols) {
  gelu_backward_rows(c, ldc, e.in + (int64_t)i * e.ld + j, e.ld, rows, cols);
}

// matmul_gelu_backward's epilogue on a bf16 pre-activation (e.in16): its fp32 values, a block at a time
static void gelu_backward_b16_epilogue(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols) {
  alignas(64) float t[8 * 256];
  for (int r0 = 0; r0 < rows; r0 += 8)
    for (int c0 = 0; c0 < cols; c0 += 256) {
      const int nr = std::min(8, rows - r0), nc = std::min(256, cols - c0);
      widen_rows_from_bf16(t, nc, e.in16 + (int64_t)(i + r0) * e.ld + j + c0, e.ld, nr, nc);
      gelu_backward_rows(c + (int64_t)r0 * ldc + c0, ldc, t, nc, nr, nc);
    }
}

void matmul_gelu_backward_b16(float* dpre, const float* dout, const uint16_t* pre16, const float* weight, int N, int IC,
                              int OC) {
  ProfileScope prof("matmul_bwd+gelu bf16", N, IC, OC);
  GemmEpilogue ep{gelu_backward_b16_epilogue, nullptr, nullptr, IC};
  ep.in16 = pre16;
  gemm_bf16_rows(dpre, dout, nullptr, weight, false, nullptr, N, IC, OC, &ep);
}

template <typename F>
void matmul_gelu_backward(F* dpre, const F* dout, const F* pre, const F* weight, int N, int IC, int OC, Precision prec) {
  if constexpr (std::is_same_v<F, float>) {
    // fused in bf16 where every row segment is whole vectors of 16, as in gelu_backward
    if (prec == Precision::Bf16 && IC % 16 == 0) {
      ProfileScope prof("matmul_bwd+gelu bf16", N, IC, OC);
      const GemmEpilogue ep{gelu_backward_epilogue, nullptr, pre, IC};
      gemm_bf16_rows(dpre, dout, nullptr, weight, false, nullptr, N, IC, OC, &ep);
      return;
    }
  }
  matmul_backward(dpre, (F*)nullptr, (F*)nullptr, dout, (const F*)nullptr, weight, N, IC, OC, false, prec);
  gelu_backward(dpre, pre, dpre, (int64_t)N * IC);
}

// dweight += dout^T @ inp over N tokens, inside a parallel region. From kSplitTokens tokens on, the
// sum runs in two halves of the tokens (a fixed split, whatever the thread count, so results do not
// depend on it): dweight += (first half's sum), part = (second half's sum from zero), then dweight
// += part. Each half is a team's work: with two or more threads, even threads take the first half and
// odd threads the second, so no thread packs the other half's operands (against two threads sharing
// one sum: 1.3-1.6x faster on the model's shapes, where packing and memory traffic bound the
// product). Within a team, threads split dweight's rows (output features) when inp is the smaller
// operand to share, else its columns (then dout is shared).
// With bsum (bf16), the bias gradient comes from the same packing of dout: bsum[h * OC + o] = the sum of
// dout[n][o] over half h's tokens n in order, from zero (each feature summed by one thread of the team).
static constexpr int kSplitTokens = 1024;
static int token_halves(int N) { return N >= kSplitTokens ? 2 : 1; }
static void weight_grad(Precision prec, float* dweight, const float* dout, const float* inp, int N, int IC, int OC,
                        float* part, float* bsum) {
  const int nt = omp_get_num_threads(), t = omp_get_thread_num();
  const int halves = token_halves(N), mid = halves == 2 ? N / 2 / 16 * 16 : N;
  for (int h = 0; h < halves; h++) {
    // this thread's team for half h, and its place in it (one thread: every half in turn)
    const int team = nt == 1 || halves == 1 ? nt : (nt - h + 1) / 2, member = nt == 1 || halves == 1 ? t : t / 2;
    if (halves == 2 && nt > 1 && t % 2 != h) continue;
    const int n0 = h ? mid : 0, n1 = h ? N : mid;
    float* C = h ? part : dweight;
    const float* dy = dout + (size_t)n0 * OC;
    const float* x = inp + (size_t)n0 * IC;
    float* bs = bsum ? bsum + (size_t)h * OC : nullptr;
    int lo, hi;
    if (OC <= IC && team > 1) {  // every member packs all of dout: the first one sums it
      share_range(IC, member, team, lo, hi);
      if (lo < hi) gemm(prec, C + lo, IC, dy, 1, OC, x + lo, IC, OC, hi - lo, n1 - n0, h == 0, false, nullptr, member ? nullptr : bs);
    } else {
      share_range(OC, member, team, lo, hi);
      if (lo < hi)
        gemm(prec, C + (size_t)lo * IC, IC, dy + lo, 1, OC, x, IC, hi - lo, IC, n1 - n0, h == 0, false, nullptr, bs ? bs + lo : nullptr);
    }
  }
}

// weight_grad's second half added (after a barrier: every thread's products are done)
static void weight_grad_merge(float* dweight, const float* part, int N, int IC, int OC) {
  if (token_halves(N) == 1) return;
#pragma omp barrier
  int lo, hi;
  thread_range(OC * IC, lo, hi);
  for (int i = lo; i < hi; i++) dweight[i] += part[i];
}

// The tokens' worth of products thread t of nt takes in weight_grad (for the balance of matmul_backward).
static float weight_grad_tokens(int N, int t, int nt) {
  if (token_halves(N) == 1 || nt == 1) return (float)N / nt;
  const int h = t % 2, team = (nt - h + 1) / 2, mid = N / 2 / 16 * 16;
  return (float)(h ? N - mid : mid) / team;
}

template <typename F>
void matmul_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight, int N, int IC,
                     int OC, bool accumulate, Precision prec) {
  ProfileScope prof(prec == Precision::Bf16 && sizeof(F) == 4 ? "matmul_bwd bf16" : "matmul_bwd", N, IC, OC);
  if constexpr (std::is_same_v<F, float>) {
    static thread_local std::vector<float> part_buf, bsum_buf;  // the second half's weight gradient, the bias sums
    float* part = nullptr;
    if (dweight && N >= kSplitTokens) {
      part_buf.resize((size_t)OC * IC);
      part = part_buf.data();
    }
    // bf16: the bias gradient from the weight gradient's packing of dout (weight_grad), one sum per half
    float* bsum = nullptr;
    if (dbias && dweight && prec == Precision::Bf16) {
      bsum_buf.assign((size_t)token_halves(N) * OC, 0.f);
      bsum = bsum_buf.data();
    }
    // Each thread's weight-gradient share is fixed (weight_grad), so the balance moves rows of dinp:
    // thread t's total (its dinp rows + its weight-gradient tokens, both costing IC x OC per row) is
    // its weight's part of the whole.
    static Balance balance;
    BalancedRegion region(balance);
#pragma omp parallel
    {
      const BalanceClock clock;
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const float* w = region.weights();
      int lo = 0, hi = 0;
      if (dinp) {  // dinp = dout @ weight: rows of dinp per thread
        if (w) {
          float amount[Balance::kMax];
          double wsum = 0;
          for (int u = 0; u < nt; u++) wsum += w[u];
          const double total = (double)N * (dweight ? 2 : 1);
          for (int u = 0; u < nt; u++)
            amount[u] = (float)std::max(0.0, w[u] / wsum * total - (dweight ? weight_grad_tokens(N, u, nt) : 0.f));
          weighted_range(amount, nt, N, 16, t, lo, hi);
        } else {
          thread_range(N, lo, hi);
        }
        if (lo < hi)
          gemm(prec, dinp + (size_t)lo * IC, IC, dout + (size_t)lo * OC, OC, 1, weight, IC, hi - lo, IC, OC, accumulate);
      }
      if (dweight) weight_grad(prec, dweight, dout, inp, N, IC, OC, part, bsum);
      region.done((float)(hi - lo) + (dweight ? weight_grad_tokens(N, t, nt) : 0.f), clock.seconds());
      if (dweight) weight_grad_merge(dweight, part, N, IC, OC);
      thread_range(OC, lo, hi);
      if (bsum) {
#pragma omp barrier
        for (int h = 0; h < token_halves(N); h++)
          for (int o = lo; o < hi; o++) dbias[o] += bsum[(size_t)h * OC + o];
      } else if (dbias && lo < hi) {
        bias_grad(dbias, dout, N, OC, lo, hi);
      }
    }
  } else {
#pragma omp parallel
    {
      int lo, hi;
      if (dinp) {
        thread_range(N, lo, hi);
        if (lo < hi) bwd_inp_f64(dinp, dout, weight, lo, hi, IC, OC, accumulate);
      }
      thread_range(OC, lo, hi);
      if (dweight && lo < hi) bwd_w_f64(dweight, dout, inp, lo, hi, N, IC, OC);
      if (dbias && lo < hi) bias_grad(dbias, dout, N, OC, lo, hi);
    }
  }
}

template void matmul_forward<float>(float*, const float*, const float*, const float*, int, int, int, Precision);
template void matmul_forward<double>(double*, const double*, const double*, const double*, int, int, int, Precision);
template void matmul_gelu_forward<float>(float*, float*, const float*, const float*, const float*, int, int, int, Precision);
template void matmul_gelu_forward<double>(double*, double*, const double*, const double*, const double*, int, int, int, Precision);
template void matmul_gelu_backward<float>(float*, const float*, const float*, const float*, int, int, int, Precision);
template void matmul_gelu_backward<double>(double*, const double*, const double*, const double*, int, int, int, Precision);
template void matmul_backward<float>(float*, float*, float*, const float*, const float*, const float*, int, int, int, bool, Precision);
template void matmul_backward<double>(double*, double*, double*, const double*, const double*, const double*, int, int, int, bool, Precision);

}  // namespace electra
