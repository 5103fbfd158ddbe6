// Fused conv -> batch norm -> ReLU for the SEV block (bodies and the why in conv_bn_relu.cuh):
// the grouped 1x3x3 conv (forward with an inference or training epilogue, backward-data,
// backward-weight), the 1x1x1 conv forward with the same epilogues, and the batch-norm glue (multi-block
// statistics, apply + ReLU + residual, fused backward). Training forward of conv -> BN -> ReLU is three
// launches: conv + per-block statistics, finalize (one block per channel), apply + ReLU.
#include <stdio.h>

#include <type_traits>

#include "conv_bn_relu.cuh"
#include "sevc_common.cuh"

namespace {
// ---- warp trees (the host drivers run them as sev_tree_sum_host over the segment's lanes)
__device__ inline SevDouble2 shfl_down2(SevDouble2 v, int off, int width) {
  return {__shfl_down_sync(0xffffffffu, v.a, off, width), __shfl_down_sync(0xffffffffu, v.b, off, width)};
}
// lane 0 of each `width`-lane segment gets the segment's sum, added by halving strides
__device__ inline SevDouble2 segment_sum(SevDouble2 v, int width) {
  for (int off = width / 2; off > 0; off >>= 1) v = v + shfl_down2(v, off, width);
  return v;
}

// ---- 1x1x1 conv: grid (column tiles, channel tiles, items). part != NULL: the training form (raw
// output + each row's partial statistics of the block's 64 columns, partial index n * gridDim.x + x)
__global__ void __launch_bounds__(TC_THREADS) pw_conv_kernel(const float* __restrict__ w, const float* __restrict__ x,
                                                             float* __restrict__ y, SevDouble2* __restrict__ part,
                                                             CbrEpilogue e, int Cin, int Cout, int64_t S, int64_t P) {
  __shared__ float As[TC_BK * TC_BM];
  __shared__ float Bs[TC_BK * TC_BN];
  const int n = blockIdx.z, m0 = blockIdx.y * TC_BM;
  const int64_t j0 = blockIdx.x * (int64_t)TC_BN;
  float acc[4][4] = {};
  for (int r0 = 0; r0 < Cin; r0 += TC_BK) {
    for (int slot = threadIdx.x; slot < TC_BK * TC_BM; slot += TC_THREADS)
      pw_load_slot(As, Bs, slot, w, x, n, m0, j0, r0, Cin, Cout, S);
    __syncthreads();
    tconv_compute(As, TC_BM, Bs, TC_BN, acc, threadIdx.x);
    __syncthreads();
  }
  pw_store(y, acc, threadIdx.x, n, m0, j0, Cout, S, part ? nullptr : &e);
  if (part) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int64_t p = (int64_t)n * gridDim.x + blockIdx.x;
    for (int i = 0; i < 4; i++) {
      const SevDouble2 s = segment_sum(pw_row_stats(acc, i, threadIdx.x, j0, S), 16);
      const int m = m0 + ty * 4 + i;
      if (tx == 0 && m < Cout) part[m * P + p] = s;
    }
  }
}

// ---- grouped 1x3x3 conv forward: grid (tiles, groups, items); shared: weights, then the staged tile
// one block of the grouped forward; St: x, w and y storage (fp32; bf16 / fp16 for the 16-bit inference form,
// part == NULL)
template <int CGMAX, class St>
__device__ __forceinline__ void gc_fwd_block(const typename St::storage* __restrict__ x,
                                             const typename St::storage* __restrict__ w,
                                             typename St::storage* __restrict__ y, SevDouble2* __restrict__ part,
                                             CbrEpilogue e, GcDims d, GcTile t, int64_t P) {
  extern __shared__ float smem[];
  __shared__ SevDouble2 warp_sums[GC_MAXCG][GC_WARPS];
  float* ws = smem;
  float* xs = smem + d.cg * d.cg * 9;
  const int g = blockIdx.y, n = blockIdx.z;
  const GcOrigin o = gc_origin(t, blockIdx.x);
  const int nx = t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s);
  for (int i = threadIdx.x; i < d.cg * d.cg * 9; i += GC_THREADS) gc_load_weight_slot<St>(ws, i, w, g, d.cg, false);
  int f, r, q;
  gc_pos(t, threadIdx.x, &f, &r, &q);
  const bool active = threadIdx.x < t.tf * t.th * t.tw;
  float acc[CGMAX];
