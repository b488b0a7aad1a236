// matmul.cu: the GEMM core of the CUDA backend (fp32 on the CUDA cores, bf16 on the tensor cores) and
// the linear layers built on it. Not cuBLAS, not TF32, no atomics: every sum has a fixed order.
//
// Dimension legend: C (M, Ncol) = op(A) (M, K) @ op(B) (K, Ncol) (matmul.cuh). "mn" is a tile's row
// index in its operand's M (for A) or Ncol (for B) direction, "k" the index summed over. An operand is
// "k-contiguous" (KC) when consecutive k are adjacent in memory (A not transposed, B transposed).
//
// Both kernels compute a 128 x 128 block of C with 256 threads, moving K in tiles: each thread loads
// its share of the next tile into registers (float4 when aligned, else bounds-checked scalars, zeros
// outside the matrix) while the current tile is multiplied from shared memory (two buffers, one
// __syncthreads per tile). The epilogue adds the bias or the old C. Helpers marked __host__ __device__
// hold the index arithmetic, so that a host emulation can replay it.
//
//   fp32 (gemm_f32_kernel): k tiles of 8 stored [k][mn] (fp32); each thread owns an 8 x 8 sub-block
//     (rows ty*4 + {0..3} and 64 + ty*4 + {0..3}, columns likewise with tx) and sums k in order with
//     FMA. At most 128 registers: two blocks per SM.
//   bf16 (gemm_bf16_kernel): k tiles of 32 rounded to bf16 (RNE) as they are stored, in the operand's
//     own layout ([mn][k] for KC, [k][mn] otherwise); 8 warps as 2 (m) x 4 (n), each owning 64 x 32 of
//     C as 4 x 4 mma.m16n8k16 tiles, fragments read with ldmatrix (.trans for the [k][mn] layout).
//     About 150-165 registers (64 accumulators, 32 staged floats): one block per SM, no spills.
//
// Small outputs with a long K (dweight: M x Ncol = OC x IC, K = N) would leave most SMs idle; such
// products split K into S slices (S from the shapes only), each writing its partial sum to a scratch
// buffer, and a reduction adds the slices in order 0..S-1 (splitk_reduce_kernel).
#include <cuda_bf16.h>

#include <algorithm>
#include <cstring>

#include "cuda/common.cuh"
#include "cuda/matmul.cuh"

