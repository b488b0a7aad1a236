// test_cuda_kernels.cu: the CUDA elementwise, LayerNorm, embedding, loss, sampling and optimizer
// kernels (cuda/kernels.cuh) against their CPU twins (cpu/kernels.h, engine/optim.h) on the same
// random inputs (never zeros), at several sizes. Without a CUDA device every test passes after one
// line saying why. Tolerances are per tensor, each with the reason it is what it is.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "cpu/kernels.h"
#include "cuda/kernels.cuh"
#include "cuda_check.cuh"
#include "engine/optim.h"
#include "engine/params.h"
#include "engine/rng.h"

using namespace electra;
using cutest::Buf;

static const int64_t kSizes[] = {1, 63, 64, 65, 1000, 4099, 1 << 20};

// The value at a device double (a loss or a norm).
static double device_double(const double* d) { return cutest::to_host(d, 1)[0]; }

TEST(gelu_matches_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(1);
  for (int64_t n : kSizes) {
    const auto x = cutest::randn(n, g, 3.f), dy = cutest::randn(n, g);
    std::vector<float> y(n), dx(n);
    gelu_forward(y.data(), x.data(), n);
    gelu_backward(dx.data(), x.data(), dy.data(), n);
    Buf<float> dX(x), dY(n), dDY(dy), dDX(n);
    cuda::gelu_forward(dY, dX, n);
    cuda::gelu_backward(dDX, dX, dDY, n);
    // both are within ~1e-6 of the exact GELU (erff to 2 ulp here, vmath's erf on the CPU; see
    // test_fastpaths): 5e-6 relative to 1 + |value| leaves room for both
    const double ey = cutest::elem_err(dY.get(), y, 1.0), edx = cutest::elem_err(dDX.get(), dx, 1.0);
    CHECK_MSG(ey < 5e-6 && edx < 5e-6, "n %lld: forward %.3g backward %.3g", (long long)n, ey, edx);
  }
}

TEST(dropout_masks_are_the_cpu_masks) {
  REQUIRE_DEVICE();
  std::mt19937 g(2);
  for (int64_t n : kSizes)
    for (float p : {0.f, 0.1f, 0.5f}) {
      const auto x = cutest::randn(n, g), r = cutest::randn(n, g);
      std::vector<float> y(n), z(n), back(n);
      std::vector<uint64_t> bits((n + 63) / 64, 0);
      dropout_forward(y.data(), x.data(), n, p, 11, 22);
      dropout_add_forward(z.data(), x.data(), r.data(), n, p, 11, 22, bits.data());
      dropout_apply_bits(back.data(), x.data(), n, p, bits.data());
      Buf<float> dX(x), dR(r), dY(n), dZ(n), dBack(n);
      Buf<uint64_t> dBits(std::vector<uint64_t>(bits.size(), ~0ull));  // stale bits must be overwritten
      cuda::dropout_forward(dY, dX, n, p, 11, 22);
      cuda::dropout_add_forward(dZ, dX, dR, n, p, 11, 22, dBits);
      cuda::dropout_apply_bits(dBack, dX, n, p, dBits);
      // the same masks and the same roundings (one product, one sum): equal bits
      CHECK_MSG(dY.get() == y, "dropout n %lld p %g", (long long)n, p);
      CHECK_MSG(dZ.get() == z, "dropout_add n %lld p %g", (long long)n, p);
      if (p > 0.f) CHECK_MSG(dBits.get() == bits, "mask bits n %lld p %g", (long long)n, p);
      CHECK_MSG(dBack.get() == back, "apply_bits n %lld p %g", (long long)n, p);
    }
}

