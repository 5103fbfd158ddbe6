// Temporal 3x1x1 convolution, C -> C, padding 1 in time (bodies in temporal_conv.cuh): forward and
// backward-data as shared-memory tiled GEMMs over the three shifted taps; backward-weight the same
// GEMM with the reduction over items and columns split among blocks (partials added in order).
#include "sevc_common.cuh"
#include "temporal_conv.cuh"

namespace {
// grid (column tiles, channel tiles, items); TRANS: backward-data
template <bool TRANS>
__global__ void __launch_bounds__(TC_THREADS) temporal_conv3_gemm_kernel(const float* __restrict__ w,
                                                                         const float* __restrict__ src,
                                                                         float* __restrict__ dst, int C, int64_t S,
                                                                         int64_t TS) {
  __shared__ float As[TC_BK * TC_BM];
  __shared__ float Bs[TC_BK * TC_BN];
  const int n = blockIdx.z, m0 = blockIdx.y * TC_BM;
  const int64_t j0 = blockIdx.x * (int64_t)TC_BN;
  float acc[4][4] = {};
  for (int r0 = 0; r0 < 3 * C; r0 += TC_BK) {
    for (int slot = threadIdx.x; slot < TC_BK * TC_BM; slot += TC_THREADS)
      tconv_load_slot(As, Bs, slot, w, src, n, m0, j0, r0, C, S, TS, TRANS);
    __syncthreads();
    tconv_compute(As, TC_BM, Bs, TC_BN, acc, threadIdx.x);
    __syncthreads();
  }
  tconv_store(dst, acc, threadIdx.x, n, m0, j0, C, TS);
}
// grid (r tiles, m tiles, splits): split blockIdx.z's partial product of one tile
__global__ void __launch_bounds__(TC_THREADS) temporal_conv3_dw_kernel(const float* __restrict__ x,
                                                                       const float* __restrict__ dy,
                                                                       float* __restrict__ parts, int N, int C,
                                                                       int64_t S, int64_t TS) {
  __shared__ float As[TC_BK * TC_LD];
  __shared__ float Bs[TC_BK * TC_LD];
  tconv_dw_block(As, Bs, parts, N, C, TS, [&](float* a, float* b, int slot, int n, int m0, int r0, int64_t j0) {
    tconv_dw_load_slot(a, b, slot, x, dy, n, m0, r0, j0, C, S, TS);
  });
}
__global__ void temporal_conv3_dw_reduce_kernel(const float* __restrict__ parts, float* __restrict__ dw, int P,
                                                int C) {
  SEVC_FOR_EACH(i, 3 * (int64_t)C * C) dw[i] = tconv_dw_reduce_element(parts, P, i, C);
}

int check(int N, int C, int T, int64_t S, const char* what) {
  // the GEMM grid: column tiles in x, channel tiles in y (<= 65535), items in z (<= 65535)
  const bool ok = N >= 0 && C >= 0 && T >= 0 && S >= 0 && N <= 65535 && (C + TC_BM - 1) / TC_BM <= 65535 &&
                  ((int64_t)T * S + TC_BN - 1) / TC_BN < (1LL << 31);
  return ok ? SEVC_OK : sevc::fail(SEVC_E_ARG, what);
}

int launch_gemm(bool trans, const float* w, const float* src, float* dst, int N, int C, int T, int64_t S,
                void* stream) {
  const int64_t TS = (int64_t)T * S;
  const dim3 grid((unsigned)((TS + TC_BN - 1) / TC_BN), (unsigned)((C + TC_BM - 1) / TC_BM), (unsigned)N);
  if (trans)
    temporal_conv3_gemm_kernel<true><<<grid, TC_THREADS, 0, sevc::as_stream(stream)>>>(w, src, dst, C, S, TS);
  else
    temporal_conv3_gemm_kernel<false><<<grid, TC_THREADS, 0, sevc::as_stream(stream)>>>(w, src, dst, C, S, TS);
  return sevc::check_launch(trans ? "temporal_conv3_backward_data" : "temporal_conv3_forward");
}
}  // namespace

extern "C" {

int sevc_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                void* stream) {
  if (check(N, C, T, S, "temporal_conv3_forward: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * C * T * S == 0) return SEVC_OK;
  return launch_gemm(false, w, x, y, N, C, T, S, stream);
}

int sevc_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T, int64_t S,
                                      void* stream) {
  if (check(N, C, T, S, "temporal_conv3_backward_data: bad size")) return SEVC_E_ARG;
  if ((int64_t)N * C * T * S == 0) return SEVC_OK;
  return launch_gemm(true, w, dy, dx, N, C, T, S, stream);
}

int sevc_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T, int64_t S,
                                        void* stream) {
  if (check(N, C, T, S, "temporal_conv3_backward_weight: bad size")) return SEVC_E_ARG;
  if (C == 0) return SEVC_OK;
  const int64_t TS = (int64_t)T * S, per = 3 * (int64_t)C * C;
  const int P = tconv_dw_splits(N, C, TS);
  const cudaStream_t st = sevc::as_stream(stream);
  float* parts = nullptr;  // stream-ordered scratch: P partial products
  cudaError_t err = sevc::scratch_malloc((void**)&parts, sizeof(float) * per * P, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, "temporal_conv3_backward_weight: scratch", err);
  const dim3 grid((unsigned)((3 * C + TC_BN - 1) / TC_BN), (unsigned)((C + TC_BM - 1) / TC_BM), (unsigned)P);
  temporal_conv3_dw_kernel<<<grid, TC_THREADS, 0, st>>>(x, dy, parts, N, C, S, TS);
  temporal_conv3_dw_reduce_kernel<<<sevc::blocks_for(per), sevc::kThreads, 0, st>>>(parts, dw, P, C);
  return sevc::free_scratch(parts, st, sevc::check_launch("temporal_conv3_backward_weight"),
                            "temporal_conv3_backward_weight: freeing the scratch");
}

}  // extern "C"
