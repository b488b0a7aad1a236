// trainer.cpp (CUDA): the pre-training model and its optimizer on the GPU (trainer.h's
// PretrainBackend): weights, gradients and AdamW moments in device memory for the whole run; a step
// takes the host's batch and masking, returns statistics; checkpoints copy weights and moments back.
// Compiled by the host compiler into the engine when the CUDA backend is built.
#include <string>
#include <vector>

#include "cuda/backend.h"
#include "cuda/device.h"
#include "engine/pretrain_impl.h"
#include "engine/trainer.h"

namespace electra {
namespace {

class CudaPretrainBackend final : public ModelPretrainBackend<Pretrainer<float, CudaBackend>> {
 public:
  explicit CudaPretrainBackend(const PretrainOptions& opt, std::string name)
      : ModelPretrainBackend(opt.model), name_(std::move(name)), cfg_(opt.adam) {
    const int64_t n = (int64_t)model_.table().total();
    m_.resize(n);
    v_.resize(n);
    CudaBackend::fill_zero(m_.data(), n);
    CudaBackend::fill_zero(v_.data(), n);
    std::vector<cuda::AdamWSegment> segs;
    for (const TensorEntry& e : model_.table().entries())
      segs.push_back({(int64_t)e.offset, (int64_t)e.size, 1.f, e.decay ? (float)cfg_.weight_decay : 0.f});
    segments_.resize(segs.size());
    CudaBackend::upload(segments_.data(), segs.data(), (int64_t)segs.size());
    norm_.resize(1);
  }
  double optimizer_step(double lr) override {
    const int64_t n = (int64_t)model_.table().total();
    cuda::adamw_step(model_.params().data(), model_.grads().data(), m_.data(), v_.data(), segments_.data(),
                     (int)segments_.size(), n, norm_.data(), (float)lr, (float)cfg_.beta1, (float)cfg_.beta2,
                     (float)cfg_.eps, (float)cfg_.clip_norm);
    double norm = 0;
    CudaBackend::download(&norm, (const double*)norm_.data(), 1);  // the one value the host needs (the step's report)
    return norm;
  }
  void read_params(float* h) override { CudaBackend::download(h, (const float*)model_.params().data(), total()); }
  void write_params(const float* h) override { CudaBackend::upload(model_.params().data(), h, total()); }
  void read_moments(float* m, float* v) override {
    CudaBackend::download(m, (const float*)m_.data(), total());
    CudaBackend::download(v, (const float*)v_.data(), total());
  }
  void write_moments(const float* m, const float* v) override {
    CudaBackend::upload(m_.data(), m, total());
    CudaBackend::upload(v_.data(), v, total());
  }
  std::string device_name() const override { return name_; }

 private:
  int64_t total() const { return (int64_t)model_.table().total(); }
  std::string name_;
  AdamWConfig cfg_;
  cuda::DeviceVec<float> m_, v_;
  cuda::DeviceVec<cuda::AdamWSegment> segments_;
  cuda::DeviceVec<double> norm_;
};

}  // namespace

std::unique_ptr<PretrainBackend> make_cuda_pretrain_backend(const PretrainOptions& opt) {
  const CudaStatus s = cuda_status();
  if (s.devices.empty()) throw Error("device cuda: " + s.note + " (use --device cpu, or auto)");
  return std::make_unique<CudaPretrainBackend>(opt, s.devices[0].name);
}

}  // namespace electra
