// loader_binding.cpp: the ShardLoader class: training batches from shards, read on a worker thread
// (so the next batch loads while a step runs), with a position that checkpoints save and restore.
#include <atomic>
#include <memory>

#include "addon.h"
#include "async.h"
#include "engine/loader.h"

namespace electra_addon {

class ShardLoaderWrap : public Napi::ObjectWrap<ShardLoaderWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("ShardLoader", DefineClass(env, "ShardLoader",
                                           {InstanceMethod("next", &ShardLoaderWrap::Next),
                                            InstanceMethod("seek", &ShardLoaderWrap::Seek),
                                            InstanceAccessor("position", &ShardLoaderWrap::Position, nullptr),
                                            InstanceAccessor("seqLen", &ShardLoaderWrap::SeqLen, nullptr),
                                            InstanceAccessor("examples", &ShardLoaderWrap::Examples, nullptr),
                                            InstanceAccessor("vocabHash", &ShardLoaderWrap::VocabHash, nullptr)}));
  }
  // new ShardLoader(files: string[], seed: number, shuffle = true)
  explicit ShardLoaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShardLoaderWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "ShardLoader expects an array of shard paths");
    auto arr = info[0].As<Napi::Array>();
    std::vector<std::string> files;
    for (uint32_t i = 0; i < arr.Length(); i++) files.push_back(arr.Get(i).ToString());
    const uint64_t seed = (uint64_t)info[1].ToNumber().Int64Value();
    const bool shuffle = info.Length() < 3 || info[2].ToBoolean();
    guard(env, [&] {
      loader_ = std::make_shared<electra::ShardLoader>(files, seed, shuffle);
      return 0;
    });
  }

 private:
  // next(batchSize) -> Promise<{inputIds, tokenTypeIds, attentionMask, batchSize, seqLen, position}>
  Napi::Value Next(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int B = info[0].ToNumber().Int32Value();
    if (B <= 0) throw Napi::RangeError::New(env, "batch size must be positive");
    auto l = loader_;
    const size_t n = (size_t)B * l->seq_len();
    auto ids = std::make_shared<std::vector<int32_t>>(n), tt = std::make_shared<std::vector<int32_t>>(n),
         mask = std::make_shared<std::vector<int32_t>>(n);
    auto pos = std::make_shared<electra::LoaderPosition>();
    return busy_.run(
        env,
        [l, B, ids, tt, mask, pos] {
          l->next(B, ids->data(), tt->data(), mask->data());
          *pos = l->position();
        },
        [ids, tt, mask, pos, B, l](Napi::Env e) -> Napi::Value {
          auto mk = [&](const std::vector<int32_t>& v) {
            auto a = Napi::Int32Array::New(e, v.size());
            std::copy(v.begin(), v.end(), a.Data());
            return a;
          };
          Napi::Object o = Napi::Object::New(e);
          o.Set("inputIds", mk(*ids));
          o.Set("tokenTypeIds", mk(*tt));
          o.Set("attentionMask", mk(*mask));
          o.Set("batchSize", B);
          o.Set("seqLen", l->seq_len());
          o.Set("position", position_object(e, *pos));
          return o;
        });
  }
  static Napi::Object position_object(Napi::Env env, const electra::LoaderPosition& p) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("epoch", (double)p.epoch);
    o.Set("shard", (double)p.shard);
    o.Set("example", (double)p.example);
    return o;
  }
  Napi::Value Seek(const Napi::CallbackInfo& info) {
    auto o = info[0].As<Napi::Object>();
    electra::LoaderPosition p;
    p.epoch = (uint64_t)o.Get("epoch").ToNumber().Int64Value();
    p.shard = (uint64_t)o.Get("shard").ToNumber().Int64Value();
    p.example = (uint64_t)o.Get("example").ToNumber().Int64Value();
    guard(info.Env(), [&] {
      loader_->seek(p);
      return 0;
    });
    return info.Env().Undefined();
  }
  Napi::Value Position(const Napi::CallbackInfo& info) { return position_object(info.Env(), loader_->position()); }
  Napi::Value SeqLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), loader_->seq_len()); }
  Napi::Value Examples(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)loader_->examples()); }
  Napi::Value VocabHash(const Napi::CallbackInfo& info) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)loader_->vocab_hash());
    return Napi::String::New(info.Env(), hex);
  }
  std::shared_ptr<electra::ShardLoader> loader_;
  Busy busy_{"ShardLoader"};
};

static void InitLoader(Napi::Env env, Napi::Object exports) { ShardLoaderWrap::Init(env, exports); }
static Register reg(InitLoader);

}  // namespace electra_addon
