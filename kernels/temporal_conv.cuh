// Temporal 3x1x1 convolution (C -> C, padding 1 in time), NCDHW with S = H*W (kernels/temporal_conv.cu).
// The same bodies run in the CUDA kernels and, driven by a host loop over the grid, in the host tests
// against the CPU reference (sev_conv3d_* in native/src/conv3d.cpp). w is [C, C, 3] (PyTorch
// [C, C, 3, 1, 1]): tap k reads input frame t + k - 1.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

// ---- forward and backward-data: three shifted GEMMs, tiled through shared memory ----
// Per item n, with columns j = t*S + s over T*S:
//   forward        y[n, m, j] = sum_r A[m, r] * B[r, j],  r = k*C + c,  A = w[m, c, k],  B = x[n, c, j + (k-1)*S]
//   backward-data dx[n, m, j] = sum_r A[m, r] * B[r, j],  A = w[c, m, k] (transposed),   B = dy[n, c, j - (k-1)*S]
// A shifted column outside [0, T*S) is exactly a frame outside [0, T): the zero padding. One block
// computes a TC_BM x TC_BN tile of one item's output; the reduction over r runs in TC_BK slices
// staged in shared memory; each of the 256 threads accumulates 4 x 4 outputs.
constexpr int TC_BM = 64, TC_BN = 64, TC_BK = 16, TC_THREADS = 256;

SEV_HD float tconv_a(const float* w, int m, int r, int C, bool trans) {
  if (m >= C || r >= 3 * C) return 0.f;
  const int k = r / C, c = r - k * C;
  return trans ? w[((int64_t)c * C + m) * 3 + k] : w[((int64_t)m * C + c) * 3 + k];
}
SEV_HD float tconv_b(const float* src, int n, int r, int64_t j, int C, int64_t S, int64_t TS, bool trans) {
  if (r >= 3 * C || j >= TS) return 0.f;
  const int k = r / C, c = r - k * C;
  const int64_t src_j = trans ? j - (k - 1) * S : j + (k - 1) * S;
  return src_j >= 0 && src_j < TS ? src[((int64_t)n * C + c) * TS + src_j] : 0.f;
}
// slot in [0, TC_BK * TC_BM) of the r-slice starting at r0: one A element and one B element
// (TC_BM == TC_BN). Consecutive slots read consecutive columns of B (coalesced).
SEV_HD void tconv_load_slot(float* As, float* Bs, int slot, const float* w, const float* src, int n, int m0,
                            int64_t j0, int r0, int C, int64_t S, int64_t TS, bool trans) {
  const int ar = slot % TC_BK, am = slot / TC_BK;  // A tile stored [TC_BK][TC_BM]
  As[ar * TC_BM + am] = tconv_a(w, m0 + am, r0 + ar, C, trans);
  const int br = slot / TC_BN, bj = slot % TC_BN;  // B tile stored [TC_BK][TC_BN]
  Bs[br * TC_BN + bj] = tconv_b(src, n, r0 + br, j0 + bj, C, S, TS, trans);
}
// thread tid: rows ty*4 + i, columns tx + 16*q of the tile (tx = tid % 16, ty = tid / 16); the staged
// tiles are [TC_BK][lda] and [TC_BK][ldb]
SEV_HD void tconv_compute(const float* As, int lda, const float* Bs, int ldb, float acc[4][4], int tid) {
  const int tx = tid % 16, ty = tid / 16;
  for (int kk = 0; kk < TC_BK; kk++) {
    float a[4], b[4];
    for (int i = 0; i < 4; i++) a[i] = As[kk * lda + ty * 4 + i];
    for (int q = 0; q < 4; q++) b[q] = Bs[kk * ldb + tx + 16 * q];
    for (int i = 0; i < 4; i++)
      for (int q = 0; q < 4; q++) acc[i][q] += a[i] * b[q];
  }
}
SEV_HD void tconv_store(float* dst, const float acc[4][4], int tid, int n, int m0, int64_t j0, int C, int64_t TS) {
  const int tx = tid % 16, ty = tid / 16;
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ty * 4 + i;
    if (m >= C) continue;
    for (int q = 0; q < 4; q++) {
      const int64_t j = j0 + tx + 16 * q;
      if (j < TS) dst[((int64_t)n * C + m) * TS + j] = acc[i][q];
    }
  }
}

// ---- backward-weight: dW[m, r] = sum_n sum_j dy[n, m, j] * B_n[r, j] (B_n as the forward's), a GEMM whose
// reduction runs over every item and column. Split-K: the (item, TC_BK columns) slices are shared
// among P splits (grid z); split p writes its partial C x 3C product, then a second kernel adds the
// P partials in order (deterministic) into dw[m, c, k] (r = k*C + c).
constexpr int TC_LD = TC_BM + 1;             // padded rows of the staged tiles: conflict-free stores
constexpr int64_t TC_DW_TARGET_BLOCKS = 512;  // enough blocks for any GPU of the target archs
constexpr int64_t TC_DW_MAX_SCRATCH = 16 << 20;  // floats of partial products, at most

