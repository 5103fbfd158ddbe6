// Channels-last (NDHWC) glue: layout transforms, conv epilogue, SE scale, global and 3-d average pooling,
// channel concat/split (bodies in channels_ndhwc.cuh; host drivers in native/src/hostrun_channels_ndhwc.cpp).
#include <stdio.h>

#include "channels_ndhwc.cuh"
#include "sevc_common.cuh"

namespace {
// ---- 1. transposes: one 32 x 8 block per 32 x 32 tile, grid-stride over the tiles (N and S unbounded)
template <typename T>
__global__ void __launch_bounds__(CL_TILE* CL_TROWS)
    cl_transpose_kernel(const T* __restrict__ src, T* __restrict__ dst, int64_t N, int64_t R, int64_t K) {
  __shared__ T tile[CL_TILE * ClTile<T>::LD];
  const ClTileGrid g = cl_tile_grid(N, R, K);
  for (int64_t t = blockIdx.x; t < g.total; t += gridDim.x) {
    int64_t n, r0, k0;
    cl_tile_origin(g, t, &n, &r0, &k0);
    cl_transpose_load(src, tile, n, r0, k0, R, K, threadIdx.x, threadIdx.y);
    __syncthreads();
    cl_transpose_store(tile, dst, n, r0, k0, R, K, threadIdx.x, threadIdx.y);
    __syncthreads();  // the next tile's loads overwrite this one
  }
}

// the narrow form (cl_narrow): grid (positions of the long axis, items), one position per thread
template <typename T>
__global__ void cl_transpose_narrow_kernel(const T* __restrict__ src, T* __restrict__ dst, int64_t N, int64_t R,
                                           int64_t K) {
  const int64_t L = cl_narrow_len(R, K);
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y)
    for (int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; l < L; l += (int64_t)gridDim.x * blockDim.x)
      cl_transpose_narrow(src, dst, n, l, R, K);
}

// this thread's start and the grid's thread count, for ClWalk
#define CL_START (blockIdx.x * (int64_t)blockDim.x + threadIdx.x)
#define CL_STEP ((int64_t)gridDim.x * blockDim.x)

template <class St>
__global__ void bias_act_ndhwc_kernel(typename St::storage* y, const float* bias, const typename St::storage* res,
                                      int64_t M, int64_t C, int relu) {
  for (ClWalk k(CL_START, CL_STEP, M, C); k.more(); k.next()) bias_act_ndhwc_element<St>(y, bias, res, k.i, k.w.s, relu);
}

// blockIdx.y strides the items (g's row), x the item's [S][C] elements
template <class St>
__global__ void channel_scale_ndhwc_kernel(const typename St::storage* x, const float* g, typename St::storage* y,
                                           int64_t N, int64_t C, int64_t S) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const typename St::storage* xn = x + n * S * C;
    typename St::storage* yn = y + n * S * C;
    for (ClWalk k(CL_START, CL_STEP, S, C); k.more(); k.next())
      channel_scale_ndhwc_element<St>(xn, g + n * C, yn, k.i, k.w.s);
  }
}

template <class St>
__global__ void gap_ndhwc_backward_kernel(const float* dy, typename St::storage* dx, int64_t N, int64_t C, int64_t S) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    typename St::storage* dxn = dx + n * S * C;
    for (ClWalk k(CL_START, CL_STEP, S, C); k.more(); k.next())
      gap_ndhwc_backward_element<St>(dy, dxn, k.i, n, k.w.s, C, S);
  }
}

template <typename T>
__global__ void concat_ndhwc_kernel(const T* a, const T* b, T* y, int64_t M, int64_t Ca, int64_t Cb) {
  for (ClWalk k(CL_START, CL_STEP, M, Ca + Cb); k.more(); k.next())
    y[k.i] = concat_ndhwc_element(a, b, k.w.row, k.w.s, Ca, Cb);
}
template <typename T>
__global__ void split_ndhwc_kernel(const T* y, T* a, T* b, int64_t M, int64_t Ca, int64_t Cb) {
  for (ClWalk k(CL_START, CL_STEP, M, Ca + Cb); k.more(); k.next())
    split_ndhwc_element(y, a, b, k.i, k.w.row, k.w.s, Ca, Cb);
}