#pragma unroll
  for (int i = 0; i < CGMAX; i++) acc[i] = 0.f;
  for (int ci = 0; ci < d.cg; ci++) {
    __syncthreads();  // the previous channel's taps are read (and, first time round, the weights are in)
    for (int i = threadIdx.x; i < nx; i += GC_THREADS) gc_fwd_load_slot<St>(xs, i, x, d, t, o, n, g, ci);
    __syncthreads();
    if (active) {
      float v[9];
      gc_fwd_taps(v, xs, d, t, f, r, q);
      gc_accumulate<CGMAX>(acc, v, ws, ci, d.cg);
    }
  }
  const bool valid = active && gc_out_valid(d, o, f, r, q, true);
  if (valid) gc_fwd_store<CGMAX, St>(y, acc, d, o, n, g, f, r, q, part ? nullptr : &e);
  if (!part) return;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int co = 0; co < CGMAX; co++) {
    if (co < d.cg) {
      SevDouble2 s = {0, 0};
      if (valid) cbr_stats_add(s, acc[co]);
      s = segment_sum(s, 32);
      if (lane == 0) warp_sums[co][warp] = s;
    }
  }
  __syncthreads();
  if (threadIdx.x < d.cg)
    part[(int64_t)(g * d.cg + threadIdx.x) * P + (int64_t)n * gridDim.x + blockIdx.x] =
        gc_sum_warps(warp_sums[threadIdx.x]);
}
template <int CGMAX>
__global__ void __launch_bounds__(GC_THREADS) gc_fwd_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                                            float* __restrict__ y, SevDouble2* __restrict__ part,
                                                            CbrEpilogue e, GcDims d, GcTile t, int64_t P) {
  gc_fwd_block<CGMAX, SevF32>(x, w, y, part, e, d, t, P);
}
// the 16-bit inference form (its own name: the cubin harness and its tests know gc_fwd_kernel<CGMAX> as fp32)
template <int CGMAX, class St>
__global__ void __launch_bounds__(GC_THREADS) gc_fwd_half_kernel(const uint16_t* __restrict__ x,
                                                                 const uint16_t* __restrict__ w,
                                                                 uint16_t* __restrict__ y, CbrEpilogue e, GcDims d,
                                                                 GcTile t) {
  gc_fwd_block<CGMAX, St>(x, w, y, nullptr, e, d, t, 0);
}

// ---- grouped 1x3x3 backward-data: grid (tiles of input positions, groups, items)
// one block; St: dy, w and dx storage (fp32, or bf16 / fp16 with dx rounded once)
template <int CGMAX, class St>
__device__ __forceinline__ void gc_bwd_data_block(const typename St::storage* __restrict__ dy,
                                                  const typename St::storage* __restrict__ w,
                                                  typename St::storage* __restrict__ dx, GcDims d, GcTile t) {
  extern __shared__ float smem[];
  float* ws = smem;
  float* ds = smem + d.cg * d.cg * 9;
  const int g = blockIdx.y, n = blockIdx.z;
  const GcOrigin o = gc_origin(t, blockIdx.x);
  const GcWindow win = gc_bwd_window(d, t, o);
  const int nd = t.tf * win.rows * win.cols;
  for (int i = threadIdx.x; i < d.cg * d.cg * 9; i += GC_THREADS) gc_load_weight_slot<St>(ws, i, w, g, d.cg, true);
  int f, r, q;
  gc_pos(t, threadIdx.x, &f, &r, &q);
  const bool active = threadIdx.x < t.tf * t.th * t.tw;
  float acc[CGMAX];
#pragma unroll
  for (int i = 0; i < CGMAX; i++) acc[i] = 0.f;
  for (int co = 0; co < d.cg; co++) {
    __syncthreads();
    for (int i = threadIdx.x; i < nd; i += GC_THREADS) gc_bwd_load_slot<St>(ds, i, dy, d, o, win, n, g, co);
    __syncthreads();
    if (active) {
      float v[9];
      gc_bwd_taps(v, ds, d, o, win, f, r, q);
      gc_accumulate<CGMAX>(acc, v, ws, co, d.cg);
    }
  }
  if (active && gc_out_valid(d, o, f, r, q, false)) {
#pragma unroll
    for (int ci = 0; ci < CGMAX; ci++)
      if (ci < d.cg) dx[gc_in_index(d, n, g * d.cg + ci, o, f, r, q)] = St::store(acc[ci]);
  }
}
template <int CGMAX>
__global__ void __launch_bounds__(GC_THREADS) gc_bwd_data_kernel(const float* __restrict__ dy,
                                                                 const float* __restrict__ w, float* __restrict__ dx,
                                                                 GcDims d, GcTile t) {
  gc_bwd_data_block<CGMAX, SevF32>(dy, w, dx, d, t);
}
template <int CGMAX, class St>
__global__ void __launch_bounds__(GC_THREADS) gc_bwd_data_half_kernel(const uint16_t* __restrict__ dy,
                                                                      const uint16_t* __restrict__ w,
                                                                      uint16_t* __restrict__ dx, GcDims d, GcTile t) {
  gc_bwd_data_block<CGMAX, St>(dy, w, dx, d, t);
}

