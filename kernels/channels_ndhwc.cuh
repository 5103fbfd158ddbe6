// Channels-last (NDHWC) glue of the CUDA backend's channels-last activation path (kernels/channels_ndhwc.cu):
// an activation is [N][T][H][W][C], i.e. [N][S][C] with S = T*H*W, or [M][C] with M = N*S rows. The ops are
// memory-bound, so each body is written for coalescing along C: consecutive threads take consecutive channels.
//
// Storage: every body is templated on a storage trait of sev_half.cuh (SevF32, SevBF16, SevF16): loads widened
// to fp32, the fp32 arithmetic of the NCDHW kernel in the same order, one rounding per store. So each result is
// bit for bit "transpose to NCDHW, widen, the fp32 NCDHW op, round, transpose back" — except the column
// reductions (double sums in another order: within a float rounding), which is what the host tests check (the CPU
// in IEEE mode: by default its kernels flush denormal results, the GPU's do not).
// Bit copies (transposes, concat/split) work on the raw 2- or 4-byte words (uint16_t, uint32_t), never floats,
// so NaN payloads survive.
#pragma once
#include <stdint.h>

#include "pooling.cuh"
#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

// ---------------------------------------------------------------- argument checks (launchers and host drivers)
// One function per op family, shared by the .cu launchers and the host drivers so both refuse the same calls;
// each returns NULL when the call is good, else the reason (the caller prefixes its name).
inline const char* cl_check_dtype(int dtype) {
  return dtype == SEV_DT_F32 || dtype == SEV_DT_BF16 || dtype == SEV_DT_F16 ? nullptr
                                                                            : "dtype must be 0 (fp32), 1 (bf16) or 2 (fp16)";
}
inline const char* cl_check_elem(int elem_bytes) {
  return elem_bytes == 2 || elem_bytes == 4 ? nullptr : "element size must be 2 or 4 bytes";
}
inline const char* cl_check_sizes(int64_t a, int64_t b, int64_t c) {
  return a < 0 || b < 0 || c < 0 ? "negative size" : nullptr;
}
inline const char* cl_check_pool(const int* pp) {
  if (!pp) return "no parameter block";
  const SevPool p = sev_pool_params(pp);
  const bool ok = p.N >= 0 && p.C >= 0 && p.T >= 0 && p.H >= 0 && p.W >= 0 && p.kT > 0 && p.kH > 0 && p.kW > 0 &&
                  p.sT > 0 && p.sH > 0 && p.sW > 0 && p.pT >= 0 && p.pH >= 0 && p.pW >= 0 && p.To >= 0 && p.Ho >= 0 &&
                  p.Wo >= 0;
  return ok ? nullptr : "bad parameter block";
}

// ---------------------------------------------------------------- launch shapes (the host drivers replay them)
constexpr int CL_THREADS = 256;          // element-wise blocks
constexpr int64_t CL_MAX_BLOCKS = 8192;  // grid-stride loops: enough blocks to fill any GPU a few times over
inline int64_t cl_blocks_for(int64_t n) {
  const int64_t b = (n + CL_THREADS - 1) / CL_THREADS;
  return b < CL_MAX_BLOCKS ? b : CL_MAX_BLOCKS;
}
// the grid of an item-strided kernel: y over the items (at most 65535, striding beyond), x over an item's elements,
// about CL_MAX_BLOCKS blocks in all
struct ClGrid2 {
  int64_t x, y;
};
inline ClGrid2 cl_items_grid(int64_t items, int64_t per_item) {
  const int64_t y = items < 65535 ? items : 65535;
  int64_t x = (per_item + CL_THREADS - 1) / CL_THREADS;
  const int64_t cap = (CL_MAX_BLOCKS + y - 1) / (y < 1 ? 1 : y);
  x = x < cap ? x : cap;
  return {x < 1 ? 1 : x, y < 1 ? 1 : y};
}

