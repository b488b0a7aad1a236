// trainer.cpp: optimizer steps for pre-training and fine-tuning.
#include "engine/trainer.h"

#include <cmath>

#include "engine/common.h"
#include "engine/checkpoint.h"
#include "engine/json.h"
#include "engine/safetensors.h"

namespace electra {

static void read_common(const json::Value& v, Schedule& s, AdamWConfig& a, uint64_t& seed, const std::string& what) {
  s.lr = v.get_number_or("lr", what, s.lr);
  s.warmup_steps = v.get_int_or("warmup_steps", what, s.warmup_steps);
  s.total_steps = v.get_int_or("total_steps", what, s.total_steps);
  a.weight_decay = v.get_number_or("weight_decay", what, a.weight_decay);
  a.clip_norm = v.get_number_or("clip_norm", what, a.clip_norm);
  a.eps = v.get_number_or("adam_epsilon", what, a.eps);
  seed = (uint64_t)v.get_int_or("seed", what, (int64_t)seed);
}

Precision precision_from_json(const json::Value& v, const std::string& what) {
  const std::string p = v.get_string_or("precision", what, "fp32");
  if (p != "fp32" && p != "bf16") throw Error(what + ": precision must be \"fp32\" or \"bf16\", not \"" + p + "\"");
  return p == "bf16" ? Precision::Bf16 : Precision::Fp32;
}

PretrainOptions PretrainOptions::from_json(const std::string& text) {
  const std::string what = "pre-training options";
  json::Value v = json::parse(text, what);
  PretrainOptions o;
  const json::Value* d = v.find("discriminator");
  if (!d) throw Error(what + ": missing \"discriminator\"");
  o.model.disc = config_from_json(*d, "discriminator config");
  o.model.objective = v.get_string_or("objective", what, "electra");
  if (o.model.objective == "electra") {
    const json::Value* g = v.find("generator");
    if (!g) throw Error(what + ": missing \"generator\"");
    o.model.gen = config_from_json(*g, "generator config");
  }
  o.model.mask_prob = (float)v.get_number_or("mask_prob", what, o.model.mask_prob);
  o.model.gen_weight = (float)v.get_number_or("gen_weight", what, o.model.gen_weight);
  o.model.disc_weight = (float)v.get_number_or("disc_weight", what, o.model.disc_weight);
  o.model.temperature = (float)v.get_number_or("temperature", what, o.model.temperature);
  if (const json::Value* sp = v.find("special_ids")) {
    o.model.special.pad = (int)sp->get_int_or("pad", what, o.model.special.pad);
    o.model.special.unk = (int)sp->get_int_or("unk", what, o.model.special.unk);
    o.model.special.cls = (int)sp->get_int_or("cls", what, o.model.special.cls);
    o.model.special.sep = (int)sp->get_int_or("sep", what, o.model.special.sep);
    o.model.special.mask = (int)sp->get_int_or("mask", what, o.model.special.mask);
  }
  o.model.precision = precision_from_json(v, what);
  o.device = v.get_string_or("device", what, "cpu");
  if (o.device != "cpu" && o.device != "cuda") throw Error(what + ": device must be \"cpu\" or \"cuda\", not \"" + o.device + "\"");
  read_common(v, o.schedule, o.adam, o.seed, what);
  o.model.validate();
  return o;
}

namespace {
// The CPU engine: the model's own buffers and the CPU AdamW (no copies in a step).
class CpuPretrainBackend final : public ModelPretrainBackend<Pretrainer<float>> {
 public:
  explicit CpuPretrainBackend(const PretrainOptions& opt) : ModelPretrainBackend(opt.model), adam_(model_.table(), opt.adam) {}
  double optimizer_step(double lr) override { return adam_.step(model_.params().data(), model_.grads().data(), lr); }
  void read_params(float* h) override { std::copy(model_.params().begin(), model_.params().end(), h); }
  void write_params(const float* h) override { std::copy(h, h + model_.params().size(), model_.params().begin()); }
  void read_moments(float* m, float* v) override {
    std::copy(adam_.m().begin(), adam_.m().end(), m);
    std::copy(adam_.v().begin(), adam_.v().end(), v);
  }
  void write_moments(const float* m, const float* v) override {
    std::copy(m, m + adam_.m().size(), adam_.m().begin());
    std::copy(v, v + adam_.v().size(), adam_.v().begin());
  }
  std::string device_name() const override { return "cpu"; }

