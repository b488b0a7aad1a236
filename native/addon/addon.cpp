// addon.cpp: the Node module entry point; collects the exports registered by each binding file.
#include "addon.h"

#include <vector>

#include "engine/info.h"

namespace electra_addon {

static std::vector<InitFn>& registry() {
  static std::vector<InitFn> fns;
  return fns;
}
Register::Register(InitFn fn) { registry().push_back(fn); }

static Napi::Value EngineInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto e = electra::engine_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", e.version);
  o.Set("compiler", e.compiler);
  o.Set("buildType", e.build_type);
  o.Set("isa", e.isa);
  o.Set("avx512Bf16", e.avx512_bf16);
  o.Set("threads", e.threads);
  o.Set("hardwareThreads", e.hardware_threads);
  o.Set("cudaCompiled", e.cuda_compiled);
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  electra::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("engineInfo", Napi::Function::New(env, EngineInfo));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  for (InitFn fn : registry()) fn(env, exports);
  return exports;
}

}  // namespace electra_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return electra_addon::Init(env, exports); }
NODE_API_MODULE(electra, InitModule)