// The elements of [rows][C] one thread of a grid-stride loop visits — flat index i, row, channel c — without a
// division per element (SevWalk2D carries c into the row). Thread `start` of `step` in all; rows * C > 0.
struct ClWalk {
  int64_t i, step, total;
  SevWalk2D w;
  SEV_HD ClWalk(int64_t start, int64_t step_, int64_t rows, int64_t C)
      : i(start), step(step_), total(rows * C), w(start, step_, C) {}
  SEV_HD bool more() const { return i < total; }
  SEV_HD void next() {
    i += step;
    w.next();
  }
};

// ---------------------------------------------------------------- 1. layout transforms
// [N][R][K] -> [N][K][R] through a 32x32 tile in shared memory: read rows of the source along K and write rows of
// the destination along R, both coalesced. NCDHW -> NDHWC is R = C, K = S; NDHWC -> NCDHW is R = S, K = C; a conv
// weight [Cout][Cin/g][kt][kh][kw] -> cuDNN's NHWC filter [Cout][kt][kh][kw][Cin/g] is the first with N = Cout.
// Block 32 x 8 threads, each moving 4 elements per phase. The tile row is padded by one 4-byte word so the
// column reads of the store phase hit 32 different banks: +1 element for 4-byte words, +2 for 2-byte ones
// (a row of 34 halves is 17 words, odd, so tx*17 walks all banks).
constexpr int CL_TILE = 32;
constexpr int CL_TROWS = 8;
template <typename T>
struct ClTile {
  static constexpr int LD = CL_TILE + (int)(4 / sizeof(T));
};

struct ClTileGrid {
  int64_t tiles_r, tiles_k, total;
};
SEV_HD ClTileGrid cl_tile_grid(int64_t N, int64_t R, int64_t K) {
  const int64_t tr = (R + CL_TILE - 1) / CL_TILE, tk = (K + CL_TILE - 1) / CL_TILE;
  return {tr, tk, N * tr * tk};
}
// tile t of the grid: item n, first source row r0, first source column k0 (consecutive tiles walk along K, the
// source's contiguous axis)
SEV_HD void cl_tile_origin(const ClTileGrid& g, int64_t t, int64_t* n, int64_t* r0, int64_t* k0) {
  const int64_t per_item = g.tiles_r * g.tiles_k;
  *n = t / per_item;
  const int64_t rem = t - *n * per_item;
  *r0 = rem / g.tiles_k * CL_TILE;
  *k0 = rem % g.tiles_k * CL_TILE;
}
// load phase, thread (tx, ty): tile[j][tx] = src[n][r0 + j][k0 + tx] for j = ty, ty + 8, ... (ragged edges skipped)
template <typename T>
SEV_HD void cl_transpose_load(const T* src, T* tile, int64_t n, int64_t r0, int64_t k0, int64_t R, int64_t K, int tx,
                              int ty) {
  const int64_t k = k0 + tx;
  if (k >= K) return;
  for (int j = ty; j < CL_TILE; j += CL_TROWS) {
    const int64_t r = r0 + j;
    if (r < R) tile[j * ClTile<T>::LD + tx] = src[(n * R + r) * K + k];
  }
}
// store phase, thread (tx, ty): dst[n][k0 + j][r0 + tx] = tile[tx][j] for j = ty, ty + 8, ...
template <typename T>
SEV_HD void cl_transpose_store(const T* tile, T* dst, int64_t n, int64_t r0, int64_t k0, int64_t R, int64_t K, int tx,
                               int ty) {
  const int64_t r = r0 + tx;
  if (r >= R) return;
  for (int j = ty; j < CL_TILE; j += CL_TROWS) {
    const int64_t k = k0 + j;
    if (k < K) dst[(n * K + k) * R + r] = tile[tx * ClTile<T>::LD + j];
  }
}

