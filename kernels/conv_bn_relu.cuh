// Fused conv -> batch norm -> ReLU pieces of the SEV block (kernels/conv_bn_relu.cu), NCDHW fp32:
//  - the block's grouped 1x3x3 conv, C -> C, padding (0,1,1), stride (1,s,s), cg = C/groups <= 16 channels
//    per group in and out: forward with an epilogue, backward-data, backward-weight (direct, shared memory);
//  - its 1x1x1 conv, Cin -> Cout, stride 1: forward as a 64x64 tiled GEMM (temporal_conv.cuh's tiles) with
//    the same epilogue;
//  - batch-norm glue: statistics reduced by many blocks per channel, apply + ReLU (+ residual add) in one
//    pass, and its backward (ReLU mask + BN backward, + the residual's gradient) in two; fp32, and bf16 / fp16
//    activations with fp32 parameters and statistics (one body per storage type of sev_half.cuh).
// Epilogues. Inference: y = relu?(acc + bias[c]) with BN folded into w and bias, or y = relu?(acc*a + b)
// with a, b from BN's running statistics. Training: the conv writes its raw output z (BN's input, which BN's
// backward needs) and, per block, each channel's partial (sum z, sum z^2) in double; a small kernel adds the
// partials of a channel in a fixed order into the batch statistics, and the apply pass writes relu(BN(z)).
// No float atomics anywhere: every sum has one order, the same on every run and in the host drivers
// (native/src/kernels_hostrun.cpp), which the tests compare with the CPU ops composed.
#pragma once
#include <stdint.h>

#include "batchnorm.cuh"
#include "elementwise.cuh"
#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"
#include "temporal_conv.cuh"

// ---------------------------------------------------------------- epilogue and statistics

// What the forward epilogue does with output channel c's raw sum acc. mean != NULL: BN with running
// statistics (gamma, beta may be NULL); else + bias[c] (bias may be NULL). Then ReLU when relu != 0.
struct CbrEpilogue {
  const float* bias;
  const float *gamma, *beta, *mean, *var;
  float eps;
  int relu;
};
// y = acc * a + b for channel c
SEV_HD void cbr_coeffs(const CbrEpilogue& e, int64_t c, float* a, float* b) {
  if (e.mean) {
    bn_eval_coeffs(e.gamma, e.beta, e.mean, e.var, c, e.eps, a, b);
  } else {
    *a = 1.f;  // acc * 1 + b is exactly acc + b, FMA or not
    *b = e.bias ? e.bias[c] : 0.f;
  }
}

// One channel's statistics: a = sum, b = sum of squares (double: a channel has up to N*T*H*W ~ 4e5
// values). var = E[z^2] - mean^2 in double keeps ~1e-16 * mean^2/var relative error: conv outputs have
// |mean| within a few standard deviations, far from where that matters.
SEV_HD void cbr_stats_add(SevDouble2& s, float v) {
  s.a += v;
  s.b += (double)v * v;
}
// thread tid's share of channel c's partials part[c*P .. c*P + P) (the finalize block adds the shares)
SEV_HD SevDouble2 cbr_parts_partial(const SevDouble2* part, int64_t c, int64_t P, int tid, int nt) {
  SevDouble2 s = {0, 0};
  for (int64_t i = tid; i < P; i += nt) s = s + part[c * P + i];
  return s;
}
// the batch statistics of channel c from its total: save_mean/save_invstd, running stats (as bn_train_finalize)
SEV_HD void cbr_stats_finalize(int64_t c, SevDouble2 tot, int64_t count, float eps, float momentum, float* save_mean,
                               float* save_invstd, float* running_mean, float* running_var) {
  const double mean = tot.a / count;
  double var = tot.b / count - mean * mean;
  if (var < 0) var = 0;
  bn_train_finalize(c, mean, var * count, count, eps, momentum, save_mean, save_invstd, running_mean, running_var);
}
constexpr int CBR_THREADS = 256;  // finalize blocks, BN glue blocks (power of two)

