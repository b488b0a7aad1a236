// model.cpp (CUDA): the encoder and the heads on the GPU: model_impl.h's code instantiated over
// CudaBackend (fp32 storage; fp32 or bf16 matrix products). Compiled by the host compiler into the
// engine when the CUDA backend is built.
#include "cuda/backend.h"
#include "engine/model_impl.h"

namespace electra {

template class Encoder<float, CudaBackend>;
template class DiscHead<float, CudaBackend>;
template class GenHead<float, CudaBackend>;
template class ClsHead<float, CudaBackend>;

}  // namespace electra
