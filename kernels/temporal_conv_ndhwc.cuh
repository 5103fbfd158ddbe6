// Temporal 3x1x1 convolution (C -> C, padding 1 in time, no bias) in channels-last layout, NDHWC
// viewed as [N][T*S][C] with S = H*W (kernels/temporal_conv_ndhwc.cu). The same bodies run in the CUDA
// kernels and, driven by a host loop over the grid, in the host tests against the CPU references
// (sev_temporal_conv3_ndhwc_* in native/src/temporal_conv_ndhwc.cpp). w is PyTorch's [C, C, 3, 1, 1]:
// w[co][ci][k], tap k reads input frame t + k - 1.
//
// Every body is a template on the storage trait St of sev_half.cuh (SevF32, SevBF16): global loads widen
// to fp32, the tiles in shared memory and the accumulators are fp32, and y / dx are rounded once on
// store. bf16 halves the global traffic; the arithmetic is fp32 FMAs on CUDA cores (tensor cores: next).
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"
#include "temporal_conv.cuh"  // the 64x64 tile shape, tconv_compute and the split-K helpers of dw

// ---- forward and backward-data: one GEMM over positions, the three taps as shifted rows ----
// Per item n, with rows j = t*S + s over T*S (a row is one position's C channels, contiguous):
//   forward        y[n, j, m] = sum_r A[j, r] * B[r, m],  r = k*C + c,  A = x[n, j + (k-1)*S, c],   B = w[m][c][k]
//   backward-data dx[n, j, m] = sum_r A[j, r] * B[r, m],  r = k*C + c,  A = dy[n, j - (k-1)*S, c],  B = w[c][m][k]
// No im2col: a shifted row outside [0, T*S) is exactly a frame outside [0, T), the zero padding, so a
// tile never needs the frame index. The GEMM's M is positions and its N output channels, so in
// tconv_compute a thread's 4 rows are positions and its 4 columns (tx + 16q) are channels: consecutive
// threads store consecutive channels of a row (coalesced in NDHWC). Tiles are TC_BM positions x TC_BN
// channels, the reduction over r in TC_BK slices; staged tiles have TC_LD = 65 floats per row so that
// the loads' stores into shared memory are conflict-free.

// A[j, r] of item n: the shifted row's channel c (0 outside the frames or the tile)
template <class St>
SEV_HD float tcl_a(const typename St::storage* src, int n, int64_t j, int r, int C, int64_t S, int64_t TS,
                   bool trans) {
  if (j >= TS || r >= 3 * C) return 0.f;
  const int k = r / C, c = r - k * C;
  const int64_t src_j = trans ? j - (k - 1) * S : j + (k - 1) * S;
  return src_j >= 0 && src_j < TS ? St::load(src[((int64_t)n * TS + src_j) * C + c]) : 0.f;
}
// B[r, m]: w[m][c][k] (forward) or w[c][m][k] (backward-data, the transposed weight)
template <class St>
SEV_HD float tcl_b(const typename St::storage* w, int r, int m, int C, bool trans) {
  if (m >= C || r >= 3 * C) return 0.f;
  const int k = r / C, c = r - k * C;
  return St::load(trans ? w[((int64_t)c * C + m) * 3 + k] : w[((int64_t)m * C + c) * 3 + k]);
}
// slot in [0, TC_BK * TC_BM) of the r-slice starting at r0: one A element and one B element (TC_BM ==
// TC_BN). The reduction index is the fastest: 16 consecutive slots read 16 consecutive channels of one
// position (A, contiguous in NDHWC) and 16 consecutive taps-channels of one weight row (B, stride 3).
template <class St>
SEV_HD void tcl_load_slot(float* As, float* Bs, int slot, const typename St::storage* w,
                          const typename St::storage* src, int n, int64_t j0, int m0, int r0, int C, int64_t S,
                          int64_t TS, bool trans) {
  const int kk = slot % TC_BK, i = slot / TC_BK;  // tiles stored [TC_BK][TC_LD]
  As[kk * TC_LD + i] = tcl_a<St>(src, n, j0 + i, r0 + kk, C, S, TS, trans);
  Bs[kk * TC_LD + i] = tcl_b<St>(w, r0 + kk, m0 + i, C, trans);
}
// thread tid's 4 x 4 outputs: positions j0 + ty*4 + i, channels m0 + tx + 16q; rounded once to St
template <class St>
SEV_HD void tcl_store(typename St::storage* dst, const float acc[4][4], int tid, int n, int64_t j0, int m0, int C,
                      int64_t TS) {
  const int tx = tid % 16, ty = tid / 16;
  for (int i = 0; i < 4; i++) {
    const int64_t j = j0 + ty * 4 + i;
    if (j >= TS) continue;
    for (int q = 0; q < 4; q++) {
      const int m = m0 + tx + 16 * q;
      if (m < C) dst[((int64_t)n * TS + j) * C + m] = St::store(acc[i][q]);
    }
  }
}

// ---- backward-weight: dW[m, r] = sum_n sum_j dy[n, j, m] * x[n, j + (k-1)*S, c],  r = k*C + c ----
// The NCDHW kernel's split-K GEMM (tconv_dw_splits, tconv_dw_split_range, tconv_dw_store_partial,
// tconv_dw_reduce_element: partials [C][3C] added in split order, deterministic), only the loads differ:
// in NDHWC a slice (item n, TC_BK positions) reads TC_BK rows of channels, each contiguous, so the
// channel index is the fastest of the slot (coalesced) and no padding is needed for the stores. dw is
// always fp32 (it feeds the fp32 master weights); x and dy are St.
template <class St>
SEV_HD void tcl_dw_load_slot(float* As, float* Bs, int slot, const typename St::storage* x,
                             const typename St::storage* dy, int n, int m0, int r0, int64_t j0, int C, int64_t S,
                             int64_t TS) {
  const int mm = slot % TC_BM, kk = slot / TC_BM;  // consecutive slots: consecutive channels of one position
  const int64_t j = j0 + kk;
  As[kk * TC_LD + mm] = m0 + mm < C && j < TS ? St::load(dy[((int64_t)n * TS + j) * C + m0 + mm]) : 0.f;
  Bs[kk * TC_LD + mm] = tcl_a<St>(x, n, j, r0 + mm, C, S, TS, false);
}

// ---- argument check, shared by the launchers and the host drivers ----
// Grids: forward / backward-data (position tiles, channel tiles, items), backward-weight (3C tiles,
// C tiles, splits). NULL when the arguments fit, else the reason. `null_pointer`: a pointer the call
// would dereference is NULL.
inline const char* tcl_bad_args(int N, int C, int T, int64_t S, bool null_pointer) {
  if (N < 0 || C < 0 || T < 0 || S < 0) return "negative size";
  if (N > 65535) return "more than 65535 items (grid z)";
  if (((int64_t)C + TC_BM - 1) / TC_BM > 65535) return "more than 65535*64 channels (grid y)";
  if (S > 0 && (int64_t)T > ((int64_t)1 << 36) / S) return "T*H*W above 2^36 (grid x)";
  if (null_pointer) return "NULL pointer";
  return nullptr;
}
