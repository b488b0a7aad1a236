// vocab_binding.cpp: the Node binding of the WordPiece vocabulary trainer (native/tokenizer/vocab_trainer.h).
// Converts values and errors only; counting and training run off the main thread (a Napi::AsyncWorker resolving a Promise). Its
// TypeScript shape is NativeVocabTrainer in src/native/binding.ts.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "async.h"
#include "engine/fileio.h"
#include "tokenizer/vocab_trainer.h"

namespace electra_addon {

namespace {

const char* stop_name(electra::VocabStop s) {
  switch (s) {
    case electra::VocabStop::kReachedSize: return "size";
    case electra::VocabStop::kNoPairs: return "no-pairs";
    case electra::VocabStop::kMinFrequency: return "min-frequency";
  }
  return "size";
}

Napi::Object count_stats(Napi::Env env, const electra::WordCountStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("words", static_cast<double>(s.words));
  o.Set("distinctWords", static_cast<double>(s.distinct));
  o.Set("invalidUtf8", static_cast<double>(s.invalid_utf8));
  return o;
}

// The counter and options, shared with the work in flight; `busy` refuses a second call until the
// first one's promise settles (it is set and cleared on the main thread).
struct State {
  electra::VocabTrainerOptions opt;
  std::unique_ptr<electra::WordCounter> counter;
  bool busy = false;
  bool finished = false;
};


class VocabTrainer : public Napi::ObjectWrap<VocabTrainer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VocabTrainer",
                       {
                           InstanceMethod<&VocabTrainer::Feed>("feed"),
                           InstanceMethod<&VocabTrainer::EndInput>("endInput"),
                           InstanceMethod<&VocabTrainer::Finish>("finish"),
                           InstanceAccessor<&VocabTrainer::Stats>("stats"),
                       });
  }

  // new VocabTrainer({lowerCase, vocabSize, minFrequency, limitAlphabet, specialTokens?, initialAlphabet?,
  //                   continuationOrder?, threads?})
  explicit VocabTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VocabTrainer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "VocabTrainer(options: object)");
    Napi::Object o = info[0].As<Napi::Object>();
    state_ = std::make_shared<State>();
    electra::VocabTrainerOptions& opt = state_->opt;
    auto whole = [&](const char* key, double lo, double& out) {
      if (!o.Has(key) || o.Get(key).IsUndefined()) return false;
      Napi::Value v = o.Get(key);
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!v.IsNumber() || d != static_cast<double>(static_cast<int64_t>(d)) || d < lo || d > 9007199254740991.0)
        throw Napi::RangeError::New(env, std::string(key) + " must be a whole number >= " + std::to_string(static_cast<int64_t>(lo)));
      out = d;
      return true;
    };
    auto strings = [&](const char* key, std::vector<std::string>& out) {
      if (!o.Has(key) || o.Get(key).IsUndefined()) return;
      if (!o.Get(key).IsArray()) throw Napi::TypeError::New(env, std::string(key) + " must be an array of strings");
      Napi::Array a = o.Get(key).As<Napi::Array>();
      out.clear();
      for (uint32_t i = 0; i < a.Length(); i++) {
        if (!a.Get(i).IsString()) throw Napi::TypeError::New(env, std::string(key) + " must be an array of strings");
        out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
      }
    };
    double d = 0;
    if (o.Has("lowerCase")) opt.lower_case = o.Get("lowerCase").ToBoolean().Value();
    if (whole("vocabSize", 1, d)) opt.vocab_size = static_cast<size_t>(d);
    if (whole("minFrequency", 0, d)) opt.min_frequency = static_cast<uint64_t>(d);
    if (whole("limitAlphabet", 0, d)) opt.limit_alphabet = static_cast<size_t>(d);
    strings("specialTokens", opt.special_tokens);
    strings("continuationOrder", opt.continuation_order);
    if (o.Has("initialAlphabet") && !o.Get("initialAlphabet").IsUndefined()) {
      if (!o.Get("initialAlphabet").IsString()) throw Napi::TypeError::New(env, "initialAlphabet must be a string");
      const std::u16string u16 = o.Get("initialAlphabet").As<Napi::String>().Utf16Value();
      for (size_t i = 0; i < u16.size(); i++) {
        uint32_t c = u16[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < u16.size() && u16[i + 1] >= 0xDC00 && u16[i + 1] < 0xE000)
          c = 0x10000 + ((c - 0xD800) << 10) + (u16[++i] - 0xDC00);
        opt.initial_alphabet.push_back(c);
      }
    }
    int threads = 0;
    if (whole("threads", 0, d)) threads = static_cast<int>(d);
    state_->counter = std::make_unique<electra::WordCounter>(opt.lower_case, threads);
  }

 private:
  // Marks the trainer busy for one call; throws if it is busy or finished.
  // The end of a call (on the main thread, whatever its outcome): the trainer takes calls again.
  static PromiseWorker::Settle release(std::shared_ptr<State> st) {
    return [st] { st->busy = false; };
  }

  void claim(Napi::Env env, const char* what) {
    if (state_->finished) throw Napi::Error::New(env, std::string("VocabTrainer.") + what + ": the trainer has finished");
    if (state_->busy)
      throw Napi::Error::New(env, std::string("VocabTrainer.") + what + ": the previous call has not finished (await it first)");
    state_->busy = true;
  }

  // feed(bytes: Uint8Array): Promise<void>. The bytes are copied; the caller may reuse its buffer.
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!(info.Length() >= 1 && info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array))
      throw Napi::TypeError::New(env, "feed(bytes: Uint8Array)");
    auto a = info[0].As<Napi::Uint8Array>();
    auto bytes = std::make_shared<std::string>(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
    claim(env, "feed");
    auto st = state_;
    return PromiseWorker::Run(
        env,
        [st, bytes] {
          st->counter->feed(*bytes);
        },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); }, Napi::Object(), release(st));
  }

  // endInput(): Promise<void>: the end of one file (the text held back after its last whitespace is counted).
  Napi::Value EndInput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    claim(env, "endInput");
    auto st = state_;
    return PromiseWorker::Run(
        env,
        [st] {
          st->counter->end_input();
        },
        [](Napi::Env e) -> Napi::Value { return e.Undefined(); }, Napi::Object(), release(st));
  }

  // finish(outPath?: string): Promise<{tokens, special, alphabet, continuation, merged, mergeSteps,
  // lastFrequency, stop, stats}>: trains; with outPath, also writes vocab.txt there atomically.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string out_path;
    if (info.Length() >= 1 && !info[0].IsUndefined() && !info[0].IsNull()) {
      if (!info[0].IsString()) throw Napi::TypeError::New(env, "finish(outPath?: string)");
      out_path = info[0].As<Napi::String>().Utf8Value();
    }
    claim(env, "finish");
    auto st = state_;
    auto result = std::make_shared<electra::VocabResult>();
    auto stats = std::make_shared<electra::WordCountStats>();
    return PromiseWorker::Run(
        env,
        [st, result, stats, out_path] {
          const auto counts = st->counter->counts();
          *stats = st->counter->stats();
          st->finished = true;
          st->counter.reset();  // the word counts are no longer needed
          *result = electra::train_wordpiece_vocab(counts, st->opt);
          if (!out_path.empty()) electra::write_file_atomic(out_path, electra::vocab_file_text(result->tokens));
        },
        [result, stats](Napi::Env e) -> Napi::Value {
          Napi::Object o = Napi::Object::New(e);
          Napi::Array tokens = Napi::Array::New(e, result->tokens.size());
          for (size_t i = 0; i < result->tokens.size(); i++) tokens[i] = Napi::String::New(e, result->tokens[i]);
          o.Set("tokens", tokens);
          o.Set("special", static_cast<double>(result->special));
          o.Set("alphabet", static_cast<double>(result->alphabet));
          o.Set("continuation", static_cast<double>(result->continuation));
          o.Set("merged", static_cast<double>(result->merged));
          o.Set("mergeSteps", static_cast<double>(result->merge_steps));
          o.Set("lastFrequency", static_cast<double>(result->last_frequency));
          o.Set("stop", stop_name(result->stop));
          o.Set("stats", count_stats(e, *stats));
          return o;
        },
        Napi::Object(), release(st));
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_->busy || !state_->counter) return env.Null();  // not while a call is running, nor after finish
    return count_stats(env, state_->counter->stats());
  }

  std::shared_ptr<State> state_;
};

void InitVocab(Napi::Env env, Napi::Object exports) { exports.Set("VocabTrainer", VocabTrainer::Define(env)); }

static Register reg(InitVocab);

}  // namespace

}  // namespace electra_addon
