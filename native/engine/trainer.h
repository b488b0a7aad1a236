// trainer.h: one optimizer step of pre-training or fine-tuning: masking (pre-training), forward and
// backward over micro-batches (gradient accumulation), clipping, AdamW with ELECTRA's schedule.
// Options arrive as JSON (the binding passes what the CLI resolved). Not here: data loading,
// checkpoints of training state, reporting.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/classifier.h"
#include "engine/json.h"
#include "engine/optim.h"
#include "engine/pretrain.h"

namespace electra {

struct Schedule {
  double lr = 5e-4;
  int64_t warmup_steps = 10000;
  int64_t total_steps = 1000000;
  double lr_at(int64_t step) const { return electra_learning_rate(lr, step, warmup_steps, total_steps); }
};

// "precision" of an options object: "fp32" (the default) or "bf16"; anything else throws.
Precision precision_from_json(const json::Value& v, const std::string& what);

struct PretrainOptions {
  PretrainConfig model;
  Schedule schedule;
  AdamWConfig adam;
  uint64_t seed = 1;
  std::string device = "cpu";  // "cpu" or "cuda" (the CUDA engine on device 0)
  // {"discriminator": {...}, "generator": {...}, "objective", "mask_prob", "gen_weight", "disc_weight",
  //  "temperature", "special_ids": {"pad","unk","cls","sep","mask"}, "lr", "warmup_steps",
  //  "total_steps", "weight_decay", "clip_norm", "seed", "precision": "fp32" | "bf16",
  //  "device": "cpu" | "cuda"}
  static PretrainOptions from_json(const std::string& text);
};

struct TrainStepResult {
  StepStats stats;   // summed over micro-batches (losses averaged)
  double lr = 0, grad_norm = 0;
  int64_t step = 0;  // the step just taken (0-based)
};

// The pre-training model and its optimizer on one backend: the CPU engine, or the CUDA one (built in
// cuda/trainer.cpp). Weights, gradients and optimizer moments live where the kernels run; the host
// sees batches in, statistics out, and copies of the weights and moments for checkpoints.
class PretrainBackend {
 public:
  virtual ~PretrainBackend() = default;
  virtual const ParamTable& table() const = 0;
  virtual bool has_discriminator() const = 0;
  virtual void init_weights(uint64_t seed, double range) = 0;
  virtual void zero_grads() = 0;
  virtual StepStats forward_backward(const Batch& batch, const MaskedInputs& masked, uint64_t seed, uint32_t step,
                                     bool training, bool backward, double grad_scale) = 0;
  // Clips and applies the gradients with AdamW at `lr`; returns the gradient norm before clipping.
  virtual double optimizer_step(double lr) = 0;
  virtual const std::vector<float>& disc_logits() const = 0;   // (B, T) of the last forward pass
  virtual const std::vector<int32_t>& disc_labels() const = 0; // (B, T)
  virtual void read_params(float* host) = 0;         // table().total() values
  virtual void write_params(const float* host) = 0;
  virtual void read_moments(float* m, float* v) = 0;  // AdamW's, table().total() each
  virtual void write_moments(const float* m, const float* v) = 0;
  virtual std::string device_name() const = 0;        // "cpu" or the GPU's name
};
// What every backend forwards to its Pretrainer (Model: Pretrainer<float, K>).
template <typename Model>
class ModelPretrainBackend : public PretrainBackend {
 public:
  explicit ModelPretrainBackend(const PretrainConfig& cfg) : model_(cfg) {}
  const ParamTable& table() const override { return model_.table(); }
  bool has_discriminator() const override { return model_.has_discriminator(); }
  void init_weights(uint64_t seed, double range) override { model_.init_weights(seed, range); }
  void zero_grads() override { model_.zero_grads(); }
  StepStats forward_backward(const Batch& b, const MaskedInputs& mk, uint64_t seed, uint32_t step, bool training,
                             bool backward, double grad_scale) override {
    return model_.forward_backward(b, mk, nullptr, seed, step, training, backward, grad_scale);
  }
  const std::vector<float>& disc_logits() const override { return model_.disc_logits(); }
  const std::vector<int32_t>& disc_labels() const override { return model_.disc_labels(); }

