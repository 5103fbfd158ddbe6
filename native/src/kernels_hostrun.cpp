// Host drivers for the CUDA kernels' bodies (kernels/*.cuh): each runs the kernel's grid on the host —
// a loop over the elements for the grid-stride kernels, a loop over the blocks and, inside a block,
// over its threads for the reductions, whose per-thread shares are then summed by the same tree the
// block uses (sev_tree_sum_host). The tests compare these with the CPU ops, so the kernels'
// arithmetic and index math are checked without a GPU. The launch code around the bodies (grid
// shapes, the shared-memory tree) is what only a GPU run checks.
#include <math.h>

#include <string>
#include <vector>

#include "amp.cuh"
#include "batchnorm.cuh"
#include "channels.cuh"
#include "conv_bn_relu.cuh"
#include "elementwise.cuh"
#include "grouped_conv_ndhwc.cuh"
#include "internal.h"
#include "losses.cuh"
#include "pooling.cuh"
#include "reduce.cuh"
#include "sevnet.h"
#include "sgd.cuh"
#include "temporal_conv.cuh"
#include "temporal_conv_ndhwc.cuh"
#include "temporal_conv_ndhwc_tc.cuh"

namespace {
// the block of `threads` threads: share(tid) for each, summed as the device tree sums them
template <typename T, typename F>
T block_sum_host(int threads, F share) {
  T parts[1024];
  for (int tid = 0; tid < threads; tid++) parts[tid] = share(tid);
  return sev_tree_sum_host(parts, threads);
}
// f(St()) with the storage trait of a C ABI dtype code (SEV_DT_F32, SEV_DT_BF16, else fp16), as the launchers dispatch
template <class F>
void with_storage(int dtype, F f) {
  if (dtype == SEV_DT_F32)
    f(SevF32());
  else if (dtype == SEV_DT_BF16)
    f(SevBF16());
  else
    f(SevF16());
}
// A tiled GEMM kernel of the temporal convs (temporal_conv3_gemm_kernel, tcl_gemm_kernel): every (position
// tile, channel tile, item) block; inside a block each r-slice is staged by all its load slots (the threads
// before __syncthreads), load_slot(As, Bs, slot, n, m0, j0, r0), then accumulated by all 256 threads
// (tiles of leading dimension ld), then store(acc, tid, n, m0, j0). m0: first channel, j0: first position.
template <class LoadSlot, class Store>
void tconv_gemm_host(int N, int C, int T, int64_t S, int ld, LoadSlot load_slot, Store store) {
  static_assert(TC_BM == TC_BN, "both layouts tile positions and channels by the same 64");
  const int64_t TS = (int64_t)T * S;
  const int64_t bx = (TS + TC_BN - 1) / TC_BN, by = (C + TC_BM - 1) / TC_BM;
#pragma omp parallel for schedule(static) collapse(3)
  for (int n = 0; n < N; n++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int m0 = (int)yb * TC_BM;
        const int64_t j0 = xb * TC_BN;
        float As[TC_BK * TC_LD], Bs[TC_BK * TC_LD];
        static thread_local float acc[TC_THREADS][4][4];
        for (int tid = 0; tid < TC_THREADS; tid++)
          for (int i = 0; i < 4; i++)
            for (int q = 0; q < 4; q++) acc[tid][i][q] = 0.f;
        for (int r0 = 0; r0 < 3 * C; r0 += TC_BK) {
          for (int slot = 0; slot < TC_BK * TC_BM; slot++) load_slot(As, Bs, slot, n, m0, j0, r0);
          for (int tid = 0; tid < TC_THREADS; tid++) tconv_compute(As, ld, Bs, ld, acc[tid], tid);
        }
        for (int tid = 0; tid < TC_THREADS; tid++) store(acc[tid], tid, n, m0, j0);
      }
}

// temporal_conv3_gemm_kernel (NCDHW): tiles of leading dimension TC_BM
void temporal_conv3_gemm_host(bool trans, const float* w, const float* src, float* dst, int N, int C, int T,
                              int64_t S) {
  const int64_t TS = (int64_t)T * S;
  tconv_gemm_host(
      N, C, T, S, TC_BM,
      [&](float* As, float* Bs, int slot, int n, int m0, int64_t j0, int r0) {
        tconv_load_slot(As, Bs, slot, w, src, n, m0, j0, r0, C, S, TS, trans);
      },
      [&](const float (&acc)[4][4], int tid, int n, int m0, int64_t j0) { tconv_store(dst, acc, tid, n, m0, j0, C, TS); });
}

// tcl_gemm_kernel (temporal_conv_ndhwc.cu): padded tiles (TC_LD)
template <class St>
void tcl_gemm_host(bool trans, const typename St::storage* w, const typename St::storage* src,
                   typename St::storage* dst, int N, int C, int T, int64_t S) {
  const int64_t TS = (int64_t)T * S;
  tconv_gemm_host(
      N, C, T, S, TC_LD,
      [&](float* As, float* Bs, int slot, int n, int m0, int64_t j0, int r0) {
        tcl_load_slot<St>(As, Bs, slot, w, src, n, j0, m0, r0, C, S, TS, trans);
      },
      [&](const float (&acc)[4][4], int tid, int n, int m0, int64_t j0) {
        tcl_store<St>(dst, acc, tid, n, j0, m0, C, TS);
      });
}

// A split-K backward-weight kernel of the temporal convs (temporal_conv3_dw_kernel, tcl_dw_kernel): every
// (r tile, m tile, split) block, its slices staged by load_slot(As, Bs, slot, n, m0, r0, j0) — the only
// part the two layouts do differently — then the reduce kernel over the splits' partials.
template <class LoadSlot>
void tconv_dw_host(float* dw, int N, int C, int T, int64_t S, LoadSlot load_slot) {
  const int64_t TS = (int64_t)T * S, per = 3 * (int64_t)C * C, per_item = (TS + TC_BK - 1) / TC_BK;
  const int P = tconv_dw_splits(N, C, TS);
  const int64_t bx = (3 * C + TC_BN - 1) / TC_BN, by = (C + TC_BM - 1) / TC_BM;
  std::vector<float> parts((size_t)(per * P));
#pragma omp parallel for schedule(dynamic, 1) collapse(3)
  for (int p = 0; p < P; p++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int r0 = (int)xb * TC_BN, m0 = (int)yb * TC_BM;
        float As[TC_BK * TC_LD], Bs[TC_BK * TC_LD];
        static thread_local float acc[TC_THREADS][4][4];
        for (int tid = 0; tid < TC_THREADS; tid++)
          for (int i = 0; i < 4; i++)
            for (int q = 0; q < 4; q++) acc[tid][i][q] = 0.f;
        int64_t first, last;
        tconv_dw_split_range(tconv_dw_slices(N, TS), p, P, &first, &last);
        for (int64_t g = first; g < last; g++) {
          const int n = (int)(g / per_item);
          const int64_t j0 = (g % per_item) * TC_BK;
          for (int slot = 0; slot < TC_BK * TC_BM; slot++) load_slot(As, Bs, slot, n, m0, r0, j0);
          for (int tid = 0; tid < TC_THREADS; tid++) tconv_compute(As, TC_LD, Bs, TC_LD, acc[tid], tid);
        }
        for (int tid = 0; tid < TC_THREADS; tid++)
          tconv_dw_store_partial(parts.data() + (int64_t)p * per, acc[tid], tid, m0, r0, C);
      }
  for (int64_t i = 0; i < per; i++) dw[i] = tconv_dw_reduce_element(parts.data(), P, i, C);
}

// tcl_dw_kernel, then tcl_dw_reduce_kernel
template <class St>
void tcl_dw_host(const typename St::storage* x, const typename St::storage* dy, float* dw, int N, int C, int T,
                 int64_t S) {
  const int64_t TS = (int64_t)T * S;
  tconv_dw_host(dw, N, C, T, S, [&](float* As, float* Bs, int slot, int n, int m0, int r0, int64_t j0) {
    tcl_dw_load_slot<St>(As, Bs, slot, x, dy, n, m0, r0, j0, C, S, TS);
  });
}

// gcl_kernel (grouped_conv_ndhwc.cu): every (item, group, tile) block; inside it the group's weights, then per
// channel chunk the window staged by all its slots (the threads before __syncthreads) and every thread's
// accumulation, then every thread's store
template <class St, int CGMAX>
void gcl_host(bool trans, const typename St::storage* src, const typename St::storage* w, typename St::storage* dst,
              const GclDims& d, const GclEpilogue& e) {
  const GclTile t = gcl_tile(d, trans);
  const int threads = gcl_threads(t), groups = d.C / d.cg;
  const int64_t tiles = gcl_tiles(t);
#pragma omp parallel for schedule(static) collapse(3)
  for (int n = 0; n < d.N; n++)
    for (int g = 0; g < groups; g++)
      for (int64_t u = 0; u < tiles; u++) {
        static thread_local float xs[GCL_XS], ws[GCL_WS], acc[GCL_THREADS][GCL_P][CGMAX];
        const GclOrigin o = gcl_origin(t, d, u, trans);
        for (int slot = 0; slot < d.cg * 9 * d.cg; slot++) gcl_load_weight_slot<St>(ws, slot, w, g, d.cg, trans);
        for (int tid = 0; tid < threads; tid++)
          for (int j = 0; j < GCL_P; j++)
            for (int c = 0; c < CGMAX; c++) acc[tid][j][c] = 0.f;
        for (int c0 = 0; c0 < d.cg; c0 += t.chunk) {
          const int chunk = t.chunk < d.cg - c0 ? t.chunk : d.cg - c0;
          const int slots = gcl_window_slots(t, chunk);
          for (int slot = 0; slot < slots; slot++) gcl_load_window_slot<St>(xs, slot, src, d, t, o, n, g, c0, chunk, trans);
          for (int tid = 0; tid < threads; tid++) {
            if (trans)
              gcl_bwd_accumulate<CGMAX>(acc[tid], xs, ws, t, d, o, tid, c0, chunk);
            else
              gcl_fwd_accumulate<CGMAX>(acc[tid], xs, ws, t, d, tid, c0, chunk);
          }
        }
        for (int tid = 0; tid < threads; tid++) gcl_store<St, CGMAX>(dst, acc[tid], t, d, o, n, g, tid, trans, e);
      }
}

template <class St>
void gcl_host_cg(bool trans, const void* src, const void* w, void* dst, const GclDims& d, const GclEpilogue& e) {
  typedef typename St::storage S;
  if (d.cg <= 4)
    gcl_host<St, 4>(trans, (const S*)src, (const S*)w, (S*)dst, d, e);
  else if (d.cg <= 8)
    gcl_host<St, 8>(trans, (const S*)src, (const S*)w, (S*)dst, d, e);
  else
    gcl_host<St, 16>(trans, (const S*)src, (const S*)w, (S*)dst, d, e);
}

// gcl_dw_kernel then gcl_dw_reduce_kernel: every (split, group) block walks its tiles (staging by all slots, then
// every thread's sums), the lanes' sums staged and added in lane order into the partial; the splits added in order
template <class St, int CGMAX>
void gcl_dw_host(const typename St::storage* x, const typename St::storage* dy, float* dw, const GclDims& d) {
  const GclDwPlan p = gcl_dw_plan(d);
  const int groups = d.C / d.cg;
  const int64_t total = (int64_t)d.C * 9 * d.cg, per_item = gcl_tiles(p.t);
  std::vector<float> part((size_t)(total * p.splits));
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t split = 0; split < p.splits; split++)
    for (int g = 0; g < groups; g++) {
      static thread_local float sm[GCL_XS], acc[GCL_DW_THREADS][CGMAX];
      for (int tid = 0; tid < p.threads; tid++)
        for (int c = 0; c < CGMAX; c++) acc[tid][c] = 0.f;
      const int64_t first = split * p.per_split;
      const int64_t last = first + p.per_split < p.tiles ? first + p.per_split : p.tiles;
      const int slots = gcl_dw_slots(p.t, d.cg);
      for (int64_t tile = first; tile < last; tile++) {
        const int n = (int)(tile / per_item);
        const GclOrigin o = gcl_origin(p.t, d, tile % per_item, false);
        for (int slot = 0; slot < slots; slot++) gcl_dw_load_slot<St>(sm, slot, x, dy, d, p.t, o, n, g);
        for (int tid = 0; tid < p.threads; tid++) gcl_dw_accumulate<CGMAX>(acc[tid], sm, p, d, tid);
      }
      for (int tid = 0; tid < p.threads; tid++)
        for (int c = 0; c < d.cg; c++) sm[tid * d.cg + c] = acc[tid][c];
      for (int pair = 0; pair < p.pairs; pair++) gcl_dw_store_partial(part.data(), sm, p, d, split, g, pair);
    }
  for (int64_t i = 0; i < total; i++) dw[i] = gcl_dw_reduce_element(part.data(), p.splits, i, total);
}

