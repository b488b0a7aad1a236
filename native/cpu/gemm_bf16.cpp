// gemm_bf16.cpp: the bf16 matrix product of the engine's bf16 mode: fp32 operands rounded to bf16
// (round to nearest even) while they are packed, products summed in fp32 (AVX512-BF16 vdpbf16ps,
// two k per instruction). Without AVX512-BF16 the operands are rounded the same way and the fp32
// kernels of gemm.cpp sum them, so every machine computes with the same bf16 inputs.
//
// Blocking: k in blocks of KC (all of K up to 1024); rows in super-blocks of MC whose A is packed once per
// k block as bf16 pairs (A[i][k], A[i][k+1]) in one 32-bit word; B in panels of KC x NR (32) packed as
// k-pair words, [pair][column]; an 8 x 32 register tile (16 zmm accumulators; 8 for a last panel of
// at most 16 columns) does 2 x MR dot products of 16 lanes per k pair. Every C element sums its k pairs in increasing order whatever the
// row split, so results do not depend on the thread count.
//
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholder operands (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/simd.h"

namespace electra {

// The k block: all of K up to kMaxKC (then C is written once, never reloaded: 20-35% faster for K =
// 768 than blocks of 256), else blocks of 256. A block's k pairs are summed in order into C, so the
// blocking changes no result. Rows go in super-blocks whose packed A (rows x KC/2 words) fits in
// 768 KB of L2: 1536 rows at KC 256, 384 at 1024.
static constexpr int kMaxKC = 1024;
static constexpr int kLongKC = 256;
static constexpr int kPackedABytes = 768 * 1024;
static inline int kc_for(int K) { return K <= kMaxKC ? K : kLongKC; }
static inline int kpw_for(int kc) { return (kc + 31) / 32 * 16; }  // pair words per packed row: whole vectors
static inline int mc_for(int kpw) {  // a multiple of 48 (MR 6 or 8, and 16 for the pair-major layout's stores)
  const int mc = kPackedABytes / 4 / kpw / 48 * 48;
  return mc > 48 ? mc : 48;
}
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

uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

float bf16_round(float f) {
  const uint32_t u = (uint32_t)to_bf16(f) << 16;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// Fallback: operands rounded to bf16 in fp32 buffers, then the fp32 kernels.
static void gemm_bf16_emulated(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows,
                               int cols, int K, bool accumulate, bool b_trans, const float* bias) {
  static thread_local std::vector<float> a, b;
  a.resize((size_t)rows * K);
  b.resize((size_t)K * cols);
  for (int i = 0; i < rows; i++)
    for (int k = 0; k < K; k++) a[(size_t)i * K + k] = bf16_round(A[(long)i * sai + (long)k * sak]);
  for (int k = 0; k < K; k++)
    for (int j = 0; j < cols; j++) b[(size_t)k * cols + j] = bf16_round(b_trans ? B[(long)j * ldb + k] : B[(long)k * ldb + j]);
  gemm_f32(C, ldc, a.data(), K, 1, b.data(), cols, rows, cols, K, accumulate, false, bias);
}

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
// are zero.
struct PackedA {
  int sr, sp;
};
BF16_TARGET static PackedA pack_a(uint32_t* Ap, int kpw, int MC, const float* A, int sai, int sak, int i0, int mr,
                                  int k0, int k1) {
  const int kn = k1 - k0;
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
  if (sai == 1) {  // A transposed: rows k and k + 1 hold 16 consecutive i each
    for (int p = 0; p < (kn + 1) / 2; p++) {
      const int k = k0 + 2 * p;
      const float* a0 = A + (long)k * sak + i0;
      const float* a1 = a0 + sak;
      for (int r = 0; r < mr; r += 16) {
        const int h = std::min(16, mr - r);
        const __mmask16 m = (__mmask16)(h >= 16 ? 0xFFFF : (1u << h) - 1);
        const __m512 hi = k + 1 < k1 ? _mm512_maskz_loadu_ps(m, a1 + r) : _mm512_setzero_ps();
        _mm512_storeu_si512(Ap + (size_t)p * MC + r, pair_words(_mm512_maskz_loadu_ps(m, a0 + r), hi));
      }
    }
    return {1, MC};
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
BF16_TARGET static void pack_b_trans(uint32_t* Bp, const float* B, int ldb, int j, int w, int k0, int k1) {
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

BF16_TARGET static void pack_b(uint32_t* Bp, const float* B, int ldb, int j, int w, int k0, int k1) {
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

// All rows of a super-block against one panel: MR-row tiles, then the leftover rows.
template <int NV>
BF16_TARGET static void panel_rows(float* c, int ldc, const uint32_t* ap, int sr, int sp, const uint32_t* bp, int kp,
                                   int mc, const __mmask16* m, bool load, const float* init) {
  int r = 0;
  for (; r + MR <= mc; r += MR) tile_bf16<MR, NV>(c + (long)r * ldc, ldc, ap + (size_t)r * sr, sr, sp, bp, kp, m, load, init);
  const uint32_t* a = ap + (size_t)r * sr;
  c += (long)r * ldc;
  switch (mc - r) {
    case 7: tile_bf16<7, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 6: tile_bf16<6, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 5: tile_bf16<5, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 4: tile_bf16<4, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 3: tile_bf16<3, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 2: tile_bf16<2, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    case 1: tile_bf16<1, NV>(c, ldc, a, sr, sp, bp, kp, m, load, init); break;
    default: break;
  }
}

BF16_TARGET static void gemm_bf16_avx512(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb,
                                         int rows, int cols, int K, bool accumulate, bool b_trans,
                                         const float* bias) {
  if (K <= 0) return;  // accumulating nothing (without accumulate, gemm_bf16 wrote the bias already)
  const int KC = kc_for(K), KPW = kpw_for(KC), MC = mc_for(KPW);
  // Per-thread buffers, looked up once per call (in the addon's position-independent code every
  // access to a thread_local may be a __tls_get_addr call).
  alignas(64) static thread_local uint32_t bp_tls[kMaxKC / 2 * NR];  // one B panel
  static thread_local std::vector<uint32_t> ap_tls;
  ap_tls.resize((size_t)MC * KPW + 16);  // either layout: MC rows x KPW pairs
  uint32_t* const bp = bp_tls;
  uint32_t* const apd = ap_tls.data();
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int k1 = std::min(K, k0 + KC), kp = (k1 - k0 + 1) / 2;
    for (int i0 = 0; i0 < rows; i0 += MC) {
      const int mc = std::min(MC, rows - i0);
      const PackedA pa = pack_a(apd, KPW, MC, A, sai, sak, i0, mc, k0, k1);
      for (int j = 0; j < cols; j += NR) {
        const int w = std::min(NR, cols - j);
        __mmask16 m[NR / 16];
        for (int g = 0; g < NR / 16; g++) m[g] = group_mask(w, g);
        if (b_trans) pack_b_trans(bp, B, ldb, j, w, k0, k1);
        else pack_b(bp, B, ldb, j, w, k0, k1);
        float* c = C + (long)i0 * ldc + j;
        const bool load = accumulate || k0 > 0;
        const float* init = bias ? bias + j : nullptr;
        // a panel's columns in vectors of 16: only as many as it has (the last panel may be narrow)
        switch ((w + 15) / 16) {
#if ELECTRA_BF16_NR == 64
          case 4: panel_rows<4>(c, ldc, apd, pa.sr, pa.sp, bp, kp, mc, m, load, init); break;
          case 3: panel_rows<3>(c, ldc, apd, pa.sr, pa.sp, bp, kp, mc, m, load, init); break;
#endif
          case 2: panel_rows<2>(c, ldc, apd, pa.sr, pa.sp, bp, kp, mc, m, load, init); break;
          default: panel_rows<1>(c, ldc, apd, pa.sr, pa.sp, bp, kp, mc, m, load, init); break;
        }
      }
    }
  }
}
#endif

bool gemm_bf16_native() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool ok = cpu_isa() == Isa::Avx512 && cpu_has_avx512_bf16();
  return ok;
#else
  return false;
#endif
}

void gemm_bf16(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows, int cols, int K,
               bool accumulate, bool b_trans, bool emulate, const float* bias) {
  if (rows <= 0 || cols <= 0) return;
  if (!accumulate && K <= 0) return gemm_init(C, ldc, rows, cols, bias);
#if defined(__x86_64__) && defined(__GNUC__)
  if (!emulate && gemm_bf16_native())
    return gemm_bf16_avx512(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias);
#endif
  gemm_bf16_emulated(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias);
}

}  // namespace electra
