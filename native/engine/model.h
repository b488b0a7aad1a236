// model.h: the ELECTRA transformer on the CPU: the shared embedding block, an encoder stack, and
// the heads (discriminator, generator MLM, sequence classification), each with forward and
// backward passes over weights held in one flat buffer. Templated on the scalar type F (float for
// training, double for gradient checks). Not here: masking, sampling and the training step
// (pretrain.h), the optimizer (optim.h), files (checkpoint.h).
//
// Dimension legend: B batch, T sequence length, C hidden size, E embedding size, V vocabulary,
// P max positions, TT token types, L layers, NH heads, F feed-forward size, N predictions per
// sequence, NL labels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "engine/params.h"

namespace electra {

// ---- weight views: pointers into a flat buffer (parameters or their gradients) -------------------
template <typename F>
struct EmbeddingWeights {
  F* wte;  // (V, E) word_embeddings (also the generator's tied output matrix)
  F* wpe;  // (P, E) position_embeddings
  F* wtt;  // (TT, E) token_type_embeddings
  F* lnw;  // (E) LayerNorm.weight
  F* lnb;  // (E) LayerNorm.bias
};
template <typename F>
struct EncoderWeights {
  F* projw;     // (C, E) embeddings_project.weight; null when E == C
  F* projb;     // (C)
  F* qkvw;      // (L, 3C, C) attention.self.{query,key,value}.weight, stacked
  F* qkvb;      // (L, 3C)
  F* attprojw;  // (L, C, C) attention.output.dense.weight
  F* attprojb;  // (L, C)
  F* ln1w;      // (L, C) attention.output.LayerNorm.weight
  F* ln1b;      // (L, C)
  F* fcw;       // (L, F, C) intermediate.dense.weight
  F* fcb;       // (L, F)
  F* fcprojw;   // (L, C, F) output.dense.weight
  F* fcprojb;   // (L, C)
  F* ln2w;      // (L, C) output.LayerNorm.weight
  F* ln2b;      // (L, C)
};
template <typename F>
struct DiscHeadWeights {
  F* densew;  // (C, C) discriminator_predictions.dense.weight
  F* denseb;  // (C)
  F* predw;   // (1, C) discriminator_predictions.dense_prediction.weight
  F* predb;   // (1)
};
template <typename F>
struct GenHeadWeights {
  F* densew;  // (E, C) generator_predictions.dense.weight
  F* denseb;  // (E)
  F* lnw;     // (E) generator_predictions.LayerNorm.weight
  F* lnb;     // (E)
  F* bias;    // (V) generator_lm_head.bias (its weight is the word embedding matrix)
};
template <typename F>
struct ClsHeadWeights {
  F* densew;  // (C, C) classifier.dense.weight (Hugging Face head only; null for ELECTRA's head)
  F* denseb;  // (C)
  F* outw;    // (NL, C) classifier.out_proj.weight
  F* outb;    // (NL)
};

// Offsets of each view's tensors in the flat buffer (SIZE_MAX = absent).
struct EmbeddingLayout { size_t wte, wpe, wtt, lnw, lnb; };
struct EncoderLayout { size_t projw, projb, qkvw, qkvb, attprojw, attprojb, ln1w, ln1b, fcw, fcb, fcprojw, fcprojb, ln2w, ln2b; };
struct DiscHeadLayout { size_t densew, denseb, predw, predb; };
struct GenHeadLayout { size_t densew, denseb, lnw, lnb, bias; };
struct ClsHeadLayout { size_t densew, denseb, outw, outb; };

template <typename F> EmbeddingWeights<F> bind(const EmbeddingLayout& l, F* base);
template <typename F> EncoderWeights<F> bind(const EncoderLayout& l, F* base);
template <typename F> DiscHeadWeights<F> bind(const DiscHeadLayout& l, F* base);
template <typename F> GenHeadWeights<F> bind(const GenHeadLayout& l, F* base);
template <typename F> ClsHeadWeights<F> bind(const ClsHeadLayout& l, F* base);

// Declare each block's tensors in a table, with Hugging Face names under `prefix`.
EmbeddingLayout declare_embeddings(ParamTable& t, const ElectraConfig& c, const std::string& prefix);
EncoderLayout declare_encoder(ParamTable& t, const ElectraConfig& c, const std::string& prefix);
DiscHeadLayout declare_disc_head(ParamTable& t, const ElectraConfig& c, const std::string& prefix);
GenHeadLayout declare_gen_head(ParamTable& t, const ElectraConfig& c, const std::string& prefix);
enum class ClsHeadKind { Electra, HuggingFace };
ClsHeadLayout declare_cls_head(ParamTable& t, const ElectraConfig& c, ClsHeadKind kind, int num_labels,
                               const std::string& prefix);

// Dropout settings of one forward pass. Masks come from the counter-based RNG: stream =
// (dropout, model * 4096 + site, step), so the same seed and step give the same masks anywhere.
struct DropoutCtx {
  bool training = false;
  uint64_t seed = 0;
  uint32_t step = 0;   // optimizer step (and micro-batch), part of the stream
  uint32_t model = 0;  // 0 discriminator / main, 1 generator, 2 classifier head
  uint64_t stream(uint32_t site) const;
};

// Truncated-normal (±2σ) weights with σ = range, zero biases, LayerNorm weights 1, every value a
// function of (seed, tensor, index) through the counter-based RNG: the same seed, the same model.
template <typename F>
void init_weights(const ParamTable& table, F* params, uint64_t seed, double range);

// ---- the encoder: embeddings (shared block + own projection) and L transformer layers ------------
template <typename F, typename K = CpuBackend>
class Encoder {
 public:
  explicit Encoder(const ElectraConfig& cfg);
  // Runs embeddings and all layers on ids/tt/mask (B, T); output() is then (B, T, C) ((B, C) with
  // set_cls_only on the CPU). Without
  // keep_activations (inference) the layers share one set of buffers and backward() is refused.
  void forward(const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w, const int32_t* ids, const int32_t* tt,
               const int32_t* mask, int B, int T, const DropoutCtx& dr, bool keep_activations = true);
  // Back-propagates dout (B, T, C), or (B, C) (set_cls_only), the gradient of the output; adds parameter gradients into dew
  // and dw. Uses dout as scratch. Must follow forward() with the same weights.
  void backward(const EmbeddingWeights<F>& dew, const EncoderWeights<F>& dw, F* dout,
                const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w);
  const F* output() const;
  F* output_grad_buffer();  // a buffer of output()'s shape callers may use to assemble dout
  const ElectraConfig& config() const { return c_; }
  void set_precision(Precision p) { prec_ = p; }  // of the matrix products (kernels.h)
  // Only each sequence's first position ([CLS]) of the output is read (a sequence classifier). On the
  // CPU the last layer then forms keys and values for every position and everything else (queries,
  // attention, projection, FFN, LayerNorms) for the first positions only: the same function (the same
  // dropout masks), about 7% fewer FLOPs for ELECTRA-Small, and output() and output_grad_buffer() hold
  // (B, C) rows. first_position_stride() is the distance between two sequences' first positions there.
  void set_cls_only(bool on) { cls_only_ = on; }
  int64_t first_position_stride() const { return cls_path() ? c_.hidden_size : (int64_t)T_ * c_.hidden_size; }

