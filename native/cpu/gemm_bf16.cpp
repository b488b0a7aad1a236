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
#include "cpu/gemm_bf16_tile.h"
#include "cpu/simd.h"

namespace electra {

// The k block: all of K up to kMaxKC (then C is written once, never reloaded: 20-35% faster for K =
// 768 than blocks of 256), else blocks of 256. A block's k pairs are summed in order into C, so the
// blocking changes no result. Rows go in super-blocks whose packed A (rows x KC/2 words) fits in
// 768 KB of L2: 1536 rows at KC 256, 384 at 1024.
static constexpr int kMaxKC = 1024;
static constexpr int kLongKC = 256;
#ifndef ELECTRA_PACKED_A_BYTES  // overridable for tuning experiments (2 and 4 MB measured no faster)
#define ELECTRA_PACKED_A_BYTES (768 * 1024)
#endif
static constexpr int kPackedABytes = ELECTRA_PACKED_A_BYTES;
static inline int kc_for(int K) { return K <= kMaxKC ? K : kLongKC; }
static inline int mc_for(int kpw) {  // a multiple of 48 (MR 6 or 8, and 16 for the pair-major layout's stores)
  const int mc = kPackedABytes / 4 / kpw / 48 * 48;
  return mc > 48 ? mc : 48;
}

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
// A16 (when non-null): A as bf16, row-major with row stride sai (then A is unused), read in place.
BF16_TARGET static void gemm_bf16_avx512(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb,
                                         int rows, int cols, int K, bool accumulate, bool b_trans,
                                         const float* bias, const GemmEpilogue* ep, float* a_sums,
                                         const uint16_t* A16 = nullptr) {
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
      // bf16 rows in place: pair p of row r is the 32-bit word at element 2 p of the row
      const uint32_t* ap = A16 ? (const uint32_t*)(A16 + (long)i0 * sai + k0) : apd;
      const PackedA pa = A16 ? PackedA{sai / 2, 1}
                             : pack_a(apd, KPW, MC, A, sai, sak, i0, mc, k0, k1, a_sums ? a_sums + i0 : nullptr);
      for (int j = 0; j < cols; j += NR) {
        const int w = std::min(NR, cols - j);
        if (b_trans) pack_b_trans(bp, B, ldb, j, w, k0, k1);
        else pack_b(bp, B, ldb, j, w, k0, k1);
        panel_product(C + (long)i0 * ldc + j, ldc, ap, pa.sr, pa.sp, bp, kp, mc, w, accumulate || k0 > 0,
                      bias ? bias + j : nullptr, k1 == K ? ep : nullptr, i0, j);
      }
    }
  }
}
#endif

// a_sums[i] += A[i][k], k in order (gemm_bf16's a_sums without the AVX-512 packing)
static void row_sums(float* a_sums, const float* A, int sai, int sak, int rows, int K) {
  for (int i = 0; i < rows; i++) {
    float s = a_sums[i];
    for (int k = 0; k < K; k++) s += A[(long)i * sai + (long)k * sak];
    a_sums[i] = s;
  }
}

// An epilogue with ep->scratch needs the register tiles to see all of K at once (one k block): else C
// holds partial sums, so it becomes a per-thread buffer of its own, and the copy returned (stored in
// own) writes it as usual.
static const GemmEpilogue* scratch_as_buffer(const GemmEpilogue* ep, bool one_block, float*& C, int& ldc, int rows,
                                             int cols, GemmEpilogue& own) {
  if (!ep || !ep->scratch || one_block) return ep;
  static thread_local std::vector<float> c_tmp;
  c_tmp.resize((size_t)rows * cols);
  C = c_tmp.data(), ldc = cols;
  own = *ep;
  own.scratch = false;
  return &own;
}

