// classifier.h: an ELECTRA encoder with a sequence head for fine-tuning (ElectraForSequenceClassification):
// classification with softmax cross-entropy, or regression (one output) with mean squared error.
// Also serves inference of a discriminator (ElectraForPreTraining) for `electra detect`.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/model.h"
#include "engine/pretrain.h"

namespace electra {

struct ClassifierConfig {
  ElectraConfig model;
  ClsHeadKind head = ClsHeadKind::Electra;
  int num_labels = 2;           // 1 = regression
  float classifier_dropout = 0.1f;
  Precision precision = Precision::Fp32;  // of every matrix product (kernels.h)
};

template <typename F>
class Classifier {
 public:
  explicit Classifier(const ClassifierConfig& cfg);
  // Mean loss over the batch; labels (B) for classification, targets (B) for regression. Adds
  // grad_scale × gradients into grads() when `backward`. logits() is then (B, NL).
  double forward_backward(const Batch& batch, const int32_t* labels, const float* targets, uint64_t seed,
                          uint32_t step, bool training, bool backward, double grad_scale = 1.0);
  const std::vector<F>& logits() const { return logits_; }
  const ParamTable& table() const { return table_; }
  std::vector<F>& params() { return params_; }
  std::vector<F>& grads() { return grads_; }
  const ClassifierConfig& config() const { return cfg_; }
  // Whether the last layer runs for [CLS] only (Encoder::set_cls_only; the default): off, every
  // position (the same function: tests and benchmarks compare the two).
  void set_cls_only(bool on);

 private:
  ClassifierConfig cfg_;
  ParamTable table_;
  EmbeddingLayout emb_;
  EncoderLayout enc_l_;
  ClsHeadLayout head_l_;
  std::vector<F> params_, grads_, cls_, dcls_, dlogits_, logits_;
  std::unique_ptr<Encoder<F>> enc_;
  ClsHead<F> head_;
};

// A discriminator for inference (ElectraForPreTraining): per-token replaced logits.
template <typename F>
class Discriminator {
 public:
  explicit Discriminator(const ElectraConfig& cfg);
  // logits (B, T) of "this token was replaced".
  const std::vector<F>& forward(const Batch& batch);
  void set_precision(Precision p);  // of every matrix product (kernels.h); fp32 unless set
  const ParamTable& table() const { return table_; }
  std::vector<F>& params() { return params_; }

 private:
  ElectraConfig cfg_;
  ParamTable table_;
  EmbeddingLayout emb_;
  EncoderLayout enc_l_;
  DiscHeadLayout head_l_;
  std::vector<F> params_, logits_;
  std::unique_ptr<Encoder<F>> enc_;
  DiscHead<F> head_;
};

}  // namespace electra
