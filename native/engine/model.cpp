// model.cpp: the encoder stack and the heads, forward and backward, written one call per line so
// the forward pass reads like the architecture and the backward pass is the same list reversed.
#include "engine/model.h"
#include "engine/model_impl.h"
#include "engine/profile.h"

#include <climits>
#include <cmath>
#include <cstring>

#include "cpu/kernels.h"
#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

static constexpr size_t kAbsent = SIZE_MAX;

// ---- layouts ------------------------------------------------------------------------------------
EmbeddingLayout declare_embeddings(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t E = c.embedding_size;
  EmbeddingLayout l;
  l.wte = t.add(p + "word_embeddings.weight", {c.vocab_size, E}, 0);
  l.wpe = t.add(p + "position_embeddings.weight", {c.max_position_embeddings, E}, 0);
  l.wtt = t.add(p + "token_type_embeddings.weight", {c.type_vocab_size, E}, 0);
  l.lnw = t.add(p + "LayerNorm.weight", {E}, 0);
  l.lnb = t.add(p + "LayerNorm.bias", {E}, 0);
  return l;
}

EncoderLayout declare_encoder(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size, E = c.embedding_size, Fd = c.intermediate_size, L = c.num_hidden_layers;
  EncoderLayout l;
  l.projw = l.projb = kAbsent;
  if (E != C) {
    l.projw = t.add(p + "embeddings_project.weight", {C, E}, 0);
    l.projb = t.add(p + "embeddings_project.bias", {C}, 0);
  }
  auto layer = [&](int64_t i) { return p + "encoder.layer." + std::to_string(i) + "."; };
  const char* qkv[3] = {"query", "key", "value"};
  l.qkvw = t.reserve(L * 3 * C * C);
  l.qkvb = t.reserve(L * 3 * C);
  for (int64_t i = 0; i < L; i++)
    for (int j = 0; j < 3; j++) {
      t.name(layer(i) + "attention.self." + qkv[j] + ".weight", {C, C}, l.qkvw + (i * 3 + j) * C * C, i + 1);
      t.name(layer(i) + "attention.self." + qkv[j] + ".bias", {C}, l.qkvb + (i * 3 + j) * C, i + 1);
    }
  // A stacked (L, ...) tensor whose layer slices carry per-layer names.
  auto stacked = [&](const std::string& suffix, std::vector<int64_t> shape) {
    const int64_t n = numel(shape);
    size_t off = t.reserve(L * n);
    for (int64_t i = 0; i < L; i++) t.name(layer(i) + suffix, shape, off + i * n, i + 1);
    return off;
  };
  l.attprojw = stacked("attention.output.dense.weight", {C, C});
  l.attprojb = stacked("attention.output.dense.bias", {C});
  l.ln1w = stacked("attention.output.LayerNorm.weight", {C});
  l.ln1b = stacked("attention.output.LayerNorm.bias", {C});
  l.fcw = stacked("intermediate.dense.weight", {Fd, C});
  l.fcb = stacked("intermediate.dense.bias", {Fd});
  l.fcprojw = stacked("output.dense.weight", {C, Fd});
  l.fcprojb = stacked("output.dense.bias", {C});
  l.ln2w = stacked("output.LayerNorm.weight", {C});
  l.ln2b = stacked("output.LayerNorm.bias", {C});
  return l;
}

DiscHeadLayout declare_disc_head(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size;
  const int depth = c.num_hidden_layers + 1;
  DiscHeadLayout l;
  l.densew = t.add(p + "discriminator_predictions.dense.weight", {C, C}, depth);
  l.denseb = t.add(p + "discriminator_predictions.dense.bias", {C}, depth);
  l.predw = t.add(p + "discriminator_predictions.dense_prediction.weight", {1, C}, depth);
  l.predb = t.add(p + "discriminator_predictions.dense_prediction.bias", {1}, depth);
  return l;
}

GenHeadLayout declare_gen_head(ParamTable& t, const ElectraConfig& c, const std::string& p) {
  const int64_t C = c.hidden_size, E = c.embedding_size;
  const int depth = c.num_hidden_layers + 1;
  GenHeadLayout l;
  l.densew = t.add(p + "generator_predictions.dense.weight", {E, C}, depth);
  l.denseb = t.add(p + "generator_predictions.dense.bias", {E}, depth);
  l.lnw = t.add(p + "generator_predictions.LayerNorm.weight", {E}, depth);
  l.lnb = t.add(p + "generator_predictions.LayerNorm.bias", {E}, depth);
  l.bias = t.add(p + "generator_lm_head.bias", {c.vocab_size}, depth);
  return l;
}

