// rng.h: Philox4x32-10, a counter-based random number generator (Salmon et al., SC'11). Every random
// number is a pure function of (seed, stream, index), so results never depend on the thread count
// or the order of evaluation, and the CUDA backend can draw the very same numbers.
#pragma once
#include <cstdint>

// Compiled by nvcc, the scalar generator is also device code: the CUDA backend draws the same numbers.
#ifdef __CUDACC__
#define ELECTRA_HD __host__ __device__ __forceinline__
#else
#define ELECTRA_HD inline
#endif

namespace electra {

struct Philox4x32 {
  // One 10-round Philox block: 4 x 32 random bits from a 128-bit counter and a 64-bit key.
  static ELECTRA_HD void block(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = key_in[0], k1 = key_in[1];
    for (int r = 0; r < 10; r++) {
      uint64_t p0 = (uint64_t)0xD2511F53u * c0;
      uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
      uint32_t n1 = (uint32_t)p1;
      uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
      uint32_t n3 = (uint32_t)p0;
      c0 = n0; c1 = n1; c2 = n2; c3 = n3;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  }
  // Four random words for block `index / 4` of `stream`.
  static ELECTRA_HD void words(uint64_t seed, uint64_t stream, uint64_t block_index, uint32_t out[4]) {
    const uint32_t ctr[4] = {(uint32_t)block_index, (uint32_t)(block_index >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    block(ctr, key, out);
  }
};

// The words of 16 consecutive blocks, [block0, block0 + 16), in index order: out[4 i + j] = word j of
// block block0 + i, the same as 16 calls of words(). Written lane by lane so that compilers vectorise
// it (16 blocks side by side) inside ELECTRA_MULTIVERSION functions.
static inline __attribute__((always_inline)) void philox_words16(uint64_t seed, uint64_t stream, uint64_t block0,
                                                                 uint32_t out[64]) {
  uint32_t c0[16], c1[16], c2[16], c3[16];
  for (int i = 0; i < 16; i++) {
    const uint64_t b = block0 + (uint64_t)i;
    c0[i] = (uint32_t)b, c1[i] = (uint32_t)(b >> 32), c2[i] = (uint32_t)stream, c3[i] = (uint32_t)(stream >> 32);
  }
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
#pragma omp simd
    for (int i = 0; i < 16; i++) {
      const uint64_t p0 = (uint64_t)0xD2511F53u * c0[i];
      const uint64_t p1 = (uint64_t)0xCD9E8D57u * c2[i];
      const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0;
      const uint32_t n1 = (uint32_t)p1;
      const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;
      const uint32_t n3 = (uint32_t)p0;
      c0[i] = n0, c1[i] = n1, c2[i] = n2, c3[i] = n3;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int i = 0; i < 16; i++) out[4 * i] = c0[i], out[4 * i + 1] = c1[i], out[4 * i + 2] = c2[i], out[4 * i + 3] = c3[i];
}

// 32 random bits number `index` of `stream`.
ELECTRA_HD uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t w[4];
  Philox4x32::words(seed, stream, index >> 2, w);
  return w[index & 3];
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
ELECTRA_HD float u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
ELECTRA_HD float random_unit(uint64_t seed, uint64_t stream, uint64_t index) {
  return u32_to_unit(random_u32(seed, stream, index));
}

// Streams: a 64-bit name for each independent use of randomness, built from small fields.
// kind (8 bits) | a (24 bits) | b (32 bits); e.g. kind=dropout, a=site, b=step.
ELECTRA_HD uint64_t make_stream(uint32_t kind, uint32_t a, uint32_t b) {
  return ((uint64_t)(kind & 0xFF) << 56) | ((uint64_t)(a & 0xFFFFFF) << 32) | (uint64_t)b;
}
enum StreamKind : uint32_t { kStreamDropout = 1, kStreamMask = 2, kStreamGumbel = 3, kStreamShuffle = 4, kStreamInit = 5 };

}  // namespace electra
