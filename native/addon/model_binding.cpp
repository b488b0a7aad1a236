// model_binding.cpp: JavaScript classes over the engine's models: Discriminator (inference from a
// Hugging Face model directory), Pretrainer and FineTuner (optimizer steps). Values are converted
// and checked here; every heavy call runs on a worker thread and returns a Promise.
#include <atomic>
#include <memory>

#include "addon.h"
#include "async.h"
#include "engine/checkpoint.h"
#include "engine/common.h"
#include "engine/classifier.h"
#include "engine/json.h"
#include "engine/trainer.h"

namespace electra_addon {

// A batch copied out of JavaScript: {inputIds, tokenTypeIds?, attentionMask?, batchSize, seqLen}.
struct HostBatch {
  int B = 0, T = 0;
  std::vector<int32_t> ids, tt, mask;
  electra::Batch view() const {
    return {B, T, ids.data(), tt.empty() ? nullptr : tt.data(), mask.empty() ? nullptr : mask.data()};
  }
};

static HostBatch read_batch(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) throw Napi::TypeError::New(env, "batch must be an object");
  auto o = v.As<Napi::Object>();
  HostBatch b;
  b.B = o.Get("batchSize").ToNumber().Int32Value();
  b.T = o.Get("seqLen").ToNumber().Int32Value();
  if (b.B <= 0 || b.T <= 0) throw Napi::RangeError::New(env, "batchSize and seqLen must be positive");
  const size_t n = (size_t)b.B * b.T;
  b.ids = int32_vector(o.Get("inputIds"), n, "inputIds");
  if (b.ids.size() != n) throw Napi::TypeError::New(env, "inputIds is required");
  b.tt = int32_vector(o.Get("tokenTypeIds"), n, "tokenTypeIds");
  b.mask = int32_vector(o.Get("attentionMask"), n, "attentionMask");
  return b;
}

static Napi::Object stats_object(Napi::Env env, const electra::TrainStepResult& r) {
  const auto& s = r.stats;
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", (double)r.step);
  o.Set("loss", s.loss);
  o.Set("genLoss", s.gen_loss);
  o.Set("discLoss", s.disc_loss);
  o.Set("lr", r.lr);
  o.Set("gradNorm", r.grad_norm);
  o.Set("mlmWeight", s.mlm_weight);
  o.Set("mlmCorrect", s.mlm_correct);
  o.Set("sampledCorrect", s.sampled_correct);
  o.Set("tokens", s.tokens);
  o.Set("discCorrect", s.disc_correct);
  o.Set("discTp", s.disc_tp);
  o.Set("discFp", s.disc_fp);
  o.Set("discFn", s.disc_fn);
  o.Set("replaced", s.replaced);
  return o;
}

// ---- Discriminator --------------------------------------------------------------------------------
class DiscriminatorWrap : public Napi::ObjectWrap<DiscriminatorWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("Discriminator", DefineClass(env, "Discriminator",
                                             {InstanceMethod("logits", &DiscriminatorWrap::Logits),
                                              InstanceAccessor("config", &DiscriminatorWrap::Config, nullptr),
                                              InstanceAccessor("unexpected", &DiscriminatorWrap::Unexpected, nullptr)}));
  }
  explicit DiscriminatorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DiscriminatorWrap>(info) {
    Napi::Env env = info.Env();
    std::string dir = info[0].ToString();
    const std::string precision = info.Length() > 1 && info[1].IsString() ? info[1].ToString().Utf8Value() : "fp32";
    guard(env, [&] {
      if (precision != "fp32" && precision != "bf16") throw electra::Error("precision must be \"fp32\" or \"bf16\"");
      config_ = electra::read_model_config(dir);
      model_ = std::make_shared<electra::Discriminator<float>>(config_);
      model_->set_precision(precision == "bf16" ? electra::Precision::Bf16 : electra::Precision::Fp32);
      auto rep = electra::load_model_dir(dir, model_->table(), model_->params().data());
      if (!rep.missing.empty()) {
        std::string m;
        for (size_t i = 0; i < rep.missing.size() && i < 5; i++) m += (i ? ", " : "") + rep.missing[i];
        throw electra::Error(dir + "/model.safetensors: not a discriminator (ElectraForPreTraining): " +
                             std::to_string(rep.missing.size()) + " tensors missing, e.g. " + m);
      }
      unexpected_ = rep.unexpected;
      return 0;
    });
  }

 private:
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto batch = std::make_shared<HostBatch>(read_batch(info[0]));
    auto model = model_;
    auto out = std::make_shared<std::vector<float>>();
    return busy_.run(
        env,
        [model, batch, out] {
          *out = model->forward(batch->view());
        },
        [out](Napi::Env e) -> Napi::Value { return float32_array(e, out->data(), out->size()); });
  }
  Napi::Value Config(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), electra::json::stringify(electra::config_to_json(config_, "ElectraForPreTraining")));
  }
  Napi::Value Unexpected(const Napi::CallbackInfo& info) {
    auto a = Napi::Array::New(info.Env(), unexpected_.size());
    for (size_t i = 0; i < unexpected_.size(); i++) a[i] = unexpected_[i];
    return a;
  }
  electra::ElectraConfig config_;
  std::shared_ptr<electra::Discriminator<float>> model_;
  std::vector<std::string> unexpected_;
  Busy busy_;
};

