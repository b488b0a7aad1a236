// test_gemm.cpp: the fp32 and bf16 GEMM micro-kernels against a float64 reference on random operands
// of awkward shapes (edges of every tile and panel, odd K, transposed and strided A), the bf16
// kernel's independence of how rows are split between threads, and the weight gradient's sum over
// tokens in two halves (matmul_backward) at any thread count.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "engine/info.h"

using namespace electra;

namespace {
struct Case {
  int rows, cols, K;
  int layout;  // 0: A row-major (sak 1); 1: A transposed (sai 1); 2: general strides
};

struct Operands {
  std::vector<float> A, B, C0, bias;
  int sai, sak, ldb, ldc;
  bool bt = false;  // B stored transposed: B(k, j) = B[j * ldb + k]
  float b(int k, int j) const { return bt ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]; }
};

Operands make(const Case& c, std::mt19937& g, bool bt = false) {
  std::normal_distribution<float> nd(0.f, 1.f);
  Operands o;
  const int pad = 3;  // leading dimensions wider than the matrix: strides are honoured
  if (c.layout == 0) o.sai = c.K + pad, o.sak = 1;
  else if (c.layout == 1) o.sai = 1, o.sak = c.rows + pad;
  else o.sai = 2 * (c.K + 1), o.sak = 2;
  const size_t asz = c.layout == 1 ? (size_t)c.K * o.sak : (size_t)c.rows * o.sai;
  o.A.resize(asz);
  for (auto& x : o.A) x = nd(g);
  o.bt = bt;
  o.ldb = bt ? c.K + pad : c.cols + pad;
  o.B.resize(bt ? (size_t)c.cols * o.ldb : (size_t)c.K * o.ldb);
  for (auto& x : o.B) x = nd(g);
  o.ldc = c.cols + 1;
  o.C0.resize((size_t)c.rows * o.ldc);
  for (auto& x : o.C0) x = nd(g);
  o.bias.resize((size_t)c.cols);
  for (auto& x : o.bias) x = nd(g);
  return o;
}

// max over elements of |got - want| / (sum_k |a||b| + |c0|): the error relative to the size of the
// terms summed, which fp32 summation bounds by about K * 2^-24.
// With bias (and no accumulate) the sums start at bias[j].
double worst(const Case& c, const Operands& o, const std::vector<float>& C, bool accumulate, bool bf16,
             bool bias = false) {
  auto r = [&](float x) { return bf16 ? (double)bf16_round(x) : (double)x; };
  double w = 0;
  for (int i = 0; i < c.rows; i++)
    for (int j = 0; j < c.cols; j++) {
      double s = accumulate ? o.C0[(size_t)i * o.ldc + j] : bias ? o.bias[j] : 0, mag = std::fabs(s);
      for (int k = 0; k < c.K; k++) {
        const double p = r(o.A[(size_t)i * o.sai + (size_t)k * o.sak]) * r(o.b(k, j));
        s += p;
        mag += std::fabs(p);
      }
      w = std::max(w, std::fabs(C[(size_t)i * o.ldc + j] - s) / (mag + 1e-30));
    }
  return w;
}

const Case kCases[] = {
    {1, 1, 1, 0},    {5, 7, 3, 0},     {6, 32, 256, 0}, {7, 33, 257, 0}, {13, 70, 511, 0}, {97, 48, 64, 0},
    {100, 17, 300, 1}, {31, 64, 129, 1}, {6, 16, 2, 1},  {17, 40, 77, 2}, {2, 5, 600, 2},  {192, 96, 128, 0},
    {3, 5, 0, 0},    {9, 33, 1100, 0}, {37, 40, 1500, 1},  // K past one k block (1024): blocks of 256
};
// How C starts: its old values (accumulate), zero, or a bias row.
enum Start { kAccumulate, kZero, kBias };
}  // namespace

