// pretrain.h: ELECTRA's pre-training step on the CPU: masking by ELECTRA's rules, the generator's
// masked-LM loss, Gumbel-max sampling of replacements, and the discriminator's replaced-token
// detection loss, total = gen_weight × MLM + disc_weight × RTD, with gradients of every parameter.
// The generator and discriminator share the embedding block (word, position, token-type embeddings
// and their LayerNorm); each has its own embeddings_project. Also the `mlm` objective: a BERT-style
// masked LM of the discriminator's size, no discriminator.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/model.h"
#include "engine/params.h"

namespace electra {

struct SpecialIds {
  int pad = 0, unk = 100, cls = 101, sep = 102, mask = 103;  // BERT's uncased vocabulary
};

struct PretrainConfig {
  ElectraConfig disc;             // the discriminator (or the MLM model of the mlm objective)
  ElectraConfig gen;              // the generator (unused by the mlm objective)
  std::string objective = "electra";  // "electra" | "mlm"
  float mask_prob = 0.15f;
  float gen_weight = 1.0f, disc_weight = 50.0f, temperature = 1.0f;
  SpecialIds special;
  Precision precision = Precision::Fp32;  // of every matrix product (kernels.h)
  void validate() const;
};

// A batch of packed sequences (host memory, row-major (B, T)).
struct Batch {
  int B = 0, T = 0;
  const int32_t* input_ids = nullptr;
  const int32_t* token_type_ids = nullptr;
  const int32_t* attention_mask = nullptr;  // 1 token, 0 padding
};

// The generator's input and the prediction targets, as ELECTRA's pretrain_helpers.mask makes them.
struct MaskedInputs {
  int B = 0, T = 0, N = 0;              // N = max predictions per sequence
  std::vector<int32_t> gen_input_ids;   // (B, T) input ids with [MASK] written in
  std::vector<int32_t> positions;       // (B, N) masked positions (0 in unused slots)
  std::vector<int32_t> ids;             // (B, N) original ids there (0 in unused slots)
  std::vector<float> weights;           // (B, N) 1 for used slots, 0 for unused
};

// ELECTRA's max_predictions_per_seq for a sequence length: int((mask_prob + 0.005) * T).
int max_predictions(float mask_prob, int T);

// Masks `batch` by ELECTRA's rules: candidates are tokens (attention mask 1) other than [CLS], [SEP]
// and [MASK]; per sequence n = max(1, min(N, round_half_even(n_tokens × mask_prob))) distinct
// positions (fewer if fewer candidates), drawn uniformly from the counter-based RNG stream of
// (seed, step, sequence); each becomes [MASK] with probability 0.85, else stays unchanged.
void electra_mask(MaskedInputs& out, const Batch& batch, float mask_prob, int N, const SpecialIds& special,
                  uint64_t seed, uint32_t step);

struct StepStats {
  double loss = 0, gen_loss = 0, disc_loss = 0;
  // counts for ELECTRA's evaluation metrics
  double mlm_weight = 0, mlm_correct = 0, sampled_correct = 0;  // argmax == original, sample == original
  double tokens = 0, disc_correct = 0, disc_tp = 0, disc_fp = 0, disc_fn = 0, replaced = 0;
};

template <typename F, typename K = CpuBackend>
class Pretrainer {
 public:
  explicit Pretrainer(const PretrainConfig& cfg);
  // Truncated-normal (±2σ) weights with σ = initializer_range, zero biases, LayerNorm weights 1,
  // all from the counter-based RNG: the same seed gives the same model anywhere.
  void init_weights(uint64_t seed, double initializer_range = 0.02);

  // Computes the step's losses for `batch` masked as `masked`, and (when `backward`) adds
  // grad_scale × d(total)/d(param) into grads(). Gumbel noise comes from u (B, N, V) when given,
  // else from the RNG stream of (seed, step). `training` turns dropout on.
  StepStats forward_backward(const Batch& batch, const MaskedInputs& masked, const float* u, uint64_t seed,
                             uint32_t step, bool training, bool backward, double grad_scale = 1.0);

  const ParamTable& table() const { return table_; }
  // in the backend's memory (host vectors for the CPU, device arrays for CUDA)
  typename K::template Vec<F>& params() { return params_; }
  typename K::template Vec<F>& grads() { return grads_; }
  void zero_grads();
  const PretrainConfig& config() const { return cfg_; }
  bool has_discriminator() const { return cfg_.objective == "electra"; }

  // Results of the last forward pass.
  // (B, N, V): after a forward pass without backward; a backward pass overwrites them with their gradient
  const F* gen_logits() const { return gen_head_.logits(); }
  const std::vector<F>& disc_logits() const { return disc_logits_; } // (B, T)
  const std::vector<int32_t>& sampled() const { return sampled_; }  // (B, N)
  const std::vector<int32_t>& disc_input() const { return disc_input_; }   // (B, T)
  const std::vector<int32_t>& disc_labels() const { return disc_labels_; } // (B, T)

 private:
  PretrainConfig cfg_;
  ParamTable table_;
  EmbeddingLayout emb_;
  EncoderLayout disc_enc_l_, gen_enc_l_;
  DiscHeadLayout disc_head_l_;
  GenHeadLayout gen_head_l_;
  typename K::template Vec<F> params_, grads_;
  std::unique_ptr<Encoder<F, K>> disc_enc_, gen_enc_;
  DiscHead<F, K> disc_head_;
  GenHead<F, K> gen_head_;
  typename K::template Vec<F> gathered_, dgathered_, ddisc_logits_;
  std::vector<F> disc_logits_;  // host copy (metrics, callers)
  std::vector<int32_t> sampled_, disc_input_, disc_labels_, rows_, argmax_;  // host
  // the same small arrays where the kernels run (copies of the host ones on the CPU)
  typename K::template Vec<int32_t> dev_rows_, dev_targets_, dev_argmax_, dev_sampled_, dev_labels_;
  typename K::template Vec<float> dev_weights_;
};

}  // namespace electra
