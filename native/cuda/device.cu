// device.cu: enumerating CUDA devices through the (statically linked) runtime. A machine without a
// driver or GPU gives an empty list and a note, never an error.
#include "cuda/common.cuh"
#include "cuda/device.h"

namespace electra {

CudaStatus cuda_status() {
  CudaStatus s;
  s.compiled = true;
  cudaRuntimeGetVersion(&s.runtime_version);
  if (cudaDriverGetVersion(&s.driver_version) != cudaSuccess) s.driver_version = 0;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error of a failed initialisation
    s.note = s.driver_version == 0 ? std::string("no NVIDIA driver found (") + cudaGetErrorString(e) + ")"
                                    : cudaGetErrorString(e);
    return s;
  }
  for (int i = 0; i < n; i++) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    s.devices.push_back({i, p.name, p.major, p.minor, (int64_t)p.totalGlobalMem, p.multiProcessorCount});
  }
  if (s.devices.empty()) s.note = "no CUDA device found";
  return s;
}

}  // namespace electra