 private:
  AdamW<float> adam_;
};
}  // namespace

std::unique_ptr<PretrainBackend> make_cpu_pretrain_backend(const PretrainOptions& opt) {
  return std::make_unique<CpuPretrainBackend>(opt);
}

#ifndef ELECTRA_WITH_CUDA
std::unique_ptr<PretrainBackend> make_cuda_pretrain_backend(const PretrainOptions&) {
  throw Error("device cuda: this build has no CUDA backend (nvcc was not found when it was built, or ELECTRA_CUDA=OFF)");
}
#endif

PretrainTrainer::PretrainTrainer(const PretrainOptions& opt)
    : opt_(opt), be_(opt.device == "cuda" ? make_cuda_pretrain_backend(opt) : make_cpu_pretrain_backend(opt)) {}

std::vector<float> PretrainTrainer::params() const {
  std::vector<float> p(be_->table().total());
  be_->read_params(p.data());
  return p;
}

TrainStepResult PretrainTrainer::train_step(const std::vector<Batch>& micro) {
  if (micro.empty()) throw Error("a training step needs at least one batch");
  TrainStepResult res;
  res.step = step_;
  be_->zero_grads();
  const double scale = 1.0 / (double)micro.size();
  for (size_t k = 0; k < micro.size(); k++) {
    const Batch& b = micro[k];
    const uint32_t salt = (uint32_t)(step_ * micro.size() + k);  // each micro-batch its own RNG streams
    electra_mask(masked_, b, opt_.model.mask_prob, max_predictions(opt_.model.mask_prob, b.T), opt_.model.special,
                 opt_.seed, salt);
    StepStats s = be_->forward_backward(b, masked_, opt_.seed, salt, true, true, scale);
    res.stats.loss += s.loss * scale;
    res.stats.gen_loss += s.gen_loss * scale;
    res.stats.disc_loss += s.disc_loss * scale;
    for (auto [dst, src] : {std::pair{&res.stats.mlm_weight, s.mlm_weight}, {&res.stats.mlm_correct, s.mlm_correct},
                            {&res.stats.sampled_correct, s.sampled_correct}, {&res.stats.tokens, s.tokens},
                            {&res.stats.disc_correct, s.disc_correct}, {&res.stats.disc_tp, s.disc_tp},
                            {&res.stats.disc_fp, s.disc_fp}, {&res.stats.disc_fn, s.disc_fn},
                            {&res.stats.replaced, s.replaced}})
      *dst += src;
  }
  res.lr = opt_.schedule.lr_at(step_);
  res.grad_norm = be_->optimizer_step(res.lr);
  step_++;
  return res;
}

StepStats PretrainTrainer::evaluate(const Batch& b, uint32_t salt) {
  MaskedInputs mk;
  const uint64_t eval_seed = opt_.seed ^ 0x5EED0E7A1ULL;
  electra_mask(mk, b, opt_.model.mask_prob, max_predictions(opt_.model.mask_prob, b.T), opt_.model.special, eval_seed,
               salt);
  return be_->forward_backward(b, mk, eval_seed, salt, false, false, 1.0);
}

void PretrainTrainer::save_state(const std::string& path, const std::string& metadata) const {
  std::vector<TensorOut> out;
  const size_t n = be_->table().total();
  std::vector<float> m(n), v(n);
  be_->read_moments(m.data(), v.data());
  for (const auto& e : be_->table().entries()) {
    out.push_back({"m/" + e.name, DType::F32, e.shape, m.data() + e.offset});
    out.push_back({"v/" + e.name, DType::F32, e.shape, v.data() + e.offset});
  }
  save_safetensors(path, out, {{"format", "electra-training-state"}, {"version", "1"}, {"state", metadata}});
}

std::string PretrainTrainer::load_state(const std::string& path) {
  SafeTensors st = SafeTensors::load(path);
  std::string meta;
  for (const auto& kv : st.metadata())
    if (kv.first == "state") meta = kv.second;
  if (meta.empty()) throw Error(path + ": not an electra training state (no \"state\" metadata)");
  const size_t n = be_->table().total();
  std::vector<float> m(n), v(n);
  for (const auto& e : be_->table().entries()) {
    st.read_f32("m/" + e.name, e.shape, m.data() + e.offset);
    st.read_f32("v/" + e.name, e.shape, v.data() + e.offset);
  }
  be_->write_moments(m.data(), v.data());
  return meta;
}

std::vector<std::string> PretrainTrainer::load_models(const std::string& disc_dir, const std::string& gen_dir) {
  std::vector<std::string> unexpected;
  auto check = [&](const LoadReport& r, const std::string& dir) {
    if (!r.missing.empty()) {
      std::string m;
      for (size_t i = 0; i < r.missing.size() && i < 4; i++) m += (i ? ", " : "") + r.missing[i];
      throw Error(dir + ": " + std::to_string(r.missing.size()) + " tensors the model needs are missing (" + m +
                  "); is it the right kind of model, with the same sizes as the configuration?");
    }
    for (const auto& u : r.unexpected) unexpected.push_back(dir + ": " + u);
  };
  // loaded into a host copy of the weights, then written back where the model lives
  std::vector<float> params = this->params();
  float* p = params.data();
  const ParamTable& table = be_->table();
  if (be_->has_discriminator()) {
    if (!disc_dir.empty()) check(load_model_dir(disc_dir, table, p, discriminator_name), disc_dir);
    if (!gen_dir.empty()) {
      // the generator's directory repeats the shared embeddings: the discriminator's copy wins when both are given
      std::vector<float> keep;
      if (!disc_dir.empty()) keep = params;
      check(load_model_dir(gen_dir, table, p, generator_name), gen_dir);
      if (!disc_dir.empty())
        for (const auto& e : table.entries())
          if (e.name.rfind("electra.embeddings.", 0) == 0)
            std::copy(keep.begin() + e.offset, keep.begin() + e.offset + e.size, params.begin() + e.offset);
    }
  } else {
    const std::string& dir = gen_dir.empty() ? disc_dir : gen_dir;
    LoadReport r = load_model_dir(dir, table, p, [](const std::string& n) -> std::optional<std::string> { return n; });
    // an MLM model initialised from a discriminator has no MLM head: keep the fresh one
    std::vector<std::string> missing;
    for (auto& m : r.missing)
      if (m.rfind("generator_", 0) != 0) missing.push_back(m);
    r.missing = missing;
    check(r, dir);
  }
  be_->write_params(params.data());
  return unexpected;
}

FinetuneOptions FinetuneOptions::from_json(const std::string& text) {
  const std::string what = "fine-tuning options";
  json::Value v = json::parse(text, what);
  FinetuneOptions o;
  const json::Value* m = v.find("model");
  if (!m) throw Error(what + ": missing \"model\"");
  o.model.model = config_from_json(*m, "model config");
  o.model.num_labels = (int)v.get_int_or("num_labels", what, 2);
  const std::string head = v.get_string_or("head", what, "electra");
  if (head != "electra" && head != "hf") throw Error(what + ": head must be \"electra\" or \"hf\"");
  o.model.head = head == "hf" ? ClsHeadKind::HuggingFace : ClsHeadKind::Electra;
  o.model.classifier_dropout = (float)v.get_number_or("classifier_dropout", what, 0.1);
  o.model.precision = precision_from_json(v, what);
  o.layerwise_lr_decay = v.get_number_or("layerwise_lr_decay", what, o.layerwise_lr_decay);
  const std::string mode = v.get_string_or("layerwise_mode", what, "electra");
  if (mode != "electra" && mode != "corrected") throw Error(what + ": layerwise_mode must be \"electra\" or \"corrected\"");
  o.layerwise_corrected = mode == "corrected";
  if (!(o.layerwise_lr_decay > 0 && o.layerwise_lr_decay <= 1)) throw Error(what + ": layerwise_lr_decay must be in (0, 1]");
  read_common(v, o.schedule, o.adam, o.seed, what);
  return o;
}

FinetuneTrainer::FinetuneTrainer(const FinetuneOptions& opt) : opt_(opt), model_(opt.model), adam_(model_.table(), opt.adam) {
  const int L = opt.model.model.num_hidden_layers;
  for (const auto& e : model_.table().entries()) {
    const bool head = e.depth > L;  // the table puts heads at L + 1
    const int top = opt_.layerwise_corrected ? L + 1 : L + 2;
    const int depth = head ? top : e.depth;
    lr_scale_.push_back(std::pow(opt_.layerwise_lr_decay, top - depth));
  }
}

std::vector<std::string> FinetuneTrainer::load_encoder(const std::string& dir) {
  LoadReport r = load_model_dir(dir, model_.table(), model_.params().data());
  std::vector<std::string> missing;
  for (const auto& m : r.missing)
    if (m.rfind("classifier.", 0) != 0) missing.push_back(m);
  if (!missing.empty())
    throw Error(dir + ": not an ELECTRA encoder of this size (" + std::to_string(missing.size()) + " tensors missing, e.g. " +
                missing[0] + ")");
  return r.unexpected;
}

void FinetuneTrainer::save(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& extra) const {
  save_model_dir(dir, opt_.model.model, "ElectraForSequenceClassification", model_.table(),
                 const_cast<Classifier<float>&>(model_).params().data(), identity_name, extra);
}

void FinetuneTrainer::init_weights(double range) { electra::init_weights(model_.table(), model_.params().data(), opt_.seed, range); }

TrainStepResult FinetuneTrainer::train_step(const Batch& b, const int32_t* labels, const float* targets) {
  TrainStepResult res;
  res.step = step_;
  fill_zero(model_.grads().data(), (int64_t)model_.grads().size());
  res.stats.loss = model_.forward_backward(b, labels, targets, opt_.seed, (uint32_t)step_, true, true);
  res.lr = opt_.schedule.lr_at(step_);
  res.grad_norm = adam_.step(model_.params().data(), model_.grads().data(), res.lr, &lr_scale_);
  step_++;
  return res;
}

const std::vector<float>& FinetuneTrainer::predict(const Batch& b) {
  model_.forward_backward(b, nullptr, nullptr, 0, 0, false, false);
  return model_.logits();
}

}  // namespace electra
