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
// functions in the same order, so they compute the device's bits up to FMA contraction: the backward's
// sum of g * xhat is an explicit fma (bn_grad_accumulate), the rest (x * a + b, the dx element, the coefficients,
// the finalize's variance and running estimates) is left to the compiler, which fuses on the device and not here.
#pragma once
#include <stdint.h>

#include <initializer_list>

#include "conv_bn_relu.cuh"

constexpr int BNL_LANES = 32;                      // channels of a tile: one warp's worth, coalesced
constexpr int BNL_ROWS = 8;                        // row lanes of a block (power of two: the column tree)
constexpr int BNL_THREADS = BNL_LANES * BNL_ROWS;  // 256
// The finalize's row lanes: a channel's P partials (up to 1024 at C = 64) are summed by 32 lanes, not 8, so the
// finalize, two blocks at C = 64, is not a chain of 128 dependent loads per thread (on an H100 its 108 launches in a
// G8 training step took 1.4 ms, 13 µs each, against the ~3 µs of an empty kernel)
constexpr int BNL_FIN_ROWS = 32;
constexpr int BNL_FIN_THREADS = BNL_LANES * BNL_FIN_ROWS;  // 1024

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
// finalize: row lane ty's share of channel c's P partials (part[p*C + c], p = ty, ty + BNL_FIN_ROWS, ...)
SEV_HD SevDouble2 bnl_parts_partial(const SevDouble2* part, int64_t c, int64_t C, int P, int ty) {
  SevDouble2 s = {0, 0};
  for (int p = ty; p < P; p += BNL_FIN_ROWS) s = s + part[(int64_t)p * C + c];
  return s;
}
// backward: thread's share of (sum g, sum g*xhat) of channel c, g the ReLU-masked dy (bnx_grad; FROM_X: the mask
// recomputed from x with the channel's forward coefficients a, b — bnx_grad_from_x), xhat in double as the NCDHW body
template <class St = SevF32, bool FROM_X = false>
SEV_HD SevDouble2 bnl_backward_partial(const typename St::storage* x, const typename St::storage* y,
                                       const typename St::storage* dy, int64_t c, double mean, double invstd,
                                       int64_t M, int64_t C, int p, int P, int ty, float a = 0.f, float b = 0.f) {
  SevDouble2 s = {0, 0};
  const int64_t step = (int64_t)P * BNL_ROWS * C;
  const int64_t end = M * C;
  for (int64_t i = ((int64_t)p * BNL_ROWS + ty) * C + c; i < end; i += step) {
    bn_grad_accumulate(s, bnx_grad_masked<St, FROM_X>(x, y, dy, i, a, b), (St::load(x[i]) - mean) * invstd);
  }
  return s;
}
// backward element i: dx rounded once; dres (when not NULL) the masked dy, exact in 16 bits
template <class St = SevF32, bool FROM_X = false>
SEV_HD void bnl_dx_element(const typename St::storage* x, const typename St::storage* y,
                           const typename St::storage* dy, typename St::storage* dx, typename St::storage* dres,
                           int64_t i, const BnBackwardCoeffs& k, float a = 0.f, float b = 0.f) {
  const float g = bnx_grad_masked<St, FROM_X>(x, y, dy, i, a, b);
  dx[i] = St::store(bn_backward_dx_element(St::load(x[i]), g, k));
  if (dres) dres[i] = St::store(g);
}
// eval element i: act(x * a + b) on the widened x, rounded once (a, b from bn_eval_coeffs)
template <class St = SevF32>
SEV_HD typename St::storage bnl_eval_element(const typename St::storage* x, int64_t i, float a, float b, int relu) {
  return St::store(bn_apply_element(St::load(x[i]), a, b, relu));
}

// ---- the element passes 16 bytes at a time: apply, eval and dx as above, element for element the same arithmetic
// (the same functions on a register copy of 16 bytes), so the same bits. Why: the scalar passes give a warp 32
// channels of a row — 128 bytes in fp32, 64 in 16 bits, one access per element — where these move 16 bytes a thread.
// The groups g = row * CV + cg of V channels (V = 16 / element size, CV = C / V) are walked by thread t from group t
// in steps of `step` groups, a multiple of CV (bnl_vec_blocks): a thread keeps one channel group, its coefficients
// computed once, and walks rows. Used when C is a multiple of V and every pointer is 16-byte aligned.
constexpr int BNL_VEC_THREADS = 256;

