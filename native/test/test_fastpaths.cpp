// test_fastpaths.cpp: the vectorised fp32 paths of the elementwise kernels against their scalar
// definitions: the same Philox words, the same dropout masks (bit for bit, at every chunk edge and
// thread count), GELU within float rounding of the double kernel.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "engine/info.h"
#include "engine/rng.h"
#include "cpu/philox_avx512.h"
#include "cpu/simd.h"

using namespace electra;

TEST(philox_words16_equals_sixteen_blocks) {
  for (uint64_t b0 : {0ull, 3ull, 0xFFFFFFF8ull, 123456789012ull}) {
    uint32_t w16[64];
    philox_words16(42, 0x0102030405060708ull, b0, w16);
    for (int i = 0; i < 16; i++) {
      uint32_t w[4];
      Philox4x32::words(42, 0x0102030405060708ull, b0 + i, w);
      for (int j = 0; j < 4; j++) CHECK(w16[4 * i + j] == w[j]);
    }
  }
}

TEST(philox_avx512_equals_sixteen_blocks) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_isa() != Isa::Avx512) {
    std::printf("  skipped: no AVX-512 here\n");
    return;
  }
  // 0xFFFFFFF8: the low counter word wraps inside the 16 blocks (the carry into the high word)
  for (uint64_t b0 : {0ull, 3ull, 0xFFFFFFF8ull, 123456789012ull, ~0ull - 20})
    for (uint64_t seed : {42ull, 0xFEDCBA9876543210ull}) {
      uint32_t w16[64];
      philox_words64(seed, 0x0102030405060708ull, b0, w16);  // the AVX-512 generator here
      for (int i = 0; i < 16; i++) {
        uint32_t w[4];
        Philox4x32::words(seed, 0x0102030405060708ull, b0 + i, w);
        for (int j = 0; j < 4; j++) CHECK(w16[4 * i + j] == w[j]);
      }
    }
#endif
}

TEST(dropout_range_slices_keep_the_defined_masks) {
  // slices as attention takes them (base a multiple of 4, not of 64; or off Philox blocks), with and
  // without multipliers, with and without the masks as bits
  for (uint64_t base : {0ull, 4ull, 132ull, 1000ull, 37ull})
    for (int64_t n : {1, 17, 64, 100, 128}) {
      std::vector<float> x(n), y(n), keep(n), y2(n);
      std::vector<uint64_t> bits((n + 63) / 64, 0xAAAA);
      for (int64_t i = 0; i < n; i++) x[i] = (i % 3 == 0 ? -1.f : 1.f) * (0.5f + (float)i);
      dropout_range(y.data(), keep.data(), x.data(), n, 0.1f, 3, 4, base);
      dropout_range(y2.data(), (float*)nullptr, x.data(), n, 0.1f, 3, 4, base, bits.data());
      const float scale = (float)(1.0 / (1.0 - 0.1));
      int64_t bad = 0;
      for (int64_t i = 0; i < n; i++) {
        const float k = random_unit(3, 4, base + (uint64_t)i) >= 0.1f ? scale : 0.f;
        const bool bit = (bits[i / 64] >> (i % 64)) & 1;
        bad += keep[i] != k || y[i] != x[i] * k || y2[i] != (k != 0.f ? x[i] * scale : 0.f) || bit != (k != 0.f);
      }
      if (n % 64) bad += (bits[n / 64] >> (n % 64)) != 0;  // no bits past the slice
      CHECK_MSG(bad == 0, "base %llu n %lld: %lld elements differ", (unsigned long long)base, (long long)n,
                (long long)bad);
    }
}

TEST(dropout_fp32_keeps_exactly_the_defined_elements) {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {1, 3, 63, 64, 65, 129, 1000, 4099}) {
      std::vector<float> x(n), y(n);
      for (int64_t i = 0; i < n; i++) x[i] = 0.25f + (float)i;
      dropout_forward(y.data(), x.data(), n, 0.1f, 7, 99);
      const float scale = (float)(1.0 / (1.0 - 0.1));
      int64_t bad = 0;
      for (int64_t i = 0; i < n; i++) {
        const float want = random_unit(7, 99, (uint64_t)i) >= 0.1f ? x[i] * scale : 0.f;
        bad += y[i] != want;
      }
      CHECK_MSG(bad == 0, "n %lld threads %d: %lld elements differ", (long long)n, threads, (long long)bad);
    }
  }
  set_num_threads(0);
}

