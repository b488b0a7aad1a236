// philox_avx512.h: Philox4x32-10 (engine/rng.h) for 16 consecutive blocks at once in AVX-512
// registers: the 64 random words of elements [4 block0, 4 block0 + 64) of a stream, in element
// order, bit-identical to Philox4x32::words. About 4x faster than the compiler-vectorised
// philox_words16 (which goes through memory and scalar 64-bit products), for the dropout kernels.
#pragma once
#include <cstdint>

namespace electra {
// The same 64 words written to out: philox64_avx512 where the CPU has AVX-512, else philox_words16
// (for callers compiled for several instruction sets, which cannot inline the AVX-512 code).
void philox_words64(uint64_t seed, uint64_t stream, uint64_t block0, uint32_t out[64]);
}  // namespace electra

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// GCC 12's AVX-512 headers trip these on their own placeholder operands (GCC bug 105593); callers
// that expand these functions wrap them in the same pragmas.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
namespace electra {

#define ELECTRA_AVX512_TARGET __attribute__((target("avx512f")))

// hi and lo 32 bits of the 16 products x[i] * m (unsigned 32 x 32 -> 64 bits)
ELECTRA_AVX512_TARGET static inline void mulhilo16(__m512i x, __m512i m, __m512i& hi, __m512i& lo) {
  const __m512i even = _mm512_mul_epu32(x, m);                         // lanes 0, 2, ..: whole products
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);  // lanes 1, 3, ..
  hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

// out[q] = the words of elements 16 q .. 16 q + 15 of blocks [block0, block0 + 16): word j of block
// block0 + i is element 4 i + j.
ELECTRA_AVX512_TARGET static inline void philox64_avx512(uint64_t seed, uint64_t stream, uint64_t block0,
                                                         __m512i out[4]) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lo0 = _mm512_set1_epi32((int)(uint32_t)block0);
  __m512i c0 = _mm512_add_epi32(lo0, iota);
  // the 64-bit counter's high word, plus the carry where the low word wrapped
  __m512i c1 = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(block0 >> 32)), _mm512_cmplt_epu32_mask(c0, lo0),
                                     _mm512_set1_epi32((int)(uint32_t)(block0 >> 32)), _mm512_set1_epi32(1));
  __m512i c2 = _mm512_set1_epi32((int)(uint32_t)stream), c3 = _mm512_set1_epi32((int)(uint32_t)(stream >> 32));
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
  for (int r = 0; r < 10; r++) {
    __m512i h0, l0, h1, l1;
    mulhilo16(c0, m0, h0, l0);
    mulhilo16(c2, m1, h1, l1);
    c0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)k0));
    c1 = l1;
    c2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)k1));
    c3 = l0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // lane i holds block i's words in c0..c3: interleave to element order
  const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
  const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
  // u_r's 128-bit lane L: the 4 words of block 4 L + r
  const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
  const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
  const __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u0, u1, 0xEE);
  const __m512i v2 = _mm512_shuffle_i32x4(u2, u3, 0x44), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
  out[0] = _mm512_shuffle_i32x4(v0, v2, 0x88);
  out[1] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
  out[2] = _mm512_shuffle_i32x4(v1, v3, 0x88);
  out[3] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
}

// The keep masks of 16 elements whose words are w: u = (w >> 8) / 2^24 >= p (random_unit's test).
ELECTRA_AVX512_TARGET static inline __mmask16 keep16(__m512i w, __m512 p) {
  const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)), _mm512_set1_ps(1.0f / 16777216.0f));
  return _mm512_cmp_ps_mask(u, p, _CMP_GE_OQ);
}

}  // namespace electra
#pragma GCC diagnostic pop
#endif