int gcl_dw_checked(const void* x, const void* dy, float* dw, int N, int C, int cg, int T, int H, int W, int s,
                   int dtype) {
  const char* what = "grouped_conv_ndhwc_backward_weight";
  const bool empty = (int64_t)N * T * H * W == 0;
  const char* why = gcl_bad_args(N, C, cg, T, H, W, s, dtype, (C > 0 && !dw) || (!empty && C > 0 && (!x || !dy)));
  if (why) return sev::fail(SEV_EINVAL, std::string(what) + ": " + why);
  if (C == 0) return SEV_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  if (empty) {
    for (int64_t i = 0; i < (int64_t)C * 9 * cg; i++) dw[i] = 0.f;
    return SEV_OK;
  }
  with_storage(dtype, [&](auto st) {
    typedef decltype(st) St;
    typedef typename St::storage S;
    if (cg <= 4)
      gcl_dw_host<St, 4>((const S*)x, (const S*)dy, dw, d);
    else if (cg <= 8)
      gcl_dw_host<St, 8>((const S*)x, (const S*)dy, dw, d);
    else
      gcl_dw_host<St, 16>((const S*)x, (const S*)dy, dw, d);
  });
  return SEV_OK;
}

// the launchers' checks and dispatch (grouped_conv_ndhwc.cu's run), on the host
int gcl_checked(const char* what, bool trans, const void* src, const void* w, void* dst, const GclEpilogue& e, int N,
                int C, int cg, int T, int H, int W, int s, int dtype) {
  const bool empty = (int64_t)N * C * T * H * W == 0;
  const char* why = gcl_bad_args(N, C, cg, T, H, W, s, dtype, !empty && (!src || !w || !dst));
  if (why) return sev::fail(SEV_EINVAL, std::string(what) + ": " + why);
  if (empty) return SEV_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  if (gcl_tiles(gcl_tile(d, trans)) * (C / cg) > 0x7fffffff)
    return sev::fail(SEV_EINVAL, std::string(what) + ": more than 2^31 tiles x groups");
  with_storage(dtype, [&](auto st) { gcl_host_cg<decltype(st)>(trans, src, w, dst, d, e); });
  return SEV_OK;
}

// tt_kernel (temporal_conv_ndhwc_tc.cu): every (position tile, channel tile, item) block; each r-slice staged by
// all its 16-byte slots (the kernel's register prefetch changes only when they load), then the four warps' WMMA as
// one TT_BM x TT_BN product of the staged tiles — fp32 operands rounded to TF32 first, as the kernel's fragments
// are — then the fp32 tile through the epilogue slots.
template <class St>
float tt_operand(typename St::storage v) {
  return St::load(v);
}
template <>
float tt_operand<SevF32>(float v) {
  return tt_tf32(v);
}

