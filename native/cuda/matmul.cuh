// matmul.cuh: linear layers on the GPU (the CUDA twins of cpu/kernels.h's matmul_forward/backward) and
// the GEMM core under them. Device pointers, row-major fp32 storage; no cuBLAS. Declarations only:
// included by nvcc and by host C++ (cuda/backend.h) alike.
//
// Dimension legend: N rows (usually B*T), IC/OC a linear map's input/output features; for the GEMM
// core, C (M, Ncol) = op(A) (M, K) @ op(B) (K, Ncol).
//
// Precision (cpu/kernels.h): Fp32 = fp32 products and sums (FMA on the CUDA cores, no TF32); Bf16 =
// both operands rounded to bf16 (nearest even) as tiles are loaded, products summed in fp32 by the
// tensor cores (mma.sync m16n8k16, sm_80+).
//
// Every call is deterministic: each output element is summed in an order fixed by the shapes alone
// (no atomics), so two runs give bit-identical results. Small outputs with a long K (dweight) split K
// across blocks into a scratch buffer (one per device, grown on demand, never per call) and add the
// partial sums in a fixed order (growing it synchronizes the device); calls on one device must
// therefore not run concurrently on two streams.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/kernels.h"  // electra::Precision

namespace electra {
namespace cuda {

// C (M, Ncol) = (accumulate ? C : bias or 0) + op(A) @ op(B), with
//   op(A)(i, k) = a_trans ? A[k * lda + i] : A[i * lda + k]     (i < M, k < K)
//   op(B)(k, j) = b_trans ? B[j * ldb + k] : B[k * ldb + j]     (k < K, j < Ncol)
//   C(i, j) = C[i * ldc + j]; bias (Ncol) may be null (only read when not accumulating).
// Batched over `batch` independent products, the b-th at A + b * stride_a, B + b * stride_b,
// C + b * stride_c (the same bias for all). Any M, Ncol >= 1, K >= 0 (K = 0 writes the bias or leaves
// C). C must not overlap A, B or bias.
void gemm(float* C, int64_t ldc, const float* A, int64_t lda, bool a_trans, const float* B, int64_t ldb,
          bool b_trans, int M, int Ncol, int K, const float* bias, bool accumulate, Precision prec,
          cudaStream_t stream = 0, int batch = 1, int64_t stride_c = 0, int64_t stride_a = 0,
          int64_t stride_b = 0);

// out (N, OC) = inp (N, IC) @ weight (OC, IC)^T + bias (OC); bias may be null.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    Precision prec, cudaStream_t stream = 0);

// dinp (N, IC) = (or += when accumulate) dout (N, OC) @ weight (OC, IC); dweight (OC, IC) += dout^T @ inp;
// dbias (OC) += column sums of dout. Any of dinp, dweight, dbias may be null (skipped).
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, bool accumulate, Precision prec,
                     cudaStream_t stream = 0);

// out (cols) += column sums of inp (rows, cols), each summed in a fixed order (fp32, no atomics).
void colsum_accumulate(float* out, const float* inp, int rows, int cols, cudaStream_t stream = 0);

}  // namespace cuda
}  // namespace electra
