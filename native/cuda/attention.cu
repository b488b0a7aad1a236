// attention.cu: the self-attention core on the GPU (the twin of cpu/attention.cpp), flash-style: one
// block per (query-row block, head, batch) keeps its rows of scores in shared memory, never a T x T
// matrix in global memory (only the optional saved probabilities). SIMT fp32 (no tensor cores); not the
// q/k/v projections.
//
// Dimension legend: B batch, T sequence length, C hidden size (3C: a qkv row), NH heads, HS head size
// (C / NH), BH = B * NH (b, h) pairs; t a query row, t2 a key row, d a head column.
//
// Exactness. Every dot product over HS is one chain of fmaf in increasing d from 0 (dot_tile and the
// column kernel), every elementwise product __fmul_rn (never contracted into an fma), so the forward, the
// backward's row pass and its column pass compute the very same bits for a score, a probability or a
// dropout-gradient: the backward can recompute P (att null) and get the forward's att bit for bit.
// Sums over keys (P v, dS k) and over queries (dS^T q, Pd^T dy) run in increasing index order in one
// thread: results are run-to-run identical. The CPU sums in other orders: parity is to rounding.
//
// Kernels:
//   forward      (T/16, NH, B): 16 query rows; scores q k^T by key tiles of 64 into S (16 x T, shared),
//                softmax by rows (a warp per row), att written, dropout (Philox, as the CPU), then
//                out = P v by value tiles of 64.
//   bwd_rows     (T/16, NH, B): 16 query rows; P (att, or recomputed: the row max and 1/sum saved),
//                G = dy v^T, dropout masks, D = sum_t2 P G, dS = P (G - D) / sqrt(HS), dq = dS k.
//   bwd_cols     (T/32, NH, B): 32 key rows; over query tiles of 32 recomputes P (from att or the
//                saved max and 1/sum), G, the masks and dS (with the saved D) for its keys, then
//                dv = Pd^T dy, dk = dS^T q in registers. No atomics.
// The row kernels' shared memory grows with T (one or two 16 x T arrays besides the tiles): 104 KiB for
// bwd_rows at T = 512, HS = 128 (opted in above 48 KB); a T beyond the device's limit throws. The
// row statistics (max, 1 / sum, D: 3 B NH T floats) pass from bwd_rows to bwd_cols through
// a scratch buffer grown on demand (common.cuh's Scratch: no allocation once the largest batch is seen).
#include <cuda_bf16.h>

#include <cmath>
#include <string>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "engine/rng.h"

