// activation.cpp: exact (erf) GELU and counter-based inverted dropout, forward and backward.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <type_traits>

#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/philox_avx512.h"
#include "cpu/simd.h"
#include "cpu/vmath.h"
#include "engine/profile.h"
#include "engine/rng.h"

namespace electra {

// fp32: vectorised erf and exp (vmath.h), one contiguous chunk per thread
ELECTRA_MULTIVERSION static void gelu_fwd_f32(float* out, const float* inp, int64_t lo, int64_t hi) {
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.f + vm_erf(x * 0.70710678118654752440f));
  }
}

ELECTRA_MULTIVERSION static void gelu_bwd_f32(float* dinp, const float* inp, const float* dout, int64_t lo, int64_t hi) {
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    const float x = inp[i];
    const float cdf = 0.5f * (1.f + vm_erf(x * 0.70710678118654752440f));
    const float pdf = 0.39894228040143267794f * vm_exp(-0.5f * x * x);
    dinp[i] = dout[i] * (cdf + x * pdf);
  }
}

void gelu_rows(float* out, int ldo, const float* inp, int ldi, int rows, int cols) {
  for (int r = 0; r < rows; r++) gelu_fwd_f32(out + (int64_t)r * ldo, inp + (int64_t)r * ldi, 0, cols);
}

void gelu_backward_rows(float* d, int ldd, const float* inp, int ldi, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    float* dr = d + (int64_t)r * ldd;
    gelu_bwd_f32(dr, inp + (int64_t)r * ldi, dr, 0, cols);
  }
}

// fn(lo, hi) on each thread's contiguous chunk of [0, n); chunk starts are multiples of `align`.
template <typename Fn>
static void parallel_chunks(int64_t n, Fn fn, int64_t align = 16) {
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt / align * align + align;
    const int64_t lo = std::min(n, t * chunk), hi = std::min(n, lo + chunk);
    if (lo < hi) fn(lo, hi);
  }
}

void gelu_forward_b16(float* out, const uint16_t* inp16, int64_t n) {
  ProfileScope prof("gelu_fwd");
  parallel_chunks(n, [&](int64_t lo, int64_t hi) {
    alignas(64) float t[1024];
    for (int64_t b = lo; b < hi; b += 1024) {
      const int m = (int)std::min<int64_t>(1024, hi - b);
      widen_rows_from_bf16(t, m, inp16 + b, m, 1, m);
      gelu_fwd_f32(out + b, t, 0, m);
    }
  });
}

template <typename F>
void gelu_forward(F* out, const F* inp, int64_t n) {
  ProfileScope prof("gelu_fwd");
  if constexpr (std::is_same_v<F, float>) {
    parallel_chunks(n, [&](int64_t lo, int64_t hi) { gelu_fwd_f32(out, inp, lo, hi); });
    return;
  }
  const F s = (F)0.70710678118654752440;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const F x = inp[i];
    out[i] = (F)0.5 * x * ((F)1 + std::erf(x * s));
  }
}

template <typename F>
void gelu_backward(F* dinp, const F* inp, const F* dout, int64_t n) {
  ProfileScope prof("gelu_bwd");
  if constexpr (std::is_same_v<F, float>) {
    parallel_chunks(n, [&](int64_t lo, int64_t hi) { gelu_bwd_f32(dinp, inp, dout, lo, hi); });
    return;
  }
  const F s = (F)0.70710678118654752440;
  const F k = (F)0.39894228040143267794;  // 1 / sqrt(2 pi)
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const F x = inp[i];
    const F cdf = (F)0.5 * ((F)1 + std::erf(x * s));
    const F pdf = k * std::exp((F)-0.5 * x * x);
    dinp[i] = dout[i] * (cdf + x * pdf);
  }
}

