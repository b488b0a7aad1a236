// activation.cu: GELU and counter-based dropout on the GPU, elementwise, one element per thread in
// grid-stride loops. The dropout masks are the CPU engine's (engine/rng.h's Philox, on the device),
// and products and sums are rounded as the CPU rounds them (__fmul_rn/__fadd_rn: no contraction into
// fused multiply-adds), so the same seed gives the same bits on both backends.
#include "cuda/common.cuh"
#include "cuda/kernels.cuh"
#include "engine/rng.h"

namespace electra {
namespace cuda {

static constexpr int kBlock = 256;

static __global__ void gelu_forward_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.f + erff(x * 0.70710678118654752440f));
  }
}

static __global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float x = inp[i];
    const float cdf = 0.5f * (1.f + erff(x * 0.70710678118654752440f));
    const float pdf = 0.39894228040143267794f * expf(-0.5f * x * x);
    dinp[i] = dout[i] * (cdf + x * pdf);
  }
}

void gelu_forward(float* out, const float* inp, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  gelu_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(out, inp, n);
  CUDA_CHECK_LAUNCH("gelu_forward");
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  gelu_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(dinp, inp, dout, n);
  CUDA_CHECK_LAUNCH("gelu_backward");
}

// keep(i) as the CPU decides it: the 24-bit uniform of Philox word i & 3 of block i >> 2 against p.
static __device__ __forceinline__ bool keep(uint64_t seed, uint64_t stream, uint64_t i, float p) {
  return random_unit(seed, stream, i) >= p;
}

static __global__ void dropout_kernel(float* out, const float* inp, int64_t n, float p, float scale, uint64_t seed,
                                      uint64_t stream) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = keep(seed, stream, (uint64_t)i, p) ? __fmul_rn(inp[i], scale) : 0.f;
}

// One element per thread; a warp's 32 keep bits (a ballot) are half of one 64-bit mask word, so the
// grid covers whole warps and stores the bits as 32-bit halves (little-endian: bits 0..31 first).
static __global__ void dropout_add_kernel(float* out, const float* inp, const float* resid, int64_t n, float p,
                                          float scale, uint64_t seed, uint64_t stream, uint32_t* bits32) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i0 = blockIdx.x * (int64_t)blockDim.x; i0 < n; i0 += stride) {  // whole blocks stay in step
    const int64_t i = i0 + threadIdx.x;
    bool k = false;
    if (i < n) {
      k = p > 0.f ? keep(seed, stream, (uint64_t)i, p) : true;
      const float d = k ? (p > 0.f ? __fmul_rn(inp[i], scale) : inp[i]) : 0.f;
      out[i] = __fadd_rn(d, resid[i]);
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, k);
    if (bits32 && (threadIdx.x & 31) == 0 && i < n) bits32[i >> 5] = ballot;
  }
}

static __global__ void dropout_bits_kernel(float* out, const float* inp, int64_t n, float scale,
                                           const uint64_t* bits) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = (bits[i >> 6] >> (i & 63)) & 1 ? __fmul_rn(inp[i], scale) : 0.f;
}

static float dropout_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t stream,
                     cudaStream_t s) {
  if (n <= 0) return;
  if (p <= 0.f) {
    if (out != inp) CUDA_CHECK(cudaMemcpyAsync(out, inp, sizeof(float) * n, cudaMemcpyDeviceToDevice, s));
    return;
  }
  dropout_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(out, inp, n, p, dropout_scale(p), seed, stream);
  CUDA_CHECK_LAUNCH("dropout_forward");
}

void dropout_add_forward(float* out, const float* inp, const float* resid, int64_t n, float p, uint64_t seed,
                         uint64_t stream, uint64_t* bits, cudaStream_t s) {
  if (n <= 0) return;
  uint32_t* bits32 = p > 0.f && bits ? reinterpret_cast<uint32_t*>(bits) : nullptr;
  // the last word's unused high half, when n ends inside its low half, is never written: zero it
  if (bits32 && (n & 63) != 0 && (n & 63) <= 32) CUDA_CHECK(cudaMemsetAsync(bits32 + ((n - 1) >> 5) + 1, 0, 4, s));
  dropout_add_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(out, inp, resid, n, p, p > 0.f ? dropout_scale(p) : 1.f,
                                                            seed, stream, bits32);
  CUDA_CHECK_LAUNCH("dropout_add_forward");
}

void dropout_apply_bits(float* out, const float* inp, int64_t n, float p, const uint64_t* bits, cudaStream_t s) {
  if (n <= 0) return;
  if (p <= 0.f) {
    if (out != inp) CUDA_CHECK(cudaMemcpyAsync(out, inp, sizeof(float) * n, cudaMemcpyDeviceToDevice, s));
    return;
  }
  dropout_bits_kernel<<<grid_for(n, kBlock), kBlock, 0, s>>>(out, inp, n, dropout_scale(p), bits);
  CUDA_CHECK_LAUNCH("dropout_apply_bits");
}

}  // namespace cuda
}  // namespace electra
