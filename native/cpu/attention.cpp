// attention.cpp: the multi-head self-attention core (scores, padding mask, softmax, dropout, weighted
// sum of values) and its backward pass. The q/k/v projections are plain matmuls outside it.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/kernels.h"
#include "engine/rng.h"

namespace electra {

// Dropout multiplier of attention probability (b, h, t, t2): 0 or 1 / (1 - p).
static inline double att_keep(float p, uint64_t seed, uint64_t stream, uint64_t idx) {
  if (p <= 0.f) return 1.0;
  return random_unit(seed, stream, idx) >= p ? 1.0 / (1.0 - (double)p) : 0.0;
}

// A query row attends to the keys with mask 1; if a sequence has none (never for real data, which
// always holds [CLS]), every key is attended, as an additive mask of -inf.. -max would give.
static inline bool key_valid(const int32_t* mrow, int t2, bool any) { return !any || mrow[t2] != 0; }

template <typename F>
void attention_forward(F* out, F* att, const F* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream) {
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#pragma omp parallel for collapse(3) schedule(static)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      for (int t = 0; t < T; t++) {
        const int32_t* mrow = mask ? mask + (int64_t)b * T : nullptr;
        bool any = false;
        if (mrow)
          for (int t2 = 0; t2 < T; t2++) any |= mrow[t2] != 0;
        const F* q = qkv + ((int64_t)b * T + t) * C3 + h * HS;
        F* a = att + (((int64_t)b * NH + h) * T + t) * T;
        F mx = -std::numeric_limits<F>::infinity();
        for (int t2 = 0; t2 < T; t2++) {
          if (mrow && !key_valid(mrow, t2, any)) {
            a[t2] = 0;
            continue;
          }
          const F* k = qkv + ((int64_t)b * T + t2) * C3 + C + h * HS;
          F s = 0;
          for (int d = 0; d < HS; d++) s += q[d] * k[d];
          s *= scale;
          a[t2] = s;
          if (s > mx) mx = s;
        }
        F sum = 0;
        for (int t2 = 0; t2 < T; t2++) {
          if (mrow && !key_valid(mrow, t2, any)) continue;
          const F e = std::exp(a[t2] - mx);
          a[t2] = e;
          sum += e;
        }
        const F inv = (F)1 / sum;
        for (int t2 = 0; t2 < T; t2++) a[t2] *= inv;
        F* o = out + ((int64_t)b * T + t) * C + h * HS;
        for (int d = 0; d < HS; d++) o[d] = 0;
        const uint64_t base = (((uint64_t)b * NH + h) * T + t) * T;
        for (int t2 = 0; t2 < T; t2++) {
          if (a[t2] == (F)0) continue;
          const F p = a[t2] * (F)att_keep(p_drop, seed, stream, base + t2);
          const F* v = qkv + ((int64_t)b * T + t2) * C3 + 2 * C + h * HS;
          for (int d = 0; d < HS; d++) o[d] += p * v[d];
        }
      }
    }
  }
}

template <typename F>
void attention_backward(F* dqkv, const F* dout, const F* qkv, const F* att, const int32_t* mask, int B, int T,
                        int C, int NH, float p_drop, uint64_t seed, uint64_t stream) {
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
  // One (b, h) pair per task: dk and dv of a pair gather contributions from all its query rows.
#pragma omp parallel
  {
    std::vector<F> datt(T), keep(T);
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++) {
          F* dq = dqkv + ((int64_t)b * T + t) * C3 + h * HS;
          for (int d = 0; d < HS; d++) dq[d] = 0, dq[C + d] = 0, dq[2 * C + d] = 0;
        }
        for (int t = 0; t < T; t++) {
          const F* a = att + (((int64_t)b * NH + h) * T + t) * T;
          const F* dy = dout + ((int64_t)b * T + t) * C + h * HS;
          const F* q = qkv + ((int64_t)b * T + t) * C3 + h * HS;
          F* dq = dqkv + ((int64_t)b * T + t) * C3 + h * HS;
          const uint64_t base = (((uint64_t)b * NH + h) * T + t) * T;
          // d(dropped att) and dv
          F dot = 0;
          for (int t2 = 0; t2 < T; t2++) {
            if (a[t2] == (F)0) {
              datt[t2] = 0;
              continue;
            }
            keep[t2] = (F)att_keep(p_drop, seed, stream, base + t2);
            const F* v = qkv + ((int64_t)b * T + t2) * C3 + 2 * C + h * HS;
            F* dv = dqkv + ((int64_t)b * T + t2) * C3 + 2 * C + h * HS;
            const F pk = a[t2] * keep[t2];
            F s = 0;
            for (int d = 0; d < HS; d++) {
              s += dy[d] * v[d];
              dv[d] += pk * dy[d];
            }
            datt[t2] = s * keep[t2];
            dot += a[t2] * datt[t2];
          }
          // softmax backward, then scores = scale * q . k
          for (int t2 = 0; t2 < T; t2++) {
            if (a[t2] == (F)0) continue;
            const F dpre = a[t2] * (datt[t2] - dot) * scale;
            const F* k = qkv + ((int64_t)b * T + t2) * C3 + C + h * HS;
            F* dk = dqkv + ((int64_t)b * T + t2) * C3 + C + h * HS;
            for (int d = 0; d < HS; d++) {
              dq[d] += dpre * k[d];
              dk[d] += dpre * q[d];
            }
          }
        }
      }
    }
  }
  (void)mask;
}

template void attention_forward<float>(float*, float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);
template void attention_forward<double>(double*, double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);
template void attention_backward<float>(float*, const float*, const float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);
template void attention_backward<double>(double*, const double*, const double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);

}  // namespace electra
