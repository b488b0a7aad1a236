// embedding.cu: the sum of word, position and token-type embeddings on the GPU, and its backward
// pass; also gathering rows (the generator's masked positions) and scattering their gradients back. The backward gives each feature to one thread, which walks the tokens in order as the CPU
// engine does: the same sums, bit for bit, and no atomics. (Its parallelism is E threads: fine for
// ELECTRA's few thousand tokens per step; a segmented sort-and-reduce would scale further.)
//
// Dimension legend: B batch, T sequence length, E embedding size.
#include "cuda/common.cuh"
#include "cuda/kernels.cuh"

namespace electra {
namespace cuda {

static __global__ void embedding_forward_kernel(float* out, const int32_t* ids, const int32_t* tt, const float* wte,
                                                const float* wpe, const float* wtt, int BT, int T, int E) {
  const int64_t n = (int64_t)BT * E;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
    const int bt = (int)(k / E), i = (int)(k % E), t = bt % T;
    const float a = wte[(int64_t)ids[bt] * E + i], p = wpe[(int64_t)t * E + i], c = wtt[(int64_t)(tt ? tt[bt] : 0) * E + i];
    out[k] = __fadd_rn(__fadd_rn(a, p), c);
  }
}

static __global__ void embedding_backward_kernel(float* dwte, float* dwpe, float* dwtt, const float* dout,
                                                 const int32_t* ids, const int32_t* tt, int BT, int T, int E) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= E) return;
  for (int bt = 0; bt < BT; bt++) {
    const float g = dout[(int64_t)bt * E + i];
    float* a = dwte + (int64_t)ids[bt] * E + i;
    *a = __fadd_rn(*a, g);
    float* p = dwpe + (int64_t)(bt % T) * E + i;
    *p = __fadd_rn(*p, g);
    float* c = dwtt + (int64_t)(tt ? tt[bt] : 0) * E + i;
    *c = __fadd_rn(*c, g);
  }
}

static __global__ void gather_rows_kernel(float* dst, const float* src, const int32_t* rows, int R, int C) {
  const int64_t n = (int64_t)R * C;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x)
    dst[k] = src[(int64_t)rows[k / C] * C + k % C];
}

static __global__ void scatter_add_rows_kernel(float* dst, const float* src, const int32_t* rows, const float* w, int R,
                                               int C) {
  const int64_t n = (int64_t)R * C;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
    const int r = (int)(k / C);
    if (w && w[r] == 0.f) continue;
    float* d = dst + (int64_t)rows[r] * C + k % C;
    *d = __fadd_rn(*d, src[k]);
  }
}

void gather_rows(float* dst, const float* src, const int32_t* rows, int R, int C, cudaStream_t s) {
  if ((int64_t)R * C <= 0) return;
  gather_rows_kernel<<<grid_for((int64_t)R * C, 256), 256, 0, s>>>(dst, src, rows, R, C);
  CUDA_CHECK_LAUNCH("gather_rows");
}

void scatter_add_rows(float* dst, const float* src, const int32_t* rows, const float* weights, int R, int C,
                      cudaStream_t s) {
  if ((int64_t)R * C <= 0) return;
  scatter_add_rows_kernel<<<grid_for((int64_t)R * C, 256), 256, 0, s>>>(dst, src, rows, weights, R, C);
  CUDA_CHECK_LAUNCH("scatter_add_rows");
}

void embedding_forward(float* out, const int32_t* ids, const int32_t* tt, const float* wte, const float* wpe,
                       const float* wtt, int B, int T, int E, cudaStream_t s) {
  const int64_t n = (int64_t)B * T * E;
  if (n <= 0) return;
  embedding_forward_kernel<<<grid_for(n, 256), 256, 0, s>>>(out, ids, tt, wte, wpe, wtt, B * T, T, E);
  CUDA_CHECK_LAUNCH("embedding_forward");
}

void embedding_backward(float* dwte, float* dwpe, float* dwtt, const float* dout, const int32_t* ids,
                        const int32_t* tt, int B, int T, int E, cudaStream_t s) {
  if (B * T <= 0 || E <= 0) return;
  embedding_backward_kernel<<<(unsigned)ceil_div(E, 64), 64, 0, s>>>(dwte, dwpe, dwtt, dout, ids, tt, B * T, T, E);
  CUDA_CHECK_LAUNCH("embedding_backward");
}

}  // namespace cuda
}  // namespace electra
