// Channels-last batch norm (bodies and the why in batchnorm_ndhwc.cuh): training forward = statistics by
// (channel tile, split) blocks, finalize by channel tiles, apply; backward = partial sums, finalize (the
// channel sums, dgamma, dbeta), dx; eval = one apply pass. One template per storage type (SevF32, SevBF16,
// SevF16 of sev_half.cuh). Blocks are BNL_LANES x BNL_ROWS: threadIdx.x the channel within the tile (a warp
// is one row of 32 consecutive channels), threadIdx.y the row lane.
#include <stdio.h>

#include "batchnorm_ndhwc.cuh"
#include "sevc_common.cuh"

namespace {
// the column tree of a block: row lane 0 of each channel gets the sum of the BNL_ROWS lanes' values, folded
// by halving strides (sev_tree_sum_host(v, BNL_ROWS) on the host); the other row lanes get zero. Called by every
// thread of the block. Only row lane 0 reads the result: the thread that writes sm[0][lane] first in the next call,
// so calls can follow one another without a barrier between them (a read of sm[0][lane] by another row lane after
// the last barrier would race with that write).
template <int ROWS = BNL_ROWS>
__device__ SevDouble2 bnl_column_sum(SevDouble2 v, SevDouble2 (*sm)[BNL_LANES]) {
  const int lane = threadIdx.x, ty = threadIdx.y;
  sm[ty][lane] = v;
  __syncthreads();
  for (int s = ROWS / 2; s > 0; s >>= 1) {
    if (ty < s) sm[ty][lane] = sm[ty][lane] + sm[ty + s][lane];
    __syncthreads();
  }
  return ty == 0 ? sm[0][lane] : SevDouble2{0, 0};
}

// grid (tiles, P): block (tile, p) writes part[p*C + c] for its 32 channels
template <class St>
__global__ void __launch_bounds__(BNL_THREADS) bnl_stats_kernel(const typename St::storage* __restrict__ x,
                                                                SevDouble2* __restrict__ part, int64_t M, int64_t C) {
  __shared__ SevDouble2 sm[BNL_ROWS][BNL_LANES];
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  const int p = blockIdx.y, P = gridDim.y;
  const SevDouble2 zero = {0, 0};
  const SevDouble2 s = bnl_column_sum(c < C ? bnl_stats_partial<St>(x, c, M, C, p, P, threadIdx.y) : zero, sm);
  if (threadIdx.y == 0 && c < C) part[p * C + c] = s;
}
// FROM_X: the ReLU's mask recomputed from x (gamma, beta: the forward's), y not read
template <class St, bool FROM_X>
__global__ void __launch_bounds__(BNL_THREADS) bnl_backward_stats_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ mean, const float* __restrict__ invstd, SevDouble2* __restrict__ part, int64_t M,
    int64_t C) {
  __shared__ SevDouble2 sm[BNL_ROWS][BNL_LANES];
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  const int p = blockIdx.y, P = gridDim.y;
  const SevDouble2 zero = {0, 0};
  float a = 0.f, b = 0.f;
  if (FROM_X && c < C) bn_train_coeffs(gamma, beta, mean, invstd, c, &a, &b);
  const SevDouble2 s = bnl_column_sum(
      c < C ? bnl_backward_partial<St, FROM_X>(x, y, dy, c, mean[c], invstd[c], M, C, p, P, threadIdx.y, a, b) : zero,
      sm);
  if (threadIdx.y == 0 && c < C) part[p * C + c] = s;
}
// grid bnl_vec_grid (tiles of 32*V channels x P, or packed splits: bnl_vec_lane): the 16-byte statistics passes
// (bnl_*_partial_vec); each of a thread's V channels
// folded by the column tree in turn (bnl_column_sum: a thread writes only its own slot, and only row lane 0 reads
// the result after the last barrier, so the calls can follow one another)
template <class St>
__global__ void __launch_bounds__(BNL_THREADS) bnl_stats_vec_kernel(const typename St::storage* __restrict__ x,
                                                                    SevDouble2* __restrict__ part, int64_t M,
                                                                    int64_t C, int P) {
  constexpr int V = 16 / (int)sizeof(typename St::storage);
  __shared__ SevDouble2 sm[BNL_ROWS][BNL_LANES];
  const BnlVecLane L = bnl_vec_lane(C, V, P, blockIdx.x, blockIdx.y, threadIdx.x);
  SevDouble2 s[V];
  if (L.active)
    bnl_stats_partial_vec<St>(x, L.c0, M, C, L.p, P, threadIdx.y, s);
  else
    for (int q = 0; q < V; q++) s[q] = SevDouble2{0, 0};
#pragma unroll
  for (int q = 0; q < V; q++) {
    const SevDouble2 t = bnl_column_sum(s[q], sm);
    if (threadIdx.y == 0 && L.active) part[L.p * C + L.c0 + q] = t;
  }
}
template <class St, bool FROM_X>
__global__ void __launch_bounds__(BNL_THREADS) bnl_backward_stats_vec_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ mean, const float* __restrict__ invstd, SevDouble2* __restrict__ part, int64_t M,
    int64_t C, int P) {
  constexpr int V = 16 / (int)sizeof(typename St::storage);
  __shared__ SevDouble2 sm[BNL_ROWS][BNL_LANES];
  const BnlVecLane L = bnl_vec_lane(C, V, P, blockIdx.x, blockIdx.y, threadIdx.x);
  SevDouble2 s[V];
  if (L.active)
    bnl_backward_partial_vec<St, FROM_X>(x, y, dy, mean, invstd, L.c0, M, C, L.p, P, threadIdx.y, s, gamma, beta);
  else
    for (int q = 0; q < V; q++) s[q] = SevDouble2{0, 0};
#pragma unroll
  for (int q = 0; q < V; q++) {
    const SevDouble2 t = bnl_column_sum(s[q], sm);
    if (threadIdx.y == 0 && L.active) part[L.p * C + L.c0 + q] = t;
  }
}
// grid (tiles): each channel's P partials in the fixed order. Forward (sums == NULL): the batch statistics and
// the running estimates; backward: the channel sums for the dx pass, dgamma and dbeta.
// Blocks of BNL_LANES x BNL_FIN_ROWS threads.
__global__ void __launch_bounds__(BNL_FIN_THREADS) bnl_finalize_kernel(const SevDouble2* __restrict__ part, int P,
                                                                       int64_t M, int64_t C, float eps,
                                                                       float momentum, float* save_mean,
                                                                       float* save_invstd, float* running_mean,
                                                                       float* running_var, SevDouble2* sums,
                                                                       float* dgamma, float* dbeta) {
  __shared__ SevDouble2 sm[BNL_FIN_ROWS][BNL_LANES];
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  const SevDouble2 zero = {0, 0};
  const SevDouble2 tot =
      bnl_column_sum<BNL_FIN_ROWS>(c < C ? bnl_parts_partial(part, c, C, P, threadIdx.y) : zero, sm);
  if (threadIdx.y != 0 || c >= C) return;
  if (sums) {
    sums[c] = tot;
    if (dgamma) dgamma[c] = (float)tot.b;
    if (dbeta) dbeta[c] = (float)tot.a;
  } else {
    cbr_stats_finalize(c, tot, M, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
}
// The element passes: grid (tiles, row blocks), one channel per thread, rows strided by gridDim.y*BNL_ROWS.
template <class St>
__global__ void __launch_bounds__(BNL_THREADS) bnl_apply_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ res,
    const float* __restrict__ gamma, const float* __restrict__ beta, const float* __restrict__ mean,
    const float* __restrict__ invstd, typename St::storage* __restrict__ y, int64_t M, int64_t C, int relu) {
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  if (c >= C) return;
  float a, b;
  bn_train_coeffs(gamma, beta, mean, invstd, c, &a, &b);
  for (int64_t r = blockIdx.y * (int64_t)BNL_ROWS + threadIdx.y; r < M; r += (int64_t)gridDim.y * BNL_ROWS)
    y[r * C + c] = bnx_apply_element<St>(x, res, r * C + c, a, b, relu);
}
template <class St>
__global__ void __launch_bounds__(BNL_THREADS) bnl_eval_kernel(
    const typename St::storage* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ running_mean, const float* __restrict__ running_var, typename St::storage* __restrict__ y,
    int64_t M, int64_t C, float eps, int relu) {
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  if (c >= C) return;
  float a, b;
  bn_eval_coeffs(gamma, beta, running_mean, running_var, c, eps, &a, &b);
  for (int64_t r = blockIdx.y * (int64_t)BNL_ROWS + threadIdx.y; r < M; r += (int64_t)gridDim.y * BNL_ROWS)
    y[r * C + c] = bnl_eval_element<St>(x, r * C + c, a, b, relu);
}
template <class St, bool FROM_X>
__global__ void __launch_bounds__(BNL_THREADS) bnl_dx_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ mean, const float* __restrict__ invstd, const SevDouble2* __restrict__ sums,
    typename St::storage* __restrict__ dx, typename St::storage* __restrict__ dres, int64_t M, int64_t C) {
  const int64_t c = blockIdx.x * (int64_t)BNL_LANES + threadIdx.x;
  if (c >= C) return;
  const BnBackwardCoeffs k = bn_backward_coeffs(gamma, mean, invstd, c, sums[c], (double)M);
  float a = 0.f, b = 0.f;
  if (FROM_X) bn_train_coeffs(gamma, beta, mean, invstd, c, &a, &b);
  for (int64_t r = blockIdx.y * (int64_t)BNL_ROWS + threadIdx.y; r < M; r += (int64_t)gridDim.y * BNL_ROWS)
    bnl_dx_element<St, FROM_X>(x, y, dy, dx, dres, r * C + c, k, a, b);
}

