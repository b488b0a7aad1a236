// info.cpp: engine build facts and thread control.
#include "engine/info.h"

#include <atomic>

#include <omp.h>

#include <sstream>
#include <thread>

#include "cpu/simd.h"
#include "engine/common.h"
#include "cuda/device.h"

namespace electra {


std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); i++) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

Isa cpu_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

// The requested count, for every thread: OpenMP's thread count is a per-thread setting, and the
// addon runs steps on worker threads, so each of them applies it (apply_num_threads) before working.
static std::atomic<int> g_threads{0};

static int default_threads() {
  static const int d = omp_get_max_threads();  // before any omp_set_num_threads: all cores, or OMP_NUM_THREADS
  return d;
}

void set_num_threads(int n) {
  default_threads();
  g_threads = n > 0 ? n : 0;
  apply_num_threads();
}

void apply_num_threads() {
  const int n = g_threads.load();
  omp_set_num_threads(n > 0 ? n : default_threads());
}

int get_num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

EngineInfo engine_info() {
  EngineInfo info;
  info.version = "0.1.0";
  info.compiler = ELECTRA_COMPILER;
  info.build_type = ELECTRA_BUILD_TYPE;
  info.isa = isa_name(cpu_isa());
  info.avx512_bf16 = cpu_has_avx512_bf16();
  info.threads = get_num_threads();
  info.hardware_threads = (int)std::thread::hardware_concurrency();
#ifdef ELECTRA_WITH_CUDA
  info.cuda_compiled = true;
#else
  info.cuda_compiled = false;
#endif
  return info;
}

#ifndef ELECTRA_WITH_CUDA
CudaStatus cuda_status() {
  CudaStatus s;
  s.note = "this build has no CUDA backend (nvcc was not found, or ELECTRA_CUDA=OFF)";
  return s;
}
#endif

}  // namespace electra
