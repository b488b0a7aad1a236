// parallel.h: splitting work inside an OpenMP parallel region, shared by the CPU kernels.
#pragma once
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

namespace electra {

// [lo, hi): share t of nt contiguous shares of [0, n) (the static schedule's split).
inline void share_range(int n, int t, int nt, int& lo, int& hi) {
  const int chunk = (n + nt - 1) / nt;
  lo = t * chunk < n ? t * chunk : n;
  hi = lo + chunk < n ? lo + chunk : n;
}
// [lo, hi): the calling thread's share of [0, n).
inline void thread_range(int n, int& lo, int& hi) { share_range(n, omp_get_thread_num(), omp_get_num_threads(), lo, hi); }

// [lo, hi): share t of [0, n) cut into nt contiguous shares in proportion to amount[0, nt) (each >= 0,
// not all 0), the cuts rounded to multiples of `align`. Every thread given the same amounts gets the
// same cuts, so the shares tile [0, n).
inline void weighted_range(const float* amount, int nt, int n, int align, int t, int& lo, int& hi) {
  double total = 0, before = 0;
  for (int u = 0; u < nt; u++) total += amount[u];
  for (int u = 0; u < t; u++) before += amount[u];
  auto cut = [&](double part) {
    if (part >= total) return n;
    const long c = (long)(n * (part / total) / align + 0.5) * align;
    return c < 0 ? 0 : c > n ? n : (int)c;
  };
  lo = t == 0 ? 0 : cut(before);
  hi = t == nt - 1 ? n : cut(before + amount[t]);
  if (hi < lo) hi = lo;
}

// Work split by the threads' measured speeds. The cores of a shared machine (a cloud VM's virtual
// CPUs) often run at different speeds for seconds at a time, and a static even split then makes every
// parallel region wait for the slowest thread. A Balance (one per call site) keeps a relative speed per
// thread, learnt from the regions' own timings: a caller snapshots it before the region (snapshot),
// splits the work in proportion (weighted_range), times each thread's share (BalanceClock) and folds
// the timings in after the region (update). Which thread computes which rows never changes a result
// (every output element is one thread's, computed the same way), so the split is free to move.
// ELECTRA_BALANCE=0 in the environment keeps the even split.
class Balance {
 public:
  static constexpr int kMax = 64;  // threads tracked; beyond, the even split
  struct Snapshot {
    int n = 0;  // threads in the snapshot: weights w[0, n)
    float w[kMax];
  };
  Balance() {
    for (auto& x : w_) x.store(1.f, std::memory_order_relaxed);
  }
  // The weights for a region about to start with omp_get_max_threads() threads.
  void snapshot(Snapshot& s) const {
    const int m = omp_get_max_threads();
    s.n = m <= kMax ? m : 0;
    const float skew = forced_skew().load(std::memory_order_relaxed);
    for (int t = 0; t < s.n; t++) s.w[t] = skew > 0 ? (t == 0 ? skew : 1.f) : w_[t].load(std::memory_order_relaxed);
  }
  // Tests: while > 0, every snapshot weighs thread 0 this much against 1 for each other thread (the
  // learnt weights are kept, unused); 0 goes back to them.
  static std::atomic<float>& forced_skew() {
    static std::atomic<float> skew{0.f};
    return skew;
  }
  // After a region of nt threads where thread t did work[t] units in secs[t] seconds: each weight
  // moves a step towards its thread's speed relative to the mean (clamped, so that one preempted
  // share moves it a little only).
  void update(const float* work, const double* secs, int nt) {
    if (nt < 2 || nt > kMax || !enabled()) return;
    double speed[kMax], mean = 0;
    for (int t = 0; t < nt; t++) {
      if (work[t] <= 0 || secs[t] < 20e-6) return;  // an idle thread or a share too short to time
      speed[t] = work[t] / secs[t];
      mean += speed[t] / nt;
    }
    double w[kMax], wmean = 0;
    for (int t = 0; t < nt; t++) {
      double rel = speed[t] / mean;
      rel = rel < 0.7 ? 0.7 : rel > 1.4 ? 1.4 : rel;
      const double cur = w_[t].load(std::memory_order_relaxed);
      w[t] = cur + kRate * (rel - cur);  // speed = work / time, whatever the share was
      wmean += w[t] / nt;
    }
    for (int t = 0; t < nt; t++) {
      double x = w[t] / wmean;
      x = x < 0.25 ? 0.25 : x > 4.0 ? 4.0 : x;
      w_[t].store((float)x, std::memory_order_relaxed);
    }
  }
  static bool enabled() {
    static const bool on = [] {
      const char* e = std::getenv("ELECTRA_BALANCE");
      return !(e && e[0] == '0');
    }();
    return on;
  }

 private:
  static constexpr double kRate = 0.15;
  std::atomic<float> w_[kMax];
};

// Seconds since construction (a thread's share of a region).
struct BalanceClock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
};

// One parallel region split by a Balance: made before the region (the snapshot), used inside it by
// every thread (range, done), and folding the timings in when it goes out of scope after the region.
// A region whose thread count differs from the snapshot's splits evenly and teaches nothing.
class BalancedRegion {
 public:
  explicit BalancedRegion(Balance& b) : bal_(b) { b.snapshot(snap_); }
  ~BalancedRegion() {
    if (nt_ >= 2 && nt_ == snap_.n) bal_.update(work_, secs_, nt_);
  }
  // The weights of this region's nt threads (null: split evenly). Call inside the region.
  const float* weights() {
    const int nt = omp_get_num_threads();
    if (omp_get_thread_num() == 0) nt_ = nt;
    return nt == snap_.n ? snap_.w : nullptr;
  }
  // The calling thread's share of [0, n), cuts multiples of align.
  void range(int n, int align, int& lo, int& hi) {
    const float* w = weights();
    if (w) weighted_range(w, omp_get_num_threads(), n, align, omp_get_thread_num(), lo, hi);
    else thread_range(n, lo, hi);
  }
  // The calling thread did `work` units (any unit, the same for every thread) in `secs` seconds.
  void done(float work, double secs) {
    const int t = omp_get_thread_num();
    if (t < Balance::kMax) work_[t] = work, secs_[t] = secs;
  }

 private:
  Balance& bal_;
  Balance::Snapshot snap_;
  int nt_ = 0;
  float work_[Balance::kMax] = {};
  double secs_[Balance::kMax] = {};
};

}  // namespace electra