// the 16-byte element passes (bnl_*_vec_thread): grid bnl_vec_blocks, BNL_VEC_THREADS threads
template <class St>
__global__ void __launch_bounds__(BNL_VEC_THREADS) bnl_apply_vec_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ res,
    const float* __restrict__ gamma, const float* __restrict__ beta, const float* __restrict__ mean,
    const float* __restrict__ invstd, typename St::storage* __restrict__ y, int64_t M, int64_t C, int relu) {
  bnl_apply_vec_thread<St>(x, res, gamma, beta, mean, invstd, y, M, C, relu,
                           blockIdx.x * (int64_t)BNL_VEC_THREADS + threadIdx.x, (int64_t)gridDim.x * BNL_VEC_THREADS);
}
template <class St>
__global__ void __launch_bounds__(BNL_VEC_THREADS) bnl_eval_vec_kernel(
    const typename St::storage* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ running_mean, const float* __restrict__ running_var, typename St::storage* __restrict__ y,
    int64_t M, int64_t C, float eps, int relu) {
  bnl_eval_vec_thread<St>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu,
                          blockIdx.x * (int64_t)BNL_VEC_THREADS + threadIdx.x, (int64_t)gridDim.x * BNL_VEC_THREADS);
}
template <class St, bool FROM_X>
__global__ void __launch_bounds__(BNL_VEC_THREADS) bnl_dx_vec_kernel(
    const typename St::storage* __restrict__ x, const typename St::storage* __restrict__ y,
    const typename St::storage* __restrict__ dy, const float* __restrict__ gamma, const float* __restrict__ beta,
    const float* __restrict__ mean, const float* __restrict__ invstd, const SevDouble2* __restrict__ sums,
    typename St::storage* __restrict__ dx, typename St::storage* __restrict__ dres, int64_t M, int64_t C) {
  bnl_dx_vec_thread<St, FROM_X>(x, y, dy, gamma, beta, mean, invstd, sums, dx, dres, M, C,
                                blockIdx.x * (int64_t)BNL_VEC_THREADS + threadIdx.x,
                                (int64_t)gridDim.x * BNL_VEC_THREADS);
}

