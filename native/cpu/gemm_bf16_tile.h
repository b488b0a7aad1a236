// gemm_bf16_tile.h: the pieces of the bf16 GEMM (gemm_bf16.cpp) that fused kernels reuse: operand
// packing into bf16 pair words and the register tile (MR x NR, vdpbf16ps). A product assembled from
// them sums every element's k pairs in the same order as gemm_bf16, so it gives the same bits.
// Internal to native/cpu (static functions: each including file gets its own copy).
#pragma once
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholder operands (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm.h"

namespace electra {

// Tile rows: 8 (16 accumulators). vdpbf16ps has a latency of about 6 cycles; on Zen 5, which issues
// two 512-bit dot products per cycle, 12 accumulators (a 6-row tile) reach 93% of the register peak
// and 16 saturate it: 8 x 32 measured 5-10% faster than 6 x 32 on the model's shapes there (1
// thread, best of 4 alternating runs; 6 x 64 was mixed). Zen 4 issues one per cycle, where either
// tile keeps the unit busy. (A packed A in micro-panels of 8 rows, each pair's 8 words adjacent,
// measured no better than the layouts below.)
static constexpr int MR = 8;
#ifndef ELECTRA_BF16_NR  // overridable for tuning experiments
#define ELECTRA_BF16_NR 32
#endif
// B panel width: 32 columns (two zmm per tile row), or 64 (four: 24 accumulators, half the
// broadcasts per product, with 6 rows), which measured 2-3% slower on Zen 4 on the model's shapes.
static constexpr int NR = ELECTRA_BF16_NR;
static inline int kpw_for(int kc) { return (kc + 31) / 32 * 16; }  // pair words per packed row: whole vectors

#if defined(__x86_64__) && defined(__GNUC__)
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// 16 pair words from two rows of 16 floats: word i = (bf16(lo[i]), bf16(hi[i])). One conversion of
// all 32 (vcvtne2ps2bf16: round to nearest even, as to_bf16) and one 16-bit interleave.
BF16_TARGET static inline __m512i pair_words(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                       5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// A rows [i0, i0 + mr) x k [k0, k1) -> pair words in one of two layouts, chosen for A's strides
// (returned as the strides of a row and of a pair): row-major A (sak 1) packs row by row,
// Ap[r * kpw + p]; transposed A (sai 1) packs pair by pair, Ap[p * MC + r] (MC: the super-block's
// row capacity, a multiple of 16), so that both are written with whole-vector stores. Pairs past k1
// are zero. With sums, sums[r] += A[i0 + r][k] for k in [k0, k1) in order, from the fp32 values.
struct PackedA {
  int sr, sp;
};
BF16_TARGET static inline PackedA pack_a(uint32_t* Ap, int kpw, int MC, const float* A, int sai, int sak, int i0, int mr,
                                  int k0, int k1, float* sums = nullptr) {
  const int kn = k1 - k0;
  if (sums && sai != 1) {  // the sums in a pass of their own (the transposed layout sums as it packs)
    for (int r = 0; r < mr; r++) {
      float s = sums[r];
      for (int k = k0; k < k1; k++) s += A[(long)(i0 + r) * sai + (long)k * sak];
      sums[r] = s;
    }
  }
  if (sai == 1 && (sak != 1 || sums)) {  // A transposed: rows k and k + 1 hold 16 consecutive i each
    for (int p = 0; p < (kn + 1) / 2; p++) {
      const int k = k0 + 2 * p;
      const float* a0 = A + (long)k * sak + i0;
      const float* a1 = a0 + sak;
      for (int r = 0; r < mr; r += 16) {
        const int h = std::min(16, mr - r);
        const __mmask16 m = (__mmask16)(h >= 16 ? 0xFFFF : (1u << h) - 1);
        const __m512 lo = _mm512_maskz_loadu_ps(m, a0 + r);
        const __m512 hi = k + 1 < k1 ? _mm512_maskz_loadu_ps(m, a1 + r) : _mm512_setzero_ps();
        if (sums) {  // k, then k + 1 (a weight gradient's output gradient: its bias gradient)
          __m512 t = _mm512_add_ps(_mm512_maskz_loadu_ps(m, sums + r), lo);
          if (k + 1 < k1) t = _mm512_add_ps(t, hi);
          _mm512_mask_storeu_ps(sums + r, m, t);
        }
        _mm512_storeu_si512(Ap + (size_t)p * MC + r, pair_words(lo, hi));
      }
    }
    return {1, MC};
  }
  if (sak == 1) {  // rows contiguous in k: 32 floats -> 32 bf16 = 16 pair words per store
    for (int r = 0; r < mr; r++) {
      const float* a = A + (long)(i0 + r) * sai + k0;
      uint32_t* d = Ap + (size_t)r * kpw;
      for (int k = 0; k < kn; k += 32) {
        const int w = std::min(32, kn - k);
        const __mmask16 m0 = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1);
        const __mmask16 m1 = (__mmask16)(w >= 32 ? 0xFFFF : w > 16 ? (1u << (w - 16)) - 1 : 0);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, a + k), hi = _mm512_maskz_loadu_ps(m1, a + k + 16);
        _mm512_storeu_si512(d + k / 2, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
      }
    }
    return {kpw, 1};
  }
  for (int r = 0; r < mr; r++)
    for (int p = 0; p < (kn + 1) / 2; p++) {
      const int k = k0 + 2 * p;
      const uint32_t lo = to_bf16(A[(long)(i0 + r) * sai + (long)k * sak]);
      const uint32_t hi = k + 1 < k1 ? to_bf16(A[(long)(i0 + r) * sai + (long)(k + 1) * sak]) : 0;
      Ap[(size_t)r * kpw + p] = lo | hi << 16;
    }
  return {kpw, 1};
}

// B rows k [k0, k1) x columns [j, j + w) -> Bp[p * 32 + c] pair words, zero past the edges.
// Transposed B (B(k, j) = B[j * ldb + k]): each column is a contiguous row of B, converted 32 k at a time.
// Transposes a 16 x 16 block of 32-bit words in registers: r[i] word j becomes r[j] word i.
BF16_TARGET static inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // each 128-bit lane now holds a 4 x 4 block; gather lanes across registers
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// B rows k [k0, k1) x columns [j, j + w) -> Bp[p * NR + c] pair words, zero past the edges.
// Transposed B (B(k, j) = B[j * ldb + k]): each column is a contiguous row of B, converted 32 k at a
// time; 16 full columns at once go through a register transpose, the others word by word.
BF16_TARGET static inline void pack_b_trans(uint32_t* Bp, const float* B, int ldb, int j, int w, int k0, int k1) {
  const int kn = k1 - k0, kp = (kn + 1) / 2;
  alignas(64) uint32_t words[16];
  for (int c0 = 0; c0 < NR; c0 += 16) {
    if (c0 + 16 <= w) {
      for (int k = 0; k < kn; k += 32) {
        const int n = std::min(32, kn - k);
        const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
        const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xFFFF : n > 16 ? (1u << (n - 16)) - 1 : 0);
        __m512i r[16];
        for (int c = 0; c < 16; c++) {
          const float* b = B + (long)(j + c0 + c) * ldb + k0 + k;
          r[c] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, b + 16), _mm512_maskz_loadu_ps(m0, b));
        }
        transpose16(r);  // r[q]: pair k / 2 + q of the 16 columns
        for (int q = 0; q < (n + 1) / 2; q++) _mm512_store_si512(Bp + (k / 2 + q) * NR + c0, r[q]);
      }
      continue;
    }
    if (c0 >= w) {  // a whole group past the edge
      for (int p = 0; p < kp; p++) _mm512_store_si512(Bp + p * NR + c0, _mm512_setzero_si512());
      continue;
    }
    for (int c = c0; c < c0 + 16; c++) {
      if (c >= w) {
        for (int p = 0; p < kp; p++) Bp[p * NR + c] = 0;
        continue;
      }
      const float* b = B + (long)(j + c) * ldb + k0;
      for (int k = 0; k < kn; k += 32) {
        const int n = std::min(32, kn - k);
        const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
        const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xFFFF : n > 16 ? (1u << (n - 16)) - 1 : 0);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, b + k), hi = _mm512_maskz_loadu_ps(m1, b + k + 16);
        _mm512_store_si512(words, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        for (int q = 0; q < (n + 1) / 2; q++) Bp[(k / 2 + q) * NR + c] = words[q];
      }
    }
  }
}