template <class St>
void tt_host(bool trans, const typename St::storage* src, const typename St::storage* w, typename St::storage* dst,
             const TtDims& d, int N, const TtEpilogue& e) {
  typedef typename St::storage S;
  typedef TtGeom<S> G;
  const int64_t bx = (d.TS + TT_BM - 1) / TT_BM, by = (d.C + TT_BN - 1) / TT_BN;
#pragma omp parallel for schedule(static) collapse(3)
  for (int n = 0; n < N; n++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int m0 = (int)yb * TT_BN;
        const int64_t j0 = xb * TT_BM;
        std::vector<S> As(TT_BM * G::LDA), Bs(G::B_ELEMS);
        std::vector<float> acc(TT_BM * TT_BN, 0.f), Cs(TT_BM * G::LDC), a(TT_BK);
        for (int r0 = 0; r0 < 3 * d.C; r0 += TT_BK) {
          for (int slot = 0; slot < G::A_SLOTS; slot++)
            tt_put_a(As.data(), slot, tt_fetch_a<St>(src, d, n, j0, r0, slot, trans));
          for (int slot = 0; slot < G::B_SLOTS; slot++)
            tt_put_b(Bs.data(), slot, tt_fetch_b<St>(w, d, m0, r0, slot, trans), trans);
          for (int i = 0; i < TT_BM; i++) {
            for (int kk = 0; kk < TT_BK; kk++) a[kk] = tt_operand<St>(As[i * G::LDA + kk]);
            for (int m = 0; m < TT_BN; m++) {
              float sum = acc[i * TT_BN + m];
              for (int kk = 0; kk < TT_BK; kk++)
                sum += a[kk] * tt_operand<St>(trans ? Bs[kk * G::LDB_ROW + m] : Bs[m * G::LDB_COL + kk]);
              acc[i * TT_BN + m] = sum;
            }
          }
        }
        for (int i = 0; i < TT_BM; i++)
          for (int m = 0; m < TT_BN; m++) Cs[i * G::LDC + m] = acc[i * TT_BN + m];
        for (int slot = 0; slot < G::OUT_SLOTS; slot++) tt_store_slot<St>(dst, Cs.data(), slot, d, n, j0, m0, e);
      }
}

// tt_dw_kernel then tt_dw_reduce_kernel: every (split, m tile, r tile) block walks its slices (both tiles staged by
// their slots, then the WMMA as loops — dy's tile read column-major as the kernel's matrix_a), the tile's partials
// through the store slots, then the splits added in order
template <class St>
void tt_dw_host(const typename St::storage* x, const typename St::storage* dy, float* dw, const TtDims& d, int N) {
  typedef typename St::storage S;
  typedef TtDwGeom<S> G;
  const int C = d.C, P = tt_dw_splits(N, C, d.TS);
  const int64_t per = 3 * (int64_t)C * C, per_item = (d.TS + TT_BK - 1) / TT_BK;
  const int64_t rt = (3 * (int64_t)C + 63) / 64, mt = ((int64_t)C + 63) / 64;
  std::vector<float> scratch(P == 1 ? 0 : (size_t)(per * P));
  float* const parts_base = P == 1 ? dw : scratch.data();  // one split writes dw itself, as the launcher does
#pragma omp parallel for schedule(dynamic, 1) collapse(3)
  for (int p = 0; p < P; p++)
    for (int64_t yb = 0; yb < mt; yb++)
      for (int64_t xb = 0; xb < rt; xb++) {
        const int m0 = (int)yb * 64, r0 = (int)xb * 64;
        std::vector<S> As(TT_BK * G::LDW), Bs(TT_BK * G::LDW);
        std::vector<float> acc(64 * 64, 0.f), Cs(64 * G::LDC), a(TT_BK);
        int64_t first, last;
        tt_dw_split_range(tt_dw_slices(N, d.TS), p, P, &first, &last);
        for (int64_t g = first; g < last; g++) {
          const int n = (int)(g / per_item);
          const int64_t j0 = (g % per_item) * TT_BK;
          for (int slot = 0; slot < G::SLOTS; slot++) {
            tt_dw_put(As.data(), slot, tt_dw_fetch_dy<St>(dy, d, n, j0, m0, slot));
            tt_dw_put(Bs.data(), slot, tt_dw_fetch_x<St>(x, d, n, j0, r0, slot));
          }
          for (int m = 0; m < 64; m++) {
            for (int kk = 0; kk < TT_BK; kk++) a[kk] = tt_operand<St>(As[kk * G::LDW + m]);
            for (int r = 0; r < 64; r++) {
              float sum = acc[m * 64 + r];
              for (int kk = 0; kk < TT_BK; kk++) sum += a[kk] * tt_operand<St>(Bs[kk * G::LDW + r]);
              acc[m * 64 + r] = sum;
            }
          }
        }
        for (int m = 0; m < 64; m++)
          for (int r = 0; r < 64; r++) Cs[m * G::LDC + r] = acc[m * 64 + r];
        for (int slot = 0; slot < G::OUT_SLOTS; slot++)
          tt_dw_store_slot(parts_base + (int64_t)p * per, Cs.data(), G::LDC, slot, m0, r0, C);
      }
  if (P > 1)
    for (int64_t i = 0; i < per; i++) dw[i] = tt_dw_reduce_element(parts_base, P, i, per);
}

int tt_dw_checked(const void* x, const void* dy, float* dw, int N, int C, int T, int64_t S, int dtype) {
  const char* what = "temporal_conv3_ndhwc_tc_backward_weight";
  const bool empty = N == 0 || T == 0 || S == 0;
  const char* why = tt_bad_args(N, C, T, S, dtype, (C > 0 && !dw) || (!empty && C > 0 && (!x || !dy)));
  if (why) return sev::fail(SEV_EINVAL, std::string(what) + ": " + why);
  if (C == 0) return SEV_OK;
  if (empty) {
    for (int64_t i = 0; i < 3 * (int64_t)C * C; i++) dw[i] = 0.f;
    return SEV_OK;
  }
  const TtDims d = tt_dims(C, T, S, dtype == SEV_DT_F32 ? 4 : 2, x, dy, nullptr, nullptr);
  with_storage(dtype, [&](auto st) {
    typedef decltype(st) St;
    typedef typename St::storage Sx;
    tt_dw_host<St>((const Sx*)x, (const Sx*)dy, dw, d, N);
  });
  return SEV_OK;
}

// the launcher's checks and dispatch (temporal_conv_ndhwc_tc.cu's run), on the host
int tt_checked(const char* what, bool trans, const void* src, const void* w, void* dst, const TtEpilogue& e, int N,
               int C, int T, int64_t S, int dtype) {
  const bool empty = N == 0 || C == 0 || T == 0 || S == 0;
  const char* why = tt_bad_args(N, C, T, S, dtype, !empty && (!src || !w || !dst));
  if (why) return sev::fail(SEV_EINVAL, std::string(what) + ": " + why);
  if (empty) return SEV_OK;
  const TtDims d = tt_dims(C, T, S, dtype == SEV_DT_F32 ? 4 : 2, src, w, dst, e.residual);
  with_storage(dtype, [&](auto st) {
    typedef decltype(st) St;
    typedef typename St::storage Sx;
    tt_host<St>(trans, (const Sx*)src, (const Sx*)w, (Sx*)dst, d, N, e);
  });
  return SEV_OK;
}

// the launchers' check (tcl_bad_args), with the message they would leave in sevc_last_error()
int tcl_check(const char* what, int N, int C, int T, int64_t S, bool null_pointer) {
  const char* why = tcl_bad_args(N, C, T, S, null_pointer);
  if (!why) return SEV_OK;
  return sev::fail(SEV_EINVAL, std::string(what) + ": " + why + " (N=" + std::to_string(N) + ", C=" +
                                   std::to_string(C) + ", T=" + std::to_string(T) + ", S=" + std::to_string(S) + ")");
}

template <class St>
int tcl_gemm_checked(const char* what, bool trans, const typename St::storage* w, const typename St::storage* src,
                     typename St::storage* dst, int N, int C, int T, int64_t S) {
  const bool empty = N == 0 || C == 0 || T == 0 || S == 0;
  if (tcl_check(what, N, C, T, S, !empty && (!w || !src || !dst))) return SEV_EINVAL;
  if (empty) return SEV_OK;
  tcl_gemm_host<St>(trans, w, src, dst, N, C, T, S);
  return SEV_OK;
}

template <class St>
int tcl_dw_checked(const char* what, const typename St::storage* x, const typename St::storage* dy, float* dw, int N,
                   int C, int T, int64_t S) {
  const bool null_pointer = (C > 0 && !dw) || (N > 0 && C > 0 && T > 0 && S > 0 && (!x || !dy));
  if (tcl_check(what, N, C, T, S, null_pointer)) return SEV_EINVAL;
  if (C == 0) return SEV_OK;
  tcl_dw_host<St>(x, dy, dw, N, C, T, S);
  return SEV_OK;
}

