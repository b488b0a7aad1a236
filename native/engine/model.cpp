// model.cpp: the encoder stack and the heads, forward and backward, written one call per line so
// the forward pass reads like the architecture and the backward pass is the same list reversed.
#include "engine/model.h"
#include "engine/profile.h"

#include <climits>
#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

static constexpr size_t kAbsent = SIZE_MAX;

// ---- layouts ------------------------------------------------------------------------------------
EmbeddingLayout declare_embeddings(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t E = c.embedding_size;
  EmbeddingLayout l;
  l.wte = t.add(p + "word_embeddings.weight", {c.vocab_size, E}, 0);
  l.wpe = t.add(p + "position_embeddings.weight", {c.max_position_embeddings, E}, 0);
  l.wtt = t.add(p + "token_type_embeddings.weight", {c.type_vocab_size, E}, 0);
  l.lnw = t.add(p + "LayerNorm.weight", {E}, 0);
  l.lnb = t.add(p + "LayerNorm.bias", {E}, 0);
  return l;
}

EncoderLayout declare_encoder(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size, E = c.embedding_size, Fd = c.intermediate_size, L = c.num_hidden_layers;
  EncoderLayout l;
  l.projw = l.projb = kAbsent;
  if (E != C) {
    l.projw = t.add(p + "embeddings_project.weight", {C, E}, 0);
    l.projb = t.add(p + "embeddings_project.bias", {C}, 0);
  }
  auto layer = [&](int64_t i) { return p + "encoder.layer." + std::to_string(i) + "."; };
  const char* qkv[3] = {"query", "key", "value"};
  l.qkvw = t.reserve(L * 3 * C * C);
  l.qkvb = t.reserve(L * 3 * C);
  for (int64_t i = 0; i < L; i++)
    for (int j = 0; j < 3; j++) {
      t.name(layer(i) + "attention.self." + qkv[j] + ".weight", {C, C}, l.qkvw + (i * 3 + j) * C * C, i + 1);
      t.name(layer(i) + "attention.self." + qkv[j] + ".bias", {C}, l.qkvb + (i * 3 + j) * C, i + 1);
    }
  // A stacked (L, ...) tensor whose layer slices carry per-layer names.
  auto stacked = [&](const std::string& suffix, std::vector<int64_t> shape) {
    const int64_t n = numel(shape);
    size_t off = t.reserve(L * n);
    for (int64_t i = 0; i < L; i++) t.name(layer(i) + suffix, shape, off + i * n, i + 1);
    return off;
  };
  l.attprojw = stacked("attention.output.dense.weight", {C, C});
  l.attprojb = stacked("attention.output.dense.bias", {C});
  l.ln1w = stacked("attention.output.LayerNorm.weight", {C});
  l.ln1b = stacked("attention.output.LayerNorm.bias", {C});
  l.fcw = stacked("intermediate.dense.weight", {Fd, C});
  l.fcb = stacked("intermediate.dense.bias", {Fd});
  l.fcprojw = stacked("output.dense.weight", {C, Fd});
  l.fcprojb = stacked("output.dense.bias", {C});
  l.ln2w = stacked("output.LayerNorm.weight", {C});
  l.ln2b = stacked("output.LayerNorm.bias", {C});
  return l;
}

DiscHeadLayout declare_disc_head(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size;
  const int depth = c.num_hidden_layers + 1;
  DiscHeadLayout l;
  l.densew = t.add(p + "discriminator_predictions.dense.weight", {C, C}, depth);
  l.denseb = t.add(p + "discriminator_predictions.dense.bias", {C}, depth);
  l.predw = t.add(p + "discriminator_predictions.dense_prediction.weight", {1, C}, depth);
  l.predb = t.add(p + "discriminator_predictions.dense_prediction.bias", {1}, depth);
  return l;
}

GenHeadLayout declare_gen_head(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size, E = c.embedding_size;
  const int depth = c.num_hidden_layers + 1;
  GenHeadLayout l;
  l.densew = t.add(p + "generator_predictions.dense.weight", {E, C}, depth);
  l.denseb = t.add(p + "generator_predictions.dense.bias", {E}, depth);
  l.lnw = t.add(p + "generator_predictions.LayerNorm.weight", {E}, depth);
  l.lnb = t.add(p + "generator_predictions.LayerNorm.bias", {E}, depth);
  l.bias = t.add(p + "generator_lm_head.bias", {c.vocab_size}, depth);
  return l;
}

