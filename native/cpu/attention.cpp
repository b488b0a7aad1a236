// attention.cpp: the multi-head self-attention core (scores, padding mask, softmax, dropout, weighted
// sum of values) and its backward pass, one (batch, head) pair per task. Two paths with the same
// results: the generic one writes T x T matrices and runs small GEMMs (gemm.h) around row-wise
// softmax; in bf16 mode on AVX512-BF16 (probabilities not kept) a fused one goes through blocks of
// query rows in L1 with the bf16 GEMM's own packing and tile (gemm_bf16_tile.h), and can keep the
// dropout masks for the backward pass. The q/k/v projections are plain matmuls outside it.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "cpu/gemm_bf16_tile.h"
#include "cpu/philox_avx512.h"
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

ELECTRA_MULTIVERSION static void softmax_row_portable(float* row, int T, float scale, const int32_t* mrow, bool any) {
  if (any && mrow) softmax_row<true>(row, T, scale, mrow);
  else softmax_row<false>(row, T, scale, nullptr);
}

#if defined(__x86_64__) && defined(__GNUC__)
// e^x for 16 lanes: vm_exp's method (Cody-Waite reduction by ln 2, degree-7 Taylor polynomial) with
// fused multiply-adds and scalef for 2^n; 0 below -87.3 (and for -inf), +inf above 88.7.
ELECTRA_AVX512_TARGET static inline __m512 exp16(__m512 x) {
  const __m512 xc = _mm512_max_ps(_mm512_set1_ps(-87.3f), _mm512_min_ps(x, _mm512_set1_ps(88.7f)));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  const __m512 y = _mm512_scalef_ps(p, n);
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ), y);
}

// softmax_row_portable in AVX-512 registers for R rows (row stride ld): the same definition (scaled
// scores, padding keys out, max subtracted), with tree reductions instead of 16 running values folded
// one by one, and each pass over all R rows before the next, so that one row's reductions overlap
// the other rows' work (one row at a time, the serial folds had made a 128-key row cost ~3x its
// arithmetic). Each row's result does not depend on R.
template <bool Masked>
ELECTRA_AVX512_TARGET static void softmax_rows_avx512(float* rows, int R, int ld, int T, float scale,
                                                      const int32_t* mrow) {
  constexpr int kMaxR = 16;
  const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int i0 = 0; i0 < R; i0 += kMaxR) {
    const int n = R - i0 < kMaxR ? R - i0 : kMaxR;
    float mx[kMaxR], inv[kMaxR];
    for (int i = 0; i < n; i++) {
      float* row = rows + (size_t)(i0 + i) * ld;
      __m512 m = ninf;
      for (int t = 0; t < T; t += 16) {
        const int c = T - t < 16 ? T - t : 16;
        const __mmask16 all = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
        __mmask16 in = all;
        if (Masked) {
          const __m512i k = _mm512_maskz_loadu_epi32(in, mrow + t);
          in = _mm512_test_epi32_mask(k, k);  // keys that count
        }
        const __m512 v = _mm512_mask_mov_ps(ninf, in, _mm512_mul_ps(_mm512_maskz_loadu_ps(in, row + t), vs));
        _mm512_mask_storeu_ps(row + t, all, v);
        m = _mm512_max_ps(m, v);
      }
      mx[i] = _mm512_reduce_max_ps(m);
    }
    for (int i = 0; i < n; i++) {
      float* row = rows + (size_t)(i0 + i) * ld;
      const __m512 vm = _mm512_set1_ps(mx[i]);
      __m512 sum = _mm512_setzero_ps();
      for (int t = 0; t < T; t += 16) {
        const int c = T - t < 16 ? T - t : 16;
        const __mmask16 in = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
        const __m512 e = _mm512_maskz_mov_ps(in, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(in, row + t), vm)));
        _mm512_mask_storeu_ps(row + t, in, e);  // padding keys (-inf) give 0
        sum = _mm512_add_ps(sum, e);
      }
      inv[i] = 1.f / _mm512_reduce_add_ps(sum);
    }
    for (int i = 0; i < n; i++) {
      float* row = rows + (size_t)(i0 + i) * ld;
      const __m512 vi = _mm512_set1_ps(inv[i]);
      for (int t = 0; t < T; t += 16) {
        const int c = T - t < 16 ? T - t : 16;
        const __mmask16 in = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
        _mm512_mask_storeu_ps(row + t, in, _mm512_mul_ps(_mm512_maskz_loadu_ps(in, row + t), vi));
      }
    }
  }
}
#endif

