// info.h: what this build of the engine is and what it chose at run time (for `electra info`).
#pragma once
#include <string>

namespace electra {

struct EngineInfo {
  std::string version;     // engine version
  std::string compiler;    // compiler that built the engine
  std::string build_type;  // CMake build type
  std::string isa;         // instruction set chosen at run time: avx512 | avx2 | scalar
  bool avx512_bf16;        // the CPU has AVX512-BF16 dot products
  int threads;             // worker threads the engine will use
  int hardware_threads;    // logical CPUs visible
  bool cuda_compiled;      // the CUDA backend was compiled in
};

EngineInfo engine_info();

// Threads used by the engine's parallel regions (OpenMP). n <= 0 restores the default (all cores).
// Applies to every thread that calls apply_num_threads() before running engine work (the addon's
// workers do), and to the calling thread.
void set_num_threads(int n);
void apply_num_threads();
int get_num_threads();

}  // namespace electra
