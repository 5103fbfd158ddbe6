// Grouped 1x3x3 conv of the SEV block in channels-last layout, forward, backward-data and backward-weight, fp32 / bf16 / fp16
// storage with fp32 arithmetic (bodies in grouped_conv_ndhwc.cuh; host drivers in native/src/kernels_hostrun.cpp;
// CPU references sev_grouped_conv_ndhwc_* in native/src/grouped_conv_ndhwc.cpp).
#include <stdio.h>

#include "grouped_conv_ndhwc.cuh"
#include "sevc_common.cuh"

namespace {
// grid (tiles x groups, 1, items), block gcl_threads(t); TRANS: backward-data (src dy, dst dx), else forward (x, y)
template <class St, int CGMAX, bool TRANS>
__global__ void __launch_bounds__(GCL_THREADS) gcl_kernel(const typename St::storage* __restrict__ src,
                                                          const typename St::storage* __restrict__ w,
                                                          typename St::storage* __restrict__ dst, GclDims d, GclTile t,
                                                          GclEpilogue e) {
  extern __shared__ float smem[];  // the window's planes, then the weights: sized to the tile (occupancy)
  float* xs = smem;
  float* ws = smem + gcl_ws_offset(t);
  // the group is the fastest block index: consecutive blocks read adjacent channel slices of the same positions
  // (the same sectors), not the next tile of the same slice
  const int groups = d.C / d.cg, n = blockIdx.z, g = blockIdx.x % groups, threads = blockDim.x;
  const GclOrigin o = gcl_origin(t, d, blockIdx.x / groups, TRANS);
  for (int slot = threadIdx.x; slot < d.cg * 9 * d.cg; slot += threads) gcl_load_weight_slot<St>(ws, slot, w, g, d.cg, TRANS);
  float acc[GCL_P][CGMAX];
#pragma unroll
  for (int j = 0; j < GCL_P; j++)
#pragma unroll
    for (int c = 0; c < CGMAX; c++) acc[j][c] = 0.f;
  for (int c0 = 0; c0 < d.cg; c0 += t.chunk) {
    const int chunk = min(t.chunk, d.cg - c0);
    const int slots = gcl_window_slots(t, chunk);
    for (int slot = threadIdx.x; slot < slots; slot += threads)
      gcl_load_window_slot<St>(xs, slot, src, d, t, o, n, g, c0, chunk, TRANS);
    __syncthreads();
    if (TRANS)
      gcl_bwd_accumulate<CGMAX>(acc, xs, ws, t, d, o, threadIdx.x, c0, chunk);
    else
      gcl_fwd_accumulate<CGMAX>(acc, xs, ws, t, d, threadIdx.x, c0, chunk);
    __syncthreads();  // the next chunk overwrites the window
  }
  gcl_store<St, CGMAX>(dst, acc, t, d, o, n, g, threadIdx.x, TRANS, e);
}

// grid (splits x groups), block p.threads: the partial of split blockIdx.x / groups for group blockIdx.x % groups
template <class St, int CGMAX>
__global__ void __launch_bounds__(GCL_DW_THREADS) gcl_dw_kernel(const typename St::storage* __restrict__ x,
                                                                const typename St::storage* __restrict__ dy,
                                                                float* __restrict__ part, GclDims d, GclDwPlan p) {
  extern __shared__ float sm[];
  const int groups = d.C / d.cg, g = blockIdx.x % groups, tid = threadIdx.x;
  const int64_t split = blockIdx.x / groups, first = split * p.per_split;
  const int64_t last = first + p.per_split < p.tiles ? first + p.per_split : p.tiles;
  const int64_t per_item = gcl_tiles(p.t);
  const int slots = gcl_dw_slots(p.t, d.cg);
  float acc[CGMAX];
#pragma unroll
  for (int c = 0; c < CGMAX; c++) acc[c] = 0.f;
  for (int64_t tile = first; tile < last; tile++) {
    const int n = (int)(tile / per_item);
    const GclOrigin o = gcl_origin(p.t, d, tile % per_item, false);
    for (int slot = tid; slot < slots; slot += p.threads) gcl_dw_load_slot<St>(sm, slot, x, dy, d, p.t, o, n, g);
    __syncthreads();
    gcl_dw_accumulate<CGMAX>(acc, sm, p, d, tid);
    __syncthreads();  // the next tile overwrites the staging
  }
#pragma unroll
  for (int c = 0; c < CGMAX; c++)
    if (c < d.cg) sm[tid * d.cg + c] = acc[c];
  __syncthreads();
  if (tid < p.pairs) gcl_dw_store_partial(part, sm, p, d, split, g, tid);
}

__global__ void gcl_dw_reduce_kernel(const float* __restrict__ part, float* __restrict__ dw, int64_t splits,
                                     int64_t total) {
  SEVC_FOR_EACH(i, total) dw[i] = gcl_dw_reduce_element(part, splits, i, total);
}

template <class St>
void launch_dw(const void* x, const void* dy, float* part, const GclDims& d, const GclDwPlan& p, cudaStream_t st) {
  const dim3 grid((unsigned)(p.splits * (d.C / d.cg)));  // at most GCL_DW_TARGET_BLOCKS + groups
  const size_t smem = sizeof(float) * (size_t)gcl_dw_smem(p, d.cg);  // <= GCL_XS floats (36 KB)
  typedef typename St::storage S;
  if (d.cg <= 4)
    gcl_dw_kernel<St, 4><<<grid, p.threads, smem, st>>>((const S*)x, (const S*)dy, part, d, p);
  else if (d.cg <= 8)
    gcl_dw_kernel<St, 8><<<grid, p.threads, smem, st>>>((const S*)x, (const S*)dy, part, d, p);
  else
    gcl_dw_kernel<St, 16><<<grid, p.threads, smem, st>>>((const S*)x, (const S*)dy, part, d, p);
}

int run_dw(const char* what, const void* x, const void* dy, float* dw, int N, int C, int cg, int T, int H, int W, int s,
           int dtype, void* stream) {
  const bool empty = (int64_t)N * T * H * W == 0;  // no positions: dw is zero, x and dy are not read
  const char* why = gcl_bad_args(N, C, cg, T, H, W, s, dtype, (C > 0 && !dw) || (!empty && C > 0 && (!x || !dy)));
  if (why) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (N=%d, C=%d, cg=%d, T=%d, H=%d, W=%d, s=%d, dtype=%d)", what, why, N, C, cg, T,
             H, W, s, dtype);
    return sevc::fail(SEVC_E_ARG, msg);
  }
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int64_t total = (int64_t)C * 9 * cg;
  if (empty) {
    const cudaError_t err = cudaMemsetAsync(dw, 0, sizeof(float) * total, st);
    return err == cudaSuccess ? SEVC_OK : sevc::fail(SEVC_E_LAUNCH, what, err);
  }
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  const GclDwPlan p = gcl_dw_plan(d);
  float* part = nullptr;  // stream-ordered scratch: the splits' partials
  cudaError_t err = sevc::scratch_malloc((void**)&part, sizeof(float) * total * p.splits, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, what, err);
  if (dtype == SEV_DT_F32)
    launch_dw<SevF32>(x, dy, part, d, p, st);
  else if (dtype == SEV_DT_BF16)
    launch_dw<SevBF16>(x, dy, part, d, p, st);
  else
    launch_dw<SevF16>(x, dy, part, d, p, st);
  gcl_dw_reduce_kernel<<<sevc::blocks_for(total), sevc::kThreads, 0, st>>>(part, dw, p.splits, total);
  return sevc::free_scratch(part, st, sevc::check_launch(what), what);
}