// ---- conv_bn_relu.cu's kernels, block by block (each block's threads one after another between the
// __syncthreads, as the temporal conv's driver)

// pw_conv_kernel; part != NULL: the training form (raw output, per-block row statistics by the 16-lane tree)
void pw_conv_host(const float* x, const float* w, float* y, SevDouble2* part, const CbrEpilogue& e, int N, int Cin,
                  int Cout, int64_t S) {
  const int64_t bx = (S + TC_BN - 1) / TC_BN, by = (Cout + TC_BM - 1) / TC_BM, P = pw_stat_parts(N, S);
#pragma omp parallel for schedule(static) collapse(3)
  for (int n = 0; n < N; n++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int m0 = (int)yb * TC_BM;
        const int64_t j0 = xb * TC_BN;
        float As[TC_BK * TC_BM], Bs[TC_BK * TC_BN];
        static thread_local float acc[TC_THREADS][4][4];
        for (int tid = 0; tid < TC_THREADS; tid++)
          for (int i = 0; i < 4; i++)
            for (int q = 0; q < 4; q++) acc[tid][i][q] = 0.f;
        for (int r0 = 0; r0 < Cin; r0 += TC_BK) {
          for (int slot = 0; slot < TC_BK * TC_BM; slot++) pw_load_slot(As, Bs, slot, w, x, n, m0, j0, r0, Cin, Cout, S);
          for (int tid = 0; tid < TC_THREADS; tid++) tconv_compute(As, TC_BM, Bs, TC_BN, acc[tid], tid);
        }
        for (int tid = 0; tid < TC_THREADS; tid++) pw_store(y, acc[tid], tid, n, m0, j0, Cout, S, part ? nullptr : &e);
        if (!part) continue;
        for (int ty = 0; ty < TC_THREADS / 16; ty++)
          for (int i = 0; i < 4; i++) {
            SevDouble2 v[16];
            for (int tx = 0; tx < 16; tx++) v[tx] = pw_row_stats(acc[ty * 16 + tx], i, ty * 16 + tx, j0, S);
            const int m = m0 + ty * 4 + i;
            if (m < Cout) part[m * P + n * bx + xb] = sev_tree_sum_host(v, 16);
          }
      }
}

// gc_fwd_kernel: blocks (tile u, group g, item n); part != NULL: the training form (warp trees, warps in order)
template <class St = SevF32>
void gc_fwd_host(const typename St::storage* x, const typename St::storage* w, typename St::storage* y,
                 SevDouble2* part, const CbrEpilogue& e, const GcDims& d) {
  const GcTile t = gc_tile(d.T, d.Ho, d.Wo, GC_THREADS);
  const int64_t tiles = gc_tiles(t), P = (int64_t)d.N * tiles;
  const int G = d.C / d.cg, nx = t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s), tp = t.tf * t.th * t.tw;
#pragma omp parallel for schedule(dynamic, 1) collapse(3)
  for (int n = 0; n < d.N; n++)
    for (int g = 0; g < G; g++)
      for (int64_t u = 0; u < tiles; u++) {
        const GcOrigin o = gc_origin(t, u);
        std::vector<float> ws(d.cg * d.cg * 9), xs(nx);
        static thread_local float acc[GC_THREADS][GC_MAXCG];
        for (int tid = 0; tid < GC_THREADS; tid++)
          for (int c = 0; c < GC_MAXCG; c++) acc[tid][c] = 0.f;
        for (int i = 0; i < d.cg * d.cg * 9; i++) gc_load_weight_slot<St>(ws.data(), i, w, g, d.cg, false);
        for (int ci = 0; ci < d.cg; ci++) {
          for (int i = 0; i < nx; i++) gc_fwd_load_slot<St>(xs.data(), i, x, d, t, o, n, g, ci);
          for (int tid = 0; tid < tp; tid++) {
            int f, r, q;
            gc_pos(t, tid, &f, &r, &q);
            float v[9];
            gc_fwd_taps(v, xs.data(), d, t, f, r, q);
            gc_accumulate<GC_MAXCG>(acc[tid], v, ws.data(), ci, d.cg);
          }
        }
        bool valid[GC_THREADS];
        for (int tid = 0; tid < GC_THREADS; tid++) {
          int f, r, q;
          gc_pos(t, tid, &f, &r, &q);
          valid[tid] = tid < tp && gc_out_valid(d, o, f, r, q, true);
          if (valid[tid]) gc_fwd_store<GC_MAXCG, St>(y, acc[tid], d, o, n, g, f, r, q, part ? nullptr : &e);
        }
        if (!part) continue;
        for (int co = 0; co < d.cg; co++) {
          SevDouble2 warp_sums[GC_WARPS];
          for (int wp = 0; wp < GC_WARPS; wp++) {
            SevDouble2 v[32];
            for (int lane = 0; lane < 32; lane++) {
              v[lane] = {0, 0};
              if (valid[wp * 32 + lane]) cbr_stats_add(v[lane], acc[wp * 32 + lane][co]);
            }
            warp_sums[wp] = sev_tree_sum_host(v, 32);
          }
          part[(int64_t)(g * d.cg + co) * P + n * tiles + u] = gc_sum_warps(warp_sums);
        }
      }
}

// the training forward's last two kernels: cbr_finalize_kernel (one block per channel), bnx_apply_kernel
template <class St = SevF32>
void finalize_and_apply_host(const SevDouble2* part, int64_t P, const typename St::storage* z,
                             const typename St::storage* res, const float* gamma, const float* beta,
                             typename St::storage* y, float* save_mean, float* save_invstd, float* running_mean,
                             float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                             int relu) {
  const int nt = CBR_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    const SevDouble2 tot = block_sum_host<SevDouble2>(nt, [&](int tid) { return cbr_parts_partial(part, c, P, tid, nt); });
    cbr_stats_finalize(c, tot, N * S, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    float a, b;
    bn_train_coeffs(gamma, beta, save_mean, save_invstd, nc % C, &a, &b);
    for (int64_t s = 0; s < S; s++) y[nc * S + s] = bnx_apply_element<St>(z, res, nc * S + s, a, b, relu);
  }
}

template <typename F>
float block_max_host(int threads, F share) {
  float m = -INFINITY;
  for (int tid = 0; tid < threads; tid++) m = fmaxf(m, share(tid));
  return m;
}
// the batch-norm glue (bnx_* kernels of conv_bn_relu.cu), one driver per storage type as the kernels
template <class St>
int bn_act_train_forward_host(const typename St::storage* x, const typename St::storage* residual, const float* gamma,
                              const float* beta, typename St::storage* y, float* save_mean, float* save_invstd,
                              float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S, float eps,
                              float momentum, int relu) {
  if (N * S <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int P = bnx_splits(N, C, S), nt = CBR_THREADS;
  std::vector<SevDouble2> part((size_t)(C * P));
  // bnx_stats_kernel: blocks (p, c)
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t c = 0; c < C; c++)
    for (int p = 0; p < P; p++)
      part[c * P + p] =
          block_sum_host<SevDouble2>(nt, [&](int tid) { return bnx_stats_partial<St>(x, c, N, C, S, p, P, tid, nt); });
  finalize_and_apply_host<St>(part.data(), P, x, residual, gamma, beta, y, save_mean, save_invstd, running_mean,
                              running_var, N, C, S, eps, momentum, relu);
  return SEV_OK;
}

template <class St>
int bn_act_backward_host(const typename St::storage* x, const typename St::storage* y,
                         const typename St::storage* dy, const float* gamma, const float* save_mean,
                         const float* save_invstd, typename St::storage* dx, float* dgamma, float* dbeta,
                         typename St::storage* dresidual, int64_t N, int64_t C, int64_t S) {
  const int P = bnx_splits(N, C, S), nt = CBR_THREADS;
  std::vector<SevDouble2> part((size_t)(C * P));
  // bnx_backward_stats_kernel: blocks (p, c)
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t c = 0; c < C; c++)
    for (int p = 0; p < P; p++)
      part[c * P + p] = block_sum_host<SevDouble2>(nt, [&](int tid) {
        return bnx_backward_partial<St>(x, y, dy, c, save_mean[c], save_invstd[c], N, C, S, p, P, tid, nt);
      });
  // bnx_backward_dx_kernel: every block of a channel adds the same partials in the same order, so once here
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    const SevDouble2 sums =
        block_sum_host<SevDouble2>(nt, [&](int tid) { return cbr_parts_partial(part.data(), c, P, tid, nt); });
    if (dgamma) dgamma[c] = (float)sums.b;
    if (dbeta) dbeta[c] = (float)sums.a;
    const BnBackwardCoeffs k = bn_backward_coeffs(gamma, save_mean, save_invstd, c, sums, (double)N * S);
    for (int p = 0; p < P; p++)
      for (int tid = 0; tid < nt; tid++)
        bnx_backward_dx_partial<St>(x, y, dy, dx, dresidual, c, k, N, C, S, p, P, tid, nt);
  }
  return SEV_OK;
}

