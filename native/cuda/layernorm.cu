// layernorm.cu: LayerNorm forward and backward on the GPU (biased variance, statistics in double),
// one warp per row. The weight and bias gradients sum over rows in order, one thread per feature,
// with the CPU engine's roundings: they are bit-identical to cpu/layernorm.cpp's. Not here: the
// residual add (activation.cu's dropout_add_forward precedes it).
//
// Dimension legend: N rows, C features.
#include "cuda/common.cuh"
#include "cuda/kernels.cuh"

namespace electra {
namespace cuda {

static constexpr int kWarps = 8;  // rows per block of the row kernels

static __global__ void layernorm_forward_kernel(float* out, float* mean, float* rstd, const float* inp,
                                                const float* weight, const float* bias, int N, int C, double eps) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= N) return;
  const float* x = inp + (int64_t)row * C;
  double s = 0;
  for (int i = lane; i < C; i += 32) s += x[i];
  const double m = warp_sum(s) / C;
  double v = 0;
  for (int i = lane; i < C; i += 32) {
    const double d = x[i] - m;
    v += d * d;
  }
  v = warp_sum(v) / C;
  const double r = 1.0 / sqrt(v + eps);
  const float mf = (float)m, rf = (float)r;
  float* y = out + (int64_t)row * C;
  for (int i = lane; i < C; i += 32)  // ((x - m) r) w + b, rounded step by step as the CPU does
    y[i] = __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(x[i], mf), rf), weight[i]), bias[i]);
  if (lane == 0) {
    mean[row] = mf;
    rstd[row] = rf;
  }
}

// dx = r * (dy w - mean(dy w) - xhat * mean(dy w xhat)), the means in double.
static __global__ void layernorm_backward_kernel(float* dinp, const float* dout, const float* inp, const float* mean,
                                                 const float* rstd, const float* weight, int N, int C,
                                                 bool accumulate) {
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= N) return;
  const float* x = inp + (int64_t)row * C;
  const float* dy = dout + (int64_t)row * C;
  float* dx = dinp + (int64_t)row * C;
  const float m = mean[row], r = rstd[row];
  double a = 0, b = 0;
  for (int i = lane; i < C; i += 32) {
    const double xhat = (double)__fmul_rn(__fsub_rn(x[i], m), r);
    const double dn = (double)dy[i] * weight[i];
    a += dn;
    b += dn * xhat;
  }
  const float ma = (float)(warp_sum(a) / C), mb = (float)(warp_sum(b) / C);
  for (int i = lane; i < C; i += 32) {
    const float xhat = __fmul_rn(__fsub_rn(x[i], m), r);
    const float g = __fmul_rn(r, __fsub_rn(__fsub_rn(__fmul_rn(dy[i], weight[i]), ma), __fmul_rn(xhat, mb)));
    dx[i] = accumulate ? __fadd_rn(dx[i], g) : g;  // dx may be dy: each element read before it is written
  }
}

// One thread per feature, rows in order: sw += (dy (x - m)) r, sb += dy, then added to the gradients.
static __global__ void layernorm_dparams_kernel(float* dweight, float* dbias, const float* dout, const float* inp,
                                                const float* mean, const float* rstd, int N, int C) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= C) return;
  float sw = 0.f, sb = 0.f;
  for (int n = 0; n < N; n++) {
    const float dy = dout[(int64_t)n * C + i];
    sw = __fadd_rn(sw, __fmul_rn(__fmul_rn(dy, __fsub_rn(inp[(int64_t)n * C + i], mean[n])), rstd[n]));
    sb = __fadd_rn(sb, dy);
  }
  if (dweight) dweight[i] = __fadd_rn(dweight[i], sw);
  if (dbias) dbias[i] = __fadd_rn(dbias[i], sb);
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C, double eps, cudaStream_t s) {
  if (N <= 0) return;
  layernorm_forward_kernel<<<(unsigned)ceil_div(N, kWarps), 32 * kWarps, 0, s>>>(out, mean, rstd, inp, weight, bias,
                                                                                N, C, eps);
  CUDA_CHECK_LAUNCH("layernorm_forward");
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* mean, const float* rstd, const float* weight, int N, int C, bool accumulate,
                        cudaStream_t s) {
  if (N <= 0) return;
  // the parameter gradients first: dinp may be dout, which they read
  if (dweight || dbias) {
    layernorm_dparams_kernel<<<(unsigned)ceil_div(C, 128), 128, 0, s>>>(dweight, dbias, dout, inp, mean, rstd, N, C);
    CUDA_CHECK_LAUNCH("layernorm_backward (parameters)");
  }
  if (dinp) {
    layernorm_backward_kernel<<<(unsigned)ceil_div(N, kWarps), 32 * kWarps, 0, s>>>(dinp, dout, inp, mean, rstd, weight,
                                                                                   N, C, accumulate);
    CUDA_CHECK_LAUNCH("layernorm_backward");
  }
}

}  // namespace cuda
}  // namespace electra