// ---- Pretrainer -----------------------------------------------------------------------------------
class PretrainerWrap : public Napi::ObjectWrap<PretrainerWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("Pretrainer", DefineClass(env, "Pretrainer",
                                          {InstanceMethod("initWeights", &PretrainerWrap::InitWeights),
                                           InstanceMethod("trainStep", &PretrainerWrap::TrainStep),
                                           InstanceMethod("saveModels", &PretrainerWrap::SaveModels),
                                           InstanceMethod("saveState", &PretrainerWrap::SaveState),
                                           InstanceMethod("loadState", &PretrainerWrap::LoadState),
                                           InstanceMethod("loadModels", &PretrainerWrap::LoadModels),
                                           InstanceMethod("evaluate", &PretrainerWrap::Evaluate),
                                           InstanceMethod("setStep", &PretrainerWrap::SetStep),
                                           InstanceAccessor("numParams", &PretrainerWrap::NumParams, nullptr),
                                           InstanceAccessor("step", &PretrainerWrap::Step, nullptr)}));
  }
  explicit PretrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PretrainerWrap>(info) {
    Napi::Env env = info.Env();
    std::string opts = info[0].ToString();
    guard(env, [&] {
      trainer_ = std::make_shared<electra::PretrainTrainer>(electra::PretrainOptions::from_json(opts));
      return 0;
    });
  }

 private:
  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    double range = info.Length() > 0 && info[0].IsNumber() ? info[0].ToNumber().DoubleValue() : 0.02;
    trainer_->init_weights(range);
    return info.Env().Undefined();
  }
  // trainStep(batches: Batch[]) -> Promise<stats>: one optimizer step, gradient accumulated over batches.
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "trainStep expects an array of batches");
    auto arr = info[0].As<Napi::Array>();
    auto batches = std::make_shared<std::vector<HostBatch>>();
    for (uint32_t i = 0; i < arr.Length(); i++) batches->push_back(read_batch(arr.Get(i)));
    auto t = trainer_;
    auto res = std::make_shared<electra::TrainStepResult>();
    return busy_.run(
        env,
        [t, batches, res] {
          std::vector<electra::Batch> views;
          for (auto& b : *batches) views.push_back(b.view());
          *res = t->train_step(views);
        },
        [res](Napi::Env e) -> Napi::Value { return stats_object(e, *res); });
  }
  // saveModels(discriminatorDir, generatorDir): Hugging Face directories (config.json + model.safetensors).
  Napi::Value SaveModels(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string ddir = info[0].ToString(), gdir = info[1].ToString();
    guard(env, [&] {
      const electra::PretrainTrainer& t = *trainer_;
      const auto& o = t.options().model;
      const std::vector<float> p = t.params();  // a host copy (from the GPU when training there)
      if (t.has_discriminator()) {
        electra::save_model_dir(ddir, o.disc, "ElectraForPreTraining", t.table(), p.data(), electra::discriminator_name);
        electra::save_model_dir(gdir, o.gen, "ElectraForMaskedLM", t.table(), p.data(), electra::generator_name);
      } else {
        electra::save_model_dir(gdir, o.disc, "ElectraForMaskedLM", t.table(), p.data());
      }
      return 0;
    });
    return env.Undefined();
  }
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    std::string path = info[0].ToString(), meta = info[1].ToString();
    guard(info.Env(), [&] {
      trainer_->save_state(path, meta);
      return 0;
    });
    return info.Env().Undefined();
  }
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    std::string path = info[0].ToString();
    return Napi::String::New(info.Env(), guard(info.Env(), [&] { return trainer_->load_state(path); }));
  }
  Napi::Value LoadModels(const Napi::CallbackInfo& info) {
    std::string d = info[0].IsString() ? info[0].ToString().Utf8Value() : "";
    std::string g = info[1].IsString() ? info[1].ToString().Utf8Value() : "";
    auto un = guard(info.Env(), [&] { return trainer_->load_models(d, g); });
    auto a = Napi::Array::New(info.Env(), un.size());
    for (size_t i = 0; i < un.size(); i++) a[i] = un[i];
    return a;
  }
  Napi::Value SetStep(const Napi::CallbackInfo& info) {
    trainer_->set_step((int64_t)info[0].ToNumber().DoubleValue());
    return info.Env().Undefined();
  }
  // evaluate(batch, salt) -> Promise<{...stats, discLogits, discLabels}> without dropout or updates.
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto batch = std::make_shared<HostBatch>(read_batch(info[0]));
    const uint32_t salt = info[1].ToNumber().Uint32Value();
    auto t = trainer_;
    auto res = std::make_shared<electra::TrainStepResult>();
    auto logits = std::make_shared<std::vector<float>>();
    auto labels = std::make_shared<std::vector<int32_t>>();
    return busy_.run(
        env,
        [t, batch, salt, res, logits, labels] {
          res->stats = t->evaluate(batch->view(), salt);
          res->step = t->step();
          if (t->has_discriminator()) {
            *logits = t->disc_logits();
            *labels = t->disc_labels();
          }
        },
        [res, logits, labels](Napi::Env e) -> Napi::Value {
          Napi::Object o = stats_object(e, *res);
          o.Set("discLogits", float32_array(e, logits->data(), logits->size()));
          auto l = Napi::Int32Array::New(e, labels->size());
          for (size_t i = 0; i < labels->size(); i++) l[i] = (*labels)[i];
          o.Set("discLabels", l);
          return o;
        });
  }
  Napi::Value NumParams(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), (double)trainer_->table().total());
  }
  Napi::Value Step(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)trainer_->step()); }
  std::shared_ptr<electra::PretrainTrainer> trainer_;
  Busy busy_;
};