TEST(dropout_residual_add_is_dropout_then_add) {
  const int64_t n = 1000;
  std::vector<float> x(n), r(n), y(n), z(n);
  for (int64_t i = 0; i < n; i++) x[i] = std::sin(0.1f * (float)i), r[i] = std::cos(0.3f * (float)i);
  for (float p : {0.f, 0.1f}) {
    dropout_forward(y.data(), x.data(), n, p, 4, 5);
    for (int64_t i = 0; i < n; i++) y[i] += r[i];
    dropout_add_forward(z.data(), x.data(), r.data(), n, p, 4, 5);
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = std::max(e, (double)std::fabs(y[i] - z[i]));
    CHECK_MSG(e < 1e-6, "p %g: %.3g", p, e);  // one rounding apart at most (a fused multiply-add)
  }
}

TEST(argmax_rows_takes_the_first_maximum) {
  const int R = 3, V = 37;
  std::vector<float> x((size_t)R * V);
  std::vector<double> xd(x.size());
  for (size_t i = 0; i < x.size(); i++) xd[i] = x[i] = std::sin(0.7f * (float)i);
  x[5] = x[20] = 3.f, xd[5] = xd[20] = 3.0;        // a tie in row 0: the first wins
  x[V + 36] = 9.f, xd[V + 36] = 9.0;                // the last column of row 1
  std::vector<int32_t> a(R), b(R);
  argmax_rows(a.data(), x.data(), R, V);
  argmax_rows(b.data(), xd.data(), R, V);
  CHECK(a[0] == 5 && a[1] == 36);
  CHECK(a == b);
}

template <typename F>
static void check_saved_masks() {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {1, 63, 64, 65, 1000, 4099}) {
      std::vector<F> x(n), r(n, F(0)), y(n), want(n), got(n);
      std::vector<uint64_t> bits((n + 63) / 64, ~0ull);
      for (int64_t i = 0; i < n; i++) x[i] = F(0.5) + (F)i;
      dropout_add_forward(y.data(), x.data(), r.data(), n, 0.1f, 8, 9, bits.data());
      dropout_forward(want.data(), x.data(), n, 0.1f, 8, 9);
      dropout_apply_bits(got.data(), x.data(), n, 0.1f, bits.data());
      CHECK_MSG(got == want, "n %lld threads %d (%s)", (long long)n, threads, sizeof(F) == 8 ? "double" : "float");
    }
  }
  set_num_threads(0);
}

TEST(saved_dropout_masks_reproduce_the_masks) {
  check_saved_masks<float>();
  check_saved_masks<double>();
}

TEST(gelu_fp32_matches_double) {
  std::mt19937 g(5);
  std::normal_distribution<double> nd(0, 3);
  const int n = 10007;
  std::vector<float> x(n), y(n), dy(n), dx(n);
  std::vector<double> xd(n), yd(n), dyd(n), dxd(n);
  for (int i = 0; i < n; i++) xd[i] = x[i] = (float)nd(g), dyd[i] = dy[i] = (float)nd(g);
  gelu_forward(y.data(), x.data(), n);
  gelu_backward(dx.data(), x.data(), dy.data(), n);
  gelu_forward(yd.data(), xd.data(), n);
  gelu_backward(dxd.data(), xd.data(), dyd.data(), n);
  double ey = 0, edx = 0;
  for (int i = 0; i < n; i++) {
    ey = std::max(ey, std::fabs(y[i] - yd[i]) / (1 + std::fabs(yd[i])));
    edx = std::max(edx, std::fabs(dx[i] - dxd[i]) / (1 + std::fabs(dxd[i])));
  }
  std::printf("  gelu fp32 vs double: forward %.3g, backward %.3g (relative to 1 + |value|)\n", ey, edx);
  CHECK(ey < 2e-6);
  CHECK(edx < 5e-6);
}

