// pretrain.cpp: masking, the generator and discriminator passes, sampling, losses and gradients of
// one ELECTRA pre-training step.
#include "engine/pretrain.h"
#include "engine/profile.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

void PretrainConfig::validate() const {
  disc.validate("discriminator config");
  if (objective != "electra" && objective != "mlm")
    throw Error("objective must be \"electra\" or \"mlm\" (got \"" + objective + "\")");
  if (objective == "electra") {
    gen.validate("generator config");
    if (gen.embedding_size != disc.embedding_size || gen.vocab_size != disc.vocab_size ||
        gen.max_position_embeddings != disc.max_position_embeddings || gen.type_vocab_size != disc.type_vocab_size)
      throw Error(
          "generator config: the generator shares the embedding block with the discriminator, so its "
          "embedding_size, vocab_size, max_position_embeddings and type_vocab_size must equal the discriminator's");
  }
  if (!(mask_prob > 0 && mask_prob < 1)) throw Error("mask_prob must be in (0, 1)");
  for (int id : {special.pad, special.unk, special.cls, special.sep, special.mask})
    if (id < 0 || id >= disc.vocab_size) throw Error("a special token id is outside the vocabulary");
}

int max_predictions(float mask_prob, int T) { return (int)((mask_prob + 0.005) * T); }

void electra_mask(MaskedInputs& out, const Batch& batch, float mask_prob, int N, const SpecialIds& sp, uint64_t seed,
                  uint32_t step) {
  ProfileScope prof("electra_mask");
  const int B = batch.B, T = batch.T;
  out.B = B, out.T = T, out.N = N;
  out.gen_input_ids.assign(batch.input_ids, batch.input_ids + (int64_t)B * T);
  out.positions.assign((int64_t)B * N, 0);
  out.ids.assign((int64_t)B * N, 0);
  out.weights.assign((int64_t)B * N, 0.f);
  std::vector<int32_t> cand;
  for (int b = 0; b < B; b++) {
    const int32_t* ids = batch.input_ids + (int64_t)b * T;
    const int32_t* m = batch.attention_mask ? batch.attention_mask + (int64_t)b * T : nullptr;
    cand.clear();
    int ntok = 0;
    for (int t = 0; t < T; t++) {
      if (m && !m[t]) continue;
      ntok++;
      if (ids[t] != sp.cls && ids[t] != sp.sep && ids[t] != sp.mask) cand.push_back(t);
    }
    int n = std::max(1, std::min(N, (int)std::nearbyint(ntok * (double)mask_prob)));  // round half to even
    n = std::min<int>(n, (int)cand.size());
    const uint64_t stream = make_stream(kStreamMask, (uint32_t)b, step);
    // Partial Fisher-Yates: the first n of a uniform random permutation of the candidates.
    for (int i = 0; i < n; i++) {
      const uint32_t r = random_u32(seed, stream, (uint64_t)i);
      const int j = i + (int)(((uint64_t)r * (uint64_t)(cand.size() - i)) >> 32);
      std::swap(cand[i], cand[j]);
    }
    std::sort(cand.begin(), cand.begin() + n);
    for (int i = 0; i < n; i++) {
      const int t = cand[i];
      out.positions[(int64_t)b * N + i] = t;
      out.ids[(int64_t)b * N + i] = ids[t];
      out.weights[(int64_t)b * N + i] = 1.f;
      if (random_unit(seed, stream, (uint64_t)(1 << 20) + i) < 0.85f) out.gen_input_ids[(int64_t)b * T + t] = sp.mask;
    }
  }
}

template <typename F>
Pretrainer<F>::Pretrainer(const PretrainConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  emb_ = declare_embeddings(table_, cfg_.disc, "electra.embeddings.");
  disc_enc_l_ = declare_encoder(table_, cfg_.disc, "electra.");
  disc_enc_ = std::make_unique<Encoder<F>>(cfg_.disc);
  if (has_discriminator()) {
    disc_head_l_ = declare_disc_head(table_, cfg_.disc, "");
    gen_enc_l_ = declare_encoder(table_, cfg_.gen, "generator.electra.");
    gen_head_l_ = declare_gen_head(table_, cfg_.gen, "generator.");
    gen_enc_ = std::make_unique<Encoder<F>>(cfg_.gen);
  } else {
    gen_head_l_ = declare_gen_head(table_, cfg_.disc, "");
  }
  params_.assign(table_.total(), F(0));
  grads_.assign(table_.total(), F(0));
  disc_enc_->set_precision(cfg_.precision);
  if (gen_enc_) gen_enc_->set_precision(cfg_.precision);
  disc_head_.set_precision(cfg_.precision);
  gen_head_.set_precision(cfg_.precision);
}

template <typename F>
void Pretrainer<F>::zero_grads() {
  fill_zero(grads_.data(), (int64_t)grads_.size());
}

template <typename F>
void Pretrainer<F>::init_weights(uint64_t seed, double range) {
  electra::init_weights(table_, params_.data(), seed, range);
}

