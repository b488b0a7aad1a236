// gemm.cpp: register-blocked fp32 GEMM micro-kernels (AVX-512, AVX2, scalar), K blocked for L1.
#include "cpu/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/simd.h"

namespace electra {

static constexpr int KC = 256;  // k block: a 32-column panel of B (KC x 32 floats = 32 KB) stays in L1

static void gemm_scalar(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows,
                        int cols, int K, bool accumulate) {
  for (int i = 0; i < rows; i++) {
    float* c = C + (long)i * ldc;
    if (!accumulate) std::memset(c, 0, sizeof(float) * cols);
    for (int k = 0; k < K; k++) {
      const float a = A[(long)i * sai + (long)k * sak];
      const float* b = B + (long)k * ldb;
      for (int j = 0; j < cols; j++) c[j] += a * b[j];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// ---- AVX-512: MR rows x 32 columns (two zmm per row), masked at the right edge ----------------------
template <int MR>
__attribute__((target("avx512f"))) static inline void tile512(float* C, int ldc, const float* A, int sai, int sak,
                                                             const float* B, int ldb, int k0, int k1, __mmask16 m0,
                                                             __mmask16 m1, bool load, const float* init) {
  __m512 c0[MR], c1[MR];
  if (load) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      c0[r] = _mm512_maskz_loadu_ps(m0, C + (long)r * ldc);
      c1[r] = _mm512_maskz_loadu_ps(m1, C + (long)r * ldc + 16);
    }
  } else {  // C's first k block without accumulating: the sums start at the bias (or zero)
    const __m512 i0 = init ? _mm512_maskz_loadu_ps(m0, init) : _mm512_setzero_ps();
    const __m512 i1 = init ? _mm512_maskz_loadu_ps(m1, init + 16) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      c0[r] = i0;
      c1[r] = i1;
    }
  }
  const float* a = A + (long)k0 * sak;
  const float* b = B + (long)k0 * ldb;
  for (int k = k0; k < k1; k++, a += sak, b += ldb) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
  #pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
      const __m512 av = _mm512_set1_ps(a[(long)r * sai]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    _mm512_mask_storeu_ps(C + (long)r * ldc, m0, c0[r]);
    _mm512_mask_storeu_ps(C + (long)r * ldc + 16, m1, c1[r]);
  }
}

__attribute__((target("avx512f"))) static void gemm_avx512(float* C, int ldc, const float* A, int sai, int sak,
                                                          const float* B, int ldb, int rows, int cols, int K,
                                                          bool accumulate, bool b_trans, const float* bias) {
  // B's panel of KC x 32 is packed contiguously (zero-padded at the right edge): rows of B lie
  // ldb floats apart, often a multiple of 4 KB, which would map a whole panel onto a few cache sets.
  alignas(64) static thread_local float panel_tls[KC * 32];
  float* const panel = panel_tls;  // looked up once: thread_local accesses are calls in the addon's PIC code
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int k1 = std::min(K, k0 + KC), kn = k1 - k0;
    for (int j = 0; j < cols; j += 32) {
      const int w = std::min(32, cols - j);
      const __mmask16 m0 = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1);
      const __mmask16 m1 = (__mmask16)(w >= 32 ? 0xFFFF : w > 16 ? (1u << (w - 16)) - 1 : 0);
      if (!b_trans) {
        for (int kk = 0; kk < kn; kk++) {
          const float* b = B + (long)(k0 + kk) * ldb + j;
          _mm512_store_ps(panel + kk * 32, _mm512_maskz_loadu_ps(m0, b));
          _mm512_store_ps(panel + kk * 32 + 16, _mm512_maskz_loadu_ps(m1, b + 16));
        }
      } else {  // B(k, j) = B[j * ldb + k]: column c of the panel is row j + c of B, read contiguously
        for (int c = 0; c < 32; c++) {
          const float* b = B + (long)(j + c) * ldb + k0;
          if (c < w)
            for (int kk = 0; kk < kn; kk++) panel[kk * 32 + c] = b[kk];
          else
            for (int kk = 0; kk < kn; kk++) panel[kk * 32 + c] = 0.f;
        }
      }
      const float* P = panel - (long)k0 * 32;  // tile kernels index rows k0..k1 of a 32-wide B
      const bool load = accumulate || k0 > 0;
      const float* init = bias ? bias + j : nullptr;
      int i = 0;
      for (; i + 6 <= rows; i += 6) tile512<6>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init);
      switch (rows - i) {
        case 5: tile512<5>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init); break;
        case 4: tile512<4>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init); break;
        case 3: tile512<3>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init); break;
        case 2: tile512<2>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init); break;
        case 1: tile512<1>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, P, 32, k0, k1, m0, m1, load, init); break;
        default: break;
      }
    }
  }
}