// ---------------------------------------------------------------- 1x1x1 conv: y[n, m, j] = sum_c w[m, c] x[n, c, j]
// The temporal conv's GEMM tiling (TC_BM x TC_BN output tile, TC_BK slices, 4x4 per thread) with one tap.
SEV_HD void pw_load_slot(float* As, float* Bs, int slot, const float* w, const float* x, int n, int m0, int64_t j0,
                         int r0, int Cin, int Cout, int64_t S) {
  const int ar = slot % TC_BK, am = slot / TC_BK;  // A tile [TC_BK][TC_BM]: consecutive slots, consecutive c
  As[ar * TC_BM + am] = m0 + am < Cout && r0 + ar < Cin ? w[(int64_t)(m0 + am) * Cin + r0 + ar] : 0.f;
  const int br = slot / TC_BN, bj = slot % TC_BN;  // B tile [TC_BK][TC_BN]: consecutive slots, consecutive j
  Bs[br * TC_BN + bj] = r0 + br < Cin && j0 + bj < S ? x[((int64_t)n * Cin + r0 + br) * S + j0 + bj] : 0.f;
}
// thread tid's outputs (rows ty*4 + i, columns tx + 16q): raw (e == NULL) or through the epilogue
SEV_HD void pw_store(float* y, const float acc[4][4], int tid, int n, int m0, int64_t j0, int Cout, int64_t S,
                     const CbrEpilogue* e) {
  const int tx = tid % 16, ty = tid / 16;
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ty * 4 + i;
    if (m >= Cout) continue;
    float a = 1.f, b = 0.f;
    if (e) cbr_coeffs(*e, m, &a, &b);
    for (int q = 0; q < 4; q++) {
      const int64_t j = j0 + tx + 16 * q;
      if (j < S) y[((int64_t)n * Cout + m) * S + j] = e ? bn_apply_element(acc[i][q], a, b, e->relu) : acc[i][q];
    }
  }
}
// thread tid's share of row i's statistics (its four columns); the 16 threads of a row (same ty, tx =
// 0..15, one half-warp) are then summed by a 16-wide tree
SEV_HD SevDouble2 pw_row_stats(const float acc[4][4], int i, int tid, int64_t j0, int64_t S) {
  const int tx = tid % 16;
  SevDouble2 s = {0, 0};
  for (int q = 0; q < 4; q++)
    if (j0 + tx + 16 * q < S) cbr_stats_add(s, acc[i][q]);
  return s;
}
// partials per channel of the training form: one per (item, column tile)
SEV_HD int64_t pw_stat_parts(int N, int64_t S) { return (int64_t)N * ((S + TC_BN - 1) / TC_BN); }

// ---------------------------------------------------------------- grouped 1x3x3 conv
// One block: one (item n, group g) and a tile of tf frames x th rows x tw columns of positions (outputs
// for forward and backward-weight, inputs for backward-data), one position per thread; each thread keeps
// the cg accumulators of its position (registers: CGMAX = 4, 8 or 16 by template). The staged channel's
// tile (with its halo) and the group's cg x cg x 9 weights sit in shared memory; channels are staged one
// at a time, so each staged value feeds 9 taps x cg output channels.
constexpr int GC_THREADS = 256;
constexpr int GC_MAXCG = 16;
constexpr int GC_DW_POS = 128;               // positions per step of backward-weight (its tile holds cg channels)
constexpr int64_t GC_DW_TARGET_BLOCKS = 1024;  // backward-weight: groups x splits
constexpr int64_t GC_DW_MAX_SCRATCH = 16 << 20;  // floats of partial weight gradients, at most

