// attention.cpp: the multi-head self-attention core (scores, padding mask, softmax, dropout, weighted
// sum of values) and its backward pass, one (batch, head) pair per task, written as small matrix
// products (the fp32 GEMM micro-kernels) around a row-wise softmax. The q/k/v projections are plain
// matmuls outside it.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/simd.h"
#include "cpu/vmath.h"
#include "cpu/kernels.h"
#include "engine/profile.h"

namespace electra {

// C (rows x cols, ldc) = (acc ? C : 0) + A(i, k) B[k * ldb + j], A(i, k) = A[i * sai + k * sak].
template <typename F>
// With b_trans, B(k, j) = B[j * ldb + k] (gemm.h).
static void mm(Precision prec, F* C, int ldc, const F* A, int sai, int sak, const F* B, int ldb, int rows, int cols,
               int K, bool acc, bool b_trans = false) {
  if constexpr (std::is_same_v<F, float>) {
    if (prec == Precision::Bf16) gemm_bf16(C, ldc, A, sai, sak, B, ldb, rows, cols, K, acc, b_trans);
    else gemm_f32(C, ldc, A, sai, sak, B, ldb, rows, cols, K, acc, b_trans);
  } else {
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < cols; j++) {
        F s = acc ? C[(long)i * ldc + j] : F(0);
        for (int k = 0; k < K; k++)
          s += A[(long)i * sai + (long)k * sak] * (b_trans ? B[(long)j * ldb + k] : B[(long)k * ldb + j]);
        C[(long)i * ldc + j] = s;
      }
  }
}

// Softmax-and-dropout backward of one row, in place: dr = a * (dr * keep - sum(a * dr * keep)) * scale.
ELECTRA_MULTIVERSION static void softmax_dropout_bwd_row_f32(float* dr, const float* ar, const float* kr, int T,
                                                             float scale) {
  constexpr int W = 16;  // 16 running sums, folded at the end (see softmax_row)
  const int Tw = T / W * W;
  float d[W] = {};
  for (int t = 0; t < Tw; t += W) {
#pragma omp simd
    for (int j = 0; j < W; j++) {
      dr[t + j] *= kr[t + j];
      d[j] += ar[t + j] * dr[t + j];
    }
  }
  float dot = 0;
  for (int j = 0; j < W; j++) dot += d[j];
  for (int t = Tw; t < T; t++) {
    dr[t] *= kr[t];
    dot += ar[t] * dr[t];
  }
#pragma omp simd
  for (int t2 = 0; t2 < T; t2++) dr[t2] = ar[t2] * (dr[t2] - dot) * scale;
}


// fp32 softmax of one score row in place: scaled, padding keys (mask 0, when `any`) excluded. The
// masked and unmasked rows are separate loops: GCC vectorises each, but not one loop that tests a
// loop-invariant flag (the unmasked rows then ran scalar, 2.5x slower).
// Reductions keep 16 running values (one vector) and fold them at the end: GCC's `omp simd
// reduction` goes through a stack array of lanes, set up and folded by scalar loops on every call,
// which costs more than the 8 vectors of a 128-key row.
template <bool Masked>
static inline __attribute__((always_inline)) void softmax_row(float* row, int T, float scale, const int32_t* mrow) {
  constexpr int W = 16;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int Tw = T / W * W;
  float m[W];
  for (int j = 0; j < W; j++) m[j] = kNegInf;
  for (int t = 0; t < Tw; t += W) {
#pragma omp simd
    for (int j = 0; j < W; j++) {
      const float v = Masked && !mrow[t + j] ? kNegInf : row[t + j] * scale;
      row[t + j] = v;
      m[j] = v > m[j] ? v : m[j];
    }
  }
  float mx = kNegInf;
  for (int j = 0; j < W; j++) mx = m[j] > mx ? m[j] : mx;
  for (int t = Tw; t < T; t++) {
    const float v = Masked && !mrow[t] ? kNegInf : row[t] * scale;
    row[t] = v;
    mx = v > mx ? v : mx;
  }
  float s[W] = {};
  for (int t = 0; t < Tw; t += W) {
#pragma omp simd
    for (int j = 0; j < W; j++) {
      const float e = Masked && !mrow[t + j] ? 0.f : vm_exp(row[t + j] - mx);
      row[t + j] = e;
      s[j] += e;
    }
  }
  float sum = 0;
  for (int j = 0; j < W; j++) sum += s[j];
  for (int t = Tw; t < T; t++) {
    const float e = Masked && !mrow[t] ? 0.f : vm_exp(row[t] - mx);
    row[t] = e;
    sum += e;
  }
  const float inv = 1.f / sum;
#pragma omp simd
  for (int t2 = 0; t2 < T; t2++) row[t2] *= inv;
}

ELECTRA_MULTIVERSION static void softmax_row_f32(float* row, int T, float scale, const int32_t* mrow, bool any) {
  if (any && mrow) softmax_row<true>(row, T, scale, mrow);
  else softmax_row<false>(row, T, scale, nullptr);
}

// Scratch of one task (T x T each): the probabilities (when not kept by the caller), the dropped
// probabilities (then their gradient), the dropout multipliers.
template <typename F>
struct AttnScratch {
  std::vector<F> pd, dpd, p;
  void ensure(int T) {
    p.resize((size_t)T * T);
    pd.resize((size_t)T * T);
    dpd.resize((size_t)T * T);
  }
};