// ---- AVX2 + FMA: MR rows x 16 columns (two ymm per row); the right edge goes through a copy ---------
template <int MR>
__attribute__((target("avx2,fma"))) static inline void tile256(float* C, int ldc, const float* A, int sai, int sak,
                                                              const float* B, int ldb, int k0, int k1) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    c0[r] = _mm256_loadu_ps(C + (long)r * ldc);
    c1[r] = _mm256_loadu_ps(C + (long)r * ldc + 8);
  }
  const float* a = A + (long)k0 * sak;
  const float* b = B + (long)k0 * ldb;
  for (int k = k0; k < k1; k++, a += sak, b += ldb) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
  #pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
      const __m256 av = _mm256_broadcast_ss(a + (long)r * sai);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    _mm256_storeu_ps(C + (long)r * ldc, c0[r]);
    _mm256_storeu_ps(C + (long)r * ldc + 8, c1[r]);
  }
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(float* C, int ldc, const float* A, int sai, int sak,
                                                         const float* B, int ldb, int rows, int cols, int K,
                                                         bool accumulate) {
  const int full = cols / 16 * 16;
  if (!accumulate)
    for (int i = 0; i < rows; i++) std::memset(C + (long)i * ldc, 0, sizeof(float) * full);
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int k1 = std::min(K, k0 + KC);
    for (int j = 0; j < full; j += 16) {
      int i = 0;
      for (; i + 6 <= rows; i += 6) tile256<6>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, B + j, ldb, k0, k1);
      for (; i < rows; i++) tile256<1>(C + (long)i * ldc + j, ldc, A + (long)i * sai, sai, sak, B + j, ldb, k0, k1);
    }
  }
  if (full < cols)  // leftover columns: scalar, still k in order
    for (int i = 0; i < rows; i++) {
      float* c = C + (long)i * ldc;
      for (int j = full; j < cols; j++) {
        float s = accumulate ? c[j] : 0.f;
        for (int k = 0; k < K; k++) s += A[(long)i * sai + (long)k * sak] * B[(long)k * ldb + j];
        c[j] = s;
      }
    }
}
#endif

void gemm_init(float* C, int ldc, int rows, int cols, const float* bias) {
  for (int i = 0; i < rows; i++) {
    if (bias) std::memcpy(C + (long)i * ldc, bias, sizeof(float) * cols);
    else std::memset(C + (long)i * ldc, 0, sizeof(float) * cols);
  }
}

void gemm_f32(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows, int cols, int K,
              bool accumulate, bool b_trans, const float* bias) {
  if (rows <= 0 || cols <= 0) return;
  if (!accumulate && K <= 0) return gemm_init(C, ldc, rows, cols, bias);
#if defined(__x86_64__) && defined(__GNUC__)
  static const Isa isa = cpu_isa();
  if (isa == Isa::Avx512) return gemm_avx512(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate, b_trans, bias);
#endif
  if (!accumulate && bias) {  // the other kernels start from C: the bias first
    gemm_init(C, ldc, rows, cols, bias);
    accumulate = true;
  }
  if (b_trans) {  // the other kernels read B row-major: transpose it once
    static thread_local std::vector<float> bt;
    bt.resize((size_t)K * cols);
    for (int k = 0; k < K; k++)
      for (int j = 0; j < cols; j++) bt[(size_t)k * cols + j] = B[(long)j * ldb + k];
    return gemm_f32(C, ldc, A, sai, sak, bt.data(), cols, rows, cols, K, accumulate, false);
  }
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == Isa::Avx2) return gemm_avx2(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate);
#endif
  gemm_scalar(C, ldc, A, sai, sak, B, ldb, rows, cols, K, accumulate);
}

}  // namespace electra
