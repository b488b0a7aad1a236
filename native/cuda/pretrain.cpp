// pretrain.cpp (CUDA): ELECTRA's pre-training step on the GPU: pretrain_impl.h's code instantiated
// over CudaBackend (fp32 storage; fp32 or bf16 matrix products). Compiled by the host compiler into the
// engine when the CUDA backend is built.
#include "cuda/backend.h"
#include "engine/pretrain_impl.h"

namespace electra {

template class Pretrainer<float, CudaBackend>;

}  // namespace electra
