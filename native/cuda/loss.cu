// loss.cu: the losses and samplers of ELECTRA on the GPU: softmax cross-entropy (the MLM head and
// classification), the replaced-token-detection sigmoid loss, squared error (STS-B), argmax and
// Gumbel-max sampling with the CPU engine's noise. Per-row losses go to a device array and are summed
// into a device double in a fixed order (run-to-run identical); nothing waits for the host.
//
// Dimension legend: R rows, V classes (vocabulary).
#include <cfloat>
#include <climits>

#include "cuda/common.cuh"
#include "cuda/kernels.cuh"
#include "engine/rng.h"

namespace electra {
namespace cuda {

static constexpr int kRowBlock = 256;

// *out = sum of x[0, n): one block, each thread a fixed strided subset, then a fixed tree.
static __global__ void ordered_sum_kernel(double* out, const double* x, int n) {
  double s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = s;
}

static void ordered_sum(double* out, const double* x, int n, cudaStream_t s) {
  ordered_sum_kernel<<<1, 256, 0, s>>>(out, x, n);
  CUDA_CHECK_LAUNCH("ordered_sum");
}

// (value, index) pairs: the larger value wins, the smaller index among equals (the first maximum).
struct ArgMax {
  float v;
  int i;
};
__device__ __forceinline__ ArgMax better(ArgMax a, ArgMax b) {
  return (b.v > a.v || (b.v == a.v && b.i < a.i)) ? b : a;
}
__device__ ArgMax block_argmax(ArgMax a) {
  __shared__ float sv[32];
  __shared__ int si[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    ArgMax b{__shfl_xor_sync(0xffffffffu, a.v, o), __shfl_xor_sync(0xffffffffu, a.i, o)};
    a = better(a, b);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sv[warp] = a.v, si[warp] = a.i;
  __syncthreads();
  ArgMax r = lane < nw ? ArgMax{sv[lane], si[lane]} : ArgMax{-INFINITY, INT_MAX};
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    ArgMax b{__shfl_xor_sync(0xffffffffu, r.v, o), __shfl_xor_sync(0xffffffffu, r.i, o)};
    r = better(r, b);
  }
  return r;
}

__device__ float block_max(float v) {
  __shared__ float part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  return warp_max(lane < nw ? part[lane] : -INFINITY);
}

// One block per row: max, exp(x - max) summed in double, the row's loss lse - x[y]; the gradient
// g / sum * exp(x - max), minus g at the target.
static __global__ void crossentropy_kernel(double* row_loss, float* dlogits, const float* logits,
                                           const int32_t* targets, const float* w, int V, double dscale) {
  const int r = blockIdx.x;
  const float* x = logits + (int64_t)r * V;
  float* dx = dlogits ? dlogits + (int64_t)r * V : nullptr;
  const double wr = w ? (double)w[r] : 1.0;
  if (wr == 0.0) {
    if (dx)
      for (int v = threadIdx.x; v < V; v += blockDim.x) dx[v] = 0.f;
    if (threadIdx.x == 0) row_loss[r] = 0.0;
    return;
  }
  const int y = targets[r];
  const double xy = x[y];  // read before any thread writes dx (which may be x)
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, x[v]);
  mx = block_max(mx);
  double sum = 0;
  for (int v = threadIdx.x; v < V; v += blockDim.x) sum += (double)expf(x[v] - mx);
  sum = block_sum(sum);
  if (threadIdx.x == 0) row_loss[r] = wr * ((double)mx + log(sum) - xy);
  if (dx) {
    const double g = dscale * wr;
    const float gs = (float)(g / sum);
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
      const float e = __fmul_rn(expf(x[v] - mx), gs);
      dx[v] = v == y ? __fsub_rn(e, (float)g) : e;
    }
  }
}

static __global__ void rtd_kernel(double* row_loss, float* dlogits, const float* logits, const int32_t* labels,
                                  const int32_t* mask, int R, double dscale) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  const double m = mask ? (double)(mask[r] != 0) : 1.0;
  const double z = logits[r], y = labels[r];
  row_loss[r] = m * (fmax(z, 0.0) - z * y + log1p(exp(-fabs(z))));
  if (dlogits) {
    const double sg = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    dlogits[r] = (float)(dscale * m * (sg - y));
  }
}