struct GcDims {
  int N, C, cg, T, H, W, s, Ho, Wo;
};
SEV_HD GcDims gc_dims(int N, int C, int cg, int T, int H, int W, int s) {
  return {N, C, cg, T, H, W, s, (H - 1) / s + 1, (W - 1) / s + 1};  // (H + 2 - 3) / s + 1
}
// tile of positions over a [T, R, Q] volume: tw a power of two in 8..32 covering Q if it can, th a power of
// two up to `positions / tw` covering R if it can, then as many frames as fit (small planes share a block)
struct GcTile {
  int tf, th, tw;  // frames, rows, columns of the tile (tf * th * tw <= positions)
  int nt, nh, nw;  // tiles along T, R, Q
};
SEV_HD GcTile gc_tile(int T, int R, int Q, int positions) {
  GcTile t;
  t.tw = Q <= 8 ? 8 : Q <= 16 ? 16 : 32;
  t.th = 1;
  while (t.th < R && 2 * t.th * t.tw <= positions) t.th *= 2;
  t.tf = positions / (t.th * t.tw);
  if (t.tf > T) t.tf = T > 0 ? T : 1;
  t.nt = (T + t.tf - 1) / t.tf;
  t.nh = (R + t.th - 1) / t.th;
  t.nw = (Q + t.tw - 1) / t.tw;
  return t;
}
SEV_HD int64_t gc_tiles(const GcTile& t) { return (int64_t)t.nt * t.nh * t.nw; }
// tile u's first frame, row and column
struct GcOrigin {
  int t0, h0, w0;
};
SEV_HD GcOrigin gc_origin(const GcTile& t, int64_t u) {
  const int64_t hw = (int64_t)t.nh * t.nw;
  return {(int)(u / hw) * t.tf, (int)(u % hw / t.nw) * t.th, (int)(u % t.nw) * t.tw};
}
// position p of a tile (thread tid in forward and backward-data): frame f, row r, column q; p < tf*th*tw
SEV_HD void gc_pos(const GcTile& t, int p, int* f, int* r, int* q) {
  *q = p % t.tw;
  *r = p / t.tw % t.th;
  *f = p / (t.tw * t.th);
}
// the input window of an output tile: rows (th-1)*s + 3, columns (tw-1)*s + 3, from (h0*s - 1, w0*s - 1)
SEV_HD int gc_in_rows(const GcTile& t, int s) { return (t.th - 1) * s + 3; }
SEV_HD int gc_in_cols(const GcTile& t, int s) { return (t.tw - 1) * s + 3; }
// partials per channel of the training form: one per (item, tile)
SEV_HD int64_t gc_stat_parts(int N, int T, int H, int W, int s) {
  const GcDims d = gc_dims(N, 1, 1, T, H, W, s);
  return (int64_t)N * gc_tiles(gc_tile(T, d.Ho, d.Wo, GC_THREADS));
}

// The group's weights in shared memory as ws[(o*cg + i)*9 + k]: o indexes the channels a thread
// accumulates, i the staged channel. Forward: o = output channel, i = input channel (w as stored);
// backward-data: o = input channel, i = output channel (transposed). w is [C, cg, 1, 3, 3].
// St: the weights' storage (fp32, or bf16 / fp16 widened exactly on load)
template <class St = SevF32>
SEV_HD void gc_load_weight_slot(float* ws, int slot, const typename St::storage* w, int g, int cg, bool trans) {
  const int k = slot % 9, o = slot / 9 / cg, i = slot / 9 % cg;
  const int co = trans ? i : o, ci = trans ? o : i;
  ws[slot] = St::load(w[(((int64_t)g * cg + co) * cg + ci) * 9 + k]);
}
// acc[o] += sum_k ws[o, i, k] * v[k] for the thread's cg channels o, staged channel i
template <int CGMAX>
SEV_HD void gc_accumulate(float acc[CGMAX], const float v[9], const float* ws, int i, int cg) {
  for (int o = 0; o < CGMAX; o++) {
    if (o < cg) {
      const float* wp = ws + (o * cg + i) * 9;
      float a = acc[o];
      for (int k = 0; k < 9; k++) a += wp[k] * v[k];
      acc[o] = a;
    }
  }
}

