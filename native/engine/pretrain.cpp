// pretrain.cpp: masking, the generator and discriminator passes, sampling, losses and gradients of
// one ELECTRA pre-training step.
#include "engine/pretrain.h"
#include "engine/pretrain_impl.h"
#include "engine/profile.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

void PretrainConfig::validate() const {
  disc.validate("discriminator config");
  if (objective != "electra" && objective != "mlm")
    throw Error("objective must be \"electra\" or \"mlm\" (got \"" + objective + "\")");
  if (objective == "electra") {
    gen.validate("generator config");
    if (gen.embedding_size != disc.embedding_size || gen.vocab_size != disc.vocab_size ||
        gen.max_position_embeddings != disc.max_position_embeddings || gen.type_vocab_size != disc.type_vocab_size)
      throw Error(
          "generator config: the generator shares the embedding block with the discriminator, so its "
          "embedding_size, vocab_size, max_position_embeddings and type_vocab_size must equal the discriminator's");
  }
  if (!(mask_prob > 0 && mask_prob < 1)) throw Error("mask_prob must be in (0, 1)");
  for (int id : {special.pad, special.unk, special.cls, special.sep, special.mask})
    if (id < 0 || id >= disc.vocab_size) throw Error("a special token id is outside the vocabulary");
}

int max_predictions(float mask_prob, int T) { return (int)((mask_prob + 0.005) * T); }

void electra_mask(MaskedInputs& out, const Batch& batch, float mask_prob, int N, const SpecialIds& sp, uint64_t seed,
                  uint32_t step) {
  ProfileScope prof("electra_mask");
  const int B = batch.B, T = batch.T;
  out.B = B, out.T = T, out.N = N;
  out.gen_input_ids.assign(batch.input_ids, batch.input_ids + (int64_t)B * T);
  out.positions.assign((int64_t)B * N, 0);
  out.ids.assign((int64_t)B * N, 0);
  out.weights.assign((int64_t)B * N, 0.f);
  std::vector<int32_t> cand;
  for (int b = 0; b < B; b++) {
    const int32_t* ids = batch.input_ids + (int64_t)b * T;
    const int32_t* m = batch.attention_mask ? batch.attention_mask + (int64_t)b * T : nullptr;
    cand.clear();
    int ntok = 0;
    for (int t = 0; t < T; t++) {
      if (m && !m[t]) continue;
      ntok++;
      if (ids[t] != sp.cls && ids[t] != sp.sep && ids[t] != sp.mask) cand.push_back(t);
    }
    int n = std::max(1, std::min(N, (int)std::nearbyint(ntok * (double)mask_prob)));  // round half to even
    n = std::min<int>(n, (int)cand.size());
    const uint64_t stream = make_stream(kStreamMask, (uint32_t)b, step);
    // Partial Fisher-Yates: the first n of a uniform random permutation of the candidates.
    for (int i = 0; i < n; i++) {
      const uint32_t r = random_u32(seed, stream, (uint64_t)i);
      const int j = i + (int)(((uint64_t)r * (uint64_t)(cand.size() - i)) >> 32);
      std::swap(cand[i], cand[j]);
    }
    std::sort(cand.begin(), cand.begin() + n);
    for (int i = 0; i < n; i++) {
      const int t = cand[i];
      out.positions[(int64_t)b * N + i] = t;
      out.ids[(int64_t)b * N + i] = ids[t];
      out.weights[(int64_t)b * N + i] = 1.f;
      if (random_unit(seed, stream, (uint64_t)(1 << 20) + i) < 0.85f) out.gen_input_ids[(int64_t)b * T + t] = sp.mask;
    }
  }
}

template class Pretrainer<float, CpuBackend>;
template class Pretrainer<double, CpuBackend>;

}  // namespace electra
