// buffer.h: DeviceVec<T>, a growable array in GPU memory with the part of std::vector's interface the
// model code uses (resize, data, size). Growing reallocates and keeps the contents; shrinking keeps
// the allocation, so once the largest batch has been seen no step allocates. Plain C++ over the
// CUDA runtime API (no nvcc needed to include it).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "engine/common.h"

namespace electra {
namespace cuda {

inline void check_runtime(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

template <typename T>
class DeviceVec {
 public:
  DeviceVec() = default;
  explicit DeviceVec(size_t n) { resize(n); }
  DeviceVec(const DeviceVec&) = delete;
  DeviceVec& operator=(const DeviceVec&) = delete;
  DeviceVec(DeviceVec&& o) noexcept { swap(o); }
  DeviceVec& operator=(DeviceVec&& o) noexcept {
    swap(o);
    return *this;
  }
  ~DeviceVec() {
    if (p_) cudaFree(p_);  // at exit the context may be gone: nothing to report
  }
  void resize(size_t n) {
    if (n > cap_) {
      T* q = nullptr;
      check_runtime(cudaMalloc(&q, sizeof(T) * n), "cudaMalloc (DeviceVec::resize)");
      if (p_) {
        if (n_) check_runtime(cudaMemcpy(q, p_, sizeof(T) * n_, cudaMemcpyDeviceToDevice), "cudaMemcpy (DeviceVec::resize)");
        cudaFree(p_);
      }
      p_ = q;
      cap_ = n;
    }
    n_ = n;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  void swap(DeviceVec& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
  }
  T* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

}  // namespace cuda
}  // namespace electra
