// test_gradcheck.cpp: finite-difference gradient checks, in double precision, of every kernel's
// backward pass and of the whole ELECTRA loss (and the fine-tuning losses) with respect to every
// parameter tensor, dropout on.
//
// Error measure: the normalised error |g_analytic - g_numeric|_2 / max(|g_analytic|_2, |g_numeric|_2)
// over all entries of a tensor. Fourth-order central differences with h = 3e-4 in double have
// truncation error O(h^4) ~ 1e-14 and rounding error ~ 1e-16 * |f| / h ~ 2e-11 per entry (|f| ~ 50),
// so a correct backward pass lands below 1e-7 (measured worst 6e-8) even for tensors whose gradients are ~1e-4; a wrong one
// (a missing term, a transposed index) lands above 1e-3. The bound 1e-6 separates the two with margin
// on both sides. A tensor whose true gradient is zero (attention key biases: softmax ignores a
// constant added to every score) is compared absolutely: both norms must stay below 1e-8.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "check.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "engine/classifier.h"
#include "engine/info.h"
#include "engine/pretrain.h"

using namespace electra;
using Vec = std::vector<double>;

static constexpr double kTol = 1e-6;
static double g_worst = 0;

static Vec randn(size_t n, std::mt19937& rng, double s = 1.0) {
  std::normal_distribution<double> d(0, s);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Normalised error of analytic gradient `ga` of loss f() w.r.t. the n values at x.
static double fd_error(const std::function<double()>& f, double* x, size_t n, const double* ga, double h = 3e-4) {
  double num = 0, na = 0, nn = 0;
  for (size_t i = 0; i < n; i++) {
    const double keep = x[i];
    auto at = [&](double d) { x[i] = keep + d; return f(); };
    const double gn = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
    x[i] = keep;
    num += (ga[i] - gn) * (ga[i] - gn);
    na += ga[i] * ga[i];
    nn += gn * gn;
  }
  if (std::sqrt(std::max(na, nn)) < 1e-8) return std::sqrt(num);  // a zero gradient: absolute
  return std::sqrt(num) / std::sqrt(std::max(na, nn));
}

static void expect_small(const char* what, double err) {
  if (getenv("GRADCHECK_VERBOSE")) std::printf("    %-70s %.3g\n", what, err);
  g_worst = std::max(g_worst, err);
  CHECK_MSG(err < kTol, "%s: normalised gradient error %.3g >= %.0e", what, err, kTol);
}

static double dotv(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

TEST(matmul_backward) {
  std::mt19937 rng(1);
  const int N = 5, IC = 7, OC = 6;
  Vec x = randn(N * IC, rng), w = randn(OC * IC, rng), b = randn(OC, rng), R = randn(N * OC, rng), out(N * OC);
  auto f = [&] { matmul_forward(out.data(), x.data(), w.data(), b.data(), N, IC, OC); return dotv(out, R); };
  Vec dx(N * IC, 7.0), dw(OC * IC, 0), db(OC, 0);
  matmul_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), N, IC, OC, false);
  expect_small("matmul dinp", fd_error(f, x.data(), x.size(), dx.data()));
  expect_small("matmul dweight", fd_error(f, w.data(), w.size(), dw.data()));
  expect_small("matmul dbias", fd_error(f, b.data(), b.size(), db.data()));
  // accumulate adds to what is there
  Vec dx2(N * IC, 1.0);
  matmul_backward(dx2.data(), (double*)nullptr, (double*)nullptr, R.data(), x.data(), w.data(), N, IC, OC, true);
  double e = 0;
  for (int i = 0; i < N * IC; i++) e = std::max(e, std::fabs(dx2[i] - 1.0 - dx[i]));
  CHECK(e < 1e-12);
}