TEST(layernorm_matches_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(3);
  struct S { int N, C; };
  for (S s : {S{1, 7}, S{5, 33}, S{130, 256}, S{4096, 256}, S{64, 1024}})
    for (bool acc : {false, true}) {
      const size_t nc = (size_t)s.N * s.C;
      auto x = cutest::randn(nc, g, 2.f), dy = cutest::randn(nc, g), w = cutest::randn(s.C, g), b = cutest::randn(s.C, g);
      for (auto& v : x) v += 0.5f;  // a non-zero mean
      std::vector<float> y(nc), mean(s.N), rstd(s.N);
      layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s.N, s.C, 1e-12);
      Buf<float> dX(x), dW(w), dB(b), dYo(nc), dM(s.N), dS(s.N);
      cuda::layernorm_forward(dYo, dM, dS, dX, dW, dB, s.N, s.C, 1e-12);
      // statistics in double on both sides (different summation order): fp32 results within a few ulp
      const double ey = cutest::rel_err(dYo.get(), y), em = cutest::elem_err(dM.get(), mean, 1e-3),
                   es = cutest::elem_err(dS.get(), rstd, 1e-3);
      CHECK_MSG(ey < 1e-6 && em < 1e-6 && es < 1e-6, "forward %dx%d: out %.3g mean %.3g rstd %.3g", s.N, s.C, ey, em, es);

      // backward from the CPU's statistics (the same inputs on both sides)
      const auto dx0 = cutest::randn(nc, g), gw0 = cutest::randn(s.C, g), gb0 = cutest::randn(s.C, g);
      std::vector<float> dx = dx0, gw = gw0, gb = gb0;
      layernorm_backward(dx.data(), gw.data(), gb.data(), dy.data(), x.data(), mean.data(), rstd.data(), w.data(), s.N,
                         s.C, acc);
      Buf<float> dDY(dy), dDX(dx0), dGW(gw0), dGB(gb0);
      dM.upload(mean);
      dS.upload(rstd);
      cuda::layernorm_backward(dDX, dGW, dGB, dDY, dX, dM, dS, dW, s.N, s.C, acc);
      // dinp: row means in double, different order -> ~1e-6 relative; the parameter gradients sum rows
      // in the CPU's order with the CPU's roundings: identical
      const double edx = cutest::rel_err(dDX.get(), dx);
      CHECK_MSG(edx < 1e-5, "backward %dx%d acc %d: dinp %.3g", s.N, s.C, acc, edx);
      CHECK_MSG(dGW.get() == gw && dGB.get() == gb, "backward %dx%d: parameter gradients differ from the CPU's", s.N, s.C);
    }
}

TEST(embeddings_match_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(4);
  struct S { int B, T, E, V; };
  for (S s : {S{1, 3, 5, 7}, S{4, 128, 128, 1000}, S{2, 37, 64, 30}})
    for (bool with_tt : {false, true}) {
      std::vector<int32_t> ids(s.B * s.T), tt(s.B * s.T);
      for (auto& i : ids) i = (int32_t)(g() % s.V);  // repeats included
      for (auto& t : tt) t = (int32_t)(g() % 2);
      const auto wte = cutest::randn((size_t)s.V * s.E, g), wpe = cutest::randn((size_t)s.T * s.E, g),
                 wtt = cutest::randn((size_t)2 * s.E, g), dout = cutest::randn((size_t)s.B * s.T * s.E, g);
      std::vector<float> out((size_t)s.B * s.T * s.E);
      const int32_t* ttp = with_tt ? tt.data() : nullptr;
      embedding_forward(out.data(), ids.data(), ttp, wte.data(), wpe.data(), wtt.data(), s.B, s.T, s.E);
      std::vector<float> gte = wte, gpe = wpe, gtt = wtt;  // non-zero starting gradients
      embedding_backward(gte.data(), gpe.data(), gtt.data(), dout.data(), ids.data(), ttp, s.B, s.T, s.E);
      Buf<int32_t> dIds(ids), dTT(tt);
      Buf<float> dWte(wte), dWpe(wpe), dWtt(wtt), dOut(out.size()), dDout(dout), dGte(wte), dGpe(wpe), dGtt(wtt);
      const int32_t* dttp = with_tt ? dTT.p : nullptr;
      cuda::embedding_forward(dOut, dIds, dttp, dWte, dWpe, dWtt, s.B, s.T, s.E);
      cuda::embedding_backward(dGte, dGpe, dGtt, dDout, dIds, dttp, s.B, s.T, s.E);
      // the same additions in the same order: identical
      CHECK_MSG(dOut.get() == out, "forward B %d T %d E %d", s.B, s.T, s.E);
      CHECK_MSG(dGte.get() == gte && dGpe.get() == gpe && dGtt.get() == gtt, "backward B %d T %d E %d", s.B, s.T, s.E);
    }
}

