// prepare_binding.cpp: the PrepareWriter class (bytes in, shards out) and fileHash() for
// `electra prepare`. Each feed runs on a worker thread; calls on one writer must be sequential.
#include <atomic>
#include <memory>

#include "addon.h"
#include "async.h"
#include "engine/common.h"
#include "engine/fileio.h"
#include "engine/json.h"
#include "engine/prepare.h"
#include "engine/shards.h"

namespace electra_addon {

static Napi::Object prepare_stats(Napi::Env env, const electra::PrepareStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("files", (double)s.files);
  o.Set("bytes", (double)s.bytes);
  o.Set("lines", (double)s.lines);
  o.Set("blankLines", (double)s.blank_lines);
  o.Set("documents", (double)s.documents);
  o.Set("tokens", (double)s.tokens);
  o.Set("unknown", (double)s.unknown);
  o.Set("invalidUtf8", (double)s.invalid_utf8);
  o.Set("trainExamples", (double)s.train_examples);
  o.Set("evalExamples", (double)s.eval_examples);
  auto a = Napi::Array::New(env, s.shards.size());
  for (size_t i = 0; i < s.shards.size(); i++) a[i] = s.shards[i];
  o.Set("shards", a);
  return o;
}

class PrepareWriterWrap : public Napi::ObjectWrap<PrepareWriterWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    exports.Set("PrepareWriter", DefineClass(env, "PrepareWriter",
                                             {InstanceMethod("beginFile", &PrepareWriterWrap::BeginFile),
                                              InstanceMethod("feed", &PrepareWriterWrap::Feed),
                                              InstanceMethod("endFile", &PrepareWriterWrap::EndFile),
                                              InstanceMethod("finish", &PrepareWriterWrap::Finish)}));
  }
  // new PrepareWriter(vocabPath, lowerCase, optionsJson)
  explicit PrepareWriterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PrepareWriterWrap>(info) {
    Napi::Env env = info.Env();
    std::string vocab = info[0].ToString();
    bool lower = info[1].ToBoolean();
    std::string opts = info[2].ToString();
    guard(env, [&] {
      electra::json::Value v = electra::json::parse(opts, "prepare options");
      electra::PrepareOptions o;
      const std::string what = "prepare options";
      o.out_dir = v.get_string("out_dir", what);
      o.max_seq_length = (int)v.get_int_or("max_seq_length", what, o.max_seq_length);
      o.seed = (uint64_t)v.get_int_or("seed", what, (int64_t)o.seed);
      o.examples_per_shard = (size_t)v.get_int_or("examples_per_shard", what, (int64_t)o.examples_per_shard);
      o.eval_fraction = v.get_number_or("eval_fraction", what, o.eval_fraction);
      o.max_eval_examples = (size_t)v.get_int_or("max_eval_examples", what, (int64_t)o.max_eval_examples);
      o.threads = (int)v.get_int_or("threads", what, 0);
      const std::string vocab_bytes = electra::read_file(vocab);
      o.vocab_hash = electra::fnv1a64(vocab_bytes.data(), vocab_bytes.size());
      auto tok = std::make_shared<const electra::WordPieceTokenizer>(electra::WordPieceTokenizer::from_vocab_file(vocab, lower));
      writer_ = std::make_shared<electra::PrepareWriter>(tok, o);
      return 0;
    });
  }

 private:
  template <typename Fn>
  Napi::Value Async(Napi::Env env, Fn fn) {
    auto w = writer_;
    auto stats = std::make_shared<electra::PrepareStats>();
    return busy_.run(
        env,
        [w, stats, fn] {
          fn(*w);
          *stats = w->stats();
        },
        [stats](Napi::Env e) -> Napi::Value { return prepare_stats(e, *stats); });
  }
  Napi::Value BeginFile(const Napi::CallbackInfo& info) {
    std::string name = info[0].ToString(), field = info[2].IsString() ? info[2].ToString().Utf8Value() : "text";
    bool jsonl = info[1].ToBoolean();
    guard(info.Env(), [&] {
      writer_->begin_file(name, jsonl, field);
      return 0;
    });
    return info.Env().Undefined();
  }
  // feed(bytes: Uint8Array) -> Promise<stats>
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "feed expects a Uint8Array");
    auto a = info[0].As<Napi::Uint8Array>();
    auto bytes = std::make_shared<std::string>((const char*)a.Data(), a.ByteLength());
    return Async(env, [bytes](electra::PrepareWriter& w) { w.feed(bytes->data(), bytes->size()); });
  }
  Napi::Value EndFile(const Napi::CallbackInfo& info) {
    return Async(info.Env(), [](electra::PrepareWriter& w) { w.end_file(); });
  }
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    return Async(info.Env(), [](electra::PrepareWriter& w) { w.finish(); });
  }
  std::shared_ptr<electra::PrepareWriter> writer_;
  Busy busy_{"PrepareWriter"};
};

// fileHash(path) -> FNV-1a 64 of the file's bytes, as 16 hex digits.
static Napi::Value FileHash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  return guard(env, [&]() -> Napi::Value {
    std::string b = electra::read_file(path);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)electra::fnv1a64(b.data(), b.size()));
    return Napi::String::New(env, hex);
  });
}

// shardInfo(path) -> {version, idBytes, seqLen, examples, vocabHash} after full validation.
static Napi::Value ShardInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  return guard(env, [&]() -> Napi::Value {
    electra::Shard s = electra::Shard::load(path);
    const auto& h = s.header();
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", h.version);
    o.Set("idBytes", h.id_bytes);
    o.Set("seqLen", h.seq_len);
    o.Set("examples", (double)h.num_examples);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h.vocab_hash);
    o.Set("vocabHash", std::string(hex));
    return o;
  });
}

static void InitPrepare(Napi::Env env, Napi::Object exports) {
  PrepareWriterWrap::Init(env, exports);
  exports.Set("fileHash", Napi::Function::New(env, FileHash));
  exports.Set("shardInfo", Napi::Function::New(env, ShardInfo));
}
static Register reg(InitPrepare);

}  // namespace electra_addon