// Narrow transposes: R or K at most CL_NARROW (the clip's 3 colour channels on its way to NDHWC, a first conv's 3 input
// channels). A 32 x 32 tile would leave all but R (or K) of its rows idle and store a few words per warp: on an H100
// the NCDHW -> NDHWC of a [8, 3, 16, 224, 224] clip took 0.7-0.9 ms, over ten times its memory time (2026-11-27 ncu).
// Here a thread per position l of the long axis moves the short axis's elements: R small — l = k, src[n][0..R)[k] to
// dst[n][k][0..R), loads coalesced across the warp, each thread's stores R consecutive words; K small — l = r, the
// mirror. No shared memory; the same words as the tiled path, so the same result bit for bit.
constexpr int CL_NARROW = 4;
SEV_HD bool cl_narrow(int64_t R, int64_t K) { return R <= CL_NARROW || K <= CL_NARROW; }
SEV_HD int64_t cl_narrow_len(int64_t R, int64_t K) { return R <= CL_NARROW ? K : R; }
template <typename T>
SEV_HD void cl_transpose_narrow(const T* src, T* dst, int64_t n, int64_t l, int64_t R, int64_t K) {
  if (R <= CL_NARROW) {
    for (int64_t r = 0; r < R; r++) dst[(n * K + l) * R + r] = src[(n * R + r) * K + l];
  } else {
    for (int64_t k = 0; k < K; k++) dst[(n * K + k) * R + l] = src[(n * R + l) * K + k];
  }
}

// ---------------------------------------------------------------- 2. conv epilogue, in place on y [M][C]
// element i = m*C + c: v = y + bias[c] (bias fp32, may be NULL), + residual[i] (y's storage, may be NULL), ReLU
// when relu != 0, one rounding: the additions in half_bias_act_element's order, (y + bias) + residual
template <class St>
SEV_HD void bias_act_ndhwc_element(typename St::storage* y, const float* bias, const typename St::storage* res,
                                   int64_t i, int64_t c, int relu) {
  float v = St::load(y[i]);
  if (bias) v = v + bias[c];
  if (res) v = v + St::load(res[i]);
  if (relu) v = v > 0.f ? v : 0.f;
  y[i] = St::store(v);
}

// ---------------------------------------------------------------- 3. squeeze-excite scale
// y[n][s][c] = x[n][s][c] * g[n][c]; i indexes [N][S][C], gn = g + n*C
template <class St>
SEV_HD void channel_scale_ndhwc_element(const typename St::storage* x, const float* gn, typename St::storage* y,
                                        int64_t i, int64_t c) {
  y[i] = St::store(St::load(x[i]) * gn[c]);
}

// ---------------------------------------------------------------- column reductions over S ([N][S][C] -> [N][C])
// Grid (N * ceil(C/32) channel tiles, P splits of S) of blocks (32 channels) x (CL_RROWS rows): block (b, p) is item
// n = b / tiles, channels c0 = (b % tiles) * 32, rows [s0, s1) of split p (cl_split_rows). Thread (tx, ty) sums
// channel c0 + tx over s = s0 + ty, s0 + ty + CL_RROWS, ... < s1 in double (a warp reads 32 consecutive channels of
// one position: coalesced); the block folds the CL_RROWS shares of each channel by halving strides over ty —
// sev_tree_sum_host's order. Why the split: one block per (item, tile) is only N * ceil(C/32) blocks (16 for the SE
// squeeze of an early stage, N = 8, C = 64), so most SMs idle while each thread walks ~1600 rows. With P > 1 each
// block writes its channels' sums to a scratch [N][P][C] (double) and a finalize adds each (n, c)'s P partials in
// the order p = 0, 1, ..., P-1: no atomics, the same bits every run, and the host drivers replay the same split.
// With P == 1 the block finishes the channel itself — the same bits as the finalize of a single partial.
constexpr int CL_RROWS = 32;
constexpr int64_t CL_SPLIT_BLOCKS = 2048;             // about this many blocks when S is long enough to fill them
constexpr int64_t CL_SPLIT_MIN_ROWS = CL_RROWS * 16;  // rows of a split at least: 16 per thread, so the loads of a
                                                      // thread outweigh the block's tree and the partial's store