namespace electra {
namespace cuda {

static constexpr int kThreads = 128;  // 4 warps in every kernel
static constexpr int kWarps = kThreads / 32;
static constexpr int kRows = 16;               // query rows of a forward / bwd_rows block
static constexpr int kWarpRows = kRows / kWarps;  // 4 query rows per warp
static constexpr int kKeys = 64;               // key (or value) rows per shared tile, two per lane
static constexpr int kColKeys = 32;            // key rows of a bwd_cols block, one per lane
static constexpr int kColQ = 32;               // query rows per bwd_cols tile
static constexpr int kColWarpRows = 8;         // rows per warp in bwd_cols (32 / 4 warps)
static constexpr int kColBlocks = kColKeys / 4 + 1;  // Philox blocks that can touch 32 keys of a row
static_assert(kKeys == 64 && kColKeys == 32 && kColQ == kWarps * kColWarpRows && kColKeys == kWarps * kColWarpRows,
              "the lane mappings below assume these tile sizes");

// A matrix-product operand: x, or x rounded to bf16 (nearest even) in bf16 mode.
static __device__ __forceinline__ float operand(float x, bool bf16) {
  return bf16 ? __bfloat162float(__float2bfloat16_rn(x)) : x;
}

// Whether padding keys are masked in this sequence: a mask is given and it has a token (an all-padding
// sequence attends to all keys, as the CPU). All threads of the block must call it.
static __device__ bool key_masking(const int32_t* mrow, int T) {
  if (!mrow) return false;
  int any = 0;
  for (int t = threadIdx.x; t < T; t += blockDim.x) any |= mrow[t] != 0;
  return __syncthreads_or(any) != 0;
}

// dst rows [0, n) (stride ld) = operand(src rows r0 + r) (row stride `stride`, HS columns), zero past T.
template <int HS>
static __device__ void load_rows(float* dst, int ld, const float* src, int stride, int r0, int n, int T, bool bf16) {
  for (int i = threadIdx.x; i < n * HS; i += blockDim.x) {
    const int r = i / HS, d = i % HS, t = r0 + r;
    dst[r * ld + d] = t < T ? operand(src[(size_t)t * stride + d], bf16) : 0.f;
  }
}

// Out[r, c0 + c] = X[r] . Y[c] for the block's kRows rows r (X: kRows x HS, stride HS) and the kKeys
// rows c of a tile (Y: stride HS + 1), where c0 + c < T. Warp w owns rows 4w..4w+3, lane the tile rows
// lane and lane + 32 (stride HS + 1: conflict-free). Each dot is one fmaf chain in increasing d.
template <int HS>
static __device__ void dot_tile(float* Out, int ldo, const float* X, const float* Y, int c0, int T) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const float* x = X + warp * kWarpRows * HS;
  const float* y0 = Y + lane * (HS + 1);
  const float* y1 = y0 + 32 * (HS + 1);
  float acc[kWarpRows][2];
#pragma unroll
  for (int i = 0; i < kWarpRows; i++) acc[i][0] = acc[i][1] = 0.f;
#pragma unroll 8
  for (int d = 0; d < HS; d++) {
    const float a0 = y0[d], a1 = y1[d];
#pragma unroll
    for (int i = 0; i < kWarpRows; i++) {
      const float xv = x[i * HS + d];
      acc[i][0] = fmaf(xv, a0, acc[i][0]);
      acc[i][1] = fmaf(xv, a1, acc[i][1]);
    }
  }
#pragma unroll
  for (int j = 0; j < 2; j++) {
    const int c = c0 + lane + 32 * j;
    if (c < T) {
#pragma unroll
      for (int i = 0; i < kWarpRows; i++) Out[(warp * kWarpRows + i) * ldo + c] = acc[i][j];
    }
  }
}

// acc[i][j] += sum_{c < n} A[4w + i, c0 + c] * Y[c, lane + 32 j], c increasing (A stride lda; Y a tile,
// stride HS + 1). The P v and dS k products of the row kernels.
template <int HS>
static __device__ void accum_tile(float (&acc)[kWarpRows][HS / 32], const float* A, int lda, const float* Y, int c0,
                                  int n) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const float* a = A + warp * kWarpRows * lda + c0;
  for (int c = 0; c < n; c++) {
    float y[HS / 32];
#pragma unroll
    for (int j = 0; j < HS / 32; j++) y[j] = Y[c * (HS + 1) + lane + 32 * j];
#pragma unroll
    for (int i = 0; i < kWarpRows; i++) {
      const float av = a[i * lda + c];  // the same address across the warp: a broadcast
#pragma unroll
      for (int j = 0; j < HS / 32; j++) acc[i][j] = fmaf(av, y[j], acc[i][j]);
    }
  }
}

// Out row r (kRows x T, stride T, in shared memory) = the raw dots of row t0 + r of xsrc with every
// row of ysrc (both HS wide, row strides xstride and ystride), the y rows read through the shared tile KV
// by kKeys rows: q k^T in the forward and the backward's row pass, dy v^T in the latter. X receives the
// block's x rows. Every thread of the block calls it; Out is complete when it returns.
template <int HS>
static __device__ void rows_dot_keys(float* Out, float* X, float* KV, const float* xsrc, int xstride,
                                     const float* ysrc, int ystride, int t0, int T, bool bf16) {
  load_rows<HS>(X, HS, xsrc, xstride, t0, kRows, T, bf16);
  for (int c0 = 0; c0 < T; c0 += kKeys) {
    __syncthreads();  // X written; the previous tile read
    load_rows<HS>(KV, HS + 1, ysrc, ystride, c0, kKeys, T, bf16);
    __syncthreads();
    dot_tile<HS>(Out, T, X, KV, c0, T);
  }
  __syncthreads();
}