void gemm_bf16_a16(float* C, int ldc, const uint16_t* A, int lda, const float* B, int ldb, int rows, int cols, int K,
                   bool accumulate, bool b_trans, const float* bias, const GemmEpilogue* ep) {
  if (rows <= 0 || cols <= 0) return;
#if defined(__x86_64__) && defined(__GNUC__)
  if (K > 0 && gemm_bf16_native()) {
    GemmEpilogue own;
    ep = scratch_as_buffer(ep, K <= kMaxKC, C, ldc, rows, cols, own);
    return gemm_bf16_avx512(C, ldc, nullptr, lda, 1, B, ldb, rows, cols, K, accumulate, b_trans, bias, ep, nullptr, A);
  }
#endif
  // elsewhere: the exact fp32 values, which gemm_bf16 rounds back to themselves (and which runs a
  // scratch epilogue there)
  static thread_local std::vector<float> a;
  a.resize((size_t)rows * K);
  for (int i = 0; i < rows; i++)
    for (int k = 0; k < K; k++) {
      const uint32_t u = (uint32_t)A[(size_t)i * lda + k] << 16;
      std::memcpy(&a[(size_t)i * K + k], &u, 4);
    }
  gemm_bf16(C, ldc, a.data(), K, 1, B, ldb, rows, cols, K, accumulate, b_trans, false, bias, ep);
}

#if defined(__x86_64__) && defined(__GNUC__)
BF16_TARGET static void round_to_bf16_avx512(uint16_t* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; i += 32) {
    const int m = (int)std::min<int64_t>(32, n - i);
    const __mmask16 k0 = (__mmask16)(m >= 16 ? 0xFFFF : (1u << m) - 1);
    const __mmask16 k1 = (__mmask16)(m >= 32 ? 0xFFFF : m > 16 ? (1u << (m - 16)) - 1 : 0);
    const __mmask32 k = (__mmask32)(m >= 32 ? 0xFFFFFFFFu : (1u << m) - 1);
    const __m512 lo = _mm512_maskz_loadu_ps(k0, src + i), hi = _mm512_maskz_loadu_ps(k1, src + i + 16);
    _mm512_mask_storeu_epi16(dst + i, k, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
}
#endif

void round_to_bf16(uint16_t* dst, const float* src, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (gemm_bf16_native()) return round_to_bf16_avx512(dst, src, n);
#endif
  for (int64_t i = 0; i < n; i++) dst[i] = to_bf16(src[i]);
}

void round_rows_to_bf16(uint16_t* dst, int ldd, const float* src, int lds, int rows, int cols) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (gemm_bf16_native()) {
    for (int r = 0; r < rows; r++) round_to_bf16_avx512(dst + (long)r * ldd, src + (long)r * lds, cols);
    return;
  }
#endif
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) dst[(long)r * ldd + c] = to_bf16(src[(long)r * lds + c]);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void widen_row_avx512(float* d, const uint16_t* x, int n) {
  int c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(x + c)));
    _mm512_storeu_ps(d + c, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
  for (; c < n; c++) {
    const uint32_t u = (uint32_t)x[c] << 16;
    std::memcpy(d + c, &u, 4);
  }
}
#endif

void widen_rows_from_bf16(float* dst, int ldd, const uint16_t* src, int lds, int rows, int cols) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = cpu_isa() == Isa::Avx512;
  if (avx512) {
    for (int r = 0; r < rows; r++) widen_row_avx512(dst + (long)r * ldd, src + (long)r * lds, cols);
    return;
  }
#endif
  for (int r = 0; r < rows; r++) {
    float* d = dst + (long)r * ldd;
    const uint16_t* x = src + (long)r * lds;
#pragma omp simd
    for (int c = 0; c < cols; c++) {
      const uint32_t u = (uint32_t)x[c] << 16;
      float f;
      std::memcpy(&f, &u, 4);
      d[c] = f;
    }
  }
}

bool gemm_bf16_native() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool ok = cpu_isa() == Isa::Avx512 && cpu_has_avx512_bf16();
  return ok;
#else
  return false;
#endif
}

void gemm_bf16(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows, int cols, int K,
               bool accumulate, bool b_trans, bool emulate, const float* bias, const GemmEpilogue* ep, float* a_sums) {
  if (rows <= 0 || cols <= 0) return;
  const bool tiles = K > 0 && !emulate && gemm_bf16_native();
  GemmEpilogue own;
  ep = scratch_as_buffer(ep, tiles && K <= kMaxKC, C, ldc, rows, cols, own);
#if defined(__x86_64__) && defined(__GNUC__)
  if (tiles) return gemm_bf16_avx512(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias, ep, a_sums);
#endif
  if (a_sums) row_sums(a_sums, A, sai, sak, rows, K);
  if (!accumulate && K <= 0) gemm_init(C, ldc, rows, cols, bias);
  else if (K > 0) gemm_bf16_emulated(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias);
  if (ep) ep->fn(*ep, C, ldc, 0, 0, rows, cols);
}

}  // namespace electra