// ---- grouped 1x3x3 backward-weight: grid (splits, groups); each split's partial into parts[p]
__global__ void __launch_bounds__(GC_THREADS) gc_dw_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                                           float* __restrict__ parts, GcDims d, GcTile t) {
  extern __shared__ float smem[];
  const int tp = t.tf * t.th * t.tw;
  float* dys = smem;
  float* xs = dys + d.cg * tp;
  float* red = xs + d.cg * t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s);
  const int p = blockIdx.x, P = gridDim.x, g = blockIdx.y;
  const int nslots = gc_dw_load_slots(d, t);
  int64_t first, last;
  tconv_dw_split_range((int64_t)d.N * gc_tiles(t), p, P, &first, &last);
  float acc[9] = {};
  for (int64_t u = first; u < last; u++) {
    int n;
    const GcOrigin o = gc_dw_origin(t, u, &n);
    for (int i = threadIdx.x; i < nslots; i += GC_THREADS) gc_dw_load_slot(dys, xs, i, x, dy, d, t, n, o, g);
    __syncthreads();
    gc_dw_accumulate(acc, dys, xs, d, t, threadIdx.x);
    __syncthreads();
  }
  const int pairs = d.cg * d.cg, rep = threadIdx.x / pairs, pair = threadIdx.x % pairs;
  if (rep < gc_dw_replicas(d.cg))
    for (int k = 0; k < 9; k++) red[(rep * pairs + pair) * 9 + k] = acc[k];
  __syncthreads();
  const int64_t total = (int64_t)d.C * d.cg * 9;
  for (int i = threadIdx.x; i < pairs * 9; i += GC_THREADS)
    parts[p * total + (int64_t)g * pairs * 9 + i] = gc_dw_replica_sum(red, i, d.cg);
}
__global__ void gc_dw_reduce_kernel(const float* __restrict__ parts, float* __restrict__ dw, int P, int64_t total) {
  SEVC_FOR_EACH(i, total) dw[i] = gc_dw_reduce_element(parts, P, i, total);
}