// out row t0 + r (stride ldo, HS columns) = A row r (kRows x T, stride T, in shared memory) times the T
// rows of src (stride `stride`, read through the shared tile KV by kKeys rows): P v in the forward, dS k
// in the backward's row pass. Every thread of the block calls it.
template <int HS>
static __device__ void rows_times_values(float* out, int ldo, const float* A, float* KV, const float* src, int stride,
                                         int t0, int T, bool bf16) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float acc[kWarpRows][HS / 32];
#pragma unroll
  for (int i = 0; i < kWarpRows; i++)
#pragma unroll
    for (int j = 0; j < HS / 32; j++) acc[i][j] = 0.f;
  for (int c0 = 0; c0 < T; c0 += kKeys) {
    __syncthreads();  // A complete (first tile); the previous tile read
    load_rows<HS>(KV, HS + 1, src, stride, c0, kKeys, T, bf16);
    __syncthreads();
    accum_tile<HS>(acc, A, T, KV, c0, min(kKeys, T - c0));
  }
#pragma unroll
  for (int i = 0; i < kWarpRows; i++) {
    const int t = t0 + warp * kWarpRows + i;
    if (t < T) {
      float* o = out + (size_t)t * ldo;
#pragma unroll
      for (int j = 0; j < HS / 32; j++) o[lane + 32 * j] = acc[i][j];
    }
  }
}

// Softmax of one row of raw scores in place (one warp), as cpu/attention.cpp's softmax_row_f32:
// x = score * scale (-inf for a masked key: mrow non-null and mrow[t2] == 0), e = exp(x - max),
// P = e * (1 / sum e). Returns the max and 1 / sum (the column kernel recomputes P from them).
static __device__ void softmax_row(float* row, int T, float scale, const int32_t* mrow, float& mx_out,
                                   float& inv_out) {
  const int lane = threadIdx.x & 31;
  float mx = -INFINITY;
  for (int t2 = lane; t2 < T; t2 += 32) {
    const float x = mrow && !mrow[t2] ? -INFINITY : __fmul_rn(row[t2], scale);
    row[t2] = x;
    mx = fmaxf(mx, x);
  }
  mx = warp_max(mx);
  float sum = 0.f;
  for (int t2 = lane; t2 < T; t2 += 32) {
    const float e = mrow && !mrow[t2] ? 0.f : expf(row[t2] - mx);
    row[t2] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  const float inv = 1.f / sum;
  for (int t2 = lane; t2 < T; t2 += 32) row[t2] = __fmul_rn(row[t2], inv);
  mx_out = mx;
  inv_out = inv;
}

// row[t2] = operand(row[t2] * keep(base + t2)) for t2 < T (one warp): the dropout multipliers of stream
// indices base + t2 (keep iff random_unit >= p: pscale, else 0), as the CPU's dropout_range; p <= 0: 1.
// Each lane draws whole Philox blocks (4 indices each; a row need not start on a block boundary).
static __device__ void dropout_row(float* row, int T, float p, float pscale, uint64_t seed, uint64_t stream,
                                   uint64_t base, bool bf16) {
  const int lane = threadIdx.x & 31;
  if (p > 0.f) {
    // block first + i holds indices 4 (first + i) + j, that is t2 = 4 i + j - (base & 3)
    const uint64_t first = base >> 2;
    const int skew = (int)(base & 3), nblk = (skew + T + 3) >> 2;
    for (int i = lane; i < nblk; i += 32) {
      uint32_t w[4];
      Philox4x32::words(seed, stream, first + i, w);
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int t2 = 4 * i + j - skew;
        if (t2 >= 0 && t2 < T) row[t2] = operand(__fmul_rn(row[t2], u32_to_unit(w[j]) >= p ? pscale : 0.f), bf16);
      }
    }
  } else if (bf16) {
    for (int t2 = lane; t2 < T; t2 += 32) row[t2] = operand(row[t2], true);
  }
}

