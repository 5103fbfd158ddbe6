// Grouped 1x3x3 convolution of the SEV block (conv2: C -> C, cg = C/groups <= 16 channels per group, padding
// (0,1,1), stride (1,s,s), s 1 or 2, no bias) in channels-last layout (kernels/grouped_conv_ndhwc.cu):
//   x, dx [N][T][H][W][C], y, dy [N][T][Ho][Wo][C] (Ho = (H-1)/s + 1), w and dw KTRSC [C][1][3][3][cg]
//   (cuDNN's NHWC filter: w[co][kh][kw][ci], ci the input channel within co's group).
//   forward        y[n,t,ho,wo,g*cg+o]  = sum_ci sum_kh,kw w[g*cg+o][kh][kw][ci] x[n,t,ho*s-1+kh,wo*s-1+kw,g*cg+ci]
//   backward-data  dx[n,t,hi,wi,g*cg+ci] = sum_o sum_kh,kw w[g*cg+o][kh][kw][ci] dy[n,t,ho,wo,g*cg+o]
//                                          over ho*s-1+kh = hi, wo*s-1+kw = wi
// Why a kernel of our own: cuDNN 9's NDHWC grouped conv with 8 channels per group is 2.5-6.2x slower in bf16 than
// its NCDHW one (H100, bench/results/2026-11-26-h100-kernels-cl-lt.md), and this conv moves ~9 loads per
// multiply-add of the group's tiny GEMM: it is a stencil, done as one.
//
// One block: one (item n, group g) and a tile of tf frames x th rows x (tq * GCL_P) columns of the positions it
// writes (outputs y forward, inputs dx backward-data; blocks ordered group-fastest, so neighbours read the same
// positions' adjacent channel slices and share their sectors in L2); a thread owns GCL_P of a row's columns, tq
// apart (thread q has columns q, q + tq, ...: consecutive threads read consecutive staged columns, so shared loads
// do not conflict), and its cg accumulators per column (registers: CGMAX = 4, 8 or 16 by template). The window the
// tile reads (x forward, dy backward-data; halo and stride included) is staged in shared memory up to GCL_CHUNK
// channels at a time, channel-planar (a plane per channel, its pitch odd so that the staging stores, a channel
// per thread, do not conflict either); the global reads are a position's channels, contiguous in NDHWC. The
// group's cg x 9 x cg weights sit in shared memory, read as broadcasts. Each staged value feeds 9 taps x cg
// channels. Every sum runs over (staged channel, kh, kw) in that order in fp32; 16-bit storage (St of
// sev_half.cuh) is widened on load and the result rounded once on store.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

// full unrolling keeps acc[j][o] in registers (its indices must be compile-time after unrolling)
#if defined(__CUDA_ARCH__)  // the device pass only: the host compiler does not know the pragma
#define GCL_UNROLL _Pragma("unroll")
#else
#define GCL_UNROLL
#endif

// v[0..3] = p[0..3]; on the device one 16-byte shared load (p 16-byte aligned: the weights' rows and the dw
// window's positions start at multiples of 4 floats when cg is a multiple of 4), on the host four loads
SEV_HD void gcl_load4(const float* p, float v[4]) {
#if defined(__CUDA_ARCH__)
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x;
  v[1] = q.y;
  v[2] = q.z;
  v[3] = q.w;
#else
  for (int i = 0; i < 4; i++) v[i] = p[i];
#endif
}

constexpr int GCL_THREADS = 128;  // threads of a block, at most
constexpr int GCL_P = 4;          // columns per thread
constexpr int GCL_CHUNK = 8;      // channels staged at once
constexpr int GCL_MAXCG = 16;
constexpr int GCL_XS = 9216;  // floats of the staged window, at most (36 KB; with the weights' 9 KB under 48 KB)
constexpr int GCL_WS = GCL_MAXCG * GCL_MAXCG * 9;

struct GclDims {
  int N, C, cg, T, H, W, s, Ho, Wo;
};
SEV_HD GclDims gcl_dims(int N, int C, int cg, int T, int H, int W, int s) {
  return {N, C, cg, T, H, W, s, H > 0 ? (H - 1) / s + 1 : 0, W > 0 ? (W - 1) / s + 1 : 0};  // (H + 2 - 3) / s + 1
}