// ---- launch helpers
// grid of the element passes: about 4 rows per thread, at most ~8192 blocks in all (65535 in y)
dim3 bnl_element_grid(int64_t M, int64_t C) {
  const int64_t tiles = bnl_tiles(C);
  int64_t rb = (M + BNL_ROWS * 4 - 1) / (BNL_ROWS * 4);
  int64_t cap = 8192 / tiles;
  if (cap > 65535) cap = 65535;
  if (rb > cap) rb = cap;
  return dim3((unsigned)tiles, (unsigned)(rb < 1 ? 1 : rb), 1);
}
const dim3 kBlock(BNL_LANES, BNL_ROWS, 1);
const dim3 kFinBlock(BNL_LANES, BNL_FIN_ROWS, 1);
template <class St>
dim3 bnl_vec_dim(int64_t C, int P) {
  int64_t gx, gy;
  bnl_vec_grid(C, 16 / (int)sizeof(typename St::storage), P, &gx, &gy);
  return dim3((unsigned)gx, (unsigned)gy);
}

int bnl_fail(const char* what, const char* why) {
  char msg[192];
  snprintf(msg, sizeof msg, "%s: %s", what, why);
  return sevc::fail(SEVC_E_ARG, msg);
}
// tiles fit the grid's x (2^31 - 1) whenever M*C fits int64 and C < 2^36: checked anyway
int bnl_check(const char* what, int64_t M, int64_t C) {
  if (const char* why = bnl_check_sizes(M, C)) return bnl_fail(what, why);
  if (bnl_tiles(C) > 0x7fffffffLL) return bnl_fail(what, "C too large for the grid");
  return SEVC_OK;
}
// The training kernels' scratch: the caller's buffer when given (checked for size and 8-byte alignment), else
// the stream-ordered pool (cudaMallocAsync, as the NCDHW glue), freed on the stream after the last launch.
struct BnlScratch {
  SevDouble2* p = nullptr;
  bool owned = false;
};
int bnl_scratch(BnlScratch* s, void* given, int64_t given_bytes, int64_t M, int64_t C, cudaStream_t st,
                const char* what) {
  const int64_t need = bnl_scratch_bytes(M, C);
  if (given) {
    if (given_bytes < need) return bnl_fail(what, "scratch smaller than sevc_bn_act_ndhwc_scratch_bytes(M, C)");
    if ((uintptr_t)given % alignof(SevDouble2)) return bnl_fail(what, "scratch not 8-byte aligned");
    s->p = (SevDouble2*)given;
    return SEVC_OK;
  }
  const cudaError_t err = sevc::scratch_malloc((void**)&s->p, (size_t)need, st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, what, err);
  s->owned = true;
  return SEVC_OK;
}
int bnl_release(const BnlScratch& s, int rc, cudaStream_t st, const char* what) {
  if (!s.owned) return rc;
  const cudaError_t err = cudaFreeAsync(s.p, st);
  return rc == SEVC_OK && err != cudaSuccess ? sevc::fail(SEVC_E_LAUNCH, what, err) : rc;
}