// ---- forward ---------------------------------------------------------------------------------------
// Shared: Q (kRows x HS) | K or V tile (kKeys x (HS + 1)) | S (kRows x T).
template <int HS>
static size_t forward_smem(int T) {
  return sizeof(float) * ((size_t)kRows * HS + (size_t)kKeys * (HS + 1) + (size_t)kRows * T);
}

template <int HS>
static __global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* out, float* att, const float* qkv, const int32_t* mask, int T, int C, int NH,
                             float scale, float p, float pscale, uint64_t seed, uint64_t stream, bool bf16) {
  extern __shared__ float smem[];
  float* Qs = smem;
  float* KV = Qs + kRows * HS;
  float* S = KV + kKeys * (HS + 1);
  const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * kRows;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int C3 = 3 * C;
  const size_t bh = (size_t)b * NH + h;
  const float* q = qkv + (size_t)b * T * C3 + h * HS;  // row t of this head's q: q + t * C3
  const float* k = q + C;
  const float* v = q + 2 * C;
  const int32_t* mrow = mask ? mask + (size_t)b * T : nullptr;
  const int32_t* kmask = key_masking(mrow, T) ? mrow : nullptr;

  // S = q k^T (raw dots), by key tiles
  rows_dot_keys<HS>(S, Qs, KV, q, C3, k, C3, t0, T, bf16);

  // each warp: its rows' softmax, att, dropout (P becomes the operand of P v)
  for (int i = 0; i < kWarpRows; i++) {
    const int r = warp * kWarpRows + i, t = t0 + r;
    if (t >= T) break;  // warp-uniform
    float* row = S + (size_t)r * T;
    float mx, inv;
    softmax_row(row, T, scale, kmask, mx, inv);
    if (att) {
      float* arow = att + (bh * T + t) * T;
      for (int t2 = lane; t2 < T; t2 += 32) arow[t2] = row[t2];
    }
    __syncwarp();  // dropout_row's lanes touch other lanes' elements
    dropout_row(row, T, p, pscale, seed, stream, (bh * T + t) * T, bf16);
    __syncwarp();
  }

  // out = P v, by value tiles
  rows_times_values<HS>(out + (size_t)b * T * C + h * HS, C, S, KV, v, C3, t0, T, bf16);
}

// ---- backward, row pass: dq and the row statistics ---------------------------------------------------
// Shared: X (kRows x HS: q rows, then dy rows) | K or V tile (kKeys x (HS + 1)) | S: P (kRows x T) |
// G: dy v^T, then dS (kRows x T).
template <int HS>
static size_t rows_smem(int T) {
  return sizeof(float) * ((size_t)kRows * HS + (size_t)kKeys * (HS + 1) + 2 * (size_t)kRows * T);
}