// The 16-column mask of group g (columns [16 g, 16 g + 16)) of a panel w columns wide.
static inline __mmask16 group_mask(int w, int g) {
  const int n = w - 16 * g;
  return (__mmask16)(n >= 16 ? 0xFFFF : n > 0 ? (1u << n) - 1 : 0);
}

BF16_TARGET static inline void pack_b(uint32_t* Bp, const float* B, int ldb, int j, int w, int k0, int k1) {
  for (int k = k0, p = 0; k < k1; k += 2, p++) {
    const float* b0 = B + (long)k * ldb + j;
    const bool two = k + 1 < k1;
    const float* b1 = b0 + ldb;
    for (int g = 0; g < NR / 16; g++) {
      const __mmask16 m = group_mask(w, g);
      const __m512 hi = two ? _mm512_maskz_loadu_ps(m, b1 + 16 * g) : _mm512_setzero_ps();
      _mm512_store_si512(Bp + p * NR + 16 * g, pair_words(_mm512_maskz_loadu_ps(m, b0 + 16 * g), hi));
    }
  }
}

// C rows [0, R) x 16 NV columns += A (pair words at Ap[r * sr + p * sp]) x the packed B panel (NR wide).
// Without `load`, the sums start at init (a bias row; null: zero) and C is only written.
template <int R, int NV>
BF16_TARGET static inline void tile_bf16(float* C, int ldc, const uint32_t* Ap, int sr, int sp, const uint32_t* Bp,
                                         int kp, const __mmask16* m, bool load, const float* init) {
  __m512 c[R][NV];
  if (load) {
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[r][v] = _mm512_maskz_loadu_ps(m[v], C + (long)r * ldc + 16 * v);
  } else {
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      const __m512 i = init ? _mm512_maskz_loadu_ps(m[v], init + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) c[r][v] = i;
    }
  }
  for (int p = 0; p < kp; p++) {
    __m512bh b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = (__m512bh)_mm512_load_si512(Bp + p * NR + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32((int)Ap[(size_t)r * sr + (size_t)p * sp]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[r][v] = _mm512_dpbf16_ps(c[r][v], a, b[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(C + (long)r * ldc + 16 * v, m[v], c[r][v]);
}

// All rows of a super-block against one panel: MR-row tiles, then the leftover rows. With `ep`, each
// stored tile goes through the epilogue (rows i0 + r of C, columns j0 on); with ep->scratch the tiles
// are stored to a scratch in L1 instead of C.
template <int NV>
BF16_TARGET static inline void panel_rows(float* c, int ldc, const uint32_t* ap, int sr, int sp, const uint32_t* bp, int kp,
                                   int mc, const __mmask16* m, bool load, const float* init, const GemmEpilogue* ep = nullptr,
                                   int i0 = 0, int j0 = 0, int w = 0) {
  alignas(64) float tmp[MR * NR];
  const bool scratch = ep && ep->scratch;
  const int lt = scratch ? NR : ldc;  // the tiles' row stride
  int r = 0;
  for (; r + MR <= mc; r += MR) {
    float* ct = scratch ? tmp : c + (long)r * ldc;
    tile_bf16<MR, NV>(ct, lt, ap + (size_t)r * sr, sr, sp, bp, kp, m, load, init);
    if (ep) ep->fn(*ep, ct, lt, i0 + r, j0, MR, w);
  }
  const uint32_t* a = ap + (size_t)r * sr;
  float* cr = scratch ? tmp : c + (long)r * ldc;
  switch (mc - r) {
    case 7: tile_bf16<7, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 6: tile_bf16<6, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 5: tile_bf16<5, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 4: tile_bf16<4, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 3: tile_bf16<3, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 2: tile_bf16<2, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    case 1: tile_bf16<1, NV>(cr, lt, a, sr, sp, bp, kp, m, load, init); break;
    default: return;
  }
  if (ep) ep->fn(*ep, cr, lt, i0 + r, j0, mc - r, w);
}

// C rows [0, mc) x columns [0, w) of one panel (w <= NR): with `load`, C += the packed A rows x the
// packed B panel; without, C = init (a bias row; null: zero) + the product. Only the panel's
// vectors of 16 columns that exist are computed (the last panel may be narrow). With `ep`, the
// finished tiles (rows i0 + r, columns j0 on, of the epilogue's C) go through it.
BF16_TARGET static inline void panel_product(float* c, int ldc, const uint32_t* ap, int sr, int sp, const uint32_t* bp,
                                             int kp, int mc, int w, bool load, const float* init,
                                             const GemmEpilogue* ep = nullptr, int i0 = 0, int j0 = 0) {
  __mmask16 m[NR / 16];
  for (int g = 0; g < NR / 16; g++) m[g] = group_mask(w, g);
  switch ((w + 15) / 16) {
#if ELECTRA_BF16_NR == 64
    case 4: panel_rows<4>(c, ldc, ap, sr, sp, bp, kp, mc, m, load, init, ep, i0, j0, w); break;
    case 3: panel_rows<3>(c, ldc, ap, sr, sp, bp, kp, mc, m, load, init, ep, i0, j0, w); break;
#endif
    case 2: panel_rows<2>(c, ldc, ap, sr, sp, bp, kp, mc, m, load, init, ep, i0, j0, w); break;
    default: panel_rows<1>(c, ldc, ap, sr, sp, bp, kp, mc, m, load, init, ep, i0, j0, w); break;
  }
}
#endif

}  // namespace electra