// ---- column reductions: grid (item x channel tile, split), block (32, CL_RROWS); the shares folded over ty by
// halving strides (sev_tree_sum_host's order). part == NULL (one split): the block finishes its channels; else it
// writes its sums to part [N][P][C] and cl_finalize_kernel adds them.
__device__ double cl_fold_rows(double v, double (*smem)[32]) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  smem[ty][tx] = v;
  __syncthreads();
  for (int h = CL_RROWS / 2; h > 0; h >>= 1) {
    if (ty < h) smem[ty][tx] = smem[ty][tx] + smem[ty + h][tx];
    __syncthreads();
  }
  const double total = smem[0][tx];
  __syncthreads();  // the array is free again for the next block item
  return total;
}
// a (n, c) column's result from its sum: the mean (global pool) or the float sum (the SE gate's dg)
__device__ __forceinline__ float cl_col_finish(double total, int64_t S, bool mean) {
  return mean ? global_avgpool_finish(total, S) : (float)total;
}

template <class St>
__global__ void __launch_bounds__(32 * CL_RROWS)
    gap_ndhwc_forward_kernel(const typename St::storage* __restrict__ x, double* __restrict__ part,
                             float* __restrict__ y, int64_t N, int64_t C, int64_t S) {
  __shared__ double smem[CL_RROWS][32];
  const int64_t tiles = cl_col_tiles(C);
  const int p = blockIdx.y, P = gridDim.y;
  int64_t s0, s1;
  cl_split_rows(S, p, P, &s0, &s1);
  for (int64_t b = blockIdx.x; b < N * tiles; b += gridDim.x) {
    const int64_t n = b / tiles, c = (b % tiles) * 32 + threadIdx.x;
    const double total = cl_fold_rows(gap_ndhwc_partial<St>(x, n, c, C, S, s0, s1, threadIdx.y), smem);
    if (threadIdx.y != 0 || c >= C) continue;
    if (part)
      part[(n * P + p) * C + c] = total;
    else
      y[n * C + c] = cl_col_finish(total, S, true);
  }
}

template <class St>
__global__ void __launch_bounds__(32 * CL_RROWS)
    channel_scale_ndhwc_backward_kernel(const typename St::storage* x, const float* g, const typename St::storage* dy,
                                        typename St::storage* dx, double* __restrict__ part, float* dg, int64_t N,
                                        int64_t C, int64_t S) {
  __shared__ double smem[CL_RROWS][32];
  const int64_t tiles = cl_col_tiles(C);
  const int p = blockIdx.y, P = gridDim.y;
  int64_t s0, s1;
  cl_split_rows(S, p, P, &s0, &s1);
  for (int64_t b = blockIdx.x; b < N * tiles; b += gridDim.x) {
    const int64_t n = b / tiles, c = (b % tiles) * 32 + threadIdx.x;
    const double share = channel_scale_ndhwc_backward_partial<St>(x, g, dy, dx, n, c, C, S, s0, s1, threadIdx.y);
    const double total = cl_fold_rows(share, smem);
    if (threadIdx.y != 0 || c >= C) continue;
    if (part)
      part[(n * P + p) * C + c] = total;
    else
      dg[n * C + c] = cl_col_finish(total, S, false);
  }
}

// one thread per (n, c), consecutive threads on consecutive channels (coalesced reads of each split's row)
__global__ void cl_finalize_kernel(const double* __restrict__ part, float* __restrict__ out, int64_t N, int64_t C,
                                   int64_t S, int P, bool mean) {
  SEVC_FOR_EACH(i, N * C) out[i] = cl_col_finish(cl_parts_sum(part, i / C, i % C, C, P), S, mean);
}