// ---- batch-norm glue: grid (P, channels) for the reductions; one template per storage type St
// (SevF32, SevBF16, SevF16: conv_bn_relu.cuh), fp32 parameters and statistics in all three
template <class St>
__global__ void __launch_bounds__(CBR_THREADS) bnx_stats_kernel(const typename St::storage* __restrict__ x,
                                                                SevDouble2* __restrict__ part, int64_t N, int64_t C,
                                                                int64_t S) {
  __shared__ SevDouble2 sm[CBR_THREADS];
  const int p = blockIdx.x, P = gridDim.x;
  SEVC_FOR_ROWS(c, C) {
    const SevDouble2 s = sev_block_sum(bnx_stats_partial<St>(x, c, N, C, S, p, P, threadIdx.x, blockDim.x), sm);
    if (threadIdx.x == 0) part[c * P + p] = s;
  }
}
// one block per channel: the partials in order, then the statistics and the running estimates
__global__ void __launch_bounds__(CBR_THREADS) cbr_finalize_kernel(const SevDouble2* __restrict__ part, int64_t P,
                                                                   int64_t C, int64_t count, float eps, float momentum,
                                                                   float* save_mean, float* save_invstd,
                                                                   float* running_mean, float* running_var) {
  __shared__ SevDouble2 sm[CBR_THREADS];
  SEVC_FOR_BLOCKS(c, C) {
    const SevDouble2 tot = sev_block_sum(cbr_parts_partial(part, c, P, threadIdx.x, blockDim.x), sm);
    if (threadIdx.x == 0)
      cbr_stats_finalize(c, tot, count, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
}
template <class St>
__global__ void bnx_apply_kernel(const typename St::storage* __restrict__ x,
                                 const typename St::storage* __restrict__ res, const float* __restrict__ gamma,
                                 const float* __restrict__ beta, const float* __restrict__ mean,
                                 const float* __restrict__ invstd, typename St::storage* __restrict__ y, int64_t N,
                                 int64_t C, int64_t S, int relu) {
  SEVC_FOR_ROWS(nc, N * C) {
    float a, b;
    bn_train_coeffs(gamma, beta, mean, invstd, nc % C, &a, &b);
    SEVC_FOR_EACH(s, S) y[nc * S + s] = bnx_apply_element<St>(x, res, nc * S + s, a, b, relu);
  }
}
template <class St>
__global__ void __launch_bounds__(CBR_THREADS) bnx_backward_stats_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ mean, const float* __restrict__ invstd,
    SevDouble2* __restrict__ part, int64_t N, int64_t C, int64_t S) {
  __shared__ SevDouble2 sm[CBR_THREADS];
  const int p = blockIdx.x, P = gridDim.x;
  SEVC_FOR_ROWS(c, C) {
    const SevDouble2 s = sev_block_sum(
        bnx_backward_partial<St>(x, y, dy, c, mean[c], invstd[c], N, C, S, p, P, threadIdx.x, blockDim.x), sm);
    if (threadIdx.x == 0) part[c * P + p] = s;
  }
}
// every block of channel c adds the channel's P partials (same order, same result), then writes its elements
template <class St>
__global__ void __launch_bounds__(CBR_THREADS) bnx_backward_dx_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ gamma, const float* __restrict__ mean,
    const float* __restrict__ invstd, const SevDouble2* __restrict__ part, typename St::storage* __restrict__ dx,
    float* __restrict__ dgamma, float* __restrict__ dbeta, typename St::storage* __restrict__ dres, int64_t N,
    int64_t C, int64_t S) {
  __shared__ SevDouble2 sm[CBR_THREADS];
  const int p = blockIdx.x, P = gridDim.x;
  SEVC_FOR_ROWS(c, C) {
    const SevDouble2 sums = sev_block_sum(cbr_parts_partial(part, c, P, threadIdx.x, blockDim.x), sm);
    if (p == 0 && threadIdx.x == 0) {
      if (dgamma) dgamma[c] = (float)sums.b;
      if (dbeta) dbeta[c] = (float)sums.a;
    }
    const BnBackwardCoeffs k = bn_backward_coeffs(gamma, mean, invstd, c, sums, (double)N * S);
    bnx_backward_dx_partial<St>(x, y, dy, dx, dres, c, k, N, C, S, p, P, threadIdx.x, blockDim.x);
  }
}

// ---- launch helpers
// stream-ordered scratch (the caching pool of cudaMallocAsync: no device-wide sync)
template <typename T>
int scratch(T** p, int64_t count, cudaStream_t st, const char* what) {
  const cudaError_t err = sevc::scratch_malloc((void**)p, sizeof(T) * (count > 0 ? count : 1), st);
  return err == cudaSuccess ? SEVC_OK : sevc::fail(SEVC_E_LAUNCH, what, err);
}
int release(void* p, int rc, cudaStream_t st, const char* what) {
  const cudaError_t err = cudaFreeAsync(p, st);
  return rc == SEVC_OK && err != cudaSuccess ? sevc::fail(SEVC_E_LAUNCH, what, err) : rc;
}
dim3 channel_grid(int P, int64_t C) { return dim3((unsigned)P, (unsigned)(C < 65535 ? C : 65535), 1); }

// statistics from the partials, then y = act(z*a + b (+ res)): the last two launches of every training forward
template <class St = SevF32>
void finalize_and_apply(const SevDouble2* part, int64_t P, const typename St::storage* z,
                        const typename St::storage* res, const float* gamma, const float* beta,
                        typename St::storage* y, float* save_mean, float* save_invstd, float* running_mean,
                        float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum, int relu,
                        cudaStream_t st) {
  cbr_finalize_kernel<<<sevc::item_blocks(C), CBR_THREADS, 0, st>>>(part, P, C, N * S, eps, momentum, save_mean,
                                                                     save_invstd, running_mean, running_var);
  bnx_apply_kernel<St><<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, st>>>(z, res, gamma, beta, save_mean, save_invstd,
                                                                          y, N, C, S, relu);
}

CbrEpilogue epilogue(const float* bias, const float* gamma, const float* beta, const float* mean, const float* var,
                     float eps, int relu) {
  return {bias, gamma, beta, mean, var, eps, relu};
}

