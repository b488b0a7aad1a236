// gemm.h: the fp32 matrix-product micro-kernels behind matmul_forward/backward: register-blocked
// tiles for AVX-512 (6 x 32) and AVX2 (6 x 16), chosen at run time, with a scalar fallback. One
// calling thread computes one block of C; callers split C's rows across threads. Every C element
// sums k in increasing order, so results do not depend on the number of threads.
#pragma once
#include <cstdint>

namespace electra {

// C[i * ldc + j] = (accumulate ? C : bias[j] or 0) + sum_k A[i * sai + k * sak] * B(k, j)
// for i in [0, rows), j in [0, cols), k in [0, K), where B(k, j) = B[k * ldb + j], or with b_trans
// B[j * ldb + k] (e.g. a linear layer's weight, read as its transpose without copying it). Without
// accumulate the sums start in registers at the bias (null: 0): C is written, never read.
void gemm_f32(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows, int cols, int K,
              bool accumulate, bool b_trans = false, const float* bias = nullptr);

// Work on finished blocks of C (all of K summed, bias included): fn(e, c, ldc, i, j, rows, cols) for
// rows [i, i + rows) and columns [j, j + cols) of C, at c = C + i * ldc + j. The bf16 GEMM calls it on
// each register tile as it is stored (still in L1); other paths once on all of C.
struct GemmEpilogue {
  void (*fn)(const GemmEpilogue& e, float* c, int ldc, int i, int j, int rows, int cols);
  float* out;       // the epilogue's own output (e.g. GELU's, which may be C itself), row stride ld
  const float* in;  // its own input (e.g. GELU's pre-activation for the backward pass), row stride ld
  int ld;
  uint16_t* out16 = nullptr;  // or its output as bf16, row stride ld
  // C itself is not wanted: the tiles go to a scratch in L1 before fn, and C is never written (then
  // gemm_bf16 needs accumulate off; C may be null)
  bool scratch = false;
  bool pre_bf16 = false;            // GELU's forward epilogue: GELU of C rounded to bf16,
  uint16_t* pre16 = nullptr;        // which it also stores here where non-null
  const uint16_t* in16 = nullptr;   // or `in` as bf16 (e.g. that kept pre-activation), row stride ld
};

// The same product with A and B rounded to bf16 (round to nearest even) and fp32 sums
// (gemm_bf16.cpp): AVX512-BF16 dot products where the CPU has them, else (or with `emulate`) the
// rounded operands through gemm_f32. `ep` (may be null) runs on the finished C. With `a_sums`,
// a_sums[i] += A[i][k] in fp32 from A's unrounded values, k = 0, 1, .., K - 1 in order, for each row i of
// A (e.g. a bias gradient, from the output gradient packed for the weight gradient: no pass of its own).
void gemm_bf16(float* C, int ldc, const float* A, int sai, int sak, const float* B, int ldb, int rows, int cols, int K,
               bool accumulate, bool b_trans = false, bool emulate = false, const float* bias = nullptr,
               const GemmEpilogue* ep = nullptr, float* a_sums = nullptr);
// gemm_bf16 with A already bf16 (row-major, row stride lda; lda and K even, A 4-byte aligned): its
// rows are read in place by the register tiles, never packed; the same bits as gemm_bf16 on the fp32
// values A was rounded from (bf16 -> fp32 is exact).
void gemm_bf16_a16(float* C, int ldc, const uint16_t* A, int lda, const float* B, int ldb, int rows, int cols, int K,
                   bool accumulate, bool b_trans = false, const float* bias = nullptr,
                   const GemmEpilogue* ep = nullptr);
// dst[i] = src[i] rounded to bf16 (to nearest even; vcvtneps2bf16 where the CPU has AVX512-BF16, as
// the GEMM's packing, else to_bf16), i in [0, n).
void round_to_bf16(uint16_t* dst, const float* src, int64_t n);
// round_to_bf16 on rows [0, rows) x [0, cols) (row strides ldd, lds).
void round_rows_to_bf16(uint16_t* dst, int ldd, const float* src, int lds, int rows, int cols);
// dst = src's bf16 values as fp32 (exact), rows [0, rows) x [0, cols) (row strides ldd, lds).
void widen_rows_from_bf16(float* dst, int ldd, const uint16_t* src, int lds, int rows, int cols);
// C rows [0, rows) x [0, cols) = bias (null: 0).
void gemm_init(float* C, int ldc, int rows, int cols, const float* bias);
bool gemm_bf16_native();  // whether gemm_bf16 runs AVX512-BF16 instructions here
uint16_t to_bf16(float f);  // round to nearest even; NaN stays NaN
float bf16_round(float f);  // f rounded to bf16, as a float

}  // namespace electra
