// addon.cpp: the Node module entry point; collects the exports registered by each binding file.
#include "addon.h"

#include <vector>

#include "cuda/device.h"
#include "engine/info.h"
#include "engine/profile.h"

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
  const electra::CudaStatus cs = electra::cuda_status();
  Napi::Object c = Napi::Object::New(env);
  c.Set("compiled", cs.compiled);
  c.Set("runtimeVersion", cs.runtime_version);
  c.Set("driverVersion", cs.driver_version);
  Napi::Array devs = Napi::Array::New(env, cs.devices.size());
  for (size_t i = 0; i < cs.devices.size(); i++) {
    const electra::CudaDevice& d = cs.devices[i];
    Napi::Object od = Napi::Object::New(env);
    od.Set("index", d.index);
    od.Set("name", d.name);
    od.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    od.Set("memoryBytes", (double)d.memory_bytes);
    od.Set("multiprocessors", d.multiprocessors);
    devs.Set((uint32_t)i, od);
  }
  c.Set("devices", devs);
  c.Set("note", cs.note);
  o.Set("cuda", c);
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  electra::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// profile(on): turns per-kernel timing on (clearing the table) or off; returns the table so far.
static Napi::Value Profile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto entries = electra::profile_entries();
  Napi::Array out = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", entries[i].name);
    o.Set("ms", entries[i].ms);
    o.Set("calls", (double)entries[i].calls);
    out.Set((uint32_t)i, o);
  }
  const bool on = info.Length() > 0 && info[0].ToBoolean().Value();
  if (on) electra::profile_reset();
  electra::profile_enable(on);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("engineInfo", Napi::Function::New(env, EngineInfo));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("profile", Napi::Function::New(env, Profile));
  for (InitFn fn : registry()) fn(env, exports);
  return exports;
}

}  // namespace electra_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return electra_addon::Init(env, exports); }
NODE_API_MODULE(electra, InitModule)