SEV_HD int gcl_floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The tile of positions a block writes, over the [T, R, Q] volume (R x Q = Ho x Wo forward, H x W backward-data),
// and the window it stages: rows x cols per frame (the most any tile needs), planes of `plane` floats (odd).
struct GclTile {
  int tf, th, tq;  // frames, rows, threads per row (each GCL_P columns, tq apart)
  int nt, nh, nq;  // tiles along T, R, Q
  int rows, cols, plane, chunk;
};
SEV_HD int gcl_window(int positions, int s, bool trans) {
  // forward: outputs o..o+p-1 read inputs o*s-1 .. (o+p-1)*s+1; backward-data: inputs i..i+p-1 read the outputs
  // floor((i-1)/s) .. floor((i+p)/s), at most (p+1)/s + 2 of them
  return trans ? (positions + 1) / s + 2 : (positions - 1) * s + 3;
}
SEV_HD GclTile gcl_make_tile(int T, int R, int Q, int s, int cg, bool trans, int tf, int th, int tq) {
  GclTile t;
  t.tf = tf;
  t.th = th;
  t.tq = tq;
  t.nt = (T + tf - 1) / tf;
  t.nh = (R + th - 1) / th;
  t.nq = (Q + tq * GCL_P - 1) / (tq * GCL_P);
  t.rows = gcl_window(th, s, trans);
  t.cols = gcl_window(tq * GCL_P, s, trans);
  t.plane = (tf * t.rows * t.cols) | 1;
  t.chunk = cg < GCL_CHUNK ? cg : GCL_CHUNK;
  return t;
}
// tq a power of two covering Q / GCL_P if it can (at most 32), th a power of two covering R if it can, then as many
// frames as fit in GCL_THREADS (gcl_tile: then halved until its staged channels fit GCL_XS)
SEV_HD GclTile gcl_first_tile(const GclDims& d, bool trans) {
  const int R = trans ? d.H : d.Ho, Q = trans ? d.W : d.Wo;
  const int strips = (Q + GCL_P - 1) / GCL_P;
  int tq = 1, th = 1;
  while (tq < strips && tq < 32) tq *= 2;
  while (th < R && 2 * th * tq <= GCL_THREADS) th *= 2;
  int tf = GCL_THREADS / (th * tq);
  if (tf > d.T) tf = d.T > 0 ? d.T : 1;
  if (tf < 1) tf = 1;
  return gcl_make_tile(d.T, R, Q, d.s, d.cg, trans, tf, th, tq);
}
// tile t halved (frames first, then the window's longer side) while `floats(t)` > GCL_XS; the smallest tile's window
// (3 x 9 positions) always fits
template <class Floats>
SEV_HD GclTile gcl_shrink(GclTile t, const GclDims& d, bool trans, Floats floats) {
  const int R = trans ? d.H : d.Ho, Q = trans ? d.W : d.Wo;
  int tf = t.tf, th = t.th, tq = t.tq;
  while (floats(t) > GCL_XS) {
    if (tf > 1)
      tf /= 2;
    else if (th > 1 && (t.rows >= t.cols || tq == 1))
      th /= 2;
    else
      tq /= 2;
    t = gcl_make_tile(d.T, R, Q, d.s, d.cg, trans, tf, th, tq);
  }
  return t;
}
struct GclChunkFloats {
  SEV_HD int operator()(const GclTile& t) const { return t.plane * t.chunk; }
};
SEV_HD GclTile gcl_tile(const GclDims& d, bool trans) {
  return gcl_shrink(gcl_first_tile(d, trans), d, trans, GclChunkFloats());
}
SEV_HD int gcl_threads(const GclTile& t) { return t.tf * t.th * t.tq; }
// where the weights start in a block's shared memory (after the window; 16-byte aligned for gcl_load4)
SEV_HD int gcl_ws_offset(const GclTile& t) { return (t.plane * t.chunk + 3) & ~3; }
SEV_HD int64_t gcl_tiles(const GclTile& t) { return (int64_t)t.nt * t.nh * t.nq; }

