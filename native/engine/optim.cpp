// optim.cpp: AdamW (ELECTRA's AdamWeightDecayOptimizer) and the learning-rate schedule.
#include "engine/optim.h"
#include "engine/profile.h"

#include <algorithm>
#include <cmath>

namespace electra {

double electra_learning_rate(double peak, int64_t step, int64_t warmup, int64_t total, double power) {
  double lr = peak;
  if (total > 0) {
    const double frac = std::min<double>((double)step, (double)total) / (double)total;
    lr = peak * std::pow(1.0 - frac, power);
  }
  if (warmup > 0) lr *= std::min(1.0, (double)step / (double)warmup);
  return lr;
}

template <typename F>
double global_norm(const F* x, size_t n) {
  constexpr size_t kChunk = 1 << 14;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < chunks; c++) {
    const size_t e = std::min(n, (c + 1) * kChunk);
    double s = 0;
    for (size_t i = c * kChunk; i < e; i++) s += (double)x[i] * (double)x[i];
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return std::sqrt(s);
}

template <typename F>
AdamW<F>::AdamW(const ParamTable& table, AdamWConfig cfg)
    : table_(table), cfg_(cfg), m_(table.total(), F(0)), v_(table.total(), F(0)) {}

template <typename F>
double AdamW<F>::step(F* params, F* grads, double lr, const std::vector<double>* lr_scale) {
  ProfileScope prof("adamw");
  const double norm = global_norm(grads, table_.total());
  const double clip = cfg_.clip_norm > 0 ? cfg_.clip_norm / std::max(norm, cfg_.clip_norm) : 1.0;
  const F b1 = (F)cfg_.beta1, b2 = (F)cfg_.beta2, eps = (F)cfg_.eps, c = (F)clip;
  const auto& entries = table_.entries();
  // One parallel region for all tensors (elementwise updates: any split gives the same bits).
#pragma omp parallel
  for (size_t k = 0; k < entries.size(); k++) {
    const TensorEntry& e = entries[k];
    const F rate = (F)(lr * (lr_scale ? (*lr_scale)[k] : 1.0));
    const F wd = e.decay ? (F)cfg_.weight_decay : F(0);
    F* p = params + e.offset;
    F* g = grads + e.offset;
    F* m = m_.data() + e.offset;
    F* v = v_.data() + e.offset;
#pragma omp for simd schedule(static) nowait
    for (size_t i = 0; i < e.size; i++) {
      const F gi = g[i] * c;
      g[i] = gi;
      m[i] = b1 * m[i] + (F(1) - b1) * gi;
      v[i] = b2 * v[i] + (F(1) - b2) * gi * gi;
      const F update = m[i] / (std::sqrt(v[i]) + eps) + wd * p[i];
      p[i] -= rate * update;
    }
  }
  return norm;
}

template double global_norm<float>(const float*, size_t);
template double global_norm<double>(const double*, size_t);
template class AdamW<float>;
template class AdamW<double>;

}  // namespace electra
