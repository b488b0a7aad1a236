// optim.h: ELECTRA's optimizer: AdamW without bias correction (β1 0.9, β2 0.999, ε 1e-6), weight
// decay 0.01 except LayerNorm weights and biases, global gradient-norm clipping at 1.0, and the
// learning-rate schedule peak × min(1, step/warmup) × (1 − step/total) (warm-up and linear decay
// overlap, as in ELECTRA's optimization.py). One loop over the flat parameter buffer.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/params.h"

namespace electra {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  double weight_decay = 0.01;
  double clip_norm = 1.0;  // <= 0: no clipping
};

// ELECTRA's schedule at 0-based optimizer step `step` (the global step before the update).
double electra_learning_rate(double peak, int64_t step, int64_t warmup, int64_t total, double power = 1.0);

// The global L2 norm of n values, summed in fixed chunks: the same bits for any thread count.
template <typename F>
double global_norm(const F* x, size_t n);

template <typename F>
class AdamW {
 public:
  AdamW(const ParamTable& table, AdamWConfig cfg);
  // Clips grads (in place) to the global norm, then updates params. lr_scale (one per table entry,
  // may be null) multiplies the learning rate per tensor (layer-wise decay). Returns the norm
  // before clipping.
  double step(F* params, F* grads, double lr, const std::vector<double>* lr_scale = nullptr);
  std::vector<F>& m() { return m_; }
  std::vector<F>& v() { return v_; }
  const AdamWConfig& config() const { return cfg_; }

 private:
  const ParamTable& table_;
  AdamWConfig cfg_;
  std::vector<F> m_, v_;
};

}  // namespace electra