// stat_mx, stat_inv (BH, T): the softmax max and 1 / sum of each row (written only when att is null);
// stat_D (BH, T): D = sum_t2 P * dropout(dy v^T).
template <int HS>
static __global__ void __launch_bounds__(kThreads)
    attention_bwd_rows_kernel(float* dqkv, float* stat_mx, float* stat_inv, float* stat_D, const float* dout,
                              const float* qkv, const float* att, const int32_t* mask, int T, int C, int NH,
                              float scale, float p, float pscale, uint64_t seed, uint64_t stream, bool bf16) {
  extern __shared__ float smem[];
  float* X = smem;
  float* KV = X + kRows * HS;
  float* S = KV + kKeys * (HS + 1);
  float* G = S + (size_t)kRows * T;
  const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * kRows;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int C3 = 3 * C;
  const size_t bh = (size_t)b * NH + h;
  const float* q = qkv + (size_t)b * T * C3 + h * HS;
  const float* k = q + C;
  const float* v = q + 2 * C;
  const float* dy = dout + (size_t)b * T * C + h * HS;  // row t: dy + t * C
  const int32_t* mrow = mask ? mask + (size_t)b * T : nullptr;
  const int32_t* kmask = key_masking(mrow, T) ? mrow : nullptr;

  // S = P of the block's rows: recomputed as the forward does, or read from att
  if (!att) {
    rows_dot_keys<HS>(S, X, KV, q, C3, k, C3, t0, T, bf16);
    for (int i = 0; i < kWarpRows; i++) {
      const int r = warp * kWarpRows + i, t = t0 + r;
      if (t >= T) break;
      float mx, inv;
      softmax_row(S + (size_t)r * T, T, scale, kmask, mx, inv);
      if (lane == 0) stat_mx[bh * T + t] = mx, stat_inv[bh * T + t] = inv;
    }
  } else {
    for (int i = 0; i < kWarpRows; i++) {
      const int r = warp * kWarpRows + i, t = t0 + r;
      if (t >= T) break;
      const float* arow = att + (bh * T + t) * T;
      for (int t2 = lane; t2 < T; t2 += 32) S[(size_t)r * T + t2] = arow[t2];
    }
  }
  __syncthreads();  // X (q) free; S complete

  // G = dy v^T (raw dots), by value tiles
  rows_dot_keys<HS>(G, X, KV, dy, C, v, C3, t0, T, bf16);

  // each warp, its rows: G = dropout(G) (the forward's masks), D = sum P G, G = operand(P (G - D) scale)
  // = dS. Rows past T keep G = 0 (their dy rows are zero) and are never stored.
  for (int i = 0; i < kWarpRows; i++) {
    const int r = warp * kWarpRows + i, t = t0 + r;
    if (t >= T) break;
    float* g = G + (size_t)r * T;
    const float* a = S + (size_t)r * T;
    dropout_row(g, T, p, pscale, seed, stream, (bh * T + t) * T, false);
    __syncwarp();
    float dsum = 0.f;
    for (int t2 = lane; t2 < T; t2 += 32) dsum = fmaf(a[t2], g[t2], dsum);
    const float D = warp_sum(dsum);
    for (int t2 = lane; t2 < T; t2 += 32) g[t2] = operand(__fmul_rn(__fmul_rn(a[t2], g[t2] - D), scale), bf16);
    if (lane == 0) stat_D[bh * T + t] = D;
    __syncwarp();
  }

  // dq = dS k, by key tiles
  rows_times_values<HS>(dqkv + (size_t)b * T * C3 + h * HS, C3, G, KV, k, C3, t0, T, bf16);
}

// ---- backward, column pass: dk and dv ------------------------------------------------------------------
// Shared: K, V of the block's keys (kColKeys x (HS + 1) each) | Q, Y (dy) of a query tile (kColQ x HS each)
// | Pd, dS, M (the dropout multipliers) of the tile (kColQ x kColKeys each) | the tile's rows' max,
// 1 / sum and D (kColQ each).
template <int HS>
static size_t cols_smem() {
  return sizeof(float) * (2 * (size_t)kColKeys * (HS + 1) + 2 * (size_t)kColQ * HS + 3 * (size_t)kColQ * kColKeys +
                          3 * (size_t)kColQ);
}