TEST(crossentropy_matches_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(5);
  struct S { int R, V; };
  for (S s : {S{1, 2}, S{7, 33}, S{608, 30522}, S{32, 3}})
    for (int mode = 0; mode < 3; mode++) {  // 0: no weights, 1: weights with zeros, 2: gradient over the logits
      const size_t rv = (size_t)s.R * s.V;
      const auto x = cutest::randn(rv, g, 3.f);
      std::vector<int32_t> y(s.R);
      for (auto& t : y) t = (int32_t)(g() % s.V);
      std::vector<float> w(s.R);
      for (int r = 0; r < s.R; r++) w[r] = r % 3 == 0 ? 0.f : 0.5f + (float)(r % 5);
      const float* wp = mode == 1 ? w.data() : nullptr;
      std::vector<float> dx(rv);
      std::vector<float> xin = x;
      const double want = crossentropy_forward_backward(mode == 2 ? xin.data() : dx.data(), xin.data(), y.data(), wp,
                                                        s.R, s.V, 0.25);
      if (mode == 2) dx = xin;
      Buf<float> dX(x), dDX(rv);
      Buf<int32_t> dY(y);
      Buf<float> dW(w);
      Buf<double> dL(1);
      cuda::crossentropy_forward_backward(dL, mode == 2 ? dX.p : dDX.p, dX, dY, mode == 1 ? dW.p : nullptr, s.R, s.V,
                                          0.25);
      const double got = device_double(dL);
      const std::vector<float> gx = mode == 2 ? dX.get() : dDX.get();
      // exp differs by an ulp or two (vmath's on the CPU, expf here), sums in double: ~1e-7 relative
      const double el = std::fabs(got - want) / (std::fabs(want) + 1e-30), edx = cutest::rel_err(gx, dx);
      CHECK_MSG(el < 1e-6 && edx < 1e-5, "R %d V %d mode %d: loss %.3g dlogits %.3g", s.R, s.V, mode, el, edx);
    }
}

TEST(rtd_and_mse_match_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(6);
  for (int R : {1, 100, 4096}) {
    auto z = cutest::randn(R, g, 4.f);
    z[0] = 40.f;  // saturated logits
    if (R > 1) z[1] = -40.f;
    std::vector<int32_t> lab(R), mask(R);
    for (int r = 0; r < R; r++) lab[r] = (int32_t)(g() % 2), mask[r] = (int32_t)(g() % 4 != 0);
    std::vector<float> dz(R), tgt = cutest::randn(R, g), dp(R);
    const double want = rtd_loss_forward_backward(dz.data(), z.data(), lab.data(), mask.data(), R, 50.0);
    const double want_mse = mse_forward_backward(dp.data(), z.data(), tgt.data(), R, 0.5);
    Buf<float> dZ(z), dDZ(R), dT(tgt), dDP(R);
    Buf<int32_t> dLab(lab), dMask(mask);
    Buf<double> dL(1), dL2(1);
    cuda::rtd_loss_forward_backward(dL, dDZ, dZ, dLab, dMask, R, 50.0);
    cuda::mse_forward_backward(dL2, dDP, dZ, dT, R, 0.5);
    // both in double with the same formulas; the sums' order differs: 1e-12 relative
    const double e1 = std::fabs(device_double(dL) - want) / std::fabs(want), e2 = std::fabs(device_double(dL2) - want_mse) / want_mse;
    CHECK_MSG(e1 < 1e-12 && e2 < 1e-12, "R %d: rtd loss %.3g mse %.3g", R, e1, e2);
    // per-element gradients rounded once from double: within one fp32 rounding (libm exp may differ by an ulp)
    CHECK_MSG(cutest::elem_err(dDZ.get(), dz, 1e-6) < 1e-6 && cutest::elem_err(dDP.get(), dp, 1e-6) < 1e-6, "R %d: gradients", R);
  }
}