static __global__ void mse_kernel(double* row_loss, float* dpred, const float* pred, const float* target, int R,
                                  double dscale) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= R) return;
  const double d = (double)pred[r] - (double)target[r];
  row_loss[r] = d * d;
  if (dpred) dpred[r] = (float)(dscale * 2.0 * d);
}

static __global__ void argmax_kernel(int32_t* out, const float* logits, int V) {
  const float* x = logits + (int64_t)blockIdx.x * V;
  ArgMax a{-INFINITY, INT_MAX};
  for (int v = threadIdx.x; v < V; v += blockDim.x) a = better(a, ArgMax{x[v], v});
  a = block_argmax(a);
  if (threadIdx.x == 0) out[blockIdx.x] = a.i == INT_MAX ? 0 : a.i;
}

// score = x / temperature - log(-log(u + 1e-9) + 1e-9), u the CPU engine's uniform for index r V + v.
static __global__ void gumbel_kernel(int32_t* out, const float* logits, int V, float inv_t, uint64_t seed,
                                     uint64_t stream) {
  const int r = blockIdx.x;
  const float* x = logits + (int64_t)r * V;
  ArgMax a{-INFINITY, INT_MAX};
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    const float u = random_unit(seed, stream, (uint64_t)r * V + v);
    const float sc = __fsub_rn(__fmul_rn(x[v], inv_t), logf(-logf(u + 1e-9f) + 1e-9f));
    a = better(a, ArgMax{sc, v});
  }
  a = block_argmax(a);
  if (threadIdx.x == 0) out[r] = a.i == INT_MAX ? 0 : a.i;
}

static Scratch g_rows;  // per-row losses

void crossentropy_forward_backward(double* loss, float* dlogits, const float* logits, const int32_t* targets,
                                   const float* w, int R, int V, double dscale, cudaStream_t s) {
  if (R <= 0) {
    CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(double), s));
    return;
  }
  double* rows = g_rows.get<double>(R);
  crossentropy_kernel<<<R, kRowBlock, 0, s>>>(rows, dlogits, logits, targets, w, V, dscale);
  CUDA_CHECK_LAUNCH("crossentropy_forward_backward");
  ordered_sum(loss, rows, R, s);
}

void rtd_loss_forward_backward(double* loss, float* dlogits, const float* logits, const int32_t* labels,
                               const int32_t* mask, int R, double dscale, cudaStream_t s) {
  if (R <= 0) {
    CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(double), s));
    return;
  }
  double* rows = g_rows.get<double>(R);
  rtd_kernel<<<(unsigned)ceil_div(R, 256), 256, 0, s>>>(rows, dlogits, logits, labels, mask, R, dscale);
  CUDA_CHECK_LAUNCH("rtd_loss_forward_backward");
  ordered_sum(loss, rows, R, s);
}

void mse_forward_backward(double* loss, float* dpred, const float* pred, const float* target, int R, double dscale,
                          cudaStream_t s) {
  if (R <= 0) {
    CUDA_CHECK(cudaMemsetAsync(loss, 0, sizeof(double), s));
    return;
  }
  double* rows = g_rows.get<double>(R);
  mse_kernel<<<(unsigned)ceil_div(R, 256), 256, 0, s>>>(rows, dpred, pred, target, R, dscale);
  CUDA_CHECK_LAUNCH("mse_forward_backward");
  ordered_sum(loss, rows, R, s);
}

void argmax_rows(int32_t* out, const float* logits, int R, int V, cudaStream_t s) {
  if (R <= 0) return;
  argmax_kernel<<<R, kRowBlock, 0, s>>>(out, logits, V);
  CUDA_CHECK_LAUNCH("argmax_rows");
}

void gumbel_sample(int32_t* out, const float* logits, int R, int V, float temperature, uint64_t seed, uint64_t stream,
                   cudaStream_t s) {
  if (R <= 0) return;
  gumbel_kernel<<<R, kRowBlock, 0, s>>>(out, logits, V, 1.0f / temperature, seed, stream);
  CUDA_CHECK_LAUNCH("gumbel_sample");
}

}  // namespace cuda
}  // namespace electra