SEV_HD int64_t tconv_dw_slices(int N, int64_t TS) { return (int64_t)N * ((TS + TC_BK - 1) / TC_BK); }
SEV_HD int tconv_dw_splits(int N, int C, int64_t TS) {
  const int64_t tiles = ((3 * (int64_t)C + TC_BN - 1) / TC_BN) * ((C + TC_BM - 1) / TC_BM);
  int64_t p = (TC_DW_TARGET_BLOCKS + tiles - 1) / tiles;
  const int64_t slices = tconv_dw_slices(N, TS), cap = TC_DW_MAX_SCRATCH / (3 * (int64_t)C * C + 1);
  if (p > slices) p = slices;
  if (p > cap) p = cap;
  return (int)(p < 1 ? 1 : p);
}
// slot in [0, TC_BK * TC_BM) of slice (n, j0): A[m, kk] = dy[n, m0 + m, j0 + kk], B[r, kk] = B_n[r0 + r, j0 + kk]
SEV_HD void tconv_dw_load_slot(float* As, float* Bs, int slot, const float* x, const float* dy, int n, int m0, int r0,
                               int64_t j0, int C, int64_t S, int64_t TS) {
  const int kk = slot % TC_BK, mm = slot / TC_BK;  // consecutive slots: consecutive columns
  const int64_t j = j0 + kk;
  As[kk * TC_LD + mm] = m0 + mm < C && j < TS ? dy[((int64_t)n * C + m0 + mm) * TS + j] : 0.f;
  Bs[kk * TC_LD + mm] = tconv_b(x, n, r0 + mm, j, C, S, TS, false);
}
// split p's slices, [first, last)
SEV_HD void tconv_dw_split_range(int64_t slices, int p, int P, int64_t* first, int64_t* last) {
  *first = slices * p / P;
  *last = slices * (p + 1) / P;
}
// the partial product of the tile (m0, r0) into part [C][3C]
SEV_HD void tconv_dw_store_partial(float* part, const float acc[4][4], int tid, int m0, int r0, int C) {
  const int tx = tid % 16, ty = tid / 16;
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ty * 4 + i;
    if (m >= C) continue;
    for (int q = 0; q < 4; q++) {
      const int r = r0 + tx + 16 * q;
      if (r < 3 * C) part[(int64_t)m * 3 * C + r] = acc[i][q];
    }
  }
}
// element i of dw [C, C, 3]: the P partials in order
SEV_HD float tconv_dw_reduce_element(const float* parts, int P, int64_t i, int C) {
  const int64_t per = 3 * (int64_t)C * C;
  const int64_t m = i / (3 * C), rem = i % (3 * C);
  const int64_t c = rem / 3, k = rem % 3;
  const int64_t at = m * 3 * C + k * C + c;
  float s = 0.f;
  for (int p = 0; p < P; p++) s += parts[p * per + at];
  return s;
}

#if defined(__CUDACC__)
// One block of a split-K backward-weight kernel (NCDHW temporal_conv3_dw_kernel, NDHWC tcl_dw_kernel):
// grid (r tiles, m tiles, splits); split blockIdx.z's slices staged by load_slot(As, Bs, slot, n, m0, r0,
// j0) — the one thing the layouts do differently — and its partial product stored for the reduce kernel.
template <class LoadSlot>
__device__ __forceinline__ void tconv_dw_block(float* As, float* Bs, float* parts, int N, int C, int64_t TS,
                                               LoadSlot load_slot) {
  const int r0 = blockIdx.x * TC_BN, m0 = blockIdx.y * TC_BM, p = blockIdx.z, P = gridDim.z;
  const int64_t per_item = (TS + TC_BK - 1) / TC_BK;
  int64_t first, last;
  tconv_dw_split_range(tconv_dw_slices(N, TS), p, P, &first, &last);
  float acc[4][4] = {};
  for (int64_t g = first; g < last; g++) {
    const int n = (int)(g / per_item);
    const int64_t j0 = (g % per_item) * TC_BK;
    for (int slot = threadIdx.x; slot < TC_BK * TC_BM; slot += TC_THREADS) load_slot(As, Bs, slot, n, m0, r0, j0);
    __syncthreads();
    tconv_compute(As, TC_LD, Bs, TC_LD, acc, threadIdx.x);
    __syncthreads();
  }
  tconv_dw_store_partial(parts + (int64_t)p * 3 * C * C, acc, threadIdx.x, m0, r0, C);
}
#endif
