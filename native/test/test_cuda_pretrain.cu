// test_cuda_pretrain.cu: the whole ELECTRA pre-training step on the GPU (Pretrainer<float,
// CudaBackend>) against the CPU engine (Pretrainer<float>): one step's losses, samples and every
// parameter gradient, then ten optimizer steps (the CPU's AdamW against cuda::adamw_step) with their
// losses and the final weights. fp32 and bf16. Without a CUDA device the tests pass after one line
// saying why.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "cuda/backend.h"
#include "cuda_check.cuh"
#include "engine/optim.h"
#include "engine/pretrain.h"
#include "engine/trainer.h"

using namespace electra;

namespace {

PretrainConfig small_config(Precision prec) {
  PretrainConfig pc;
  ElectraConfig d;
  d.vocab_size = 200, d.embedding_size = 32, d.hidden_size = 64, d.num_hidden_layers = 2;
  d.num_attention_heads = 2, d.intermediate_size = 128, d.max_position_embeddings = 128;  // head size 32
  ElectraConfig g = d;
  g.hidden_size = 32, g.num_attention_heads = 1, g.intermediate_size = 64;  // head size 32
  pc.disc = d, pc.gen = g;
  pc.special = {0, 1, 2, 3, 4};  // pad unk cls sep mask
  pc.precision = prec;
  return pc;
}

struct Data {
  int B = 4, T = 64;
  std::vector<int32_t> ids, tt, mask;
  explicit Data(unsigned seed) {
    std::mt19937 g(seed);
    ids.resize(B * T), tt.assign(B * T, 0), mask.assign(B * T, 1);
    for (int b = 0; b < B; b++) {
      const int len = b == 3 ? 40 : T;  // one padded sequence
      for (int t = 0; t < T; t++) {
        int32_t& x = ids[b * T + t];
        x = t == 0 ? 2 : t == len / 2 || t == len - 1 ? 3 : (int32_t)(5 + g() % 195);
        if (t >= len) x = 0, mask[b * T + t] = 0;
        if (t > len / 2 && t < len) tt[b * T + t] = 1;
      }
    }
  }
  Batch batch() const { return {B, T, ids.data(), tt.data(), mask.data()}; }
};

double rel(double a, double b) { return std::fabs(a - b) / (std::fabs(b) + 1e-12); }

void one_step(Precision prec) {
  const PretrainConfig pc = small_config(prec);
  Pretrainer<float> cpu(pc);
  Pretrainer<float, CudaBackend> gpu(pc);
  cpu.init_weights(3, 0.1);
  gpu.init_weights(3, 0.1);
  const Data d(5);
  MaskedInputs mk;
  electra_mask(mk, d.batch(), pc.mask_prob, max_predictions(pc.mask_prob, d.T), pc.special, 9, 1);
  const StepStats a = cpu.forward_backward(d.batch(), mk, nullptr, 9, 1, true, true);
  const StepStats b = gpu.forward_backward(d.batch(), mk, nullptr, 9, 1, true, true);
  std::string which;
  const double eg = cutest::worst_tensor(cpu.table(), cutest::to_host(gpu.grads().data(), gpu.grads().size()), cpu.grads(), &which);
  std::printf("  %s step: gen loss %.6f / %.6f, disc loss %.6f / %.6f, worst gradient %.3g (%s)\n",
              prec == Precision::Bf16 ? "bf16" : "fp32", b.gen_loss, a.gen_loss, b.disc_loss, a.disc_loss, eg, which.c_str());
  // The same samples (the Gumbel noise is the same; only a near-tie within rounding could differ).
  CHECK(gpu.sampled() == cpu.sampled());
  CHECK(gpu.disc_labels() == cpu.disc_labels());
  // fp32: each kernel within ~1e-6 of its twin; through both encoders, heads and losses ~1e-5: 1e-4.
  // bf16: an ulp of difference can round an operand to the neighbouring bf16 (2^-8): 3e-2.
  const double tol = prec == Precision::Bf16 ? 3e-2 : 1e-4;
  CHECK(rel(b.gen_loss, a.gen_loss) < tol && rel(b.disc_loss, a.disc_loss) < tol);
  CHECK(eg < tol);
}

void ten_steps(Precision prec) {
  const PretrainConfig pc = small_config(prec);
  Pretrainer<float> cpu(pc);
  Pretrainer<float, CudaBackend> gpu(pc);
  cpu.init_weights(4, 0.02);
  gpu.init_weights(4, 0.02);
  AdamWConfig oc;
  AdamW<float> opt(cpu.table(), oc);
  std::vector<cuda::AdamWSegment> segs;
  for (const TensorEntry& e : cpu.table().entries())
    segs.push_back({(int64_t)e.offset, (int64_t)e.size, 1.f, e.decay ? (float)oc.weight_decay : 0.f});
  cutest::Buf<cuda::AdamWSegment> dsegs(segs);
  const int64_t n = (int64_t)cpu.table().total();
  cutest::Buf<float> m(n), v(n);
  cutest::Buf<double> norm(1);
  double worst_loss = 0;
  for (int step = 0; step < 10; step++) {
    const Data d(100 + step);
    MaskedInputs mk;
    electra_mask(mk, d.batch(), pc.mask_prob, max_predictions(pc.mask_prob, d.T), pc.special, 9, step);
    cpu.zero_grads();
    gpu.zero_grads();
    const StepStats a = cpu.forward_backward(d.batch(), mk, nullptr, 9, step, true, true);
    const StepStats b = gpu.forward_backward(d.batch(), mk, nullptr, 9, step, true, true);
    worst_loss = std::max(worst_loss, rel(b.loss, a.loss));
    const float lr = 5e-3f;
    opt.step(cpu.params().data(), cpu.grads().data(), lr);
    cuda::adamw_step(gpu.params().data(), gpu.grads().data(), m, v, dsegs, (int)segs.size(), n, norm, lr,
                     (float)oc.beta1, (float)oc.beta2, (float)oc.eps, (float)oc.clip_norm);
  }
  std::string which;
  const double ep = cutest::worst_tensor(cpu.table(), cutest::to_host(gpu.params().data(), gpu.params().size()), cpu.params(), &which);
  std::printf("  %s, 10 steps: worst loss difference %.3g, worst weight difference %.3g (%s)\n",
              prec == Precision::Bf16 ? "bf16" : "fp32", worst_loss, ep, which.c_str());
  // Adam normalises each update (m / sqrt(v)), so where a gradient is near zero a tiny difference can
  // flip an update's sign; over 10 steps of lr 5e-3 that moves a weight by at most ~0.05, against
  // weights of ~0.02-1: 1e-2 relative for fp32 (the losses within 1e-3), 5e-2 for bf16.
  const bool bf = prec == Precision::Bf16;
  CHECK(worst_loss < (bf ? 3e-2 : 1e-3));
  CHECK(ep < (bf ? 5e-2 : 1e-2));
}

}  // namespace