TEST(attention_fp32_with_dropout_matches_double) {
  // Same seed, same masks: the fp32 path (vectorised softmax and dropout masks) stays within float
  // rounding of the double path; a single differing mask would be an O(1) difference.
  const int B = 2, T = 70, C = 32, NH = 2;  // T not a multiple of 4: rows start off Philox blocks too
  std::mt19937 g(9);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> qkvd((size_t)B * T * 3 * C), outd((size_t)B * T * C), attd((size_t)B * NH * T * T);
  std::vector<float> qkv(qkvd.size()), out(outd.size()), att(attd.size());
  for (size_t i = 0; i < qkv.size(); i++) qkvd[i] = qkv[i] = (float)nd(g);
  std::vector<int32_t> mask((size_t)B * T, 1);
  for (int t = 50; t < T; t++) mask[T + t] = 0;  // padding in the second sequence
  attention_forward(out.data(), att.data(), qkv.data(), mask.data(), B, T, C, NH, 0.1f, 3, 77);
  attention_forward(outd.data(), attd.data(), qkvd.data(), mask.data(), B, T, C, NH, 0.1f, 3, 77);
  double e = 0;
  for (size_t i = 0; i < out.size(); i++) e = std::max(e, std::fabs(out[i] - outd[i]) / (1 + std::fabs(outd[i])));
  std::printf("  attention fp32 vs double with dropout: %.3g\n", e);
  CHECK(e < 1e-5);
}

TEST(attention_bf16_fused_paths_equal_generic_path) {
  // Without kept probabilities the bf16 forward and backward passes run fused per row block
  // (AVX512-BF16), with or without keeping the dropout masks for the backward pass; with them, the
  // generic path (T x T products and rows). All must give the same bits: the same pair
  // words summed in the same order, the same softmax and dropout. Shapes with edges everywhere: T not
  // a multiple of the 8-row tile or the 32-column panel, a head size of 24 (one narrow panel), padding
  // keys, an all-padding sequence, dropout on and off.
  if (!gemm_bf16_native()) {
    std::printf("  skipped: no AVX512-BF16 here (both calls take the generic path)\n");
    return;
  }
  struct Case { int B, T, C, NH; float p; };
  for (const Case& c : {Case{2, 128, 256, 4, 0.1f}, Case{3, 37, 96, 2, 0.1f}, Case{2, 70, 72, 3, 0.f}, Case{1, 5, 32, 1, 0.1f}, Case{2, 1, 32, 2, 0.1f}, Case{1, 33, 64, 1, 0.1f}, Case{2, 66, 64, 2, 0.2f}}) {
    std::mt19937 g(c.T);
    std::normal_distribution<float> nd(0, 2);
    std::vector<float> qkv((size_t)c.B * c.T * 3 * c.C), fused((size_t)c.B * c.T * c.C), generic(fused.size());
    std::vector<float> att((size_t)c.B * c.NH * c.T * c.T);
    for (auto& x : qkv) x = nd(g);
    std::vector<int32_t> mask((size_t)c.B * c.T, 1);
    for (int t = c.T / 2; t < c.T; t++) mask[t] = 0;  // padding in the first sequence
    if (c.B > 2) std::fill(mask.begin() + 2 * c.T, mask.begin() + 3 * c.T, 0);  // an all-padding one
    for (const int32_t* m : {(const int32_t*)nullptr, (const int32_t*)mask.data()}) {
      attention_forward(fused.data(), (float*)nullptr, qkv.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16);
      attention_forward(generic.data(), att.data(), qkv.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16);
      size_t diff = 0;
      for (size_t i = 0; i < fused.size(); i++) diff += std::memcmp(&fused[i], &generic[i], 4) != 0;
      if (diff) std::printf("  T %d C %d NH %d p %g mask %d: %zu of %zu outputs differ\n", c.T, c.C, c.NH, c.p, m != nullptr, diff, fused.size());
      CHECK(diff == 0);
      // backward: recomputed probabilities (fused) against the kept ones (generic)
      std::vector<float> dout(fused.size()), dfused(qkv.size(), 7.f), dgeneric(qkv.size(), 7.f);
      for (auto& x : dout) x = nd(g);
      attention_backward(dfused.data(), dout.data(), qkv.data(), (const float*)nullptr, m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16);
      attention_backward(dgeneric.data(), dout.data(), qkv.data(), att.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16);
      diff = 0;
      for (size_t i = 0; i < dfused.size(); i++) diff += std::memcmp(&dfused[i], &dgeneric[i], 4) != 0;
      if (diff) std::printf("  T %d C %d NH %d p %g mask %d: %zu of %zu gradients differ\n", c.T, c.C, c.NH, c.p, m != nullptr, diff, dfused.size());
      CHECK(diff == 0);
      // the dropout masks kept by the forward pass and applied by the backward pass: the same bits
      std::vector<uint64_t> bits((size_t)c.B * c.NH * c.T * ((c.T + 63) / 64), 0x5555);
      std::vector<float> kept(fused.size()), dkept(qkv.size(), 7.f);
      attention_forward(kept.data(), (float*)nullptr, qkv.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16, bits.data());
      attention_backward(dkept.data(), dout.data(), qkv.data(), (const float*)nullptr, m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16, bits.data());
      CHECK(std::memcmp(kept.data(), generic.data(), 4 * kept.size()) == 0);
      CHECK(std::memcmp(dkept.data(), dgeneric.data(), 4 * dkept.size()) == 0);
      // the output as bf16 only (inference): the fused path's tiles rounded, out left alone; the
      // generic path (kept probabilities, or T 1) writes both
      std::vector<uint16_t> o16(fused.size()), g16(fused.size());
      std::vector<float> untouched(fused.size(), 3.f), gen2(fused.size());
      attention_forward(untouched.data(), (float*)nullptr, qkv.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16,
                        nullptr, o16.data());
      attention_forward(gen2.data(), att.data(), qkv.data(), m, c.B, c.T, c.C, c.NH, c.p, 5, 9, Precision::Bf16, nullptr,
                        g16.data());
      size_t bad16 = 0, badu = 0;
      for (size_t i = 0; i < fused.size(); i++) bad16 += o16[i] != to_bf16(generic[i]), badu += untouched[i] != 3.f;
      if (bad16 || (badu && c.T >= 2)) std::printf("  T %d C %d NH %d: %zu bf16 outputs differ, %zu fp32 outputs written\n", c.T, c.C, c.NH, bad16, badu);
      CHECK(bad16 == 0 && (badu == 0 || c.T < 2));
      CHECK(g16 == o16 && gen2 == generic);
    }
  }
}

