// pretrain_impl.h: the pre-training step (pretrain.h's Pretrainer), written once over a backend K
// (engine/backend.h for the CPU, cuda/backend.h for the GPU). The masking and the step's bookkeeping
// (rows, replaced tokens, metric counts) stay on the host; the passes, losses and sampling run on K.
// Included by pretrain.cpp (CPU instantiations) and cuda/pretrain.cpp; nothing else should include it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/common.h"
#include "engine/model_impl.h"
#include "engine/pretrain.h"
#include "engine/rng.h"

namespace electra {

template <typename F, typename K>
Pretrainer<F, K>::Pretrainer(const PretrainConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  emb_ = declare_embeddings(table_, cfg_.disc, "electra.embeddings.");
  disc_enc_l_ = declare_encoder(table_, cfg_.disc, "electra.");
  disc_enc_ = std::make_unique<Encoder<F, K>>(cfg_.disc);
  if (has_discriminator()) {
    disc_head_l_ = declare_disc_head(table_, cfg_.disc, "");
    gen_enc_l_ = declare_encoder(table_, cfg_.gen, "generator.electra.");
    gen_head_l_ = declare_gen_head(table_, cfg_.gen, "generator.");
    gen_enc_ = std::make_unique<Encoder<F, K>>(cfg_.gen);
  } else {
    gen_head_l_ = declare_gen_head(table_, cfg_.disc, "");
  }
  params_.resize(table_.total());
  grads_.resize(table_.total());
  K::fill_zero(params_.data(), (int64_t)params_.size());
  K::fill_zero(grads_.data(), (int64_t)grads_.size());
  disc_enc_->set_precision(cfg_.precision);
  if (gen_enc_) gen_enc_->set_precision(cfg_.precision);
  disc_head_.set_precision(cfg_.precision);
  gen_head_.set_precision(cfg_.precision);
}

template <typename F, typename K>
void Pretrainer<F, K>::zero_grads() {
  K::fill_zero(grads_.data(), (int64_t)grads_.size());
}

template <typename F, typename K>
void Pretrainer<F, K>::init_weights(uint64_t seed, double range) {
  if constexpr (K::kDevice) {  // made on the host (the same values as the CPU engine's), then uploaded
    std::vector<F> host(table_.total());
    electra::init_weights(table_, host.data(), seed, range);
    K::upload(params_.data(), host.data(), (int64_t)host.size());
  } else {
    electra::init_weights(table_, params_.data(), seed, range);
  }
}

template <typename F, typename K>
StepStats Pretrainer<F, K>::forward_backward(const Batch& batch, const MaskedInputs& mk, const float* u, uint64_t seed,
                                          uint32_t step, bool training, bool backward, double grad_scale) {
  const int B = batch.B, T = batch.T, BT = B * T, N = mk.N, R = B * N;
  if (mk.B != B || mk.T != T) throw Error("internal: masked inputs do not match the batch");
  const ElectraConfig& gc = has_discriminator() ? cfg_.gen : cfg_.disc;
  const int V = gc.vocab_size, E = gc.embedding_size, Cg = gc.hidden_size, C = cfg_.disc.hidden_size;
  Encoder<F, K>& genc = has_discriminator() ? *gen_enc_ : *disc_enc_;
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
  // the step's small host arrays, where the kernels run: rows | targets (ids) | weights | RTD labels | mask
  dev_rows_.resize(R);
  K::upload(dev_rows_.data(), rows_.data(), R);
  dev_targets_.resize(R);
  K::upload(dev_targets_.data(), mk.ids.data(), R);
  dev_weights_.resize(R);
  K::upload(dev_weights_.data(), mk.weights.data(), R);
  gathered_.resize((int64_t)R * Cg);
  K::gather_rows(gathered_.data(), genc.output(), dev_rows_.data(), R, Cg);
  gen_head_.forward(bind(gen_head_l_, P), ew.wte, gathered_.data(), R, Cg, E, V, gc.layer_norm_eps);
  F* logits = gen_head_.logits_mut();  // (R, V); with backward, overwritten below by their gradient
  st.mlm_weight = 0;
  argmax_.resize(R);
  dev_argmax_.resize(R);
  K::argmax_rows(dev_argmax_.data(), (const F*)logits, R, V);
  K::download(argmax_.data(), dev_argmax_.data(), R);
  for (int r = 0; r < R; r++) {
    st.mlm_weight += mk.weights[r];
    if (mk.weights[r] != 0.f) st.mlm_correct += argmax_[r] == mk.ids[r];
  }
  if (has_discriminator()) {  // replacements: Gumbel-max samples from the generator (no gradient)
    sampled_.resize(R);
    dev_sampled_.resize(R);
    K::gumbel_sample(dev_sampled_.data(), (const F*)logits, R, V, cfg_.temperature, u, seed,
                     make_stream(kStreamGumbel, 0, step));
    K::download(sampled_.data(), dev_sampled_.data(), R);
  }
  const double gen_denom = 1e-6 + st.mlm_weight;
  const double gen_sum = K::crossentropy_forward_backward(backward ? logits : (F*)nullptr, (const F*)logits,
                                                          (const int32_t*)dev_targets_.data(),
                                                          (const float*)dev_weights_.data(), R, V,
                                                          cfg_.gen_weight * grad_scale / gen_denom);
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
    disc_logits_.resize(BT);
    K::download(disc_logits_.data(), disc_head_.logits(), BT);
    double msum = 0;
    for (int i = 0; i < BT; i++) msum += batch.attention_mask ? (batch.attention_mask[i] != 0) : 1;
    const double disc_denom = 1e-6 + msum;
    ddisc_logits_.resize(BT);
    dev_labels_.resize((size_t)2 * BT);  // labels | attention mask
    K::upload(dev_labels_.data(), disc_labels_.data(), BT);
    if (batch.attention_mask) K::upload(dev_labels_.data() + BT, batch.attention_mask, BT);
    const double disc_sum = K::rtd_loss_forward_backward(
        backward ? ddisc_logits_.data() : (F*)nullptr, disc_head_.logits(), (const int32_t*)dev_labels_.data(),
        batch.attention_mask ? (const int32_t*)dev_labels_.data() + BT : (const int32_t*)nullptr, BT,
        cfg_.disc_weight * grad_scale / disc_denom);
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
    K::fill_zero(dseq, (int64_t)BT * Cg);
    // scatter-add (positions may repeat only in unused slots, whose rows are 0)
    K::scatter_add_rows(dseq, (const F*)dgathered_.data(), (const int32_t*)dev_rows_.data(),
                        (const float*)dev_weights_.data(), R, Cg);
    genc.backward(dew, bind(genl, G), dseq, ew, bind(genl, P));
  }
  return st;
}

}  // namespace electra
