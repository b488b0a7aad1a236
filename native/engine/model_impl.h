// model_impl.h: the member functions of the encoder and the heads (model.h), written once over a
// backend K: K::layernorm_forward(...) and so on are the CPU kernels (CpuBackend, engine/backend.h) or
// their CUDA twins (cuda/backend.h), and K::Vec<T> the buffers they work in. Included by model.cpp
// (CPU instantiations) and cuda/model.cpp (the CUDA one); nothing else should include it.
#pragma once
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "engine/common.h"
#include "engine/model.h"
#include "engine/rng.h"

namespace electra {

// ---- encoder ------------------------------------------------------------------------------------
template <typename F, typename K>
Encoder<F, K>::Encoder(const ElectraConfig& cfg) : c_(cfg) {}

template <typename F, typename K>
void Encoder<F, K>::ensure(int B, int T, bool keep) {
  const int64_t BT = (int64_t)B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int64_t L = keep ? c_.num_hidden_layers : 1;  // without backward, every layer reuses slot 0
  // resize() never shrinks capacity: after the largest batch has been seen, no step allocates.
  for (auto* v : {&emb_, &emb_drop_}) v->resize(BT * E);
  for (auto* v : {&emb_mean_, &emb_rstd_}) v->resize(BT);
  x0_.resize(BT * C);
  qkv_.resize(L * BT * 3 * C);
  for (auto* v : {&ctx_, &r1_, &r2_}) v->resize(L * BT * C);
  // the LayerNorm outputs are not kept per layer: one buffer each, recomputed from r1_/r2_ in backward
  for (auto* v : {&x1_, &out_}) v->resize(BT * C);
  for (auto* v : {&m1_, &s1_, &m2_, &s2_}) v->resize(L * BT);
  // the FFN's pre-activations (GELU's input), kept per layer for backward: as bf16 in the CPU's bf16
  // training (fch16_, what the fused product's epilogue stores), else fp32 (without backward: GELU's
  // output in place; none in the bf16 mode, whose GELU output goes to fcg16_)
  if (b16_inputs()) {
    if (keep) fch16_.resize(L * BT * Fd);
  } else {
    fch_.resize(L * BT * Fd);
  }
  // GELU's output: recomputed from fch_ in the backward pass, not kept per layer (without a backward
  // pass GELU runs in place, or to fcg16_)
  if (keep) fcg_.resize(BT * Fd);
  if (b16_inputs()) {
    // in training GELU's bf16 output lives in fcg_, which only the backward pass uses (fcg16())
    if (!keep) {
      fcg16_.resize(BT * Fd);
      for (auto* v : {&x1_16_, &out16_, &ctx16_}) v->resize(BT * C);
    }
  }
  if (cls_path()) cls_.resize((int64_t)6 * B * C + (int64_t)2 * B * c_.num_attention_heads * T);
  if (keep) {
    drop_bits_.resize((size_t)c_.num_hidden_layers * 2 * ((BT * C + 63) / 64));  // the hidden dropouts' masks
    // the attention dropout's masks, kept only by the CPU's fused bf16 attention (attention_forward)
    if (!K::kDevice && prec_ == Precision::Bf16 && c_.attention_probs_dropout_prob > 0)
      attn_bits_.resize((size_t)c_.num_hidden_layers * B * c_.num_attention_heads * T * ((T + 63) / 64));
    xin_.resize(BT * C);
    demb_.resize(BT * E);
    for (auto* v : {&dx1_, &dtmp_, &dout_buf_}) v->resize(BT * C);
    dqkv_.resize(BT * 3 * C);
  }
  B_ = B;
  T_ = T;
  keep_ = keep;
}

// out = x @ w^T + b, reading x's bf16 copy x16 in place where the CPU's bf16 mode made one (x16 non-null)
template <typename F, typename K>
static void linear_forward(F* out, const F* x, const uint16_t* x16, const F* w, const F* b, int N, int IC, int OC,
                           Precision prec) {
  if constexpr (!K::kDevice && std::is_same_v<F, float>)
    if (x16) return K::matmul_forward_b16(out, x16, w, b, N, IC, OC);
  K::matmul_forward(out, x, w, b, N, IC, OC, prec);
}

// LayerNorm, also writing its output as bf16 (out16 non-null: the CPU's bf16 mode)
template <typename F, typename K>
static void layernorm_fwd(F* out, uint16_t* out16, F* mean, F* rstd, const F* inp, const F* w, const F* b, int N, int C,
                          double eps) {
  if constexpr (!K::kDevice && std::is_same_v<F, float>)
    if (out16) return K::layernorm_forward_b16(out, out16, mean, rstd, inp, w, b, N, C, eps);
  K::layernorm_forward(out, mean, rstd, inp, w, b, N, C, eps);
}

// The FFN's products: pre = x1 w1^T + b1, r2 = gelu(pre) w2^T + b2. With post16 (the CPU's bf16 mode)
// GELU of bf16(pre) is only stored there as bf16, bf16(pre) kept in pre16 where non-null (pre then
// null), x1 read from its bf16 copy x1_16 where non-null; else GELU's output
// goes to post (which may be pre).
template <typename F, typename K>
static void ffn_forward(F* r2, F* pre, F* post, uint16_t* post16, uint16_t* pre16, const F* x1, const uint16_t* x1_16,
                        const F* w1, const F* b1, const F* w2, const F* b2, int N, int C, int Fd, Precision prec) {
  if constexpr (!K::kDevice && std::is_same_v<F, float>) {
    if (post16) {
      K::matmul_gelu_forward_b16(pre, post16, x1_16 ? nullptr : x1, x1_16, w1, b1, N, C, Fd, true, pre16);
      return K::matmul_forward_b16(r2, post16, w2, b2, N, Fd, C);
    }
  }
  K::matmul_gelu_forward(pre, post, x1, w1, b1, N, C, Fd, prec);
  K::matmul_forward(r2, post, w2, b2, N, Fd, C, prec);
}

// GELU of a kept pre-activation, fp32 (pre) or bf16 (pre16 non-null: the CPU's bf16 training)
template <typename F, typename K>
static void gelu_of_kept(F* out, const F* pre, const uint16_t* pre16, int64_t n) {
  if constexpr (!K::kDevice && std::is_same_v<F, float>)
    if (pre16) return K::gelu_forward_b16(out, pre16, n);
  K::gelu_forward(out, pre, n);
}

// dpre = (dout weight) * gelu'(pre), pre fp32 or bf16 (pre16 non-null)
template <typename F, typename K>
static void matmul_gelu_bwd(F* dpre, const F* dout, const F* pre, const uint16_t* pre16, const F* weight, int N, int IC,
                            int OC, Precision prec) {
  if constexpr (!K::kDevice && std::is_same_v<F, float>)
    if (pre16) return K::matmul_gelu_backward_b16(dpre, dout, pre16, weight, N, IC, OC);
  K::matmul_gelu_backward(dpre, dout, pre, weight, N, IC, OC, prec);
}

template <typename F, typename K>
void Encoder<F, K>::forward(const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w, const int32_t* ids,
                         const int32_t* tt, const int32_t* mask, int B, int T, const DropoutCtx& dr,
                         bool keep_activations) {
  if (T > c_.max_position_embeddings)
    throw Error("sequence length " + std::to_string(T) + " exceeds max_position_embeddings " +
                std::to_string(c_.max_position_embeddings));
  ensure(B, T, keep_activations);
  dr_ = dr;
  const int BT = B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int L = c_.num_hidden_layers, NH = c_.num_attention_heads;
  const double eps = c_.layer_norm_eps;
  const float ph = dr.training ? (float)c_.hidden_dropout_prob : 0.f;
  const float pa = dr.training ? (float)c_.attention_probs_dropout_prob : 0.f;
  // the batch, checked on the host, then handed to the backend (copied; uploaded for a device)
  std::vector<int32_t>& hi = host_ids_;
  hi.resize((size_t)BT * 3);  // ids | token types | mask
  std::copy(ids, ids + BT, hi.begin());
  if (tt) std::copy(tt, tt + BT, hi.begin() + BT);
  else std::fill(hi.begin() + BT, hi.begin() + 2 * BT, 0);
  if (mask) std::copy(mask, mask + BT, hi.begin() + 2 * BT);
  else std::fill(hi.begin() + 2 * BT, hi.end(), 1);
  for (int i = 0; i < BT; i++) {
    if (hi[i] < 0 || hi[i] >= c_.vocab_size)
      throw Error("token id " + std::to_string(hi[i]) + " is outside the vocabulary (size " +
                  std::to_string(c_.vocab_size) + ")");
    if (hi[BT + i] < 0 || hi[BT + i] >= c_.type_vocab_size)
      throw Error("token type " + std::to_string(hi[BT + i]) + " is outside type_vocab_size " +
                  std::to_string(c_.type_vocab_size));
  }
  batch_.resize((size_t)BT * 3);
  K::upload(batch_.data(), hi.data(), (int64_t)BT * 3);

  K::embedding_forward(emb_.data(), batch_ids(), batch_tt(), ew.wte, ew.wpe, ew.wtt, B, T, E);
  K::layernorm_forward(emb_drop_.data(), emb_mean_.data(), emb_rstd_.data(), emb_.data(), ew.lnw, ew.lnb, BT, E, eps);
  K::dropout_forward(emb_drop_.data(), emb_drop_.data(), (int64_t)BT * E, ph, dr.seed, dr.stream(0));
  if (w.projw) K::matmul_forward(x0_.data(), emb_drop_.data(), w.projw, w.projb, BT, E, C, prec_);
  else K::copy(x0_.data(), emb_drop_.data(), (int64_t)BT * C);

  const bool b16 = b16_inputs();
  // bf16 copies of every product's input (the LayerNorms' and attention's outputs) only without a
  // backward pass: in training, writing the LayerNorms' cost as much as their products saved
  // (pre-training step, per-kernel minima)
  const bool act16 = b16 && !keep_;
  const int Lfull = cls_path() ? L - 1 : L;  // layers over every position
  for (int l = 0; l < Lfull; l++) {
    // slot sl holds layer l's activations: l when they are kept for backward, else 0 for every layer.
    // The LayerNorm outputs x1 and out have one buffer each; a layer's output overwrites its input
    // (x's last use, the residual add, comes first).
    const int64_t sl = keep_ ? l : 0;
    const F* x = l == 0 ? x0_.data() : out_.data();
    F* qkv = qkv_.data() + sl * BT * 3 * C;
    F* ctx = ctx_.data() + sl * BT * C;
    F* r1 = r1_.data() + sl * BT * C;
    F* x1 = x1_.data();
    F* fch = fch_.size() ? fch_.data() + sl * BT * Fd : nullptr;
    F* fcg = fcg_.data();
    F* r2 = r2_.data() + sl * BT * C;
    F* out = out_.data();
    // layer l > 0's input as bf16: the previous layer's out16
    linear_forward<F, K>(qkv, x, act16 && l > 0 ? out16_.data() : nullptr, w.qkvw + (int64_t)l * 3 * C * C,
                         w.qkvb + (int64_t)l * 3 * C, BT, C, 3 * C, prec_);
    // probabilities not kept: the backward pass recomputes them from qkv
    K::attention_forward(ctx, (F*)nullptr, qkv, batch_mask(), B, T, C, NH, pa, dr.seed, dr.stream(1 + 3 * l), prec_,
                         keep_ ? attn_bits(l) : nullptr, act16 ? ctx16_.data() : nullptr);
    linear_forward<F, K>(r1, ctx, act16 ? ctx16_.data() : nullptr, w.attprojw + (int64_t)l * C * C,
                         w.attprojb + (int64_t)l * C, BT, C, C, prec_);
    K::dropout_add_forward(r1, r1, x, (int64_t)BT * C, ph, dr.seed, dr.stream(2 + 3 * l), keep_ ? drop_bits(l, 0) : nullptr);
    layernorm_fwd<F, K>(x1, act16 ? x1_16_.data() : nullptr, m1_.data() + sl * BT, s1_.data() + sl * BT, r1,
                        w.ln1w + l * C, w.ln1b + l * C, BT, C, eps);
    // bf16: GELU's output only as bf16, its input kept as bf16 for backward (without one: not kept,
    // never written); else without a backward pass GELU overwrites its input, tile by tile
    if (!keep_) fcg = fch;
    ffn_forward<F, K>(r2, fch, fcg, b16 ? fcg16() : nullptr, b16 && keep_ ? fch16(l) : nullptr, x1,
                      act16 ? x1_16_.data() : nullptr, w.fcw + (int64_t)l * Fd * C, w.fcb + (int64_t)l * Fd,
                      w.fcprojw + (int64_t)l * C * Fd, w.fcprojb + (int64_t)l * C, BT, C, Fd, prec_);
    K::dropout_add_forward(r2, r2, x1, (int64_t)BT * C, ph, dr.seed, dr.stream(3 + 3 * l), keep_ ? drop_bits(l, 1) : nullptr);
    layernorm_fwd<F, K>(out, act16 ? out16_.data() : nullptr, m2_.data() + sl * BT, s2_.data() + sl * BT, r2,
                        w.ln2w + l * C, w.ln2b + l * C, BT, C, eps);
  }
  if (Lfull < L) cls_layer_forward(w, L > 1 ? out_.data() : x0_.data(), act16 && L > 1 ? out16_.data() : nullptr);
}

template <typename F, typename K>
void Encoder<F, K>::cls_layer_forward(const EncoderWeights<F>& w, const F* x, const uint16_t* x16) {
  if constexpr (!K::kDevice) {
    const int B = B_, T = T_, BT = B * T, C = c_.hidden_size, Fd = c_.intermediate_size;
    const int l = c_.num_hidden_layers - 1, NH = c_.num_attention_heads;
    const int64_t sl = keep_ ? l : 0;
    const double eps = c_.layer_norm_eps;
    const float ph = dr_.training ? (float)c_.hidden_dropout_prob : 0.f;
    const float pa = dr_.training ? (float)c_.attention_probs_dropout_prob : 0.f;
    const ClsBufs cb = cls_bufs();
    // the layer's slot, its first rows: keys | values (BT, 2C) then the queries (B, C); the rest (B, ...)
    F* kv = qkv_.data() + sl * BT * 3 * C;
    F* q = kv + (int64_t)BT * 2 * C;
    F* ctx = ctx_.data() + sl * BT * C;
    F* r1 = r1_.data() + sl * BT * C;
    F* x1 = x1_.data();
    F* fch = fch_.size() ? fch_.data() + sl * BT * Fd : nullptr;
    F* r2 = r2_.data() + sl * BT * C;
    const bool b16 = b16_inputs();
    const F* qkvw = w.qkvw + (int64_t)l * 3 * C * C;
    const F* qkvb = w.qkvb + (int64_t)l * 3 * C;
    for (int b = 0; b < B; b++) K::copy(cb.xc + (int64_t)b * C, x + (int64_t)b * T * C, C);
    linear_forward<F, K>(kv, x, x16, qkvw + (int64_t)C * C, qkvb + C, BT, C, 2 * C, prec_);
    K::matmul_forward(q, cb.xc, qkvw, qkvb, B, C, C, prec_);
    K::attention_cls_forward(ctx, cb.p, cb.akeep, q, kv, batch_mask(), B, T, C, NH, pa, dr_.seed, dr_.stream(1 + 3 * l));
    // r = dropout(r) + resid on the first positions, with the masks of elements b T C + i of the
    // full layer's stream; the multipliers kept for backward
    auto dropout_add = [&](F* r, F* keep, const F* resid, uint64_t stream) {
      for (int b = 0; b < B; b++)
        K::dropout_range(r + (int64_t)b * C, keep + (int64_t)b * C, r + (int64_t)b * C, C, ph, dr_.seed, stream,
                         (uint64_t)b * T * C);
      for (int64_t i = 0; i < (int64_t)B * C; i++) r[i] += resid[i];
    };
    K::matmul_forward(r1, ctx, w.attprojw + (int64_t)l * C * C, w.attprojb + (int64_t)l * C, B, C, C, prec_);
    dropout_add(r1, cb.keep1, cb.xc, dr_.stream(2 + 3 * l));
    K::layernorm_forward(x1, m1_.data() + sl * BT, s1_.data() + sl * BT, r1, w.ln1w + l * C, w.ln1b + l * C, B, C, eps);
    // the FFN on the B rows, with the full layers' buffers and rounding (their first rows)
    ffn_forward<F, K>(r2, fch, keep_ ? fcg_.data() : fch, b16 ? fcg16() : nullptr, b16 && keep_ ? fch16(l) : nullptr, x1,
                      nullptr, w.fcw + (int64_t)l * Fd * C, w.fcb + (int64_t)l * Fd, w.fcprojw + (int64_t)l * C * Fd,
                      w.fcprojb + (int64_t)l * C, B, C, Fd, prec_);
    dropout_add(r2, cb.keep2, x1, dr_.stream(3 + 3 * l));
    K::layernorm_forward(out_.data(), m2_.data() + sl * BT, s2_.data() + sl * BT, r2, w.ln2w + l * C, w.ln2b + l * C, B,
                         C, eps);
  }
}

template <typename F, typename K>
void Encoder<F, K>::cls_layer_backward(const EncoderWeights<F>& dw, const F* dout, F* dres, const EncoderWeights<F>& w) {
  if constexpr (!K::kDevice) {
    const int B = B_, T = T_, BT = B * T, C = c_.hidden_size, Fd = c_.intermediate_size;
    const int l = c_.num_hidden_layers - 1, NH = c_.num_attention_heads;
    const double eps = c_.layer_norm_eps;
    const ClsBufs cb = cls_bufs();
    const F* kv = qkv_.data() + (int64_t)l * BT * 3 * C;
    const F* q = kv + (int64_t)BT * 2 * C;
    const F* ctx = ctx_.data() + (int64_t)l * BT * C;
    const F* r1 = r1_.data() + (int64_t)l * BT * C;
    const F* fch = fch_.size() ? fch_.data() + (int64_t)l * BT * Fd : nullptr;
    const uint16_t* fch16 = this->fch16(l);
    const F* r2 = r2_.data() + (int64_t)l * BT * C;
    F* x1 = x1_.data();
    F* fcg = fcg_.data();
    F* dx1 = dx1_.data();
    F* dtmp = dtmp_.data();
    F* dkv = dqkv_.data();
    const F* m1 = m1_.data() + (int64_t)l * BT;
    const F* s1 = s1_.data() + (int64_t)l * BT;
    // the layer's input (every position: the keys' and values' weight gradients), recomputed as backward() does
    const F* x = x0_.data();
    if (l > 0) {
      K::layernorm_forward(xin_.data(), m2_.data() + (l - 1) * BT, s2_.data() + (l - 1) * BT,
                           r2_.data() + (int64_t)(l - 1) * BT * C, w.ln2w + (l - 1) * C, w.ln2b + (l - 1) * C, BT, C, eps);
      x = xin_.data();
    }
    K::layernorm_forward(x1, (F*)m1, (F*)s1, r1, w.ln1w + l * C, w.ln1b + l * C, B, C, eps);
    auto times = [&](F* o, const F* a, const F* k) {
      for (int64_t i = 0; i < (int64_t)B * C; i++) o[i] = a[i] * k[i];
    };
    K::layernorm_backward(dx1, dw.ln2w + l * C, dw.ln2b + l * C, dout, r2, m2_.data() + (int64_t)l * BT,
                          s2_.data() + (int64_t)l * BT, w.ln2w + l * C, B, C, false);
    times(dtmp, dx1, cb.keep2);
    gelu_of_kept<F, K>(fcg, fch, fch16, (int64_t)B * Fd);
    K::matmul_backward((F*)nullptr, dw.fcprojw + (int64_t)l * C * Fd, dw.fcprojb + (int64_t)l * C, dtmp, fcg,
                       w.fcprojw + (int64_t)l * C * Fd, B, Fd, C, false, prec_);
    matmul_gelu_bwd<F, K>(fcg, dtmp, fch, fch16, w.fcprojw + (int64_t)l * C * Fd, B, Fd, C, prec_);
    K::matmul_backward(dx1, dw.fcw + (int64_t)l * Fd * C, dw.fcb + (int64_t)l * Fd, fcg, x1, w.fcw + (int64_t)l * Fd * C,
                       B, C, Fd, true, prec_);
    K::layernorm_backward(cb.dxc, dw.ln1w + l * C, dw.ln1b + l * C, dx1, r1, m1, s1, w.ln1w + l * C, B, C, false);
    times(dtmp, cb.dxc, cb.keep1);
    F* dctx = dx1;  // free again
    K::matmul_backward(dctx, dw.attprojw + (int64_t)l * C * C, dw.attprojb + (int64_t)l * C, dtmp, ctx,
                       w.attprojw + (int64_t)l * C * C, B, C, C, false, prec_);
    K::attention_cls_backward(cb.dq, dkv, dctx, q, kv, cb.p, cb.akeep, B, T, C, NH);
    const F* qkvw = w.qkvw + (int64_t)l * 3 * C * C;
    F* dqkvw = dw.qkvw + (int64_t)l * 3 * C * C;
    F* dqkvb = dw.qkvb + (int64_t)l * 3 * C;
    K::matmul_backward(dres, dqkvw + (int64_t)C * C, dqkvb + C, dkv, x, qkvw + (int64_t)C * C, BT, C, 2 * C, false, prec_);
    K::matmul_backward(cb.dxq, dqkvw, dqkvb, cb.dq, cb.xc, qkvw, B, C, C, false, prec_);
    // the first positions' input gradient: through the queries and the residual connection
    for (int b = 0; b < B; b++) {
      F* d = dres + (int64_t)b * T * C;
      for (int i = 0; i < C; i++) d[i] += cb.dxq[(int64_t)b * C + i] + cb.dxc[(int64_t)b * C + i];
    }
  }
}

template <typename F, typename K>
const F* Encoder<F, K>::output() const {
  return out_.data();
}

template <typename F, typename K>
F* Encoder<F, K>::output_grad_buffer() {
  return dout_buf_.data();
}

template <typename F, typename K>
void Encoder<F, K>::backward(const EmbeddingWeights<F>& dew, const EncoderWeights<F>& dw, F* dout,
                          const EmbeddingWeights<F>& ew, const EncoderWeights<F>& w) {
  if (!keep_) throw Error("internal: Encoder::backward after a forward that kept no activations");
  const int B = B_, T = T_, BT = B * T, C = c_.hidden_size, E = c_.embedding_size, Fd = c_.intermediate_size;
  const int L = c_.num_hidden_layers, NH = c_.num_attention_heads;
  const float ph = dr_.training ? (float)c_.hidden_dropout_prob : 0.f;
  const float pa = dr_.training ? (float)c_.attention_probs_dropout_prob : 0.f;
  const DropoutCtx& dr = dr_;
  F* dres = dout;  // the residual stream's gradient, layer by layer
  F* dx1 = dx1_.data();
  F* dtmp = dtmp_.data();
  F* dqkv = dqkv_.data();

  const double eps = c_.layer_norm_eps;
  int ltop = L - 1;
  if (cls_path()) {  // the last layer over the first positions only (dout (B, C)); its input's gradient (B, T, C)
    dres = dout_buf_.data();
    cls_layer_backward(dw, dout, dres, w);
    ltop = L - 2;
  }
  for (int l = ltop; l >= 0; l--) {
    const F* qkv = qkv_.data() + (int64_t)l * BT * 3 * C;
    const F* ctx = ctx_.data() + (int64_t)l * BT * C;
    const F* r1 = r1_.data() + (int64_t)l * BT * C;
    // the layer's input and its first LayerNorm's output, recomputed (same kernel, same inputs: the
    // forward pass's bits) from the kept residual sums and statistics
    F* x1 = x1_.data();
    K::layernorm_forward(x1, m1_.data() + l * BT, s1_.data() + l * BT, r1, w.ln1w + l * C, w.ln1b + l * C, BT, C, eps);
    const F* x = x0_.data();
    if (l > 0) {
      K::layernorm_forward(xin_.data(), m2_.data() + (l - 1) * BT, s2_.data() + (l - 1) * BT,
                        r2_.data() + (int64_t)(l - 1) * BT * C, w.ln2w + (l - 1) * C, w.ln2b + (l - 1) * C, BT, C, eps);
      x = xin_.data();
    }
    const F* fch = fch_.size() ? fch_.data() + (int64_t)l * BT * Fd : nullptr;
    const uint16_t* fch16 = this->fch16(l);
    F* fcg = fcg_.data();
    const F* r2 = r2_.data() + (int64_t)l * BT * C;
    // and the FFN branch's gradient: dx1 through the forward pass's dropout masks
    K::layernorm_dropout_backward(dx1, dtmp, dw.ln2w + l * C, dw.ln2b + l * C, dres, r2, m2_.data() + l * BT,
                                  s2_.data() + l * BT, w.ln2w + l * C, BT, C, false, ph, drop_bits(l, 1));
    gelu_of_kept<F, K>(fcg, fch, fch16, (int64_t)BT * Fd);  // recomputed rather than kept per layer
    // the FFN's inner gradient is written over GELU's output once its weight gradient is taken
    F* dfc = fcg;
    K::matmul_backward((F*)nullptr, dw.fcprojw + (int64_t)l * C * Fd, dw.fcprojb + (int64_t)l * C, dtmp, fcg,
                    w.fcprojw + (int64_t)l * C * Fd, BT, Fd, C, false, prec_);
    matmul_gelu_bwd<F, K>(dfc, dtmp, fch, fch16, w.fcprojw + (int64_t)l * C * Fd, BT, Fd, C, prec_);
    K::matmul_backward(dx1, dw.fcw + (int64_t)l * Fd * C, dw.fcb + (int64_t)l * Fd, dfc, x1, w.fcw + (int64_t)l * Fd * C,
                    BT, C, Fd, true, prec_);
    K::layernorm_dropout_backward(dres, dtmp, dw.ln1w + l * C, dw.ln1b + l * C, dx1, r1, m1_.data() + l * BT,
                                  s1_.data() + l * BT, w.ln1w + l * C, BT, C, false, ph, drop_bits(l, 0));
    // ctx's gradient is written over ctx (this layer's, needed by nothing else) once its weight gradient is taken
    F* dctx = ctx_.data() + (int64_t)l * BT * C;
    K::matmul_backward((F*)nullptr, dw.attprojw + (int64_t)l * C * C, dw.attprojb + (int64_t)l * C, dtmp, ctx,
                    w.attprojw + (int64_t)l * C * C, BT, C, C, false, prec_);
    K::matmul_backward(dctx, (F*)nullptr, (F*)nullptr, dtmp, ctx, w.attprojw + (int64_t)l * C * C, BT, C, C, false, prec_);
    K::attention_backward(dqkv, dctx, qkv, (const F*)nullptr, batch_mask(), B, T, C, NH, pa, dr.seed, dr.stream(1 + 3 * l),
                       prec_, attn_bits(l));
    K::matmul_backward(dres, dw.qkvw + (int64_t)l * 3 * C * C, dw.qkvb + (int64_t)l * 3 * C, dqkv, x,
                    w.qkvw + (int64_t)l * 3 * C * C, BT, C, 3 * C, true, prec_);
  }

  F* demb = demb_.data();
  if (w.projw) K::matmul_backward(demb, dw.projw, dw.projb, dres, emb_drop_.data(), w.projw, BT, E, C, false, prec_);
  else K::copy(demb, dres, (int64_t)BT * C);
  K::dropout_forward(demb, demb, (int64_t)BT * E, ph, dr.seed, dr.stream(0));
  K::layernorm_backward(demb, dew.lnw, dew.lnb, demb, emb_.data(), emb_mean_.data(), emb_rstd_.data(), ew.lnw, BT, E,
                     false);
  K::embedding_backward(dew.wte, dew.wpe, dew.wtt, demb, batch_ids(), batch_tt(), B, T, E);
}

// ---- heads --------------------------------------------------------------------------------------
template <typename F, typename K>
void DiscHead<F, K>::forward(const DiscHeadWeights<F>& w, const F* x, int R, int C) {
  R_ = R;
  C_ = C;
  h_.resize((int64_t)R * C);
  g_.resize((int64_t)R * C);  // gelu(h); in backward, its gradient
  logits_.resize(R);
  K::matmul_gelu_forward(h_.data(), g_.data(), x, w.densew, w.denseb, R, C, C, prec_);
  K::matmul_forward(logits_.data(), g_.data(), w.predw, w.predb, R, C, 1, prec_);
}

template <typename F, typename K>
void DiscHead<F, K>::backward(F* dx, const DiscHeadWeights<F>& dw, const F* dlogits, const DiscHeadWeights<F>& w,
                           const F* x) {
  const int R = R_, C = C_;
  // the gradient of g is written over g once its weight gradient is taken: no buffer of its own
  K::matmul_backward((F*)nullptr, dw.predw, dw.predb, dlogits, g_.data(), w.predw, R, C, 1, false, prec_);
  K::matmul_gelu_backward(g_.data(), dlogits, h_.data(), w.predw, R, C, 1, prec_);
  K::matmul_backward(dx, dw.densew, dw.denseb, g_.data(), x, w.densew, R, C, C, false, prec_);
}

template <typename F, typename K>
void GenHead<F, K>::forward(const GenHeadWeights<F>& w, const F* wte, const F* x, int R, int C, int E, int V,
                         double eps) {
  R_ = R, C_ = C, E_ = E, V_ = V;
  for (auto* v : {&h_, &g_, &y_, &dy_}) v->resize((int64_t)R * E);
  ym_.resize(R);
  ys_.resize(R);
  logits_.resize((int64_t)R * V);
  K::matmul_gelu_forward(h_.data(), g_.data(), x, w.densew, w.denseb, R, C, E, prec_);
  K::layernorm_forward(y_.data(), ym_.data(), ys_.data(), g_.data(), w.lnw, w.lnb, R, E, eps);
  K::matmul_forward(logits_.data(), y_.data(), wte, w.bias, R, E, V, prec_);
}

template <typename F, typename K>
void GenHead<F, K>::backward(F* dx, const GenHeadWeights<F>& dw, F* dwte, const F* dlogits, const GenHeadWeights<F>& w,
                          const F* wte, const F* x) {
  const int R = R_, C = C_, E = E_, V = V_;
  K::matmul_backward(dy_.data(), dwte, dw.bias, dlogits, y_.data(), wte, R, E, V, false, prec_);
  K::layernorm_backward(dy_.data(), dw.lnw, dw.lnb, dy_.data(), g_.data(), ym_.data(), ys_.data(), w.lnw, R, E, false);
  K::gelu_backward(dy_.data(), h_.data(), dy_.data(), (int64_t)R * E);
  K::matmul_backward(dx, dw.densew, dw.denseb, dy_.data(), x, w.densew, R, C, E, false, prec_);
}

template <typename F, typename K>
void ClsHead<F, K>::forward(const ClsHeadWeights<F>& w, const F* x, int B, int C, int NL, float p_drop,
                         const DropoutCtx& dr) {
  B_ = B, C_ = C, NL_ = NL;
  p_ = dr.training ? p_drop : 0.f;
  dr_ = dr;
  dr_.model = 2;
  for (auto* v : {&xd_, &h_, &g_, &gd_, &dtmp_}) v->resize((int64_t)B * C);
  logits_.resize((int64_t)B * NL);
  K::dropout_forward(xd_.data(), x, (int64_t)B * C, p_, dr_.seed, dr_.stream(0));
  if (w.densew) {
    K::matmul_forward(h_.data(), xd_.data(), w.densew, w.denseb, B, C, C, prec_);
    K::gelu_forward(g_.data(), h_.data(), (int64_t)B * C);
    K::dropout_forward(gd_.data(), g_.data(), (int64_t)B * C, p_, dr_.seed, dr_.stream(1));
    K::matmul_forward(logits_.data(), gd_.data(), w.outw, w.outb, B, C, NL, prec_);
  } else {
    K::matmul_forward(logits_.data(), xd_.data(), w.outw, w.outb, B, C, NL, prec_);
  }
}

template <typename F, typename K>
void ClsHead<F, K>::backward(F* dx, const ClsHeadWeights<F>& dw, const F* dlogits, const ClsHeadWeights<F>& w) {
  const int B = B_, C = C_, NL = NL_;
  if (w.densew) {
    K::matmul_backward(dtmp_.data(), dw.outw, dw.outb, dlogits, gd_.data(), w.outw, B, C, NL, false, prec_);
    K::dropout_forward(dtmp_.data(), dtmp_.data(), (int64_t)B * C, p_, dr_.seed, dr_.stream(1));
    K::gelu_backward(dtmp_.data(), h_.data(), dtmp_.data(), (int64_t)B * C);
    K::matmul_backward(dx, dw.densew, dw.denseb, dtmp_.data(), xd_.data(), w.densew, B, C, C, false, prec_);
  } else {
    K::matmul_backward(dx, dw.outw, dw.outb, dlogits, xd_.data(), w.outw, B, C, NL, false, prec_);
  }
  K::dropout_forward(dx, dx, (int64_t)B * C, p_, dr_.seed, dr_.stream(0));
}

}  // namespace electra
