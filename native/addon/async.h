// async.h: runs a heavy native call on a libuv worker thread and resolves a Promise with its result,
// so the event loop (terminal UI, Ctrl-C) stays alive during a training step. Errors become
// rejections with the engine's message.
#pragma once
#include <napi.h>

#include "engine/info.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace electra_addon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;                      // runs off the main thread; may throw
  using Result = std::function<Napi::Value(Napi::Env)>;    // runs on the main thread afterwards
  using Settle = std::function<void()>;                    // runs on the main thread, before either outcome
  // keep_alive: JavaScript values (the wrapped object, input buffers) held until the work ends.
  static Napi::Promise Run(Napi::Env env, Work work, Result result, Napi::Object keep_alive = Napi::Object(),
                           Settle settle = nullptr) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(result), keep_alive, std::move(settle));
    auto p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 private:
  PromiseWorker(Napi::Env env, Work work, Result result, Napi::Object keep_alive, Settle settle)
      : Napi::AsyncWorker(env, "electra"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        result_(std::move(result)), settle_(std::move(settle)) {
    if (!keep_alive.IsEmpty()) keep_ = Napi::Persistent(keep_alive);
  }
  void Execute() override {
    try {
      electra::apply_num_threads();  // OpenMP's thread count is per thread: this worker's
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    if (settle_) settle_();
    Napi::Env env = Env();
    try {
      deferred_.Resolve(result_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, e.what()).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    if (settle_) settle_();
    deferred_.Reject(e.Value());
  }
  Napi::Promise::Deferred deferred_;
  Work work_;
  Result result_;
  Settle settle_;
  Napi::ObjectReference keep_;
};

// Guards an object against a second call while a worker uses it: run() fails at once with a clear
// message instead of racing, and releases the object when the work ends (even by an exception).
class Busy {
 public:
  explicit Busy(const char* what = "the model") : what_(what) {}
  template <typename Work>
  Napi::Promise run(Napi::Env env, Work work, PromiseWorker::Result result) {
    if (flag_->exchange(true))
      throw Napi::Error::New(env, std::string(what_) + " is busy with another call; await it first");
    auto flag = flag_;
    return PromiseWorker::Run(
        env,
        [flag, work] {
          struct Release {
            std::shared_ptr<std::atomic<bool>> f;
            ~Release() { *f = false; }
          } r{flag};
          work();
        },
        std::move(result));
  }

 private:
  const char* what_;
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

// Copies an Int32Array (or null/undefined -> empty) into a vector, checking its length.
inline std::vector<int32_t> int32_vector(const Napi::Value& v, size_t expected, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  if (expected && a.ElementLength() != expected)
    throw Napi::RangeError::New(v.Env(), std::string(what) + " has " + std::to_string(a.ElementLength()) +
                                             " elements, expected " + std::to_string(expected));
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

template <typename T>
inline Napi::Float32Array float32_array(Napi::Env env, const T* data, size_t n) {
  auto a = Napi::Float32Array::New(env, n);
  for (size_t i = 0; i < n; i++) a[i] = (float)data[i];
  return a;
}

}  // namespace electra_addon