ClsHeadLayout declare_cls_head(ParamTable& t, const ElectraConfig& c, ClsHeadKind kind, int num_labels,
                               const std::string& p) {
  const int64_t C = c.hidden_size;
  const int depth = c.num_hidden_layers + 1;
  ClsHeadLayout l;
  l.densew = l.denseb = kAbsent;
  if (kind == ClsHeadKind::HuggingFace) {
    l.densew = t.add(p + "classifier.dense.weight", {C, C}, depth);
    l.denseb = t.add(p + "classifier.dense.bias", {C}, depth);
  }
  l.outw = t.add(p + "classifier.out_proj.weight", {num_labels, C}, depth);
  l.outb = t.add(p + "classifier.out_proj.bias", {num_labels}, depth);
  return l;
}

template <typename F>
static F* at(F* base, size_t off) {
  return off == kAbsent ? nullptr : base + off;
}
template <typename F>
EmbeddingWeights<F> bind(const EmbeddingLayout& l, F* b) {
  return {at(b, l.wte), at(b, l.wpe), at(b, l.wtt), at(b, l.lnw), at(b, l.lnb)};
}
template <typename F>
EncoderWeights<F> bind(const EncoderLayout& l, F* b) {
  return {at(b, l.projw), at(b, l.projb), at(b, l.qkvw), at(b, l.qkvb), at(b, l.attprojw), at(b, l.attprojb),
          at(b, l.ln1w), at(b, l.ln1b), at(b, l.fcw), at(b, l.fcb), at(b, l.fcprojw), at(b, l.fcprojb),
          at(b, l.ln2w), at(b, l.ln2b)};
}
template <typename F>
DiscHeadWeights<F> bind(const DiscHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.predw), at(b, l.predb)};
}
template <typename F>
GenHeadWeights<F> bind(const GenHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.lnw), at(b, l.lnb), at(b, l.bias)};
}
template <typename F>
ClsHeadWeights<F> bind(const ClsHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.outw), at(b, l.outb)};
}

uint64_t DropoutCtx::stream(uint32_t site) const { return make_stream(kStreamDropout, model * 4096 + site, step); }


// ---- encoder ------------------------------------------------------------------------------------
template <typename F>
Encoder<F>::Encoder(const ElectraConfig& cfg) : c_(cfg) {}

template <typename F>
void Encoder<F>::ensure(int B, int T, bool keep) {
  const int64_t BT = (int64_t)B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int64_t L = keep ? c_.num_hidden_layers : 1;  // without backward, every layer reuses slot 0
  // resize() never shrinks capacity: after the largest batch has been seen, no step allocates.
  for (auto* v : {&emb_, &emb_drop_}) v->resize(BT * E);
  for (auto* v : {&emb_mean_, &emb_rstd_}) v->resize(BT);
  x0_.resize(BT * C);
  qkv_.resize(L * BT * 3 * C);
  for (auto* v : {&ctx_, &r1_, &r2_}) v->resize(L * BT * C);
  // the LayerNorm outputs are not kept per layer: one buffer each, recomputed from r1_/r2_ in backward
  for (auto* v : {&x1_, &out_}) v->resize(BT * C);
  for (auto* v : {&m1_, &s1_, &m2_, &s2_}) v->resize(L * BT);
  fch_.resize(L * BT * Fd);
  fcg_.resize(BT * Fd);  // GELU's output: recomputed from fch_ in the backward pass, not kept per layer
  if (keep) {
    drop_bits_.resize((size_t)c_.num_hidden_layers * 2 * ((BT * C + 63) / 64));  // the hidden dropouts' masks
    xin_.resize(BT * C);
    demb_.resize(BT * E);
    for (auto* v : {&dx1_, &dtmp_, &dout_buf_}) v->resize(BT * C);
    dqkv_.resize(BT * 3 * C);
  }
  B_ = B;
  T_ = T;
  keep_ = keep;
}