// blocks of a 16-byte pass (about 4 groups a thread, ~8192 blocks rounded up to the multiple, so below 16384;
// blocks * 256 a multiple of CV); 0 when C is not a multiple of V, or when CV has so small a power of two that
// rounding the grid up to the multiple would more than double it (C = 4 * 65537 at M = 1 would want 65537 blocks for
// 65537 groups): the scalar passes then
inline int64_t bnl_vec_blocks(int64_t M, int64_t C, int V) {
  if (C % V != 0) return 0;
  const int64_t CV = C / V;
  int64_t a = CV, b = BNL_VEC_THREADS;
  while (b) {
    const int64_t r = a % b;
    a = b;
    b = r;
  }
  const int64_t unit = CV / a;  // blocks in multiples of this: blocks * 256 is a multiple of CV
  int64_t want = (M * CV + 4 * BNL_VEC_THREADS - 1) / (4 * BNL_VEC_THREADS);
  if (want > 8192) want = 8192;
  const int64_t blocks = (want + unit - 1) / unit * unit;
  if (blocks > 2 * want && blocks > 64) return 0;
  return blocks;
}
inline bool bnl_aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }
// blocks of the 16-byte pass when it applies (C a multiple of the group, every given pointer aligned; NULL ones are
// absent), else 0: the scalar pass. The launchers and the host drivers decide by it alike.
template <class St>
int64_t bnl_vec_pass_blocks(int64_t M, int64_t C, std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!bnl_aligned16(p)) return 0;
  return bnl_vec_blocks(M, C, 16 / (int)sizeof(typename St::storage));
}

// thread t of the apply pass (bnl_apply_kernel's y = act(x * a + b (+ res)))
template <class St>
SEV_HD void bnl_apply_vec_thread(const typename St::storage* x, const typename St::storage* res, const float* gamma,
                                 const float* beta, const float* mean, const float* invstd, typename St::storage* y,
                                 int64_t M, int64_t C, int relu, int64_t t, int64_t step) {
  typedef typename St::storage S;
  constexpr int V = 16 / (int)sizeof(S);
  const int64_t CV = C / V, c0 = (t % CV) * V, drow = step / CV;
  float a[V], b[V];
  for (int q = 0; q < V; q++) bn_train_coeffs(gamma, beta, mean, invstd, c0 + q, &a[q], &b[q]);
  for (int64_t row = t / CV; row < M; row += drow) {
    const int64_t i = row * C + c0;
    const SevVec16<S> xv = sev_load16(x + i);
    SevVec16<S> rv, out;
    if (res) rv = sev_load16(res + i);
    for (int q = 0; q < V; q++) out.e[q] = bnx_apply_element<St>(xv.e, res ? rv.e : nullptr, q, a[q], b[q], relu);
    sev_store16(y + i, out);
  }
}
// thread t of the eval pass (bnl_eval_kernel)
template <class St>
SEV_HD void bnl_eval_vec_thread(const typename St::storage* x, const float* gamma, const float* beta,
                                const float* running_mean, const float* running_var, typename St::storage* y,
                                int64_t M, int64_t C, float eps, int relu, int64_t t, int64_t step) {
  typedef typename St::storage S;
  constexpr int V = 16 / (int)sizeof(S);
  const int64_t CV = C / V, c0 = (t % CV) * V, drow = step / CV;
  float a[V], b[V];
  for (int q = 0; q < V; q++) bn_eval_coeffs(gamma, beta, running_mean, running_var, c0 + q, eps, &a[q], &b[q]);
  for (int64_t row = t / CV; row < M; row += drow) {
    const int64_t i = row * C + c0;
    const SevVec16<S> xv = sev_load16(x + i);
    SevVec16<S> out;
    for (int q = 0; q < V; q++) out.e[q] = bnl_eval_element<St>(xv.e, q, a[q], b[q], relu);
    sev_store16(y + i, out);
  }
}
// thread t of the dx pass (bnl_dx_kernel: dx, and dres when not NULL); FROM_X: the mask recomputed from x (beta, with
// gamma, the forward's), y not read
template <class St, bool FROM_X = false>
SEV_HD void bnl_dx_vec_thread(const typename St::storage* x, const typename St::storage* y,
                              const typename St::storage* dy, const float* gamma, const float* beta, const float* mean,
                              const float* invstd, const SevDouble2* sums, typename St::storage* dx,
                              typename St::storage* dres, int64_t M, int64_t C, int64_t t, int64_t step) {
  typedef typename St::storage S;
  constexpr int V = 16 / (int)sizeof(S);
  const int64_t CV = C / V, c0 = (t % CV) * V, drow = step / CV;
  BnBackwardCoeffs k[V];
  float a[V], b[V];
  for (int q = 0; q < V; q++) {
    k[q] = bn_backward_coeffs(gamma, mean, invstd, c0 + q, sums[c0 + q], (double)M);
    a[q] = b[q] = 0.f;
    if (FROM_X) bn_train_coeffs(gamma, beta, mean, invstd, c0 + q, &a[q], &b[q]);
  }
  for (int64_t row = t / CV; row < M; row += drow) {
    const int64_t i = row * C + c0;
    const SevVec16<S> xv = sev_load16(x + i), dyv = sev_load16(dy + i);
    SevVec16<S> yv, dxv, drv;
    if (!FROM_X && y) yv = sev_load16(y + i);
    for (int q = 0; q < V; q++)  // the masked dy always goes to drv (a register copy), stored only when dres is asked
      bnl_dx_element<St, FROM_X>(xv.e, y ? yv.e : nullptr, dyv.e, dxv.e, drv.e, q, k[q], a[q], b[q]);
    sev_store16(dx + i, dxv);
    if (dres) sev_store16(dres + i, drv);
  }
}