TEST(gemm_f32_matches_float64) {
  std::mt19937 g(1);
  for (const Case& c : kCases)
    for (Start st : {kZero, kAccumulate, kBias})
      for (bool bt : {false, true}) {
        Operands o = make(c, g, bt);
        std::vector<float> C = o.C0;
        const bool acc = st == kAccumulate;
        gemm_f32(C.data(), o.ldc, o.A.data(), o.sai, o.sak, o.B.data(), o.ldb, c.rows, c.cols, c.K, acc, bt,
                 st == kBias ? o.bias.data() : nullptr);
        const double e = worst(c, o, C, acc, false, st == kBias);
        CHECK_MSG(e < 2e-6, "fp32 %dx%dx%d layout %d start %d bt %d: error %.3g", c.rows, c.cols, c.K, c.layout, st, bt, e);
      }
}

TEST(gemm_bf16_matches_float64_on_rounded_operands) {
  // Products of bf16 values are exact in fp32, so the only error left is the fp32 summation's.
  std::mt19937 g(2);
  std::printf("  bf16 kernel: %s\n", gemm_bf16_native() ? "AVX512-BF16" : "emulated (no AVX512-BF16 here)");
  for (const Case& c : kCases)
    for (Start st : {kZero, kAccumulate, kBias})
      for (bool emulate : {false, true})
        for (bool bt : {false, true}) {
          Operands o = make(c, g, bt);
          std::vector<float> C = o.C0;
          const bool acc = st == kAccumulate;
          gemm_bf16(C.data(), o.ldc, o.A.data(), o.sai, o.sak, o.B.data(), o.ldb, c.rows, c.cols, c.K, acc, bt, emulate,
                    st == kBias ? o.bias.data() : nullptr);
          const double e = worst(c, o, C, acc, true, st == kBias);
          CHECK_MSG(e < 2e-6, "bf16 %dx%dx%d layout %d start %d emulate %d bt %d: error %.3g", c.rows, c.cols, c.K,
                    c.layout, st, emulate, bt, e);
        }
}

TEST(gemm_bf16_rows_split_anywhere_give_the_same_bits) {
  std::mt19937 g(3);
  for (const Case& c : {Case{200, 70, 300, 0}, Case{150, 40, 513, 1}, Case{130, 35, 1300, 1}}) {
    Operands o = make(c, g);
    std::vector<float> whole = o.C0, parts = o.C0;
    gemm_bf16(whole.data(), o.ldc, o.A.data(), o.sai, o.sak, o.B.data(), o.ldb, c.rows, c.cols, c.K, true);
    for (int lo : {0, 37, 101}) {  // three uneven pieces, as threads would take them
      const int hi = lo == 0 ? 37 : lo == 37 ? 101 : c.rows;
      gemm_bf16(parts.data() + (size_t)lo * o.ldc, o.ldc, o.A.data() + (size_t)lo * o.sai, o.sai, o.sak, o.B.data(),
                o.ldb, hi - lo, c.cols, c.K, true);
    }
    CHECK(whole == parts);
  }
}