int pw_check(int N, int Cin, int Cout, int64_t S, const char* what) {
  const bool ok = N >= 0 && Cin >= 0 && Cout >= 0 && S >= 0 && N <= 65535 && (Cout + TC_BM - 1) / TC_BM <= 65535 &&
                  (S + TC_BN - 1) / TC_BN < (1LL << 31);
  return ok ? SEVC_OK : sevc::fail(SEVC_E_ARG, what);
}
void pw_launch(const float* x, const float* w, float* y, SevDouble2* part, CbrEpilogue e, int N, int Cin, int Cout,
               int64_t S, cudaStream_t st) {
  const dim3 grid((unsigned)((S + TC_BN - 1) / TC_BN), (unsigned)((Cout + TC_BM - 1) / TC_BM), (unsigned)N);
  pw_conv_kernel<<<grid, TC_THREADS, 0, st>>>(w, x, y, part, e, Cin, Cout, S, pw_stat_parts(N, S));
}

int gc_check(int N, int C, int cg, int T, int H, int W, int s, const char* what) {
  const bool ok = N >= 0 && C >= 0 && T >= 0 && H >= 0 && W >= 0 && cg >= 1 && cg <= GC_MAXCG && C % cg == 0 &&
                  s >= 1 && s <= 2 && N <= 65535 && C / cg <= 65535 && (int64_t)T * H * W < (1LL << 31);
  return ok ? SEVC_OK : sevc::fail(SEVC_E_ARG, what);
}
template <int CGMAX, class St = SevF32>
void gc_fwd_launch_t(const typename St::storage* x, const typename St::storage* w, typename St::storage* y,
                     SevDouble2* part, CbrEpilogue e, const GcDims& d, cudaStream_t st) {
  const GcTile t = gc_tile(d.T, d.Ho, d.Wo, GC_THREADS);
  const size_t smem = sizeof(float) * (d.cg * d.cg * 9 + t.tf * gc_in_rows(t, d.s) * gc_in_cols(t, d.s));
  const dim3 grid((unsigned)gc_tiles(t), (unsigned)(d.C / d.cg), (unsigned)d.N);
  if constexpr (std::is_same<St, SevF32>::value)
    gc_fwd_kernel<CGMAX><<<grid, GC_THREADS, smem, st>>>(x, w, y, part, e, d, t, (int64_t)d.N * gc_tiles(t));
  else
    gc_fwd_half_kernel<CGMAX, St><<<grid, GC_THREADS, smem, st>>>(x, w, y, e, d, t);
}
// the accumulators of a thread: the smallest of 4, 8, 16 that holds the group
template <class St = SevF32>
void gc_fwd_launch(const typename St::storage* x, const typename St::storage* w, typename St::storage* y,
                   SevDouble2* part, CbrEpilogue e, const GcDims& d, cudaStream_t st) {
  if (d.cg <= 4)
    gc_fwd_launch_t<4, St>(x, w, y, part, e, d, st);
  else if (d.cg <= 8)
    gc_fwd_launch_t<8, St>(x, w, y, part, e, d, st);
  else
    gc_fwd_launch_t<16, St>(x, w, y, part, e, d, st);
}
template <int CGMAX, class St = SevF32>
void gc_bwd_data_launch_t(const typename St::storage* dy, const typename St::storage* w, typename St::storage* dx,
                          const GcDims& d, cudaStream_t st) {
  const GcTile t = gc_tile(d.T, d.H, d.W, GC_THREADS);
  const size_t smem = sizeof(float) * (d.cg * d.cg * 9 + gc_bwd_window_max(t));
  const dim3 grid((unsigned)gc_tiles(t), (unsigned)(d.C / d.cg), (unsigned)d.N);
  if constexpr (std::is_same<St, SevF32>::value)
    gc_bwd_data_kernel<CGMAX><<<grid, GC_THREADS, smem, st>>>(dy, w, dx, d, t);
  else
    gc_bwd_data_half_kernel<CGMAX, St><<<grid, GC_THREADS, smem, st>>>(dy, w, dx, d, t);
}
template <class St = SevF32>
void gc_bwd_data_launch(const typename St::storage* dy, const typename St::storage* w, typename St::storage* dx,
                        const GcDims& d, cudaStream_t st) {
  if (d.cg <= 4)
    gc_bwd_data_launch_t<4, St>(dy, w, dx, d, st);
  else if (d.cg <= 8)
    gc_bwd_data_launch_t<8, St>(dy, w, dx, d, st);
  else
    gc_bwd_data_launch_t<16, St>(dy, w, dx, d, st);
}