// Tile u's first frame, row and column (of the positions it writes), and the first row and column of its window
struct GclOrigin {
  int t0, h0, w0, wr0, wc0;
};
SEV_HD GclOrigin gcl_origin(const GclTile& t, const GclDims& d, int64_t u, bool trans) {
  const int64_t hq = (int64_t)t.nh * t.nq;
  GclOrigin o;
  o.t0 = (int)(u / hq) * t.tf;
  o.h0 = (int)(u % hq / t.nq) * t.th;
  o.w0 = (int)(u % t.nq) * t.tq * GCL_P;
  o.wr0 = trans ? gcl_floor_div(o.h0 - 1, d.s) : o.h0 * d.s - 1;
  o.wc0 = trans ? gcl_floor_div(o.w0 - 1, d.s) : o.w0 * d.s - 1;
  return o;
}

// Slot of the group's weights: ws[(i*9 + k)*cg + o], i the staged channel, o the accumulated one. Forward: i = ci,
// o = co (w transposed); backward-data: i = co, o = ci (w's own order). slot < cg*9*cg runs over w's KTRSC order.
template <class St>
SEV_HD void gcl_load_weight_slot(float* ws, int slot, const typename St::storage* w, int g, int cg, bool trans) {
  const int ci = slot % cg, k = slot / cg % 9, co = slot / (9 * cg);
  const float v = St::load(w[(int64_t)g * cg * 9 * cg + slot]);
  if (trans)
    ws[slot] = v;
  else
    ws[(ci * 9 + k) * cg + co] = v;
}

// Slot of the staged window, channels c0 .. c0+chunk-1 (the fastest index: a position's channels are contiguous in
// NDHWC): src is x (forward, [T][H][W]) or dy (backward-data, [T][Ho][Wo]); zero outside it (the padding).
template <class St>
SEV_HD void gcl_load_window_slot(float* xs, int slot, const typename St::storage* src, const GclDims& d,
                                 const GclTile& t, const GclOrigin& o, int n, int g, int c0, int chunk, bool trans) {
  const int c = slot % chunk;
  int rest = slot / chunk;
  const int col = rest % t.cols;
  rest /= t.cols;
  const int row = rest % t.rows, f = rest / t.rows;
  const int SR = trans ? d.Ho : d.H, SQ = trans ? d.Wo : d.W;
  const int ti = o.t0 + f, ri = o.wr0 + row, qi = o.wc0 + col;
  float v = 0.f;
  if (ti < d.T && ri >= 0 && ri < SR && qi >= 0 && qi < SQ && c0 + c < d.cg)
    v = St::load(src[(((int64_t)n * d.T + ti) * SR + ri) * SQ * d.C + (int64_t)qi * d.C + g * d.cg + c0 + c]);
  xs[c * t.plane + (f * t.rows + row) * t.cols + col] = v;
}
SEV_HD int gcl_window_slots(const GclTile& t, int chunk) { return t.tf * t.rows * t.cols * chunk; }

// thread tid of the tile: frame f, row r, thread column q (its columns q + j*tq, j < GCL_P)
SEV_HD void gcl_pos(const GclTile& t, int tid, int* f, int* r, int* q) {
  *q = tid % t.tq;
  *r = tid / t.tq % t.th;
  *f = tid / (t.tq * t.th);
}

// acc[j][o] += wk[o] * v[j] for the cg channels o (one staged value per column j, one weight row). Shared loads, not
// FMAs, bound this loop: when cg is a multiple of 4 the row is read 4 weights per load (the same products, added in
// the same order, so the host run checks the vector path too).
template <int CGMAX>
SEV_HD void gcl_fma_row(float acc[GCL_P][CGMAX], const float v[GCL_P], const float* wk, int cg) {
  if ((cg & 3) == 0) {
    GCL_UNROLL
    for (int o4 = 0; o4 < CGMAX; o4 += 4) {
      if (o4 < cg) {
        float wv[4];
        gcl_load4(wk + o4, wv);
        GCL_UNROLL
        for (int u = 0; u < 4; u++) {
          GCL_UNROLL
          for (int j = 0; j < GCL_P; j++) acc[j][o4 + u] += wv[u] * v[j];
        }
      }
    }
    return;
  }
  GCL_UNROLL
  for (int o = 0; o < CGMAX; o++) {
    if (o < cg) {
      const float wv = wk[o];
      GCL_UNROLL
      for (int j = 0; j < GCL_P; j++) acc[j][o] += wv * v[j];
    }
  }
}