template <typename F>
StepStats Pretrainer<F>::forward_backward(const Batch& batch, const MaskedInputs& mk, const float* u, uint64_t seed,
                                          uint32_t step, bool training, bool backward, double grad_scale) {
  const int B = batch.B, T = batch.T, BT = B * T, N = mk.N, R = B * N;
  if (mk.B != B || mk.T != T) throw Error("internal: masked inputs do not match the batch");
  const ElectraConfig& gc = has_discriminator() ? cfg_.gen : cfg_.disc;
  const int V = gc.vocab_size, E = gc.embedding_size, Cg = gc.hidden_size, C = cfg_.disc.hidden_size;
  Encoder<F>& genc = has_discriminator() ? *gen_enc_ : *disc_enc_;
  const EncoderLayout& genl = has_discriminator() ? gen_enc_l_ : disc_enc_l_;
  F* P = params_.data();
  F* G = grads_.data();
  const auto ew = bind(emb_, P);
  const auto dew = bind(emb_, G);
  StepStats st;

  // ---- generator: masked LM over the masked positions
  DropoutCtx gdr{training, seed, step, has_discriminator() ? 1u : 0u};
  genc.forward(ew, bind(genl, P), mk.gen_input_ids.data(), batch.token_type_ids, batch.attention_mask, B, T, gdr,
               backward);
  rows_.resize(R);
  for (int r = 0; r < R; r++) rows_[r] = (r / N) * T + mk.positions[r];
  gathered_.resize((int64_t)R * Cg);
  const F* gout = genc.output();
  for (int r = 0; r < R; r++) std::memcpy(&gathered_[(int64_t)r * Cg], gout + (int64_t)rows_[r] * Cg, sizeof(F) * Cg);
  gen_head_.forward(bind(gen_head_l_, P), ew.wte, gathered_.data(), R, Cg, E, V, gc.layer_norm_eps);
  F* logits = gen_head_.logits_mut();  // (R, V); with backward, overwritten below by their gradient
  st.mlm_weight = 0;
  argmax_.resize(R);
  argmax_rows(argmax_.data(), (const F*)logits, R, V);
  for (int r = 0; r < R; r++) {
    st.mlm_weight += mk.weights[r];
    if (mk.weights[r] != 0.f) st.mlm_correct += argmax_[r] == mk.ids[r];
  }
  if (has_discriminator()) {  // replacements: Gumbel-max samples from the generator (no gradient)
    sampled_.resize(R);
    gumbel_sample(sampled_.data(), (const F*)logits, R, V, cfg_.temperature, u, seed, make_stream(kStreamGumbel, 0, step));
  }
  const double gen_denom = 1e-6 + st.mlm_weight;
  const double gen_sum = crossentropy_forward_backward(backward ? logits : (F*)nullptr, logits, mk.ids.data(),
                                                       mk.weights.data(), R, V, cfg_.gen_weight * grad_scale / gen_denom);
  st.gen_loss = gen_sum / gen_denom;

  if (has_discriminator()) {
    disc_input_.assign(batch.input_ids, batch.input_ids + BT);
    for (int r = 0; r < R; r++) {
      if (mk.weights[r] == 0.f) continue;
      disc_input_[rows_[r]] = sampled_[r];
      st.sampled_correct += sampled_[r] == mk.ids[r];
    }
    disc_labels_.resize(BT);
    for (int i = 0; i < BT; i++) disc_labels_[i] = disc_input_[i] != batch.input_ids[i];

    // ---- discriminator: replaced-token detection on every token
    DropoutCtx ddr{training, seed, step, 0u};
    const auto dw = bind(disc_enc_l_, P);
    disc_enc_->forward(ew, dw, disc_input_.data(), batch.token_type_ids, batch.attention_mask, B, T, ddr, backward);
    disc_head_.forward(bind(disc_head_l_, P), disc_enc_->output(), BT, C);
    disc_logits_.assign(disc_head_.logits(), disc_head_.logits() + BT);
    double msum = 0;
    for (int i = 0; i < BT; i++) msum += batch.attention_mask ? (batch.attention_mask[i] != 0) : 1;
    const double disc_denom = 1e-6 + msum;
    ddisc_logits_.resize(BT);
    const double disc_sum =
        rtd_loss_forward_backward(backward ? ddisc_logits_.data() : (F*)nullptr, disc_logits_.data(),
                                  disc_labels_.data(), batch.attention_mask, BT, cfg_.disc_weight * grad_scale / disc_denom);
    st.disc_loss = disc_sum / disc_denom;
    st.tokens = msum;
    for (int i = 0; i < BT; i++) {
      if (batch.attention_mask && !batch.attention_mask[i]) continue;
      const int pred = disc_logits_[i] > 0, y = disc_labels_[i];
      st.disc_correct += pred == y;
      st.disc_tp += pred && y;
      st.disc_fp += pred && !y;
      st.disc_fn += !pred && y;
      st.replaced += y;
    }
    if (backward) {
      F* dseq = disc_enc_->output_grad_buffer();  // (BT, C), the encoder's own scratch
      disc_head_.backward(dseq, bind(disc_head_l_, G), ddisc_logits_.data(), bind(disc_head_l_, P),
                          disc_enc_->output());
      disc_enc_->backward(dew, bind(disc_enc_l_, G), dseq, ew, dw);
    }
  }
  st.loss = cfg_.gen_weight * st.gen_loss + (has_discriminator() ? cfg_.disc_weight * st.disc_loss : 0.0);

  if (backward) {
    dgathered_.resize((int64_t)R * Cg);
    gen_head_.backward(dgathered_.data(), bind(gen_head_l_, G), dew.wte, logits, bind(gen_head_l_, P),
                       ew.wte, gathered_.data());
    F* dseq = genc.output_grad_buffer();
    std::memset(dseq, 0, sizeof(F) * (size_t)BT * Cg);
    for (int r = 0; r < R; r++) {  // scatter-add (positions may repeat only in unused slots, whose rows are 0)
      F* d = dseq + (int64_t)rows_[r] * Cg;
      const F* s = &dgathered_[(int64_t)r * Cg];
      for (int i = 0; i < Cg; i++) d[i] += s[i];
    }
    genc.backward(dew, bind(genl, G), dseq, ew, bind(genl, P));
  }
  return st;
}

template class Pretrainer<float>;
template class Pretrainer<double>;

}  // namespace electra
