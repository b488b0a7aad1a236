// layernorm.cpp: LayerNorm forward and backward over the last dimension (biased variance, as
// torch.nn.LayerNorm and TensorFlow's layer_norm). Statistics are accumulated in double.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/simd.h"
#include "engine/profile.h"

namespace electra {

// Row kernels, compiled for AVX-512 / AVX2 / baseline (ELECTRA_MULTIVERSION) through the float
// instantiation: LayerNorm is a few passes over rows of C values, bound by how wide they run.
// Row sums keep 16 running values, folded at the end: GCC's `omp simd reduction` sets up and folds a
// stack array of lanes with scalar loops on every call, which costs as much as a 256-wide row.
constexpr int kLanes = 16;

template <typename F>
static inline __attribute__((always_inline)) void ln_fwd_row(F* y, F* mean, F* rstd, const F* x, const F* weight,
                                                             const F* bias, int C, double eps) {
  const int Cw = C / kLanes * kLanes;
  double acc[kLanes] = {};
  for (int i = 0; i < Cw; i += kLanes)
#pragma omp simd
    for (int j = 0; j < kLanes; j++) acc[j] += x[i + j];
  double s = 0;
  for (int j = 0; j < kLanes; j++) s += acc[j];
  for (int i = Cw; i < C; i++) s += x[i];
  const double m = s / C;
  for (int j = 0; j < kLanes; j++) acc[j] = 0;
  for (int i = 0; i < Cw; i += kLanes)
#pragma omp simd
    for (int j = 0; j < kLanes; j++) {
      const double d = x[i + j] - m;
      acc[j] += d * d;
    }
  double v = 0;
  for (int j = 0; j < kLanes; j++) v += acc[j];
  for (int i = Cw; i < C; i++) {
    const double d = x[i] - m;
    v += d * d;
  }
  v /= C;
  const double r = 1.0 / std::sqrt(v + eps);
  const F mf = (F)m, rf = (F)r;
#pragma omp simd
  for (int i = 0; i < C; i++) y[i] = (x[i] - mf) * rf * weight[i] + bias[i];
  *mean = mf;
  *rstd = rf;
}

// dx = r * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), dnorm = dy * w; with sw, sb the row's
// terms of the weight and bias gradients are added to them (sw += dy * xhat, sb += dy) in the same
// pass. dx may alias dy.
template <typename F>
static inline __attribute__((always_inline)) void ln_bwd_row(F* dx, F* sw, F* sb, const F* dy, const F* x, F m, F r,
                                                             const F* weight, int C, bool accumulate) {
  const int Cw = C / kLanes * kLanes;
  double aa[kLanes] = {}, bb[kLanes] = {};
  for (int i = 0; i < Cw; i += kLanes)
#pragma omp simd
    for (int j = 0; j < kLanes; j++) {
      const double xhat = (double)((x[i + j] - m) * r);
      const double dn = (double)dy[i + j] * weight[i + j];
      aa[j] += dn;
      bb[j] += dn * xhat;
    }
  double a = 0, b = 0;
  for (int j = 0; j < kLanes; j++) a += aa[j], b += bb[j];
  for (int i = Cw; i < C; i++) {
    const double xhat = (double)((x[i] - m) * r);
    const double dn = (double)dy[i] * weight[i];
    a += dn;
    b += dn * xhat;
  }
  const F ma = (F)(a / C), mb = (F)(b / C);
  if (sw) {  // the gradient sums first: dx may alias dy
#pragma omp simd
    for (int i = 0; i < C; i++) {
      sw[i] += dy[i] * (x[i] - m) * r;
      sb[i] += dy[i];
    }
  }
  if (accumulate) {
#pragma omp simd
    for (int i = 0; i < C; i++) dx[i] += r * (dy[i] * weight[i] - ma - (x[i] - m) * r * mb);
  } else {
#pragma omp simd
    for (int i = 0; i < C; i++) dx[i] = r * (dy[i] * weight[i] - ma - (x[i] - m) * r * mb);
  }
}

template <typename F>
static inline __attribute__((always_inline)) void ln_fwd_rows(F* out, F* mean, F* rstd, const F* inp, const F* weight,
                                                              const F* bias, int n0, int n1, int C, double eps) {
  for (int n = n0; n < n1; n++)
    ln_fwd_row(out + (int64_t)n * C, mean + n, rstd + n, inp + (int64_t)n * C, weight, bias, C, eps);
}
// Rows [n0, n1) of the backward pass; sw, sb (may be null): the weight and bias gradient terms added in.
template <typename F>
static inline __attribute__((always_inline)) void ln_bwd_rows(F* dinp, F* sw, F* sb, const F* dout, const F* inp,
                                                              const F* mean, const F* rstd, const F* weight, int n0,
                                                              int n1, int C, bool accumulate) {
  for (int n = n0; n < n1; n++) {
    const int64_t e0 = (int64_t)n * C;
    ln_bwd_row(dinp + e0, sw, sb, dout + e0, inp + e0, mean[n], rstd[n], weight, C, accumulate);
  }
}
ELECTRA_MULTIVERSION static void ln_fwd_rows_f32(float* out, float* mean, float* rstd, const float* inp,
                                                 const float* weight, const float* bias, int n0, int n1, int C,
                                                 double eps) {
  ln_fwd_rows(out, mean, rstd, inp, weight, bias, n0, n1, C, eps);
}
ELECTRA_MULTIVERSION static void ln_bwd_rows_f32(float* dinp, float* sw, float* sb, const float* dout, const float* inp,
                                                 const float* mean, const float* rstd, const float* weight, int n0,
                                                 int n1, int C, bool accumulate) {
  ln_bwd_rows(dinp, sw, sb, dout, inp, mean, rstd, weight, n0, n1, C, accumulate);
}

template <typename F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* weight, const F* bias, int N, int C,
                       double eps) {
  ProfileScope prof("layernorm_fwd");
#pragma omp parallel
  {
    int lo, hi;
    thread_range(N, lo, hi);
    if constexpr (std::is_same_v<F, float>) ln_fwd_rows_f32(out, mean, rstd, inp, weight, bias, lo, hi, C, eps);
    else ln_fwd_rows(out, mean, rstd, inp, weight, bias, lo, hi, C, eps);
  }
}