// ---- FineTuner ------------------------------------------------------------------------------------
class FineTunerWrap : public Napi::ObjectWrap<FineTunerWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("FineTuner", DefineClass(env, "FineTuner",
                                         {InstanceMethod("initWeights", &FineTunerWrap::InitWeights),
                                          InstanceMethod("trainStep", &FineTunerWrap::TrainStep),
                                          InstanceMethod("predict", &FineTunerWrap::Predict),
                                          InstanceMethod("loadEncoder", &FineTunerWrap::LoadEncoder),
                                          InstanceMethod("save", &FineTunerWrap::Save)}));
  }
  explicit FineTunerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FineTunerWrap>(info) {
    Napi::Env env = info.Env();
    std::string opts = info[0].ToString();
    guard(env, [&] {
      trainer_ = std::make_shared<electra::FinetuneTrainer>(electra::FinetuneOptions::from_json(opts));
      return 0;
    });
  }

 private:
  Napi::Value InitWeights(const Napi::CallbackInfo& info) {
    trainer_->init_weights(info.Length() > 0 && info[0].IsNumber() ? info[0].ToNumber().DoubleValue() : 0.02);
    return info.Env().Undefined();
  }
  // trainStep(batch, labels: Int32Array | null, targets: Float32Array | null) -> Promise<stats>
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto batch = std::make_shared<HostBatch>(read_batch(info[0]));
    auto labels = std::make_shared<std::vector<int32_t>>(int32_vector(info[1], batch->B, "labels"));
    auto targets = std::make_shared<std::vector<float>>();
    if (info.Length() > 2 && info[2].IsTypedArray()) {
      auto a = info[2].As<Napi::Float32Array>();
      targets->assign(a.Data(), a.Data() + a.ElementLength());
    }
    auto t = trainer_;
    auto res = std::make_shared<electra::TrainStepResult>();
    return busy_.run(
        env,
        [t, batch, labels, targets, res] {
          *res = t->train_step(batch->view(), labels->empty() ? nullptr : labels->data(),
                               targets->empty() ? nullptr : targets->data());
        },
        [res](Napi::Env e) -> Napi::Value { return stats_object(e, *res); });
  }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto batch = std::make_shared<HostBatch>(read_batch(info[0]));
    auto t = trainer_;
    auto out = std::make_shared<std::vector<float>>();
    return busy_.run(
        env,
        [t, batch, out] {
          *out = t->predict(batch->view());
        },
        [out](Napi::Env e) -> Napi::Value { return float32_array(e, out->data(), out->size()); });
  }
  // loadEncoder(dir) -> unused tensor names
  Napi::Value LoadEncoder(const Napi::CallbackInfo& info) {
    std::string dir = info[0].ToString();
    auto un = guard(info.Env(), [&] { return trainer_->load_encoder(dir); });
    auto a = Napi::Array::New(info.Env(), un.size());
    for (size_t i = 0; i < un.size(); i++) a[i] = un[i];
    return a;
  }
  // save(dir, extraConfig: Record<string, unknown>) -> ElectraForSequenceClassification directory
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string dir = info[0].ToString();
    std::vector<std::pair<std::string, std::string>> extra;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      Napi::Object JSON = env.Global().Get("JSON").As<Napi::Object>();
      Napi::Function stringify = JSON.Get("stringify").As<Napi::Function>();
      Napi::Array keys = o.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        std::string k = keys.Get(i).ToString();
        extra.push_back({k, stringify.Call(JSON, {o.Get(k)}).ToString().Utf8Value()});
      }
    }
    guard(env, [&] {
      trainer_->save(dir, extra);
      return 0;
    });
    return env.Undefined();
  }
  std::shared_ptr<electra::FinetuneTrainer> trainer_;
  Busy busy_;
};

static void InitModels(Napi::Env env, Napi::Object exports) {
  DiscriminatorWrap::Init(env, exports);
  PretrainerWrap::Init(env, exports);
  FineTunerWrap::Init(env, exports);
}
static Register reg(InitModels);

}  // namespace electra_addon
