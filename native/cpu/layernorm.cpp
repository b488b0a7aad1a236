// layernorm.cpp: LayerNorm forward and backward over the last dimension (biased variance, as
// torch.nn.LayerNorm and TensorFlow's layer_norm). Statistics are accumulated in double.
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
    for (int i = 0; i < C; i++) s += x[i];
    const double m = s / C;
    double v = 0;
    for (int i = 0; i < C; i++) {
      const double d = x[i] - m;
      v += d * d;
    }
    v /= C;
    const double r = 1.0 / std::sqrt(v + eps);
    const F mf = (F)m, rf = (F)r;
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
    // Each thread owns a range of features and sums over rows in order: thread-count independent.
#pragma omp parallel for schedule(static)
    for (int i = 0; i < C; i++) {
      F sw = 0, sb = 0;
      for (int n = 0; n < N; n++) {
        const F dy = dout[(int64_t)n * C + i];
        sw += dy * (inp[(int64_t)n * C + i] - mean[n]) * rstd[n];
        sb += dy;
      }
      if (dweight) dweight[i] += sw;
      if (dbias) dbias[i] += sb;
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
      for (int i = 0; i < C; i++) {
        const double xhat = (double)((x[i] - m) * r);
        const double dn = (double)dy[i] * weight[i];
        a += dn;
        b += dn * xhat;
      }
      const F ma = (F)(a / C), mb = (F)(b / C);
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
