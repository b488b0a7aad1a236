// embedding.cpp: the sum of word, position and token-type embeddings, and its backward pass
// (a scatter-add into the three tables, serial over tokens so the sum order is fixed).
#include "cpu/kernels.h"
#include "engine/profile.h"

namespace electra {

template <typename F>
void embedding_forward(F* out, const int32_t* ids, const int32_t* tt, const F* wte, const F* wpe, const F* wtt,
                       int B, int T, int E) {
  ProfileScope prof("embedding_fwd");
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    const int t = bt % T;
    const F* a = wte + (int64_t)ids[bt] * E;
    const F* p = wpe + (int64_t)t * E;
    const F* c = wtt + (int64_t)(tt ? tt[bt] : 0) * E;
    F* o = out + (int64_t)bt * E;
    for (int i = 0; i < E; i++) o[i] = a[i] + p[i] + c[i];
  }
}

template <typename F>
void embedding_backward(F* dwte, F* dwpe, F* dwtt, const F* dout, const int32_t* ids, const int32_t* tt, int B,
                        int T, int E) {
  ProfileScope prof("embedding_bwd");
  // Parallel over features: every thread walks all tokens in order for its slice of E.
#pragma omp parallel for schedule(static)
  for (int i = 0; i < E; i++) {
    for (int bt = 0; bt < B * T; bt++) {
      const F g = dout[(int64_t)bt * E + i];
      dwte[(int64_t)ids[bt] * E + i] += g;
      dwpe[(int64_t)(bt % T) * E + i] += g;
      dwtt[(int64_t)(tt ? tt[bt] : 0) * E + i] += g;
    }
  }
}

template void embedding_forward<float>(float*, const int32_t*, const int32_t*, const float*, const float*, const float*, int, int, int);
template void embedding_forward<double>(double*, const int32_t*, const int32_t*, const double*, const double*, const double*, int, int, int);
template void embedding_backward<float>(float*, float*, float*, const float*, const int32_t*, const int32_t*, int, int, int);
template void embedding_backward<double>(double*, double*, double*, const double*, const int32_t*, const int32_t*, int, int, int);

}  // namespace electra