// ---- forward: y[n, g*cg + co, t, ho, wo] = sum_ci sum_k w[g*cg + co, ci, k] x[n, g*cg + ci, t, ho*s - 1 + kh, wo*s - 1 + kw]
// slot of the staged input tile of channel ci: [tf][in_h][in_w], zero outside the input (the padding)
// (St: x's storage; the staged tile is fp32 either way)
template <class St = SevF32>
SEV_HD void gc_fwd_load_slot(float* xs, int slot, const typename St::storage* x, const GcDims& d, const GcTile& t,
                             GcOrigin o, int n, int g, int ci) {
  const int in_h = gc_in_rows(t, d.s), in_w = gc_in_cols(t, d.s);
  const int q = slot % in_w, r = slot / in_w % in_h, f = slot / (in_w * in_h);
  const int tt = o.t0 + f, h = o.h0 * d.s - 1 + r, w = o.w0 * d.s - 1 + q;
  xs[slot] = tt < d.T && h >= 0 && h < d.H && w >= 0 && w < d.W
                 ? St::load(x[(((int64_t)n * d.C + g * d.cg + ci) * d.T + tt) * d.H * d.W + (int64_t)h * d.W + w])
                 : 0.f;
}
// the nine taps of output position (f, r, q) of the tile in the staged input tile
SEV_HD void gc_fwd_taps(float v[9], const float* xs, const GcDims& d, const GcTile& t, int f, int r, int q) {
  const int in_h = gc_in_rows(t, d.s), in_w = gc_in_cols(t, d.s);
  const float* p = xs + ((int64_t)f * in_h + r * d.s) * in_w + q * d.s;
  for (int kh = 0; kh < 3; kh++)
    for (int kw = 0; kw < 3; kw++) v[kh * 3 + kw] = p[kh * in_w + kw];
}
// whether position (f, r, q) of the tile at o is an output (ragged tiles at the volume's ends)
SEV_HD bool gc_out_valid(const GcDims& d, GcOrigin o, int f, int r, int q, bool out) {
  return o.t0 + f < d.T && o.h0 + r < (out ? d.Ho : d.H) && o.w0 + q < (out ? d.Wo : d.W);
}
SEV_HD int64_t gc_out_index(const GcDims& d, int n, int c, GcOrigin o, int f, int r, int q) {
  return (((int64_t)n * d.C + c) * d.T + o.t0 + f) * d.Ho * d.Wo + (int64_t)(o.h0 + r) * d.Wo + o.w0 + q;
}
SEV_HD int64_t gc_in_index(const GcDims& d, int n, int c, GcOrigin o, int f, int r, int q) {
  return (((int64_t)n * d.C + c) * d.T + o.t0 + f) * d.H * d.W + (int64_t)(o.h0 + r) * d.W + o.w0 + q;
}
// the thread's outputs: raw (e == NULL, the training form) or through the epilogue; a 16-bit y (St) is the fp32
// result rounded once, after the epilogue
template <int CGMAX, class St = SevF32>
SEV_HD void gc_fwd_store(typename St::storage* y, const float acc[CGMAX], const GcDims& d, GcOrigin o, int n, int g,
                         int f, int r, int q, const CbrEpilogue* e) {
  for (int co = 0; co < CGMAX; co++) {
    if (co < d.cg) {  // a guard, not a break: the loop unrolls and acc stays in registers
      const int c = g * d.cg + co;
      float a = 1.f, b = 0.f;
      if (e) cbr_coeffs(*e, c, &a, &b);
      y[gc_out_index(d, n, c, o, f, r, q)] = St::store(e ? bn_apply_element(acc[co], a, b, e->relu) : acc[co]);
    }
  }
}
// block statistics: each warp sums its 32 lanes' values of a channel by a halving tree (shuffles on the
// device, sev_tree_sum_host on the host), then the warps' sums are added in order 0..7
constexpr int GC_WARPS = GC_THREADS / 32;
SEV_HD SevDouble2 gc_sum_warps(const SevDouble2* warp_sums) {
  SevDouble2 s = {0, 0};
  for (int w = 0; w < GC_WARPS; w++) s = s + warp_sums[w];
  return s;
}