SEV_HD int64_t cl_col_tiles(int64_t C) { return (C + 31) / 32; }
// blocks of a column reduction's x: one per (item, channel tile), grid-stride beyond 2^30
inline int64_t cl_reduction_blocks(int64_t N, int64_t C) {
  const int64_t b = N * cl_col_tiles(C);
  return b < (1 << 30) ? b : (1 << 30);
}
// P, the splits of S: min(ceil(S / CL_SPLIT_MIN_ROWS), CL_SPLIT_BLOCKS / (N * tiles)), at least 1 — so P = 1 when
// S <= 512 or N * tiles > CL_SPLIT_BLOCKS / 2
SEV_HD int cl_col_splits(int64_t N, int64_t C, int64_t S) {
  const int64_t items = N * cl_col_tiles(C);
  int64_t p = (S + CL_SPLIT_MIN_ROWS - 1) / CL_SPLIT_MIN_ROWS;
  const int64_t cap = items >= CL_SPLIT_BLOCKS ? 1 : CL_SPLIT_BLOCKS / (items > 0 ? items : 1);
  if (p > cap) p = cap;
  return (int)(p < 1 ? 1 : p);
}
// rows [s0, s1) of split p of P: S / P each, the first S % P one more (no overflow of S * p, no empty split when
// P <= S)
SEV_HD void cl_split_rows(int64_t S, int p, int P, int64_t* s0, int64_t* s1) {
  const int64_t q = S / P, r = S % P;
  *s0 = p * q + (p < r ? p : r);
  *s1 = *s0 + q + (p < r ? 1 : 0);
}
// the finalize: (n, c)'s P partials of part [N][P][C], added in split order
SEV_HD double cl_parts_sum(const double* part, int64_t n, int64_t c, int64_t C, int P) {
  const double* pp = part + (int64_t)n * P * C + c;
  double acc = pp[0];
  for (int p = 1; p < P; p++) acc += pp[(int64_t)p * C];
  return acc;
}

// global average pool: one thread's share of sum x[n][s][c] over its rows of [s0, s1) (0 for a channel past C)
template <class St>
SEV_HD double gap_ndhwc_partial(const typename St::storage* x, int64_t n, int64_t c, int64_t C, int64_t S, int64_t s0,
                                int64_t s1, int ty) {
  if (c >= C) return 0;
  const typename St::storage* xp = x + n * S * C + c;
  double acc = 0;
  for (int64_t s = s0 + ty; s < s1; s += CL_RROWS) acc += St::load(xp[s * C]);
  return acc;
}
// its backward: every position of item n gets dy[n][c] / S (global_avgpool_backward_element), rounded once
template <class St>
SEV_HD void gap_ndhwc_backward_element(const float* dy, typename St::storage* dx, int64_t i, int64_t n, int64_t c,
                                       int64_t C, int64_t S) {
  dx[i] = St::store(dy[n * C + c] / (float)S);
}

// SE backward: one thread's rows (of [s0, s1)) of channel c of item n: dx = dy * g[n][c] (rounded once) and its
// share of dg[n][c] = sum_s dy * x in double (channel_scale_backward_partial_t's arithmetic)
template <class St>
SEV_HD double channel_scale_ndhwc_backward_partial(const typename St::storage* x, const float* g,
                                                   const typename St::storage* dy, typename St::storage* dx, int64_t n,
                                                   int64_t c, int64_t C, int64_t S, int64_t s0, int64_t s1, int ty) {
  if (c >= C || s0 + ty >= s1) return 0;  // no rows for this thread: g (NULL when S == 0) is not read
  const float gs = g[n * C + c];
  const int64_t base = n * S * C + c;
  double acc = 0;
  for (int64_t s = s0 + ty; s < s1; s += CL_RROWS) {
    const int64_t i = base + s * C;
    const float d = St::load(dy[i]);
    dx[i] = St::store(d * gs);
    acc += (double)d * St::load(x[i]);
  }
  return acc;
}