// acc[j][o] += sum over the staged channels c0.. and the taps: forward
template <int CGMAX>
SEV_HD void gcl_fwd_accumulate(float acc[GCL_P][CGMAX], const float* xs, const float* ws, const GclTile& t,
                               const GclDims& d, int tid, int c0, int chunk) {
  int f, r, q;
  gcl_pos(t, tid, &f, &r, &q);
  const int s = d.s, cg = d.cg;
  for (int c = 0; c < chunk; c++) {
    const float* plane = xs + c * t.plane + (f * t.rows + r * s) * t.cols;
    for (int k = 0; k < 9; k++) {
      const int kh = k / 3, kw = k % 3;
      float v[GCL_P];
      GCL_UNROLL
      for (int j = 0; j < GCL_P; j++) v[j] = plane[kh * t.cols + (q + j * t.tq) * s + kw];
      gcl_fma_row<CGMAX>(acc, v, ws + ((c0 + c) * 9 + k) * cg, cg);
    }
  }
}

// acc[j][o] += the same sums for backward-data: dx position (hi, wi) takes dy (ho, wo) through tap (kh, kw) where
// ho*s - 1 + kh = hi; at stride 2 a column's taps depend on its parity
template <int CGMAX>
SEV_HD void gcl_bwd_accumulate(float acc[GCL_P][CGMAX], const float* xs, const float* ws, const GclTile& t,
                               const GclDims& d, const GclOrigin& o, int tid, int c0, int chunk) {
  int f, r, q;
  gcl_pos(t, tid, &f, &r, &q);
  const int s = d.s, cg = d.cg, hi = o.h0 + r;
  for (int c = 0; c < chunk; c++) {
    const float* plane = xs + c * t.plane + f * t.rows * t.cols;
    for (int kh = 0; kh < 3; kh++) {
      const int a = hi + 1 - kh;
      if (a < 0 || a % s != 0) continue;
      const float* row = plane + (a / s - o.wr0) * t.cols;
      for (int kw = 0; kw < 3; kw++) {
        float v[GCL_P];
        GCL_UNROLL
        for (int j = 0; j < GCL_P; j++) {
          const int b = o.w0 + q + j * t.tq + 1 - kw;
          v[j] = b >= 0 && b % s == 0 ? row[b / s - o.wc0] : 0.f;
        }
        gcl_fma_row<CGMAX>(acc, v, ws + ((c0 + c) * 9 + kh * 3 + kw) * cg, cg);
      }
    }
  }
}

// The forward's epilogue (the folded model's conv + bias [+ residual] + ReLU in one pass, as bias_act_ndhwc_element
// of channels_ndhwc.cuh computes it, but on the fp32 sum: one rounding): y = act((acc + bias[c]) + res); each part
// optional (NULL / 0). Backward-data has none.
struct GclEpilogue {
  const float* bias;
  const void* residual;  // y's storage type
  int relu;
};

// thread tid's results, rounded once: y (forward, [T][Ho][Wo], through the epilogue) or dx (backward-data, [T][H][W])
template <class St, int CGMAX>
SEV_HD void gcl_store(typename St::storage* dst, const float acc[GCL_P][CGMAX], const GclTile& t, const GclDims& d,
                      const GclOrigin& o, int n, int g, int tid, bool trans, const GclEpilogue& e) {
  int f, r, q;
  gcl_pos(t, tid, &f, &r, &q);
  const int DR = trans ? d.H : d.Ho, DQ = trans ? d.W : d.Wo;
  const int ti = o.t0 + f, ri = o.h0 + r;
  if (ti >= d.T || ri >= DR) return;
  GCL_UNROLL
  for (int j = 0; j < GCL_P; j++) {
    const int qi = o.w0 + q + j * t.tq;
    if (qi < DQ) {
      const int64_t at = (((int64_t)n * d.T + ti) * DR + ri) * DQ * d.C + (int64_t)qi * d.C + g * d.cg;
      const typename St::storage* res = (const typename St::storage*)e.residual;
      GCL_UNROLL
      for (int c = 0; c < CGMAX; c++) {
        if (c < d.cg) {
          float v = acc[j][c];
          if (e.bias) v = v + e.bias[g * d.cg + c];
          if (res) v = v + St::load(res[at + c]);
          if (e.relu) v = v > 0.f ? v : 0.f;
          dst[at + c] = St::store(v);
        }
      }
    }
  }
}

