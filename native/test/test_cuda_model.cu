// test_cuda_model.cu: the encoder and discriminator head on the GPU (Encoder<float, CudaBackend>)
// against the CPU engine (Encoder<float>), same weights, same batch, same dropout seed: the output,
// the input gradient and every parameter gradient, in fp32 and bf16. Without a CUDA device the tests
// pass after one line saying why.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "cuda/backend.h"
#include "cuda_check.cuh"
#include "engine/model.h"
#include "engine/params.h"

using namespace electra;

namespace {

struct Case {
  int B, T;
  bool padding;
  Precision prec;
};

void run(const Case& cs) {
  ElectraConfig c;
  c.vocab_size = 97;
  c.embedding_size = 16;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;  // head size 32
  c.intermediate_size = 128;
  c.max_position_embeddings = 128;
  ParamTable t;
  const EmbeddingLayout el = declare_embeddings(t, c, "electra.embeddings.");
  const EncoderLayout nl = declare_encoder(t, c, "electra.");
  const DiscHeadLayout hl = declare_disc_head(t, c, "");
  const size_t P = t.total();
  std::vector<float> params(P);
  init_weights(t, params.data(), 7, 0.2);  // larger than ELECTRA's 0.02: activations of a useful size
  std::mt19937 g(11);
  const int B = cs.B, T = cs.T, BT = B * T;
  std::vector<int32_t> ids(BT), tt(BT), mask(BT, 1);
  for (int i = 0; i < BT; i++) ids[i] = (int32_t)(g() % c.vocab_size), tt[i] = (int32_t)(g() % 2);
  if (cs.padding)
    for (int b = 0; b < B; b++)
      for (int i = T - 1 - b * 3; i < T; i++) mask[(size_t)b * T + i] = 0;  // sequence b ends 3b + 1 early
  DropoutCtx dr;
  dr.training = true;
  dr.seed = 1234;
  dr.step = 5;

  // CPU
  Encoder<float> enc(c);
  enc.set_precision(cs.prec);
  DiscHead<float> head;
  head.set_precision(cs.prec);
  enc.forward(bind(el, params.data()), bind(nl, params.data()), ids.data(), tt.data(), mask.data(), B, T, dr);
  head.forward(bind(hl, params.data()), enc.output(), BT, c.hidden_size);
  std::vector<float> logits(head.logits(), head.logits() + BT);
  const std::vector<float> dlogits = cutest::randn(BT, g);
  std::vector<float> grads(P, 0.f);
  float* dx = enc.output_grad_buffer();
  head.backward(dx, bind(hl, grads.data()), dlogits.data(), bind(hl, params.data()), enc.output());
  enc.backward(bind(el, grads.data()), bind(nl, grads.data()), dx, bind(el, params.data()), bind(nl, params.data()));

  // GPU
  cutest::Buf<float> dparams(params), dgrads(P), ddlogits(dlogits);
  Encoder<float, CudaBackend> genc(c);
  genc.set_precision(cs.prec);
  DiscHead<float, CudaBackend> ghead;
  ghead.set_precision(cs.prec);
  genc.forward(bind(el, dparams.p), bind(nl, dparams.p), ids.data(), tt.data(), mask.data(), B, T, dr);
  ghead.forward(bind(hl, dparams.p), genc.output(), BT, c.hidden_size);
  const std::vector<float> glogits = cutest::to_host(ghead.logits(), BT);
  float* gdx = genc.output_grad_buffer();
  ghead.backward(gdx, bind(hl, dgrads.p), ddlogits, bind(hl, dparams.p), genc.output());
  genc.backward(bind(el, dgrads.p), bind(nl, dgrads.p), gdx, bind(el, dparams.p), bind(nl, dparams.p));
  const std::vector<float> ggrads = dgrads.get();

  // fp32: the kernels agree to ~1e-6 each (their own tests); through two layers, a head and the backward
  // pass that grows to ~1e-5 of each tensor's scale: 1e-4 leaves a margin and still catches any wrong
  // mask or index. bf16: operands are rounded identically, but an fp32 difference of an ulp can round a
  // value to the neighbouring bf16 (2^-8 relative) before the next product: 3e-2.
  const double tol = cs.prec == Precision::Bf16 ? 3e-2 : 1e-4;
  const double el_err = cutest::rel_err(glogits, logits);
  std::string which;
  const double eg = cutest::worst_tensor(t, ggrads, grads, &which);
  std::printf("  B %d T %d padding %d %s: logits %.3g, worst gradient %.3g (%s)\n", B, T, cs.padding,
              cs.prec == Precision::Bf16 ? "bf16" : "fp32", el_err, eg, which.c_str());
  CHECK(el_err < tol);
  CHECK(eg < tol);
}

}  // namespace

TEST(encoder_and_head_match_the_cpu_engine) {
  REQUIRE_DEVICE();
  for (Case cs : {Case{2, 16, false, Precision::Fp32}, Case{3, 37, true, Precision::Fp32}, Case{4, 128, true, Precision::Fp32},
                  Case{4, 128, true, Precision::Bf16}})
    run(cs);
}

TEST_MAIN()