TEST(layernorm_backward) {
  std::mt19937 rng(2);
  const int N = 4, C = 9;
  Vec x = randn(N * C, rng, 2.0), w = randn(C, rng), b = randn(C, rng), R = randn(N * C, rng), out(N * C), m(N), r(N);
  auto f = [&] { layernorm_forward(out.data(), m.data(), r.data(), x.data(), w.data(), b.data(), N, C, 1e-12); return dotv(out, R); };
  f();
  Vec dx(N * C), dw(C, 0), db(C, 0);
  layernorm_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), m.data(), r.data(), w.data(), N, C, false);
  expect_small("layernorm dinp", fd_error(f, x.data(), x.size(), dx.data()));
  expect_small("layernorm dweight", fd_error(f, w.data(), w.size(), dw.data()));
  expect_small("layernorm dbias", fd_error(f, b.data(), b.size(), db.data()));
}

TEST(gelu_backward) {
  std::mt19937 rng(3);
  const int n = 40;
  Vec x = randn(n, rng, 2.0), R = randn(n, rng), out(n), dx(n);
  auto f = [&] { gelu_forward(out.data(), x.data(), n); return dotv(out, R); };
  gelu_backward(dx.data(), x.data(), R.data(), n);
  expect_small("gelu", fd_error(f, x.data(), n, dx.data()));
  // exact erf form at a known point: gelu(1) = 0.8413447460685429
  double one = 1, y;
  gelu_forward(&y, &one, 1);
  CHECK(std::fabs(y - 0.8413447460685429) < 1e-15);
}

TEST(dropout_is_its_own_backward) {
  std::mt19937 rng(4);
  const int n = 1000;
  Vec x = randn(n, rng), R = randn(n, rng), out(n), dx(n);
  auto f = [&] { dropout_forward(out.data(), x.data(), n, 0.3f, 42, 7); return dotv(out, R); };
  dropout_forward(dx.data(), R.data(), n, 0.3f, 42, 7);
  expect_small("dropout", fd_error(f, x.data(), n, dx.data()));
  int zeros = 0;
  for (double v : out) zeros += v == 0;
  CHECK_MSG(zeros > 230 && zeros < 370, "dropout p=0.3 zeroed %d of 1000", zeros);
}

TEST(embedding_backward) {
  std::mt19937 rng(5);
  const int B = 2, T = 4, E = 3, V = 6, P = 5, TT = 2;
  std::vector<int32_t> ids = {1, 3, 3, 5, 0, 2, 1, 1}, tt = {0, 0, 1, 1, 0, 1, 1, 1};
  Vec wte = randn(V * E, rng), wpe = randn(P * E, rng), wtt = randn(TT * E, rng), R = randn(B * T * E, rng), out(B * T * E);
  auto f = [&] { embedding_forward(out.data(), ids.data(), tt.data(), wte.data(), wpe.data(), wtt.data(), B, T, E); return dotv(out, R); };
  Vec a(V * E, 0), p(P * E, 0), c(TT * E, 0);
  embedding_backward(a.data(), p.data(), c.data(), R.data(), ids.data(), tt.data(), B, T, E);
  expect_small("embedding wte", fd_error(f, wte.data(), wte.size(), a.data()));
  expect_small("embedding wpe", fd_error(f, wpe.data(), wpe.size(), p.data()));
  expect_small("embedding wtt", fd_error(f, wtt.data(), wtt.size(), c.data()));
}

TEST(attention_backward_with_mask_and_dropout) {
  std::mt19937 rng(6);
  const int B = 2, T = 5, C = 8, NH = 2;
  std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  for (float p : {0.f, 0.25f}) {
    Vec qkv = randn(B * T * 3 * C, rng), R = randn(B * T * C, rng), out(B * T * C), att(B * NH * T * T);
    auto f = [&] {
      attention_forward(out.data(), att.data(), qkv.data(), mask.data(), B, T, C, NH, p, 9, 3);
      return dotv(out, R);
    };
    f();
    Vec dqkv(qkv.size());
    attention_backward(dqkv.data(), R.data(), qkv.data(), att.data(), mask.data(), B, T, C, NH, p, 9, 3);
    expect_small(p > 0 ? "attention (dropout 0.25)" : "attention", fd_error(f, qkv.data(), qkv.size(), dqkv.data()));
    // padding keys get zero probability; rows sum to one
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const double* a = &att[((1 * NH + h) * T + t) * T];
        CHECK(a[3] == 0 && a[4] == 0);
        CHECK(std::fabs(a[0] + a[1] + a[2] - 1) < 1e-12);
      }
  }
}