TEST(matmul_gelu_forward_equals_separate_kernels) {
  // matmul_gelu_forward (GELU applied to each bf16 GEMM tile as it is stored) against matmul_forward
  // followed by gelu_forward: the same bits, in place or not, with edge tiles (N not a multiple of 8,
  // OC not of 32) and an OC that is not whole vectors (then not fused).
  struct Case { int N, IC, OC; };
  for (const Case& c : {Case{256, 256, 1024}, Case{37, 64, 48}, Case{70, 100, 80}, Case{9, 32, 20}}) {
    std::mt19937 g(c.N);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> x((size_t)c.N * c.IC), w((size_t)c.OC * c.IC), b(c.OC), r((size_t)c.N * c.OC);
    for (auto* v : {&x, &w, &b, &r}) for (auto& e : *v) e = nd(g);
    std::vector<float> pre(r.size()), post(r.size()), pre2(r.size()), post2(r.size()), inplace(r.size());
    matmul_gelu_forward(pre.data(), post.data(), x.data(), w.data(), b.data(), c.N, c.IC, c.OC, Precision::Bf16);
    matmul_gelu_forward(inplace.data(), inplace.data(), x.data(), w.data(), b.data(), c.N, c.IC, c.OC, Precision::Bf16);
    matmul_forward(pre2.data(), x.data(), w.data(), b.data(), c.N, c.IC, c.OC, Precision::Bf16);
    gelu_forward(post2.data(), pre2.data(), (int64_t)r.size());
    CHECK(std::memcmp(pre.data(), pre2.data(), 4 * r.size()) == 0);
    CHECK(std::memcmp(post.data(), post2.data(), 4 * r.size()) == 0);
    CHECK(std::memcmp(inplace.data(), post2.data(), 4 * r.size()) == 0);
  }
}