// R fp32 softmax rows (softmax_row; row stride ld): AVX-512 registers where the CPU has them, else
// the portable loops.
static void softmax_rows_f32(float* rows, int R, int ld, int T, float scale, const int32_t* mrow, bool any) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = cpu_isa() == Isa::Avx512;
  if (avx512) {
    if (any && mrow) softmax_rows_avx512<true>(rows, R, ld, T, scale, mrow);
    else softmax_rows_avx512<false>(rows, R, ld, T, scale, nullptr);
    return;
  }
#endif
  for (int i = 0; i < R; i++) softmax_row_portable(rows + (size_t)i * ld, T, scale, mrow, any);
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
// A sequence's padding keys as the softmax rows take them: mrow null when no key is padding (the
// unmasked softmax: the same values, no mask reads); `any` false when every key is (then all keys
// count, as an additive -inf mask would give).
struct KeyMask {
  const int32_t* mrow;
  bool any;
};
static KeyMask key_mask(const int32_t* mrow, int T) {
  bool any = !mrow, all = true;
  for (int t = 0; mrow && t < T; t++) any |= mrow[t] != 0, all &= mrow[t] != 0;
  return {all ? nullptr : mrow, any};
}

template <typename F>
static void probabilities(Precision prec, F* a, AttnScratch<F>& s, const F* q, const F* k, const int32_t* mrow0,
                          int T, int C3, int HS, F scale) {
  const KeyMask km = key_mask(mrow0, T);
  const int32_t* mrow = km.mrow;
  const bool any = km.any;
  mm(prec, a, T, q, C3, 1, k, C3, T, T, HS, false, true);  // scores = q k^T (k read transposed in place)
  if constexpr (std::is_same_v<F, float>) {
    softmax_rows_f32(a, T, T, T, scale, mrow, any);
  } else {
    for (int t = 0; t < T; t++) {
      F* row = a + (size_t)t * T;
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

#if defined(__x86_64__) && defined(__GNUC__)
// The bf16 forward pass fused per (batch, head) on AVX512-BF16: k^T and v packed once per head, then
// blocks of MR query rows whose scores are formed, softmaxed, dropped out and multiplied by v while
// they are in L1 (the generic path writes and rereads two T x T matrices per head). Every product is
// the one gemm_bf16 forms (the same pair words, summed in the same order), the softmax and dropout
// are the same functions on the same rows, so the output has the generic path's bits
// (test_fastpaths checks this).
// Regions of n[i] words in buf, each starting on a 64-byte line (the packed panels' aligned loads and
// stores): *dst[i] = region i.
template <size_t N>
static void carve(std::vector<uint32_t>& buf, const size_t (&n)[N], uint32_t** const (&dst)[N]) {
  const auto up = [](size_t x) { return (x + 15) / 16 * 16; };
  size_t total = 16;
  for (size_t x : n) total += up(x);
  buf.resize(total);
  uint32_t* b = buf.data() + (16 - ((uintptr_t)buf.data() / 4) % 16) % 16;
  for (size_t i = 0; i < N; i++) *dst[i] = b, b += up(n[i]);
}

struct FusedScratch {
  std::vector<uint32_t> buf;
  std::vector<float> rows;
  uint32_t *q, *kt, *v, *p;  // q rows, k^T panels, v panels, one block of P' rows
  float *s, *pd;             // MR score rows; their dropped copy
  void ensure(int T, int HS) {
    const size_t n[4] = {(size_t)T * kpw_for(HS), (size_t)(T + NR - 1) / NR * NR * ((HS + 1) / 2),
                         (size_t)(HS + NR - 1) / NR * NR * ((T + 1) / 2), (size_t)MR * kpw_for(T)};
    carve(buf, n, {&q, &kt, &v, &p});
    rows.resize((size_t)2 * MR * T);
    s = rows.data(), pd = s + (size_t)MR * T;
  }
};

// Prefetches rows [r0, r1) (HS floats each, `ld` apart) of the next head's q, k and v (at q, q + C,
// q + 2C; null: none) and of dy (null: none) into L2 while this head computes: their rows are 3C
// floats apart, which the hardware prefetchers do not follow, so each head otherwise starts by
// waiting on memory.
static inline void prefetch_next_head(const float* q, int C, int C3, const float* dy, int ldy, int r0, int r1, int HS) {
  for (int r = r0; r < r1; r++)
    for (int c = 0; c < HS; c += 16) {
      if (q) {
        const float* x = q + (size_t)r * C3 + c;
        _mm_prefetch((const char*)x, _MM_HINT_T1);
        _mm_prefetch((const char*)(x + C), _MM_HINT_T1);
        _mm_prefetch((const char*)(x + 2 * C), _MM_HINT_T1);
      }
      if (dy) _mm_prefetch((const char*)(dy + (size_t)r * ldy + c), _MM_HINT_T1);
    }
}

// One probability row's dropout again from the masks dropout_range kept (`bits`, one word per 64
// elements): keep = kept ? scale : 0, dst = src * keep, what dropout_range with a keep buffer gives.
BF16_TARGET static void dropout_row_apply(float* dst, float* keep, const float* src, int n, float scale,
                                          const uint64_t* bits) {
  const __m512 vs = _mm512_set1_ps(scale);
  for (int t = 0; t < n; t += 16) {
    const int c = std::min(16, n - t);
    const __mmask16 in = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
    const __mmask16 k = (__mmask16)(bits[t / 64] >> (t % 64)) & in;
    const __m512 kv = _mm512_maskz_mov_ps(k, vs);
    _mm512_mask_storeu_ps(keep + t, in, kv);
    _mm512_mask_storeu_ps(dst + t, in, _mm512_mul_ps(_mm512_maskz_loadu_ps(in, src + t), kv));
  }
}

// bf16 rows of the output (out16 instead of out): the tiles through an L1 scratch, rounded
static void bf16_rows_epilogue(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols) {
  round_rows_to_bf16(e.out16 + (int64_t)i * e.ld + j, e.ld, c, ldc, rows, cols);
}

BF16_TARGET static void head_forward_bf16(float* out, int ldo, uint16_t* out16, const float* q, const float* k,
                                          const float* v, int C3,
                                          KeyMask km, int T, int HS, float scale, float p_drop, uint64_t seed,
                                          uint64_t stream, uint64_t base, uint64_t* bits, const float* qn,
                                          FusedScratch& s) {
  const int kph = (HS + 1) / 2, kpt = (T + 1) / 2;  // k pairs of q k^T and of P' v
  const int qw = kpw_for(HS), pw = kpw_for(T);     // pair words per packed row of q and of P'
  GemmEpilogue ep16{bf16_rows_epilogue, nullptr, nullptr, ldo};
  ep16.out16 = out16;
  ep16.scratch = true;
  pack_a(s.q, qw, 0, q, C3, 1, 0, T, 0, HS);
  for (int j = 0; j < T; j += NR) pack_b_trans(s.kt + (size_t)j * kph, k, C3, j, std::min(NR, T - j), 0, HS);
  for (int j = 0; j < HS; j += NR) pack_b(s.v + (size_t)j * kpt, v, C3, j, std::min(NR, HS - j), 0, T);
  for (int r0 = 0; r0 < T; r0 += MR) {
    const int R = std::min(MR, T - r0);
    prefetch_next_head(qn, C3 / 3, C3, nullptr, 0, r0, r0 + R, HS);
    for (int j = 0; j < T; j += NR)  // scores of the block's rows
      panel_product(s.s + j, T, s.q + (size_t)r0 * qw, qw, 1, s.kt + (size_t)j * kph, kph, R, std::min(NR, T - j),
                    false, nullptr);
    const float* src = s.s;
    softmax_rows_f32(s.s, R, T, T, scale, km.mrow, km.any);
    if (p_drop > 0.f) {
      for (int i = 0; i < R; i++)
        dropout_range(s.pd + (size_t)i * T, (float*)nullptr, s.s + (size_t)i * T, T, p_drop, seed, stream,
                      base + (uint64_t)(r0 + i) * T, bits ? bits + (size_t)(r0 + i) * ((T + 63) / 64) : nullptr);
      src = s.pd;
    }
    pack_a(s.p, pw, 0, src, T, 1, 0, R, 0, T);
    for (int j = 0; j < HS; j += NR)
      panel_product(out + (size_t)r0 * ldo + j, ldo, s.p, pw, 1, s.v + (size_t)j * kpt, kpt, R, std::min(NR, HS - j),
                    false, nullptr, out16 ? &ep16 : nullptr, r0, j);
  }
}
#endif

// fn(scratch, b, h, nb, nh) for every (batch, head) pair, each thread taking a contiguous run of pairs
// sized by its measured speed (Balance), with its own scratch S (kept between calls); (nb, nh) is the
// next pair in order (usually the same thread's next task, whose operands fn may prefetch), nb == B
// after the last.
template <typename S, typename Fn>
static void for_each_head(int B, int NH, int T, int HS, Fn fn) {
  static Balance balance;  // per instantiation: the forward and backward passes learn apart
  BalancedRegion region(balance);
#pragma omp parallel
  {
    const BalanceClock clock;
    static thread_local S s;
    s.ensure(T, HS);
    int lo, hi;
    region.range(B * NH, 1, lo, hi);
    for (int i = lo; i < hi; i++) {
      const int b = i / NH, h = i % NH;
      fn(s, b, h, h + 1 < NH ? b : b + 1, h + 1 < NH ? h + 1 : 0);
    }
    region.done(hi - lo, clock.seconds());
  }
}

// Whether attention_forward / _backward take the fused bf16 paths: bf16 products on AVX512-BF16,
// probabilities not kept.
template <typename F>
static bool fused_path(Precision prec, const F* att, int T) {
  // (T >= 2: a transposed A of one row would be packed row-major)
  if constexpr (std::is_same_v<F, float>) return prec == Precision::Bf16 && !att && T >= 2 && gemm_bf16_native();
  return false;
}

template <typename F>
void attention_forward(F* out, F* att, const F* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream, Precision prec, uint64_t* bits, uint16_t* out16) {
  ProfileScope prof("attention_fwd");
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<F, float>) {
    if (fused_path(prec, att, T)) {
      for_each_head<FusedScratch>(B, NH, T, HS, [&](FusedScratch& s, int b, int h, int nb, int nh) {
        const float* q = qkv + (size_t)b * T * C3 + h * HS;
        head_forward_bf16(out + (size_t)b * T * C + h * HS, C, out16 ? out16 + (size_t)b * T * C + h * HS : nullptr, q,
                          q + C, q + 2 * C, C3, key_mask(mask ? mask + (size_t)b * T : nullptr, T), T, HS, scale,
                          p_drop, seed, stream, ((uint64_t)b * NH + h) * T * T,
                          bits ? bits + ((size_t)b * NH + h) * T * ((T + 63) / 64) : nullptr,
                          nb < B ? qkv + (size_t)nb * T * C3 + nh * HS : nullptr, s);
      });
      return;
    }
  }
#endif
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
  if constexpr (std::is_same_v<F, float>)
    if (out16) round_to_bf16(out16, out, (int64_t)B * T * C);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The bf16 backward pass fused per (batch, head), in blocks of RB query rows: the block's
// probabilities recomputed (as the forward pass), its dropout masks drawn again, ds and dq formed
// while the rows are in L1; dropout(P) and ds are kept only as packed bf16 pair words, transposed,
// for dv and dk (sums over all query rows) after the last block. k^T, v^T and k are packed once per
// head. The same products as gemm_bf16's, summed in the same order: the generic path's bits.
struct FusedBwdScratch {
  static constexpr int RB = 16;  // query rows per block
  std::vector<uint32_t> buf;
  std::vector<float> rows;
  // q rows; k^T, v^T and k panels; a block's dy rows and ds rows; dropout(P) and ds transposed (all
  // rows: pair-major, rows padded to 16); one B panel
  uint32_t *q, *kt, *vt, *kb, *dy, *ds, *pt, *dt, *bb;
  float *p, *pd, *keep, *dr;  // RB rows of T each
  void ensure(int T, int HS) {
    const size_t Tn = (size_t)(T + NR - 1) / NR * NR, Hn = (size_t)(HS + NR - 1) / NR * NR, Tp = (T + 15) / 16 * 16;
    const size_t kph = (HS + 1) / 2, kpt = (T + 1) / 2, qw = kpw_for(HS), pw = kpw_for(T);
    const size_t n[9] = {T * qw, Tn * kph, Tn * kph, Hn * kpt, RB * qw, RB * pw, kpt * Tp, kpt * Tp, kpt * NR};
    carve(buf, n, {&q, &kt, &vt, &kb, &dy, &ds, &pt, &dt, &bb});
    rows.resize((size_t)4 * RB * T);
    p = rows.data(), pd = p + (size_t)RB * T, keep = pd + (size_t)RB * T, dr = keep + (size_t)RB * T;
  }
};

BF16_TARGET static void head_backward_bf16(float* dq, float* dk, float* dv, const float* dy, int ldy, const float* q,
                                           const float* k, const float* v, int C3, KeyMask km, int T, int HS,
                                           float scale, float p_drop, uint64_t seed, uint64_t stream, uint64_t base,
                                           const uint64_t* bits, const float* qn, const float* dyn,
                                           FusedBwdScratch& s) {
  constexpr int RB = FusedBwdScratch::RB;
  const int kph = (HS + 1) / 2, kpt = (T + 1) / 2, Tp = (T + 15) / 16 * 16;
  const int qw = kpw_for(HS), pw = kpw_for(T);
  pack_a(s.q, qw, 0, q, C3, 1, 0, T, 0, HS);
  for (int j = 0; j < T; j += NR) {
    pack_b_trans(s.kt + (size_t)j * kph, k, C3, j, std::min(NR, T - j), 0, HS);  // k^T: scores
    pack_b_trans(s.vt + (size_t)j * kph, v, C3, j, std::min(NR, T - j), 0, HS);  // v^T: d(dropped P)
  }
  for (int j = 0; j < HS; j += NR) pack_b(s.kb + (size_t)j * kpt, k, C3, j, std::min(NR, HS - j), 0, T);  // dq = ds k
  const float keep_scale = (float)(1.0 / (1.0 - (double)p_drop));
  for (int r0 = 0; r0 < T; r0 += RB) {
    const int R = std::min(RB, T - r0);
    prefetch_next_head(qn, C3 / 3, C3, dyn, ldy, r0, r0 + R, HS);
    for (int j = 0; j < T; j += NR)
      panel_product(s.p + j, T, s.q + (size_t)r0 * qw, qw, 1, s.kt + (size_t)j * kph, kph, R, std::min(NR, T - j),
                    false, nullptr);
    softmax_rows_f32(s.p, R, T, T, scale, km.mrow, km.any);
    for (int i = 0; i < R; i++) {
      float* pr = s.p + (size_t)i * T;
      if (bits && p_drop > 0.f)  // the forward pass's masks
        dropout_row_apply(s.pd + (size_t)i * T, s.keep + (size_t)i * T, pr, T, keep_scale,
                          bits + (size_t)(r0 + i) * ((T + 63) / 64));
      else
        dropout_range(s.pd + (size_t)i * T, s.keep + (size_t)i * T, pr, T, p_drop, seed, stream,
                      base + (uint64_t)(r0 + i) * T);
    }
    // the block's dropped probabilities as pairs of rows, transposed, for dv = dropout(P)^T dy
    pack_a(s.pt + (size_t)r0 / 2 * Tp, 0, Tp, s.pd, 1, T, 0, T, 0, R);
    // d(dropout(P)) = dy v^T, then through dropout and softmax
    pack_a(s.dy, qw, 0, dy, ldy, 1, r0, R, 0, HS);
    for (int j = 0; j < T; j += NR)
      panel_product(s.dr + j, T, s.dy, qw, 1, s.vt + (size_t)j * kph, kph, R, std::min(NR, T - j), false, nullptr);
    for (int i = 0; i < R; i++)
      softmax_dropout_bwd_row_f32(s.dr + (size_t)i * T, s.p + (size_t)i * T, s.keep + (size_t)i * T, T, scale);
    // dq = ds k for the block's rows
    pack_a(s.ds, pw, 0, s.dr, T, 1, 0, R, 0, T);
    for (int j = 0; j < HS; j += NR)
      panel_product(dq + (size_t)r0 * C3 + j, C3, s.ds, pw, 1, s.kb + (size_t)j * kpt, kpt, R, std::min(NR, HS - j),
                    false, nullptr);
    pack_a(s.dt + (size_t)r0 / 2 * Tp, 0, Tp, s.dr, 1, T, 0, T, 0, R);  // for dk = ds^T q
  }
  // dv = dropout(P)^T dy, dk = ds^T q: all query rows at once (transposed A: pair-major words)
  for (int j = 0; j < HS; j += NR) {
    const int w = std::min(NR, HS - j);
    pack_b(s.bb, dy, ldy, j, w, 0, T);
    panel_product(dv + j, C3, s.pt, 1, Tp, s.bb, kpt, T, w, false, nullptr);
    pack_b(s.bb, q, C3, j, w, 0, T);
    panel_product(dk + j, C3, s.dt, 1, Tp, s.bb, kpt, T, w, false, nullptr);
  }
}
#endif

template <typename F>
void attention_backward(F* dqkv, const F* dout, const F* qkv, const F* att, const int32_t* mask, int B, int T,
                        int C, int NH, float p_drop, uint64_t seed, uint64_t stream, Precision prec,
                        const uint64_t* bits) {
  ProfileScope prof("attention_bwd");
  const int HS = C / NH, C3 = 3 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<F, float>) {
    if (fused_path(prec, att, T)) {
      for_each_head<FusedBwdScratch>(B, NH, T, HS, [&](FusedBwdScratch& s, int b, int h, int nb, int nh) {
        const float* q = qkv + (size_t)b * T * C3 + h * HS;
        float* dq = dqkv + (size_t)b * T * C3 + h * HS;
        head_backward_bf16(dq, dq + C, dq + 2 * C, dout + (size_t)b * T * C + h * HS, C, q, q + C, q + 2 * C, C3,
                           key_mask(mask ? mask + (size_t)b * T : nullptr, T), T, HS, scale, p_drop, seed, stream,
                           ((uint64_t)b * NH + h) * T * T, bits ? bits + ((size_t)b * NH + h) * T * ((T + 63) / 64) : nullptr,
                           nb < B ? qkv + (size_t)nb * T * C3 + nh * HS : nullptr,
                           nb < B ? dout + (size_t)nb * T * C + nh * HS : nullptr, s);
      });
      return;
    }
  }
#endif
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

// ---- the first query of each sequence only (kernels.h) --------------------------------------------
template <typename F>
void attention_cls_forward(F* out, F* p, F* keep, const F* q, const F* kv, const int32_t* mask, int B, int T, int C,
                           int NH, float p_drop, uint64_t seed, uint64_t stream) {
  ProfileScope prof("attention_cls_fwd");
  const int HS = C / NH, C2 = 2 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#pragma omp parallel
  {
    static thread_local std::vector<F> pd;  // kept between calls: no allocation per step
    pd.resize(T);
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const KeyMask km = key_mask(mask ? mask + (size_t)b * T : nullptr, T);
      const F* qr = q + (size_t)b * C + h * HS;
      const F* k = kv + (size_t)b * T * C2 + h * HS;
      const F* v = k + C;
      F* pr = p + (size_t)bh * T;
      F mx = -std::numeric_limits<F>::infinity();
      for (int t = 0; t < T; t++) {
        F s = 0;
        for (int d = 0; d < HS; d++) s += qr[d] * k[(size_t)t * C2 + d];
        // padding keys get no attention (unless all keys are padding: then every key, as attention_forward)
        pr[t] = km.any && km.mrow && !km.mrow[t] ? -std::numeric_limits<F>::infinity() : s * scale;
        mx = pr[t] > mx ? pr[t] : mx;
      }
      F sum = 0;
      for (int t = 0; t < T; t++) {
        pr[t] = pr[t] == -std::numeric_limits<F>::infinity() ? F(0) : std::exp(pr[t] - mx);
        sum += pr[t];
      }
      const F inv = F(1) / sum;
      for (int t = 0; t < T; t++) pr[t] *= inv;
      // row 0 of this head's T x T dropout masks
      dropout_range(pd.data(), keep + (size_t)bh * T, pr, T, p_drop, seed, stream, (uint64_t)bh * T * T);
      F* o = out + (size_t)b * C + h * HS;
      for (int d = 0; d < HS; d++) o[d] = 0;
      for (int t = 0; t < T; t++) {
        const F w = pd[t];
        for (int d = 0; d < HS; d++) o[d] += w * v[(size_t)t * C2 + d];
      }
    }
  }
}

template <typename F>
void attention_cls_backward(F* dq, F* dkv, const F* dout, const F* q, const F* kv, const F* p, const F* keep, int B,
                            int T, int C, int NH) {
  ProfileScope prof("attention_cls_bwd");
  const int HS = C / NH, C2 = 2 * C;
  const F scale = (F)(1.0 / std::sqrt((double)HS));
#pragma omp parallel
  {
    static thread_local std::vector<F> ds;
    ds.resize(T);
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
      const int b = bh / NH, h = bh % NH;
      const F* dy = dout + (size_t)b * C + h * HS;
      const F* qr = q + (size_t)b * C + h * HS;
      const F* k = kv + (size_t)b * T * C2 + h * HS;
      const F* v = k + C;
      F* dk = dkv + (size_t)b * T * C2 + h * HS;
      F* dv = dk + C;
      const F* pr = p + (size_t)bh * T;
      const F* kr = keep + (size_t)bh * T;
      // d(dropped P) = dy . v_t; dv_t = dropped P_t dy; then through dropout and softmax
      F dot = 0;
      for (int t = 0; t < T; t++) {
        F s = 0;
        for (int d = 0; d < HS; d++) s += dy[d] * v[(size_t)t * C2 + d];
        const F pd = pr[t] * kr[t];
        for (int d = 0; d < HS; d++) dv[(size_t)t * C2 + d] = pd * dy[d];
        ds[t] = s * kr[t];
        dot += pr[t] * ds[t];
      }
      F* dqr = dq + (size_t)b * C + h * HS;
      for (int d = 0; d < HS; d++) dqr[d] = 0;
      for (int t = 0; t < T; t++) {
        const F g = pr[t] * (ds[t] - dot) * scale;
        for (int d = 0; d < HS; d++) {
          dqr[d] += g * k[(size_t)t * C2 + d];
          dk[(size_t)t * C2 + d] = g * qr[d];
        }
      }
    }
  }
}

template void attention_cls_forward<float>(float*, float*, float*, const float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);
template void attention_cls_forward<double>(double*, double*, double*, const double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t);
template void attention_cls_backward<float>(float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, int, int);
template void attention_cls_backward<double>(double*, double*, const double*, const double*, const double*, const double*, const double*, int, int, int, int);

template void attention_forward<float>(float*, float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision, uint64_t*, uint16_t*);
template void attention_forward<double>(double*, double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision, uint64_t*, uint16_t*);
template void attention_backward<float>(float*, const float*, const float*, const float*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision, const uint64_t*);
template void attention_backward<double>(double*, const double*, const double*, const double*, const int32_t*, int, int, int, int, float, uint64_t, uint64_t, Precision, const uint64_t*);

}  // namespace electra