template <class St, bool TRANS>
void launch(const void* src, const void* w, void* dst, const GclDims& d, const GclTile& t, const GclEpilogue& e,
            cudaStream_t st) {
  const dim3 grid((unsigned)(gcl_tiles(t) * (d.C / d.cg)), 1, (unsigned)d.N);
  const int threads = gcl_threads(t);
  const size_t smem = sizeof(float) * ((size_t)gcl_ws_offset(t) + (size_t)d.cg * 9 * d.cg);  // < 48 KB (gcl_tile)
  typedef typename St::storage S;
  if (d.cg <= 4)
    gcl_kernel<St, 4, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t, e);
  else if (d.cg <= 8)
    gcl_kernel<St, 8, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t, e);
  else
    gcl_kernel<St, 16, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t, e);
}

int run(const char* what, bool trans, const void* src, const void* w, void* dst, const GclEpilogue& e, int N, int C,
        int cg, int T, int H, int W, int s, int dtype, void* stream) {
  const bool empty = (int64_t)N * C * T * H * W == 0;  // nothing is read or written
  const char* why = gcl_bad_args(N, C, cg, T, H, W, s, dtype, !empty && (!src || !w || !dst));
  if (why) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (N=%d, C=%d, cg=%d, T=%d, H=%d, W=%d, s=%d, dtype=%d)", what, why, N, C, cg, T,
             H, W, s, dtype);
    return sevc::fail(SEVC_E_ARG, msg);
  }
  if (empty) return SEVC_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  const GclTile t = gcl_tile(d, trans);
  if (gcl_tiles(t) * (C / cg) > 0x7fffffff)
    return sevc::fail(SEVC_E_ARG, "grouped_conv_ndhwc: more than 2^31 tiles x groups (grid x)");
  const cudaStream_t st = sevc::as_stream(stream);
  if (dtype == SEV_DT_F32)
    trans ? launch<SevF32, true>(src, w, dst, d, t, e, st) : launch<SevF32, false>(src, w, dst, d, t, e, st);
  else if (dtype == SEV_DT_BF16)
    trans ? launch<SevBF16, true>(src, w, dst, d, t, e, st) : launch<SevBF16, false>(src, w, dst, d, t, e, st);
  else
    trans ? launch<SevF16, true>(src, w, dst, d, t, e, st) : launch<SevF16, false>(src, w, dst, d, t, e, st);
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int sevc_grouped_conv_ndhwc_forward(const void* x, const void* w, const float* bias, const void* residual, int relu,
                                    void* y, int N, int C, int cg, int T, int H, int W, int s, int dtype, void* stream) {
  return run("grouped_conv_ndhwc_forward", false, x, w, y, GclEpilogue{bias, residual, relu}, N, C, cg, T, H, W, s,
             dtype, stream);
}

int sevc_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                          int W, int s, int dtype, void* stream) {
  return run("grouped_conv_ndhwc_backward_data", true, dy, w, dx, GclEpilogue{nullptr, nullptr, 0}, N, C, cg, T, H, W,
             s, dtype, stream);
}

int sevc_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg, int T,
                                            int H, int W, int s, int dtype, void* stream) {
  return run_dw("grouped_conv_ndhwc_backward_weight", x, dy, dw, N, C, cg, T, H, W, s, dtype, stream);
}

}  // extern "C"