// fp32: 64 elements (16 Philox blocks) at a time, vectorised; lo is a multiple of 64.
// fp32 slice starting on a Philox block (base a multiple of 4): 64 elements (16 blocks) at a time.
ELECTRA_MULTIVERSION static void dropout_range_f32(float* dst, float* keep, const float* src, int64_t n, float p,
                                                   float scale, uint64_t seed, uint64_t stream, uint64_t base,
                                                   uint64_t* bits) {
  alignas(64) uint32_t w[64];
  for (int64_t t0 = 0; t0 < n; t0 += 64) {
    philox_words16(seed, stream, (base + (uint64_t)t0) >> 2, w);
    const int m = (int)std::min<int64_t>(64, n - t0);
    if (bits) {
      uint64_t word = 0;
      for (int j = 0; j < m; j++) word |= (uint64_t)(u32_to_unit(w[j]) >= p) << j;
      bits[t0 / 64] = word;
    }
    if (keep) {
#pragma omp simd
      for (int j = 0; j < m; j++) {
        const float kj = u32_to_unit(w[j]) >= p ? scale : 0.f;
        keep[t0 + j] = kj;
        dst[t0 + j] = src[t0 + j] * kj;
      }
    } else {
#pragma omp simd
      for (int j = 0; j < m; j++) dst[t0 + j] = u32_to_unit(w[j]) >= p ? src[t0 + j] * scale : 0.f;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push  // GCC 12's AVX-512 headers trip this on their own placeholders (GCC bug 105593)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512 twin of dropout_range_f32: the random words made in registers (philox_avx512.h).
ELECTRA_AVX512_TARGET static void dropout_range_avx512(float* dst, float* keep, const float* src, int64_t n, float p,
                                                       float scale, uint64_t seed, uint64_t stream, uint64_t base,
                                                       uint64_t* bits) {
  const __m512 vp = _mm512_set1_ps(p), vs = _mm512_set1_ps(scale);
  for (int64_t t0 = 0; t0 < n; t0 += 64) {
    __m512i w[4];
    philox64_avx512(seed, stream, (base + (uint64_t)t0) >> 2, w);
    const int m = (int)std::min<int64_t>(64, n - t0);
    uint64_t word = 0;
    for (int q = 0; q < 4 && 16 * q < m; q++) {
      const int c = std::min(16, m - 16 * q);
      const __mmask16 in = (__mmask16)(c >= 16 ? 0xFFFF : (1u << c) - 1);
      const __mmask16 k = keep16(w[q], vp);
      word |= (uint64_t)(k & in) << (16 * q);
      const __m512 x = _mm512_maskz_loadu_ps(in, src + t0 + 16 * q);
      if (keep) {  // x times the multiplier, as the portable code (a dropped -x gives -0)
        const __m512 kv = _mm512_maskz_mov_ps(k, vs);
        _mm512_mask_storeu_ps(keep + t0 + 16 * q, in, kv);
        _mm512_mask_storeu_ps(dst + t0 + 16 * q, in, _mm512_mul_ps(x, kv));
      } else {
        _mm512_mask_storeu_ps(dst + t0 + 16 * q, in, _mm512_maskz_mul_ps(k, x, vs));
      }
    }
    if (bits) bits[t0 / 64] = word;
  }
}
#pragma GCC diagnostic pop
#endif

static bool use_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool yes = cpu_isa() == Isa::Avx512;
  return yes;
#else
  return false;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
ELECTRA_AVX512_TARGET static void philox64_store(uint64_t seed, uint64_t stream, uint64_t block0, uint32_t out[64]) {
  __m512i w[4];
  philox64_avx512(seed, stream, block0, w);
  for (int q = 0; q < 4; q++) _mm512_storeu_si512(out + 16 * q, w[q]);
}
#endif

void philox_words64(uint64_t seed, uint64_t stream, uint64_t block0, uint32_t out[64]) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (use_avx512()) return philox64_store(seed, stream, block0, out);
#endif
  philox_words16(seed, stream, block0, out);
}

template <typename F>
void dropout_range(F* dst, F* keep, const F* src, int64_t n, float p, uint64_t seed, uint64_t stream, uint64_t base,
                   uint64_t* bits) {
  if (p <= 0.f) {  // no dropout: a copy, multipliers of 1
    if (dst != src) std::memcpy(dst, src, sizeof(F) * (size_t)n);
    if (keep) std::fill(keep, keep + n, F(1));
    for (int64_t t0 = 0; bits && t0 < n; t0 += 64) bits[t0 / 64] = n - t0 >= 64 ? ~0ull : (1ull << (n - t0)) - 1;
    return;
  }
  const F scale = (F)(1.0 / (1.0 - (double)p));
  if constexpr (std::is_same_v<F, float>) {
#if defined(__x86_64__) && defined(__GNUC__)
    if ((base & 3) == 0 && use_avx512()) return dropout_range_avx512(dst, keep, src, n, p, scale, seed, stream, base, bits);
#endif
    if ((base & 3) == 0) return dropout_range_f32(dst, keep, src, n, p, scale, seed, stream, base, bits);
  }
  for (int64_t t0 = 0; bits && t0 < n; t0 += 64) bits[t0 / 64] = 0;
  uint64_t blk = UINT64_MAX;
  uint32_t w[4];
  for (int64_t i = 0; i < n; i++) {
    const uint64_t idx = base + (uint64_t)i;
    if ((idx >> 2) != blk) {
      blk = idx >> 2;
      Philox4x32::words(seed, stream, blk, w);
    }
    const bool kept = u32_to_unit(w[idx & 3]) >= p;
    const F k = kept ? scale : F(0);
    if (keep) keep[i] = k;
    if (bits) bits[i / 64] |= (uint64_t)kept << (i % 64);
    dst[i] = src[i] * k;
  }
}

ELECTRA_MULTIVERSION static void dropout_add_f32(float* out, const float* inp, const float* resid, int64_t lo,
                                                 int64_t hi, float p, float scale, uint64_t seed, uint64_t stream,
                                                 uint64_t* bits) {
  alignas(64) uint32_t w[64];
  alignas(64) uint8_t keep[64];
  for (int64_t base = lo; base < hi; base += 64) {
    const int m = (int)std::min<int64_t>(64, hi - base);
    if (p > 0.f) {
      philox_words16(seed, stream, (uint64_t)base / 4, w);
#pragma omp simd
      for (int j = 0; j < m; j++) {
        keep[j] = u32_to_unit(w[j]) >= p;
        out[base + j] = (keep[j] ? inp[base + j] * scale : 0.f) + resid[base + j];
      }
      if (bits) {  // the masks, one bit per element, for the backward pass (16 lanes at a time)
        for (int j = m; j < 64; j++) keep[j] = 0;
        uint64_t word = 0;
        for (int q = 0; q < 4; q++) {
          uint32_t h = 0;
#pragma omp simd reduction(| : h)
          for (int j = 0; j < 16; j++) h |= (uint32_t)keep[16 * q + j] << j;
          word |= (uint64_t)h << (16 * q);
        }
        bits[base / 64] = word;
      }
    } else {
#pragma omp simd
      for (int j = 0; j < m; j++) out[base + j] = inp[base + j] + resid[base + j];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push  // GCC 12's AVX-512 headers trip this on their own placeholders (GCC bug 105593)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512 twins of the two above: the comparison gives the 16-lane keep mask directly, which is
// both applied and (when bits is non-null) stored (the same bits and values as the portable code).
__attribute__((target("avx512f"))) static void dropout_add_bits_avx512(float* out, const float* inp,
                                                                      const float* resid, int64_t lo, int64_t hi,
                                                                      float p, float scale, uint64_t seed,
                                                                      uint64_t stream, uint64_t* bits) {
  const __m512 vp = _mm512_set1_ps(p), vs = _mm512_set1_ps(scale);
  for (int64_t base = lo; base < hi; base += 64) {
    const int m = (int)std::min<int64_t>(64, hi - base);
    __m512i w[4];
    philox64_avx512(seed, stream, (uint64_t)base / 4, w);
    uint64_t word = 0;
    for (int q = 0; q < 4 && 16 * q < m; q++) {
      const int n = std::min(16, m - 16 * q);
      const __mmask16 in = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const __mmask16 keep = keep16(w[q], vp) & in;
      const float* x = inp + base + 16 * q;
      const __m512 y = _mm512_add_ps(_mm512_maskz_mul_ps(keep, _mm512_maskz_loadu_ps(in, x), vs),
                                     _mm512_maskz_loadu_ps(in, resid + base + 16 * q));
      _mm512_mask_storeu_ps(out + base + 16 * q, in, y);
      word |= (uint64_t)keep << (16 * q);
    }
    if (bits) bits[base / 64] = word;
  }
}

__attribute__((target("avx512f"))) static void dropout_bits_avx512(float* out, const float* inp, int64_t lo,
                                                                  int64_t hi, float scale, const uint64_t* bits) {
  const __m512 vs = _mm512_set1_ps(scale);
  for (int64_t base = lo; base < hi; base += 64) {
    const int m = (int)std::min<int64_t>(64, hi - base);
    const uint64_t word = bits[base / 64];
    for (int q = 0; q < 4 && 16 * q < m; q++) {
      const int n = std::min(16, m - 16 * q);
      const __mmask16 in = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const __mmask16 keep = (__mmask16)(word >> (16 * q));
      const __m512 x = _mm512_maskz_loadu_ps(in, inp + base + 16 * q);
      _mm512_mask_storeu_ps(out + base + 16 * q, in, _mm512_maskz_mul_ps(keep, x, vs));
    }
  }
}
#pragma GCC diagnostic pop
#endif

template <typename F>
void dropout_add_forward(F* out, const F* inp, const F* resid, int64_t n, float p, uint64_t seed, uint64_t stream,
                         uint64_t* bits) {
  ProfileScope prof("dropout_residual_add");
  if constexpr (std::is_same_v<F, float>) {
    const float scale = (float)(1.0 / (1.0 - (double)p));
#if defined(__x86_64__) && defined(__GNUC__)
    if (p > 0.f && use_avx512()) {
      parallel_chunks(n, [&](int64_t lo, int64_t hi) { dropout_add_bits_avx512(out, inp, resid, lo, hi, p, scale, seed, stream, bits); }, 64);
      return;
    }
#endif
    parallel_chunks(n, [&](int64_t lo, int64_t hi) { dropout_add_f32(out, inp, resid, lo, hi, p, scale, seed, stream, bits); }, 64);
  } else {
    dropout_forward(out, inp, n, p, seed, stream);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] += resid[i];
    if (bits && p > 0.f)
      for (int64_t i = 0; i < n; i++) {
        if (i % 64 == 0) bits[i / 64] = 0;
        bits[i / 64] |= (uint64_t)(random_unit(seed, stream, (uint64_t)i) >= p) << (i % 64);
      }
  }
}

ELECTRA_MULTIVERSION static void dropout_bits_f32(float* out, const float* inp, int64_t lo, int64_t hi, float scale,
                                                  const uint64_t* bits) {
  for (int64_t base = lo; base < hi; base += 64) {
    const int m = (int)std::min<int64_t>(64, hi - base);
    const uint64_t word = bits[base / 64];
#pragma omp simd
    for (int j = 0; j < m; j++) out[base + j] = (word >> j) & 1 ? inp[base + j] * scale : 0.f;
  }
}

// p == 0: out = inp (a copy unless in place); says whether there was nothing else to do.
template <typename F>
static bool no_dropout(F* out, const F* inp, int64_t n, float p) {
  if (p > 0.f) return false;
  if (out != inp) std::memcpy(out, inp, sizeof(F) * n);
  return true;
}

template <typename F>
void dropout_apply_bits_range(F* out, const F* inp, int64_t lo, int64_t hi, float p, const uint64_t* bits) {
  const F scale = (F)(1.0 / (1.0 - (double)p));
  if constexpr (std::is_same_v<F, float>) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (use_avx512()) return dropout_bits_avx512(out, inp, lo, hi, scale, bits);
#endif
    dropout_bits_f32(out, inp, lo, hi, scale, bits);
  } else {
    for (int64_t i = lo; i < hi; i++) out[i] = (bits[i / 64] >> (i % 64)) & 1 ? inp[i] * scale : F(0);
  }
}

template <typename F>
void dropout_apply_bits(F* out, const F* inp, int64_t n, float p, const uint64_t* bits) {
  ProfileScope prof("dropout");
  if (no_dropout(out, inp, n, p)) return;
  parallel_chunks(n, [&](int64_t lo, int64_t hi) { dropout_apply_bits_range(out, inp, lo, hi, p, bits); }, 64);
}

template <typename F>
void dropout_forward(F* out, const F* inp, int64_t n, float p, uint64_t seed, uint64_t stream) {
  ProfileScope prof("dropout");
  if (no_dropout(out, inp, n, p)) return;
  parallel_chunks(n, [&](int64_t lo, int64_t hi) { dropout_range(out + lo, (F*)nullptr, inp + lo, hi - lo, p, seed, stream, (uint64_t)lo); }, 64);
}

template <typename F>
void fill_zero(F* x, int64_t n) {
  ProfileScope prof("zero_grads");
  parallel_chunks(n, [&](int64_t lo, int64_t hi) { std::memset(x + lo, 0, sizeof(F) * (size_t)(hi - lo)); });
}

template void fill_zero<float>(float*, int64_t);
template void fill_zero<double>(double*, int64_t);
template void gelu_forward<float>(float*, const float*, int64_t);
template void gelu_forward<double>(double*, const double*, int64_t);
template void gelu_backward<float>(float*, const float*, const float*, int64_t);
template void gelu_backward<double>(double*, const double*, const double*, int64_t);
template void dropout_forward<float>(float*, const float*, int64_t, float, uint64_t, uint64_t);
template void dropout_range<float>(float*, float*, const float*, int64_t, float, uint64_t, uint64_t, uint64_t, uint64_t*);
template void dropout_range<double>(double*, double*, const double*, int64_t, float, uint64_t, uint64_t, uint64_t, uint64_t*);
template void dropout_add_forward<float>(float*, const float*, const float*, int64_t, float, uint64_t, uint64_t, uint64_t*);
template void dropout_add_forward<double>(double*, const double*, const double*, int64_t, float, uint64_t, uint64_t, uint64_t*);
template void dropout_apply_bits_range<float>(float*, const float*, int64_t, int64_t, float, const uint64_t*);
template void dropout_apply_bits_range<double>(double*, const double*, int64_t, int64_t, float, const uint64_t*);
template void dropout_apply_bits<float>(float*, const float*, int64_t, float, const uint64_t*);
template void dropout_apply_bits<double>(double*, const double*, int64_t, float, const uint64_t*);
template void dropout_forward<double>(double*, const double*, int64_t, float, uint64_t, uint64_t);

}  // namespace electra