template <class St>
int gc_bwd_data_host(const typename St::storage* dy, const typename St::storage* w, typename St::storage* dx, int N,
                     int C, int cg, int T, int H, int W, int stride) {
  const GcDims d = gc_dims(N, C, cg, T, H, W, stride);
  const GcTile t = gc_tile(T, H, W, GC_THREADS);
  const int64_t tiles = gc_tiles(t);
  const int G = C / cg, tp = t.tf * t.th * t.tw;
  // gc_bwd_data_kernel: blocks (tile u of input positions, group g, item n)
#pragma omp parallel for schedule(dynamic, 1) collapse(3)
  for (int n = 0; n < N; n++)
    for (int g = 0; g < G; g++)
      for (int64_t u = 0; u < tiles; u++) {
        const GcOrigin o = gc_origin(t, u);
        const GcWindow win = gc_bwd_window(d, t, o);
        const int nd = t.tf * win.rows * win.cols;
        std::vector<float> ws(cg * cg * 9), ds(nd);
        static thread_local float acc[GC_THREADS][GC_MAXCG];
        for (int tid = 0; tid < GC_THREADS; tid++)
          for (int c = 0; c < GC_MAXCG; c++) acc[tid][c] = 0.f;
        for (int i = 0; i < cg * cg * 9; i++) gc_load_weight_slot<St>(ws.data(), i, w, g, cg, true);
        for (int co = 0; co < cg; co++) {
          for (int i = 0; i < nd; i++) gc_bwd_load_slot<St>(ds.data(), i, dy, d, o, win, n, g, co);
          for (int tid = 0; tid < tp; tid++) {
            int f, r, q;
            gc_pos(t, tid, &f, &r, &q);
            float v[9];
            gc_bwd_taps(v, ds.data(), d, o, win, f, r, q);
            gc_accumulate<GC_MAXCG>(acc[tid], v, ws.data(), co, cg);
          }
        }
        for (int tid = 0; tid < tp; tid++) {
          int f, r, q;
          gc_pos(t, tid, &f, &r, &q);
          if (!gc_out_valid(d, o, f, r, q, false)) continue;
          for (int ci = 0; ci < cg; ci++) dx[gc_in_index(d, n, g * cg + ci, o, f, r, q)] = St::store(acc[tid][ci]);
        }
      }
  return SEV_OK;
}
}  // namespace

extern "C" {

// ---------------------------------------------------------------- element-wise (elementwise.cu)
int sev_hostrun_fill(float* y, float value, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = value;
  return SEV_OK;
}

int sev_hostrun_relu_forward(const float* x, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = relu_element(x[i]);
  return SEV_OK;
}

int sev_hostrun_relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = relu_backward_element(y[i], dy[i]);
  return SEV_OK;
}

int sev_hostrun_add(const float* a, const float* b, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
  return SEV_OK;
}

int sev_hostrun_add_relu(const float* a, const float* b, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = add_relu_element(a[i], b[i]);
  return SEV_OK;
}

int sev_hostrun_mul(const float* a, const float* b, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
  return SEV_OK;
}

int sev_hostrun_axpby(float alpha, const float* x, float beta, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = axpby_element(alpha, x[i], beta, y, i);
  return SEV_OK;
}

int sev_hostrun_scale(const float* x, float alpha, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
  return SEV_OK;
}

int sev_hostrun_sigmoid_forward(const float* x, float* y, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid_element(x[i]);
  return SEV_OK;
}

int sev_hostrun_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = sigmoid_backward_element(y[i], dy[i]);
  return SEV_OK;
}

int sev_hostrun_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed) {
  SEV_HOSTRUN_SCOPE();
  const float keep_scale = dropout_keep_scale(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float m = dropout_mask_element(seed, i, p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
  return SEV_OK;
}

int sev_hostrun_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    for (int64_t s = 0; s < S; s++) bias_relu_element(y, bias, nc, s, C, S, relu);
  return SEV_OK;
}

// ---------------------------------------------------------------- channels (channels.cu)
int sev_hostrun_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb,
                                int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int64_t total = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) y[i] = concat_element(a, b, i, Ca, Cb, S);
  return SEV_OK;
}

int sev_hostrun_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int64_t total = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) split_element(y, a, b, i, Ca, Cb, S);
  return SEV_OK;
}

int sev_hostrun_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    for (int64_t s = 0; s < S; s++) channel_scale_element(x, g, y, nc, s, S);
  return SEV_OK;
}

int sev_hostrun_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                                       int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int nt = CHANNEL_SCALE_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    dg[nc] = (float)block_sum_host<double>(
        nt, [&](int tid) { return channel_scale_backward_partial(x, g, dy, dx, nc, S, tid, nt); });
  return SEV_OK;
}

// ---------------------------------------------------------------- batch norm (batchnorm.cu)
int sev_hostrun_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y,
                                        float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                        int64_t N, int64_t C, int64_t S, float eps, float momentum) {
  SEV_HOSTRUN_SCOPE();
  const int64_t count = N * S;
  if (count <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int nt = BN_THREADS;
  // bn_stats_kernel: one block per channel
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    const double mean =
        block_sum_host<double>(nt, [&](int tid) { return bn_sum_partial(x, c, N, C, S, tid, nt); }) / count;
    const double sqdev = block_sum_host<double>(nt, [&](int tid) { return bn_sqdev_partial(x, c, mean, N, C, S, tid, nt); });
    bn_train_finalize(c, mean, sqdev, count, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
  // bn_train_apply_kernel: rows of [N*C, S]
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    float a, b;
    bn_train_coeffs(gamma, beta, save_mean, save_invstd, nc % C, &a, &b);
    for (int64_t s = 0; s < S; s++) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, 0);
  }
  return SEV_OK;
}

int sev_hostrun_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var, float* y, int64_t N,
                                       int64_t C, int64_t S, float eps, int relu) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    float a, b;
    bn_eval_coeffs(gamma, beta, running_mean, running_var, nc % C, eps, &a, &b);
    for (int64_t s = 0; s < S; s++) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, relu);
  }
  return SEV_OK;
}