 private:
  void ensure(int B, int T, bool keep);
  bool cls_only_ = false;
  bool cls_path() const { return cls_only_ && !K::kDevice; }
  // the last layer for the first positions only (set_cls_only): x (B, T, C) its input, x16 that as
  // bf16 (or null); backward takes dout (B, C) and assigns dres (B, T, C), the input's gradient
  void cls_layer_forward(const EncoderWeights<F>& w, const F* x, const uint16_t* x16);
  void cls_layer_backward(const EncoderWeights<F>& dw, const F* dout, F* dres, const EncoderWeights<F>& w);
  // its buffers: the first positions' inputs, hidden dropout multipliers and gradients (B, C) each;
  // attention probabilities and their dropout multipliers (B, NH, T) each (its other activations live
  // in the first rows of the full layers' buffers)
  typename K::template Vec<F> cls_;
  struct ClsBufs {
    F *xc, *keep1, *keep2, *dxc, *dxq, *dq, *p, *akeep;
  };
  ClsBufs cls_bufs() {
    const int64_t BC = (int64_t)B_ * c_.hidden_size, P = (int64_t)B_ * c_.num_attention_heads * T_;
    F* b = cls_.data();
    return {b, b + BC, b + 2 * BC, b + 3 * BC, b + 4 * BC, b + 5 * BC, b + 6 * BC, b + 6 * BC + P};
  }
  ElectraConfig c_;
  bool keep_ = true;
  Precision prec_ = Precision::Fp32;
  int B_ = 0, T_ = 0, cap_ = 0, capT_ = 0;
  DropoutCtx dr_;
  std::vector<int32_t> host_ids_;           // the batch on the host (checked there): ids | types | mask
  typename K::template Vec<int32_t> batch_;  // the same, where the kernels run
  const int32_t* batch_ids() const { return batch_.data(); }
  const int32_t* batch_tt() const { return batch_.data() + (size_t)B_ * T_; }
  const int32_t* batch_mask() const { return batch_.data() + (size_t)2 * B_ * T_; }
  // activations
  typename K::template Vec<F> emb_, emb_mean_, emb_rstd_, emb_drop_, x0_;  // (BT,E) (BT) (BT) (BT,E) (BT,C); emb_drop_ = dropout(LN(emb_))
  typename K::template Vec<F> qkv_, ctx_, r1_, m1_, s1_, fch_, r2_, m2_, s2_;  // per layer, stacked on L
  typename K::template Vec<F> x1_, out_, xin_;  // LayerNorm outputs of the layer at hand (recomputed in backward)
  // masks of the two hidden dropouts of each layer (attention output, FFN output), one bit per element
  typename K::template Vec<uint64_t> drop_bits_;
  uint64_t* drop_bits(int l, int site) {
    return drop_bits_.data() + ((size_t)l * 2 + site) * (((size_t)B_ * T_ * c_.hidden_size + 63) / 64);
  }
  // masks of each layer's attention dropout where the attention kernel keeps them (attention_forward;
  // none: null, the backward pass draws them again)
  typename K::template Vec<uint64_t> attn_bits_;
  uint64_t* attn_bits(int l) {
    const size_t per_layer = (size_t)B_ * c_.num_attention_heads * T_ * ((T_ + 63) / 64);
    return attn_bits_.size() >= (size_t)c_.num_hidden_layers * per_layer ? attn_bits_.data() + l * per_layer : nullptr;
  }
  typename K::template Vec<F> fcg_;  // GELU(fch) of the layer at hand (BT, F): recomputed in backward
  // the CPU's bf16 training: the pre-activations fch as bf16 instead (per layer, stacked on L)
  typename K::template Vec<uint16_t> fch16_;
  uint16_t* fch16(int l) { return fch16_.size() ? fch16_.data() + (size_t)l * B_ * T_ * c_.intermediate_size : nullptr; }
  // the CPU's bf16 mode: bf16 copies of the forward pass's activations that feed products (made by their
  // producer, read in place by the product): GELU(fch), and without a backward pass also the two
  // LayerNorms' outputs and attention's
  typename K::template Vec<uint16_t> fcg16_, x1_16_, out16_, ctx16_;
  uint16_t* fcg16() { return keep_ ? (uint16_t*)(void*)fcg_.data() : fcg16_.data(); }
  // whether the forward pass hands the products those bf16 activations
  bool b16_inputs() const {
    return !K::kDevice && std::is_same_v<F, float> && prec_ == Precision::Bf16 && c_.intermediate_size % 16 == 0;
  }
  // backward scratch
  typename K::template Vec<F> dx1_, dtmp_, dqkv_, demb_, dout_buf_;
};

// ---- heads ------------------------------------------------------------------------------------
// Discriminator: logits (R) = dense_prediction(gelu(dense(x))) for R = B*T rows of x (R, C).
template <typename F, typename K = CpuBackend>
class DiscHead {
 public:
  void forward(const DiscHeadWeights<F>& w, const F* x, int R, int C);
  // dlogits (R) -> dx (R, C) assigned; parameter gradients added into dw.
  void backward(F* dx, const DiscHeadWeights<F>& dw, const F* dlogits, const DiscHeadWeights<F>& w, const F* x);
  const F* logits() const { return logits_.data(); }
  void set_precision(Precision p) { prec_ = p; }

