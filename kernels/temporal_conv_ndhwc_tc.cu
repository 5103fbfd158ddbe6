// Temporal 3x1x1 convolution, channels-last (NDHWC), on tensor cores: forward (with bias + residual + ReLU in its
// store), backward-data and backward-weight (split-K, fp32 dw); fp32 storage through TF32, bf16 and fp16 (bodies and
// the why in temporal_conv_ndhwc_tc.cuh; host driver and its MMA in native/src/kernels_hostrun.cpp).
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

// 16 bytes global -> shared without registers (Ampere's cp.async; L2 only, .cg); valid false: 16 zero bytes (src-size
// 0 reads nothing, the address is only a placeholder)
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// every committed group but the newest `pending` has landed (this thread's copies; a barrier shares them)
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending) : "memory");
}
// one slot of a tile into shared memory: cp.async where the slot is one aligned 16-byte run (d.vec), else gathered
// element by element through registers
template <class S>
__device__ __forceinline__ void tt_stage_slot(S* at, bool vec, const S* src, const S* any, const SevVec16<S>& gathered) {
  if (vec)
    cp_async16(at, src ? src : any, src != nullptr);
  else
    sev_store16(at, gathered);
}

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
  S* const tiles = reinterpret_cast<S*>(smem);  // two stages of [A | B]
  float* Cs = reinterpret_cast<float*>(smem);   // after the last slice only

  const int n = blockIdx.z, m0 = blockIdx.y * TT_BN;
  const int64_t j0 = (int64_t)blockIdx.x * TT_BM;
  const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int slices = (3 * d.C + TT_BK - 1) / TT_BK;

  wmma::fragment<wmma::accumulator, 16, 16, M::K, float> acc[2][2];
#pragma unroll
  for (int fi = 0; fi < 2; fi++)
#pragma unroll
    for (int fj = 0; fj < 2; fj++) wmma::fill_fragment(acc[fi][fj], 0.f);

  // slice r0 into stage buf (the element path's loads only where !d.vec)
  auto stage = [&](int buf, int r0) {
    S* As = tiles + buf * G::STAGE_ELEMS;
    S* Bs = As + TT_BM * G::LDA;
    for (int slot = threadIdx.x; slot < G::A_SLOTS; slot += TT_THREADS)
      tt_stage_slot(As + tt_a_offset<S>(slot), d.vec, d.vec ? tt_a_src<St>(src, d, n, j0, r0, slot, TRANS) : nullptr,
                    src, d.vec ? SevVec16<S>() : tt_fetch_a<St>(src, d, n, j0, r0, slot, TRANS));
    for (int slot = threadIdx.x; slot < G::B_SLOTS; slot += TT_THREADS)
      tt_stage_slot(Bs + tt_b_offset<S>(slot, TRANS), d.vec, d.vec ? tt_b_src<St>(w, d, m0, r0, slot, TRANS) : nullptr,
                    w, d.vec ? SevVec16<S>() : tt_fetch_b<St>(w, d, m0, r0, slot, TRANS));
  };
  stage(0, 0);
  cp_async_commit();
  for (int i = 0; i < slices; i++) {
    if (i + 1 < slices) stage((i + 1) & 1, (i + 1) * TT_BK);  // its buffer was last read before the previous barrier
    cp_async_commit();
    cp_async_wait<1>();  // slice i's copies have landed
    __syncthreads();
    const E* As = reinterpret_cast<const E*>(tiles + (i & 1) * G::STAGE_ELEMS);
    const E* Bs = As + TT_BM * G::LDA;
#pragma unroll
    for (int kk = 0; kk < TT_BK; kk += M::K) {
      wmma::fragment<wmma::matrix_a, 16, 16, M::K, typename M::frag_t, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, M::K, typename M::frag_t, BLayout> b[2];
#pragma unroll
      for (int fi = 0; fi < 2; fi++) {
        wmma::load_matrix_sync(a[fi], As + (wm + 16 * fi) * G::LDA + kk, G::LDA);
        M::to_tf32(a[fi].x, a[fi].num_elements);
      }
#pragma unroll
      for (int fj = 0; fj < 2; fj++) {
        if (TRANS)
          wmma::load_matrix_sync(b[fj], Bs + kk * G::LDB_ROW + wn + 16 * fj, G::LDB_ROW);
        else
          wmma::load_matrix_sync(b[fj], Bs + (wn + 16 * fj) * G::LDB_COL + kk, G::LDB_COL);
        M::to_tf32(b[fj].x, b[fj].num_elements);
      }
#pragma unroll
      for (int fi = 0; fi < 2; fi++)
#pragma unroll
        for (int fj = 0; fj < 2; fj++) wmma::mma_sync(acc[fi][fj], a[fi], b[fj], acc[fi][fj]);
    }
    __syncthreads();
  }
  cp_async_wait<0>();  // nothing is in flight when C reuses the tiles (the last group is empty)