int sev_hostrun_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N,
                                   int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int nt = BN_THREADS;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    const SevDouble2 sums = block_sum_host<SevDouble2>(nt, [&](int tid) {
      return bn_backward_partial(x, dy, c, save_mean[c], save_invstd[c], N, C, S, tid, nt);
    });
    if (dgamma) dgamma[c] = (float)sums.b;
    if (dbeta) dbeta[c] = (float)sums.a;
    const BnBackwardCoeffs k = bn_backward_coeffs(gamma, save_mean, save_invstd, c, sums, (double)N * S);
    for (int tid = 0; tid < nt; tid++) bn_backward_dx_partial(x, dy, dx, c, k, N, C, S, tid, nt);
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- pooling (pooling.cu)
int sev_hostrun_avgpool3d_forward(const float* x, float* y, const int* pp) {
  SEV_HOSTRUN_SCOPE();
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_out_count(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = avgpool3d_forward_element(x, p, i);
  return SEV_OK;
}

int sev_hostrun_avgpool3d_backward(const float* dy, float* dx, const int* pp) {
  SEV_HOSTRUN_SCOPE();
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_in_count(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = avgpool3d_backward_element(dy, p, i);
  return SEV_OK;
}

int sev_hostrun_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int nt = GAP_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    y[nc] = global_avgpool_finish(
        block_sum_host<double>(nt, [&](int tid) { return global_avgpool_partial(x, nc, S, tid, nt); }), S);
  return SEV_OK;
}

int sev_hostrun_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float g = global_avgpool_backward_element(dy, nc, S);
    for (int64_t s = 0; s < S; s++) dx[nc * S + s] = g;
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- losses (losses.cu)
int sev_hostrun_softmax(const float* x, float* y, int64_t N, int64_t K) {
  SEV_HOSTRUN_SCOPE();
  const int nt = SOFTMAX_THREADS;
  for (int64_t n = 0; n < N; n++) {
    const float* xp = x + n * K;
    float* yp = y + n * K;
    const float mx = block_max_host(nt, [&](int tid) { return row_max_partial(xp, K, tid, nt); });
    const double s = block_sum_host<double>(nt, [&](int tid) { return softmax_exp_partial(xp, yp, mx, K, tid, nt); });
    for (int tid = 0; tid < nt; tid++) softmax_scale_partial(yp, (float)(1.0 / s), K, tid, nt);
  }
  return SEV_OK;
}

int sev_hostrun_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                                     int64_t K) {
  SEV_HOSTRUN_SCOPE();
  const int nt = SOFTMAX_THREADS;
  for (int64_t n = 0; n < N; n++) {  // xent_probs_kernel: one block per row
    const float* xp = logits + n * K;
    const float mx = block_max_host(nt, [&](int tid) { return row_max_partial(xp, K, tid, nt); });
    const double lse =
        mx + log(block_sum_host<double>(nt, [&](int tid) { return xent_sumexp_partial(xp, mx, K, tid, nt); }));
    for (int tid = 0; tid < nt; tid++) xent_probs_partial(xp, probs + n * K, lse, K, tid, nt);
  }
  // xent_loss_kernel: one block
  const double total = block_sum_host<double>(
      LOSS_THREADS, [&](int tid) { return xent_loss_partial(logits, labels, N, K, tid, LOSS_THREADS); });
  *loss = (float)(total / N);
  return SEV_OK;
}

int sev_hostrun_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale,
                                      int64_t N, int64_t K) {
  SEV_HOSTRUN_SCOPE();
  const float s = scale / (float)N;
  for (int64_t i = 0; i < N * K; i++) dlogits[i] = xent_backward_element(probs, labels, i, s, K);
  return SEV_OK;
}

int sev_hostrun_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K) {
  SEV_HOSTRUN_SCOPE();
  const int64_t n = N * K;
  const double total =
      block_sum_host<double>(LOSS_THREADS, [&](int tid) { return bce_loss_partial(logits, targets, n, tid, LOSS_THREADS); });
  *loss = (float)(total / (double)n);
  return SEV_OK;
}

int sev_hostrun_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                                    int64_t K) {
  SEV_HOSTRUN_SCOPE();
  const float s = scale / (float)(N * K);
  for (int64_t i = 0; i < N * K; i++) dlogits[i] = bce_backward_element(logits[i], targets[i], s);
  return SEV_OK;
}

// ---------------------------------------------------------------- optimizer (sgd.cu)
int sev_hostrun_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                  float weight_decay) {
  SEV_HOSTRUN_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) sgd_momentum_element(w, g, v, i, lr, momentum, weight_decay);
  return SEV_OK;
}

extern "C++" {  // a template inside the C functions' block
namespace {
// The blocks of a multi-tensor launch (multi_tensor.cuh), one after another: body(t, begin, end) per chunk.
template <class Body>
int hostrun_chunks(const int64_t* sizes, const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk,
                   Body body) {
  if (count < 0 || chunks < 0 || chunk < 1) return SEV_EINVAL;
  for (int64_t c = 0; c < chunks; c++) {  // blockIdx.x
    const int t = multi_chunk_tensor(chunk_prefix, count, c);
    int64_t begin, end;
    multi_chunk_range(chunk_prefix, t, c, chunk, sizes[t], &begin, &end);
    body(t, begin, end);
  }
  return SEV_OK;
}
}  // namespace
}  // extern "C++"

// w, g, v, sizes: HOST arrays of host pointers / counts (the device version takes device arrays)
int sev_hostrun_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                        const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk,
                                        float lr, float momentum, float weight_decay) {
  SEV_HOSTRUN_SCOPE();
  return hostrun_chunks(sizes, chunk_prefix, count, chunks, chunk, [&](int t, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) sgd_momentum_element(w[t], g[t], v[t], i, lr, momentum, weight_decay);
  });
}

// ---------------------------------------------------------------- axpby over a list (elementwise.cu)
// The kernel's batches of AXPBY_LIST_MAX tensors and blocks (one per chunk); the threads of a block stride its chunk.
int sev_hostrun_axpby_list(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes,
                           int count) {
  SEV_HOSTRUN_SCOPE();
  if (count < 0 || (count > 0 && (!x || !y || !sizes))) return SEV_EINVAL;
  for (int t = 0; t < count; t++)  // as the device entry point: every entry checked before anything is written
    if (sizes[t] < 0 || (sizes[t] > 0 && (!x[t] || !y[t]))) return SEV_EINVAL;
  for (int first = 0; first < count; first += AXPBY_LIST_MAX) {
    const AxpbyList L = axpby_list_batch(x, y, sizes, first, count);
    for (int64_t c = 0; c < L.prefix[L.count]; c++) {  // blockIdx.x
      int t;
      int64_t begin, end;
      axpby_list_chunk(L, c, &t, &begin, &end);
      for (int64_t i = begin; i < end; i++) L.y[t][i] = axpby_element(alpha, L.x[t][i], beta, L.y[t], i);
    }
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- loss scaling (amp.cu)
// x, sizes: HOST arrays of host pointers / counts (the device version takes device arrays). The kernel's
// blocks OR their threads' findings and store 1; the order of the stores does not matter for a flag.
int sev_hostrun_all_finite_multi(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                                 int64_t chunks, int64_t chunk, int* nonfinite) {
  SEV_HOSTRUN_SCOPE();
  if (count < 0 || chunks < 0 || chunk < 1) return SEV_EINVAL;
  *nonfinite = 0;  // the cudaMemsetAsync before the launch
  return hostrun_chunks(sizes, chunk_prefix, count, chunks, chunk, [&](int t, int64_t begin, int64_t end) {
    int bad = 0;
    for (int64_t i = begin; i < end; i++) bad |= nonfinite_element(x[t], i);
    if (bad) *nonfinite = 1;
  });
}

int sev_hostrun_scale_multi(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                            int64_t chunks, int64_t chunk, float alpha) {
  SEV_HOSTRUN_SCOPE();
  return hostrun_chunks(sizes, chunk_prefix, count, chunks, chunk, [&](int t, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) scale_inplace_element(x[t], i, alpha);
  });
}

// ---------------------------------------------------------------- reductions (reduce.cu)
int sev_hostrun_sum(const float* x, int64_t n, double* out) {
  SEV_HOSTRUN_SCOPE();
  const int blocks = sum_blocks(n);
  const int64_t gnt = (int64_t)blocks * SUM_THREADS;
  double total = 0;  // the device adds the block sums atomically, in no fixed order
  for (int b = 0; b < blocks; b++)
    total += block_sum_host<double>(
        SUM_THREADS, [&](int tid) { return sum_partial(x, n, (int64_t)b * SUM_THREADS + tid, gnt); });
  *out = total;
  return SEV_OK;
}

// ---------------------------------------------------------------- temporal conv (temporal_conv.cu)
int sev_hostrun_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  temporal_conv3_gemm_host(false, w, x, y, N, C, T, S);
  return SEV_OK;
}

int sev_hostrun_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T,
                                             int64_t S) {
  SEV_HOSTRUN_SCOPE();
  temporal_conv3_gemm_host(true, w, dy, dx, N, C, T, S);
  return SEV_OK;
}

int sev_hostrun_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T,
                                               int64_t S) {
  SEV_HOSTRUN_SCOPE();
  // temporal_conv3_dw_kernel, then temporal_conv3_dw_reduce_kernel
  const int64_t TS = (int64_t)T * S;
  tconv_dw_host(dw, N, C, T, S, [&](float* As, float* Bs, int slot, int n, int m0, int r0, int64_t j0) {
    tconv_dw_load_slot(As, Bs, slot, x, dy, n, m0, r0, j0, C, S, TS);
  });
  return SEV_OK;
}