template <typename F>
void Encoder<F>::forward(const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w, const int32_t* ids,
                         const int32_t* tt, const int32_t* mask, int B, int T, const DropoutCtx& dr,
                         bool keep_activations) {
  if (T > c_.max_position_embeddings)
    throw Error("sequence length " + std::to_string(T) + " exceeds max_position_embeddings " +
                std::to_string(c_.max_position_embeddings));
  ensure(B, T, keep_activations);
  dr_ = dr;
  const int BT = B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int L = c_.num_hidden_layers, NH = c_.num_attention_heads;
  const double eps = c_.layer_norm_eps;
  const float ph = dr.training ? (float)c_.hidden_dropout_prob : 0.f;
  const float pa = dr.training ? (float)c_.attention_probs_dropout_prob : 0.f;
  ids_.assign(ids, ids + BT);
  tt_.assign(BT, 0);
  if (tt) tt_.assign(tt, tt + BT);
  mask_.assign(BT, 1);
  if (mask) mask_.assign(mask, mask + BT);
  for (int i = 0; i < BT; i++) {
    if (ids_[i] < 0 || ids_[i] >= c_.vocab_size)
      throw Error("token id " + std::to_string(ids_[i]) + " is outside the vocabulary (size " +
                  std::to_string(c_.vocab_size) + ")");
    if (tt_[i] < 0 || tt_[i] >= c_.type_vocab_size)
      throw Error("token type " + std::to_string(tt_[i]) + " is outside type_vocab_size " +
                  std::to_string(c_.type_vocab_size));
  }

  embedding_forward(emb_.data(), ids_.data(), tt_.data(), ew.wte, ew.wpe, ew.wtt, B, T, E);
  layernorm_forward(emb_drop_.data(), emb_mean_.data(), emb_rstd_.data(), emb_.data(), ew.lnw, ew.lnb, BT, E, eps);
  dropout_forward(emb_drop_.data(), emb_drop_.data(), (int64_t)BT * E, ph, dr.seed, dr.stream(0));
  if (w.projw) matmul_forward(x0_.data(), emb_drop_.data(), w.projw, w.projb, BT, E, C, prec_);
  else std::memcpy(x0_.data(), emb_drop_.data(), sizeof(F) * BT * C);

  for (int l = 0; l < L; l++) {
    // slot sl holds layer l's activations: l when they are kept for backward, else 0 for every layer.
    // The LayerNorm outputs x1 and out have one buffer each; a layer's output overwrites its input
    // (x's last use, the residual add, comes first).
    const int64_t sl = keep_ ? l : 0;
    const F* x = l == 0 ? x0_.data() : out_.data();
    F* qkv = qkv_.data() + sl * BT * 3 * C;
    F* ctx = ctx_.data() + sl * BT * C;
    F* r1 = r1_.data() + sl * BT * C;
    F* x1 = x1_.data();
    F* fch = fch_.data() + sl * BT * Fd;
    F* fcg = fcg_.data();
    F* r2 = r2_.data() + sl * BT * C;
    F* out = out_.data();
    matmul_forward(qkv, x, w.qkvw + (int64_t)l * 3 * C * C, w.qkvb + (int64_t)l * 3 * C, BT, C, 3 * C, prec_);
    // probabilities not kept: the backward pass recomputes them from qkv
    attention_forward(ctx, (F*)nullptr, qkv, mask_.data(), B, T, C, NH, pa, dr.seed, dr.stream(1 + 3 * l), prec_);
    matmul_forward(r1, ctx, w.attprojw + (int64_t)l * C * C, w.attprojb + (int64_t)l * C, BT, C, C, prec_);
    dropout_add_forward(r1, r1, x, (int64_t)BT * C, ph, dr.seed, dr.stream(2 + 3 * l), keep_ ? drop_bits(l, 0) : nullptr);
    layernorm_forward(x1, m1_.data() + sl * BT, s1_.data() + sl * BT, r1, w.ln1w + l * C, w.ln1b + l * C, BT, C, eps);
    matmul_forward(fch, x1, w.fcw + (int64_t)l * Fd * C, w.fcb + (int64_t)l * Fd, BT, C, Fd, prec_);
    gelu_forward(fcg, fch, (int64_t)BT * Fd);
    matmul_forward(r2, fcg, w.fcprojw + (int64_t)l * C * Fd, w.fcprojb + (int64_t)l * C, BT, Fd, C, prec_);
    dropout_add_forward(r2, r2, x1, (int64_t)BT * C, ph, dr.seed, dr.stream(3 + 3 * l), keep_ ? drop_bits(l, 1) : nullptr);
    layernorm_forward(out, m2_.data() + sl * BT, s2_.data() + sl * BT, r2, w.ln2w + l * C, w.ln2b + l * C, BT, C, eps);
  }
}

template <typename F>
const F* Encoder<F>::output() const {
  return out_.data();
}

