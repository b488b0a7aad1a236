// test_golden.cpp: the engine against golden vectors from the independent float64 PyTorch reference
// (native/test/golden/gen_golden.py -> electra_tiny.safetensors): step-0 generator and discriminator
// logits, both losses, sampled tokens, every parameter gradient; the losses, gradient norms and final
// parameters of 10 AdamW steps; and the three fine-tuning heads.
//
// Error measure: per tensor, |engine - reference|_2 / |reference|_2 (scalars: relative error).
// Tolerances: fp32 engine 1e-5 (the bound; fp32 rounding through 2 layers and the losses
// gives ~1e-7..1e-6); fp64 engine 1e-9 (same maths in another order: ~1e-13, with room for the 10
// optimizer steps, where m / (sqrt(v) + 1e-6) amplifies differences in tiny gradients).
// The final parameters after 10 steps in fp32 get 1e-4 (measured worst 1.3e-5): Adam's normalised
// update m / (sqrt(v) + eps) moves a parameter by ~lr whatever its gradient's size, so fp32 noise in
// near-zero gradients (the key biases') becomes visible in the parameters themselves.
// The fp32 engine in bf16 mode (bf16 matrix products) is held to the same vectors with the looser
// tolerances justified at BF16_TOL.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.h"
#include "engine/classifier.h"
#include "engine/common.h"
#include "engine/json.h"
#include "engine/optim.h"
#include "engine/pretrain.h"
#include "engine/safetensors.h"

using namespace electra;

static std::string golden_path() {
  const char* src = std::getenv("ELECTRA_SOURCE_DIR");
  return std::string(src ? src : ELECTRA_SOURCE_DIR_DEFAULT) + "/native/test/golden/electra_tiny.safetensors";
}

struct Golden {
  SafeTensors st;
  PretrainConfig pc;
  int B = 0, T = 0, N = 0, steps = 10;
  double peak_lr = 0;
  int warmup = 0, total = 0;
  AdamWConfig opt;
  std::vector<int32_t> ids, tt, mask, gen_ids, pos, mlm_ids;
  std::vector<float> w, u;

  Golden() : st(SafeTensors::load(golden_path())) {
    std::string cfg_text;
    for (auto& kv : st.metadata())
      if (kv.first == "config") cfg_text = kv.second;
    json::Value c = json::parse(cfg_text, "golden config");
    pc.disc = config_from_json(*c.find("discriminator"), "golden discriminator");
    pc.gen = config_from_json(*c.find("generator"), "golden generator");
    pc.gen_weight = (float)c.get_number("gen_weight", "golden");
    pc.disc_weight = (float)c.get_number("disc_weight", "golden");
    pc.temperature = (float)c.get_number("temperature", "golden");
    const json::Value& sp = *c.find("special_ids");
    pc.special = {(int)sp.get_int("[PAD]", "g"), (int)sp.get_int("[UNK]", "g"), (int)sp.get_int("[CLS]", "g"),
                  (int)sp.get_int("[SEP]", "g"), (int)sp.get_int("[MASK]", "g")};
    B = (int)c.get_int("batch_size", "g");
    T = (int)c.get_int("seq_len", "g");
    N = (int)c.get_int("max_predictions_per_seq", "g");
    const json::Value& o = *c.find("optimizer");
    peak_lr = o.get_number("learning_rate", "g");
    warmup = (int)o.get_int("num_warmup_steps", "g");
    total = (int)o.get_int("num_train_steps", "g");
    opt.beta1 = o.get_number("beta_1", "g");
    opt.beta2 = o.get_number("beta_2", "g");
    opt.eps = o.get_number("epsilon", "g");
    opt.weight_decay = o.get_number("weight_decay_rate", "g");
    opt.clip_norm = o.get_number("clip_norm", "g");
    auto i32 = [&](const char* n) {
      auto v = st.read_i64(n);
      return std::vector<int32_t>(v.begin(), v.end());
    };
    ids = i32("input/input_ids"), tt = i32("input/token_type_ids"), mask = i32("input/attention_mask");
    gen_ids = i32("input/gen_input_ids"), pos = i32("input/mlm_positions"), mlm_ids = i32("input/mlm_ids");
    w.resize(B * N);
    st.read_f32("input/mlm_weights", {B, N}, w.data());
    u.resize((size_t)steps * B * N * pc.gen.vocab_size);
    st.read_f32("input/gumbel_u", {steps, B, N, pc.gen.vocab_size}, u.data());
  }
  std::vector<double> f64(const std::string& name) const {
    const TensorInfo* t = st.find(name);
    if (!t) throw Error("golden file lacks " + name);
    std::vector<double> v(numel(t->shape));
    st.read_f64(name, t->shape, v.data());
    return v;
  }
  Batch batch() const { return {B, T, ids.data(), tt.data(), mask.data()}; }
  MaskedInputs masked() const {
    MaskedInputs m;
    m.B = B, m.T = T, m.N = N;
    m.gen_input_ids = gen_ids, m.positions = pos, m.ids = mlm_ids, m.weights = w;
    return m;
  }
  // Loads `prefix` + name for every tensor of `table` into params.
  template <typename F>
  void load(const ParamTable& table, std::vector<F>& params, const std::string& prefix) const {
    for (const auto& e : table.entries()) {
      std::vector<double> v(e.size);
      st.read_f64(prefix + e.name, e.shape, v.data());
      for (size_t i = 0; i < e.size; i++) params[e.offset + i] = (F)v[i];
    }
  }
};