template <int HS>
static __global__ void __launch_bounds__(kThreads)
    attention_bwd_cols_kernel(float* dqkv, const float* stat_mx, const float* stat_inv, const float* stat_D,
                              const float* dout, const float* qkv, const float* att, const int32_t* mask, int T,
                              int C, int NH, float scale, float p, float pscale, uint64_t seed, uint64_t stream,
                              bool bf16) {
  extern __shared__ float smem[];
  float* Ks = smem;
  float* Vs = Ks + kColKeys * (HS + 1);
  float* Qs = Vs + kColKeys * (HS + 1);
  float* Ys = Qs + kColQ * HS;
  float* Pd = Ys + kColQ * HS;
  float* dS = Pd + kColQ * kColKeys;
  float* M = dS + kColQ * kColKeys;
  float* st_mx = M + kColQ * kColKeys;
  float* st_inv = st_mx + kColQ;
  float* st_D = st_inv + kColQ;
  const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * kColKeys;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int C3 = 3 * C;
  const size_t bh = (size_t)b * NH + h;
  const float* q = qkv + (size_t)b * T * C3 + h * HS;
  const float* k = q + C;
  const float* v = q + 2 * C;
  const float* dy = dout + (size_t)b * T * C + h * HS;
  const int32_t* mrow = mask ? mask + (size_t)b * T : nullptr;
  const int32_t* kmask = key_masking(mrow, T) ? mrow : nullptr;
  const int kend = min(k0 + kColKeys, T);  // this block's keys: [k0, kend)
  // the element stage: lane = key k0 + lane
  const int t2 = k0 + lane;
  const bool key_ok = t2 < T;
  const bool key_off = key_ok && kmask && !kmask[t2];  // a masked padding key: P = 0

  load_rows<HS>(Ks, HS + 1, k, C3, k0, kColKeys, T, bf16);
  load_rows<HS>(Vs, HS + 1, v, C3, k0, kColKeys, T, bf16);

  // accumulate: warp w owns keys k0 + 8w + i, lane the columns lane + 32 j
  float dk[kColWarpRows][HS / 32], dv[kColWarpRows][HS / 32];
#pragma unroll
  for (int i = 0; i < kColWarpRows; i++)
#pragma unroll
    for (int j = 0; j < HS / 32; j++) dk[i][j] = dv[i][j] = 0.f;

  for (int q0 = 0; q0 < T; q0 += kColQ) {
    __syncthreads();  // the previous tile read (and Ks, Vs written)
    load_rows<HS>(Qs, HS, q, C3, q0, kColQ, T, bf16);
    load_rows<HS>(Ys, HS, dy, C, q0, kColQ, T, bf16);
    if (threadIdx.x < kColQ) {
      const int t = q0 + threadIdx.x;
      st_mx[threadIdx.x] = t < T && !att ? stat_mx[bh * T + t] : 0.f;
      st_inv[threadIdx.x] = t < T && !att ? stat_inv[bh * T + t] : 0.f;
      st_D[threadIdx.x] = t < T ? stat_D[bh * T + t] : 0.f;
    }
    // M[r, c] = the dropout multiplier of (t = q0 + r, key k0 + c): Philox blocks of indices
    // [base + k0, base + kend), base = (bh T + t) T, at most kColBlocks per row, one per work item
    if (p > 0.f) {
      for (int item = threadIdx.x; item < kColQ * kColBlocks; item += blockDim.x) {
        const int r = item / kColBlocks, jb = item % kColBlocks, t = q0 + r;
        // block (lo >> 2) + jb holds the keys k0 + c, c = 4 jb + j - (lo & 3), of row t
        const uint64_t lo = (bh * T + t) * T + k0;
        const int skew = (int)(lo & 3);
        if (t >= T || 4 * jb - skew >= kend - k0) continue;
        uint32_t w[4];
        Philox4x32::words(seed, stream, (lo >> 2) + jb, w);
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int c = 4 * jb + j - skew;
          if (c >= 0 && c < kend - k0) M[r * kColKeys + c] = u32_to_unit(w[j]) >= p ? pscale : 0.f;
        }
      }
    }
    __syncthreads();

    // element stage: warp w, query rows r = 8w + i; lane, key t2. Scores and dy v^T as fmaf chains over d
    // (the row pass's bits), P, the multiplier, dS and the dropped P, as operands of the products below.
    {
      float s[kColWarpRows], g[kColWarpRows];
#pragma unroll
      for (int i = 0; i < kColWarpRows; i++) s[i] = g[i] = 0.f;
      const float* kc = Ks + lane * (HS + 1);
      const float* vc = Vs + lane * (HS + 1);
      const float* qr = Qs + warp * kColWarpRows * HS;
      const float* yr = Ys + warp * kColWarpRows * HS;
#pragma unroll 4
      for (int d = 0; d < HS; d++) {
        const float kd = kc[d], vd = vc[d];
#pragma unroll
        for (int i = 0; i < kColWarpRows; i++) {
          s[i] = fmaf(qr[i * HS + d], kd, s[i]);
          g[i] = fmaf(yr[i * HS + d], vd, g[i]);
        }
      }
#pragma unroll
      for (int i = 0; i < kColWarpRows; i++) {
        const int r = warp * kColWarpRows + i, t = q0 + r;
        const bool valid = t < T && key_ok;
        float P;
        if (att) P = valid ? att[(bh * T + t) * T + t2] : 0.f;
        else P = key_off ? 0.f : __fmul_rn(expf(__fmul_rn(s[i], scale) - st_mx[r]), st_inv[r]);
        const float keep = p > 0.f ? (valid ? M[r * kColKeys + lane] : 0.f) : 1.f;
        const float ds = __fmul_rn(__fmul_rn(P, __fmul_rn(g[i], keep) - st_D[r]), scale);
        Pd[r * kColKeys + lane] = valid ? operand(__fmul_rn(P, keep), bf16) : 0.f;
        dS[r * kColKeys + lane] = valid ? operand(ds, bf16) : 0.f;
      }
    }
    __syncthreads();

    // dv += Pd^T dy, dk += dS^T q over the tile's rows, in increasing t
    const int n = min(kColQ, T - q0);
    for (int r = 0; r < n; r++) {
      float y[HS / 32], x[HS / 32];
#pragma unroll
      for (int j = 0; j < HS / 32; j++) y[j] = Ys[r * HS + lane + 32 * j], x[j] = Qs[r * HS + lane + 32 * j];
#pragma unroll
      for (int i = 0; i < kColWarpRows; i++) {
        const float pd = Pd[r * kColKeys + warp * kColWarpRows + i];  // broadcasts
        const float ds = dS[r * kColKeys + warp * kColWarpRows + i];
#pragma unroll
        for (int j = 0; j < HS / 32; j++) {
          dv[i][j] = fmaf(pd, y[j], dv[i][j]);
          dk[i][j] = fmaf(ds, x[j], dk[i][j]);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < kColWarpRows; i++) {
    const int tk = k0 + warp * kColWarpRows + i;
    if (tk < T) {
      float* o = dqkv + ((size_t)b * T + tk) * C3 + h * HS;
#pragma unroll
      for (int j = 0; j < HS / 32; j++) o[C + lane + 32 * j] = dk[i][j], o[2 * C + lane + 32 * j] = dv[i][j];
    }
  }
}

// ---- launchers ---------------------------------------------------------------------------------------

// The head size, checked: a template parameter of the kernels.
static int head_size(const char* what, int C, int NH) {
  if (NH <= 0 || C <= 0 || C % NH != 0)
    throw Error(std::string(what) + ": C = " + std::to_string(C) + " is not a multiple of NH = " + std::to_string(NH));
  const int HS = C / NH;
  if (HS != 32 && HS != 64 && HS != 128)
    throw Error(std::string(what) + ": head size C / NH = " + std::to_string(HS) +
                " is not supported by the CUDA backend (32, 64 or 128)");
  return HS;
}

// Lets `kernel` use `bytes` of dynamic shared memory (over 48 KB needs an opt-in); too long a T throws.
template <typename K>
static void allow_smem(K kernel, size_t bytes, const char* what, int T) {
  int dev = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (bytes > (size_t)optin)
    throw Error(std::string(what) + ": T = " + std::to_string(T) + " needs " + std::to_string(bytes) +
                " bytes of shared memory per block, more than the device's " + std::to_string(optin));
  if (bytes > 48 * 1024) CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

static float dropout_scale(float p) { return p > 0.f ? (float)(1.0 / (1.0 - (double)p)) : 1.f; }

template <int HS>
static void forward_hs(float* out, float* att, const float* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p, uint64_t seed, uint64_t stream, bool bf16, cudaStream_t cs) {
  const size_t smem = forward_smem<HS>(T);
  allow_smem(attention_forward_kernel<HS>, smem, "attention_forward (CUDA)", T);
  const dim3 grid((unsigned)ceil_div(T, kRows), (unsigned)NH, (unsigned)B);
  const float scale = (float)(1.0 / std::sqrt((double)HS));
  attention_forward_kernel<HS><<<grid, kThreads, smem, cs>>>(out, att, qkv, mask, T, C, NH, scale, p,
                                                             dropout_scale(p), seed, stream, bf16);
  CUDA_CHECK_LAUNCH("attention_forward");
}

void attention_forward(float* out, float* att, const float* qkv, const int32_t* mask, int B, int T, int C, int NH,
                       float p_drop, uint64_t seed, uint64_t stream, Precision prec, cudaStream_t cs) {
  const int HS = head_size("attention_forward (CUDA)", C, NH);
  if (B <= 0 || T <= 0) return;
  const bool bf16 = prec == Precision::Bf16;
  if (HS == 32) forward_hs<32>(out, att, qkv, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
  else if (HS == 64) forward_hs<64>(out, att, qkv, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
  else forward_hs<128>(out, att, qkv, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
}

template <int HS>
static void backward_hs(float* dqkv, float* stats, const float* dout, const float* qkv, const float* att,
                        const int32_t* mask, int B, int T, int C, int NH, float p, uint64_t seed, uint64_t stream,
                        bool bf16, cudaStream_t cs) {
  const size_t n = (size_t)B * NH * T;
  float *mx = stats, *inv = stats + n, *D = stats + 2 * n;
  const float scale = (float)(1.0 / std::sqrt((double)HS));
  const float pscale = dropout_scale(p);
  const size_t smem_r = rows_smem<HS>(T), smem_c = cols_smem<HS>();
  allow_smem(attention_bwd_rows_kernel<HS>, smem_r, "attention_backward (CUDA)", T);
  allow_smem(attention_bwd_cols_kernel<HS>, smem_c, "attention_backward (CUDA)", T);
  const dim3 grid_r((unsigned)ceil_div(T, kRows), (unsigned)NH, (unsigned)B);
  attention_bwd_rows_kernel<HS><<<grid_r, kThreads, smem_r, cs>>>(dqkv, mx, inv, D, dout, qkv, att, mask, T, C, NH,
                                                                  scale, p, pscale, seed, stream, bf16);
  CUDA_CHECK_LAUNCH("attention_backward (rows)");
  const dim3 grid_c((unsigned)ceil_div(T, kColKeys), (unsigned)NH, (unsigned)B);
  attention_bwd_cols_kernel<HS><<<grid_c, kThreads, smem_c, cs>>>(dqkv, mx, inv, D, dout, qkv, att, mask, T, C, NH,
                                                                  scale, p, pscale, seed, stream, bf16);
  CUDA_CHECK_LAUNCH("attention_backward (cols)");
}

// The row statistics' buffer: grown when a larger batch first arrives, then reused (no allocation per
// step). Calls on one device are queued on one stream in order, as the model issues them.
static Scratch g_stats;

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, const int32_t* mask,
                        int B, int T, int C, int NH, float p_drop, uint64_t seed, uint64_t stream, Precision prec,
                        cudaStream_t cs) {
  const int HS = head_size("attention_backward (CUDA)", C, NH);
  if (B <= 0 || T <= 0) return;
  const bool bf16 = prec == Precision::Bf16;
  float* stats = g_stats.get<float>(3 * (size_t)B * NH * T);  // per-row max, 1 / sum, D
  if (HS == 32) backward_hs<32>(dqkv, stats, dout, qkv, att, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
  else if (HS == 64) backward_hs<64>(dqkv, stats, dout, qkv, att, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
  else backward_hs<128>(dqkv, stats, dout, qkv, att, mask, B, T, C, NH, p_drop, seed, stream, bf16, cs);
}

}  // namespace cuda
}  // namespace electra