namespace electra {
namespace cuda {

// ----------------------------------------------------------------------------------------------
// Shapes of the tiles

static constexpr int BM = 128, BN = 128;  // block tile of C (rows, columns); both operands' mn extent
static constexpr int NT = 256;            // threads per block (8 warps)
static_assert(BM == BN, "the tile loaders assume both operands' tiles are 128 rows of mn");

static constexpr int BK32 = 8;             // fp32: k per tile
static constexpr int PITCH32 = BM + 4;     // fp32 smem row pitch ([k][mn]): 528 bytes, float4-aligned
static constexpr int TILE32 = BK32 * PITCH32;

static constexpr int BK16 = 32;            // bf16: k per tile (two mma k-steps of 16)
static constexpr int KPAD = BK16 + 8;      // [mn][k] pitch in bf16: 80 bytes, ldmatrix rows conflict-free
static constexpr int MNPAD = BM + 8;       // [k][mn] pitch in bf16: 272 bytes, likewise
static constexpr int TILE16 = BM * KPAD;   // bf16 elements per operand buffer, the larger layout
static_assert(BK16 * MNPAD <= TILE16, "a [k][mn] tile must fit the buffer");
static_assert((KPAD * 2) % 16 == 0 && (MNPAD * 2) % 16 == 0, "ldmatrix rows must be 16-byte aligned");

// Split-K: only for single (unbatched) products of fewer than SPLITK_MAX_TILES block tiles; enough
// slices for about SPLITK_BLOCKS blocks (two per SM of an H100), each at least SPLITK_MIN_K long. A
// function of the shapes only, so a shape always sums in the same order whatever the device.
static constexpr int SPLITK_MAX_TILES = 128, SPLITK_BLOCKS = 256, SPLITK_MIN_K = 512, SPLITK_MAX = 64;

namespace {  // internal linkage: other files of the backend may have their own parameter structs
struct GemmParams {
  float* C;
  const float* A;
  const float* B;
  const float* bias;                       // null: none (also when accumulating)
  int64_t ldc, lda, ldb;                   // row pitches
  int64_t stride_c, stride_a, stride_b;    // between blockIdx.z slices (batch entries or K slices)
  int M, N, K, K_last;                     // N = Ncol; K of every z slice but the last, and of the last
  bool a_kc, b_kc;                         // operands k-contiguous: picks the kernel instance
  bool accumulate;                         // C += instead of C = bias +
  bool vec_a, vec_b, vec_c;                // float4 access is aligned (pitches, strides, pointers)
};
}  // namespace

// ----------------------------------------------------------------------------------------------
// Index helpers (host and device)

// Thread `tid`'s g-th group of a tile of 128 (mn) x BKT (k): the tile-relative (mn, k) of its first
// element; the group's 4 elements follow along the operand's contiguous direction (k when KC, else mn).
// Consecutive threads take consecutive groups of a row, so global reads are coalesced.
template <bool KC, int BKT>
static __host__ __device__ __forceinline__ void tile_coord(int g, int tid, int& mn, int& k) {
  const int idx = g * NT + tid;
  if (KC) {
    mn = idx / (BKT / 4);
    k = (idx % (BKT / 4)) * 4;
  } else {
    k = idx / (BM / 4);
    mn = (idx % (BM / 4)) * 4;
  }
}

// Reads thread tid's G groups of the tile at (mn0, k0) of operand X, op(X)(mn, k) = X[mn * ld + k]
// (KC) or X[k * ld + mn], of MN x K: zeros outside it.
template <bool KC, int BKT, int G>
static __host__ __device__ __forceinline__ void load_tile(float4 (&r)[G], const float* X, int64_t ld, int mn0,
                                                          int k0, int MN, int K, bool vec, int tid) {
#pragma unroll
  for (int g = 0; g < G; g++) {
    int mn, k;
    tile_coord<KC, BKT>(g, tid, mn, k);
    // line: X's row (strided index); pos: the first of 4 adjacent elements of that row
    const int line = KC ? mn0 + mn : k0 + k, nline = KC ? MN : K;
    const int pos = KC ? k0 + k : mn0 + mn, npos = KC ? K : MN;
    float v[4] = {0.f, 0.f, 0.f, 0.f};
    if (line < nline) {
      const float* src = X + (int64_t)line * ld + pos;
      if (vec && pos + 4 <= npos) {
        const float4 t = *reinterpret_cast<const float4*>(src);
        v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
      } else {
#pragma unroll
        for (int q = 0; q < 4; q++)
          if (pos + q < npos) v[q] = src[q];
      }
    }
    r[g] = make_float4(v[0], v[1], v[2], v[3]);
  }
}

// fp32 tiles in shared memory are [k][mn] (pitch PITCH32) for both operands.
template <bool KC, int G>
static __host__ __device__ __forceinline__ void store_tile_f32(float* S, const float4 (&r)[G], int tid) {
#pragma unroll
  for (int g = 0; g < G; g++) {
    int mn, k;
    tile_coord<KC, BK32>(g, tid, mn, k);
    if (KC) {  // 4 consecutive k of one mn: a column of the [k][mn] tile
      S[(k + 0) * PITCH32 + mn] = r[g].x;
      S[(k + 1) * PITCH32 + mn] = r[g].y;
      S[(k + 2) * PITCH32 + mn] = r[g].z;
      S[(k + 3) * PITCH32 + mn] = r[g].w;
    } else {
      *reinterpret_cast<float4*>(S + k * PITCH32 + mn) = r[g];
    }
  }
}

// Element offset of (mn, k) in a bf16 tile: [mn][k] for KC operands, [k][mn] otherwise.
template <bool KC>
static __host__ __device__ __forceinline__ int smem16_offset(int mn, int k) {
  return KC ? mn * KPAD + k : k * MNPAD + mn;
}

// bf16 tiles keep the operand's layout, so each group of 4 lands as 4 adjacent bf16 (8 bytes).
template <bool KC, int G>
static __host__ __device__ __forceinline__ void store_tile_bf16(__nv_bfloat16* S, const float4 (&r)[G], int tid) {
#pragma unroll
  for (int g = 0; g < G; g++) {
    int mn, k;
    tile_coord<KC, BK16>(g, tid, mn, k);
    const __nv_bfloat162 lo = __floats2bfloat162_rn(r[g].x, r[g].y);  // .x (low half) = first argument
    const __nv_bfloat162 hi = __floats2bfloat162_rn(r[g].z, r[g].w);
    __nv_bfloat16* dst = S + smem16_offset<KC>(mn, k);
#ifdef __CUDA_ARCH__
    uint2 u;
    u.x = *reinterpret_cast<const uint32_t*>(&lo);
    u.y = *reinterpret_cast<const uint32_t*>(&hi);
    *reinterpret_cast<uint2*>(dst) = u;  // 8-byte aligned: pitches and k, mn are multiples of 4
#else
    std::memcpy(dst, &lo, 4);
    std::memcpy(dst + 2, &hi, 4);
#endif
  }
}

// ldmatrix.x4 of a 16 (mn) x 16 (k) block at (mn0, k0): the element offset whose 8 bf16 (one 8x8
// matrix row) lane provides. Lanes 8q..8q+7 address matrix q, which is the quadrant
// (mn half q & 1, k half q >> 1), so register q of every lane holds that quadrant:
//   A (mn = m): registers 0..3 are exactly a0..a3 of mma.m16n8k16;
//   B (mn = n): n8 tile h (n half h) has b0 = register h, b1 = register 2 + h.
// KC tiles ([mn][k]): a matrix row is 8 k of one mn, read as is. Otherwise ([k][mn]): a row is 8 mn of
// one k, and ldmatrix .trans hands each lane the pair (k, k+1) of one mn, as the non-transposed case.
template <bool KC>
static __host__ __device__ __forceinline__ int ldsm_offset(int lane, int mn0, int k0) {
  const int q = lane >> 3, i = lane & 7;
  const int mn_half = q & 1, k_half = q >> 1;
  return KC ? smem16_offset<true>(mn0 + mn_half * 8 + i, k0 + k_half * 8)
            : smem16_offset<false>(mn0 + mn_half * 8, k0 + k_half * 8 + i);
}

// Where accumulator e (0..3) of m16 tile i, n8 tile j of warp (wm, wn) lies in the block tile:
// mma's C fragment puts c0, c1 at (groupID, 2 * tid_in_group + {0, 1}) and c2, c3 eight rows lower.
static __host__ __device__ __forceinline__ void frag_c_coord(int lane, int wm, int wn, int i, int j, int e, int& row,
                                                             int& col) {
  row = wm * 64 + i * 16 + (lane >> 2) + (e >> 1) * 8;
  col = wn * 32 + j * 8 + (lane & 3) * 2 + (e & 1);
}

// C[row, col .. col + W) = (accumulate ? C : bias or 0) + v, for the columns inside C (none when
// row is outside). W = 2 or 4; vectorised when C is float4-aligned (col is then a multiple of W).
template <int W>
static __host__ __device__ __forceinline__ void store_c(const GemmParams& p, float* C, int row, int col,
                                                        const float* v) {
  static_assert(W == 2 || W == 4, "pairs (bf16 fragments) or quads (fp32 threads)");
  if (row >= p.M) return;
  float* c = C + (int64_t)row * p.ldc + col;
  if (p.vec_c && col + W <= p.N) {
    float o[W];
    if (p.accumulate) {
      if constexpr (W == 4) {
        const float4 t = *reinterpret_cast<const float4*>(c);
        o[0] = t.x, o[1] = t.y, o[2] = t.z, o[3] = t.w;
      } else {
        const float2 t = *reinterpret_cast<const float2*>(c);
        o[0] = t.x, o[1] = t.y;
      }
    } else {
#pragma unroll
      for (int q = 0; q < W; q++) o[q] = p.bias ? p.bias[col + q] : 0.f;
    }
#pragma unroll
    for (int q = 0; q < W; q++) o[q] += v[q];
    if constexpr (W == 4) *reinterpret_cast<float4*>(c) = make_float4(o[0], o[1], o[2], o[3]);
    else *reinterpret_cast<float2*>(c) = make_float2(o[0], o[1]);
  } else {
#pragma unroll
    for (int q = 0; q < W; q++)
      if (col + q < p.N) c[q] = (p.accumulate ? c[q] : (p.bias ? p.bias[col + q] : 0.f)) + v[q];
  }
}

// fp32: one k tile into thread (tx, ty)'s 8 x 8 accumulators, k in increasing order.
static __host__ __device__ __forceinline__ void fma_tile_f32(const float* As, const float* Bs, float (&acc)[8][8],
                                                             int tx, int ty) {
#pragma unroll
  for (int k = 0; k < BK32; k++) {
    const float4 a0 = *reinterpret_cast<const float4*>(As + k * PITCH32 + ty * 4);
    const float4 a1 = *reinterpret_cast<const float4*>(As + k * PITCH32 + 64 + ty * 4);
    const float4 b0 = *reinterpret_cast<const float4*>(Bs + k * PITCH32 + tx * 4);
    const float4 b1 = *reinterpret_cast<const float4*>(Bs + k * PITCH32 + 64 + tx * 4);
    const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
    const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int j = 0; j < 8; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
  }
}

// fp32 epilogue: accumulator row i is block row (i >> 2) * 64 + ty * 4 + (i & 3); columns likewise.
static __host__ __device__ __forceinline__ void epilogue_f32(const GemmParams& p, float* C, int m0, int n0,
                                                             const float (&acc)[8][8], int tx, int ty) {
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int h = 0; h < 2; h++)
      store_c<4>(p, C, m0 + (i >> 2) * 64 + ty * 4 + (i & 3), n0 + h * 64 + tx * 4, &acc[i][h * 4]);
}

// bf16 epilogue: each accumulator pair (e = 0, 1 and e = 2, 3) is two adjacent columns of one row.
static __host__ __device__ __forceinline__ void epilogue_bf16(const GemmParams& p, float* C, int m0, int n0,
                                                              const float (&acc)[4][4][4], int wm, int wn,
                                                              int lane) {
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e += 2) {
        int row, col;
        frag_c_coord(lane, wm, wn, i, j, e, row, col);
        store_c<2>(p, C, m0 + row, n0 + col, &acc[i][j][e]);
      }
}

