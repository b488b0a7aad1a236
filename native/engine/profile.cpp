// profile.cpp: the per-kernel timing table behind ProfileScope (profile.h).
#include "engine/profile.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace electra {
namespace detail {
std::atomic<bool> g_profiling{false};
}

static std::mutex g_mu;
static std::map<std::string, ProfileEntry>& table() {
  static std::map<std::string, ProfileEntry> t;
  return t;
}

void profile_enable(bool on) { detail::g_profiling.store(on); }

void profile_reset() {
  std::lock_guard<std::mutex> lock(g_mu);
  table().clear();
}

std::vector<ProfileEntry> profile_entries() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<ProfileEntry> out;
  for (const auto& [k, e] : table()) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const ProfileEntry& x, const ProfileEntry& y) { return x.ms > y.ms; });
  return out;
}

void detail::profile_add(const char* kernel, int a, int b, int c, double ms) {
  std::string key = kernel;
  if (a || b || c) key += " " + std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c);
  std::lock_guard<std::mutex> lock(g_mu);
  ProfileEntry& e = table()[key];
  e.name = key;
  e.ms += ms;
  e.calls++;
}

}  // namespace electra
