// optim.cu: ELECTRA's AdamW on the GPU over the flat parameter buffer, with the global gradient norm
// computed and applied on the device (the clip factor never goes through the host). The norm sums
// squares in double in chunks of 16384, as the CPU engine does; the update is elementwise.
#include "cuda/common.cuh"
#include "cuda/kernels.cuh"

namespace electra {
namespace cuda {

static constexpr int kChunk = 1 << 14;

static __global__ void sumsq_chunks_kernel(double* part, const float* x, int64_t n) {
  const int64_t c0 = (int64_t)blockIdx.x * kChunk, c1 = min(n, c0 + kChunk);
  double s = 0;
  for (int64_t i = c0 + threadIdx.x; i < c1; i += blockDim.x) s += (double)x[i] * (double)x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

static __global__ void sqrt_sum_kernel(double* norm, const double* part, int chunks) {
  double s = 0;
  for (int i = threadIdx.x; i < chunks; i += blockDim.x) s += part[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *norm = sqrt(s);
}

static Scratch g_parts;

void global_norm(double* norm, const float* x, int64_t n, cudaStream_t s) {
  const int chunks = (int)ceil_div(n, kChunk);
  if (chunks == 0) {
    CUDA_CHECK(cudaMemsetAsync(norm, 0, sizeof(double), s));
    return;
  }
  double* part = g_parts.get<double>(chunks);
  sumsq_chunks_kernel<<<chunks, 256, 0, s>>>(part, x, n);
  CUDA_CHECK_LAUNCH("global_norm");
  sqrt_sum_kernel<<<1, 256, 0, s>>>(norm, part, chunks);
  CUDA_CHECK_LAUNCH("global_norm (sum)");
}

// blockIdx.y: the segment (tensor); blocks along x stride through it.
static __global__ void adamw_kernel(float* params, float* grads, float* m, float* v, const AdamWSegment* segments,
                                    const double* norm, float lr, float b1, float b2, float eps, float clip_norm) {
  const AdamWSegment sg = segments[blockIdx.y];
  const double nrm = *norm;
  const float c = clip_norm > 0.f ? (float)((double)clip_norm / fmax(nrm, (double)clip_norm)) : 1.f;
  const float rate = lr * sg.lr_scale, wd = sg.weight_decay;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < sg.size; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = sg.offset + k;
    const float gi = grads[i] * c;
    grads[i] = gi;
    const float mi = b1 * m[i] + (1.f - b1) * gi;
    const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    params[i] -= rate * (mi / (sqrtf(vi) + eps) + wd * params[i]);
  }
}

void adamw_step(float* params, float* grads, float* m, float* v, const AdamWSegment* segments, int n_segments,
                int64_t total, double* norm, float lr, float beta1, float beta2, float eps, float clip_norm,
                cudaStream_t s) {
  global_norm(norm, grads, total, s);
  if (n_segments <= 0) return;
  const dim3 grid(64, (unsigned)n_segments);  // 64 x 256 threads per tensor: enough to stream any of them
  adamw_kernel<<<grid, 256, 0, s>>>(params, grads, m, v, segments, norm, lr, beta1, beta2, eps, clip_norm);
  CUDA_CHECK_LAUNCH("adamw_step");
}

}  // namespace cuda
}  // namespace electra