// The weight and bias gradients are summed over rows in kLnChunks fixed chunks of rows (each chunk's
// partial sums in row order, then the chunks in order), so the sums do not depend on the thread count,
// and they come from the same pass over the rows as dinp.
constexpr int kLnChunks = 16;

template <typename F>
void layernorm_dropout_backward(F* dinp, F* dropped, F* dweight, F* dbias, const F* dout, const F* inp, const F* mean,
                                const F* rstd, const F* weight, int N, int C, bool accumulate, float p,
                                const uint64_t* bits) {
  ProfileScope prof("layernorm_bwd");
  const bool sums = dweight || dbias;
  // the masks are applied to each chunk of rows while it is in L2 where chunks start at whole words of
  // bits; else in a pass of their own
  const bool fuse_drop = dropped && p > 0.f && C % 64 == 0;
  static thread_local std::vector<F> part;
  if (sums) part.assign((size_t)kLnChunks * 2 * C, F(0));
  F* const pw = part.data();
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int ch = 0; ch < kLnChunks; ch++) {
      int n0, n1;
      share_range(N, ch, kLnChunks, n0, n1);
      F* sw = sums ? pw + (size_t)ch * 2 * C : nullptr;
      F* sb = sums ? sw + C : nullptr;
      if (n0 < n1) {
        if constexpr (std::is_same_v<F, float>) ln_bwd_rows_f32(dinp, sw, sb, dout, inp, mean, rstd, weight, n0, n1, C, accumulate);
        else ln_bwd_rows(dinp, sw, sb, dout, inp, mean, rstd, weight, n0, n1, C, accumulate);
        if (fuse_drop) dropout_apply_bits_range(dropped, dinp, (int64_t)n0 * C, (int64_t)n1 * C, p, bits);
      }
    }  // (barrier)
    if (sums) {
      int lo, hi;
      thread_range(C, lo, hi);
      for (int i = lo; i < hi; i++) {
        F w = 0, b = 0;
        for (int ch = 0; ch < kLnChunks; ch++) w += pw[(size_t)ch * 2 * C + i], b += pw[(size_t)ch * 2 * C + C + i];
        if (dweight) dweight[i] += w;
        if (dbias) dbias[i] += b;
      }
    }
  }
  if (dropped && !fuse_drop) dropout_apply_bits(dropped, dinp, (int64_t)N * C, p, bits);
}

void layernorm_forward_b16(float* out, uint16_t* out16, float* mean, float* rstd, const float* inp, const float* weight,
                           const float* bias, int N, int C, double eps) {
  ProfileScope prof("layernorm_fwd");
#pragma omp parallel
  {
    int lo, hi;
    thread_range(N, lo, hi);
    for (int n0 = lo; n0 < hi; n0 += 16) {  // each block of rows rounded while in L1
      const int n1 = std::min(hi, n0 + 16);
      ln_fwd_rows_f32(out, mean, rstd, inp, weight, bias, n0, n1, C, eps);
      round_to_bf16(out16 + (int64_t)n0 * C, out + (int64_t)n0 * C, (int64_t)(n1 - n0) * C);
    }
  }
}

template <typename F>
void layernorm_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* mean, const F* rstd,
                        const F* weight, int N, int C, bool accumulate) {
  layernorm_dropout_backward(dinp, (F*)nullptr, dweight, dbias, dout, inp, mean, rstd, weight, N, C, accumulate, 0.f,
                             nullptr);
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*, const float*, int, int, double);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*, const double*, int, int, double);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, bool);
template void layernorm_dropout_backward<float>(float*, float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, bool, float, const uint64_t*);
template void layernorm_dropout_backward<double>(double*, double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int, int, bool, float, const uint64_t*);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int, int, bool);

}  // namespace electra
