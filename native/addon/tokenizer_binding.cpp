// tokenizer_binding.cpp: the Node binding of the WordPiece tokenizer (native/tokenizer/wordpiece.h).
// Converts values and errors only; batches, lines and streams are encoded off the main thread
// (Napi::AsyncWorker resolving a Promise). Its TypeScript shape is NativeWordPieceTokenizer in binding.ts.
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "async.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/wordpiece.h"

namespace electra_addon {

namespace {

Napi::Object stats_object(Napi::Env env, const electra::EncodeStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("lines", static_cast<double>(s.lines));
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("tokens", static_cast<double>(s.tokens));
  o.Set("unknown", static_cast<double>(s.unknown));
  o.Set("invalidUtf8", static_cast<double>(s.invalid_utf8));
  return o;
}

Napi::Int32Array int32_array(Napi::Env env, const int32_t* data, size_t n) {
  Napi::Int32Array a = Napi::Int32Array::New(env, n);
  if (n) std::memcpy(a.Data(), data, n * sizeof(int32_t));
  return a;
}

// Text from JavaScript: a string (copied as UTF-8) or a Uint8Array / Buffer (read in place; the caller
// keeps it alive).
struct Text {
  std::string owned;
  const char* data = nullptr;
  size_t size = 0;
  std::string_view view() const { return {data, size}; }
};
Text text_arg(const Napi::Value& v, const char* what) {
  Text t;
  if (v.IsString()) {
    t.owned = v.As<Napi::String>().Utf8Value();
    t.data = t.owned.data();
    t.size = t.owned.size();
  } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto a = v.As<Napi::Uint8Array>();
    t.data = reinterpret_cast<const char*>(a.Data());
    t.size = a.ByteLength();
  } else {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string or a Uint8Array (Buffer)");
  }
  return t;
}

int threads_arg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int32Value() : 0;
}

// ids + per-text offsets, as one Int32Array and one Float64Array (offsets may pass 2^32 in a large batch).
Napi::Object batch_object(Napi::Env env, const std::vector<int32_t>& ids, const std::vector<uint64_t>& offsets,
                          const electra::EncodeStats& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ids", int32_array(env, ids.data(), ids.size()));
  Napi::Float64Array off = Napi::Float64Array::New(env, offsets.size());
  for (size_t i = 0; i < offsets.size(); i++) off[i] = static_cast<double>(offsets[i]);
  o.Set("offsets", off);
  o.Set("stats", stats_object(env, st));
  return o;
}

class Tokenizer;


