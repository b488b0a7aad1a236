// cuda_check.cuh: what the GPU parity tests (test_cuda_*.cu) share: skipping without a device, device
// buffers that copy to and from host vectors, random inputs (never zeros) and error measures. Each test
// runs a CUDA kernel and its CPU twin (cpu/kernels.h, the oracle) on the same inputs.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "cuda/common.cuh"
#include "cuda/device.h"
#include "engine/params.h"

namespace cutest {

// Whether a device is present; prints the one-line reason once when not.
inline bool have_device() {
  static int state = -1;
  if (state < 0) {
    const electra::CudaStatus s = electra::cuda_status();
    state = s.devices.empty() ? 0 : 1;
    if (state) {
      std::printf("  device: %s (compute %d.%d, %d SMs)\n", s.devices[0].name.c_str(), s.devices[0].major,
                  s.devices[0].minor, s.devices[0].multiprocessors);
      CUDA_CHECK(cudaSetDevice(0));
    } else {
      std::printf("skipped: no CUDA device (%s)\n", s.note.c_str());
    }
  }
  return state == 1;
}

// A device array of T, sized from or copied from a host vector.
template <typename T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&p, sizeof(T) * (n ? n : 1)));
    CUDA_CHECK(cudaMemset(p, 0, sizeof(T) * (n ? n : 1)));
  }
  explicit Buf(const std::vector<T>& h) : Buf(h.size()) { upload(h); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { cudaFree(p); }
  void upload(const std::vector<T>& h) { CUDA_CHECK(cudaMemcpy(p, h.data(), sizeof(T) * n, cudaMemcpyHostToDevice)); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(h.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost));
    return h;
  }
  operator T*() const { return p; }
};

// Normal(0, scale) values, none exactly zero.
inline std::vector<float> randn(size_t n, std::mt19937& g, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) {
    x = nd(g);
    if (x == 0.f) x = 1e-3f;
  }
  return v;
}

// max |a - b| / (atol + max |b|): error relative to the tensor's size, as the tolerances are stated.
inline double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double e = 0, m = 0;
  for (size_t i = 0; i < want.size(); i++) {
    e = std::max(e, (double)std::fabs(got[i] - want[i]));
    m = std::max(m, (double)std::fabs(want[i]));
  }
  return e / (m + 1e-30);
}

// Elementwise: max |a - b| / (|b| + floor).
inline double elem_err(const std::vector<float>& got, const std::vector<float>& want, double floor = 1e-3) {
  double e = 0;
  for (size_t i = 0; i < want.size(); i++)
    e = std::max(e, (double)std::fabs(got[i] - want[i]) / (std::fabs((double)want[i]) + floor));
  return e;
}

// n values at device pointer d, after the device has finished.
template <typename T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(h.data(), d, sizeof(T) * n, cudaMemcpyDeviceToHost));
  return h;
}

// The worst per-tensor error of two flat parameter buffers (rel_err over each tensor of the table),
// and which tensor it was.
inline double worst_tensor(const electra::ParamTable& t, const std::vector<float>& got, const std::vector<float>& want,
                           std::string* which) {
  double w = 0;
  for (const electra::TensorEntry& e : t.entries()) {
    const std::vector<float> a(got.begin() + e.offset, got.begin() + e.offset + e.size);
    const std::vector<float> b(want.begin() + e.offset, want.begin() + e.offset + e.size);
    const double r = rel_err(a, b);
    if (r > w) w = r, *which = e.name;
  }
  return w;
}

}  // namespace cutest

// Every GPU test starts with this: without a device it passes, having said why once.
#define REQUIRE_DEVICE() \
  do {                   \
    if (!cutest::have_device()) return; \
  } while (0)
