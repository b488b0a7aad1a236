// device.h: the CUDA devices this process can use (for `electra info` and `--device auto`). Plain
// C++, no CUDA headers: the CPU engine and the addon call it whether or not the backend was built
// (without it, cuda_status() says so and lists nothing).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace electra {

struct CudaDevice {
  int index;
  std::string name;
  int major, minor;      // compute capability
  int64_t memory_bytes;  // global memory
  int multiprocessors;
};

struct CudaStatus {
  bool compiled = false;         // the CUDA backend is in this build
  int runtime_version = 0;       // CUDA runtime linked in (e.g. 13000), 0 when not compiled
  int driver_version = 0;        // driver's CUDA version, 0 when no driver
  std::vector<CudaDevice> devices;
  std::string note;              // why there are no devices, when there are none
};

CudaStatus cuda_status();

}  // namespace electra