template <class St>
int train_forward(const char* what, const typename St::storage* x, const typename St::storage* residual,
                  const float* gamma, const float* beta, typename St::storage* y, float* save_mean,
                  float* save_invstd, float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                  float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream) {
  if (bnl_check(what, M, C)) return SEVC_E_ARG;
  if (M <= 1) return bnl_fail(what, "batch norm in training mode needs more than one value per channel");
  if (!x || !y || !save_mean || !save_invstd) return bnl_fail(what, "x, y, save_mean and save_invstd are required");
  const cudaStream_t st = sevc::as_stream(stream);
  BnlScratch s;
  if (int rc = bnl_scratch(&s, scratch, scratch_bytes, M, C, st, what)) return rc;
  const int P = bnl_splits(M, C);
  const unsigned tiles = (unsigned)bnl_tiles(C);
  if (bnl_vec_stats_ok<St>(C, {x}))
    bnl_stats_vec_kernel<St><<<bnl_vec_dim<St>(C, P), kBlock, 0, st>>>(x, s.p, M, C, P);
  else
    bnl_stats_kernel<St><<<dim3(tiles, (unsigned)P), kBlock, 0, st>>>(x, s.p, M, C);
  bnl_finalize_kernel<<<tiles, kFinBlock, 0, st>>>(s.p, P, M, C, eps, momentum, save_mean, save_invstd, running_mean,
                                                 running_var, nullptr, nullptr, nullptr);
  const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, residual, y});
  if (vb)
    bnl_apply_vec_kernel<St><<<(unsigned)vb, BNL_VEC_THREADS, 0, st>>>(x, residual, gamma, beta, save_mean, save_invstd,
                                                                       y, M, C, relu);
  else
    bnl_apply_kernel<St><<<bnl_element_grid(M, C), kBlock, 0, st>>>(x, residual, gamma, beta, save_mean, save_invstd,
                                                                    y, M, C, relu);
  return bnl_release(s, sevc::check_launch(what), st, what);
}
// FROM_X: relu(batch norm(x)) without a residual, the ReLU's mask recomputed from x (gamma, beta the forward's); y
// must be NULL and is not read, nor is a dresidual written
template <class St, bool FROM_X = false>
int backward(const char* what, const typename St::storage* x, const typename St::storage* y,
             const typename St::storage* dy, const float* gamma, const float* beta, const float* save_mean,
             const float* save_invstd, typename St::storage* dx, float* dgamma, float* dbeta,
             typename St::storage* dresidual, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
             void* stream) {
  if (bnl_check(what, M, C)) return SEVC_E_ARG;
  if (!x || !dy || !dx || !save_mean || !save_invstd)
    return bnl_fail(what, "x, dy, dx, save_mean and save_invstd are required");
  if (FROM_X && (y || dresidual)) return bnl_fail(what, "the mask from x reads no y and writes no dresidual");
  const cudaStream_t st = sevc::as_stream(stream);
  BnlScratch s;
  if (int rc = bnl_scratch(&s, scratch, scratch_bytes, M, C, st, what)) return rc;
  const int P = bnl_splits(M, C);
  const unsigned tiles = (unsigned)bnl_tiles(C);
  SevDouble2* sums = s.p + (int64_t)P * C;
  if (bnl_vec_stats_ok<St>(C, {x, y, dy}))
    bnl_backward_stats_vec_kernel<St, FROM_X><<<bnl_vec_dim<St>(C, P), kBlock, 0, st>>>(
        x, y, dy, gamma, beta, save_mean, save_invstd, s.p, M, C, P);
  else
    bnl_backward_stats_kernel<St, FROM_X><<<dim3(tiles, (unsigned)P), kBlock, 0, st>>>(
        x, y, dy, gamma, beta, save_mean, save_invstd, s.p, M, C);
  bnl_finalize_kernel<<<tiles, kFinBlock, 0, st>>>(s.p, P, M, C, 0.f, 0.f, nullptr, nullptr, nullptr, nullptr, sums,
                                                 dgamma, dbeta);
  const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, y, dy, dx, dresidual});
  if (vb)
    bnl_dx_vec_kernel<St, FROM_X><<<(unsigned)vb, BNL_VEC_THREADS, 0, st>>>(x, y, dy, gamma, beta, save_mean,
                                                                            save_invstd, sums, dx, dresidual, M, C);
  else
    bnl_dx_kernel<St, FROM_X><<<bnl_element_grid(M, C), kBlock, 0, st>>>(x, y, dy, gamma, beta, save_mean,
                                                                         save_invstd, sums, dx, dresidual, M, C);
  return bnl_release(s, sevc::check_launch(what), st, what);
}
template <class St>
int eval_forward(const char* what, const typename St::storage* x, const float* gamma, const float* beta,
                 const float* running_mean, const float* running_var, typename St::storage* y, int64_t M, int64_t C,
                 float eps, int relu, void* stream) {
  if (bnl_check(what, M, C)) return SEVC_E_ARG;
  if (!x || !y || !running_mean || !running_var)
    return bnl_fail(what, "x, y, running_mean and running_var are required");
  const cudaStream_t st = sevc::as_stream(stream);
  const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, y});
  if (vb)
    bnl_eval_vec_kernel<St><<<(unsigned)vb, BNL_VEC_THREADS, 0, st>>>(x, gamma, beta, running_mean, running_var, y, M,
                                                                      C, eps, relu);
  else
    bnl_eval_kernel<St><<<bnl_element_grid(M, C), kBlock, 0, st>>>(x, gamma, beta, running_mean, running_var, y, M, C,
                                                                   eps, relu);
  return sevc::check_launch(what);
}
}  // namespace

