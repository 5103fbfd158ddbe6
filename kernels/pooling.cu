// Average pooling 3-d and global average pooling (bodies in pooling.cuh).
#include "pooling.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void avgpool3d_forward_kernel(const float* __restrict__ x, float* __restrict__ y, SevPool p) {
  SEVC_FOR_EACH(i, pool_out_count(p)) y[i] = avgpool3d_forward_element(x, p, i);
}
// one thread per input element, gathering from the windows that hold it (no atomics)
__global__ void avgpool3d_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, SevPool p) {
  SEVC_FOR_EACH(i, pool_in_count(p)) dx[i] = avgpool3d_backward_element(dy, p, i);
}
// one block per (n, c) row
__global__ void global_avgpool_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows,
                                              int64_t S) {
  __shared__ double smem[GAP_THREADS];
  SEVC_FOR_BLOCKS(nc, rows) {
    const double total = sev_block_sum(global_avgpool_partial(x, nc, S, threadIdx.x, blockDim.x), smem);
    if (threadIdx.x == 0) y[nc] = global_avgpool_finish(total, S);
  }
}
__global__ void global_avgpool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t rows,
                                               int64_t S) {
  SEVC_FOR_ROWS(nc, rows) {
    const float g = global_avgpool_backward_element(dy, nc, S);
    SEVC_FOR_EACH(s, S) dx[nc * S + s] = g;
  }
}

bool pool_args_ok(const SevPool& p) {
  return p.N >= 0 && p.C >= 0 && p.T >= 0 && p.H >= 0 && p.W >= 0 && p.kT > 0 && p.kH > 0 && p.kW > 0 && p.sT > 0 &&
         p.sH > 0 && p.sW > 0 && p.pT >= 0 && p.pH >= 0 && p.pW >= 0 && p.To >= 0 && p.Ho >= 0 && p.Wo >= 0;
}
}  // namespace

extern "C" {

int sevc_avgpool3d_forward(const float* x, float* y, const int* pp, void* stream) {
  if (!pp) return sevc::fail(SEVC_E_ARG, "avgpool3d_forward: no parameter block");
  const SevPool p = sev_pool_params(pp);
  if (!pool_args_ok(p)) return sevc::fail(SEVC_E_ARG, "avgpool3d_forward: bad parameter block");
  const int64_t n = pool_out_count(p);
  if (n == 0) return SEVC_OK;
  avgpool3d_forward_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(x, y, p);
  return sevc::check_launch("avgpool3d_forward");
}

int sevc_avgpool3d_backward(const float* dy, float* dx, const int* pp, void* stream) {
  if (!pp) return sevc::fail(SEVC_E_ARG, "avgpool3d_backward: no parameter block");
  const SevPool p = sev_pool_params(pp);
  if (!pool_args_ok(p)) return sevc::fail(SEVC_E_ARG, "avgpool3d_backward: bad parameter block");
  const int64_t n = pool_in_count(p);
  if (n == 0) return SEVC_OK;
  avgpool3d_backward_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(dy, dx, p);
  return sevc::check_launch("avgpool3d_backward");
}

int sevc_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "global_avgpool_forward: negative size");
  if (N * C == 0) return SEVC_OK;
  global_avgpool_forward_kernel<<<sevc::item_blocks(N * C), GAP_THREADS, 0, sevc::as_stream(stream)>>>(x, y, N * C, S);
  return sevc::check_launch("global_avgpool_forward");
}

int sevc_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "global_avgpool_backward: negative size");
  if (N * C * S == 0) return SEVC_OK;
  global_avgpool_backward_kernel<<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, sevc::as_stream(stream)>>>(dy, dx,
                                                                                                           N * C, S);
  return sevc::check_launch("global_avgpool_backward");
}

}  // extern "C"