TEST(weight_gradient_in_two_halves_is_exact_and_thread_invariant) {
  // matmul_backward sums dweight over the tokens in two fixed halves from 1024 tokens on (each half a
  // team of threads): within fp32 rounding of the float64 sum (on bf16-rounded operands in bf16
  // mode), the same bits at 1, 2 and 3 threads, and the old values kept (+=). Both team splits: by
  // columns (OC <= IC) and by rows.
  std::mt19937 g(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  struct Shape { int N, IC, OC; };
  for (const Shape& sh : {Shape{1100, 40, 24}, Shape{1100, 24, 40}, Shape{500, 24, 40}, Shape{2050, 33, 17}})
    for (Precision prec : {Precision::Fp32, Precision::Bf16}) {
      const bool bf = prec == Precision::Bf16;
      std::vector<float> x((size_t)sh.N * sh.IC), dy((size_t)sh.N * sh.OC), w0((size_t)sh.OC * sh.IC), b0(sh.OC);
      for (auto* v : {&x, &dy, &w0, &b0}) for (auto& e : *v) e = nd(g);
      std::vector<std::vector<float>> dws, dbs, dxs;
      std::vector<float> wt((size_t)sh.OC * sh.IC);
      for (auto& e : wt) e = nd(g);
      // 1, 2, 3 threads, and uneven splits of dinp's rows as the speed balance (cpu/parallel.h) makes
      struct Run { int threads; float skew; };
      for (const Run run : {Run{1, 0.f}, Run{2, 0.f}, Run{3, 0.f}, Run{2, 0.2f}, Run{2, 5.f}, Run{3, 3.f}}) {
        set_num_threads(run.threads);
        Balance::forced_skew() = run.skew;
        std::vector<float> dw = w0, db = b0, dx((size_t)sh.N * sh.IC);
        matmul_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), wt.data(), sh.N, sh.IC, sh.OC, false, prec);
        dws.push_back(dw), dbs.push_back(db), dxs.push_back(dx);
      }
      set_num_threads(0);
      Balance::forced_skew() = 0.f;
      for (size_t i = 1; i < dws.size(); i++) CHECK(dws[0] == dws[i] && dbs[0] == dbs[i] && dxs[0] == dxs[i]);
      auto r = [&](float v) { return bf ? (double)bf16_round(v) : (double)v; };
      double worst_rel = 0;
      for (int o = 0; o < sh.OC; o++)
        for (int i = 0; i < sh.IC; i++) {
          double s = w0[(size_t)o * sh.IC + i], mag = std::fabs(s);
          for (int n = 0; n < sh.N; n++) {
            const double p = r(dy[(size_t)n * sh.OC + o]) * r(x[(size_t)n * sh.IC + i]);
            s += p, mag += std::fabs(p);
          }
          worst_rel = std::max(worst_rel, std::fabs(dws[0][(size_t)o * sh.IC + i] - s) / mag);
        }
      if (!(worst_rel < sh.N * 6e-8)) std::printf("  N %d IC %d OC %d %s: %.3g\n", sh.N, sh.IC, sh.OC, bf ? "bf16" : "fp32", worst_rel);
      CHECK(worst_rel < sh.N * 6e-8);  // K 2^-24 with room
      // the bias gradient: fp32 sums of the unrounded dout in either mode (in bf16, from the weight
      // gradient's packing of dout), old values kept
      double worst_bias = 0;
      for (int o = 0; o < sh.OC; o++) {
        double s = b0[o], mag = std::fabs(s);
        for (int n = 0; n < sh.N; n++) s += dy[(size_t)n * sh.OC + o], mag += std::fabs(dy[(size_t)n * sh.OC + o]);
        worst_bias = std::max(worst_bias, std::fabs(dbs[0][o] - s) / mag);
      }
      CHECK(worst_bias < sh.N * 6e-8);
    }
}

TEST(gemm_bf16_row_sums_of_a_are_fp32_sums_in_order) {
  // gemm_bf16's a_sums: each row of A summed over k in order from its unrounded values, added to the
  // old sums, in every A layout (the transposed one inside the packing), native and emulated, K past
  // one k block; the product unchanged by asking for them.
  std::mt19937 g(8);
  for (const Case& c : kCases) {
    if (c.K == 0) continue;
    const Operands o = make(c, g);
    for (bool emulate : {false, true}) {
      std::vector<float> C = o.C0, C2 = o.C0, sums(c.rows, 0.5f);
      gemm_bf16(C.data(), o.ldc, o.A.data(), o.sai, o.sak, o.B.data(), o.ldb, c.rows, c.cols, c.K, false, false, emulate,
                nullptr, nullptr, sums.data());
      gemm_bf16(C2.data(), o.ldc, o.A.data(), o.sai, o.sak, o.B.data(), o.ldb, c.rows, c.cols, c.K, false, false, emulate);
      CHECK(C == C2);
      for (int i = 0; i < c.rows; i++) {
        float s = 0.5f;
        for (int k = 0; k < c.K; k++) s += o.A[(size_t)i * o.sai + (size_t)k * o.sak];
        CHECK(sums[i] == s);  // the same additions in the same order
      }
    }
  }
}

