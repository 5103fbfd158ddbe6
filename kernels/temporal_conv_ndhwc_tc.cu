// Temporal 3x1x1 convolution, channels-last (NDHWC), on tensor cores: forward (with bias + residual + ReLU in its
// store) and backward-data, fp32 storage through TF32, bf16 and fp16 (bodies and the why in
// temporal_conv_ndhwc_tc.cuh; host driver and its MMA in native/src/kernels_hostrun.cpp).
#include <mma.h>
#include <stdio.h>

#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "sevc_common.cuh"
#include "temporal_conv_ndhwc_tc.cuh"

namespace {
namespace wmma = nvcuda::wmma;

// The fragments of each storage type: fp32 as TF32 (k = 8), the 16-bit types as themselves (k = 16). FwdB: the
// forward's column-major B tile, else backward-data's row-major one.
template <class St>
struct TtMma;
template <>
struct TtMma<SevF32> {
  static constexpr int K = 8;
  typedef float elem;
  typedef wmma::precision::tf32 frag_t;
  static __device__ void to_tf32(float* x, int count) {
    for (int t = 0; t < count; t++) x[t] = wmma::__float_to_tf32(x[t]);
  }
};
template <>
struct TtMma<SevBF16> {
  static constexpr int K = 16;
  typedef __nv_bfloat16 elem;
  typedef __nv_bfloat16 frag_t;
  template <class T>
  static __device__ void to_tf32(T*, int) {}
};
template <>
struct TtMma<SevF16> {
  static constexpr int K = 16;
  typedef __half elem;
  typedef __half frag_t;
  template <class T>
  static __device__ void to_tf32(T*, int) {}
};

// grid (position tiles, channel tiles, items); TRANS: backward-data
template <class St, bool TRANS>
__global__ void __launch_bounds__(TT_THREADS, 4) tt_kernel(const typename St::storage* __restrict__ src,
                                                        const typename St::storage* __restrict__ w,
                                                        typename St::storage* __restrict__ dst, TtDims d,
                                                        TtEpilogue e) {
#if __CUDA_ARCH__ >= 800
  typedef typename St::storage S;
  typedef TtGeom<S> G;
  typedef TtMma<St> M;
  typedef typename M::elem E;
  typedef typename std::conditional<TRANS, wmma::row_major, wmma::col_major>::type BLayout;
  __shared__ __align__(128) unsigned char smem[G::SMEM_BYTES];
  S* As = reinterpret_cast<S*>(smem);
  S* Bs = As + TT_BM * G::LDA;
  float* Cs = reinterpret_cast<float*>(smem);  // after the last slice only

  const int n = blockIdx.z, m0 = blockIdx.y * TT_BN;
  const int64_t j0 = (int64_t)blockIdx.x * TT_BM;
  const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  constexpr int PA = G::A_SLOTS / TT_THREADS, PB = G::B_SLOTS / TT_THREADS;

  wmma::fragment<wmma::accumulator, 16, 16, M::K, float> acc[2][2];
#pragma unroll
  for (int fi = 0; fi < 2; fi++)
#pragma unroll
    for (int fj = 0; fj < 2; fj++) wmma::fill_fragment(acc[fi][fj], 0.f);

  TtVec<S> ra[PA], rb[PB];
  for (int p = 0; p < PA; p++) ra[p] = tt_fetch_a<St>(src, d, n, j0, 0, threadIdx.x + p * TT_THREADS, TRANS);
  for (int p = 0; p < PB; p++) rb[p] = tt_fetch_b<St>(w, d, m0, 0, threadIdx.x + p * TT_THREADS, TRANS);
  for (int r0 = 0; r0 < 3 * d.C; r0 += TT_BK) {
    for (int p = 0; p < PA; p++) tt_put_a(As, threadIdx.x + p * TT_THREADS, ra[p]);
    for (int p = 0; p < PB; p++) tt_put_b(Bs, threadIdx.x + p * TT_THREADS, rb[p], TRANS);
    __syncthreads();
    if (r0 + TT_BK < 3 * d.C) {  // the next slice's loads in flight while the tensor cores work on this one
      for (int p = 0; p < PA; p++)
        ra[p] = tt_fetch_a<St>(src, d, n, j0, r0 + TT_BK, threadIdx.x + p * TT_THREADS, TRANS);
      for (int p = 0; p < PB; p++) rb[p] = tt_fetch_b<St>(w, d, m0, r0 + TT_BK, threadIdx.x + p * TT_THREADS, TRANS);
    }
#pragma unroll
    for (int kk = 0; kk < TT_BK; kk += M::K) {
      wmma::fragment<wmma::matrix_a, 16, 16, M::K, typename M::frag_t, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, M::K, typename M::frag_t, BLayout> b[2];
      for (int fi = 0; fi < 2; fi++) {
        wmma::load_matrix_sync(a[fi], reinterpret_cast<const E*>(As) + (wm + 16 * fi) * G::LDA + kk, G::LDA);
        M::to_tf32(a[fi].x, a[fi].num_elements);
      }
      for (int fj = 0; fj < 2; fj++) {
        const E* bp = reinterpret_cast<const E*>(Bs);
        if (TRANS)
          wmma::load_matrix_sync(b[fj], bp + kk * G::LDB_ROW + wn + 16 * fj, G::LDB_ROW);
        else
          wmma::load_matrix_sync(b[fj], bp + (wn + 16 * fj) * G::LDB_COL + kk, G::LDB_COL);
        M::to_tf32(b[fj].x, b[fj].num_elements);
      }
      for (int fi = 0; fi < 2; fi++)
        for (int fj = 0; fj < 2; fj++) wmma::mma_sync(acc[fi][fj], a[fi], b[fj], acc[fi][fj]);
    }
    __syncthreads();
  }
  for (int fi = 0; fi < 2; fi++)
    for (int fj = 0; fj < 2; fj++)
      wmma::store_matrix_sync(Cs + (wm + 16 * fi) * G::LDC + wn + 16 * fj, acc[fi][fj], G::LDC, wmma::mem_row_major);
  __syncthreads();
  for (int slot = threadIdx.x; slot < G::OUT_SLOTS; slot += TT_THREADS)
    tt_store_slot<St>(dst, Cs, slot, d, n, j0, m0, e);
#else
  __trap();  // built for sm_80 and later only (cmake/SevnetCuda.cmake); WMMA TF32/bf16 needs Ampere
#endif
}

template <class St, bool TRANS>
void launch(const void* src, const void* w, void* dst, const TtDims& d, int N, const TtEpilogue& e, cudaStream_t st) {
  typedef typename St::storage S;
  const dim3 grid((unsigned)((d.TS + TT_BM - 1) / TT_BM), (unsigned)((d.C + TT_BN - 1) / TT_BN), (unsigned)N);
  tt_kernel<St, TRANS><<<grid, TT_THREADS, 0, st>>>((const S*)src, (const S*)w, (S*)dst, d, e);
}

int run(const char* what, bool trans, const void* src, const void* w, void* dst, const TtEpilogue& e, int N, int C,
        int T, int64_t S, int dtype, void* stream) {
  const bool empty = N == 0 || C == 0 || T == 0 || S == 0;  // nothing is read or written
  const char* why = tt_bad_args(N, C, T, S, dtype, !empty && (!src || !w || !dst));
  if (why) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (N=%d, C=%d, T=%d, S=%lld, dtype=%d)", what, why, N, C, T, (long long)S, dtype);
    return sevc::fail(SEVC_E_ARG, msg);
  }
  if (empty) return SEVC_OK;
  const TtDims d = tt_dims(C, T, S, dtype == SEV_DT_F32 ? 4 : 2, src, w, dst, e.residual);
  const cudaStream_t st = sevc::as_stream(stream);
  if (dtype == SEV_DT_F32)
    trans ? launch<SevF32, true>(src, w, dst, d, N, e, st) : launch<SevF32, false>(src, w, dst, d, N, e, st);
  else if (dtype == SEV_DT_BF16)
    trans ? launch<SevBF16, true>(src, w, dst, d, N, e, st) : launch<SevBF16, false>(src, w, dst, d, N, e, st);
  else
    trans ? launch<SevF16, true>(src, w, dst, d, N, e, st) : launch<SevF16, false>(src, w, dst, d, N, e, st);
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int sevc_temporal_conv3_ndhwc_tc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                         int relu, void* y, int N, int C, int T, int64_t S, int dtype, void* stream) {
  return run("temporal_conv3_ndhwc_tc_forward", false, x, w, y, TtEpilogue{bias, residual, relu}, N, C, T, S, dtype,
             stream);
}

int sevc_temporal_conv3_ndhwc_tc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int T, int64_t S,
                                               int dtype, void* stream) {
  return run("temporal_conv3_ndhwc_tc_backward_data", true, dy, w, dx, TtEpilogue{nullptr, nullptr, 0}, N, C, T, S,
             dtype, stream);
}

}  // extern "C"