// The attention probabilities of one (batch, head): a (T, T) = softmax(q k^T / sqrt(HS)), padding keys
// excluded. The backward pass calls it again rather than keeping a (T, T) matrix per head and layer;
// the same inputs give the same bits.
template <typename F>
static void probabilities(Precision prec, F* a, AttnScratch<F>& s, const F* q, const F* k, const int32_t* mrow,
                          int T, int C3, int HS, F scale) {
  bool any = !mrow, all = true;
  for (int t = 0; mrow && t < T; t++) any |= mrow[t] != 0, all &= mrow[t] != 0;
  if (all) mrow = nullptr;  // no padding key: the unmasked softmax (the same values, no mask reads)
  mm(prec, a, T, q, C3, 1, k, C3, T, T, HS, false, true);  // scores = q k^T (k read transposed in place)
  for (int t = 0; t < T; t++) {
    F* row = a + (size_t)t * T;
    if constexpr (std::is_same_v<F, float>) {
      softmax_row_f32(row, T, scale, mrow, any);
    } else {
      F mx = -std::numeric_limits<F>::infinity();
      for (int t2 = 0; t2 < T; t2++) {
        // padding keys get no attention (unless a sequence is all padding: then all keys, as an additive -inf mask would)
        if (any && mrow && !mrow[t2]) row[t2] = -std::numeric_limits<F>::infinity();
        else row[t2] *= scale;
        if (row[t2] > mx) mx = row[t2];
      }
      F sum = 0;
      for (int t2 = 0; t2 < T; t2++) {
        const F e = row[t2] == -std::numeric_limits<F>::infinity() ? F(0) : std::exp(row[t2] - mx);
        row[t2] = e;
        sum += e;
      }
      const F inv = F(1) / sum;
      for (int t2 = 0; t2 < T; t2++) row[t2] *= inv;
    }
  }
}

template <typename F>
void attention_forward(F* out, F* att, const F* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream, Precision prec) {
  ProfileScope prof("attention_fwd");
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#pragma omp parallel
  {
    static thread_local AttnScratch<F> s;  // kept between calls: no allocation (and page faults) per step
    s.ensure(T);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const F* q = qkv + (size_t)b * T * C3 + h * HS;
        const F* v = q + 2 * C;
        F* a = att ? att + ((size_t)b * NH + h) * T * T : s.p.data();
        probabilities(prec, a, s, q, q + C, mask ? mask + (size_t)b * T : nullptr, T, C3, HS, scale);
        for (int t = 0; t < T; t++)
          dropout_range(&s.pd[(size_t)t * T], (F*)nullptr, a + (size_t)t * T, T, p_drop, seed, stream,
                        (((uint64_t)b * NH + h) * T + t) * T);
        // out[t, h] = dropout(P) v
        mm(prec, out + (size_t)b * T * C + h * HS, C, s.pd.data(), T, 1, v, C3, T, HS, T, false);
      }
    }
  }
}

template <typename F>
void attention_backward(F* dqkv, const F* dout, const F* qkv, const F* att, const int32_t* mask, int B, int T,
                        int C, int NH, float p_drop, uint64_t seed, uint64_t stream, Precision prec) {
  ProfileScope prof("attention_bwd");
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#pragma omp parallel
  {
    static thread_local AttnScratch<F> s;  // kept between calls: no allocation (and page faults) per step
    s.ensure(T);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        const F* q = qkv + (size_t)b * T * C3 + h * HS;
        const F* k = q + C;
        const F* v = q + 2 * C;
        F* dq = dqkv + (size_t)b * T * C3 + h * HS;
        F* dk = dq + C;
        F* dv = dq + 2 * C;
        const F* dy = dout + (size_t)b * T * C + h * HS;
        const F* a = att ? att + ((size_t)b * NH + h) * T * T : s.p.data();
        if (!att) probabilities(prec, s.p.data(), s, q, k, mask ? mask + (size_t)b * T : nullptr, T, C3, HS, scale);
        for (int t = 0; t < T; t++)  // the dropped probabilities again (same masks), the masks kept in dpd
          dropout_range(&s.pd[(size_t)t * T], &s.dpd[(size_t)t * T], a + (size_t)t * T, T, p_drop, seed, stream,
                        (((uint64_t)b * NH + h) * T + t) * T);
        // dv = dropout(P)^T dy
        mm(prec, dv, C3, s.pd.data(), 1, T, dy, C, T, HS, T, false);
        // d(dropout(P)) = dy v^T, then through dropout and softmax, scaled: dS
        F* ds = s.pd.data();  // dS overwrites dropout(P), which dv was the last to need
        mm(prec, ds, T, dy, C, 1, v, C3, T, T, HS, false, true);  // d(dropout(P)) = dy v^T (v read transposed)
        for (int t = 0; t < T; t++) {
          F* dr = ds + (size_t)t * T;
          const F* ar = a + (size_t)t * T;
          const F* kr = &s.dpd[(size_t)t * T];  // the row's dropout masks, saved above
          if constexpr (std::is_same_v<F, float>) {
            softmax_dropout_bwd_row_f32(dr, ar, kr, T, scale);
          } else {
            F dot = 0;
            for (int t2 = 0; t2 < T; t2++) {
              dr[t2] *= kr[t2];
              dot += ar[t2] * dr[t2];
            }
            for (int t2 = 0; t2 < T; t2++) dr[t2] = ar[t2] * (dr[t2] - dot) * scale;
          }
        }
        // dq = dS k, dk = dS^T q
        mm(prec, dq, C3, ds, T, 1, k, C3, T, HS, T, false);
        mm(prec, dk, C3, ds, 1, T, q, C3, T, HS, T, false);
      }
    }
  }
}

template void attention_forward<float>(float*, float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision);
template void attention_forward<double>(double*, double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision);
template void attention_backward<float>(float*, const float*, const float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision);
template void attention_backward<double>(double*, const double*, const double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision);

}  // namespace electra
