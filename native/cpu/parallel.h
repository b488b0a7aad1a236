// parallel.h: splitting work inside an OpenMP parallel region, shared by the CPU kernels.
#pragma once
#include <omp.h>

namespace electra {

// [lo, hi): share t of nt contiguous shares of [0, n) (the static schedule's split).
inline void share_range(int n, int t, int nt, int& lo, int& hi) {
  const int chunk = (n + nt - 1) / nt;
  lo = t * chunk < n ? t * chunk : n;
  hi = lo + chunk < n ? lo + chunk : n;
}
// [lo, hi): the calling thread's share of [0, n).
inline void thread_range(int n, int& lo, int& hi) { share_range(n, omp_get_thread_num(), omp_get_num_threads(), lo, hi); }

}  // namespace electra
