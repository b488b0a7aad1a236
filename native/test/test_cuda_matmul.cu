// test_cuda_matmul.cu: GPU parity of cuda/matmul.cu: matmul_forward / matmul_backward (fp32 and bf16)
// against their CPU twins (cpu/kernels.h) on the same random inputs, the GEMM core (transposes, pitches,
// batches, split K) against cpu/gemm.h, exact bf16 rounding, and bit-identical reruns. Not a benchmark
// (one timing line is printed, nothing asserted on it). Without a GPU every test prints a skip and passes.
//
// Dimension legend: N rows, IC/OC input/output features; GEMM: C (M, Ncol) = op(A) (M, K) @ op(B) (K, Ncol).
//
// Tolerances: cutest::rel_err = max |gpu - cpu| / max |cpu| over a tensor.
//   fp32: both sides sum K fp32 products with FMA and differ only in summation order (the GPU adds the
//     bias or old value after the products, and splits long K into slices); each order's error is about
//     sqrt(K) * 2^-24 of the terms' size, so ~1e-6 of the tensor's largest value at K <= 4096. TOL = 1e-5.
//   bf16: both sides round both operands to bf16 (nearest even) identically, so the products are the
//     same exact values and again only the fp32 summation differs. The tensor cores' internal sum may
//     truncate instead of rounding; a model of that (products aligned and truncated per 8 or 16 k, no
//     guard bits) gives at most ~2e-6 at K = 1024, the longest tensor-core sum here (dweight's K = 4096
//     is split into slices of 512). TOL = 1e-5 as for fp32. A wrong rounding of the operands (truncation,
//     or none) shows as ~1e-3, which matmul_bf16_is_not_fp32 checks is the size of bf16's effect.
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cuda/matmul.cuh"
#include "cuda_check.cuh"

using electra::Precision;

namespace {

constexpr double TOL = 1e-5;

const char* prec_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "fp32"; }

// rel_err within tol, and every element finite where the reference is (rel_err's max skips NaN).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const char* fmt, ...) {
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); i++)
    if (std::isfinite(want[i]) && !std::isfinite(got[i])) bad++;
  const double e = cutest::rel_err(got, want);
  std::printf("    %-58s rel err %.2e%s\n", what, e, bad ? "  (non-finite values!)" : "");
  CHECK_MSG(got.size() == want.size() && bad == 0 && e <= tol, "%s: rel err %.3e (tol %.0e), %zu non-finite",
            what, e, tol, bad);
}

struct Shape {
  int N, IC, OC;
};
// Tiny and odd; tile edges (130 = 128 + 2 rows, 33 = 32 + 1 k, 65 columns); a split K with a short
// last slice (dweight 96 x 64, K = 1000); the model's sizes (split dinp / forward / dweight at 4096).
const Shape kShapes[] = {{5, 7, 3}, {1, 1, 1}, {130, 33, 65}, {1000, 64, 96}, {4096, 256, 1024}, {4096, 1024, 256}};

struct Inputs {
  std::vector<float> inp, weight, bias, dout, dinp0, dweight0, dbias0;
};
Inputs make_inputs(const Shape& s, uint32_t seed) {
  std::mt19937 g(seed);
  Inputs in;
  in.inp = cutest::randn((size_t)s.N * s.IC, g);
  in.weight = cutest::randn((size_t)s.OC * s.IC, g);
  in.bias = cutest::randn((size_t)s.OC, g);
  in.dout = cutest::randn((size_t)s.N * s.OC, g);
  in.dinp0 = cutest::randn((size_t)s.N * s.IC, g);     // never zeros: an element left unwritten shows
  in.dweight0 = cutest::randn((size_t)s.OC * s.IC, g);  // gradients accumulate into these
  in.dbias0 = cutest::randn((size_t)s.OC, g);
  return in;
}

