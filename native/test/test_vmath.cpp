// test_vmath.cpp: the vectorisable float exp, log and erf (cpu/vmath.h) against the C library in
// double, on dense grids over their ranges, plus their special values.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "check.h"
#include "cpu/vmath.h"

using namespace electra;

// distance in units in the last place of float at the exact value
static double ulps(float got, double want) {
  const double ulp = std::ldexp(1.0, std::ilogb((float)want) - 23);
  return std::fabs((double)got - want) / ulp;
}

TEST(exp_within_2_ulp) {
  double worst = 0;
  for (double x = -87.0; x <= 88.5; x += 1.3e-4) worst = std::max(worst, ulps(vm_exp((float)x), std::exp((double)(float)x)));
  std::printf("  exp: worst %.2f ulp on [-87, 88.5]\n", worst);
  CHECK(worst <= 2.0);
  CHECK(vm_exp(0.f) == 1.f);
  CHECK(vm_exp(-100.f) == 0.f);
  CHECK(std::isinf(vm_exp(100.f)));
  CHECK(vm_exp(-std::numeric_limits<float>::infinity()) == 0.f);
}

TEST(log_within_2_ulp) {
  double worst = 0;
  for (double e = -126; e < 127; e += 0.00731) {
    const float x = (float)std::exp2(e);
    worst = std::max(worst, ulps(vm_log(x), std::log((double)x)));
  }
  for (float x = 0.5f; x < 2.f; x += 1e-5f) if (x != 1.f) worst = std::max(worst, ulps(vm_log(x), std::log((double)x)));
  std::printf("  log: worst %.2f ulp on normal floats\n", worst);
  CHECK(worst <= 2.0);
  CHECK(vm_log(1.f) == 0.f);
  CHECK(vm_log(0.f) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(vm_log(-1.f)));
  CHECK(std::isinf(vm_log(std::numeric_limits<float>::infinity())));
}

TEST(erf_within_5e7_absolute) {
  double worst = 0;
  for (double x = -6; x <= 6; x += 1e-4) worst = std::max(worst, std::fabs((double)vm_erf((float)x) - std::erf((double)(float)x)));
  std::printf("  erf: worst absolute error %.3g on [-6, 6]\n", worst);
  CHECK(worst <= 5e-7);
  CHECK(vm_erf(0.f) == 0.f);
  CHECK(vm_erf(-1.f) == -vm_erf(1.f));
}

TEST_MAIN()
