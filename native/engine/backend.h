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

// A backend's member `name` that forwards its arguments to the kernel ns::name (both backends use it).
#define ELECTRA_FORWARD_TO(ns, name)                                                     \
  template <typename... A>                                                               \
  static void name(A&&... a) {                                                           \
    ns::name(std::forward<A>(a)...);                                                     \
  }
#define ELECTRA_FORWARD_KERNEL(name) ELECTRA_FORWARD_TO(::electra, name)

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
  // host[0, n) = src (backend memory)
  template <typename T>
  static void download(T* host, const T* src, int64_t n) {
    if (host != src) std::memcpy(host, src, sizeof(T) * (size_t)n);
  }
  template <typename T>
  static void fill_zero(T* x, int64_t n) {
    ::electra::fill_zero(x, n);
  }
  // dst row r (C values) = src row rows[r], for r < R
  template <typename T>
  static void gather_rows(T* dst, const T* src, const int32_t* rows, int R, int C) {
    for (int r = 0; r < R; r++) std::memcpy(dst + (int64_t)r * C, src + (int64_t)rows[r] * C, sizeof(T) * (size_t)C);
  }
  // dst row rows[r] += src row r, for r < R, in order (rows of weight 0 carry zeros: added all the same)
  template <typename T>
  static void scatter_add_rows(T* dst, const T* src, const int32_t* rows, const float* /*weights*/, int R, int C) {
    for (int r = 0; r < R; r++) {
      T* d = dst + (int64_t)rows[r] * C;
      const T* s = src + (int64_t)r * C;
      for (int i = 0; i < C; i++) d[i] += s[i];
    }
  }
  template <typename... A>
  static double crossentropy_forward_backward(A&&... a) {
    return ::electra::crossentropy_forward_backward(std::forward<A>(a)...);
  }
  template <typename... A>
  static double rtd_loss_forward_backward(A&&... a) {
    return ::electra::rtd_loss_forward_backward(std::forward<A>(a)...);
  }
  ELECTRA_FORWARD_KERNEL(argmax_rows)
  ELECTRA_FORWARD_KERNEL(gumbel_sample)
  ELECTRA_FORWARD_KERNEL(embedding_forward)
  ELECTRA_FORWARD_KERNEL(embedding_backward)
  ELECTRA_FORWARD_KERNEL(layernorm_forward)
  ELECTRA_FORWARD_KERNEL(layernorm_backward)
  ELECTRA_FORWARD_KERNEL(layernorm_dropout_backward)
  ELECTRA_FORWARD_KERNEL(dropout_forward)
  ELECTRA_FORWARD_KERNEL(dropout_add_forward)
  ELECTRA_FORWARD_KERNEL(dropout_apply_bits)
  ELECTRA_FORWARD_KERNEL(dropout_range)
  ELECTRA_FORWARD_KERNEL(attention_cls_forward)
  ELECTRA_FORWARD_KERNEL(attention_cls_backward)
  ELECTRA_FORWARD_KERNEL(matmul_forward)
  ELECTRA_FORWARD_KERNEL(matmul_gelu_forward)
  ELECTRA_FORWARD_KERNEL(matmul_gelu_forward_b16)
  ELECTRA_FORWARD_KERNEL(matmul_gelu_backward_b16)
  ELECTRA_FORWARD_KERNEL(gelu_forward_b16)
  ELECTRA_FORWARD_KERNEL(matmul_forward_b16)
  ELECTRA_FORWARD_KERNEL(layernorm_forward_b16)
  ELECTRA_FORWARD_KERNEL(matmul_backward)
  ELECTRA_FORWARD_KERNEL(matmul_gelu_backward)
  ELECTRA_FORWARD_KERNEL(attention_forward)
  ELECTRA_FORWARD_KERNEL(attention_backward)
  ELECTRA_FORWARD_KERNEL(gelu_forward)
  ELECTRA_FORWARD_KERNEL(gelu_backward)
};

}  // namespace electra