// "what: reason" as the last error
int bnx_fail(const char* what, const char* why) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, why);
  return sevc::fail(SEVC_E_ARG, msg);
}
// the batch-norm glue's two entry points, one body per storage type (sevc_bn_act_* and their _bf16/_f16 forms)
template <class St>
int bn_act_train_forward(const char* what, const typename St::storage* x, const typename St::storage* residual,
                         const float* gamma, const float* beta, typename St::storage* y, float* save_mean,
                         float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                         float eps, float momentum, int relu, void* stream) {
  if (N < 0 || C < 0 || S < 0) return bnx_fail(what, "negative size");
  if (N * S <= 1) return sevc::fail(SEVC_E_ARG, "batch norm in training mode needs more than one value per channel");
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int P = bnx_splits(N, C, S);
  SevDouble2* part = nullptr;
  char sw[96];
  snprintf(sw, sizeof sw, "%s: scratch", what);
  if (scratch(&part, C * P, st, sw)) return SEVC_E_LAUNCH;
  bnx_stats_kernel<St><<<channel_grid(P, C), CBR_THREADS, 0, st>>>(x, part, N, C, S);
  finalize_and_apply<St>(part, P, x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, N,
                         C, S, eps, momentum, relu, st);
  return release(part, sevc::check_launch(what), st, sw);
}
template <class St>
int bn_act_backward(const char* what, const typename St::storage* x, const typename St::storage* y,
                    const typename St::storage* dy, const float* gamma, const float* save_mean,
                    const float* save_invstd, typename St::storage* dx, float* dgamma, float* dbeta,
                    typename St::storage* dresidual, int64_t N, int64_t C, int64_t S, void* stream) {
  if (N < 0 || C < 0 || S < 0) return bnx_fail(what, "negative size");
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int P = bnx_splits(N, C, S);
  SevDouble2* part = nullptr;
  char sw[96];
  snprintf(sw, sizeof sw, "%s: scratch", what);
  if (scratch(&part, C * P, st, sw)) return SEVC_E_LAUNCH;
  bnx_backward_stats_kernel<St><<<channel_grid(P, C), CBR_THREADS, 0, st>>>(x, y, dy, save_mean, save_invstd, part,
                                                                             N, C, S);
  bnx_backward_dx_kernel<St><<<channel_grid(P, C), CBR_THREADS, 0, st>>>(x, y, dy, gamma, save_mean, save_invstd,
                                                                          part, dx, dgamma, dbeta, dresidual, N, C, S);
  return release(part, sevc::check_launch(what), st, sw);
}
// the 16-bit inference form: x, w, y in bf16 / fp16, fp32 accumulation and epilogue, y rounded once
template <class St>
int grouped_conv3x3_forward_16(const char* what, const uint16_t* x, const uint16_t* w, const float* bias,
                               const float* gamma, const float* beta, const float* running_mean,
                               const float* running_var, float eps, int relu, uint16_t* y, int N, int C, int cg, int T,
                               int H, int W, int stride, void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, what)) return SEVC_E_ARG;
  if ((int64_t)N * C * T * H * W == 0) return SEVC_OK;
  gc_fwd_launch<St>(x, w, y, nullptr, epilogue(bias, gamma, beta, running_mean, running_var, eps, relu),
                    gc_dims(N, C, cg, T, H, W, stride), sevc::as_stream(stream));
  return sevc::check_launch(what);
}
// the 16-bit backward-data: dy, w, dx in bf16 / fp16, fp32 accumulation, dx rounded once
template <class St>
int grouped_conv3x3_backward_data_16(const char* what, const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                     int cg, int T, int H, int W, int stride, void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, what)) return SEVC_E_ARG;
  if ((int64_t)N * C * T * H * W == 0) return SEVC_OK;
  gc_bwd_data_launch<St>(dy, w, dx, gc_dims(N, C, cg, T, H, W, stride), sevc::as_stream(stream));
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int sevc_pointwise_conv_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                const float* beta, const float* running_mean, const float* running_var, float eps,
                                int relu, float* y, int N, int Cin, int Cout, int64_t S, void* stream) {
  if (pw_check(N, Cin, Cout, S, "pointwise_conv_forward: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * Cout * S == 0) return SEVC_OK;
  pw_launch(x, w, y, nullptr, epilogue(bias, gamma, beta, running_mean, running_var, eps, relu), N, Cin, Cout, S,
            sevc::as_stream(stream));
  return sevc::check_launch("pointwise_conv_forward");
}

int sevc_pointwise_conv_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                 float* y, float* save_mean, float* save_invstd, float* running_mean,
                                 float* running_var, float eps, float momentum, int relu, int N, int Cin, int Cout,
                                 int64_t S, void* stream) {
  if (pw_check(N, Cin, Cout, S, "pointwise_conv_bn_train: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * S <= 1)
    return sevc::fail(SEVC_E_ARG, "batch norm in training mode needs more than one value per channel");
  if (Cout == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int64_t P = pw_stat_parts(N, S);
  SevDouble2* part = nullptr;
  if (scratch(&part, (int64_t)Cout * P, st, "pointwise_conv_bn_train: scratch")) return SEVC_E_LAUNCH;
  pw_launch(x, w, z, part, epilogue(nullptr, nullptr, nullptr, nullptr, nullptr, 0.f, 0), N, Cin, Cout, S, st);
  finalize_and_apply<SevF32>(part, P, z, nullptr, gamma, beta, y, save_mean, save_invstd, running_mean, running_var,
                             N, Cout, S, eps, momentum, relu, st);
  return release(part, sevc::check_launch("pointwise_conv_bn_train"), st, "pointwise_conv_bn_train: scratch");
}

int sevc_grouped_conv3x3_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                 const float* beta, const float* running_mean, const float* running_var, float eps,
                                 int relu, float* y, int N, int C, int cg, int T, int H, int W, int stride,
                                 void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, "grouped_conv3x3_forward: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * C * T * H * W == 0) return SEVC_OK;
  gc_fwd_launch(x, w, y, nullptr, epilogue(bias, gamma, beta, running_mean, running_var, eps, relu),
                gc_dims(N, C, cg, T, H, W, stride), sevc::as_stream(stream));
  return sevc::check_launch("grouped_conv3x3_forward");
}

int sevc_grouped_conv3x3_forward_bf16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                      const float* beta, const float* running_mean, const float* running_var,
                                      float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                      int stride, void* stream) {
  return grouped_conv3x3_forward_16<SevBF16>("grouped_conv3x3_forward_bf16: bad size", x, w, bias, gamma, beta,
                                             running_mean, running_var, eps, relu, y, N, C, cg, T, H, W, stride,
                                             stream);
}
int sevc_grouped_conv3x3_forward_f16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                     const float* beta, const float* running_mean, const float* running_var,
                                     float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                     int stride, void* stream) {
  return grouped_conv3x3_forward_16<SevF16>("grouped_conv3x3_forward_f16: bad size", x, w, bias, gamma, beta,
                                            running_mean, running_var, eps, relu, y, N, C, cg, T, H, W, stride,
                                            stream);
}

int sevc_grouped_conv3x3_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                  float* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, float eps, float momentum, int relu, int N, int C, int cg, int T,
                                  int H, int W, int stride, void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, "grouped_conv3x3_bn_train: bad size")) return SEVC_E_ARG;
  const GcDims d = gc_dims(N, C, cg, T, H, W, stride);
  const int64_t S = (int64_t)T * d.Ho * d.Wo;
  if ((int64_t)N * S <= 1)
    return sevc::fail(SEVC_E_ARG, "batch norm in training mode needs more than one value per channel");
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int64_t P = gc_stat_parts(N, T, H, W, stride);
  SevDouble2* part = nullptr;
  if (scratch(&part, (int64_t)C * P, st, "grouped_conv3x3_bn_train: scratch")) return SEVC_E_LAUNCH;
  gc_fwd_launch(x, w, z, part, epilogue(nullptr, nullptr, nullptr, nullptr, nullptr, 0.f, 0), d, st);
  finalize_and_apply<SevF32>(part, P, z, nullptr, gamma, beta, y, save_mean, save_invstd, running_mean, running_var,
                             N, C, S, eps, momentum, relu, st);
  return release(part, sevc::check_launch("grouped_conv3x3_bn_train"), st, "grouped_conv3x3_bn_train: scratch");
}