template <typename F>
F* Encoder<F>::output_grad_buffer() {
  return dout_buf_.data();
}

template <typename F>
void Encoder<F>::backward(const EmbeddingWeights<F>& dew, const EncoderWeights<F>& dw, F* dout,
                          const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w) {
  if (!keep_) throw Error("internal: Encoder::backward after a forward that kept no activations");
  const int B = B_, T = T_, BT = B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int L = c_.num_hidden_layers, NH = c_.num_attention_heads;
  const float ph = dr_.training ? (float)c_.hidden_dropout_prob : 0.f;
  const float pa = dr_.training ? (float)c_.attention_probs_dropout_prob : 0.f;
  const DropoutCtx& dr = dr_;
  F* dres = dout;  // the residual stream's gradient, layer by layer
  F* dx1 = dx1_.data();
  F* dtmp = dtmp_.data();
  F* dqkv = dqkv_.data();

  const double eps = c_.layer_norm_eps;
  for (int l = L - 1; l >= 0; l--) {
    const F* qkv = qkv_.data() + (int64_t)l * BT * 3 * C;
    const F* ctx = ctx_.data() + (int64_t)l * BT * C;
    const F* r1 = r1_.data() + (int64_t)l * BT * C;
    // the layer's input and its first LayerNorm's output, recomputed (same kernel, same inputs: the
    // forward pass's bits) from the kept residual sums and statistics
    F* x1 = x1_.data();
    layernorm_forward(x1, m1_.data() + l * BT, s1_.data() + l * BT, r1, w.ln1w + l * C, w.ln1b + l * C, BT, C, eps);
    const F* x = x0_.data();
    if (l > 0) {
      layernorm_forward(xin_.data(), m2_.data() + (l - 1) * BT, s2_.data() + (l - 1) * BT,
                        r2_.data() + (int64_t)(l - 1) * BT * C, w.ln2w + (l - 1) * C, w.ln2b + (l - 1) * C, BT, C, eps);
      x = xin_.data();
    }
    const F* fch = fch_.data() + (int64_t)l * BT * Fd;
    F* fcg = fcg_.data();
    const F* r2 = r2_.data() + (int64_t)l * BT * C;
    layernorm_backward(dx1, dw.ln2w + l * C, dw.ln2b + l * C, dres, r2, m2_.data() + l * BT, s2_.data() + l * BT,
                       w.ln2w + l * C, BT, C, false);
    dropout_apply_bits(dtmp, dx1, (int64_t)BT * C, ph, drop_bits(l, 1));  // the forward pass's masks
    gelu_forward(fcg, fch, (int64_t)BT * Fd);  // recomputed rather than kept per layer
    // the FFN's inner gradient is written over GELU's output once its weight gradient is taken
    F* dfc = fcg;
    matmul_backward((F*)nullptr, dw.fcprojw + (int64_t)l * C * Fd, dw.fcprojb + (int64_t)l * C, dtmp, fcg,
                    w.fcprojw + (int64_t)l * C * Fd, BT, Fd, C, false, prec_);
    matmul_backward(dfc, (F*)nullptr, (F*)nullptr, dtmp, fcg, w.fcprojw + (int64_t)l * C * Fd, BT, Fd, C, false, prec_);
    gelu_backward(dfc, fch, dfc, (int64_t)BT * Fd);
    matmul_backward(dx1, dw.fcw + (int64_t)l * Fd * C, dw.fcb + (int64_t)l * Fd, dfc, x1, w.fcw + (int64_t)l * Fd * C,
                    BT, C, Fd, true, prec_);
    layernorm_backward(dres, dw.ln1w + l * C, dw.ln1b + l * C, dx1, r1, m1_.data() + l * BT, s1_.data() + l * BT,
                       w.ln1w + l * C, BT, C, false);
    dropout_apply_bits(dtmp, dres, (int64_t)BT * C, ph, drop_bits(l, 0));
    // ctx's gradient is written over ctx (this layer's, needed by nothing else) once its weight gradient is taken
    F* dctx = ctx_.data() + (int64_t)l * BT * C;
    matmul_backward((F*)nullptr, dw.attprojw + (int64_t)l * C * C, dw.attprojb + (int64_t)l * C, dtmp, ctx,
                    w.attprojw + (int64_t)l * C * C, BT, C, C, false, prec_);
    matmul_backward(dctx, (F*)nullptr, (F*)nullptr, dtmp, ctx, w.attprojw + (int64_t)l * C * C, BT, C, C, false, prec_);
    attention_backward(dqkv, dctx, qkv, (const F*)nullptr, mask_.data(), B, T, C, NH, pa, dr.seed, dr.stream(1 + 3 * l),
                       prec_);
    matmul_backward(dres, dw.qkvw + (int64_t)l * 3 * C * C, dw.qkvb + (int64_t)l * 3 * C, dqkv, x,
                    w.qkvw + (int64_t)l * 3 * C * C, BT, C, 3 * C, true, prec_);
  }

  F* demb = demb_.data();
  if (w.projw) matmul_backward(demb, dw.projw, dw.projb, dres, emb_drop_.data(), w.projw, BT, E, C, false, prec_);
  else std::memcpy(demb, dres, sizeof(F) * BT * C);
  dropout_forward(demb, demb, (int64_t)BT * E, ph, dr.seed, dr.stream(0));
  layernorm_backward(demb, dew.lnw, dew.lnb, demb, emb_.data(), emb_mean_.data(), emb_rstd_.data(), ew.lnw, BT, E,
                     false);
  embedding_backward(dew.wte, dew.wpe, dew.wtt, demb, ids_.data(), tt_.data(), B, T, E);
}