TEST(ffn_through_bf16_gelu_output_equals_fp32_path) {
  // matmul_gelu_forward_b16 (GELU's output stored as bf16) then matmul_forward_b16 (that output read in
  // place, never packed) against matmul_gelu_forward then matmul_forward in bf16 mode: the same
  // pre-activation and the same output bits (the second product rounds GELU's output to bf16 the same
  // way), with edge tiles and rows; and bf16 storage really rounds (to nearest even).
  struct Case { int N, C, Fd; };
  for (const Case& c : {Case{256, 256, 1024}, Case{37, 64, 48}, Case{70, 40, 96}, Case{20, 1100, 64}}) {
    std::mt19937 g(c.N + c.Fd);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> x((size_t)c.N * c.C), w1((size_t)c.Fd * c.C), b1(c.Fd), w2((size_t)c.C * c.Fd), b2(c.C);
    for (auto* v : {&x, &w1, &b1, &w2, &b2}) for (auto& e : *v) e = nd(g);
    std::vector<float> pre((size_t)c.N * c.Fd), post(pre.size()), out((size_t)c.N * c.C);
    matmul_gelu_forward(pre.data(), post.data(), x.data(), w1.data(), b1.data(), c.N, c.C, c.Fd, Precision::Bf16);
    matmul_forward(out.data(), post.data(), w2.data(), b2.data(), c.N, c.Fd, c.C, Precision::Bf16);
    std::vector<float> pre16(pre.size()), out16(out.size());
    std::vector<uint16_t> post16(pre.size());
    matmul_gelu_forward_b16(pre16.data(), post16.data(), x.data(), nullptr, w1.data(), b1.data(), c.N, c.C, c.Fd);
    matmul_forward_b16(out16.data(), post16.data(), w2.data(), b2.data(), c.N, c.Fd, c.C);
    CHECK(std::memcmp(pre.data(), pre16.data(), 4 * pre.size()) == 0);
    CHECK(std::memcmp(out.data(), out16.data(), 4 * out.size()) == 0);
    // without the pre-activation (inference: the tiles only pass through a scratch; K past a block: C
    // in a buffer of its own)
    std::vector<uint16_t> post16b(pre.size());
    matmul_gelu_forward_b16(nullptr, post16b.data(), x.data(), nullptr, w1.data(), b1.data(), c.N, c.C, c.Fd);
    CHECK(post16b == post16);
    // the input as bf16 too (a LayerNorm's bf16 copy): the same as the fp32 input it was rounded from
    if (c.C % 2 == 0) {
      std::vector<float> xr(x.size());
      std::vector<uint16_t> x16(x.size()), post16c(pre.size());
      for (size_t i = 0; i < x.size(); i++) x16[i] = to_bf16(x[i]), xr[i] = bf16_round(x[i]);
      std::vector<float> pre_r(pre.size()), post_r(pre.size()), pre_c(pre.size());
      matmul_gelu_forward(pre_r.data(), post_r.data(), xr.data(), w1.data(), b1.data(), c.N, c.C, c.Fd, Precision::Bf16);
      matmul_gelu_forward_b16(pre_c.data(), post16c.data(), nullptr, x16.data(), w1.data(), b1.data(), c.N, c.C, c.Fd);
      CHECK(std::memcmp(pre_r.data(), pre_c.data(), 4 * pre.size()) == 0);
      for (size_t i = 0; i < post_r.size(); i++) CHECK(post16c[i] == to_bf16(post_r[i]));
      // and without the pre-activation (inference)
      std::vector<uint16_t> post16d(pre.size());
      matmul_gelu_forward_b16(nullptr, post16d.data(), nullptr, x16.data(), w1.data(), b1.data(), c.N, c.C, c.Fd);
      CHECK(post16d == post16c);
    }
    size_t same = 0;
    for (size_t i = 0; i < post.size(); i++) {
      CHECK(post16[i] == to_bf16(post[i]));
      same += bf16_round(post[i]) == post[i];
    }
    CHECK(same < post.size() / 2);  // most GELU outputs are not bf16 numbers: rounding happened
  }
}