extern "C" {

int64_t sevc_bn_act_ndhwc_scratch_bytes(int64_t M, int64_t C) {
  if (bnl_check("bn_act_ndhwc_scratch_bytes", M, C)) return SEVC_E_ARG;
  return bnl_scratch_bytes(M, C);
}

int sevc_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma, const float* beta,
                                        float* y, float* save_mean, float* save_invstd, float* running_mean,
                                        float* running_var, int64_t M, int64_t C, float eps, float momentum, int relu,
                                        void* scratch, int64_t scratch_bytes, void* stream) {
  return train_forward<SevF32>("bn_act_train_forward_ndhwc_f32", x, residual, gamma, beta, y, save_mean, save_invstd,
                               running_mean, running_var, M, C, eps, momentum, relu, scratch, scratch_bytes, stream);
}
int sevc_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                         float momentum, int relu, void* scratch, int64_t scratch_bytes,
                                         void* stream) {
  return train_forward<SevBF16>("bn_act_train_forward_ndhwc_bf16", x, residual, gamma, beta, y, save_mean,
                                save_invstd, running_mean, running_var, M, C, eps, momentum, relu, scratch,
                                scratch_bytes, stream);
}
int sevc_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream) {
  return train_forward<SevF16>("bn_act_train_forward_ndhwc_f16", x, residual, gamma, beta, y, save_mean, save_invstd,
                               running_mean, running_var, M, C, eps, momentum, relu, scratch, scratch_bytes, stream);
}