// ---------------------------------------------------------------- channels-last temporal conv (temporal_conv_ndhwc.cu)
int sev_hostrun_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T,
                                                 int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_gemm_checked<SevF32>("temporal_conv3_ndhwc_forward_f32", false, w, x, y, N, C, T, S);
}

int sev_hostrun_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C,
                                                  int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_gemm_checked<SevBF16>("temporal_conv3_ndhwc_forward_bf16", false, w, x, y, N, C, T, S);
}

int sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C,
                                                       int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_gemm_checked<SevF32>("temporal_conv3_ndhwc_backward_data_f32", true, w, dy, dx, N, C, T, S);
}

int sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N,
                                                        int C, int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_gemm_checked<SevBF16>("temporal_conv3_ndhwc_backward_data_bf16", true, w, dy, dx, N, C, T, S);
}

int sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C,
                                                         int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_dw_checked<SevF32>("temporal_conv3_ndhwc_backward_weight_f32", x, dy, dw, N, C, T, S);
}

int sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N,
                                                          int C, int T, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return tcl_dw_checked<SevBF16>("temporal_conv3_ndhwc_backward_weight_bf16", x, dy, dw, N, C, T, S);
}

// ---------------------------------------------------------------- channels-last grouped conv (grouped_conv_ndhwc.cu)
int sev_hostrun_grouped_conv_ndhwc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                           int relu, void* y, int N, int C, int cg, int T, int H, int W, int s,
                                           int dtype) {
  SEV_HOSTRUN_SCOPE();
  return gcl_checked("grouped_conv_ndhwc_forward", false, x, w, y, GclEpilogue{bias, residual, relu}, N, C, cg, T, H,
                     W, s, dtype);
}

int sev_hostrun_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T,
                                                 int H, int W, int s, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return gcl_checked("grouped_conv_ndhwc_backward_data", true, dy, w, dx, GclEpilogue{nullptr, nullptr, 0}, N, C, cg,
                     T, H, W, s, dtype);
}

int sev_hostrun_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg,
                                                   int T, int H, int W, int s, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return gcl_dw_checked(x, dy, dw, N, C, cg, T, H, W, s, dtype);
}

// ---------------------------------------------------------------- tensor-core temporal conv (temporal_conv_ndhwc_tc.cu)
int sev_hostrun_temporal_conv3_ndhwc_tc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                                int relu, void* y, int N, int C, int T, int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return tt_checked("temporal_conv3_ndhwc_tc_forward", false, x, w, y, TtEpilogue{bias, residual, relu}, N, C, T, S,
                    dtype);
}

int sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int T,
                                                      int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return tt_checked("temporal_conv3_ndhwc_tc_backward_data", true, dy, w, dx, TtEpilogue{nullptr, nullptr, 0}, N, C,
                    T, S, dtype);
}

int sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int T,
                                                        int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return tt_dw_checked(x, dy, dw, N, C, T, S, dtype);
}

// ---------------------------------------------------------------- fused conv -> BN -> ReLU (conv_bn_relu.cu)
int sev_hostrun_pointwise_conv_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                       const float* beta, const float* running_mean, const float* running_var,
                                       float eps, int relu, float* y, int N, int Cin, int Cout, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  pw_conv_host(x, w, y, nullptr, {bias, gamma, beta, running_mean, running_var, eps, relu}, N, Cin, Cout, S);
  return SEV_OK;
}

int sev_hostrun_pointwise_conv_bn_train(const float* x, const float* w, const float* gamma, const float* beta,
                                        float* z, float* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, float eps, float momentum, int relu,
                                        int N, int Cin, int Cout, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  if ((int64_t)N * S <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int64_t P = pw_stat_parts(N, S);
  std::vector<SevDouble2> part((size_t)(Cout * P));
  pw_conv_host(x, w, z, part.data(), {}, N, Cin, Cout, S);
  finalize_and_apply_host(part.data(), P, z, nullptr, gamma, beta, y, save_mean, save_invstd, running_mean,
                          running_var, N, Cout, S, eps, momentum, relu);
  return SEV_OK;
}

int sev_hostrun_grouped_conv3x3_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                        const float* beta, const float* running_mean, const float* running_var,
                                        float eps, int relu, float* y, int N, int C, int cg, int T, int H, int W,
                                        int stride) {
  SEV_HOSTRUN_SCOPE();
  gc_fwd_host(x, w, y, nullptr, {bias, gamma, beta, running_mean, running_var, eps, relu},
              gc_dims(N, C, cg, T, H, W, stride));
  return SEV_OK;
}

int sev_hostrun_grouped_conv3x3_forward_bf16(const uint16_t* x, const uint16_t* w, const float* bias,
                                             const float* gamma, const float* beta, const float* running_mean,
                                             const float* running_var, float eps, int relu, uint16_t* y, int N, int C,
                                             int cg, int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  gc_fwd_host<SevBF16>(x, w, y, nullptr, {bias, gamma, beta, running_mean, running_var, eps, relu},
                       gc_dims(N, C, cg, T, H, W, stride));
  return SEV_OK;
}

int sev_hostrun_grouped_conv3x3_forward_f16(const uint16_t* x, const uint16_t* w, const float* bias,
                                            const float* gamma, const float* beta, const float* running_mean,
                                            const float* running_var, float eps, int relu, uint16_t* y, int N, int C,
                                            int cg, int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  gc_fwd_host<SevF16>(x, w, y, nullptr, {bias, gamma, beta, running_mean, running_var, eps, relu},
                      gc_dims(N, C, cg, T, H, W, stride));
  return SEV_OK;
}

int sev_hostrun_grouped_conv3x3_bn_train(const float* x, const float* w, const float* gamma, const float* beta,
                                         float* z, float* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, float eps, float momentum, int relu,
                                         int N, int C, int cg, int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  const GcDims d = gc_dims(N, C, cg, T, H, W, stride);
  const int64_t S = (int64_t)T * d.Ho * d.Wo;
  if ((int64_t)N * S <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int64_t P = gc_stat_parts(N, T, H, W, stride);
  std::vector<SevDouble2> part((size_t)(C * P));
  gc_fwd_host(x, w, z, part.data(), {}, d);
  finalize_and_apply_host(part.data(), P, z, nullptr, gamma, beta, y, save_mean, save_invstd, running_mean,
                          running_var, N, C, S, eps, momentum, relu);
  return SEV_OK;
}


int sev_hostrun_grouped_conv3x3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int cg, int T,
                                              int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  return gc_bwd_data_host<SevF32>(dy, w, dx, N, C, cg, T, H, W, stride);
}
int sev_hostrun_grouped_conv3x3_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                   int cg, int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  return gc_bwd_data_host<SevBF16>(dy, w, dx, N, C, cg, T, H, W, stride);
}
int sev_hostrun_grouped_conv3x3_backward_data_f16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                  int cg, int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  return gc_bwd_data_host<SevF16>(dy, w, dx, N, C, cg, T, H, W, stride);
}

int sev_hostrun_grouped_conv3x3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int cg,
                                                int T, int H, int W, int stride) {
  SEV_HOSTRUN_SCOPE();
  const int64_t total = (int64_t)C * cg * 9;
  if ((int64_t)N * T * H * W == 0) {
    for (int64_t i = 0; i < total; i++) dw[i] = 0.f;
    return SEV_OK;
  }
  const GcDims d = gc_dims(N, C, cg, T, H, W, stride);
  const GcTile t = gc_dw_tile(d);
  const int P = gc_dw_splits(d), G = C / cg, pairs = cg * cg, R = gc_dw_replicas(cg);
  const int tp = t.tf * t.th * t.tw, nx = cg * t.tf * gc_in_rows(t, stride) * gc_in_cols(t, stride);
  const int nslots = gc_dw_load_slots(d, t);
  std::vector<float> parts((size_t)(total * P));
  // gc_dw_kernel: blocks (split p, group g)
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int p = 0; p < P; p++)
    for (int g = 0; g < G; g++) {
      std::vector<float> dys(cg * tp), xs(nx), red(R * pairs * 9);
      static thread_local float acc[GC_THREADS][9];
      for (int tid = 0; tid < GC_THREADS; tid++)
        for (int k = 0; k < 9; k++) acc[tid][k] = 0.f;
      int64_t first, last;
      tconv_dw_split_range((int64_t)N * gc_tiles(t), p, P, &first, &last);
      for (int64_t u = first; u < last; u++) {
        int n;
        const GcOrigin o = gc_dw_origin(t, u, &n);
        for (int i = 0; i < nslots; i++) gc_dw_load_slot(dys.data(), xs.data(), i, x, dy, d, t, n, o, g);
        for (int tid = 0; tid < GC_THREADS; tid++) gc_dw_accumulate(acc[tid], dys.data(), xs.data(), d, t, tid);
      }
      for (int tid = 0; tid < R * pairs; tid++)
        for (int k = 0; k < 9; k++) red[tid * 9 + k] = acc[tid][k];  // rep * pairs + pair == tid
      for (int i = 0; i < pairs * 9; i++)
        parts[p * total + (int64_t)g * pairs * 9 + i] = gc_dw_replica_sum(red.data(), i, cg);
    }
  // gc_dw_reduce_kernel
  for (int64_t i = 0; i < total; i++) dw[i] = gc_dw_reduce_element(parts.data(), P, i, total);
  return SEV_OK;
}