ClsHeadLayout declare_cls_head(ParamTable& t, const ElectraConfig& c, ClsHeadKind kind, int num_labels,
                               const std::string& p) {
  const int64_t C = c.hidden_size;
  const int depth = c.num_hidden_layers + 1;
  ClsHeadLayout l;
  l.densew = l.denseb = kAbsent;
  if (kind == ClsHeadKind::HuggingFace) {
    l.densew = t.add(p + "classifier.dense.weight", {C, C}, depth);
    l.denseb = t.add(p + "classifier.dense.bias", {C}, depth);
  }
  l.outw = t.add(p + "classifier.out_proj.weight", {num_labels, C}, depth);
  l.outb = t.add(p + "classifier.out_proj.bias", {num_labels}, depth);
  return l;
}

template <typename F>
static F* at(F* base, size_t off) {
  return off == kAbsent ? nullptr : base + off;
}
template <typename F>
EmbeddingWeights<F> bind(const EmbeddingLayout& l, F* b) {
  return {at(b, l.wte), at(b, l.wpe), at(b, l.wtt), at(b, l.lnw), at(b, l.lnb)};
}
template <typename F>
EncoderWeights<F> bind(const EncoderLayout& l, F* b) {
  return {at(b, l.projw), at(b, l.projb), at(b, l.qkvw), at(b, l.qkvb), at(b, l.attprojw), at(b, l.attprojb),
          at(b, l.ln1w), at(b, l.ln1b), at(b, l.fcw), at(b, l.fcb), at(b, l.fcprojw), at(b, l.fcprojb),
          at(b, l.ln2w), at(b, l.ln2b)};
}
template <typename F>
DiscHeadWeights<F> bind(const DiscHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.predw), at(b, l.predb)};
}
template <typename F>
GenHeadWeights<F> bind(const GenHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.lnw), at(b, l.lnb), at(b, l.bias)};
}
template <typename F>
ClsHeadWeights<F> bind(const ClsHeadLayout& l, F* b) {
  return {at(b, l.densew), at(b, l.denseb), at(b, l.outw), at(b, l.outb)};
}

uint64_t DropoutCtx::stream(uint32_t site) const { return make_stream(kStreamDropout, model * 4096 + site, step); }


template <typename F>
void init_weights(const ParamTable& table, F* params, uint64_t seed, double range) {
  const auto& es = table.entries();
  for (size_t k = 0; k < es.size(); k++) {
    const TensorEntry& e = es[k];
    F* p = params + e.offset;
    const bool ln = e.name.find("LayerNorm") != std::string::npos;
    const bool bias = e.name.size() >= 4 && e.name.compare(e.name.size() - 4, 4, "bias") == 0;
    if (ln && !bias) {
      std::fill(p, p + e.size, F(1));
    } else if (bias) {
      std::fill(p, p + e.size, F(0));
    } else {
      const uint64_t stream = make_stream(kStreamInit, (uint32_t)k, 0);
      for (size_t i = 0; i < e.size; i++) {
        double z;
        uint64_t j = 0;
        do {  // Box-Muller, redrawn until within ±2σ (TensorFlow's truncated_normal)
          const double u1 = (random_u32(seed, stream, i * 64 + j) + 1.0) / 4294967297.0;
          const double u2 = random_u32(seed, stream, i * 64 + j + 1) / 4294967296.0;
          z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
          j += 2;
        } while (std::fabs(z) > 2.0 && j < 64);
        p[i] = (F)(range * (std::fabs(z) > 2.0 ? 0.0 : z));
      }
    }
  }
}

#define INSTANTIATE(F)                                                            \
  template EmbeddingWeights<F> bind<F>(const EmbeddingLayout&, F*);               \
  template EncoderWeights<F> bind<F>(const EncoderLayout&, F*);                   \
  template DiscHeadWeights<F> bind<F>(const DiscHeadLayout&, F*);                 \
  template GenHeadWeights<F> bind<F>(const GenHeadLayout&, F*);                   \
  template ClsHeadWeights<F> bind<F>(const ClsHeadLayout&, F*);                   \
  template class Encoder<F, CpuBackend>;                                          \
  template class DiscHead<F, CpuBackend>;                                         \
  template class GenHead<F, CpuBackend>;                                          \
  template class ClsHead<F, CpuBackend>;                                          \
  template void init_weights<F>(const ParamTable&, F*, uint64_t, double);
INSTANTIATE(float)
INSTANTIATE(double)

}  // namespace electra