static const Golden& golden() {
  static Golden g;
  return g;
}

template <typename F>
static double rel(const F* a, const std::vector<double>& ref) {
  double d = 0, n = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
    n += ref[i] * ref[i];
  }
  return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
}

// The precision of the engine's matrix products in the running test (fp32 engine only): bf16 mode
// is checked against the same float64 vectors with its own tolerances (tol()).
static Precision g_prec = Precision::Fp32;
// bf16 tolerances. bf16 keeps 8 significant bits (unit roundoff 2^-9 = 2e-3) and both operands of
// every product are rounded, so each product carries up to ~4e-3 relative error; through the
// embedding projection, 2 layers (QKV, scores, weighted sum, output, FFN in, FFN out) and a head, an
// output accumulates a few dozen such roundings (partly cancelling), a gradient about twice as many.
// Outputs, losses, gradients and gradient norms: 5e-2 (measured worst 2.3e-2, the ELECTRA head's
// logits; sampled tokens still match exactly). Final parameters after 10 AdamW steps: 2e-2 (measured
// 7.4e-3), except the attention key biases, whose true gradient is zero (see expect_grad): Adam
// turns their pure rounding noise into steps of up to lr each, 0.15 (measured 6.9e-2). A zero
// gradient's noise norm: 5e-3 (measured 6.7e-4).
static const double BF16_TOL = 5e-2;
template <typename F>
static bool bf16_mode() {
  return sizeof(F) == 4 && g_prec == Precision::Bf16;
}

static double g_worst[3] = {0, 0, 0};  // fp32, fp64, fp32 engine in bf16 mode
template <typename F>
static void expect(const std::string& what, double err, double tol) {
  double& worst = g_worst[bf16_mode<F>() ? 2 : sizeof(F) == 8];
  worst = std::max(worst, err);
  if (std::getenv("GOLDEN_VERBOSE")) std::printf("    %-72s %.3g\n", what.c_str(), err);
  CHECK_MSG(err <= tol, "%s (%s): relative error %.3g > %.0e", what.c_str(),
            sizeof(F) == 8 ? "fp64" : bf16_mode<F>() ? "bf16" : "fp32", err, tol);
}