template <class St>
__global__ void avgpool3d_ndhwc_forward_kernel(const typename St::storage* __restrict__ x,
                                               typename St::storage* __restrict__ y, SevPool p) {
  SEVC_FOR_EACH(i, pool_out_count(p)) y[i] = avgpool3d_ndhwc_forward_element<St>(x, p, i);
}
// one thread per input element, gathering from the windows that hold it (no atomics)
template <class St>
__global__ void avgpool3d_ndhwc_backward_kernel(const typename St::storage* __restrict__ dy,
                                                typename St::storage* __restrict__ dx, SevPool p) {
  SEVC_FOR_EACH(i, pool_in_count(p)) dx[i] = avgpool3d_ndhwc_backward_element<St>(dy, p, i);
}

// a refused call: SEVC_E_ARG with "what: why"
int cl_fail(const char* what, const char* why) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, why);
  return sevc::fail(SEVC_E_ARG, msg);
}

dim3 cl_dim3(ClGrid2 g) { return dim3((unsigned)g.x, (unsigned)g.y, 1); }

// A column reduction's splits and, when P > 1, its [N][P][C] partials: from the stream-ordered pool
// (cudaMallocAsync, as the channels-last BN when given no scratch), so no call keeps memory between launches and
// the C ABI needs no scratch argument; freed on the stream after the finalize.
struct ClScratch {
  int P = 1;
  double* part = nullptr;
};
int cl_scratch(ClScratch* s, int64_t N, int64_t C, int64_t S, cudaStream_t st, const char* what) {
  s->P = cl_col_splits(N, C, S);
  if (s->P == 1) return SEVC_OK;
  const size_t bytes = sizeof(double) * (size_t)(N * s->P * C);
  const cudaError_t err = sevc::scratch_malloc((void**)&s->part, bytes, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, what, err);
  return SEVC_OK;
}
dim3 cl_reduction_grid(int64_t N, int64_t C, int P) {
  return dim3((unsigned)cl_reduction_blocks(N, C), (unsigned)P, 1);
}
// after the partials kernel: the finalize (P > 1) and the scratch's release, the first error reported
int cl_finalize(const ClScratch& s, float* out, int64_t N, int64_t C, int64_t S, bool mean, cudaStream_t st,
                const char* what) {
  if (!s.part) return sevc::check_launch(what);
  cl_finalize_kernel<<<(int)cl_blocks_for(N * C), CL_THREADS, 0, st>>>(s.part, out, N, C, S, s.P, mean);
  const int rc = sevc::check_launch(what);
  const cudaError_t err = cudaFreeAsync(s.part, st);
  return rc == SEVC_OK && err != cudaSuccess ? sevc::fail(SEVC_E_LAUNCH, what, err) : rc;
}
}  // namespace

// kernel<SevF32>, kernel<SevBF16> or kernel<SevF16> for a checked dtype code; the storage pointers cast to the
// instance's type (float* or uint16_t*)
#define CL_DTYPE_LAUNCH(kernel, dtype, grid, block, stream, ...)                                       \
  do {                                                                                               \
    if ((dtype) == SEV_DT_F32) {                                                                     \
      typedef float St_t;                                                                            \
      kernel<SevF32><<<(grid), (block), 0, sevc::as_stream(stream)>>>(__VA_ARGS__);                  \
    } else if ((dtype) == SEV_DT_BF16) {                                                             \
      typedef uint16_t St_t;                                                                         \
      kernel<SevBF16><<<(grid), (block), 0, sevc::as_stream(stream)>>>(__VA_ARGS__);                 \
    } else {                                                                                         \
      typedef uint16_t St_t;                                                                         \
      kernel<SevF16><<<(grid), (block), 0, sevc::as_stream(stream)>>>(__VA_ARGS__);                  \
    }                                                                                                \
  } while (0)

#define CL_CHECK(what, cond_reason)               \
  do {                                            \
    const char* why_ = (cond_reason);             \
    if (why_) return cl_fail((what), why_);       \
  } while (0)

