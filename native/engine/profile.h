// profile.h: optional per-kernel wall-clock timings of the engine (for `npm run bench`): each kernel
// entry point opens a ProfileScope; while profiling is off (the default) a scope costs one relaxed
// atomic load. Kernels are called from one host thread at a time (each opens its own parallel
// region), so the table is written by that thread only; reads happen between steps.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace electra {

struct ProfileEntry {
  std::string name;  // kernel, with its shape where the shape matters (matmul: "matmul_fwd N×IC×OC")
  double ms = 0;
  int64_t calls = 0;
};

void profile_enable(bool on);
void profile_reset();
std::vector<ProfileEntry> profile_entries();  // sorted by time, largest first

namespace detail {
extern std::atomic<bool> g_profiling;
void profile_add(const char* kernel, int a, int b, int c, double ms);
}  // namespace detail

class ProfileScope {
 public:
  // a, b, c: the shape, recorded in the name when any is non-zero
  explicit ProfileScope(const char* kernel, int a = 0, int b = 0, int c = 0)
      : on_(detail::g_profiling.load(std::memory_order_relaxed)) {
    if (on_) kernel_ = kernel, a_ = a, b_ = b, c_ = c, t0_ = std::chrono::steady_clock::now();
  }
  ~ProfileScope() {
    if (on_)
      detail::profile_add(kernel_, a_, b_, c_,
                          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count());
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  bool on_;
  const char* kernel_ = nullptr;
  int a_ = 0, b_ = 0, c_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace electra