// Forward on both sides; returns the GPU's output (and the CPU's in `want`).
std::vector<float> forward_both(const Shape& s, const Inputs& in, bool with_bias, Precision prec,
                                std::vector<float>* want) {
  cutest::Buf<float> d_inp(in.inp), d_w(in.weight), d_b(in.bias), d_out((size_t)s.N * s.OC);
  electra::cuda::matmul_forward(d_out, d_inp, d_w, with_bias ? d_b.p : nullptr, s.N, s.IC, s.OC, prec);
  CUDA_CHECK(cudaGetLastError());
  if (want) {
    want->assign((size_t)s.N * s.OC, 0.f);
    electra::matmul_forward<float>(want->data(), in.inp.data(), in.weight.data(), with_bias ? in.bias.data() : nullptr,
                                   s.N, s.IC, s.OC, prec);
  }
  return d_out.get();
}

struct Grads {
  std::vector<float> dinp, dweight, dbias;
};
// Backward on the GPU (cpu = false) or the CPU, from the same starting gradients; mask bits 1, 2, 4
// say which of dinp, dweight, dbias are computed (the others are null).
Grads backward(const Shape& s, const Inputs& in, bool accumulate, Precision prec, int mask, bool cpu) {
  Grads r;
  if (mask & 1) r.dinp = in.dinp0;
  if (mask & 2) r.dweight = in.dweight0;
  if (mask & 4) r.dbias = in.dbias0;
  if (cpu) {
    electra::matmul_backward<float>((mask & 1) ? r.dinp.data() : nullptr, (mask & 2) ? r.dweight.data() : nullptr,
                                    (mask & 4) ? r.dbias.data() : nullptr, in.dout.data(), in.inp.data(),
                                    in.weight.data(), s.N, s.IC, s.OC, accumulate, prec);
    return r;
  }
  cutest::Buf<float> d_dout(in.dout), d_inp(in.inp), d_w(in.weight);
  cutest::Buf<float> d_dinp(in.dinp0), d_dw(in.dweight0), d_db(in.dbias0);
  electra::cuda::matmul_backward((mask & 1) ? d_dinp.p : nullptr, (mask & 2) ? d_dw.p : nullptr,
                                 (mask & 4) ? d_db.p : nullptr, d_dout, d_inp, d_w, s.N, s.IC, s.OC, accumulate, prec);
  CUDA_CHECK(cudaGetLastError());
  if (mask & 1) r.dinp = d_dinp.get();
  if (mask & 2) r.dweight = d_dw.get();
  if (mask & 4) r.dbias = d_db.get();
  // the skipped outputs' buffers are untouched
  if (!(mask & 1)) CHECK(d_dinp.get() == in.dinp0);
  if (!(mask & 2)) CHECK(d_dw.get() == in.dweight0);
  if (!(mask & 4)) CHECK(d_db.get() == in.dbias0);
  return r;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(matmul_forward_parity) {
  REQUIRE_DEVICE();
  uint32_t seed = 1;
  for (const Shape& s : kShapes)
    for (Precision prec : {Precision::Fp32, Precision::Bf16})
      for (bool with_bias : {true, false}) {
        const Inputs in = make_inputs(s, seed++);
        std::vector<float> want;
        const std::vector<float> got = forward_both(s, in, with_bias, prec, &want);
        expect_close(got, want, TOL, "fwd %s N=%d IC=%d OC=%d bias=%d: out", prec_name(prec), s.N, s.IC, s.OC,
                     (int)with_bias);
      }
}

TEST(matmul_backward_parity) {
  REQUIRE_DEVICE();
  uint32_t seed = 100;
  for (const Shape& s : kShapes)
    for (Precision prec : {Precision::Fp32, Precision::Bf16})
      for (bool accumulate : {false, true}) {
        const Inputs in = make_inputs(s, seed++);
        const Grads got = backward(s, in, accumulate, prec, 7, false);
        const Grads want = backward(s, in, accumulate, prec, 7, true);
        expect_close(got.dinp, want.dinp, TOL, "bwd %s N=%d IC=%d OC=%d acc=%d: dinp", prec_name(prec), s.N, s.IC,
                     s.OC, (int)accumulate);
        expect_close(got.dweight, want.dweight, TOL, "bwd %s N=%d IC=%d OC=%d acc=%d: dweight", prec_name(prec), s.N,
                     s.IC, s.OC, (int)accumulate);
        expect_close(got.dbias, want.dbias, TOL, "bwd %s N=%d IC=%d OC=%d acc=%d: dbias", prec_name(prec), s.N,
                     s.IC, s.OC, (int)accumulate);
      }
}

// Every combination of null dinp / dweight / dbias: the others still right, the skipped untouched.
TEST(matmul_backward_null_outputs) {
  REQUIRE_DEVICE();
  const Shape shapes[] = {{130, 33, 65}, {1000, 64, 96}};
  uint32_t seed = 200;
  for (const Shape& s : shapes)
    for (Precision prec : {Precision::Fp32, Precision::Bf16})
      for (int mask = 0; mask < 8; mask++) {
        const bool accumulate = mask & 1;  // both modes along the way
        const Inputs in = make_inputs(s, seed++);
        const Grads got = backward(s, in, accumulate, prec, mask, false),
                    want = backward(s, in, accumulate, prec, mask, true);
        if (mask & 1)
          expect_close(got.dinp, want.dinp, TOL, "bwd %s N=%d mask=%d acc=%d: dinp", prec_name(prec), s.N, mask,
                       (int)accumulate);
        if (mask & 2)
          expect_close(got.dweight, want.dweight, TOL, "bwd %s N=%d mask=%d acc=%d: dweight", prec_name(prec), s.N,
                       mask, (int)accumulate);
        if (mask & 4)
          expect_close(got.dbias, want.dbias, TOL, "bwd %s N=%d mask=%d acc=%d: dbias", prec_name(prec), s.N, mask,
                       (int)accumulate);
      }
}

// The GEMM core beyond the linear layers' uses: all four transpose combinations, pitches wider than
// the matrices (odd: scalar loads; multiples of 4: float4), batches, bias and accumulate, K = 0.
TEST(gemm_core_parity) {
  REQUIRE_DEVICE();
  struct Case {
    int M, Ncol, K, batch, pad;
  };
  const Case cases[] = {{5, 3, 7, 1, 1}, {130, 65, 33, 3, 0}, {129, 257, 48, 2, 4}, {64, 64, 1100, 1, 1},
                        {256, 192, 2048, 1, 0}};
  std::mt19937 g(300);
  for (const Case& c : cases)
    for (Precision prec : {Precision::Fp32, Precision::Bf16})
      for (int lay = 0; lay < 4; lay++) {
        const bool a_trans = lay & 1, b_trans = lay & 2;
        const int mode = (lay + c.pad) % 3;  // 0: C =, 1: C = bias +, 2: C +=
        const bool use_bias = mode == 1, accumulate = mode == 2;
        const int lda = (a_trans ? c.M : c.K) + c.pad, ldb = (b_trans ? c.K : c.Ncol) + c.pad, ldc = c.Ncol + c.pad;
        const int64_t sa = (int64_t)(a_trans ? c.K : c.M) * lda + 8, sb = (int64_t)(b_trans ? c.Ncol : c.K) * ldb + 8,
                      sc = (int64_t)c.M * ldc + 8;  // batch strides with gaps (multiples of 4 when pad is)
        const std::vector<float> A = cutest::randn(sa * c.batch, g), B = cutest::randn(sb * c.batch, g),
                                 C0 = cutest::randn(sc * c.batch, g), bias = cutest::randn(c.Ncol, g);
        cutest::Buf<float> dA(A), dB(B), dC(C0), dbias(bias);
        electra::cuda::gemm(dC, ldc, dA, lda, a_trans, dB, ldb, b_trans, c.M, c.Ncol, c.K, use_bias ? dbias.p : nullptr,
                            accumulate, prec, 0, c.batch, sc, sa, sb);
        CUDA_CHECK(cudaGetLastError());
        const std::vector<float> got = dC.get();
        std::vector<float> want = C0;
        for (int z = 0; z < c.batch; z++) {
          const float* a = A.data() + z * sa;
          const int sai = a_trans ? 1 : lda, sak = a_trans ? lda : 1;
          if (prec == Precision::Bf16)
            electra::gemm_bf16(want.data() + z * sc, ldc, a, sai, sak, B.data() + z * sb, ldb, c.M, c.Ncol, c.K,
                               accumulate, b_trans, false, use_bias ? bias.data() : nullptr);
          else
            electra::gemm_f32(want.data() + z * sc, ldc, a, sai, sak, B.data() + z * sb, ldb, c.M, c.Ncol, c.K,
                              accumulate, b_trans, use_bias ? bias.data() : nullptr);
        }
        // the whole buffer: elements outside C (pitch padding, gaps between batch entries) must be as they were
        expect_close(got, want, TOL, "gemm %s M=%d N=%d K=%d batch=%d pad=%d aT=%d bT=%d bias=%d acc=%d",
                     prec_name(prec), c.M, c.Ncol, c.K, c.batch, c.pad, (int)a_trans, (int)b_trans, (int)use_bias,
                     (int)accumulate);
        size_t outside_changed = 0;
        for (int z = 0; z < c.batch; z++)
          for (int64_t e = 0; e < sc; e++)
            if ((e / ldc >= c.M || e % ldc >= c.Ncol) && !same_bits(got[z * sc + e], C0[z * sc + e]))
              outside_changed++;
        CHECK_MSG(outside_changed == 0, "gemm wrote %zu elements outside C", outside_changed);
      }
  // K = 0: C = bias (or 0), or C unchanged when accumulating
  for (Precision prec : {Precision::Fp32, Precision::Bf16})
    for (int mode = 0; mode < 3; mode++) {
      const int M = 70, Ncol = 33;
      const std::vector<float> C0 = cutest::randn((size_t)M * Ncol, g), bias = cutest::randn(Ncol, g);
      cutest::Buf<float> dC(C0), dbias(bias), dA(1), dB(1);
      electra::cuda::gemm(dC, Ncol, dA, 1, false, dB, 1, true, M, Ncol, 0, mode == 1 ? dbias.p : nullptr, mode == 2,
                          prec);
      std::vector<float> want(C0.size());
      for (int i = 0; i < M; i++)
        for (int j = 0; j < Ncol; j++)
          want[(size_t)i * Ncol + j] = mode == 2 ? C0[(size_t)i * Ncol + j] : mode == 1 ? bias[j] : 0.f;
      CHECK_MSG(bitwise_equal(dC.get(), want), "gemm %s K=0 mode %d", prec_name(prec), mode);
    }
}

// bf16 operands are rounded to nearest even exactly as the CPU's to_bf16 (ties to even, NaN stays
// NaN): with K = 1 and weight 1 the output is the rounded input itself, bit for bit.
TEST(matmul_bf16_rounding_exact) {
  REQUIRE_DEVICE();
  const float ulp = std::ldexp(1.f, -7);  // bf16 spacing in [1, 2)
  const std::vector<float> x = {1.f + ulp / 2,                              // tie, 1 is even: down
                                1.f + 3 * ulp / 2,                          // tie, 1 + 2 ulp is even: up
                                1.f + ulp / 2 + std::ldexp(1.f, -20),       // above the tie: up
                                1.f + ulp / 2 - std::ldexp(1.f, -20),       // below the tie: down
                                -(1.f + 3 * ulp / 2), 3.14159265f, -2.71828183e-3f, 6.02e23f, 1e-30f,
                                3.4e38f,  // past the midpoint above bf16's largest finite value: inf
                                NAN};
  const int N = (int)x.size();
  const std::vector<float> one = {1.f};
  cutest::Buf<float> d_x(x), d_w(one), d_out(N);
  electra::cuda::matmul_forward(d_out, d_x, d_w, nullptr, N, 1, 1, Precision::Bf16);
  const std::vector<float> got = d_out.get();
  for (int i = 0; i < N; i++) {
    const float want = electra::bf16_round(x[i]);
    const bool same = std::isnan(want) ? std::isnan(got[i]) : same_bits(got[i], want);
    CHECK_MSG(same, "bf16 rounding of %.9g: got %.9g, want %.9g", x[i], got[i], want);
  }
}

// The bf16 mode really computes with bf16 operands: against the fp32 CPU product its error is the
// size of bf16 rounding (~1e-3), far above TOL; against the bf16 CPU product it is within TOL.
TEST(matmul_bf16_is_not_fp32) {
  REQUIRE_DEVICE();
  const Shape s = {512, 256, 256};
  const Inputs in = make_inputs(s, 400);
  std::vector<float> want32((size_t)s.N * s.OC), want16((size_t)s.N * s.OC);
  electra::matmul_forward<float>(want32.data(), in.inp.data(), in.weight.data(), nullptr, s.N, s.IC, s.OC,
                                 Precision::Fp32);
  const std::vector<float> got = forward_both(s, in, false, Precision::Bf16, &want16);
  const double e32 = cutest::rel_err(got, want32), e16 = cutest::rel_err(got, want16);
  std::printf("    bf16 gpu vs fp32 cpu %.2e (expect ~1e-3), vs bf16 cpu %.2e\n", e32, e16);
  CHECK(e32 > 1e-4);
  CHECK(e16 <= TOL);
}

// Two runs with the same inputs give bit-identical outputs (no atomics; split-K slices added in order).
TEST(matmul_deterministic) {
  REQUIRE_DEVICE();
  const Shape shapes[] = {{1000, 64, 96}, {4096, 1024, 256}, {4096, 256, 1024}};
  uint32_t seed = 500;
  for (const Shape& s : shapes)
    for (Precision prec : {Precision::Fp32, Precision::Bf16}) {
      const Inputs in = make_inputs(s, seed++);
      const std::vector<float> o1 = forward_both(s, in, true, prec, nullptr);
      const std::vector<float> o2 = forward_both(s, in, true, prec, nullptr);
      const Grads g1 = backward(s, in, true, prec, 7, false), g2 = backward(s, in, true, prec, 7, false);
      const bool same = bitwise_equal(o1, o2) && bitwise_equal(g1.dinp, g2.dinp) &&
                        bitwise_equal(g1.dweight, g2.dweight) && bitwise_equal(g1.dbias, g2.dbias);
      std::printf("    %s N=%d IC=%d OC=%d: %s\n", prec_name(prec), s.N, s.IC, s.OC,
                  same ? "bit-identical" : "DIFFERENT");
      CHECK_MSG(same, "%s N=%d IC=%d OC=%d: two runs differ", prec_name(prec), s.N, s.IC, s.OC);
    }
}

// Timing of a few model shapes (printed only): forward + backward, TFLOP/s counted as 6 N IC OC.
TEST(matmul_timing) {
  REQUIRE_DEVICE();
  const Shape shapes[] = {{16384, 768, 768}, {16384, 768, 3072}, {16384, 3072, 768}, {16384, 256, 256}};
  std::mt19937 g(600);
  for (const Shape& s : shapes) {
    cutest::Buf<float> inp(cutest::randn((size_t)s.N * s.IC, g)), w(cutest::randn((size_t)s.OC * s.IC, g)),
        b(cutest::randn(s.OC, g)), out((size_t)s.N * s.OC), dout(cutest::randn((size_t)s.N * s.OC, g)),
        dinp((size_t)s.N * s.IC), dw((size_t)s.OC * s.IC), db(s.OC);
    for (Precision prec : {Precision::Fp32, Precision::Bf16}) {
      auto step = [&] {
        electra::cuda::matmul_forward(out, inp, w, b, s.N, s.IC, s.OC, prec);
        electra::cuda::matmul_backward(dinp, dw, db, dout, inp, w, s.N, s.IC, s.OC, false, prec);
      };
      step();  // warm-up (and the split-K scratch)
      cudaEvent_t t0, t1;
      CUDA_CHECK(cudaEventCreate(&t0));
      CUDA_CHECK(cudaEventCreate(&t1));
      const int iters = 5;
      CUDA_CHECK(cudaEventRecord(t0));
      for (int i = 0; i < iters; i++) step();
      CUDA_CHECK(cudaEventRecord(t1));
      CUDA_CHECK(cudaEventSynchronize(t1));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
      CUDA_CHECK(cudaEventDestroy(t0));
      CUDA_CHECK(cudaEventDestroy(t1));
      ms /= iters;
      std::printf("    %s N=%d IC=%d OC=%d: fwd+bwd %.3f ms, %.1f TFLOP/s\n", prec_name(prec), s.N, s.IC, s.OC, ms,
                  6.0 * s.N * s.IC * s.OC / (ms * 1e-3) / 1e12);
    }
  }
}

TEST_MAIN()
