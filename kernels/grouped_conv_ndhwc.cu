// Grouped 1x3x3 conv of the SEV block in channels-last layout, forward and backward-data, fp32 / bf16 / fp16
// storage with fp32 arithmetic (bodies in grouped_conv_ndhwc.cuh; host drivers in native/src/kernels_hostrun.cpp;
// CPU references sev_grouped_conv_ndhwc_* in native/src/grouped_conv_ndhwc.cpp).
#include <stdio.h>

#include "grouped_conv_ndhwc.cuh"
#include "sevc_common.cuh"

namespace {
// grid (tiles, groups, items), block gcl_threads(t); TRANS: backward-data (src dy, dst dx), else forward (x, y)
template <class St, int CGMAX, bool TRANS>
__global__ void __launch_bounds__(GCL_THREADS) gcl_kernel(const typename St::storage* __restrict__ src,
                                                          const typename St::storage* __restrict__ w,
                                                          typename St::storage* __restrict__ dst, GclDims d, GclTile t) {
  extern __shared__ float smem[];  // the window's planes, then the weights: sized to the tile (occupancy)
  float* xs = smem;
  float* ws = smem + t.plane * t.chunk;
  const int n = blockIdx.z, g = blockIdx.y, threads = blockDim.x;
  const GclOrigin o = gcl_origin(t, d, blockIdx.x, TRANS);
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
  gcl_store<St, CGMAX>(dst, acc, t, d, o, n, g, threadIdx.x, TRANS);
}

template <class St, bool TRANS>
void launch(const void* src, const void* w, void* dst, const GclDims& d, const GclTile& t, cudaStream_t st) {
  const dim3 grid((unsigned)gcl_tiles(t), (unsigned)(d.C / d.cg), (unsigned)d.N);
  const int threads = gcl_threads(t);
  const size_t smem = sizeof(float) * ((size_t)t.plane * t.chunk + (size_t)d.cg * 9 * d.cg);  // < 48 KB (gcl_tile)
  typedef typename St::storage S;
  if (d.cg <= 4)
    gcl_kernel<St, 4, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t);
  else if (d.cg <= 8)
    gcl_kernel<St, 8, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t);
  else
    gcl_kernel<St, 16, TRANS><<<grid, threads, smem, st>>>((const S*)src, (const S*)w, (S*)dst, d, t);
}

int run(const char* what, bool trans, const void* src, const void* w, void* dst, int N, int C, int cg, int T, int H,
        int W, int s, int dtype, void* stream) {
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
  if (gcl_tiles(t) > 0x7fffffff) return sevc::fail(SEVC_E_ARG, "grouped_conv_ndhwc: more than 2^31 tiles (grid x)");
  const cudaStream_t st = sevc::as_stream(stream);
  if (dtype == SEV_DT_F32)
    trans ? launch<SevF32, true>(src, w, dst, d, t, st) : launch<SevF32, false>(src, w, dst, d, t, st);
  else if (dtype == SEV_DT_BF16)
    trans ? launch<SevBF16, true>(src, w, dst, d, t, st) : launch<SevBF16, false>(src, w, dst, d, t, st);
  else
    trans ? launch<SevF16, true>(src, w, dst, d, t, st) : launch<SevF16, false>(src, w, dst, d, t, st);
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int sevc_grouped_conv_ndhwc_forward(const void* x, const void* w, void* y, int N, int C, int cg, int T, int H, int W,
                                    int s, int dtype, void* stream) {
  return run("grouped_conv_ndhwc_forward", false, x, w, y, N, C, cg, T, H, W, s, dtype, stream);
}

int sevc_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                          int W, int s, int dtype, void* stream) {
  return run("grouped_conv_ndhwc_backward_data", true, dy, w, dx, N, C, cg, T, H, W, s, dtype, stream);
}

}  // extern "C"