 private:
  Precision prec_ = Precision::Fp32;
  int R_ = 0, C_ = 0;
  typename K::template Vec<F> h_, g_, logits_;
};

// Generator MLM head on R gathered rows x (R, C): logits (R, V) = LN(gelu(dense(x))) @ wte^T + bias.
template <typename F, typename K = CpuBackend>
class GenHead {
 public:
  void forward(const GenHeadWeights<F>& w, const F* wte, const F* x, int R, int C, int E, int V, double eps);
  // dlogits (R, V) -> dx (R, C) assigned; gradients into dw and dwte (the tied word embeddings).
  // dlogits may be logits_mut() (the loss's gradient written over the logits).
  void backward(F* dx, const GenHeadWeights<F>& dw, F* dwte, const F* dlogits, const GenHeadWeights<F>& w,
                const F* wte, const F* x);
  const F* logits() const { return logits_.data(); }
  F* logits_mut() { return logits_.data(); }
  void set_precision(Precision p) { prec_ = p; }

 private:
  Precision prec_ = Precision::Fp32;
  int R_ = 0, C_ = 0, E_ = 0, V_ = 0;
  typename K::template Vec<F> h_, g_, y_, ym_, ys_, logits_, dy_;
};

// Sequence classification on the [CLS] vectors x (B, C): ELECTRA's (dropout -> linear) or Hugging
// Face's ElectraClassificationHead (dropout -> dense -> gelu -> dropout -> out_proj).
template <typename F, typename K = CpuBackend>
class ClsHead {
 public:
  void forward(const ClsHeadWeights<F>& w, const F* x, int B, int C, int NL, float p_drop, const DropoutCtx& dr);
  void backward(F* dx, const ClsHeadWeights<F>& dw, const F* dlogits, const ClsHeadWeights<F>& w);
  const F* logits() const { return logits_.data(); }
  void set_precision(Precision p) { prec_ = p; }

 private:
  Precision prec_ = Precision::Fp32;
  int B_ = 0, C_ = 0, NL_ = 0;
  float p_ = 0;
  DropoutCtx dr_;
  typename K::template Vec<F> xd_, h_, g_, gd_, logits_, dtmp_;
};

}  // namespace electra