TEST(pretrain_step_matches_the_cpu_engine) {
  REQUIRE_DEVICE();
  one_step(Precision::Fp32);
  one_step(Precision::Bf16);
}

TEST(ten_optimizer_steps_match_the_cpu_engine) {
  REQUIRE_DEVICE();
  ten_steps(Precision::Fp32);
  ten_steps(Precision::Bf16);
}

TEST(trainer_on_cuda_matches_the_cpu_trainer_and_round_trips_its_state) {
  REQUIRE_DEVICE();
  PretrainOptions o;
  o.model = small_config(Precision::Fp32);
  o.schedule.lr = 5e-3, o.schedule.warmup_steps = 2, o.schedule.total_steps = 100;
  PretrainTrainer cpu(o);
  o.device = "cuda";
  PretrainTrainer gpu(o);
  cpu.init_weights();
  gpu.init_weights();
  double worst = 0;
  for (int s = 0; s < 4; s++) {
    const Data a(200 + s), b(300 + s);
    const TrainStepResult x = cpu.train_step({a.batch(), b.batch()}), y = gpu.train_step({a.batch(), b.batch()});
    worst = std::max(worst, rel(y.stats.loss, x.stats.loss));
    CHECK(rel(y.grad_norm, x.grad_norm) < 1e-3);
  }
  std::string which;
  const double ep = cutest::worst_tensor(cpu.table(), gpu.params(), cpu.params(), &which);
  std::printf("  trainer, 4 steps of 2 micro-batches: worst loss difference %.3g, weights %.3g (%s)\n", worst, ep, which.c_str());
  CHECK(worst < 1e-3);
  CHECK(ep < 1e-2);
  // the training state (AdamW moments) and weights copied out and back in give the same next step
  const std::string path = "/tmp/electra-test-cuda-state.safetensors";
  gpu.save_state(path, "{}");
  PretrainTrainer again(o);
  again.load_state(path);
  again.backend().write_params(gpu.params().data());
  again.set_step(gpu.step());
  const Data c(400);
  const TrainStepResult p = gpu.train_step({c.batch()}), q = again.train_step({c.batch()});
  CHECK(p.stats.loss == q.stats.loss);
  CHECK(gpu.params() == again.params());
}

TEST_MAIN()