// The statistics passes 16 bytes a thread: a thread's V channels c0.. over exactly the rows, in the order, of the
// scalar partials (row lane ty of split p: rows p*BNL_ROWS + ty, stepping P*BNL_ROWS) — so every channel's partial,
// and after the same column tree its part[p*C + c], has the scalar kernels' bits. A block is 32 channel groups x
// BNL_ROWS row lanes (32*V channels); the splits P stay bnl_splits(M, C). Used when C is a multiple of V and the
// inputs are 16-byte aligned (bnl_vec_stats_ok).
template <class St>
bool bnl_vec_stats_ok(int64_t C, std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!bnl_aligned16(p)) return false;
  return C % (16 / (int64_t)sizeof(typename St::storage)) == 0;
}
// Which (channel group, split) a lane of the 16-byte statistics kernels takes. With C/V channel groups >= 32 a block
// is 32 groups of one split (grid: tiles of 32 groups x P); with fewer, a warp would leave lanes idle — half of it at
// C = 64 in fp32, three quarters at the stem's C = 32, the largest BN tensors of SEVNet — so the block's lanes take
// `pack` splits at once: lane = j * C/V + g is group g of split blockIdx.y * pack + j (grid: 1 x ceil(P / pack)).
// Every (channel, split, row lane) partial is the same sum over the same rows as before, only on another lane, so
// the bits do not change.
struct BnlVecLane {
  int64_t c0;
  int p;
  bool active;
};
SEV_HD int bnl_vec_pack(int64_t C, int V) {
  const int64_t groups = C / V;
  return groups >= BNL_LANES ? 1 : (int)(BNL_LANES / groups);
}
// the grid of the 16-byte statistics kernels: x tiles of channel groups, y splits (packed)
SEV_HD void bnl_vec_grid(int64_t C, int V, int P, int64_t* gx, int64_t* gy) {
  const int pack = bnl_vec_pack(C, V);
  *gx = pack == 1 ? bnl_tiles(C / V) : 1;
  *gy = (P + pack - 1) / pack;
}
SEV_HD BnlVecLane bnl_vec_lane(int64_t C, int V, int P, int64_t bx, int64_t by, int lane) {
  const int pack = bnl_vec_pack(C, V);
  if (pack == 1) {
    const int64_t c0 = (bx * BNL_LANES + lane) * V;
    return {c0, (int)by, c0 < C};
  }
  const int groups = (int)(C / V), j = lane / groups;
  const int64_t p = by * pack + j;
  return {(int64_t)(lane - j * groups) * V, (int)p, j < pack && p < P};
}
template <class St>
SEV_HD void bnl_stats_partial_vec(const typename St::storage* x, int64_t c0, int64_t M, int64_t C, int p, int P, int ty,
                                  SevDouble2* s) {
  typedef typename St::storage S;
  constexpr int V = 16 / (int)sizeof(S);
  for (int q = 0; q < V; q++) s[q] = SevDouble2{0, 0};
  const int64_t step = (int64_t)P * BNL_ROWS;
  int64_t r = (int64_t)p * BNL_ROWS + ty;
  // four rows' loads issued before their sums (added in row order, as one row at a time would: the same bits): one
  // 16-byte load in flight per thread left the H100's memory idle (these passes ran at 42% of its bandwidth)
  for (; r + 3 * step < M; r += 4 * step) {
    SevVec16<S> v[4];
    for (int u = 0; u < 4; u++) v[u] = sev_load16(x + (r + u * step) * C + c0);
    for (int u = 0; u < 4; u++)
      for (int q = 0; q < V; q++) cbr_stats_add(s[q], St::load(v[u].e[q]));
  }
  for (; r < M; r += step) {
    const SevVec16<S> v = sev_load16(x + r * C + c0);
    for (int q = 0; q < V; q++) cbr_stats_add(s[q], St::load(v.e[q]));
  }
}
// FROM_X: the mask recomputed from x (gamma, beta: the forward's), y not read
template <class St, bool FROM_X = false>
SEV_HD void bnl_backward_partial_vec(const typename St::storage* x, const typename St::storage* y,
                                     const typename St::storage* dy, const float* mean, const float* invstd,
                                     int64_t c0, int64_t M, int64_t C, int p, int P, int ty, SevDouble2* s,
                                     const float* gamma = nullptr, const float* beta = nullptr) {
  typedef typename St::storage S;
  constexpr int V = 16 / (int)sizeof(S);
  double mq[V], iq[V];
  float a[V], b[V];
  for (int q = 0; q < V; q++) {
    s[q] = SevDouble2{0, 0};
    mq[q] = mean[c0 + q];
    iq[q] = invstd[c0 + q];
    a[q] = b[q] = 0.f;
    if (FROM_X) bn_train_coeffs(gamma, beta, mean, invstd, c0 + q, &a[q], &b[q]);
  }
  const int64_t step = (int64_t)P * BNL_ROWS;
  int64_t r = (int64_t)p * BNL_ROWS + ty;
  // two rows' loads (three tensors each) before their sums, added in row order (see bnl_stats_partial_vec)
  for (; r + step < M; r += 2 * step) {
    SevVec16<S> xv[2], dyv[2], yv[2];
    for (int u = 0; u < 2; u++) {
      const int64_t i = (r + u * step) * C + c0;
      xv[u] = sev_load16(x + i);
      dyv[u] = sev_load16(dy + i);
      if (!FROM_X && y) yv[u] = sev_load16(y + i);
    }
    for (int u = 0; u < 2; u++)
      for (int q = 0; q < V; q++)
        bn_grad_accumulate(s[q],
                           bnx_grad_masked<St, FROM_X>(xv[u].e, y ? yv[u].e : nullptr, dyv[u].e, q, a[q], b[q]),
                           (St::load(xv[u].e[q]) - mq[q]) * iq[q]);
  }
  for (; r < M; r += step) {
    const int64_t i = r * C + c0;
    const SevVec16<S> xv = sev_load16(x + i), dyv = sev_load16(dy + i);
    SevVec16<S> yv;
    if (!FROM_X && y) yv = sev_load16(y + i);
    for (int q = 0; q < V; q++) {
      bn_grad_accumulate(s[q], bnx_grad_masked<St, FROM_X>(xv.e, y ? yv.e : nullptr, dyv.e, q, a[q], b[q]),
                         (St::load(xv.e[q]) - mq[q]) * iq[q]);
    }
  }
}