int sevc_grouped_conv3x3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int cg, int T, int H,
                                       int W, int stride, void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, "grouped_conv3x3_backward_data: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * C * T * H * W == 0) return SEVC_OK;
  gc_bwd_data_launch(dy, w, dx, gc_dims(N, C, cg, T, H, W, stride), sevc::as_stream(stream));
  return sevc::check_launch("grouped_conv3x3_backward_data");
}
int sevc_grouped_conv3x3_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                            int T, int H, int W, int stride, void* stream) {
  return grouped_conv3x3_backward_data_16<SevBF16>("grouped_conv3x3_backward_data_bf16: bad size", dy, w, dx, N, C,
                                                   cg, T, H, W, stride, stream);
}
int sevc_grouped_conv3x3_backward_data_f16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                           int T, int H, int W, int stride, void* stream) {
  return grouped_conv3x3_backward_data_16<SevF16>("grouped_conv3x3_backward_data_f16: bad size", dy, w, dx, N, C, cg,
                                                  T, H, W, stride, stream);
}

int sevc_grouped_conv3x3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int cg, int T,
                                         int H, int W, int stride, void* stream) {
  if (gc_check(N, C, cg, T, H, W, stride, "grouped_conv3x3_backward_weight: bad size")) return SEVC_E_ARG;
  const int64_t total = (int64_t)C * cg * 9;
  if (total == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  if ((int64_t)N * T * H * W == 0) {  // no positions: the gradient is zero
    const cudaError_t err = cudaMemsetAsync(dw, 0, sizeof(float) * total, st);
    return err == cudaSuccess ? SEVC_OK : sevc::fail(SEVC_E_LAUNCH, "grouped_conv3x3_backward_weight", err);
  }
  const GcDims d = gc_dims(N, C, cg, T, H, W, stride);
  const GcTile t = gc_dw_tile(d);
  const int P = gc_dw_splits(d);
  const size_t smem = sizeof(float) * gc_dw_smem_floats(d);
  if (smem > 48 * 1024) {  // above the default limit: opt in (sm_80 and sm_90 have 163 KB and more)
    const cudaError_t err = cudaFuncSetAttribute(gc_dw_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, "grouped_conv3x3_backward_weight: shared memory", err);
  }
  float* parts = nullptr;
  if (scratch(&parts, total * P, st, "grouped_conv3x3_backward_weight: scratch")) return SEVC_E_LAUNCH;
  gc_dw_kernel<<<dim3((unsigned)P, (unsigned)(C / cg)), GC_THREADS, smem, st>>>(x, dy, parts, d, t);
  gc_dw_reduce_kernel<<<sevc::blocks_for(total), sevc::kThreads, 0, st>>>(parts, dw, P, total);
  return release(parts, sevc::check_launch("grouped_conv3x3_backward_weight"), st,
                 "grouped_conv3x3_backward_weight: scratch");
}

int sevc_bn_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta, float* y,
                              float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t N,
                              int64_t C, int64_t S, float eps, float momentum, int relu, void* stream) {
  return bn_act_train_forward<SevF32>("bn_act_train_forward", x, residual, gamma, beta, y, save_mean, save_invstd,
                                      running_mean, running_var, N, C, S, eps, momentum, relu, stream);
}