// ---- backward-weight: dw[co][kh][kw][ci] (fp32, KTRSC) = sum over (n, t, ho, wo) of dy[.., g*cg+co] x[n, t,
// ho*s-1+kh, wo*s-1+kw, g*cg+ci]. A group's cg*9*cg sums each run over all N*T*Ho*Wo positions: split-K. Block
// (split, group) walks its share of the output tiles (the forward's tiles, every channel of the group staged at
// once, channel-fastest: a position's cg values are one vector load); a thread owns one (tap, co) pair and its cg
// sums over ci, and `lanes` threads share a pair, each taking every lanes-th position of a tile. At the end the lanes'
// sums are added in lane order, the block writes its partial [split][group][co][k][ci], and a second kernel adds the
// splits in order into dw: every sum has one order (deterministic), the same in the host driver.
constexpr int GCL_DW_THREADS = 256;             // threads of a block, at most (pairs x lanes)
constexpr int64_t GCL_DW_TARGET_BLOCKS = 1024;  // groups x splits
constexpr int64_t GCL_DW_MAX_SCRATCH = 16 << 20;  // floats of partial weight gradients, at most

struct GclDwPlan {
  GclTile t;
  int pairs, lanes, threads, positions;  // positions of a tile: tf * th * tq * GCL_P
  int64_t tiles, splits, per_split;      // tiles over all items; splits; tiles per split
};
// floats of a tile's staging: the window (all cg channels) and the dy tile
SEV_HD int gcl_dw_staged(const GclTile& t, int cg) {
  return (t.tf * t.rows * t.cols + t.tf * t.th * t.tq * GCL_P) * cg;
}
struct GclDwFloats {
  int cg;
  SEV_HD int operator()(const GclTile& t) const { return gcl_dw_staged(t, cg); }
};
SEV_HD GclDwPlan gcl_dw_plan(const GclDims& d) {
  GclDwPlan p;
  const GclTile t = gcl_shrink(gcl_tile(d, false), d, false, GclDwFloats{d.cg});
  p.t = t;
  p.pairs = 9 * d.cg;
  p.lanes = GCL_DW_THREADS / p.pairs > 0 ? GCL_DW_THREADS / p.pairs : 1;
  p.threads = p.pairs * p.lanes;
  p.positions = t.tf * t.th * t.tq * GCL_P;
  p.tiles = (int64_t)d.N * gcl_tiles(t);
  const int64_t groups = d.C / d.cg, per_split_floats = (int64_t)d.C * 9 * d.cg;
  int64_t splits = (GCL_DW_TARGET_BLOCKS + groups - 1) / groups;
  if (splits > p.tiles) splits = p.tiles;
  if (splits * per_split_floats > GCL_DW_MAX_SCRATCH) splits = GCL_DW_MAX_SCRATCH / per_split_floats;
  if (splits < 1) splits = 1;
  p.per_split = (p.tiles + splits - 1) / splits;
  p.splits = (p.tiles + p.per_split - 1) / p.per_split;  // no empty split
  return p;
}
// the shared floats a block needs: the staging, or the lanes' sums at the end
SEV_HD int gcl_dw_smem(const GclDwPlan& p, int cg) {
  const int staged = gcl_dw_staged(p.t, cg), sums = p.threads * cg;
  return staged > sums ? staged : sums;
}

// slot of tile (n, o)'s staging: the x window [f][row][col][ci] then the dy tile [f][r][q][co], zero outside
template <class St>
SEV_HD void gcl_dw_load_slot(float* sm, int slot, const typename St::storage* x, const typename St::storage* dy,
                             const GclDims& d, const GclTile& t, const GclOrigin& o, int n, int g) {
  const int cg = d.cg, window = t.tf * t.rows * t.cols * cg;
  const int c = slot % cg;
  int rest = slot / cg;
  float v = 0.f;
  if (slot < window) {
    const int col = rest % t.cols;
    rest /= t.cols;
    const int row = rest % t.rows, f = rest / t.rows;
    const int ti = o.t0 + f, hi = o.wr0 + row, wi = o.wc0 + col;
    if (ti < d.T && hi >= 0 && hi < d.H && wi >= 0 && wi < d.W)
      v = St::load(x[(((int64_t)n * d.T + ti) * d.H + hi) * d.W * d.C + (int64_t)wi * d.C + g * cg + c]);
  } else {
    rest -= window / cg;
    const int W = t.tq * GCL_P;
    const int q = rest % W;
    rest /= W;
    const int r = rest % t.th, f = rest / t.th;
    const int ti = o.t0 + f, ho = o.h0 + r, wo = o.w0 + q;
    if (ti < d.T && ho < d.Ho && wo < d.Wo)
      v = St::load(dy[(((int64_t)n * d.T + ti) * d.Ho + ho) * d.Wo * d.C + (int64_t)wo * d.C + g * cg + c]);
  }
  sm[slot] = v;
}
SEV_HD int gcl_dw_slots(const GclTile& t, int cg) { return gcl_dw_staged(t, cg); }