TEST(layernorm_forward_b16_equals_layernorm_forward) {
  // layernorm_forward_b16: layernorm_forward's bits plus their bf16 rounding (to nearest even)
  for (int N : {5, 37, 300}) {
    const int C = 256;
    std::mt19937 g(N);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> x((size_t)N * C), w(C), b(C);
    for (auto* v : {&x, &w, &b}) for (auto& e : *v) e = nd(g);
    std::vector<float> y(x.size()), m(N), r(N), y2(x.size()), m2(N), r2(N);
    std::vector<uint16_t> y16(x.size());
    layernorm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), N, C, 1e-12);
    layernorm_forward_b16(y2.data(), y16.data(), m2.data(), r2.data(), x.data(), w.data(), b.data(), N, C, 1e-12);
    CHECK(y == y2 && m == m2 && r == r2);
    for (size_t i = 0; i < y.size(); i++) CHECK(y16[i] == to_bf16(y[i]));
  }
}

TEST(matmul_gelu_backward_equals_separate_kernels) {
  // matmul_gelu_backward (GELU's derivative applied to each bf16 GEMM tile of the input gradient as it
  // is stored) against matmul_backward's input gradient followed by gelu_backward: the same bits, with
  // edge tiles, a K of 1 (the discriminator head), an inner size past one k block, and an IC that is
  // not whole vectors (then not fused).
  struct Case { int N, IC, OC; };
  for (const Case& c : {Case{256, 1024, 256}, Case{37, 64, 48}, Case{70, 96, 1}, Case{33, 48, 1100}, Case{9, 20, 32}}) {
    std::mt19937 g(c.N + c.OC);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> dy((size_t)c.N * c.OC), w((size_t)c.OC * c.IC), pre((size_t)c.N * c.IC);
    for (auto* v : {&dy, &w, &pre}) for (auto& e : *v) e = nd(g);
    std::vector<float> fused(pre.size()), sep(pre.size());
    matmul_gelu_backward(fused.data(), dy.data(), pre.data(), w.data(), c.N, c.IC, c.OC, Precision::Bf16);
    matmul_backward(sep.data(), (float*)nullptr, (float*)nullptr, dy.data(), (const float*)nullptr, w.data(), c.N, c.IC,
                    c.OC, false, Precision::Bf16);
    gelu_backward(sep.data(), pre.data(), sep.data(), (int64_t)sep.size());
    CHECK(std::memcmp(fused.data(), sep.data(), 4 * sep.size()) == 0);
    // and not the product alone: GELU's derivative was applied
    matmul_backward(sep.data(), (float*)nullptr, (float*)nullptr, dy.data(), (const float*)nullptr, w.data(), c.N, c.IC,
                    c.OC, false, Precision::Bf16);
    CHECK(std::memcmp(fused.data(), sep.data(), 4 * sep.size()) != 0);
  }
}

