// layernorm.cpp: LayerNorm forward and backward over the last dimension (biased variance, as
// torch.nn.LayerNorm and TensorFlow's layer_norm). Statistics are accumulated in double.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"
#include "engine/profile.h"

namespace electra {

template <typename F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* weight, const F* bias, int N, int C,
                       double eps) {
  ProfileScope prof("layernorm_fwd");
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const F* x = inp + (int64_t)n * C;
    F* y = out + (int64_t)n * C;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < C; i++) s += x[i];
    const double m = s / C;
    double v = 0;
#pragma omp simd reduction(+ : v)
    for (int i = 0; i < C; i++) {
      const double d = x[i] - m;
      v += d * d;
    }
    v /= C;
    const double r = 1.0 / std::sqrt(v + eps);
    const F mf = (F)m, rf = (F)r;
#pragma omp simd
    for (int i = 0; i < C; i++) y[i] = (x[i] - mf) * rf * weight[i] + bias[i];
    mean[n] = mf;
    rstd[n] = rf;
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
      const int nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int chunk = (C + nt - 1) / nt;
      const int lo = std::min(C, t * chunk), hi = std::min(C, lo + chunk), w = hi - lo;
      if (w > 0) {
        std::vector<F> sw(w, F(0)), sb(w, F(0));
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
        for (int i = 0; i < w; i++) {
          if (dweight) dweight[lo + i] += sw[i];
          if (dbias) dbias[lo + i] += sb[i];
        }
      }
    }
  }
  if (dinp) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
      const F* x = inp + (int64_t)n * C;
      const F* dy = dout + (int64_t)n * C;
      F* dx = dinp + (int64_t)n * C;
      const F m = mean[n], r = rstd[n];
      // dnorm = dy * w; dx = r * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
      double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
      for (int i = 0; i < C; i++) {
        const double xhat = (double)((x[i] - m) * r);
        const double dn = (double)dy[i] * weight[i];
        a += dn;
        b += dn * xhat;
      }
      const F ma = (F)(a / C), mb = (F)(b / C);
#pragma omp simd
      for (int i = 0; i < C; i++) {
        const F xhat = (x[i] - m) * r;
        const F g = r * (dy[i] * weight[i] - ma - xhat * mb);
        dx[i] = accumulate ? dx[i] + g : g;
      }
    }
  }
}

template void layernorm_forward<float>(float*, float*, float*, const float*, const float*, const float*, int, int, double);
template void layernorm_forward<double>(double*, double*, double*, const double*, const double*, const double*, int, int, double);
template void layernorm_backward<float>(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int, bool);
template void layernorm_backward<double>(double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int, int, bool);

}  // namespace electra
