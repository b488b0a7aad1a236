// test_finetune.cpp: fine-tuning plumbing: layer-wise learning-rate decay (ELECTRA's depths and the
// corrected ones), loading an encoder from a discriminator directory, saving the classifier.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>
#include <algorithm>
#include <cstdio>

#include "check.h"
#include "engine/checkpoint.h"
#include "engine/classifier.h"
#include "engine/safetensors.h"
#include "engine/trainer.h"

using namespace electra;

static FinetuneOptions options(const char* mode) {
  FinetuneOptions o;
  ElectraConfig c;
  c.vocab_size = 40, c.embedding_size = 8, c.hidden_size = 16, c.num_hidden_layers = 2, c.num_attention_heads = 2;
  c.intermediate_size = 32, c.max_position_embeddings = 16;
  o.model.model = c;
  o.model.num_labels = 3;
  o.layerwise_lr_decay = 0.5;
  o.layerwise_corrected = std::string(mode) == "corrected";
  return o;
}

static double scale_of(FinetuneTrainer& t, const std::string& name) {
  const auto& es = t.model().table().entries();
  for (size_t i = 0; i < es.size(); i++)
    if (es[i].name == name) return t.lr_scales()[i];
  return -1;
}

TEST(layerwise_decay_follows_electra_and_the_corrected_depths) {
  FinetuneTrainer e(options("electra")), c(options("corrected"));
  // ELECTRA: embeddings 0, layer i at i + 1, head at L + 2 = 4: lr * 0.5^(4 - depth)
  CHECK(scale_of(e, "electra.embeddings.word_embeddings.weight") == std::pow(0.5, 4));
  CHECK(scale_of(e, "electra.embeddings_project.weight") == std::pow(0.5, 4));
  CHECK(scale_of(e, "electra.encoder.layer.0.attention.self.query.weight") == std::pow(0.5, 3));
  CHECK(scale_of(e, "electra.encoder.layer.1.output.dense.bias") == std::pow(0.5, 2));
  CHECK(scale_of(e, "classifier.out_proj.weight") == 1.0);
  // corrected: head at L + 1 = 3, so the last layer gets 0.5^1
  CHECK(scale_of(c, "electra.embeddings.word_embeddings.weight") == std::pow(0.5, 3));
  CHECK(scale_of(c, "electra.encoder.layer.1.output.dense.bias") == 0.5);
  CHECK(scale_of(c, "classifier.out_proj.bias") == 1.0);
}

TEST(encoder_loads_from_a_discriminator_and_the_classifier_saves) {
  char tmpl[] = "/tmp/electra-ft-XXXXXX";
  std::string root = mkdtemp(tmpl);
  FinetuneOptions o = options("electra");
  Discriminator<float> d(o.model.model);
  init_weights(d.table(), d.params().data(), 5, 0.3);
  save_model_dir(root + "/disc", o.model.model, "ElectraForPreTraining", d.table(), d.params().data());
  FinetuneTrainer t(o);
  t.init_weights();
  auto unexpected = t.load_encoder(root + "/disc");
  CHECK(unexpected.size() == 4);  // discriminator_predictions.* is not used by a classifier
  const auto& te = t.model().table();
  for (const auto& e : d.table().entries()) {
    const TensorEntry* f = te.find(e.name);
    if (!f) continue;
    for (size_t i = 0; i < e.size; i++) CHECK(t.model().params()[f->offset + i] == d.params()[e.offset + i]);
  }
  t.save(root + "/cls", {{"num_labels", "3"}});
  SafeTensors st = SafeTensors::load(root + "/cls/model.safetensors");
  CHECK(st.find("classifier.out_proj.weight") && st.find("electra.encoder.layer.1.output.LayerNorm.bias"));
  CHECK_THROWS(t.load_encoder(root + "/nope"), "nope");
}

TEST(inference_forward_shares_buffers_and_gives_the_same_logits) {
  // Without backward the encoder keeps one layer's activations, not all of them: the logits and the
  // loss must be bit-identical to a training-mode forward's (no dropout in either), and a training
  // step after an inference pass must still work.
  FinetuneOptions o = options("electra");
  Classifier<float> m(o.model);
  for (size_t i = 0; i < m.params().size(); i++) m.params()[i] = 0.05f * std::sin(0.37f * (float)i);
  const int B = 3, T = 7;
  std::vector<int32_t> ids(B * T), tt(B * T, 0), mask(B * T, 1), labels = {0, 2, 1};
  for (int i = 0; i < B * T; i++) ids[i] = 1 + (i * 7) % 39;
  mask[B * T - 1] = 0;
  Batch b{B, T, ids.data(), tt.data(), mask.data()};
  const double l_inf = m.forward_backward(b, labels.data(), nullptr, 1, 0, false, false);
  const std::vector<float> logits_inf = m.logits();
  const double l_train = m.forward_backward(b, labels.data(), nullptr, 1, 0, false, true);
  CHECK(l_inf == l_train);
  CHECK(logits_inf == m.logits());
  const double again = m.forward_backward(b, labels.data(), nullptr, 1, 0, false, false);
  CHECK(again == l_inf);
}