// ---- backward-data: dx[n, g*cg + ci, t, h, w] = sum_co sum_k w[g*cg + co, ci, k] dy[n, g*cg + co, t, ho, wo]
// over the taps with h = ho*s - 1 + kh, w = wo*s - 1 + kw. A tile of input positions reads dy rows
// floor((h0 - 1)/s) .. floor((h0 + th)/s) (and the same in columns); the staged tile is zero outside dy.
SEV_HD int gc_floordiv(int a, int s) { return a >= 0 ? a / s : -((-a + s - 1) / s); }
struct GcWindow {
  int h_lo, rows, w_lo, cols;
};
SEV_HD GcWindow gc_bwd_window(const GcDims& d, const GcTile& t, GcOrigin o) {
  GcWindow w;
  w.h_lo = gc_floordiv(o.h0 - 1, d.s);
  w.rows = gc_floordiv(o.h0 + t.th, d.s) - w.h_lo + 1;
  w.w_lo = gc_floordiv(o.w0 - 1, d.s);
  w.cols = gc_floordiv(o.w0 + t.tw, d.s) - w.w_lo + 1;
  return w;
}
// the largest window of a tile (sizes the shared array): stride 1 needs th + 2 rows, larger strides fewer
SEV_HD int gc_bwd_window_max(const GcTile& t) { return t.tf * (t.th + 2) * (t.tw + 2); }
template <class St = SevF32>
SEV_HD void gc_bwd_load_slot(float* ds, int slot, const typename St::storage* dy, const GcDims& d, GcOrigin o,
                             GcWindow win, int n, int g, int co) {
  const int q = slot % win.cols, r = slot / win.cols % win.rows, f = slot / (win.cols * win.rows);
  const int tt = o.t0 + f, ho = win.h_lo + r, wo = win.w_lo + q;
  ds[slot] = tt < d.T && ho >= 0 && ho < d.Ho && wo >= 0 && wo < d.Wo
                 ? St::load(dy[(((int64_t)n * d.C + g * d.cg + co) * d.T + tt) * d.Ho * d.Wo + (int64_t)ho * d.Wo + wo])
                 : 0.f;
}
// the nine taps of input position (f, r, q): v[kh*3 + kw] = dy at (ho, wo) where h + 1 - kh = ho*s, else 0
SEV_HD void gc_bwd_taps(float v[9], const float* ds, const GcDims& d, GcOrigin o, GcWindow win, int f, int r, int q) {
  const int h = o.h0 + r, w = o.w0 + q;
  for (int kh = 0; kh < 3; kh++) {
    const int nh = h + 1 - kh;  // >= -1
    const bool okh = (nh + d.s) % d.s == 0;
    const int rr = (nh + d.s) / d.s - 1 - win.h_lo;
    for (int kw = 0; kw < 3; kw++) {
      const int nw = w + 1 - kw;
      const bool ok = okh && (nw + d.s) % d.s == 0;
      const int cc = (nw + d.s) / d.s - 1 - win.w_lo;
      v[kh * 3 + kw] = ok ? ds[((int64_t)f * win.rows + rr) * win.cols + cc] : 0.f;
    }
  }
}

