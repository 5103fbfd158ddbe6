// Temporal 3x1x1 convolution, C -> C, padding 1 in time, channels-last (NDHWC), fp32 and bf16 storage
// (bodies in temporal_conv_ndhwc.cuh): forward and backward-data as one shared-memory tiled GEMM over
// positions with the three taps as shifted rows; backward-weight the same GEMM with the reduction over
// items and positions split among blocks (partials added in order, dw in fp32). CUDA-core FMAs.
#include <stdio.h>

#include "sevc_common.cuh"
#include "temporal_conv_ndhwc.cuh"

namespace {
// grid (position tiles, channel tiles, items); TRANS: backward-data
template <class St, bool TRANS>
__global__ void __launch_bounds__(TC_THREADS) tcl_gemm_kernel(const typename St::storage* __restrict__ w,
                                                              const typename St::storage* __restrict__ src,
                                                              typename St::storage* __restrict__ dst, int C,
                                                              int64_t S, int64_t TS) {
  __shared__ float As[TC_BK * TC_LD];
  __shared__ float Bs[TC_BK * TC_LD];
  const int n = blockIdx.z, m0 = blockIdx.y * TC_BN;
  const int64_t j0 = blockIdx.x * (int64_t)TC_BM;
  float acc[4][4] = {};
  for (int r0 = 0; r0 < 3 * C; r0 += TC_BK) {
    for (int slot = threadIdx.x; slot < TC_BK * TC_BM; slot += TC_THREADS)
      tcl_load_slot<St>(As, Bs, slot, w, src, n, j0, m0, r0, C, S, TS, TRANS);
    __syncthreads();
    tconv_compute(As, TC_LD, Bs, TC_LD, acc, threadIdx.x);
    __syncthreads();
  }
  tcl_store<St>(dst, acc, threadIdx.x, n, j0, m0, C, TS);
}
// grid (r tiles, m tiles, splits): split blockIdx.z's partial product of one tile
template <class St>
__global__ void __launch_bounds__(TC_THREADS) tcl_dw_kernel(const typename St::storage* __restrict__ x,
                                                            const typename St::storage* __restrict__ dy,
                                                            float* __restrict__ parts, int N, int C, int64_t S,
                                                            int64_t TS) {
  __shared__ float As[TC_BK * TC_LD];
  __shared__ float Bs[TC_BK * TC_LD];
  tconv_dw_block(As, Bs, parts, N, C, TS, [&](float* a, float* b, int slot, int n, int m0, int r0, int64_t j0) {
    tcl_dw_load_slot<St>(a, b, slot, x, dy, n, m0, r0, j0, C, S, TS);
  });
}
// the NCDHW kernel's reduction, repeated here: a kernel in an anonymous namespace is one file's
__global__ void tcl_dw_reduce_kernel(const float* __restrict__ parts, float* __restrict__ dw, int P, int C) {
  SEVC_FOR_EACH(i, 3 * (int64_t)C * C) dw[i] = tconv_dw_reduce_element(parts, P, i, C);
}

// SEVC_OK, or SEVC_E_ARG with "what: reason (sizes)" as the last error
int check(const char* what, int N, int C, int T, int64_t S, bool null_pointer) {
  const char* why = tcl_bad_args(N, C, T, S, null_pointer);
  if (!why) return SEVC_OK;
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (N=%d, C=%d, T=%d, S=%lld)", what, why, N, C, T, (long long)S);
  return sevc::fail(SEVC_E_ARG, msg);
}

template <class St>
int gemm(const char* what, bool trans, const typename St::storage* w, const typename St::storage* src,
         typename St::storage* dst, int N, int C, int T, int64_t S, void* stream) {
  const bool empty = N == 0 || C == 0 || T == 0 || S == 0;  // nothing is read or written
  if (check(what, N, C, T, S, !empty && (!w || !src || !dst))) return SEVC_E_ARG;
  if (empty) return SEVC_OK;
  const int64_t TS = (int64_t)T * S;  // below 2^36 (checked)
  const dim3 grid((unsigned)((TS + TC_BM - 1) / TC_BM), (unsigned)((C + TC_BN - 1) / TC_BN), (unsigned)N);
  if (trans)
    tcl_gemm_kernel<St, true><<<grid, TC_THREADS, 0, sevc::as_stream(stream)>>>(w, src, dst, C, S, TS);
  else
    tcl_gemm_kernel<St, false><<<grid, TC_THREADS, 0, sevc::as_stream(stream)>>>(w, src, dst, C, S, TS);
  return sevc::check_launch(what);
}

template <class St>
int backward_weight(const char* what, const typename St::storage* x, const typename St::storage* dy, float* dw, int N,
                    int C, int T, int64_t S, void* stream) {
  // dw is written (zeros) even when there are no positions; x and dy are read only when there are
  const bool null_pointer = (C > 0 && !dw) || (N > 0 && C > 0 && T > 0 && S > 0 && (!x || !dy));
  if (check(what, N, C, T, S, null_pointer)) return SEVC_E_ARG;
  if (C == 0) return SEVC_OK;
  const int64_t TS = (int64_t)T * S, per = 3 * (int64_t)C * C;
  const int P = tconv_dw_splits(N, C, TS);
  const cudaStream_t st = sevc::as_stream(stream);
  float* parts = nullptr;  // stream-ordered scratch: P partial products (as sevc_temporal_conv3_backward_weight)
  cudaError_t err = sevc::scratch_malloc((void**)&parts, sizeof(float) * per * P, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, what, err);
  const dim3 grid((unsigned)((3 * C + TC_BN - 1) / TC_BN), (unsigned)((C + TC_BM - 1) / TC_BM), (unsigned)P);
  tcl_dw_kernel<St><<<grid, TC_THREADS, 0, st>>>(x, dy, parts, N, C, S, TS);
  tcl_dw_reduce_kernel<<<sevc::blocks_for(per), sevc::kThreads, 0, st>>>(parts, dw, P, C);
  return sevc::free_scratch(parts, st, sevc::check_launch(what), what);
}
}  // namespace

extern "C" {

int sevc_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                          void* stream) {
  return gemm<SevF32>("temporal_conv3_ndhwc_forward_f32", false, w, x, y, N, C, T, S, stream);
}

int sevc_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C, int T,
                                           int64_t S, void* stream) {
  return gemm<SevBF16>("temporal_conv3_ndhwc_forward_bf16", false, w, x, y, N, C, T, S, stream);
}

int sevc_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C, int T,
                                                int64_t S, void* stream) {
  return gemm<SevF32>("temporal_conv3_ndhwc_backward_data_f32", true, w, dy, dx, N, C, T, S, stream);
}

int sevc_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                 int T, int64_t S, void* stream) {
  return gemm<SevBF16>("temporal_conv3_ndhwc_backward_data_bf16", true, w, dy, dx, N, C, T, S, stream);
}

int sevc_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C, int T,
                                                  int64_t S, void* stream) {
  return backward_weight<SevF32>("temporal_conv3_ndhwc_backward_weight_f32", x, dy, dw, N, C, T, S, stream);
}

int sevc_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N, int C,
                                                   int T, int64_t S, void* stream) {
  return backward_weight<SevBF16>("temporal_conv3_ndhwc_backward_weight_bf16", x, dy, dw, N, C, T, S, stream);
}

}  // extern "C"