int sev_hostrun_bn_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta,
                                     float* y, float* save_mean, float* save_invstd, float* running_mean,
                                     float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                     int relu) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_train_forward_host<SevF32>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean,
                                           running_var, N, C, S, eps, momentum, relu);
}

int sev_hostrun_bn_act_backward(const float* x, const float* y, const float* dy, const float* gamma,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, float* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_backward_host<SevF32>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C, S);
}

// ---- the batch-norm glue in 16-bit storage (sevc_bn_act_*_bf16/_f16): the same drivers, SevBF16 / SevF16
int sev_hostrun_bn_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                          const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                          float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                          float eps, float momentum, int relu) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_train_forward_host<SevBF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean,
                                            running_var, N, C, S, eps, momentum, relu);
}
int sev_hostrun_bn_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                         float eps, float momentum, int relu) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_train_forward_host<SevF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean,
                                           running_var, N, C, S, eps, momentum, relu);
}
int sev_hostrun_bn_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                     const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                     float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_backward_host<SevBF16>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C,
                                       S);
}
int sev_hostrun_bn_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  return bn_act_backward_host<SevF16>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C,
                                      S);
}

}  // extern "C"

// ================================================================ 16-bit inference glue (half_ops.cu)
#include "half_ops.cuh"

namespace {
// f(SevBF16()) or f(SevF16()) for the dtype code; SEV_ERR_ARG for any other code
template <typename F>
int half_dispatch(int dtype, F f) {
  if (dtype == SEV_DT_BF16) return f(SevBF16());
  if (dtype == SEV_DT_F16) return f(SevF16());
  return sev::fail(SEV_EINVAL, "dtype must be bf16 (1) or fp16 (2)");
}
}  // namespace

int sev_hostrun_half_bias_act(void* y, const float* bias, const void* residual, int64_t N, int64_t C, int64_t S,
                              int relu, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++)
      for (int64_t s = 0; s < S; s++)
        half_bias_act_element<St>((uint16_t*)y, bias, (const uint16_t*)residual, nc, s, C, S, relu);
    return SEV_OK;
  });
}

int sev_hostrun_half_add_act(const void* a, const void* b, void* y, int64_t n, int relu, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
      ((uint16_t*)y)[i] = half_add_act_element<St>((const uint16_t*)a, (const uint16_t*)b, i, relu);
    return SEV_OK;
  });
}

int sev_hostrun_half_avgpool3d_forward(const void* x, void* y, const int* pp, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_out_count(p);
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) ((uint16_t*)y)[i] = half_avgpool3d_forward_element<St>((const uint16_t*)x, p, i);
    return SEV_OK;
  });
}

int sev_hostrun_half_global_avgpool_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const int nt = GAP_THREADS;
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++)
      y[nc] = global_avgpool_finish(block_sum_host<double>(nt, [&](int tid) {
        return half_global_avgpool_partial<St>((const uint16_t*)x, nc, S, tid, nt);
      }), S);
    return SEV_OK;
  });
}

int sev_hostrun_half_channel_scale_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                           int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++)
      for (int64_t s = 0; s < S; s++) half_channel_scale_element<St>((const uint16_t*)x, g, (uint16_t*)y, nc, s, S);
    return SEV_OK;
  });
}

int sev_hostrun_half_concat_channels(const void* a, const void* b, void* y, int64_t N, int64_t Ca, int64_t Cb,
                                     int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int64_t n = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++)
    ((uint16_t*)y)[i] = half_concat_element((const uint16_t*)a, (const uint16_t*)b, i, Ca, Cb, S);
  return SEV_OK;
}

int sev_hostrun_cast(const void* x, int from, void* y, int to, int64_t n) {
  SEV_HOSTRUN_SCOPE();
  if (from == SEV_DT_F32 && to != SEV_DT_F32) {
    return half_dispatch(to, [&](auto st) {
      using St = decltype(st);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; i++) ((uint16_t*)y)[i] = half_from_f32_element<St>((const float*)x, i);
      return SEV_OK;
    });
  }
  if (to == SEV_DT_F32 && from != SEV_DT_F32) {
    return half_dispatch(from, [&](auto st) {
      using St = decltype(st);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; i++) ((float*)y)[i] = half_to_f32_element<St>((const uint16_t*)x, i);
      return SEV_OK;
    });
  }
  return sev::fail(SEV_EINVAL, "cast: only fp32 <-> bf16/fp16");
}
// ================================================================ end of the 16-bit block

// ================================================================ 16-bit training glue (end of half_ops.cu)
int sev_hostrun_half_relu_backward(const void* y, const void* dy, void* dx, int64_t n, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
      ((uint16_t*)dx)[i] = half_relu_backward_element<St>((const uint16_t*)y, (const uint16_t*)dy, i);
    return SEV_OK;
  });
}

int sev_hostrun_half_axpby(float alpha, const void* x, float beta, void* y, int64_t n, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
      ((uint16_t*)y)[i] = half_axpby_element<St>(alpha, (const uint16_t*)x, beta, (const uint16_t*)y, i);
    return SEV_OK;
  });
}

int sev_hostrun_half_avgpool3d_backward(const void* dy, void* dx, const int* pp, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_in_count(p);
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
      ((uint16_t*)dx)[i] = half_avgpool3d_backward_element<St>((const uint16_t*)dy, p, i);
    return SEV_OK;
  });
}

int sev_hostrun_half_split_channels(const void* y, void* a, void* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  SEV_HOSTRUN_SCOPE();
  const int64_t n = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) split_element<uint16_t>((const uint16_t*)y, (uint16_t*)a, (uint16_t*)b, i, Ca, Cb, S);
  return SEV_OK;
}

// channel_scale_backward_kernel's blocks: one per (n, c) row, CHANNEL_SCALE_THREADS shares summed by the tree
int sev_hostrun_half_channel_scale_backward(const void* x, const float* g, const void* dy, void* dx, float* dg,
                                            int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_HOSTRUN_SCOPE();
  const int nt = CHANNEL_SCALE_THREADS;
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++)
      dg[nc] = (float)block_sum_host<double>(nt, [&](int tid) {
        return channel_scale_backward_partial_t<St>((const uint16_t*)x, g, (const uint16_t*)dy, (uint16_t*)dx, nc, S,
                                                    tid, nt);
      });
    return SEV_OK;
  });
}
int sev_hostrun_half_batchnorm_eval_forward(const void* x, const float* gamma, const float* beta,
                                            const float* running_mean, const float* running_var, void* y, int64_t N,
                                            int64_t C, int64_t S, float eps, int relu, int dtype) {
  SEV_HOSTRUN_SCOPE();
  return half_dispatch(dtype, [&](auto st) {
    using St = decltype(st);
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++) {
      float a, b;
      bn_eval_coeffs(gamma, beta, running_mean, running_var, nc % C, eps, &a, &b);
      for (int64_t s = 0; s < S; s++) half_bn_eval_element<St>((const uint16_t*)x, (uint16_t*)y, nc * S + s, a, b, relu);
    }
    return SEV_OK;
  });
}
// ================================================================ end of the 16-bit training glue