// thread tid's sums over its lane's positions of the staged tile: acc[ci] for pair (k, co)
template <int CGMAX>
SEV_HD void gcl_dw_accumulate(float acc[CGMAX], const float* sm, const GclDwPlan& p, const GclDims& d, int tid) {
  const GclTile& t = p.t;
  const int cg = d.cg, s = d.s, pair = tid % p.pairs, lane = tid / p.pairs;
  const int co = pair % cg, k = pair / cg, kh = k / 3, kw = k % 3;
  const int W = t.tq * GCL_P;
  const float* dys = sm + t.tf * t.rows * t.cols * cg;
  for (int pp = lane; pp < p.positions; pp += p.lanes) {
    const int q = pp % W, r = pp / W % t.th, f = pp / (W * t.th);
    const float g = dys[pp * cg + co];
    const float* xv = sm + ((f * t.rows + r * s + kh) * t.cols + q * s + kw) * cg;
    if ((cg & 3) == 0) {  // a position's channels 4 per shared load (as gcl_fma_row)
      GCL_UNROLL
      for (int c4 = 0; c4 < CGMAX; c4 += 4) {
        if (c4 < cg) {
          float xq[4];
          gcl_load4(xv + c4, xq);
          GCL_UNROLL
          for (int u = 0; u < 4; u++) acc[c4 + u] += g * xq[u];
        }
      }
    } else {
      GCL_UNROLL
      for (int ci = 0; ci < CGMAX; ci++)
        if (ci < cg) acc[ci] += g * xv[ci];
    }
  }
}
// lane 0's thread of pair `pair`: the lanes' sums (staged at sm[tid * cg + ci]) added in lane order, its partial
// written: part[((split * groups + g) * 9 * cg + co * 9 + k) * cg + ci] (dw's KTRSC order within the group)
SEV_HD void gcl_dw_store_partial(float* part, const float* sm, const GclDwPlan& p, const GclDims& d, int64_t split,
                                 int g, int pair) {
  const int cg = d.cg, co = pair % cg, k = pair / cg;
  float* dst = part + ((split * (d.C / cg) + g) * 9 * cg + co * 9 + k) * (int64_t)cg;
  for (int ci = 0; ci < cg; ci++) {
    float v = 0.f;
    for (int lane = 0; lane < p.lanes; lane++) v += sm[(lane * p.pairs + pair) * cg + ci];
    dst[ci] = v;
  }
}
// dw element i (KTRSC over all groups): the splits' partials added in split order
SEV_HD float gcl_dw_reduce_element(const float* part, int64_t splits, int64_t i, int64_t total) {
  float v = 0.f;
  for (int64_t sp = 0; sp < splits; sp++) v += part[sp * total + i];
  return v;
}

// ---- argument check, shared by the launchers and the host drivers: NULL when the call is good, else the reason
inline const char* gcl_bad_args(int N, int C, int cg, int T, int H, int W, int s, int dtype, bool null_pointer) {
  if (N < 0 || C < 0 || T < 0 || H < 0 || W < 0) return "negative size";
  if (cg < 1 || cg > GCL_MAXCG) return "channels per group must be 1..16";
  if (C % cg != 0) return "C is not a multiple of the channels per group";
  if (s != 1 && s != 2) return "stride must be 1 or 2";
  if (dtype < 0 || dtype > 2) return "dtype must be 0 (fp32), 1 (bf16) or 2 (fp16)";
  if (N > 65535) return "more than 65535 items (grid z)";
  if (C / cg > 65535) return "more than 65535 groups";
  if ((int64_t)N * T * H * W * C >= ((int64_t)1 << 40)) return "tensor above 2^40 elements";
  if (null_pointer) return "NULL pointer";
  return nullptr;
}