// ---- backward-weight: dw[g*cg + co, ci, k] = sum over (n, t, ho, wo) of dy[n, g*cg + co, t, ho, wo] *
// x[n, g*cg + ci, t, ho*s - 1 + kh, wo*s - 1 + kw]. A block (split p, group g) walks its share of the
// output tiles (GC_DW_POS positions each) of all items; per tile it stages dy [cg][positions] and x
// [cg][tf][in_h][in_w]; thread (replica rep, pair co*cg + ci) accumulates the nine taps of its pair over
// positions rep, rep + R, ... (R = 256 / cg^2 replicas). At the end the replicas are added in order, the
// split's partial goes to scratch, and a second kernel adds the splits in order.
SEV_HD GcTile gc_dw_tile(const GcDims& d) { return gc_tile(d.T, d.Ho, d.Wo, GC_DW_POS); }
SEV_HD int gc_dw_replicas(int cg) { return GC_THREADS / (cg * cg); }
SEV_HD int gc_dw_splits(const GcDims& d) {
  const int G = d.C / d.cg;
  const int64_t tiles = (int64_t)d.N * gc_tiles(gc_dw_tile(d));
  int64_t p = (GC_DW_TARGET_BLOCKS + G - 1) / G;
  const int64_t cap = GC_DW_MAX_SCRATCH / ((int64_t)d.C * d.cg * 9);
  if (p > tiles) p = tiles;
  if (p > cap) p = cap;
  return (int)(p < 1 ? 1 : p);
}
// floats of shared memory: dy tile, x tile, replica sums
SEV_HD int gc_dw_smem_floats(const GcDims& d) {
  const GcTile t = gc_dw_tile(d);
  const int tp = t.tf * t.th * t.tw;
  return d.cg * tp + d.cg * t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s) + gc_dw_replicas(d.cg) * d.cg * d.cg * 9;
}
// tile u (global over items: u / tiles per item is the item) -> item and origin
SEV_HD GcOrigin gc_dw_origin(const GcTile& t, int64_t u, int* n) {
  const int64_t per_item = gc_tiles(t);
  *n = (int)(u / per_item);
  return gc_origin(t, u % per_item);
}
// load slot in [0, gc_dw_load_slots) of the tile of item n at o: dy [cg][tp] first, then x [cg][tf][in_h][in_w]
SEV_HD void gc_dw_load_slot(float* dys, float* xs, int slot, const float* x, const float* dy, const GcDims& d,
                            const GcTile& t, int n, GcOrigin o, int g) {
  const int tp = t.tf * t.th * t.tw;
  if (slot < d.cg * tp) {
    const int co = slot / tp, p = slot % tp;
    int f, r, q;
    gc_pos(t, p, &f, &r, &q);
    dys[slot] = gc_out_valid(d, o, f, r, q, true) ? dy[gc_out_index(d, n, g * d.cg + co, o, f, r, q)] : 0.f;
  } else {
    const int in_h = gc_in_rows(t, d.s), in_w = gc_in_cols(t, d.s), i = slot - d.cg * tp;
    const int per_ch = t.tf * in_h * in_w, ci = i / per_ch;
    gc_fwd_load_slot(xs + ci * per_ch, i % per_ch, x, d, t, o, n, g, ci);
  }
}
SEV_HD int gc_dw_load_slots(const GcDims& d, const GcTile& t) {
  return d.cg * t.tf * t.th * t.tw + d.cg * t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s);
}
// thread tid's nine taps of pair (co, ci) over its positions of the staged tile
SEV_HD void gc_dw_accumulate(float acc[9], const float* dys, const float* xs, const GcDims& d, const GcTile& t,
                             int tid) {
  const int pairs = d.cg * d.cg, R = gc_dw_replicas(d.cg), rep = tid / pairs, pair = tid % pairs;
  if (rep >= R) return;
  const int co = pair / d.cg, ci = pair % d.cg, tp = t.tf * t.th * t.tw;
  const int in_h = gc_in_rows(t, d.s), in_w = gc_in_cols(t, d.s);
  const float* xc = xs + (int64_t)ci * t.tf * in_h * in_w;
  for (int p = rep; p < tp; p += R) {
    int f, r, q;
    gc_pos(t, p, &f, &r, &q);
    const float g = dys[co * tp + p];
    const float* xp = xc + ((int64_t)f * in_h + r * d.s) * in_w + q * d.s;
    for (int kh = 0; kh < 3; kh++)
      for (int kw = 0; kw < 3; kw++) acc[kh * 3 + kw] += g * xp[kh * in_w + kw];
  }
}
// element i in [0, cg*cg*9) of the block's sum: the replicas' values in order
SEV_HD float gc_dw_replica_sum(const float* red, int i, int cg) {
  const int per = cg * cg * 9, R = gc_dw_replicas(cg);
  float s = 0.f;
  for (int rep = 0; rep < R; rep++) s += red[rep * per + i];
  return s;
}
// element i of dw [C, cg, 3, 3]: the P split partials in order
SEV_HD float gc_dw_reduce_element(const float* parts, int P, int64_t i, int64_t total) {
  float s = 0.f;
  for (int p = 0; p < P; p++) s += parts[p * total + i];
  return s;
}