class Tokenizer : public Napi::ObjectWrap<Tokenizer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WordPieceTokenizer",
                       {
                           InstanceMethod<&Tokenizer::Encode>("encode"),
                           InstanceMethod<&Tokenizer::PreTokenize>("preTokenize"),
                           InstanceMethod<&Tokenizer::EncodeBatch>("encodeBatch"),
                           InstanceMethod<&Tokenizer::EncodeLines>("encodeLines"),
                           InstanceMethod<&Tokenizer::TokenizeStream>("tokenizeStream"),
                           InstanceMethod<&Tokenizer::IdToToken>("idToToken"),
                           InstanceMethod<&Tokenizer::TokenToId>("tokenToId"),
                           InstanceAccessor<&Tokenizer::VocabSize>("vocabSize"),
                           InstanceAccessor<&Tokenizer::LowerCase>("lowerCase"),
                           InstanceAccessor<&Tokenizer::SpecialIds>("specialIds"),
                       });
  }

  // new WordPieceTokenizer(vocabPath: string, lowerCase: boolean)
  explicit Tokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tokenizer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean())
      throw Napi::TypeError::New(env, "WordPieceTokenizer(vocabPath: string, lowerCase: boolean)");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const bool lower = info[1].As<Napi::Boolean>().Value();
    tok_ = guard(env, [&] {
      return std::make_shared<const electra::WordPieceTokenizer>(electra::WordPieceTokenizer::from_vocab_file(path, lower));
    });
  }

 private:
  // encode(text): Int32Array, on the calling thread (one text).
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Text t = text_arg(info[0], "text");
    std::vector<int32_t> ids;
    guard(env, [&] { tok_->encode(t.view(), ids); });
    return int32_array(env, ids.data(), ids.size());
  }

  // preTokenize(text): string[]: the words before WordPiece.
  Napi::Value PreTokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Text t = text_arg(info[0], "text");
    std::vector<std::string> words = guard(env, [&] { return tok_->pre_tokenize(t.view()); });
    Napi::Array a = Napi::Array::New(env, words.size());
    for (size_t i = 0; i < words.size(); i++) a[i] = Napi::String::New(env, words[i]);
    return a;
  }

  // encodeBatch(texts: (string | Uint8Array)[], threads?): Promise<{ids, offsets, stats}>
  Napi::Value EncodeBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "encodeBatch(texts: (string | Uint8Array)[], threads?)");
    Napi::Array arr = info[0].As<Napi::Array>();
    auto texts = std::make_shared<std::vector<Text>>();
    texts->reserve(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) texts->push_back(text_arg(arr.Get(i), "each text"));
    for (Text& t : *texts)  // strings were copied into `owned`; point at the final storage
      if (!t.owned.empty()) t.data = t.owned.data();
    const int threads = threads_arg(info, 1);
    auto out = std::make_shared<Result>();
    auto tok = tok_;
    Napi::Object keep = Napi::Object::New(env);
    keep.Set("tokenizer", Value());
    keep.Set("texts", arr);
    return PromiseWorker::Run(
        env,
        [=] {
          std::vector<std::string_view> views;
          views.reserve(texts->size());
          for (const Text& t : *texts) views.push_back(t.view());
          tok->encode_batch(views, out->ids, out->offsets, threads, &out->stats);
        },
        [=](Napi::Env e) -> Napi::Value { return batch_object(e, out->ids, out->offsets, out->stats); }, keep);
  }

  // encodeLines(text: Uint8Array, threads?): Promise<{ids, offsets, stats}>: one entry per '\n'-separated line.
  Napi::Value EncodeLines(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!(info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array))
      throw Napi::TypeError::New(env, "encodeLines(text: Uint8Array, threads?)");
    auto text = std::make_shared<Text>(text_arg(info[0], "text"));
    const int threads = threads_arg(info, 1);
    auto out = std::make_shared<Result>();
    auto tok = tok_;
    Napi::Object keep = Napi::Object::New(env);
    keep.Set("tokenizer", Value());
    keep.Set("text", info[0]);
    return PromiseWorker::Run(
        env, [=] { tok->encode_lines(text->view(), out->ids, out->offsets, threads, &out->stats); },
        [=](Napi::Env e) -> Napi::Value { return batch_object(e, out->ids, out->offsets, out->stats); }, keep);
  }

  // tokenizeStream(inFd, outFd, {tokens, threads, inName, outName}): Promise<stats>
  Napi::Value TokenizeStream(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsObject())
      throw Napi::TypeError::New(env, "tokenizeStream(inFd: number, outFd: number, options: object)");
    const int in_fd = info[0].As<Napi::Number>().Int32Value();
    const int out_fd = info[1].As<Napi::Number>().Int32Value();
    Napi::Object o = info[2].As<Napi::Object>();
    electra::StreamOptions opt;
    if (o.Has("tokens")) opt.tokens = o.Get("tokens").ToBoolean().Value();
    if (o.Has("threads") && o.Get("threads").IsNumber()) opt.threads = o.Get("threads").As<Napi::Number>().Int32Value();
    if (o.Has("inName")) opt.in_name = o.Get("inName").ToString().Utf8Value();
    if (o.Has("outName")) opt.out_name = o.Get("outName").ToString().Utf8Value();
    if (o.Has("chunkBytes") && o.Get("chunkBytes").IsNumber())
      opt.chunk_bytes = static_cast<size_t>(o.Get("chunkBytes").As<Napi::Number>().Int64Value());
    auto stats = std::make_shared<electra::EncodeStats>();
    auto tok = tok_;
    Napi::Object keep = Napi::Object::New(env);
    keep.Set("tokenizer", Value());
    return PromiseWorker::Run(
        env, [=] { *stats = electra::tokenize_stream(*tok, in_fd, out_fd, opt); },
        [=](Napi::Env e) -> Napi::Value { return stats_object(e, *stats); }, keep);
  }

  Napi::Value IdToToken(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "idToToken(id: number)");
    const int32_t id = info[0].As<Napi::Number>().Int32Value();
    return Napi::String::New(env, guard(env, [&]() -> std::string { return tok_->id_to_token(id); }));
  }
  Napi::Value TokenToId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "tokenToId(token: string)");
    return Napi::Number::New(env, tok_->token_to_id(info[0].As<Napi::String>().Utf8Value()));
  }
  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(tok_->vocab_size()));
  }
  Napi::Value LowerCase(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tok_->lower_case()); }
  Napi::Value SpecialIds(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("pad", tok_->pad_id());
    o.Set("unk", tok_->unk_id());
    o.Set("cls", tok_->cls_id());
    o.Set("sep", tok_->sep_id());
    o.Set("mask", tok_->mask_id());
    return o;
  }

  struct Result {
    std::vector<int32_t> ids;
    std::vector<uint64_t> offsets;
    electra::EncodeStats stats;
  };
  std::shared_ptr<const electra::WordPieceTokenizer> tok_;
};

Napi::Value TokenizerUnicodeVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), electra::unicode::unicode_version());
}

void InitTokenizer(Napi::Env env, Napi::Object exports) {
  exports.Set("WordPieceTokenizer", Tokenizer::Define(env));
  exports.Set("tokenizerUnicodeVersion", Napi::Function::New(env, TokenizerUnicodeVersion));
}

static Register reg(InitTokenizer);

}  // namespace

}  // namespace electra_addon