TEST(ffn_with_bf16_pre_activation_is_the_fp32_kernels_on_its_values) {
  // matmul_gelu_forward_b16 keeping the pre-activation as bf16 (pre16): bf16(pre) of the fp32 path,
  // and GELU of those rounded values; gelu_forward_b16 and matmul_gelu_backward_b16 on it: the fp32
  // kernels' bits on its values. Edge tiles, K past a block, the input fp32 or bf16.
  struct Case { int N, C, Fd; };
  for (const Case& c : {Case{256, 256, 1024}, Case{37, 64, 48}, Case{70, 40, 96}, Case{20, 1100, 64}}) {
    std::mt19937 g(3 * c.N + c.Fd);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> x((size_t)c.N * c.C), w1((size_t)c.Fd * c.C), b1(c.Fd), dy((size_t)c.N * c.C),
        w2((size_t)c.C * c.Fd);
    for (auto* v : {&x, &w1, &b1, &dy, &w2}) for (auto& e : *v) e = nd(g);
    const size_t n = (size_t)c.N * c.Fd;
    std::vector<float> pre(n), post(n), pre_r(n), post_r(n);
    matmul_gelu_forward(pre.data(), post.data(), x.data(), w1.data(), b1.data(), c.N, c.C, c.Fd, Precision::Bf16);
    for (size_t i = 0; i < n; i++) pre_r[i] = bf16_round(pre[i]);
    gelu_forward(post_r.data(), pre_r.data(), (int64_t)n);
    std::vector<uint16_t> pre16(n), post16(n);
    matmul_gelu_forward_b16(nullptr, post16.data(), x.data(), nullptr, w1.data(), b1.data(), c.N, c.C, c.Fd, true, pre16.data());
    size_t bad_pre = 0, bad_post = 0, rounded = 0;
    for (size_t i = 0; i < n; i++) {
      bad_pre += pre16[i] != to_bf16(pre[i]);
      bad_post += post16[i] != to_bf16(post_r[i]);
      rounded += to_bf16(post_r[i]) != to_bf16(post[i]);
    }
    if (bad_pre || bad_post) std::printf("  N %d C %d F %d: %zu pre, %zu post of %zu differ\n", c.N, c.C, c.Fd, bad_pre, bad_post, n);
    CHECK(bad_pre == 0 && bad_post == 0);
    CHECK(rounded > 0);  // GELU really took the rounded values (some outputs differ from GELU of fp32 pre)
    // without keeping it (inference): the same GELU output
    std::vector<uint16_t> post16c(n);
    matmul_gelu_forward_b16(nullptr, post16c.data(), x.data(), nullptr, w1.data(), b1.data(), c.N, c.C, c.Fd, true);
    CHECK(post16c == post16);
    if (c.C % 2 == 0) {  // the input as bf16: the same
      std::vector<uint16_t> x16(x.size()), pre16b(n), post16b(n);
      std::vector<float> xr(x.size()), pre_x(n), post_x(n);
      for (size_t i = 0; i < x.size(); i++) x16[i] = to_bf16(x[i]), xr[i] = bf16_round(x[i]);
      matmul_gelu_forward(pre_x.data(), post_x.data(), xr.data(), w1.data(), b1.data(), c.N, c.C, c.Fd, Precision::Bf16);
      matmul_gelu_forward_b16(nullptr, post16b.data(), nullptr, x16.data(), w1.data(), b1.data(), c.N, c.C, c.Fd,
                              true, pre16b.data());
      for (size_t i = 0; i < n; i++) CHECK(pre16b[i] == to_bf16(pre_x[i]));
    }
    // the backward pass's recomputed GELU and derivative on the bf16 values
    std::vector<float> g16(n), gref(n), d16(n), dref(n);
    gelu_forward_b16(g16.data(), pre16.data(), (int64_t)n);
    CHECK(std::memcmp(g16.data(), post_r.data(), 4 * n) == 0);
    matmul_gelu_backward_b16(d16.data(), dy.data(), pre16.data(), w2.data(), c.N, c.Fd, c.C);
    matmul_gelu_backward(dref.data(), dy.data(), pre_r.data(), w2.data(), c.N, c.Fd, c.C, Precision::Bf16);
    CHECK(std::memcmp(d16.data(), dref.data(), 4 * n) == 0);
  }
}

