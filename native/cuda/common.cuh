// common.cuh: what every CUDA file of the backend shares: error checks that throw electra::Error
// (never exit), launch-size helpers, warp reductions. CUDA-only (nvcc).
#pragma once
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "engine/common.h"

namespace electra {
namespace cuda {

[[noreturn]] inline void fail(cudaError_t e, const char* what, const char* file, int line) {
  throw Error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
              "): " + cudaGetErrorString(e));
}

#define CUDA_CHECK(expr)                                                        \
  do {                                                                          \
    const cudaError_t electra_cuda_err_ = (expr);                               \
    if (electra_cuda_err_ != cudaSuccess) ::electra::cuda::fail(electra_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a launch: configuration errors now, execution errors at the next synchronisation.
#define CUDA_CHECK_LAUNCH(name) CUDA_CHECK(cudaPeekAtLastError())

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A device buffer that grows on demand and is then reused: allocation happens when a size is first
// seen, never per step. One per use site (function- or file-static), one buffer per device, safe to
// ask for from several host threads; the work queued with it must be on one stream per device.
struct Scratch {
  static constexpr int kMaxDevices = 64;
  std::mutex mu;
  void* p[kMaxDevices] = {};
  size_t bytes[kMaxDevices] = {};
  template <typename T>
  T* get(size_t count) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    if (dev < 0 || dev >= kMaxDevices) throw Error("CUDA scratch: device index " + std::to_string(dev) + " out of range");
    const size_t need = sizeof(T) * (count ? count : 1);
    std::lock_guard<std::mutex> lock(mu);
    if (need > bytes[dev]) {
      if (p[dev]) {  // the device may still be using the old buffer
        CUDA_CHECK(cudaDeviceSynchronize());
        CUDA_CHECK(cudaFree(p[dev]));
      }
      p[dev] = nullptr;
      bytes[dev] = 0;
      CUDA_CHECK(cudaMalloc(&p[dev], need));
      bytes[dev] = need;
    }
    return static_cast<T*>(p[dev]);
  }
  ~Scratch() {
    for (void* q : p)
      if (q) cudaFree(q);  // at exit the context may be gone: nothing to report
  }
};

// Blocks for a grid-stride loop over n elements: enough to fill the device, never more than needed.
inline unsigned grid_for(int64_t n, int block) {
  const int64_t b = ceil_div(n, block);
  return (unsigned)(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
template <typename T>
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  T s = lane < nw ? part[lane] : T(0);
  return warp_sum(s);
}

}  // namespace cuda
}  // namespace electra
