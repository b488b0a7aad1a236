// check.h: a minimal test harness for the native tests (no dependencies, runs without Node).
// Each test file defines TEST(name) { ... } blocks; CHECK / CHECK_NEAR record failures and go on.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace check {
struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& cases() { static std::vector<Case> c; return c; }
inline int& failures() { static int f = 0; return f; }
struct Reg { Reg(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); } };
inline int run_all(int argc, char** argv) {
  int failed_cases = 0, ran = 0;
  for (auto& c : cases()) {
    if (argc > 1 && !std::strstr(c.name, argv[1])) continue;
    int before = failures();
    ++ran;
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::printf("  exception: %s\n", e.what());
      ++failures();
    }
    bool ok = failures() == before;
    if (!ok) ++failed_cases;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name);
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", ran - failed_cases, failed_cases);
  return failed_cases ? 1 : 0;
}
}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST(name)                                                        \
  static void CHECK_CAT(test_, name)();                                   \
  static check::Reg CHECK_CAT(reg_, name)(#name, CHECK_CAT(test_, name)); \
  static void CHECK_CAT(test_, name)()
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
      ++check::failures();                                                       \
    }                                                                            \
  } while (0)
#define CHECK_MSG(cond, ...)                                                     \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::printf("  %s:%d: ", __FILE__, __LINE__);                              \
      std::printf(__VA_ARGS__);                                                  \
      std::printf("\n");                                                         \
      ++check::failures();                                                       \
    }                                                                            \
  } while (0)
// Expect `stmt` to throw an exception whose message contains `substr`.
#define CHECK_THROWS(stmt, substr)                                                        \
  do {                                                                                    \
    bool threw_ = false;                                                                  \
    try { stmt; } catch (const std::exception& e_) {                                      \
      threw_ = true;                                                                      \
      if (!std::strstr(e_.what(), substr)) {                                              \
        std::printf("  %s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, e_.what(), substr); \
        ++check::failures();                                                              \
      }                                                                                   \
    }                                                                                     \
    if (!threw_) {                                                                        \
      std::printf("  %s:%d: expected an exception from %s\n", __FILE__, __LINE__, #stmt); \
      ++check::failures();                                                                \
    }                                                                                     \
  } while (0)
#define TEST_MAIN() int main(int argc, char** argv) { return check::run_all(argc, argv); }
