// layernorm.cpp: LayerNorm forward and backward over the last dimension (biased variance, as
// torch.nn.LayerNorm and TensorFlow's layer_norm). Statistics are accumulated in double.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

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

// dx = r * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), dnorm = dy * w
template <typename F>
static inline __attribute__((always_inline)) void ln_bwd_row(F* dx, const F* dy, const F* x, F m, F r, const F* weight,
                                                             int C, bool accumulate) {
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
  if (accumulate) {
#pragma omp simd
    for (int i = 0; i < C; i++) dx[i] += r * (dy[i] * weight[i] - ma - (x[i] - m) * r * mb);
  } else {
#pragma omp simd
    for (int i = 0; i < C; i++) dx[i] = r * (dy[i] * weight[i] - ma - (x[i] - m) * r * mb);
  }
}

// Features [lo, lo + w) of the weight and bias gradients, summed over rows in order.
template <typename F>
static inline __attribute__((always_inline)) void ln_dw_cols(F* sw, F* sb, const F* dout, const F* inp, const F* mean,
                                                             const F* rstd, int N, int C, int lo, int w) {
  for (int n = 0; n < N; n++) {
    const F* dy = dout + (int64_t)n * C + lo;
    const F* x = inp + (int64_t)n * C + lo;
    const F m = mean[n], r = rstd[n];
#pragma omp simd
    for (int i = 0; i < w; i++) {
      sw[i] += dy[i] * (x[i] - m) * r;
      sb[i] += dy[i];
    }
  }
}

template <typename F>
static inline __attribute__((always_inline)) void ln_fwd_rows(F* out, F* mean, F* rstd, const F* inp, const F* weight,
                                                              const F* bias, int n0, int n1, int C, double eps) {
  for (int n = n0; n < n1; n++)
    ln_fwd_row(out + (int64_t)n * C, mean + n, rstd + n, inp + (int64_t)n * C, weight, bias, C, eps);
}
template <typename F>
static inline __attribute__((always_inline)) void ln_bwd_rows(F* dinp, const F* dout, const F* inp, const F* mean,
                                                              const F* rstd, const F* weight, int n0, int n1, int C,
                                                              bool accumulate) {
  for (int n = n0; n < n1; n++)
    ln_bwd_row(dinp + (int64_t)n * C, dout + (int64_t)n * C, inp + (int64_t)n * C, mean[n], rstd[n], weight, C,
               accumulate);
}
ELECTRA_MULTIVERSION static void ln_fwd_rows_f32(float* out, float* mean, float* rstd, const float* inp,
                                                 const float* weight, const float* bias, int n0, int n1, int C,
                                                 double eps) {
  ln_fwd_rows(out, mean, rstd, inp, weight, bias, n0, n1, C, eps);
}
ELECTRA_MULTIVERSION static void ln_bwd_rows_f32(float* dinp, const float* dout, const float* inp, const float* mean,
                                                 const float* rstd, const float* weight, int n0, int n1, int C,
                                                 bool accumulate) {
  ln_bwd_rows(dinp, dout, inp, mean, rstd, weight, n0, n1, C, accumulate);
}
ELECTRA_MULTIVERSION static void ln_dw_cols_f32(float* sw, float* sb, const float* dout, const float* inp,
                                                const float* mean, const float* rstd, int N, int C, int lo, int w) {
  ln_dw_cols(sw, sb, dout, inp, mean, rstd, N, C, lo, w);
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

template <typename F>
void layernorm_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* mean, const F* rstd,
                        const F* weight, int N, int C, bool accumulate) {
  ProfileScope prof("layernorm_bwd");
  if (dweight || dbias) {
    // Each thread owns a range of features and sums over rows in order (thread-count independent),
    // sweeping rows so that memory is read contiguously.
#pragma omp parallel
    {
      int lo, hi;
      thread_range(C, lo, hi);
      const int w = hi - lo;
      if (w > 0) {
        static thread_local std::vector<F> sw_tls, sb_tls;
        sw_tls.assign((size_t)w, F(0));
        sb_tls.assign((size_t)w, F(0));
        F* sw = sw_tls.data();
        F* sb = sb_tls.data();
        if constexpr (std::is_same_v<F, float>) ln_dw_cols_f32(sw, sb, dout, inp, mean, rstd, N, C, lo, w);
        else ln_dw_cols(sw, sb, dout, inp, mean, rstd, N, C, lo, w);
        for (int i = 0; i < w; i++) {
          if (dweight) dweight[lo + i] += sw[i];
          if (dbias) dbias[lo + i] += sb[i];
        }
      }
    }
  }
  if (dinp) {
#pragma omp parallel
    {
      int lo, hi;
      thread_range(N, lo, hi);
      if constexpr (std::is_same_v<F, float>) ln_bwd_rows_f32(dinp, dout, inp, mean, rstd, weight, lo, hi, C, accumulate);
      else ln_bwd_rows(dinp, dout, inp, mean, rstd, weight, lo, hi, C, accumulate);
    }
  }
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*, const float*, int, int, double);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*, const double*, int, int, double);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, bool);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int, int, bool);

}  // namespace electra