int sevc_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta, float* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream) {
  return backward<SevF32>("bn_act_backward_ndhwc_f32", x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma,
                          dbeta, dresidual, M, C, scratch, scratch_bytes, stream);
}
int sevc_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                    int64_t scratch_bytes, void* stream) {
  return backward<SevBF16>("bn_act_backward_ndhwc_bf16", x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma,
                           dbeta, dresidual, M, C, scratch, scratch_bytes, stream);
}
int sevc_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream) {
  return backward<SevF16>("bn_act_backward_ndhwc_f16", x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma,
                          dbeta, dresidual, M, C, scratch, scratch_bytes, stream);
}

int sevc_bn_relu_backward_ndhwc_f32(const float* x, const float* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream) {
  return backward<SevF32, true>("bn_relu_backward_ndhwc_f32", x, nullptr, dy, gamma, beta, save_mean, save_invstd, dx,
                                dgamma, dbeta, nullptr, M, C, scratch, scratch_bytes, stream);
}
int sevc_bn_relu_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                     const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                     float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                     void* stream) {
  return backward<SevBF16, true>("bn_relu_backward_ndhwc_bf16", x, nullptr, dy, gamma, beta, save_mean, save_invstd,
                                 dx, dgamma, dbeta, nullptr, M, C, scratch, scratch_bytes, stream);
}
int sevc_bn_relu_backward_ndhwc_f16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream) {
  return backward<SevF16, true>("bn_relu_backward_ndhwc_f16", x, nullptr, dy, gamma, beta, save_mean, save_invstd, dx,
                                dgamma, dbeta, nullptr, M, C, scratch, scratch_bytes, stream);
}

int sevc_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream) {
  return eval_forward<SevF32>("batchnorm_eval_ndhwc_f32", x, gamma, beta, running_mean, running_var, y, M, C, eps,
                              relu, stream);
}
int sevc_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                   int64_t C, float eps, int relu, void* stream) {
  return eval_forward<SevBF16>("batchnorm_eval_ndhwc_bf16", x, gamma, beta, running_mean, running_var, y, M, C, eps,
                               relu, stream);
}
int sevc_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream) {
  return eval_forward<SevF16>("batchnorm_eval_ndhwc_f16", x, gamma, beta, running_mean, running_var, y, M, C, eps,
                              relu, stream);
}

}  // extern "C"