// One element of the split-K reduction: C[e] = (accumulate ? C : bias or 0) + sum of the S slices
// of ws (M x N each, pitch N), in slice order.
static __host__ __device__ __forceinline__ void splitk_reduce_elem(const GemmParams& p, const float* ws, int S,
                                                                   int64_t e) {
  const int64_t MN = (int64_t)p.M * p.N;
  float s = ws[e];
  for (int z = 1; z < S; z++) s += ws[z * MN + e];
  const int64_t row = e / p.N;
  const int col = (int)(e - row * p.N);
  float* c = p.C + row * p.ldc + col;
  *c = (p.accumulate ? *c : (p.bias ? p.bias[col] : 0.f)) + s;
}

// ----------------------------------------------------------------------------------------------
// Device-only pieces: ldmatrix and mma

static __device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

template <bool KC>
static __device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const __nv_bfloat16* S, int lane, int mn0, int k0) {
  const uint32_t a = smem_addr(S + ldsm_offset<KC>(lane, mn0, k0));
  if (KC)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
}

// d (16 x 8 fp32) += a (16 x 16 bf16, row) @ b (16 x 8 bf16, col).
static __device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// bf16: one k tile (two k steps of 16) into warp (wm, wn)'s 64 x 32 accumulators.
template <bool A_KC, bool B_KC>
static __device__ __forceinline__ void mma_tile_bf16(const __nv_bfloat16* As, const __nv_bfloat16* Bs,
                                                     float (&acc)[4][4][4], int wm, int wn, int lane) {
#pragma unroll
  for (int kk = 0; kk < BK16; kk += 16) {
    uint32_t bq[2][4];  // the warp's 32 columns: n8 tile j is quadrants (j & 1) and 2 + (j & 1) of bq[j >> 1]
#pragma unroll
    for (int h = 0; h < 2; h++) ldsm_x4<B_KC>(bq[h], Bs, lane, wn * 32 + h * 16, kk);
#pragma unroll
    for (int i = 0; i < 4; i++) {  // one m16 tile of A at a time (fewer live registers)
      uint32_t af[4];
      ldsm_x4<A_KC>(af, As, lane, wm * 64 + i * 16, kk);
#pragma unroll
      for (int j = 0; j < 4; j++) mma_bf16(acc[i][j], af, bq[j >> 1][j & 1], bq[j >> 1][2 + (j & 1)]);
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Kernels. Grid: x over column tiles, y over row tiles, z over batch entries or K slices.

template <bool A_KC, bool B_KC>
static __global__ void __launch_bounds__(NT, 2) gemm_f32_kernel(const GemmParams p) {
  __shared__ alignas(16) float smem[2][2][TILE32];  // [buffer][A, B][k][mn]
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, z = blockIdx.z;
  const float* A = p.A + z * p.stride_a;
  const float* B = p.B + z * p.stride_b;
  float* C = p.C + z * p.stride_c;
  const int K = z == (int)gridDim.z - 1 ? p.K_last : p.K;
  const int nk = (K + BK32 - 1) / BK32;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int j = 0; j < 8; j++) acc[i][j] = 0.f;
  constexpr int G = BM * BK32 / (4 * NT);
  float4 ra[G], rb[G];
  if (nk > 0) {
    load_tile<A_KC, BK32>(ra, A, p.lda, m0, 0, p.M, K, p.vec_a, tid);
    load_tile<B_KC, BK32>(rb, B, p.ldb, n0, 0, p.N, K, p.vec_b, tid);
    store_tile_f32<A_KC>(smem[0][0], ra, tid);
    store_tile_f32<B_KC>(smem[0][1], rb, tid);
  }
  __syncthreads();
  for (int kt = 0; kt < nk; kt++) {
    const int s = kt & 1;
    const bool next = kt + 1 < nk;
    if (next) {  // in flight while this tile is multiplied
      load_tile<A_KC, BK32>(ra, A, p.lda, m0, (kt + 1) * BK32, p.M, K, p.vec_a, tid);
      load_tile<B_KC, BK32>(rb, B, p.ldb, n0, (kt + 1) * BK32, p.N, K, p.vec_b, tid);
    }
    fma_tile_f32(smem[s][0], smem[s][1], acc, tx, ty);
    if (next) {  // the other buffer was last read before the previous iteration's barrier
      store_tile_f32<A_KC>(smem[s ^ 1][0], ra, tid);
      store_tile_f32<B_KC>(smem[s ^ 1][1], rb, tid);
    }
    __syncthreads();
  }
  epilogue_f32(p, C, m0, n0, acc, tx, ty);
}

template <bool A_KC, bool B_KC>
static __global__ void __launch_bounds__(NT, 1) gemm_bf16_kernel(const GemmParams p) {
  __shared__ alignas(16) __nv_bfloat16 smem[2][2][TILE16];  // [buffer][A, B][tile]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;  // warp tile: rows wm * 64 .. +64, columns wn * 32 .. +32
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, z = blockIdx.z;
  const float* A = p.A + z * p.stride_a;
  const float* B = p.B + z * p.stride_b;
  float* C = p.C + z * p.stride_c;
  const int K = z == (int)gridDim.z - 1 ? p.K_last : p.K;
  const int nk = (K + BK16 - 1) / BK16;

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
  constexpr int G = BM * BK16 / (4 * NT);
  float4 ra[G], rb[G];
  if (nk > 0) {
    load_tile<A_KC, BK16>(ra, A, p.lda, m0, 0, p.M, K, p.vec_a, tid);
    load_tile<B_KC, BK16>(rb, B, p.ldb, n0, 0, p.N, K, p.vec_b, tid);
    store_tile_bf16<A_KC>(smem[0][0], ra, tid);
    store_tile_bf16<B_KC>(smem[0][1], rb, tid);
  }
  __syncthreads();
  for (int kt = 0; kt < nk; kt++) {
    const int s = kt & 1;
    const bool next = kt + 1 < nk;
    if (next) {
      load_tile<A_KC, BK16>(ra, A, p.lda, m0, (kt + 1) * BK16, p.M, K, p.vec_a, tid);
      load_tile<B_KC, BK16>(rb, B, p.ldb, n0, (kt + 1) * BK16, p.N, K, p.vec_b, tid);
    }
    mma_tile_bf16<A_KC, B_KC>(smem[s][0], smem[s][1], acc, wm, wn, lane);
    if (next) {
      store_tile_bf16<A_KC>(smem[s ^ 1][0], ra, tid);
      store_tile_bf16<B_KC>(smem[s ^ 1][1], rb, tid);
    }
    __syncthreads();
  }
  epilogue_bf16(p, C, m0, n0, acc, wm, wn, lane);
}

static __global__ void splitk_reduce_kernel(const GemmParams p, const float* ws, int S) {
  const int64_t MN = (int64_t)p.M * p.N;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < MN; e += (int64_t)gridDim.x * blockDim.x)
    splitk_reduce_elem(p, ws, S, e);
}

// Column sums: block (CS_X columns) x (CS_Y row lanes); lane y sums rows y, y + CS_Y, ... (four
// running sums, interleaved), then the lanes are added in a fixed tree. Each warp reads 4 rows of
// 32 contiguous bytes.
static constexpr int CS_X = 8, CS_Y = 128;
static __global__ void __launch_bounds__(CS_X* CS_Y) colsum_kernel(float* out, const float* inp, int rows, int cols) {
  __shared__ float part[CS_Y][CS_X + 1];
  const int x = threadIdx.x, y = threadIdx.y;
  const int c = blockIdx.x * CS_X + x;
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  if (c < cols) {
    const float* col = inp + c;
    int n = y;
    for (; n + 3 * CS_Y < rows; n += 4 * CS_Y) {
      s0 += col[(int64_t)n * cols];
      s1 += col[(int64_t)(n + CS_Y) * cols];
      s2 += col[(int64_t)(n + 2 * CS_Y) * cols];
      s3 += col[(int64_t)(n + 3 * CS_Y) * cols];
    }
    for (; n < rows; n += CS_Y) s0 += col[(int64_t)n * cols];
  }
  part[y][x] = (s0 + s1) + (s2 + s3);
  __syncthreads();
  for (int h = CS_Y / 2; h > 0; h >>= 1) {
    if (y < h) part[y][x] += part[y + h][x];
    __syncthreads();
  }
  if (y == 0 && c < cols) out[c] += part[0][x];
}

// ----------------------------------------------------------------------------------------------
// Launchers

// The number of K slices of a product (1: no split) and the slice length kc (a multiple of 32).
static int splitk_plan(int M, int N, int K, int batch, int& kc) {
  kc = K;
  if (batch != 1) return 1;
  const int64_t tiles = ceil_div(M, BM) * ceil_div(N, BN);
  if (tiles >= SPLITK_MAX_TILES) return 1;
  int64_t s = std::min<int64_t>({ceil_div(SPLITK_BLOCKS, tiles), K / SPLITK_MIN_K, SPLITK_MAX});
  if (s < 2) return 1;
  kc = (int)(ceil_div(ceil_div(K, s), 32) * 32);
  return (int)ceil_div(K, kc);  // >= 2: kc <= K / s + 32 < K, as K / s >= SPLITK_MIN_K
}

// The split-K partial sums (common.cuh's Scratch: per device, grown on demand, never per call).
static Scratch g_splitk;

static bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <bool A_KC, bool B_KC>
static void launch_gemm(const GemmParams& p, dim3 grid, Precision prec, cudaStream_t stream) {
  if (prec == Precision::Bf16) {
    gemm_bf16_kernel<A_KC, B_KC><<<grid, NT, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH("gemm_bf16_kernel");
  } else {
    gemm_f32_kernel<A_KC, B_KC><<<grid, NT, 0, stream>>>(p);
    CUDA_CHECK_LAUNCH("gemm_f32_kernel");
  }
}

// The kernels' parameters for a product (see gemm()); with S > 1 K slices (splitk_plan), C is the
// scratch ws (S x M x Ncol) and the slices' sums are left to the reduction (reduce_params).
static GemmParams gemm_params(float* C, int64_t ldc, const float* A, int64_t lda, bool a_trans, const float* B,
                              int64_t ldb, bool b_trans, int M, int Ncol, int K, const float* bias, bool accumulate,
                              int64_t stride_c, int64_t stride_a, int64_t stride_b, int S, int kc, float* ws) {
  GemmParams p;
  p.C = C, p.A = A, p.B = B;
  p.bias = accumulate ? nullptr : bias;
  p.ldc = ldc, p.lda = lda, p.ldb = ldb;
  p.M = M, p.N = Ncol;
  p.a_kc = !a_trans, p.b_kc = b_trans;
  p.accumulate = accumulate;
  if (S > 1) {  // slice z: K range [z * kc, min(K, (z + 1) * kc)) into ws + z * M * Ncol, pitch Ncol
    p.C = ws, p.ldc = Ncol, p.bias = nullptr, p.accumulate = false;
    p.stride_c = (int64_t)M * Ncol;
    p.stride_a = (int64_t)kc * (a_trans ? lda : 1);
    p.stride_b = (int64_t)kc * (b_trans ? 1 : ldb);
    p.K = kc, p.K_last = K - (S - 1) * kc;
  } else {
    p.stride_c = stride_c, p.stride_a = stride_a, p.stride_b = stride_b;
    p.K = K, p.K_last = K;
  }
  p.vec_a = aligned16(A) && lda % 4 == 0 && p.stride_a % 4 == 0;
  p.vec_b = aligned16(B) && ldb % 4 == 0 && p.stride_b % 4 == 0;
  p.vec_c = aligned16(p.C) && p.ldc % 4 == 0 && p.stride_c % 4 == 0;
  return p;
}

// The reduction's parameters: the product's, writing the real C.
static GemmParams reduce_params(const GemmParams& p, float* C, int64_t ldc, const float* bias, bool accumulate) {
  GemmParams r = p;
  r.C = C, r.ldc = ldc, r.bias = accumulate ? nullptr : bias, r.accumulate = accumulate;
  return r;
}

void gemm(float* C, int64_t ldc, const float* A, int64_t lda, bool a_trans, const float* B, int64_t ldb,
          bool b_trans, int M, int Ncol, int K, const float* bias, bool accumulate, Precision prec,
          cudaStream_t stream, int batch, int64_t stride_c, int64_t stride_a, int64_t stride_b) {
  if (M <= 0 || Ncol <= 0 || batch <= 0) return;
  if (K < 0) throw Error("CUDA gemm: negative K");
  if (ceil_div(M, BM) > 65535 || batch > 65535) throw Error("CUDA gemm: too many rows or batch entries");
  int kc = K;
  const int S = splitk_plan(M, Ncol, K, batch, kc);
  float* ws = S > 1 ? g_splitk.get<float>((size_t)S * M * Ncol) : nullptr;
  const GemmParams p = gemm_params(C, ldc, A, lda, a_trans, B, ldb, b_trans, M, Ncol, K, bias, accumulate, stride_c,
                                   stride_a, stride_b, S, kc, ws);
  const dim3 grid((unsigned)ceil_div(Ncol, BN), (unsigned)ceil_div(M, BM), (unsigned)(S > 1 ? S : batch));
  if (p.a_kc && p.b_kc) launch_gemm<true, true>(p, grid, prec, stream);
  else if (p.a_kc) launch_gemm<true, false>(p, grid, prec, stream);
  else if (p.b_kc) launch_gemm<false, true>(p, grid, prec, stream);
  else launch_gemm<false, false>(p, grid, prec, stream);
  if (S > 1) {  // C = (accumulate ? C : bias or 0) + the slices in order
    const GemmParams r = reduce_params(p, C, ldc, bias, accumulate);
    splitk_reduce_kernel<<<grid_for((int64_t)M * Ncol, 256), 256, 0, stream>>>(r, ws, S);
    CUDA_CHECK_LAUNCH("splitk_reduce_kernel");
  }
}

void colsum_accumulate(float* out, const float* inp, int rows, int cols, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  colsum_kernel<<<(unsigned)ceil_div(cols, CS_X), dim3(CS_X, CS_Y), 0, stream>>>(out, inp, rows, cols);
  CUDA_CHECK_LAUNCH("colsum_kernel");
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int IC, int OC,
                    Precision prec, cudaStream_t stream) {
  // out (N x OC) = inp (N x IC, k-contiguous) @ weight^T (weight is OC x IC: B(k, j) = weight[j * IC + k])
  gemm(out, OC, inp, IC, false, weight, IC, true, N, OC, IC, bias, false, prec, stream);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC, bool accumulate, Precision prec,
                     cudaStream_t stream) {
  // dinp (N x IC) = dout (N x OC) @ weight (OC x IC): B(k, j) = weight[k * IC + j]
  if (dinp) gemm(dinp, IC, dout, OC, false, weight, IC, false, N, IC, OC, nullptr, accumulate, prec, stream);
  // dweight (OC x IC) += dout^T (A(i, k) = dout[k * OC + i]) @ inp (B(k, j) = inp[k * IC + j]), K = N
  if (dweight) gemm(dweight, IC, dout, OC, true, inp, IC, false, OC, IC, N, nullptr, true, prec, stream);
  if (dbias) colsum_accumulate(dbias, dout, N, OC, stream);
}

}  // namespace cuda
}  // namespace electra