namespace {
int cl_transpose(const char* what, const void* x, void* y, int64_t N, int64_t R, int64_t K, int elem_bytes,
                 void* stream) {
  CL_CHECK(what, cl_check_sizes(N, R, K));
  CL_CHECK(what, cl_check_elem(elem_bytes));
  const ClTileGrid g = cl_tile_grid(N, R, K);
  if (N * R * K == 0) return SEVC_OK;
  if (!x || !y) return cl_fail(what, "NULL pointer");
  if (x == y) return cl_fail(what, "cannot run in place");
  if (cl_narrow(R, K)) {
    const int64_t L = cl_narrow_len(R, K), bx = (L + CL_THREADS - 1) / CL_THREADS;
    const dim3 grid((unsigned)(bx < (1 << 20) ? bx : (1 << 20)), (unsigned)(N < 65535 ? N : 65535));
    if (elem_bytes == 4)
      cl_transpose_narrow_kernel<uint32_t><<<grid, CL_THREADS, 0, sevc::as_stream(stream)>>>((const uint32_t*)x,
                                                                                          (uint32_t*)y, N, R, K);
    else
      cl_transpose_narrow_kernel<uint16_t><<<grid, CL_THREADS, 0, sevc::as_stream(stream)>>>((const uint16_t*)x,
                                                                                          (uint16_t*)y, N, R, K);
    return sevc::check_launch(what);
  }
  const int blocks = (int)(g.total < (1 << 30) ? g.total : (1 << 30));
  const dim3 block(CL_TILE, CL_TROWS);
  if (elem_bytes == 4)
    cl_transpose_kernel<uint32_t><<<blocks, block, 0, sevc::as_stream(stream)>>>((const uint32_t*)x, (uint32_t*)y, N,
                                                                                  R, K);
  else
    cl_transpose_kernel<uint16_t><<<blocks, block, 0, sevc::as_stream(stream)>>>((const uint16_t*)x, (uint16_t*)y, N,
                                                                                  R, K);
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int sevc_ncdhw_to_ndhwc(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream) {
  return cl_transpose("ncdhw_to_ndhwc", x, y, N, C, S, elem_bytes, stream);
}

int sevc_ndhwc_to_ncdhw(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream) {
  return cl_transpose("ndhwc_to_ncdhw", x, y, N, S, C, elem_bytes, stream);
}

int sevc_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu, int dtype,
                        void* stream) {
  const char* what = "bias_act_ndhwc";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_sizes(M, C, 0));
  if (M * C == 0) return SEVC_OK;
  if (!y) return cl_fail(what, "NULL pointer");
  const int blocks = (int)cl_blocks_for(M * C);
  CL_DTYPE_LAUNCH(bias_act_ndhwc_kernel, dtype, blocks, CL_THREADS, stream, (St_t*)y, bias, (const St_t*)residual, M,
                  C, relu);
  return sevc::check_launch(what);
}

int sevc_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream) {
  const char* what = "channel_scale_ndhwc_forward";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEVC_OK;
  if (!x || !g || !y) return cl_fail(what, "NULL pointer");
  CL_DTYPE_LAUNCH(channel_scale_ndhwc_kernel, dtype, cl_dim3(cl_items_grid(N, S * C)), CL_THREADS, stream, (const St_t*)x, g,
                  (St_t*)y, N, C, S);
  return sevc::check_launch(what);
}

int sevc_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                      int64_t C, int64_t S, void* stream) {
  const char* what = "channel_scale_ndhwc_backward";
  CL_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEVC_OK;
  if (!dg || (S > 0 && (!x || !g || !dy || !dx))) return cl_fail(what, "NULL pointer");
  const cudaStream_t st = sevc::as_stream(stream);
  ClScratch s;
  if (int rc = cl_scratch(&s, N, C, S, st, what)) return rc;
  channel_scale_ndhwc_backward_kernel<SevF32><<<cl_reduction_grid(N, C, s.P), dim3(32, CL_RROWS), 0, st>>>(
      x, g, dy, dx, s.part, dg, N, C, S);
  return cl_finalize(s, dg, N, C, S, false, st, what);
}