// A gradient that is mathematically zero (attention key biases: softmax ignores a constant added to
// every score) holds only rounding noise in both the reference (~1e-17) and the engine, so a relative
// error means nothing there: its absolute norm must stay at noise level instead (fp32 1e-6, fp64 1e-12).
template <typename F>
static void expect_grad(const std::string& what, const F* a, const std::vector<double>& ref, double tol) {
  double nr = 0, na = 0;
  for (size_t i = 0; i < ref.size(); i++) nr += ref[i] * ref[i], na += (double)a[i] * a[i];
  if (std::sqrt(nr) < 1e-12) {
    CHECK_MSG(std::sqrt(na) < (sizeof(F) == 8 ? 1e-12 : bf16_mode<F>() ? 5e-3 : 1e-6), "%s: zero gradient expected, norm %.3g", what.c_str(),
              std::sqrt(na));
    return;
  }
  expect<F>(what, rel(a, ref), tol);
}

template <typename F>
static double tol() {
  if (bf16_mode<F>()) return BF16_TOL;
  return sizeof(F) == 8 ? 1e-9 : 1e-5;
}

template <typename F>
static PretrainConfig config(const Golden& g) {
  PretrainConfig pc = g.pc;
  if (sizeof(F) == 4) pc.precision = g_prec;
  return pc;
}

template <typename F>
static void check_step0() {
  const Golden& g = golden();
  Pretrainer<F> m(config<F>(g));
  g.load(m.table(), m.params(), "param/");
  m.zero_grads();
  m.forward_backward(g.batch(), g.masked(), g.u.data(), 0, 0, false, false);  // the logits (backward overwrites them)
  expect<F>("gen_logits", rel(m.gen_logits(), g.f64("out/gen_logits")), tol<F>());
  StepStats st = m.forward_backward(g.batch(), g.masked(), g.u.data(), 0, 0, false, true);
  expect<F>("disc_logits", rel(m.disc_logits().data(), g.f64("out/disc_logits")), tol<F>());
  expect<F>("gen_loss", std::fabs(st.gen_loss / g.f64("out/gen_loss")[0] - 1), tol<F>());
  expect<F>("disc_loss", std::fabs(st.disc_loss / g.f64("out/disc_loss")[0] - 1), tol<F>());
  expect<F>("loss", std::fabs(st.loss / g.f64("out/loss")[0] - 1), tol<F>());
  auto sampled = g.st.read_i64("out/sampled_ids");
  auto labels = g.st.read_i64("out/disc_labels");
  CHECK(std::vector<int64_t>(m.sampled().begin(), m.sampled().end()) == sampled);
  CHECK(std::vector<int64_t>(m.disc_labels().begin(), m.disc_labels().end()) == labels);
  size_t n = 0;
  for (const auto& e : m.table().entries()) {
    expect_grad<F>("grad " + e.name, m.grads().data() + e.offset, g.f64("grad/" + e.name), tol<F>());
    n++;
  }
  CHECK(n == 82);  // every parameter of the tiny model has a golden gradient
}

template <typename F>
static void check_ten_steps() {
  const Golden& g = golden();
  Pretrainer<F> m(config<F>(g));
  g.load(m.table(), m.params(), "param/");
  AdamW<F> opt(m.table(), g.opt);
  const auto loss = g.f64("train/loss");
  const auto norms = g.f64("train/grad_norm");
  const auto lrs = g.f64("train/lr");
  const auto sampled = g.st.read_i64("train/sampled_ids");
  const size_t per_step = (size_t)g.B * g.N * g.pc.gen.vocab_size;
  for (int s = 0; s < g.steps; s++) {
    m.zero_grads();
    StepStats st = m.forward_backward(g.batch(), g.masked(), g.u.data() + s * per_step, 0, s, false, true);
    const std::string at = " step " + std::to_string(s);
    expect<F>("loss" + at, std::fabs(st.loss / loss[s * 3] - 1), tol<F>());
    expect<F>("gen_loss" + at, std::fabs(st.gen_loss / loss[s * 3 + 1] - 1), tol<F>());
    expect<F>("disc_loss" + at, std::fabs(st.disc_loss / loss[s * 3 + 2] - 1), tol<F>());
    for (int r = 0; r < g.B * g.N; r++) CHECK(m.sampled()[r] == sampled[s * g.B * g.N + r]);
    const double lr = electra_learning_rate(g.peak_lr, s, g.warmup, g.total);
    expect<F>("lr" + at, std::fabs(lr - lrs[s]), 1e-15);
    const double norm = opt.step(m.params().data(), m.grads().data(), lr);
    // The norm of the whole gradient after s fp32 updates: 5e-5 in fp32 (measured worst 1.3e-5),
    // since it carries the parameters' drift (see the note on final parameters) as well.
    expect<F>("grad_norm" + at, std::fabs(norm / norms[s] - 1), sizeof(F) == 8 ? 1e-9 : bf16_mode<F>() ? BF16_TOL : 5e-5);
  }
  for (const auto& e : m.table().entries())
    expect<F>("final " + e.name, rel(m.params().data() + e.offset, g.f64("final/" + e.name)),
              sizeof(F) == 8                                                    ? 1e-9
              : !bf16_mode<F>()                                                 ? 1e-4
              : e.name.find("attention.self.key.bias") != std::string::npos ? 0.15
                                                                                : 2e-2);
}