// ---- heads --------------------------------------------------------------------------------------
template <typename F>
void DiscHead<F>::forward(const DiscHeadWeights<F>& w, const F* x, int R, int C) {
  R_ = R;
  C_ = C;
  h_.resize((int64_t)R * C);
  g_.resize((int64_t)R * C);  // gelu(h); in backward, its gradient
  logits_.resize(R);
  matmul_forward(h_.data(), x, w.densew, w.denseb, R, C, C, prec_);
  gelu_forward(g_.data(), h_.data(), (int64_t)R * C);
  matmul_forward(logits_.data(), g_.data(), w.predw, w.predb, R, C, 1, prec_);
}

template <typename F>
void DiscHead<F>::backward(F* dx, const DiscHeadWeights<F>& dw, const F* dlogits, const DiscHeadWeights<F>& w,
                           const F* x) {
  const int R = R_, C = C_;
  // the gradient of g is written over g once its weight gradient is taken: no buffer of its own
  matmul_backward((F*)nullptr, dw.predw, dw.predb, dlogits, g_.data(), w.predw, R, C, 1, false, prec_);
  matmul_backward(g_.data(), (F*)nullptr, (F*)nullptr, dlogits, g_.data(), w.predw, R, C, 1, false, prec_);
  gelu_backward(g_.data(), h_.data(), g_.data(), (int64_t)R * C);
  matmul_backward(dx, dw.densew, dw.denseb, g_.data(), x, w.densew, R, C, C, false, prec_);
}

template <typename F>
void GenHead<F>::forward(const GenHeadWeights<F>& w, const F* wte, const F* x, int R, int C, int E, int V,
                         double eps) {
  R_ = R, C_ = C, E_ = E, V_ = V;
  for (auto* v : {&h_, &g_, &y_, &dy_}) v->resize((int64_t)R * E);
  ym_.resize(R);
  ys_.resize(R);
  logits_.resize((int64_t)R * V);
  matmul_forward(h_.data(), x, w.densew, w.denseb, R, C, E, prec_);
  gelu_forward(g_.data(), h_.data(), (int64_t)R * E);
  layernorm_forward(y_.data(), ym_.data(), ys_.data(), g_.data(), w.lnw, w.lnb, R, E, eps);
  matmul_forward(logits_.data(), y_.data(), wte, w.bias, R, E, V, prec_);
}

template <typename F>
void GenHead<F>::backward(F* dx, const GenHeadWeights<F>& dw, F* dwte, const F* dlogits, const GenHeadWeights<F>& w,
                          const F* wte, const F* x) {
  const int R = R_, C = C_, E = E_, V = V_;
  matmul_backward(dy_.data(), dwte, dw.bias, dlogits, y_.data(), wte, R, E, V, false, prec_);
  layernorm_backward(dy_.data(), dw.lnw, dw.lnb, dy_.data(), g_.data(), ym_.data(), ys_.data(), w.lnw, R, E, false);
  gelu_backward(dy_.data(), h_.data(), dy_.data(), (int64_t)R * E);
  matmul_backward(dx, dw.densew, dw.denseb, dy_.data(), x, w.densew, R, C, E, false, prec_);
}