// ---------------------------------------------------------------- 5. channel concat / split of [M][C] rows
// element (m, c) of y [M][Ca+Cb] from a [M][Ca] or b [M][Cb]; T is the raw word (uint32_t or uint16_t): a bit copy
template <typename T>
SEV_HD T concat_ndhwc_element(const T* a, const T* b, int64_t m, int64_t c, int64_t Ca, int64_t Cb) {
  return c < Ca ? a[m * Ca + c] : b[m * Cb + (c - Ca)];
}
template <typename T>
SEV_HD void split_ndhwc_element(const T* y, T* a, T* b, int64_t i, int64_t m, int64_t c, int64_t Ca, int64_t Cb) {
  if (c < Ca)
    a[m * Ca + c] = y[i];
  else
    b[m * Cb + (c - Ca)] = y[i];
}

// ---------------------------------------------------------------- 6. average pooling 3-d, count_include_pad
// output element i of y [N][To][Ho][Wo][C]: the window's mean summed in avgpool3d_window_mean's order (kt, kh, kw)
// in fp32, times 1/k — so the result is the NCDHW kernel's bit for bit; consecutive threads read consecutive
// channels of one window position
template <class St>
SEV_HD typename St::storage avgpool3d_ndhwc_forward_element(const typename St::storage* x, const SevPool& p,
                                                            int64_t i) {
  const SevIdx5 e = sev_split5(i, pool_out_count(p), p.To, p.Ho, p.Wo, p.C);  // 32-bit divisions where they fit
  const int64_t n = e.outer, c = e.e;
  const int to = e.a, ho = e.b, wo = e.d;
  const typename St::storage* xp = x + n * p.T * p.H * p.W * p.C + c;
  float s = 0.f;
  for (int kt = 0; kt < p.kT; kt++) {
    const int t = to * p.sT - p.pT + kt;
    if (t < 0 || t >= p.T) continue;
    for (int kh = 0; kh < p.kH; kh++) {
      const int h = ho * p.sH - p.pH + kh;
      if (h < 0 || h >= p.H) continue;
      const typename St::storage* row = xp + ((int64_t)t * p.H + h) * p.W * p.C;
      for (int kw = 0; kw < p.kW; kw++) {
        const int w = wo * p.sW - p.pW + kw;
        if (w >= 0 && w < p.W) s += St::load(row[(int64_t)w * p.C]);
      }
    }
  }
  return St::store(s * (1.f / (float)(p.kT * p.kH * p.kW)));
}
// input element i of dx [N][T][H][W][C]: gathers dy/k over every window that holds it in the output order
// (to, ho, wo) — the order the CPU's scatter adds them (avgpool3d_window_grad), each share rounded on its own
template <class St>
SEV_HD typename St::storage avgpool3d_ndhwc_backward_element(const typename St::storage* dy, const SevPool& p,
                                                             int64_t i) {
  const SevIdx5 e = sev_split5(i, pool_in_count(p), p.T, p.H, p.W, p.C);
  const int64_t n = e.outer, c = e.e;
  const int t = e.a, h = e.b, w = e.d;
  const float inv = 1.f / (float)(p.kT * p.kH * p.kW);
  const typename St::storage* dyp = dy + n * p.To * p.Ho * p.Wo * p.C + c;
  int t0, t1, h0, h1, w0, w1;
  pool_out_range(t, p.kT, p.sT, p.pT, p.To, &t0, &t1);
  pool_out_range(h, p.kH, p.sH, p.pH, p.Ho, &h0, &h1);
  pool_out_range(w, p.kW, p.sW, p.pW, p.Wo, &w0, &w1);
  float s = 0.f;
  for (int to = t0; to <= t1; to++)
    for (int ho = h0; ho <= h1; ho++)
      for (int wo = w0; wo <= w1; wo++)
        s += sev_mul_rn(St::load(dyp[(((int64_t)to * p.Ho + ho) * p.Wo + wo) * p.C]), inv);
  return St::store(s);
}
