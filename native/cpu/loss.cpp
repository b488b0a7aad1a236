// loss.cpp: the losses (MLM softmax cross-entropy, RTD sigmoid cross-entropy, MSE) with their
// gradients fused in, and Gumbel-max sampling of the generator's replacements.
#include <cmath>
#include <limits>
#include <vector>

#include <algorithm>
#include <type_traits>

#include "cpu/kernels.h"
#include "cpu/philox_avx512.h"
#include "cpu/simd.h"
#include "cpu/vmath.h"
#include "engine/profile.h"
#include "engine/rng.h"

namespace electra {

// fp32 rows: max, then e = exp(x - max) once (vectorised, kept in dx when there is one), summed in
// double; the gradient rescales e. Returns the row's loss lse - x[y].
ELECTRA_MULTIVERSION static double ce_row_f32(float* dx, float* tmp, const float* x, int y, int V, double g) {
  const double xy = x[y];  // read first: dx may be x itself (the gradient written over the logits)
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
  float* e = dx ? dx : tmp;
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int v = 0; v < V; v++) {
    const float ev = vm_exp(x[v] - mx);
    e[v] = ev;
    sum += (double)ev;
  }
  const double lse = (double)mx + std::log(sum);
  if (dx) {
    const float gs = (float)(g / sum);
#pragma omp simd
    for (int v = 0; v < V; v++) dx[v] *= gs;
    dx[y] -= (float)g;
  }
  return lse - xy;
}

template <typename F>
double crossentropy_forward_backward(F* dlogits, const F* logits, const int32_t* targets, const float* w, int R,
                                     int V, double dscale) {
  ProfileScope prof("mlm_crossentropy");
  if constexpr (std::is_same_v<F, float>) {
    std::vector<double> row_loss(R, 0.0);
#pragma omp parallel
    {
      std::vector<float> tmp(dlogits ? 0 : V);
      // rows are independent: handed out in small chunks, so that a thread on a slower core takes fewer
#pragma omp for schedule(dynamic, 8)
      for (int r = 0; r < R; r++) {
        const double wr = w ? (double)w[r] : 1.0;
        float* dx = dlogits ? dlogits + (int64_t)r * V : nullptr;
        if (wr == 0.0) {
          if (dx) std::fill(dx, dx + V, 0.f);
          continue;
        }
        row_loss[r] = wr * ce_row_f32(dx, tmp.data(), logits + (int64_t)r * V, targets[r], V, dscale * wr);
      }
    }
    double total = 0;
    for (int r = 0; r < R; r++) total += row_loss[r];
    return total;
  }
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

// fp32 Gumbel-max over one row, 64 vocabulary entries at a time, aligned to Philox blocks of the
// row's global indices r * V + v. A chunk whose every logit is more than the noise bound below the
// best score is skipped (nothing in it can win); otherwise its scores are computed (vectorised) and
// scanned in order with a strict >, so the first maximum wins as in the scalar loop.
ELECTRA_MULTIVERSION static int gumbel_row_f32(const float* x, int V, float inv_t, const float* u, uint64_t seed,
                                               uint64_t stream, uint64_t row0) {
  constexpr float kMaxNoise = 16.7f;
  float best = -std::numeric_limits<float>::infinity();
  int arg = 0;
  alignas(64) uint32_t w[64];
  alignas(64) float sc[64], un[64];
  // chunks [v0, v1) of at most 64 entries whose global start is a multiple of 64 (except the first)
  for (int v0 = 0; v0 < V;) {
    const uint64_t g0 = row0 + (uint64_t)v0;
    const int v1 = std::min<int64_t>(V, (int64_t)v0 + 64 - (int64_t)(g0 & 63));
    const int m = v1 - v0;
    // the chunk's largest score: 16 running maxima (no omp simd reduction, whose per-call lane array
    // costs more than a 64-entry chunk)
    float cm[16];
    for (int k = 0; k < 16; k++) cm[k] = -std::numeric_limits<float>::infinity();
    int j0 = 0;
    for (; j0 + 16 <= m; j0 += 16)
#pragma omp simd
      for (int k = 0; k < 16; k++) cm[k] = std::max(cm[k], x[v0 + j0 + k] * inv_t);
    float cmax = -std::numeric_limits<float>::infinity();
    for (int k = 0; k < 16; k++) cmax = std::max(cmax, cm[k]);
    for (; j0 < m; j0++) cmax = std::max(cmax, x[v0 + j0] * inv_t);
    if (cmax + kMaxNoise > best) {
      const int off = (int)(g0 & 63);  // position of v0 within its 64-index block
      const float* uu = u ? u + v0 : un;
      if (!u) {
        philox_words64(seed, stream, (g0 - (uint64_t)off) >> 2, w);
#pragma omp simd
        for (int j = 0; j < m; j++) un[j] = u32_to_unit(w[off + j]);
      }
#pragma omp simd
      for (int j = 0; j < m; j++) {
        const float inner = -vm_log_pos(uu[j] + 1e-9f) + 1e-9f;  // both arguments positive and normal
        sc[j] = x[v0 + j] * inv_t - vm_log_pos(inner);
      }
      for (int j = 0; j < m; j++)
        if (sc[j] > best) best = sc[j], arg = v0 + j;
    }
    v0 = v1;
  }
  return arg;
}

// The first index of a row's maximum: a vectorised max, then the first element equal to it.
ELECTRA_MULTIVERSION static int argmax_row_f32(const float* x, int V) {
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
  for (int v = 0; v < V; v++)
    if (x[v] == mx) return v;
  return 0;  // all NaN
}

template <typename F>
void argmax_rows(int32_t* out, const F* logits, int R, int V) {
  ProfileScope prof("argmax");
#pragma omp parallel for schedule(dynamic, 8)
  for (int r = 0; r < R; r++) {
    const F* x = logits + (int64_t)r * V;
    if constexpr (std::is_same_v<F, float>) out[r] = argmax_row_f32(x, V);
    else out[r] = (int32_t)(std::max_element(x, x + V) - x);
  }
}

template <typename F>
void gumbel_sample(int32_t* out, const F* logits, int R, int V, float temperature, const float* u, uint64_t seed,
                   uint64_t stream) {
  ProfileScope prof("gumbel_sample");
  if constexpr (std::is_same_v<F, float>) {
    const float inv_t = 1.0f / temperature;
#pragma omp parallel for schedule(dynamic, 8)  // independent rows, in small chunks (as crossentropy)
    for (int r = 0; r < R; r++)
      out[r] = gumbel_row_f32(logits + (int64_t)r * V, V, inv_t, u ? u + (int64_t)r * V : nullptr, seed, stream,
                              (uint64_t)r * V);
    return;
  }
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
template void argmax_rows<float>(int32_t*, const float*, int, int);
template void argmax_rows<double>(int32_t*, const double*, int, int);
template void gumbel_sample<float>(int32_t*, const float*, int, int, float, const float*, uint64_t, uint64_t);
template void gumbel_sample<double>(int32_t*, const double*, int, int, float, const float*, uint64_t, uint64_t);

}  // namespace electra
