// loss.cpp: the losses (MLM softmax cross-entropy, RTD sigmoid cross-entropy, MSE) with their
// gradients fused in, and Gumbel-max sampling of the generator's replacements.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/kernels.h"
#include "engine/profile.h"
#include "engine/rng.h"

namespace electra {

template <typename F>
double crossentropy_forward_backward(F* dlogits, const F* logits, const int32_t* targets, const float* w, int R,
                                     int V, double dscale) {
  ProfileScope prof("mlm_crossentropy");
  std::vector<double> row_loss(R, 0.0);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < R; r++) {
    const F* x = logits + (int64_t)r * V;
    const double wr = w ? (double)w[r] : 1.0;
    F* dx = dlogits ? dlogits + (int64_t)r * V : nullptr;
    if (wr == 0.0) {
      if (dx)
        for (int v = 0; v < V; v++) dx[v] = 0;
      continue;
    }
    double mx = -std::numeric_limits<double>::infinity();
    for (int v = 0; v < V; v++) mx = std::max(mx, (double)x[v]);
    double sum = 0;
    for (int v = 0; v < V; v++) sum += std::exp((double)x[v] - mx);
    const double lse = mx + std::log(sum);
    const int y = targets[r];
    row_loss[r] = wr * (lse - (double)x[y]);
    if (dx) {
      const double g = dscale * wr;
      for (int v = 0; v < V; v++) dx[v] = (F)(g * std::exp((double)x[v] - lse));
      dx[y] -= (F)g;
    }
  }
  double total = 0;
  for (int r = 0; r < R; r++) total += row_loss[r];
  return total;
}

template <typename F>
double rtd_loss_forward_backward(F* dlogits, const F* logits, const int32_t* labels, const int32_t* mask, int R,
                                 double dscale) {
  ProfileScope prof("rtd_loss");
  double total = 0;
  for (int r = 0; r < R; r++) {
    const double m = mask ? (double)(mask[r] != 0) : 1.0;
    const double z = logits[r], y = labels[r];
    // log(1 + exp(-|z|)) + max(z, 0) - z y: stable sigmoid cross-entropy
    const double l = std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z)));
    total += m * l;
    if (dlogits) {
      const double s = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
      dlogits[r] = (F)(dscale * m * (s - y));
    }
  }
  return total;
}

template <typename F>
double mse_forward_backward(F* dpred, const F* pred, const float* target, int R, double dscale) {
  ProfileScope prof("mse_loss");
  double total = 0;
  for (int r = 0; r < R; r++) {
    const double d = (double)pred[r] - (double)target[r];
    total += d * d;
    if (dpred) dpred[r] = (F)(dscale * 2.0 * d);
  }
  return total;
}

template <typename F>
void gumbel_sample(int32_t* out, const F* logits, int R, int V, float temperature, const float* u, uint64_t seed,
                   uint64_t stream) {
  ProfileScope prof("gumbel_sample");
  // The Gumbel noise is at most -log(-log(1 - 2^-24 + 1e-9) + 1e-9) < 16.7 for 24-bit uniforms, so a
  // logit more than 16.7 below the best score so far cannot win: its noise is never computed.
  const float inv_t = 1.0f / temperature;
  constexpr float kMaxNoise = 16.7f;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < R; r++) {
    const F* x = logits + (int64_t)r * V;
    float best = -std::numeric_limits<float>::infinity();
    int arg = 0;
    uint64_t blk = UINT64_MAX;
    uint32_t w[4];
    for (int v = 0; v < V; v++) {
      const float l = (float)x[v] * inv_t;
      if (l + kMaxNoise <= best) continue;
      float uu;
      if (u) {
        uu = u[(int64_t)r * V + v];
      } else {
        const uint64_t idx = (uint64_t)r * V + v;
        if ((idx >> 2) != blk) {
          blk = idx >> 2;
          Philox4x32::words(seed, stream, blk, w);
        }
        uu = u32_to_unit(w[idx & 3]);
      }
      const float s = l - std::log(-std::log(uu + 1e-9f) + 1e-9f);
      if (s > best) best = s, arg = v;
    }
    out[r] = arg;
  }
}

template double crossentropy_forward_backward<float>(float*, const float*, const int32_t*, const float*, int, int, double);
template double crossentropy_forward_backward<double>(double*, const double*, const int32_t*, const float*, int, int, double);
template double rtd_loss_forward_backward<float>(float*, const float*, const int32_t*, const int32_t*, int, double);
template double rtd_loss_forward_backward<double>(double*, const double*, const int32_t*, const int32_t*, int, double);
template double mse_forward_backward<float>(float*, const float*, const float*, int, double);
template double mse_forward_backward<double>(double*, const double*, const float*, int, double);
template void gumbel_sample<float>(int32_t*, const float*, int, int, float, const float*, uint64_t, uint64_t);
template void gumbel_sample<double>(int32_t*, const double*, int, int, float, const float*, uint64_t, uint64_t);

}  // namespace electra