#pragma unroll
  for (int fi = 0; fi < 2; fi++)
#pragma unroll
    for (int fj = 0; fj < 2; fj++)
      wmma::store_matrix_sync(Cs + (wm + 16 * fi) * G::LDC + wn + 16 * fj, acc[fi][fj], G::LDC, wmma::mem_row_major);
  __syncthreads();
  for (int slot = threadIdx.x; slot < G::OUT_SLOTS; slot += TT_THREADS)
    tt_store_slot<St>(dst, Cs, slot, d, n, j0, m0, e);
#else
  __trap();  // built for sm_80 and later only (cmake/SevnetCuda.cmake); WMMA TF32/bf16 needs Ampere
#endif
}

// grid (r tiles, m tiles, splits): split blockIdx.z's partial dW of one 64 x 64 tile into parts [P][C][3C]
template <class St>
__global__ void __launch_bounds__(TT_THREADS, 4) tt_dw_kernel(const typename St::storage* __restrict__ x,
                                                           const typename St::storage* __restrict__ dy,
                                                           float* __restrict__ parts, TtDims d, int N, int P) {
#if __CUDA_ARCH__ >= 800
  typedef typename St::storage S;
  typedef TtDwGeom<S> G;
  typedef TtMma<St> M;
  typedef typename M::elem E;
  __shared__ __align__(128) unsigned char smem[G::SMEM_BYTES];
  // two stages of [dy tile | x tile], each [TT_BK][LDW]:
  // A(m, kk) = dy tile[kk * LDW + m], B(kk, r) = x tile[kk * LDW + r]
  S* const tiles = reinterpret_cast<S*>(smem);
  float* Cs = reinterpret_cast<float*>(smem);

  const int r0 = blockIdx.x * 64, m0 = blockIdx.y * 64, p = blockIdx.z;
  const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int64_t per_item = (d.TS + TT_BK - 1) / TT_BK;
  int64_t first, last;
  tt_dw_split_range(tt_dw_slices(N, d.TS), p, P, &first, &last);

  wmma::fragment<wmma::accumulator, 16, 16, M::K, float> acc[2][2];
#pragma unroll
  for (int fi = 0; fi < 2; fi++)
#pragma unroll
    for (int fj = 0; fj < 2; fj++) wmma::fill_fragment(acc[fi][fj], 0.f);

  // slice g (TT_BK positions of one item) into stage buf
  auto stage = [&](int buf, int64_t g) {
    const int n = (int)(g / per_item);
    const int64_t j0 = (g % per_item) * TT_BK;
    S* dyt = tiles + buf * G::STAGE_ELEMS;
    S* xt = dyt + TT_BK * G::LDW;
    for (int slot = threadIdx.x; slot < G::SLOTS; slot += TT_THREADS) {
      tt_stage_slot(dyt + tt_dw_offset<S>(slot), d.vec, d.vec ? tt_dw_dy_src<St>(dy, d, n, j0, m0, slot) : nullptr, dy,
                    d.vec ? SevVec16<S>() : tt_dw_fetch_dy<St>(dy, d, n, j0, m0, slot));
      tt_stage_slot(xt + tt_dw_offset<S>(slot), d.vec, d.vec ? tt_dw_x_src<St>(x, d, n, j0, r0, slot) : nullptr, x,
                    d.vec ? SevVec16<S>() : tt_dw_fetch_x<St>(x, d, n, j0, r0, slot));
    }
  };
  if (first < last) stage(0, first);
  cp_async_commit();
  for (int64_t g = first; g < last; g++) {
    const int i = (int)(g - first);
    if (g + 1 < last) stage((i + 1) & 1, g + 1);  // its buffer was last read before the previous barrier
    cp_async_commit();
    cp_async_wait<1>();  // slice g's copies have landed
    __syncthreads();
    const E* As = reinterpret_cast<const E*>(tiles + (i & 1) * G::STAGE_ELEMS);
    const E* Bs = As + TT_BK * G::LDW;
#pragma unroll
    for (int kk = 0; kk < TT_BK; kk += M::K) {
      wmma::fragment<wmma::matrix_a, 16, 16, M::K, typename M::frag_t, wmma::col_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, M::K, typename M::frag_t, wmma::row_major> b[2];
#pragma unroll
      for (int fi = 0; fi < 2; fi++) {
        wmma::load_matrix_sync(a[fi], As + kk * G::LDW + wm + 16 * fi, G::LDW);
        M::to_tf32(a[fi].x, a[fi].num_elements);
      }
#pragma unroll
      for (int fj = 0; fj < 2; fj++) {
        wmma::load_matrix_sync(b[fj], Bs + kk * G::LDW + wn + 16 * fj, G::LDW);
        M::to_tf32(b[fj].x, b[fj].num_elements);
      }
#pragma unroll
      for (int fi = 0; fi < 2; fi++)
#pragma unroll
        for (int fj = 0; fj < 2; fj++) wmma::mma_sync(acc[fi][fj], a[fi], b[fj], acc[fi][fj]);
    }
    __syncthreads();
  }
  cp_async_wait<0>();
#pragma unroll
  for (int fi = 0; fi < 2; fi++)
#pragma unroll
    for (int fj = 0; fj < 2; fj++)
      wmma::store_matrix_sync(Cs + (wm + 16 * fi) * G::LDC + wn + 16 * fj, acc[fi][fj], G::LDC, wmma::mem_row_major);
  __syncthreads();
  float* part = parts + (int64_t)p * 3 * d.C * d.C;
  for (int slot = threadIdx.x; slot < G::OUT_SLOTS; slot += TT_THREADS)
    tt_dw_store_slot(part, Cs, G::LDC, slot, m0, r0, d.C);
#else
  __trap();
#endif
}
__global__ void tt_dw_reduce_kernel(const float* __restrict__ parts, float* __restrict__ dw, int P, int64_t per) {
  SEVC_FOR_EACH(i, per) dw[i] = tt_dw_reduce_element(parts, P, i, per);
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
int run_dw(const char* what, const void* x, const void* dy, float* dw, int N, int C, int T, int64_t S, int dtype,
           void* stream) {
  const bool empty = N == 0 || T == 0 || S == 0;  // dw is zeros; x and dy are not read
  const char* why = tt_bad_args(N, C, T, S, dtype, (C > 0 && !dw) || (!empty && C > 0 && (!x || !dy)));
  if (why) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s (N=%d, C=%d, T=%d, S=%lld, dtype=%d)", what, why, N, C, T, (long long)S, dtype);
    return sevc::fail(SEVC_E_ARG, msg);
  }
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  const int64_t per = 3 * (int64_t)C * C;
  if (empty) {
    const cudaError_t err = cudaMemsetAsync(dw, 0, sizeof(float) * per, st);
    return err == cudaSuccess ? SEVC_OK : sevc::fail(SEVC_E_LAUNCH, what, err);
  }
  const TtDims d = tt_dims(C, T, S, dtype == SEV_DT_F32 ? 4 : 2, x, dy, nullptr, nullptr);
  const int P = tt_dw_splits(N, C, d.TS);
  // the splits' partials in stream-ordered scratch; one split writes dw itself (no scratch, no reduce)
  float* parts = dw;
  cudaError_t err = P == 1 ? cudaSuccess : sevc::scratch_malloc((void**)&parts, sizeof(float) * per * P, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, what, err);
  const dim3 grid((unsigned)((3 * C + 63) / 64), (unsigned)((C + 63) / 64), (unsigned)P);
  typedef uint16_t H;
  if (dtype == SEV_DT_F32)
    tt_dw_kernel<SevF32><<<grid, TT_THREADS, 0, st>>>((const float*)x, (const float*)dy, parts, d, N, P);
  else if (dtype == SEV_DT_BF16)
    tt_dw_kernel<SevBF16><<<grid, TT_THREADS, 0, st>>>((const H*)x, (const H*)dy, parts, d, N, P);
  else
    tt_dw_kernel<SevF16><<<grid, TT_THREADS, 0, st>>>((const H*)x, (const H*)dy, parts, d, N, P);
  if (P == 1) return sevc::check_launch(what);
  tt_dw_reduce_kernel<<<sevc::blocks_for(per), sevc::kThreads, 0, st>>>(parts, dw, P, per);
  return sevc::free_scratch(parts, st, sevc::check_launch(what), what);
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

int sevc_temporal_conv3_ndhwc_tc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int T,
                                                 int64_t S, int dtype, void* stream) {
  return run_dw("temporal_conv3_ndhwc_tc_backward_weight", x, dy, dw, N, C, T, S, dtype, stream);
}

}  // extern "C"
