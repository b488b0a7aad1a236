// addon.h: the Node binding's registry. Each binding file registers an init function that adds its
// exports; addon.cpp calls them all. The binding is thin: it converts values and errors, nothing more.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

namespace electra_addon {

using InitFn = void (*)(Napi::Env env, Napi::Object exports);
struct Register {
  explicit Register(InitFn fn);
};

// Runs `fn`, turning a C++ exception into a JavaScript Error (no C++ exception escapes to Node).
template <typename F>
auto guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace electra_addon
