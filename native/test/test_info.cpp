// test_info.cpp: the engine reports its build and run-time choices.
#include <omp.h>

#include <cstdlib>
#include <thread>

#include "check.h"
#include "engine/info.h"

TEST(engine_info_is_filled) {
  auto e = electra::engine_info();
  CHECK(!e.version.empty());
  CHECK(e.isa == "avx512" || e.isa == "avx2" || e.isa == "scalar");
  CHECK(e.threads >= 1);
}

TEST(thread_count_reaches_other_threads) {
  // OpenMP's thread count is per thread: a worker thread (as the addon's) sees the requested count
  // once it applies it.
  electra::set_num_threads(1);
  int seen = -1;
  std::thread([&] {
    electra::apply_num_threads();
    seen = omp_get_max_threads();
  }).join();
  CHECK(seen == 1);
  CHECK(electra::get_num_threads() == 1);
  electra::set_num_threads(0);
  std::thread([&] {
    electra::apply_num_threads();
    seen = omp_get_max_threads();
  }).join();
  CHECK(seen == omp_get_num_procs() || std::getenv("OMP_NUM_THREADS"));
}

TEST_MAIN()
