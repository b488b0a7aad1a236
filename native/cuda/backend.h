// backend.h (CUDA): the GPU backend of the model code (engine/model_impl.h), twin of
// engine/backend.h's CpuBackend: buffers are DeviceVec (GPU memory) and the kernels are the CUDA ones
// (cuda/kernels.cuh, matmul.cuh, attention.cuh), queued on the default stream in order. fp32 storage
// only (F = float). Plain C++ over the runtime API: included by g++ as well as nvcc.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <utility>

#include "cuda/attention.cuh"
#include "cuda/buffer.h"
#include "cuda/kernels.cuh"
#include "cuda/matmul.cuh"
#include "engine/backend.h"  // ELECTRA_FORWARD_TO

namespace electra {

#define ELECTRA_FORWARD_CUDA_KERNEL(name) ELECTRA_FORWARD_TO(::electra::cuda, name)

struct CudaBackend {
  static double* loss_slot() {
    static cuda::DeviceVec<double> slot(1);
    return slot.data();
  }
  static double read_loss() {
    double v = 0;
    cuda::check_runtime(cudaMemcpy(&v, loss_slot(), sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy (loss)");
    return v;
  }
  template <typename T>
  using Vec = cuda::DeviceVec<T>;
  static constexpr bool kDevice = true;
  template <typename T>
  static void copy(T* dst, const T* src, int64_t n) {
    cuda::check_runtime(cudaMemcpyAsync(dst, src, sizeof(T) * (size_t)n, cudaMemcpyDeviceToDevice, 0),
                        "cudaMemcpyAsync (device to device)");
  }
  template <typename T>
  static void upload(T* dst, const T* host, int64_t n) {
    cuda::check_runtime(cudaMemcpy(dst, host, sizeof(T) * (size_t)n, cudaMemcpyHostToDevice),
                        "cudaMemcpy (host to device)");
  }
  template <typename T>
  static void download(T* host, const T* src, int64_t n) {
    cuda::check_runtime(cudaMemcpy(host, src, sizeof(T) * (size_t)n, cudaMemcpyDeviceToHost),
                        "cudaMemcpy (device to host)");
  }
  static void fill_zero(float* x, int64_t n) {
    cuda::check_runtime(cudaMemsetAsync(x, 0, sizeof(float) * (size_t)n, 0), "cudaMemsetAsync");
  }
  static void gather_rows(float* dst, const float* src, const int32_t* rows, int R, int C) {
    cuda::gather_rows(dst, src, rows, R, C);
  }
  static void scatter_add_rows(float* dst, const float* src, const int32_t* rows, const float* weights, int R, int C) {
    cuda::scatter_add_rows(dst, src, rows, weights, R, C);
  }
  // The losses, summed on the device, then read back (the one value the host needs).
  static double crossentropy_forward_backward(float* dlogits, const float* logits, const int32_t* targets,
                                              const float* w, int R, int V, double dscale) {
    cuda::crossentropy_forward_backward(loss_slot(), dlogits, logits, targets, w, R, V, dscale);
    return read_loss();
  }
  static double rtd_loss_forward_backward(float* dlogits, const float* logits, const int32_t* labels,
                                          const int32_t* mask, int R, double dscale) {
    cuda::rtd_loss_forward_backward(loss_slot(), dlogits, logits, labels, mask, R, dscale);
    return read_loss();
  }
  static void argmax_rows(int32_t* out, const float* logits, int R, int V) { cuda::argmax_rows(out, logits, R, V); }
  // u (given uniforms) is the CPU engine's test hook; the GPU draws its own (the same) noise
  static void gumbel_sample(int32_t* out, const float* logits, int R, int V, float temperature, const float* u,
                            uint64_t seed, uint64_t stream) {
    if (u) throw Error("internal: the CUDA backend draws its own Gumbel noise (given uniforms are CPU-only)");
    cuda::gumbel_sample(out, logits, R, V, temperature, seed, stream);
  }
  ELECTRA_FORWARD_CUDA_KERNEL(embedding_forward)
  ELECTRA_FORWARD_CUDA_KERNEL(embedding_backward)
  ELECTRA_FORWARD_CUDA_KERNEL(layernorm_forward)
  ELECTRA_FORWARD_CUDA_KERNEL(layernorm_backward)
  // the CPU engine's fused LayerNorm backward and dropout, here as the kernels it fuses
  static void layernorm_dropout_backward(float* dinp, float* dropped, float* dweight, float* dbias, const float* dout,
                                         const float* inp, const float* mean, const float* rstd, const float* weight,
                                         int N, int C, bool accumulate, float p, const uint64_t* bits) {
    cuda::layernorm_backward(dinp, dweight, dbias, dout, inp, mean, rstd, weight, N, C, accumulate);
    if (dropped) cuda::dropout_apply_bits(dropped, dinp, (int64_t)N * C, p, bits);
  }
  ELECTRA_FORWARD_CUDA_KERNEL(dropout_forward)
  ELECTRA_FORWARD_CUDA_KERNEL(dropout_add_forward)
  ELECTRA_FORWARD_CUDA_KERNEL(dropout_apply_bits)
  ELECTRA_FORWARD_CUDA_KERNEL(matmul_forward)
  // the CPU engine's fused forward product, here as the kernels it fuses
  static void matmul_gelu_forward(float* pre, float* post, const float* inp, const float* w, const float* b, int N,
                                  int IC, int OC, Precision prec) {
    cuda::matmul_forward(pre, inp, w, b, N, IC, OC, prec);
    cuda::gelu_forward(post, pre, (int64_t)N * OC);
  }
  ELECTRA_FORWARD_CUDA_KERNEL(matmul_backward)
  // the CPU engine's fused backward product, here as the kernels it fuses
  static void matmul_gelu_backward(float* dpre, const float* dout, const float* pre, const float* w, int N, int IC,
                                   int OC, Precision prec) {
    cuda::matmul_backward(dpre, nullptr, nullptr, dout, nullptr, w, N, IC, OC, false, prec);
    cuda::gelu_backward(dpre, pre, dpre, (int64_t)N * IC);
  }
  // the CPU engine's kept attention-dropout masks: the GPU kernels draw them again (bits unused)
  static void attention_forward(float* out, float* att, const float* qkv, const int32_t* mask, int B, int T, int C,
                                int NH, float p, uint64_t seed, uint64_t stream, Precision prec, uint64_t* /*bits*/,
                                uint16_t* /*out16: never asked of the GPU*/ = nullptr) {
    cuda::attention_forward(out, att, qkv, mask, B, T, C, NH, p, seed, stream, prec);
  }
  static void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att,
                                 const int32_t* mask, int B, int T, int C, int NH, float p, uint64_t seed,
                                 uint64_t stream, Precision prec, const uint64_t* /*bits*/) {
    cuda::attention_backward(dqkv, dout, qkv, att, mask, B, T, C, NH, p, seed, stream, prec);
  }
  ELECTRA_FORWARD_CUDA_KERNEL(gelu_forward)
  ELECTRA_FORWARD_CUDA_KERNEL(gelu_backward)
};

}  // namespace electra