 protected:
  Model model_;
};

std::unique_ptr<PretrainBackend> make_cpu_pretrain_backend(const PretrainOptions& opt);
// Throws electra::Error when the build has no CUDA backend or the machine no device.
std::unique_ptr<PretrainBackend> make_cuda_pretrain_backend(const PretrainOptions& opt);

class PretrainTrainer {
 public:
  explicit PretrainTrainer(const PretrainOptions& opt);
  void init_weights(double range = 0.02) { be_->init_weights(opt_.seed, range); }
  // One optimizer step over the micro-batches (each masked with its own RNG stream).
  TrainStepResult train_step(const std::vector<Batch>& micro);
  // Losses and metrics without updating (no dropout).
  StepStats evaluate(const Batch& batch, uint32_t salt);
  const ParamTable& table() const { return be_->table(); }
  bool has_discriminator() const { return be_->has_discriminator(); }
  const std::vector<float>& disc_logits() const { return be_->disc_logits(); }
  const std::vector<int32_t>& disc_labels() const { return be_->disc_labels(); }
  std::vector<float> params() const;  // a host copy of the weights (flat, table() order)
  PretrainBackend& backend() { return *be_; }
  // Training state beside the model directories: the optimizer moments as safetensors ("m/<name>",
  // "v/<name>") with `metadata` (JSON text: step, data position, ...) stored in the header.
  void save_state(const std::string& path, const std::string& metadata) const;
  // Loads moments saved by save_state (shapes checked) and returns the metadata.
  std::string load_state(const std::string& path);
  // Loads weights from Hugging Face directories (discriminator, generator; either may be empty).
  // Throws naming the directory when a tensor is missing; returns the unexpected tensor names.
  std::vector<std::string> load_models(const std::string& disc_dir, const std::string& gen_dir);
  int64_t step() const { return step_; }
  void set_step(int64_t s) { step_ = s; }
  const PretrainOptions& options() const { return opt_; }

 private:
  PretrainOptions opt_;
  std::unique_ptr<PretrainBackend> be_;
  int64_t step_ = 0;
  MaskedInputs masked_;
};

struct FinetuneOptions {
  ClassifierConfig model;
  Schedule schedule;
  AdamWConfig adam;
  uint64_t seed = 1;
  // Layer-wise learning-rate decay (ELECTRA's fine-tuning): a tensor at depth d gets lr * decay^(top - d)
  // with embeddings at depth 0 and encoder layer i at i + 1. ELECTRA's published code puts the head at
  // L + 2 (top = L + 2, so the last layer already gets decay^2: an off-by-one); "corrected" puts it at
  // L + 1. decay 1 turns it off.
  double layerwise_lr_decay = 0.8;
  bool layerwise_corrected = false;
  static FinetuneOptions from_json(const std::string& text);
};

class FinetuneTrainer {
 public:
  explicit FinetuneTrainer(const FinetuneOptions& opt);
  // labels (B) for classification or targets (B) for regression.
  TrainStepResult train_step(const Batch& batch, const int32_t* labels, const float* targets);
  // logits (B, NL) without dropout.
  const std::vector<float>& predict(const Batch& batch);
  Classifier<float>& model() { return model_; }
  void init_weights(double range = 0.02);
  // Loads the encoder (and the embeddings) from a Hugging Face directory, e.g. a discriminator; the
  // head keeps its fresh weights unless the directory has one. Returns the tensors it did not use.
  std::vector<std::string> load_encoder(const std::string& dir);
  // Writes an ElectraForSequenceClassification directory; extra_config: JSON fields to add.
  void save(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& extra_config) const;
  const std::vector<double>& lr_scales() const { return lr_scale_; }

 private:
  FinetuneOptions opt_;
  Classifier<float> model_;
  AdamW<float> adam_;
  int64_t step_ = 0;
  std::vector<double> lr_scale_;  // per parameter-table entry
};

}  // namespace electra
