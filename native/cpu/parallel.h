// parallel.h: splitting work inside an OpenMP parallel region, shared by the CPU kernels.
#pragma once
#include <omp.h>

namespace electra {

// [lo, hi): the calling thread's contiguous share of [0, n) (the static schedule's split).
inline void thread_range(int n, int& lo, int& hi) {
  const int nt = omp_get_num_threads(), t = omp_get_thread_num();
  const int chunk = (n + nt - 1) / nt;
  lo = t * chunk < n ? t * chunk : n;
  hi = lo + chunk < n ? lo + chunk : n;
}

}  // namespace electra
