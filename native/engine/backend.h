// backend.h: the CPU backend of the model code (model_impl.h): where buffers live (std::vector)
// and which kernels run (cpu/kernels.h). cuda/backend.h is its twin for the GPU; the model is written
// once against either (K::layernorm_forward(...), K::Vec<T>).
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu/kernels.h"

namespace electra {

#define ELECTRA_FORWARD_KERNEL(name)                                                     \
  template <typename... A>                                                               \
  static void name(A&&... a) {                                                           \
    ::electra::name(std::forward<A>(a)...);                                              \
  }

struct CpuBackend {
  template <typename T>
  using Vec = std::vector<T>;
  static constexpr bool kDevice = false;
  // dst[0, n) = src[0, n), both in the backend's memory
  template <typename T>
  static void copy(T* dst, const T* src, int64_t n) {
    std::memcpy(dst, src, sizeof(T) * (size_t)n);
  }
  // dst (backend memory) = host[0, n)
  template <typename T>
  static void upload(T* dst, const T* host, int64_t n) {
    if (dst != host) std::memcpy(dst, host, sizeof(T) * (size_t)n);
  }
  ELECTRA_FORWARD_KERNEL(embedding_forward)
  ELECTRA_FORWARD_KERNEL(embedding_backward)
  ELECTRA_FORWARD_KERNEL(layernorm_forward)
  ELECTRA_FORWARD_KERNEL(layernorm_backward)
  ELECTRA_FORWARD_KERNEL(dropout_forward)
  ELECTRA_FORWARD_KERNEL(dropout_add_forward)
  ELECTRA_FORWARD_KERNEL(dropout_apply_bits)
  ELECTRA_FORWARD_KERNEL(matmul_forward)
  ELECTRA_FORWARD_KERNEL(matmul_backward)
  ELECTRA_FORWARD_KERNEL(attention_forward)
  ELECTRA_FORWARD_KERNEL(attention_backward)
  ELECTRA_FORWARD_KERNEL(gelu_forward)
  ELECTRA_FORWARD_KERNEL(gelu_backward)
};

}  // namespace electra