TEST(losses_backward) {
  std::mt19937 rng(7);
  const int R = 4, V = 6;
  Vec logits = randn(R * V, rng, 2.0), dl(R * V);
  std::vector<int32_t> tg = {1, 5, 0, 2};
  std::vector<float> w = {1, 0, 1, 1};
  auto f = [&] { return crossentropy_forward_backward((double*)nullptr, logits.data(), tg.data(), w.data(), R, V, 1.0); };
  crossentropy_forward_backward(dl.data(), logits.data(), tg.data(), w.data(), R, V, 1.0);
  expect_small("cross-entropy", fd_error(f, logits.data(), logits.size(), dl.data()));

  Vec z = randn(8, rng, 3.0), dz(8);
  std::vector<int32_t> y = {0, 1, 1, 0, 1, 0, 0, 1}, m = {1, 1, 1, 1, 1, 1, 0, 0};
  auto g = [&] { return rtd_loss_forward_backward((double*)nullptr, z.data(), y.data(), m.data(), 8, 1.0); };
  rtd_loss_forward_backward(dz.data(), z.data(), y.data(), m.data(), 8, 1.0);
  expect_small("rtd loss", fd_error(g, z.data(), 8, dz.data()));
  // stable for large logits: loss(z=100, y=0) = 100, loss(z=-100, y=0) ~ 0
  double big[2] = {100, -100};
  int32_t zero[2] = {0, 0};
  CHECK(std::fabs(rtd_loss_forward_backward((double*)nullptr, big, zero, (const int32_t*)nullptr, 2, 1.0) - 100) < 1e-9);

  Vec pr = randn(5, rng), dp(5);
  std::vector<float> tgt = {0.5f, 1, 2, -1, 3};
  auto h = [&] { return mse_forward_backward((double*)nullptr, pr.data(), tgt.data(), 5, 1.0); };
  mse_forward_backward(dp.data(), pr.data(), tgt.data(), 5, 1.0);
  expect_small("mse", fd_error(h, pr.data(), 5, dp.data()));
}

// A tiny pre-training configuration with every code path on: E != C (projection), padding,
// dropout 0.1 in attention and hidden states.
static PretrainConfig tiny_config(const char* objective = "electra") {
  PretrainConfig pc;
  pc.objective = objective;
  ElectraConfig d;
  d.vocab_size = 30, d.embedding_size = 6, d.hidden_size = 8, d.num_hidden_layers = 2, d.num_attention_heads = 2;
  d.intermediate_size = 12, d.max_position_embeddings = 10, d.type_vocab_size = 2;
  d.hidden_dropout_prob = 0.1, d.attention_probs_dropout_prob = 0.1;
  ElectraConfig g = d;
  g.hidden_size = 4, g.intermediate_size = 6, g.num_attention_heads = 2;
  pc.disc = d, pc.gen = g;
  pc.mask_prob = 0.3f;
  pc.special = {0, 1, 2, 3, 4};
  return pc;
}

struct TinyBatch {
  int B = 2, T = 8;
  std::vector<int32_t> ids = {2, 7, 9, 11, 3, 15, 20, 3, 2, 8, 8, 3, 25, 3, 0, 0};
  std::vector<int32_t> tt = {0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0};
  std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  Batch batch() const { return {B, T, ids.data(), tt.data(), mask.data()}; }
};

template <typename F>
static void init_random(std::vector<F>& p, unsigned seed, double s) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0, s);
  for (auto& x : p) x = (F)d(rng);
}

static void check_model_grads(Pretrainer<double>& m, const char* objective) {
  TinyBatch tb;
  Batch b = tb.batch();
  MaskedInputs mk;
  electra_mask(mk, b, m.config().mask_prob, max_predictions(m.config().mask_prob, b.T), m.config().special, 11, 0);
  m.zero_grads();
  StepStats st = m.forward_backward(b, mk, nullptr, 5, 0, true, true);
  CHECK(std::isfinite(st.loss) && st.loss > 0);
  const std::vector<int32_t> sampled0 = m.sampled();
  std::vector<double> grads = m.grads();
  bool sample_flipped = false;
  auto f = [&] {
    StepStats s = m.forward_backward(b, mk, nullptr, 5, 0, true, false);
    if (m.sampled() != sampled0) sample_flipped = true;
    return s.loss;
  };
  for (const auto& e : m.table().entries()) {
    double err = fd_error(f, m.params().data() + e.offset, e.size, grads.data() + e.offset);
    if (!(err < kTol)) std::printf("  %s %s: %.3g\n", objective, e.name.c_str(), err);
    expect_small(e.name.c_str(), err);
  }
  CHECK_MSG(!sample_flipped, "a perturbation changed a sampled token; pick another seed");
}