int sevc_bn_act_backward(const float* x, const float* y, const float* dy, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, float* dresidual, int64_t N,
                         int64_t C, int64_t S, void* stream) {
  return bn_act_backward<SevF32>("bn_act_backward", x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta,
                                 dresidual, N, C, S, stream);
}

/* ---- the same two in 16-bit storage (bf16, fp16) ---- */
int sevc_bn_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                   uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                   float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                   int relu, void* stream) {
  return bn_act_train_forward<SevBF16>("bn_act_train_forward_bf16", x, residual, gamma, beta, y, save_mean,
                                       save_invstd, running_mean, running_var, N, C, S, eps, momentum, relu, stream);
}
int sevc_bn_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                  uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                  int relu, void* stream) {
  return bn_act_train_forward<SevF16>("bn_act_train_forward_f16", x, residual, gamma, beta, y, save_mean,
                                      save_invstd, running_mean, running_var, N, C, S, eps, momentum, relu, stream);
}
int sevc_bn_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                              const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                              float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream) {
  return bn_act_backward<SevBF16>("bn_act_backward_bf16", x, y, dy, gamma, save_mean, save_invstd, dx, dgamma,
                                  dbeta, dresidual, N, C, S, stream);
}
int sevc_bn_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                             const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                             float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream) {
  return bn_act_backward<SevF16>("bn_act_backward_f16", x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta,
                                 dresidual, N, C, S, stream);
}

}  // extern "C"
