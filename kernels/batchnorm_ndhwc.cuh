// Batch norm on channels-last activations (kernels/batchnorm_ndhwc.cu): x [N][T][H][W][C] seen as a matrix
// of M = N*T*H*W rows by C channels, channel innermost. Same semantics as the NCDHW batch-norm glue
// (conv_bn_relu.cuh, bnx_*): training forward with optional residual and ReLU, its backward, and the
// running-statistics form; fp32, or bf16 / fp16 activations with fp32 parameters and statistics.
//
// Why a different block structure: a channel's values are now a column with stride C, so "one block per
// (split, channel)" would have every thread of a warp read a different row (32 sectors per request). Here a
// block is a tile of 32 consecutive channels x BNL_ROWS row lanes: the 32 lanes of a warp read 32 consecutive
// channels of one row (one 128-byte line in fp32), and each thread walks its column every P*BNL_ROWS rows.
// Statistics are (sum, sum of squares) in double per (split, channel) — written [P][C], so the writes and the
// finalize's reads are coalesced too —, the BNL_ROWS row lanes of a column folded by a fixed tree, and the
// finalize adds a channel's P partials again by row lanes and the same tree: one order on every run, no float
// atomics. The apply passes give each thread one channel (its coefficients computed once, no i % C per
// element) and a stride of rows. The host drivers (native/src/hostrun_batchnorm_ndhwc.cpp) run these
// functions in the same order, so they compute the device's bits up to FMA contraction.
#pragma once
#include <stdint.h>

#include "conv_bn_relu.cuh"

constexpr int BNL_LANES = 32;                      // channels of a tile: one warp's worth, coalesced
constexpr int BNL_ROWS = 8;                        // row lanes of a block (power of two: the column tree)
constexpr int BNL_THREADS = BNL_LANES * BNL_ROWS;  // 256

SEV_HD int64_t bnl_tiles(int64_t C) { return (C + BNL_LANES - 1) / BNL_LANES; }
// Splits of the rows per channel tile: about 16 rows per thread, at most about 2048 blocks in all (enough to
// fill any GPU a few times over; more only lengthens the finalize).
SEV_HD int bnl_splits(int64_t M, int64_t C) {
  const int64_t per_block = (int64_t)BNL_ROWS * 16;
  int64_t p = (M + per_block - 1) / per_block;
  const int64_t tiles = bnl_tiles(C);
  const int64_t cap = tiles >= 2048 ? 1 : 2048 / (tiles > 0 ? tiles : 1);
  if (p > cap) p = cap;
  return (int)(p < 1 ? 1 : p);
}
// scratch of the training kernels: the [P][C] partials, then (backward) the [C] channel sums
inline int64_t bnl_scratch_bytes(int64_t M, int64_t C) {
  return (int64_t)sizeof(SevDouble2) * ((int64_t)bnl_splits(M, C) * C + C);
}
// The size checks every entry point (device and host drivers) shares; NULL when fine, else the reason.
inline const char* bnl_check_sizes(int64_t M, int64_t C) {
  if (M <= 0) return "M (rows N*T*H*W) must be positive";
  if (C <= 0) return "C must be positive";
  if (M > INT64_MAX / C) return "M*C overflows";
  return nullptr;
}

// thread (lane of channel c, row lane ty) of split p: its share of (sum x, sum x^2) over rows p*R + ty,
// stepping P*R rows
template <class St = SevF32>
SEV_HD SevDouble2 bnl_stats_partial(const typename St::storage* x, int64_t c, int64_t M, int64_t C, int p, int P,
                                    int ty) {
  SevDouble2 s = {0, 0};
  const int64_t step = (int64_t)P * BNL_ROWS * C;
  const int64_t end = M * C;
  for (int64_t i = ((int64_t)p * BNL_ROWS + ty) * C + c; i < end; i += step) cbr_stats_add(s, St::load(x[i]));
  return s;
}
// finalize: row lane ty's share of channel c's P partials (part[p*C + c], p = ty, ty + R, ...)
SEV_HD SevDouble2 bnl_parts_partial(const SevDouble2* part, int64_t c, int64_t C, int P, int ty) {
  SevDouble2 s = {0, 0};
  for (int p = ty; p < P; p += BNL_ROWS) s = s + part[(int64_t)p * C + c];
  return s;
}
// backward: thread's share of (sum g, sum g*xhat) of channel c, g the ReLU-masked dy (bnx_grad), xhat in double
// as the NCDHW body
template <class St = SevF32>
SEV_HD SevDouble2 bnl_backward_partial(const typename St::storage* x, const typename St::storage* y,
                                       const typename St::storage* dy, int64_t c, double mean, double invstd,
                                       int64_t M, int64_t C, int p, int P, int ty) {
  SevDouble2 s = {0, 0};
  const int64_t step = (int64_t)P * BNL_ROWS * C;
  const int64_t end = M * C;
  for (int64_t i = ((int64_t)p * BNL_ROWS + ty) * C + c; i < end; i += step) {
    const float g = bnx_grad<St>(y, dy, i);
    s.a += g;
    s.b += g * ((St::load(x[i]) - mean) * invstd);
  }
  return s;
}
// backward element i: dx rounded once; dres (when not NULL) the masked dy, exact in 16 bits
template <class St = SevF32>
SEV_HD void bnl_dx_element(const typename St::storage* x, const typename St::storage* y,
                           const typename St::storage* dy, typename St::storage* dx, typename St::storage* dres,
                           int64_t i, const BnBackwardCoeffs& k) {
  const float g = bnx_grad<St>(y, dy, i);
  dx[i] = St::store(bn_backward_dx_element(St::load(x[i]), g, k));
  if (dres) dres[i] = St::store(g);
}
// eval element i: act(x * a + b) on the widened x, rounded once (a, b from bn_eval_coeffs)
template <class St = SevF32>
SEV_HD typename St::storage bnl_eval_element(const typename St::storage* x, int64_t i, float a, float b, int relu) {
  return St::store(bn_apply_element(St::load(x[i]), a, b, relu));
}