TEST(electra_loss_gradients_every_tensor) {
  Pretrainer<double> m(tiny_config());
  init_random(m.params(), 21, 0.4);
  check_model_grads(m, "electra");
}

TEST(mlm_objective_gradients_every_tensor) {
  Pretrainer<double> m(tiny_config("mlm"));
  init_random(m.params(), 22, 0.4);
  check_model_grads(m, "mlm");
}

TEST(classifier_gradients_both_heads_and_regression) {
  TinyBatch tb;
  Batch b = tb.batch();
  struct Case { ClsHeadKind head; int nl; const char* name; };
  for (Case c : {Case{ClsHeadKind::Electra, 3, "electra head"}, Case{ClsHeadKind::HuggingFace, 3, "hf head"},
                 Case{ClsHeadKind::Electra, 1, "regression"}}) {
    ClassifierConfig cc;
    cc.model = tiny_config().disc;
    cc.head = c.head;
    cc.num_labels = c.nl;
    Classifier<double> m(cc);
    init_random(m.params(), 23, 0.4);
    int32_t labels[2] = {2, 0};
    float targets[2] = {1.5f, -0.5f};
    m.forward_backward(b, labels, targets, 3, 1, true, true);
    std::vector<double> grads = m.grads();
    auto f = [&] { return m.forward_backward(b, labels, targets, 3, 1, true, false); };
    for (const auto& e : m.table().entries()) {
      double err = fd_error(f, m.params().data() + e.offset, e.size, grads.data() + e.offset);
      if (!(err < kTol)) std::printf("  %s %s: %.3g\n", c.name, e.name.c_str(), err);
      expect_small(e.name.c_str(), err);
    }
  }
}

static void check_thread_invariance(Precision prec) {
  PretrainConfig pc = tiny_config();
  pc.disc.num_hidden_layers = pc.gen.num_hidden_layers = 1;
  pc.precision = prec;
  std::vector<std::vector<float>> grads, logits;
  // 1, 2 and 3 threads, splitting evenly and, as the speed balance (cpu/parallel.h) may, unevenly
  struct Run { int threads; float skew; };
  const Run runs[] = {{1, 0.f}, {2, 0.f}, {3, 0.f}, {2, 0.3f}, {2, 3.f}, {3, 0.5f}, {3, 4.f}};
  for (const Run& run : runs) {
    set_num_threads(run.threads);
    Balance::forced_skew() = run.skew;
    Pretrainer<float> m(pc);
    m.init_weights(1, 0.3);
    TinyBatch tb;
    Batch b = tb.batch();
    MaskedInputs mk;
    electra_mask(mk, b, pc.mask_prob, max_predictions(pc.mask_prob, b.T), pc.special, 2, 0);
    m.forward_backward(b, mk, nullptr, 4, 0, true, true);
    grads.push_back(m.grads());
    logits.push_back(m.disc_logits());
  }
  set_num_threads(0);
  Balance::forced_skew() = 0.f;
  for (size_t i = 1; i < grads.size(); i++) {
    CHECK(std::memcmp(grads[0].data(), grads[i].data(), grads[0].size() * 4) == 0);
    CHECK(logits[0] == logits[i]);
  }
}

TEST(results_do_not_depend_on_thread_count) { check_thread_invariance(Precision::Fp32); }
TEST(results_do_not_depend_on_thread_count_bf16) { check_thread_invariance(Precision::Bf16); }

TEST(zz_report_worst_error) { std::printf("  worst normalised gradient error: %.3g (bound %.0e)\n", g_worst, kTol); }

TEST_MAIN()