TEST(matmul_forward_gives_the_same_bits_split_by_rows_or_by_columns) {
  // matmul_forward splits the output features between threads when there are more of them than rows
  // (the generator's output layer), else the rows: either way every element is gemm's sum.
  std::mt19937 g(6);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int N : {50, 300})
    for (Precision prec : {Precision::Fp32, Precision::Bf16}) {
      const int IC = 40, OC = 350 - N;
      std::vector<float> x((size_t)N * IC), w((size_t)OC * IC), b(OC), want((size_t)N * OC);
      for (auto* v : {&x, &w, &b}) for (auto& e : *v) e = nd(g);
      if (prec == Precision::Bf16) gemm_bf16(want.data(), OC, x.data(), IC, 1, w.data(), IC, N, OC, IC, false, true, false, b.data());
      else gemm_f32(want.data(), OC, x.data(), IC, 1, w.data(), IC, N, OC, IC, false, true, b.data());
      for (int threads : {1, 2, 3})
        for (float skew : {0.f, 0.25f, 3.f}) {  // even, and uneven as the speed balance splits rows
          set_num_threads(threads);
          Balance::forced_skew() = skew;
          std::vector<float> y(want.size());
          matmul_forward(y.data(), x.data(), w.data(), b.data(), N, IC, OC, prec);
          CHECK(y == want);
        }
      set_num_threads(0);
      Balance::forced_skew() = 0.f;
    }
}

TEST(weighted_shares_tile_the_range) {
  // weighted_range: contiguous shares in thread order, tiling [0, n), inner cuts multiples of align,
  // each share about its amount's part; zero amounts get empty shares
  std::mt19937 g(9);
  std::uniform_real_distribution<float> ud(0.f, 3.f);
  for (int nt = 1; nt <= 5; nt++)
    for (int n : {0, 5, 100, 4096})
      for (int align : {1, 16})
        for (int rep = 0; rep < 20; rep++) {
          float amount[8];
          for (int t = 0; t < nt; t++) amount[t] = rep % 4 == 1 && t == 0 ? 0.f : ud(g);
          amount[nt - 1] += 0.1f;
          double total = 0;
          for (int t = 0; t < nt; t++) total += amount[t];
          int next = 0;
          for (int t = 0; t < nt; t++) {
            int lo, hi;
            weighted_range(amount, nt, n, align, t, lo, hi);
            CHECK(lo == next && hi >= lo);
            if (t < nt - 1) CHECK(hi % align == 0 || hi == n);
            CHECK(std::fabs((hi - lo) - n * amount[t] / total) <= align * 1.01 + 1);
            next = hi;
          }
          CHECK(next == n);
        }
}

TEST(balance_learns_the_faster_thread) {
  // Balance::update: thread 0 doing the same work in half the time ends up with the larger weight (by
  // about the clamped speed ratio); equal speeds bring the weights back to 1; a forced skew overrides
  // the learnt weights in snapshots only.
  if (!Balance::enabled()) return;  // ELECTRA_BALANCE=0
  set_num_threads(2);
  Balance b;
  const float work[2] = {100, 100};
  const double slow1[2] = {0.001, 0.002}, even[2] = {0.001, 0.001};
  for (int i = 0; i < 60; i++) b.update(work, slow1, 2);
  Balance::Snapshot s;
  b.snapshot(s);
  CHECK(s.n == 2);
  CHECK(s.w[0] / s.w[1] > 1.7 && s.w[0] / s.w[1] < 2.1);
  CHECK(std::fabs(s.w[0] + s.w[1] - 2) < 1e-4);
  Balance::forced_skew() = 0.5f;
  b.snapshot(s);
  CHECK(s.w[0] == 0.5f && s.w[1] == 1.f);
  Balance::forced_skew() = 0.f;
  for (int i = 0; i < 100; i++) b.update(work, even, 2);
  b.snapshot(s);
  CHECK(std::fabs(s.w[0] - 1) < 0.01 && std::fabs(s.w[1] - 1) < 0.01);
  set_num_threads(0);
}

TEST(bf16_rounding_is_to_nearest_even) {
  CHECK(to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_round(1.0f + 1.0f / 256) == 1.0f);            // halfway: to even (down)
  CHECK(bf16_round(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);  // halfway: to even (up)
  CHECK(bf16_round(1.0f + 1.5f / 256) == 1.0f + 2.0f / 256);  // above halfway: up
  CHECK(std::isnan(bf16_round(NAN)));
  CHECK(std::isinf(bf16_round(INFINITY)));
}

TEST_MAIN()