TEST(layernorm_dropout_backward_equals_separate_kernels) {
  // layernorm_dropout_backward (the weight and bias gradients and the dropout masks taken in the pass
  // that computes dinp) against layernorm_backward then dropout_apply_bits: the same bits, with or
  // without accumulate, rows of whole 64-bit mask words (fused) or not (C 100: masks in a pass of their
  // own), p 0 (a copy); the same bits at 1, 2 and 3 threads; the weight and bias gradients against
  // float64 sums.
  struct Case { int N, C; float p; };
  for (const Case& c : {Case{300, 256, 0.1f}, Case{37, 64, 0.2f}, Case{41, 100, 0.1f}, Case{20, 128, 0.f}, Case{5, 64, 0.1f}})
    for (bool acc : {false, true}) {
      std::mt19937 g(c.N * 7 + c.C);
      std::normal_distribution<float> nd(0, 1);
      const size_t n = (size_t)c.N * c.C;
      std::vector<float> x(n), dy(n), w(c.C), b(c.C), y(n), m(c.N), r(c.N), dx0(n), w0(c.C), b0(c.C);
      for (auto* v : {&x, &dy, &w, &b, &dx0, &w0, &b0}) for (auto& e : *v) e = nd(g);
      layernorm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), c.N, c.C, 1e-12);
      std::vector<uint64_t> bits((n + 63) / 64);
      std::vector<float> scratch(n);
      dropout_add_forward(scratch.data(), dy.data(), dy.data(), (int64_t)n, c.p, 3, 4, bits.data());
      std::vector<std::vector<float>> outs;
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<float> dx = dx0, dd(n, -7.f), dw = w0, db = b0;
        layernorm_dropout_backward(dx.data(), dd.data(), dw.data(), db.data(), dy.data(), x.data(), m.data(), r.data(),
                                   w.data(), c.N, c.C, acc, c.p, bits.data());
        outs.push_back(dx), outs.push_back(dd), outs.push_back(dw), outs.push_back(db);
      }
      set_num_threads(0);
      for (int k = 0; k < 4; k++) CHECK(outs[k] == outs[4 + k] && outs[k] == outs[8 + k]);
      std::vector<float> dx = dx0, dd(n), dw = w0, db = b0;
      layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), m.data(), r.data(), w.data(), c.N, c.C, acc);
      dropout_apply_bits(dd.data(), dx.data(), (int64_t)n, c.p, bits.data());
      CHECK(std::memcmp(dx.data(), outs[0].data(), 4 * n) == 0);
      CHECK(std::memcmp(dd.data(), outs[1].data(), 4 * n) == 0);
      CHECK(outs[2] == dw && outs[3] == db);
      double ew = 0, eb = 0;
      for (int i = 0; i < c.C; i++) {
        double sw = w0[i], sb = b0[i], mw = std::fabs(sw), mb = std::fabs(sb);
        for (int k = 0; k < c.N; k++) {
          const double d = dy[(size_t)k * c.C + i], xh = ((double)x[(size_t)k * c.C + i] - m[k]) * r[k];
          sw += d * xh, sb += d, mw += std::fabs(d * xh), mb += std::fabs(d);
        }
        ew = std::max(ew, std::fabs(dw[i] - sw) / mw), eb = std::max(eb, std::fabs(db[i] - sb) / mb);
      }
      CHECK(ew < 1e-5 && eb < 1e-5);
    }
}

TEST(gumbel_and_crossentropy_fp32_match_double) {
  const int R = 7, V = 3001;  // V odd: rows start anywhere within Philox blocks
  std::mt19937 g(11);
  std::normal_distribution<double> nd(0, 2);
  std::vector<float> x((size_t)R * V), dx(x.size());
  std::vector<double> xd(x.size()), dxd(x.size());
  for (size_t i = 0; i < x.size(); i++) xd[i] = x[i] = (float)nd(g);
  std::vector<int32_t> s32(R), s64(R), y(R);
  for (int r = 0; r < R; r++) y[r] = (r * 977) % V;
  for (float temp : {1.0f, 0.5f}) {
    gumbel_sample(s32.data(), x.data(), R, V, temp, nullptr, 5, 6);
    gumbel_sample(s64.data(), xd.data(), R, V, temp, nullptr, 5, 6);
    CHECK(s32 == s64);  // the same noise (Philox words) and no near-ties in random logits
  }
  const std::vector<float> w = {1, 0, 1, 1, 0.5f, 1, 1};
  const double l32 = crossentropy_forward_backward(dx.data(), x.data(), y.data(), w.data(), R, V, 0.25);
  const double l64 = crossentropy_forward_backward(dxd.data(), xd.data(), y.data(), w.data(), R, V, 0.25);
  const double l32n = crossentropy_forward_backward<float>(nullptr, x.data(), y.data(), w.data(), R, V, 0.25);
  double e = 0;
  for (size_t i = 0; i < dx.size(); i++) e = std::max(e, std::fabs(dx[i] - dxd[i]));
  std::printf("  cross-entropy fp32 vs double: loss %.3g relative, gradient %.3g absolute\n", std::fabs(l32 / l64 - 1), e);
  CHECK(std::fabs(l32 / l64 - 1) < 1e-6);
  CHECK(l32 == l32n);  // with or without the gradient
  CHECK(e < 1e-7);
}

TEST_MAIN()
