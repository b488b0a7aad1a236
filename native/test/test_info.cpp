// test_info.cpp: the engine reports its build and run-time choices.
#include "check.h"
#include "engine/info.h"

TEST(engine_info_is_filled) {
  auto e = electra::engine_info();
  CHECK(!e.version.empty());
  CHECK(e.isa == "avx512" || e.isa == "avx2" || e.isa == "scalar");
  CHECK(e.threads >= 1);
}

TEST_MAIN()