template <typename F>
void ClsHead<F>::forward(const ClsHeadWeights<F>& w, const F* x, int B, int C, int NL, float p_drop,
                         const DropoutCtx& dr) {
  B_ = B, C_ = C, NL_ = NL;
  p_ = dr.training ? p_drop : 0.f;
  dr_ = dr;
  dr_.model = 2;
  for (auto* v : {&xd_, &h_, &g_, &gd_, &dtmp_}) v->resize((int64_t)B * C);
  logits_.resize((int64_t)B * NL);
  dropout_forward(xd_.data(), x, (int64_t)B * C, p_, dr_.seed, dr_.stream(0));
  if (w.densew) {
    matmul_forward(h_.data(), xd_.data(), w.densew, w.denseb, B, C, C, prec_);
    gelu_forward(g_.data(), h_.data(), (int64_t)B * C);
    dropout_forward(gd_.data(), g_.data(), (int64_t)B * C, p_, dr_.seed, dr_.stream(1));
    matmul_forward(logits_.data(), gd_.data(), w.outw, w.outb, B, C, NL, prec_);
  } else {
    matmul_forward(logits_.data(), xd_.data(), w.outw, w.outb, B, C, NL, prec_);
  }
}

template <typename F>
void ClsHead<F>::backward(F* dx, const ClsHeadWeights<F>& dw, const F* dlogits, const ClsHeadWeights<F>& w) {
  const int B = B_, C = C_, NL = NL_;
  if (w.densew) {
    matmul_backward(dtmp_.data(), dw.outw, dw.outb, dlogits, gd_.data(), w.outw, B, C, NL, false, prec_);
    dropout_forward(dtmp_.data(), dtmp_.data(), (int64_t)B * C, p_, dr_.seed, dr_.stream(1));
    gelu_backward(dtmp_.data(), h_.data(), dtmp_.data(), (int64_t)B * C);
    matmul_backward(dx, dw.densew, dw.denseb, dtmp_.data(), xd_.data(), w.densew, B, C, C, false, prec_);
  } else {
    matmul_backward(dx, dw.outw, dw.outb, dlogits, xd_.data(), w.outw, B, C, NL, false, prec_);
  }
  dropout_forward(dx, dx, (int64_t)B * C, p_, dr_.seed, dr_.stream(0));
}

template <typename F>
void init_weights(const ParamTable& table, F* params, uint64_t seed, double range) {
  const auto& es = table.entries();
  for (size_t k = 0; k < es.size(); k++) {
    const TensorEntry& e = es[k];
    F* p = params + e.offset;
    const bool ln = e.name.find("LayerNorm") != std::string::npos;
    const bool bias = e.name.size() >= 4 && e.name.compare(e.name.size() - 4, 4, "bias") == 0;
    if (ln && !bias) {
      std::fill(p, p + e.size, F(1));
    } else if (bias) {
      std::fill(p, p + e.size, F(0));
    } else {
      const uint64_t stream = make_stream(kStreamInit, (uint32_t)k, 0);
      for (size_t i = 0; i < e.size; i++) {
        double z;
        uint64_t j = 0;
        do {  // Box-Muller, redrawn until within ±2σ (TensorFlow's truncated_normal)
          const double u1 = (random_u32(seed, stream, i * 64 + j) + 1.0) / 4294967297.0;
          const double u2 = random_u32(seed, stream, i * 64 + j + 1) / 4294967296.0;
          z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
          j += 2;
        } while (std::fabs(z) > 2.0 && j < 64);
        p[i] = (F)(range * (std::fabs(z) > 2.0 ? 0.0 : z));
      }
    }
  }
}

#define INSTANTIATE(F)                                                            \
  template EmbeddingWeights<F> bind<F>(const EmbeddingLayout&, F*);               \
  template EncoderWeights<F> bind<F>(const EncoderLayout&, F*);                   \
  template DiscHeadWeights<F> bind<F>(const DiscHeadLayout&, F*);                 \
  template GenHeadWeights<F> bind<F>(const GenHeadLayout&, F*);                   \
  template ClsHeadWeights<F> bind<F>(const ClsHeadLayout&, F*);                   \
  template class Encoder<F>;                                                      \
  template class DiscHead<F>;                                                     \
  template class GenHead<F>;                                                      \
  template class ClsHead<F>;                                                      \
  template void init_weights<F>(const ParamTable&, F*, uint64_t, double);
INSTANTIATE(float)
INSTANTIATE(double)

}  // namespace electra
