// classifier.cpp: fine-tuning forward/backward with a sequence head, and discriminator inference.
#include "engine/classifier.h"

#include <cstring>

#include "cpu/kernels.h"
#include "engine/common.h"

namespace electra {

template <typename F>
Classifier<F>::Classifier(const ClassifierConfig& cfg) : cfg_(cfg) {
  cfg_.model.validate("model config");
  if (cfg_.num_labels < 1) throw Error("num_labels must be at least 1");
  emb_ = declare_embeddings(table_, cfg_.model, "electra.embeddings.");
  enc_l_ = declare_encoder(table_, cfg_.model, "electra.");
  head_l_ = declare_cls_head(table_, cfg_.model, cfg_.head, cfg_.num_labels, "");
  params_.assign(table_.total(), F(0));
  grads_.assign(table_.total(), F(0));
  enc_ = std::make_unique<Encoder<F>>(cfg_.model);
  enc_->set_precision(cfg_.precision);
  enc_->set_cls_only(true);  // the head reads [CLS] only
  head_.set_precision(cfg_.precision);
}

template <typename F>
void Classifier<F>::set_cls_only(bool on) {
  enc_->set_cls_only(on);
}

template <typename F>
double Classifier<F>::forward_backward(const Batch& batch, const int32_t* labels, const float* targets, uint64_t seed,
                                       uint32_t step, bool training, bool backward, double grad_scale) {
  const int B = batch.B, T = batch.T, C = cfg_.model.hidden_size, NL = cfg_.num_labels;
  F* P = params_.data();
  F* G = grads_.data();
  DropoutCtx dr{training, seed, step, 0u};
  const auto ew = bind(emb_, P);
  const auto w = bind(enc_l_, P);
  enc_->forward(ew, w, batch.input_ids, batch.token_type_ids, batch.attention_mask, B, T, dr, backward);
  cls_.resize((int64_t)B * C);
  const int64_t stride = enc_->first_position_stride();
  for (int b = 0; b < B; b++) std::memcpy(&cls_[(int64_t)b * C], enc_->output() + b * stride, sizeof(F) * C);
  head_.forward(bind(head_l_, P), cls_.data(), B, C, NL, cfg_.classifier_dropout, dr);
  logits_.assign(head_.logits(), head_.logits() + (int64_t)B * NL);
  dlogits_.resize((int64_t)B * NL);
  double loss = 0;
  F* dl = backward ? dlogits_.data() : nullptr;
  if (!backward && !labels && !targets) return 0;  // prediction only
  if (NL == 1) {
    if (!targets) throw Error("regression needs targets");
    loss = mse_forward_backward(dl, logits_.data(), targets, B, grad_scale / B) / B;
  } else {
    if (!labels) throw Error("classification needs labels");
    for (int b = 0; b < B; b++)
      if (labels[b] < 0 || labels[b] >= NL) throw Error("label " + std::to_string(labels[b]) + " is outside 0.." + std::to_string(NL - 1));
    loss = crossentropy_forward_backward(dl, logits_.data(), labels, nullptr, B, NL, grad_scale / B) / B;
  }
  if (backward) {
    dcls_.resize((int64_t)B * C);
    head_.backward(dcls_.data(), bind(head_l_, G), dlogits_.data(), bind(head_l_, P));
    F* dseq = enc_->output_grad_buffer();
    if (stride != C) std::memset(dseq, 0, sizeof(F) * (size_t)B * T * C);
    for (int b = 0; b < B; b++) std::memcpy(dseq + b * stride, &dcls_[(int64_t)b * C], sizeof(F) * C);
    enc_->backward(bind(emb_, G), bind(enc_l_, G), dseq, ew, w);
  }
  return loss;
}

template <typename F>
Discriminator<F>::Discriminator(const ElectraConfig& cfg) : cfg_(cfg) {
  cfg_.validate("model config");
  emb_ = declare_embeddings(table_, cfg_, "electra.embeddings.");
  enc_l_ = declare_encoder(table_, cfg_, "electra.");
  head_l_ = declare_disc_head(table_, cfg_, "");
  params_.assign(table_.total(), F(0));
  enc_ = std::make_unique<Encoder<F>>(cfg_);
}

template <typename F>
void Discriminator<F>::set_precision(Precision p) {
  enc_->set_precision(p);
  head_.set_precision(p);
}

template <typename F>
const std::vector<F>& Discriminator<F>::forward(const Batch& batch) {
  F* P = params_.data();
  DropoutCtx dr;
  enc_->forward(bind(emb_, P), bind(enc_l_, P), batch.input_ids, batch.token_type_ids, batch.attention_mask, batch.B,
                batch.T, dr, false);
  head_.forward(bind(head_l_, P), enc_->output(), batch.B * batch.T, cfg_.hidden_size);
  logits_.assign(head_.logits(), head_.logits() + (int64_t)batch.B * batch.T);
  return logits_;
}

template class Classifier<float>;
template class Classifier<double>;
template class Discriminator<float>;
template class Discriminator<double>;

}  // namespace electra