template <typename F>
static void check_heads() {
  const Golden& g = golden();
  struct Case { const char* name; ClsHeadKind head; int nl; };
  for (Case c : {Case{"cls_electra", ClsHeadKind::Electra, 3}, Case{"cls_hf", ClsHeadKind::HuggingFace, 3},
                 Case{"reg_electra", ClsHeadKind::Electra, 1}}) {
    ClassifierConfig cc;
    cc.model = g.pc.disc;
    cc.head = c.head;
    cc.num_labels = c.nl;
    if (sizeof(F) == 4) cc.precision = g_prec;
    Classifier<F> m(cc);
    const std::string p = c.name;
    for (const auto& e : m.table().entries()) {
      const std::string src = e.name.rfind("classifier.", 0) == 0 ? p + "/param/" + e.name : "param/" + e.name;
      std::vector<double> v(e.size);
      g.st.read_f64(src, e.shape, v.data());
      for (size_t i = 0; i < e.size; i++) m.params()[e.offset + i] = (F)v[i];
    }
    std::vector<int32_t> labels;
    std::vector<float> targets(g.B);
    if (c.nl > 1) {
      auto l = g.st.read_i64(p + "/labels");
      labels.assign(l.begin(), l.end());
    } else {
      g.st.read_f32(p + "/targets", {g.B}, targets.data());
    }
    const double loss = m.forward_backward(g.batch(), labels.empty() ? nullptr : labels.data(), targets.data(), 0, 0,
                                           false, true);
    expect<F>(p + " logits", rel(m.logits().data(), g.f64(p + "/logits")), tol<F>());
    expect<F>(p + " loss", std::fabs(loss / g.f64(p + "/loss")[0] - 1), tol<F>());
    for (const auto& e : m.table().entries())
      expect_grad<F>(p + " grad " + e.name, m.grads().data() + e.offset, g.f64(p + "/grad/" + e.name), tol<F>());
  }
}

TEST(golden_step0_fp32) { check_step0<float>(); }
TEST(golden_step0_fp64) { check_step0<double>(); }
TEST(golden_ten_adamw_steps_fp32) { check_ten_steps<float>(); }
TEST(golden_ten_adamw_steps_fp64) { check_ten_steps<double>(); }
TEST(golden_finetune_heads_fp32) { check_heads<float>(); }
TEST(golden_finetune_heads_fp64) { check_heads<double>(); }
// bf16 mode: the same vectors, every matrix product on bf16-rounded operands.
template <typename Fn>
static void in_bf16(Fn fn) {
  g_prec = Precision::Bf16;
  fn();
  g_prec = Precision::Fp32;
}
TEST(golden_step0_bf16) { in_bf16(check_step0<float>); }
TEST(golden_ten_adamw_steps_bf16) { in_bf16(check_ten_steps<float>); }
TEST(golden_finetune_heads_bf16) { in_bf16(check_heads<float>); }
TEST(zz_report) {
  std::printf("  largest golden error: fp32 %.3g, fp64 %.3g, bf16 mode %.3g\n", g_worst[0], g_worst[1], g_worst[2]);
}

TEST_MAIN()