// ---------------------------------------------------------------- batch-norm glue over [N, C, S]
// Many blocks per channel: block (p, c) of a (P, C) grid walks channel c's N*S values from p*nt + tid in
// steps of P*nt (consecutive threads, consecutive addresses). P gives about 2048 blocks in all, with at
// least 8 values per thread.
SEV_HD int bnx_splits(int64_t N, int64_t C, int64_t S) {
  const int64_t per_block = (int64_t)CBR_THREADS * 8;
  int64_t p = (N * S + per_block - 1) / per_block;
  const int64_t cap = C >= 2048 ? 1 : 2048 / (C > 0 ? C : 1);
  if (p > cap) p = cap;
  return (int)(p < 1 ? 1 : p);
}
// The glue is one body per storage type St (sev_half.cuh): SevF32 (fp32 tensors), SevBF16 / SevF16 (16-bit x,
// residual, y, dy, dx, dresidual; PyTorch autocast's BN: gamma, beta, statistics, dgamma, dbeta stay fp32).
// Loads widen to fp32, all arithmetic is the fp32 body's (statistics in double), y / dx are rounded once when
// stored; for SevF32 load and store are the identity, so the fp32 kernels compute exactly what they did.
// thread tid's share of (sum x, sum x^2) of channel c in block p
template <class St = SevF32>
SEV_HD SevDouble2 bnx_stats_partial(const typename St::storage* x, int64_t c, int64_t N, int64_t C, int64_t S, int p,
                                    int P, int tid, int nt) {
  SevDouble2 s = {0, 0};
  for (SevWalk2D w((int64_t)p * nt + tid, (int64_t)P * nt, S); w.row < N; w.next())
    cbr_stats_add(s, St::load(x[(w.row * C + c) * S + w.s]));
  return s;
}
// forward apply: y = x*a + b (+ residual), then ReLU when relu != 0; rounded once to St
template <class St = SevF32>
SEV_HD typename St::storage bnx_apply_element(const typename St::storage* x, const typename St::storage* res,
                                              int64_t i, float a, float b, int relu) {
  float v = St::load(x[i]) * a + b;
  if (res) v += St::load(res[i]);
  return St::store(relu && !(v > 0.f) ? 0.f : v);
}
// the gradient reaching BN: dy where the output y > 0 (ReLU; the STORED y, so 16-bit y's own sign), or dy
// (no ReLU: y == NULL)
template <class St = SevF32>
SEV_HD float bnx_grad(const typename St::storage* y, const typename St::storage* dy, int64_t i) {
  return y ? relu_backward_element(St::load(y[i]), St::load(dy[i])) : St::load(dy[i]);
}
// the same for relu(batch norm(x)) without a residual, the mask recomputed from x instead of read from y: the
// forward's own element function with the forward's coefficients (bn_train_coeffs) gives the stored y bit for bit —
// its 16-bit rounding included, and on the device the same FMA contraction, being the same inlined expression
template <class St = SevF32>
SEV_HD float bnx_grad_from_x(const typename St::storage* x, const typename St::storage* dy, int64_t i, float a,
                             float b) {
  return relu_backward_element(St::load(bnx_apply_element<St>(x, nullptr, i, a, b, 1)), St::load(dy[i]));
}
// bnx_grad or bnx_grad_from_x (a, b: the channel's forward coefficients when FROM_X)
template <class St, bool FROM_X>
SEV_HD float bnx_grad_masked(const typename St::storage* x, const typename St::storage* y,
                             const typename St::storage* dy, int64_t i, float a, float b) {
  return FROM_X ? bnx_grad_from_x<St>(x, dy, i, a, b) : bnx_grad<St>(y, dy, i);
}
// thread tid's share of (sum g, sum g*xhat) of channel c in block p
template <class St = SevF32>
SEV_HD SevDouble2 bnx_backward_partial(const typename St::storage* x, const typename St::storage* y,
                                       const typename St::storage* dy, int64_t c, double mean, double invstd,
                                       int64_t N, int64_t C, int64_t S, int p, int P, int tid, int nt) {
  SevDouble2 s = {0, 0};
  for (SevWalk2D w((int64_t)p * nt + tid, (int64_t)P * nt, S); w.row < N; w.next()) {
    const int64_t i = (w.row * C + c) * S + w.s;
    bn_grad_accumulate(s, bnx_grad<St>(y, dy, i), (St::load(x[i]) - mean) * invstd);
  }
  return s;
}
// thread tid's elements of block p: dx (and the residual's gradient, the masked dy, when dres != NULL); a 16-bit
// dres is exact (g is a widened 16-bit dy or 0), dx is rounded once
template <class St = SevF32>
SEV_HD void bnx_backward_dx_partial(const typename St::storage* x, const typename St::storage* y,
                                    const typename St::storage* dy, typename St::storage* dx,
                                    typename St::storage* dres, int64_t c, BnBackwardCoeffs k, int64_t N, int64_t C,
                                    int64_t S, int p, int P, int tid, int nt) {
  for (SevWalk2D w((int64_t)p * nt + tid, (int64_t)P * nt, S); w.row < N; w.next()) {
    const int64_t i = (w.row * C + c) * S + w.s;
    const float g = bnx_grad<St>(y, dy, i);
    dx[i] = St::store(bn_backward_dx_element(St::load(x[i]), g, k));
    if (dres) dres[i] = St::store(g);
  }
}