// The last layer for [CLS] only (the classifier's default) against every position (set_cls_only
// off), with dropout on (the same masks), padding, one layer or two (the [CLS] layer's input is then
// the embeddings or a layer's output): loss, logits and every gradient against fp64 over every
// position. fp64 to rounding; in fp32 and bf16 mode the [CLS] path must be no further from fp64 than
// about what the full path is (its attention's products stay fp32). Errors are relative to the
// tensor's largest value, or to a millionth of the model's largest gradient where that is more
// (the key bias's gradient is zero but for rounding: softmax ignores a shift shared by all keys).
struct ClsRun {
  double loss;
  std::vector<double> logits, grads;
};

template <typename F>
static ClsRun run_cls(int layers, Precision prec, bool cls) {
  FinetuneOptions o = options("electra");
  o.model.model.num_hidden_layers = layers;
  o.model.precision = prec;
  const int B = 3, T = 9;
  std::vector<int32_t> ids(B * T), tt(B * T, 0), mask(B * T, 1), labels = {0, 2, 1};
  for (int i = 0; i < B * T; i++) ids[i] = 1 + (i * 7) % 39;
  for (int t = 6; t < T; t++) mask[T + t] = 0, tt[2 * T + t] = 1;
  Batch b{B, T, ids.data(), tt.data(), mask.data()};
  Classifier<F> m(o.model);
  m.set_cls_only(cls);
  for (size_t i = 0; i < m.params().size(); i++) m.params()[i] = (F)(0.3 * std::sin(0.37 * (double)i + 0.1));
  ClsRun r;
  r.loss = m.forward_backward(b, labels.data(), nullptr, 5, 3, true, true);
  r.grads.assign(m.grads().begin(), m.grads().end());
  r.logits.assign(m.logits().begin(), m.logits().end());
  // and without backward (the inference buffers): the same loss
  CHECK(m.forward_backward(b, labels.data(), nullptr, 5, 3, true, false) == r.loss);
  return r;
}

// the largest error of a against r over the model's tensors (and the logits, the loss)
static double cls_error(const ClsRun& a, const ClsRun& r, const ParamTable& table) {
  double gmax = 0, worst = std::fabs(a.loss - r.loss) / std::fabs(r.loss);
  for (double g : r.grads) gmax = std::max(gmax, std::fabs(g));
  auto err = [&](const double* x, const double* y, size_t n, double floor) {
    double d = 0, m = floor;
    for (size_t i = 0; i < n; i++) d = std::max(d, std::fabs(x[i] - y[i])), m = std::max(m, std::fabs(y[i]));
    return d / m;
  };
  worst = std::max(worst, err(a.logits.data(), r.logits.data(), r.logits.size(), 1e-30));
  for (const auto& e : table.entries())
    worst = std::max(worst, err(a.grads.data() + e.offset, r.grads.data() + e.offset, e.size, 1e-6 * gmax));
  return worst;
}

TEST(cls_only_last_layer_is_the_same_function) {
  for (int layers : {1, 2}) {
    const ClsRun ref = run_cls<double>(layers, Precision::Fp32, false);
    FinetuneOptions o = options("electra");
    o.model.model.num_hidden_layers = layers;
    Classifier<double> shape(o.model);
    const ParamTable& t = shape.table();
    const double f64 = cls_error(run_cls<double>(layers, Precision::Fp32, true), ref, t);
    const double f32 = cls_error(run_cls<float>(layers, Precision::Fp32, true), ref, t);
    const double f32_full = cls_error(run_cls<float>(layers, Precision::Fp32, false), ref, t);
    const double b16 = cls_error(run_cls<float>(layers, Precision::Bf16, true), ref, t);
    const double b16_full = cls_error(run_cls<float>(layers, Precision::Bf16, false), ref, t);
    std::printf("  %d layer(s), largest error against fp64 over every position: fp64 %.2g; fp32 %.2g (full %.2g); "
                "bf16 %.2g (full %.2g)\n", layers, f64, f32, f32_full, b16, b16_full);
    CHECK(f64 < 1e-12);
    CHECK(f32 < 1e-3 && f32 <= std::max(2 * f32_full, 1e-5));
    CHECK(b16 <= std::max(b16_full, 1e-2));
  }
}

TEST_MAIN()