int sevc_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                      void* stream) {
  const char* what = "global_avgpool_ndhwc_forward";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEVC_OK;
  if (!y || (S > 0 && !x)) return cl_fail(what, "NULL pointer");
  const cudaStream_t st = sevc::as_stream(stream);
  ClScratch s;
  if (int rc = cl_scratch(&s, N, C, S, st, what)) return rc;
  CL_DTYPE_LAUNCH(gap_ndhwc_forward_kernel, dtype, cl_reduction_grid(N, C, s.P), dim3(32, CL_RROWS), st,
                  (const St_t*)x, s.part, y, N, C, S);
  return cl_finalize(s, y, N, C, S, true, st, what);
}

int sevc_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype,
                                       void* stream) {
  const char* what = "global_avgpool_ndhwc_backward";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEVC_OK;
  if (!dy || !dx) return cl_fail(what, "NULL pointer");
  CL_DTYPE_LAUNCH(gap_ndhwc_backward_kernel, dtype, cl_dim3(cl_items_grid(N, S * C)), CL_THREADS, stream, dy, (St_t*)dx, N, C,
                  S);
  return sevc::check_launch(what);
}

int sevc_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                               int elem_bytes, void* stream) {
  const char* what = "concat_channels_ndhwc";
  CL_CHECK(what, cl_check_sizes(M, Ca, Cb));
  CL_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEVC_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return cl_fail(what, "NULL pointer");
  const int blocks = (int)cl_blocks_for(M * (Ca + Cb));
  if (elem_bytes == 4)
    concat_ndhwc_kernel<uint32_t><<<blocks, CL_THREADS, 0, sevc::as_stream(stream)>>>(
        (const uint32_t*)a, (const uint32_t*)b, (uint32_t*)y, M, Ca, Cb);
  else
    concat_ndhwc_kernel<uint16_t><<<blocks, CL_THREADS, 0, sevc::as_stream(stream)>>>(
        (const uint16_t*)a, (const uint16_t*)b, (uint16_t*)y, M, Ca, Cb);
  return sevc::check_launch(what);
}

int sevc_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb, int elem_bytes,
                              void* stream) {
  const char* what = "split_channels_ndhwc";
  CL_CHECK(what, cl_check_sizes(M, Ca, Cb));
  CL_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEVC_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return cl_fail(what, "NULL pointer");
  const int blocks = (int)cl_blocks_for(M * (Ca + Cb));
  if (elem_bytes == 4)
    split_ndhwc_kernel<uint32_t><<<blocks, CL_THREADS, 0, sevc::as_stream(stream)>>>(
        (const uint32_t*)y, (uint32_t*)a, (uint32_t*)b, M, Ca, Cb);
  else
    split_ndhwc_kernel<uint16_t><<<blocks, CL_THREADS, 0, sevc::as_stream(stream)>>>(
        (const uint16_t*)y, (uint16_t*)a, (uint16_t*)b, M, Ca, Cb);
  return sevc::check_launch(what);
}

int sevc_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype, void* stream) {
  const char* what = "avgpool3d_ndhwc_forward";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  const int64_t n = pool_out_count(pp);
  if (n == 0) return SEVC_OK;
  if (!x || !y) return cl_fail(what, "NULL pointer");
  CL_DTYPE_LAUNCH(avgpool3d_ndhwc_forward_kernel, dtype, (int)cl_blocks_for(n), CL_THREADS, stream, (const St_t*)x,
                  (St_t*)y, pp);
  return sevc::check_launch(what);
}

int sevc_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype, void* stream) {
  const char* what = "avgpool3d_ndhwc_backward";
  CL_CHECK(what, cl_check_dtype(dtype));
  CL_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  const int64_t n = pool_in_count(pp);
  if (n == 0) return SEVC_OK;
  if (!dy || !dx) return cl_fail(what, "NULL pointer");
  CL_DTYPE_LAUNCH(avgpool3d_ndhwc_backward_kernel, dtype, (int)cl_blocks_for(n), CL_THREADS, stream, (const St_t*)dy,
                  (St_t*)dx, pp);
  return sevc::check_launch(what);
}

}  // extern "C"