TEST(argmax_and_gumbel_match_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(7);
  for (int V : {1, 5, 30522}) {
    const int R = 300;
    auto x = cutest::randn((size_t)R * V, g, 2.f);
    if (V > 3)
      for (int r = 0; r < R; r += 7) x[(size_t)r * V + 1] = x[(size_t)r * V + 3] = 50.f;  // ties: the first wins
    std::vector<int32_t> am(R), gs(R);
    argmax_rows(am.data(), x.data(), R, V);
    gumbel_sample(gs.data(), x.data(), R, V, 1.0f, nullptr, 5, 6);
    Buf<float> dX(x);
    Buf<int32_t> dAm(R), dGs(R);
    cuda::argmax_rows(dAm, dX, R, V);
    cuda::gumbel_sample(dGs, dX, R, V, 1.0f, 5, 6);
    CHECK_MSG(dAm.get() == am, "argmax V %d", V);
    // The noise is the same uniform through log (CPU: vmath's log, within an ulp of logf), so a sample
    // can differ only where two scores are within rounding of each other: check any difference is such a tie.
    const std::vector<int32_t> got = dGs.get();
    int differ = 0;
    for (int r = 0; r < R; r++) {
      if (got[r] == gs[r]) continue;
      differ++;
      auto score = [&](int v) {
        const double u = random_unit(5, 6, (uint64_t)r * V + v);
        return (double)x[(size_t)r * V + v] - std::log(-std::log(u + 1e-9) + 1e-9);
      };
      const double a = score(got[r]), b = score(gs[r]);
      CHECK_MSG(std::fabs(a - b) < 1e-5 * (1 + std::fabs(a)), "gumbel V %d row %d: %d vs %d, scores %.9g %.9g", V, r, got[r], gs[r], a, b);
    }
    CHECK_MSG(differ <= R / 100, "gumbel V %d: %d of %d rows differ", V, differ, R);
  }
}

TEST(adamw_and_global_norm_match_cpu) {
  REQUIRE_DEVICE();
  std::mt19937 g(8);
  ParamTable table;
  table.add("embeddings.word_embeddings.weight", {1000, 128}, 0);
  table.add("embeddings.LayerNorm.weight", {128}, 0);
  table.add("encoder.layer.0.intermediate.dense.weight", {512, 128}, 1);
  table.add("encoder.layer.0.intermediate.dense.bias", {512}, 1);
  const int64_t n = (int64_t)table.total();
  auto params = cutest::randn(n, g, 0.05f);
  AdamWConfig cfg;
  cfg.clip_norm = 1.0;
  AdamW<float> cpu(table, cfg);
  std::vector<double> scale;
  std::vector<cuda::AdamWSegment> segs;
  for (const TensorEntry& e : table.entries()) {
    scale.push_back(0.8 + 0.1 * e.depth);
    segs.push_back({(int64_t)e.offset, (int64_t)e.size, (float)scale.back(), e.decay ? (float)cfg.weight_decay : 0.f});
  }
  Buf<float> dP(params), dG(n), dM(n), dV(n);
  Buf<cuda::AdamWSegment> dSeg(segs);
  Buf<double> dNorm(1);
  std::vector<float> p = params;
  for (int step = 0; step < 3; step++) {
    auto grads = cutest::randn(n, g, step == 1 ? 0.001f : 0.1f);  // step 1: below the clipping norm
    std::vector<float> gc = grads;
    const double want = cpu.step(p.data(), gc.data(), 1e-3, &scale);
    dG.upload(grads);
    cuda::adamw_step(dP, dG, dM, dV, dSeg, (int)segs.size(), n, dNorm, 1e-3f, 0.9f, 0.999f, 1e-6f, 1.0f);
    const double got = device_double(dNorm);
    // the norm: double sums in 16384-element chunks on both sides, different order inside a chunk
    CHECK_MSG(std::fabs(got - want) < 1e-12 * want, "step %d: norm %.17g vs %.17g", step, got, want);
    // the update: the same fp32 formula, rounded alike except where a compiler fuses a multiply-add
    const double ep = cutest::rel_err(dP.get(), p), em = cutest::rel_err(dM.get(), cpu.m()),
                 ev = cutest::rel_err(dV.get(), cpu.v()), eg = cutest::rel_err(dG.get(), gc);
    CHECK_MSG(ep < 1e-6 && em < 1e-6 && ev < 1e-6 && eg < 1e-6, "step %d: params %.3g m %.3g v %.3g grads %.3g", step, ep, em, ev, eg);
  }
}

TEST_MAIN()
