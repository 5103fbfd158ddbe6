// Host drivers for the CUDA kernels' bodies (kernels/*.cuh): each runs the kernel's grid on the host —
// a loop over the elements for the grid-stride kernels, a loop over the blocks and, inside a block,
// over its threads for the reductions, whose per-thread shares are then summed by the same tree the
// block uses (sev_tree_sum_host). The tests compare these with the CPU ops, so the kernels'
// arithmetic and index math are checked without a GPU. The launch code around the bodies (grid
// shapes, the shared-memory tree) is what only a GPU run checks.
#include <math.h>

#include <vector>

#include "batchnorm.cuh"
#include "channels.cuh"
#include "elementwise.cuh"
#include "internal.h"
#include "losses.cuh"
#include "pooling.cuh"
#include "reduce.cuh"
#include "sevnet.h"
#include "sgd.cuh"
#include "temporal_conv.cuh"

namespace {
// the block of `threads` threads: share(tid) for each, summed as the device tree sums them
template <typename T, typename F>
T block_sum_host(int threads, F share) {
  T parts[1024];
  for (int tid = 0; tid < threads; tid++) parts[tid] = share(tid);
  return sev_tree_sum_host(parts, threads);
}
// temporal_conv3_gemm_kernel: every block of the grid; inside a block, each r-slice is staged by all
// its load slots (the threads before __syncthreads) and then accumulated by all 256 threads
void temporal_conv3_gemm_host(bool trans, const float* w, const float* src, float* dst, int N, int C, int T,
                              int64_t S) {
  const int64_t TS = (int64_t)T * S;
  const int64_t bx = (TS + TC_BN - 1) / TC_BN, by = (C + TC_BM - 1) / TC_BM;
#pragma omp parallel for schedule(static) collapse(3)
  for (int n = 0; n < N; n++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int m0 = (int)yb * TC_BM;
        const int64_t j0 = xb * TC_BN;
        float As[TC_BK * TC_BM], Bs[TC_BK * TC_BN];
        static thread_local float acc[TC_THREADS][4][4];
        for (int tid = 0; tid < TC_THREADS; tid++)
          for (int i = 0; i < 4; i++)
            for (int q = 0; q < 4; q++) acc[tid][i][q] = 0.f;
        for (int r0 = 0; r0 < 3 * C; r0 += TC_BK) {
          for (int slot = 0; slot < TC_BK * TC_BM; slot++)
            tconv_load_slot(As, Bs, slot, w, src, n, m0, j0, r0, C, S, TS, trans);
          for (int tid = 0; tid < TC_THREADS; tid++) tconv_compute(As, TC_BM, Bs, TC_BN, acc[tid], tid);
        }
        for (int tid = 0; tid < TC_THREADS; tid++) tconv_store(dst, acc[tid], tid, n, m0, j0, C, TS);
      }
}

template <typename F>
float block_max_host(int threads, F share) {
  float m = -INFINITY;
  for (int tid = 0; tid < threads; tid++) m = fmaxf(m, share(tid));
  return m;
}
}  // namespace

extern "C" {

// ---------------------------------------------------------------- element-wise (elementwise.cu)
int sev_hostrun_fill(float* y, float value, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = value;
  return SEV_OK;
}

int sev_hostrun_relu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = relu_element(x[i]);
  return SEV_OK;
}

int sev_hostrun_relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = relu_backward_element(y[i], dy[i]);
  return SEV_OK;
}

int sev_hostrun_add(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
  return SEV_OK;
}

int sev_hostrun_add_relu(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = add_relu_element(a[i], b[i]);
  return SEV_OK;
}

int sev_hostrun_mul(const float* a, const float* b, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
  return SEV_OK;
}

int sev_hostrun_axpby(float alpha, const float* x, float beta, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = axpby_element(alpha, x[i], beta, y, i);
  return SEV_OK;
}

int sev_hostrun_scale(const float* x, float alpha, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
  return SEV_OK;
}

int sev_hostrun_sigmoid_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = sigmoid_element(x[i]);
  return SEV_OK;
}

int sev_hostrun_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = sigmoid_backward_element(y[i], dy[i]);
  return SEV_OK;
}

int sev_hostrun_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed) {
  const float keep_scale = dropout_keep_scale(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float m = dropout_mask_element(seed, i, p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
  return SEV_OK;
}

int sev_hostrun_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu) {
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    for (int64_t s = 0; s < S; s++) bias_relu_element(y, bias, nc, s, C, S, relu);
  return SEV_OK;
}

// ---------------------------------------------------------------- channels (channels.cu)
int sev_hostrun_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb,
                                int64_t S) {
  const int64_t total = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) y[i] = concat_element(a, b, i, Ca, Cb, S);
  return SEV_OK;
}

int sev_hostrun_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  const int64_t total = N * (Ca + Cb) * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) split_element(y, a, b, i, Ca, Cb, S);
  return SEV_OK;
}

int sev_hostrun_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S) {
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    for (int64_t s = 0; s < S; s++) channel_scale_element(x, g, y, nc, s, S);
  return SEV_OK;
}

int sev_hostrun_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                                       int64_t N, int64_t C, int64_t S) {
  const int nt = CHANNEL_SCALE_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    dg[nc] = (float)block_sum_host<double>(
        nt, [&](int tid) { return channel_scale_backward_partial(x, g, dy, dx, nc, S, tid, nt); });
  return SEV_OK;
}

// ---------------------------------------------------------------- batch norm (batchnorm.cu)
int sev_hostrun_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y,
                                        float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                        int64_t N, int64_t C, int64_t S, float eps, float momentum) {
  const int64_t count = N * S;
  if (count <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int nt = BN_THREADS;
  // bn_stats_kernel: one block per channel
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    const double mean =
        block_sum_host<double>(nt, [&](int tid) { return bn_sum_partial(x, c, N, C, S, tid, nt); }) / count;
    const double sqdev = block_sum_host<double>(nt, [&](int tid) { return bn_sqdev_partial(x, c, mean, N, C, S, tid, nt); });
    bn_train_finalize(c, mean, sqdev, count, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
  // bn_train_apply_kernel: rows of [N*C, S]
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    float a, b;
    bn_train_coeffs(gamma, beta, save_mean, save_invstd, nc % C, &a, &b);
    for (int64_t s = 0; s < S; s++) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, 0);
  }
  return SEV_OK;
}

int sev_hostrun_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var, float* y, int64_t N,
                                       int64_t C, int64_t S, float eps, int relu) {
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    float a, b;
    bn_eval_coeffs(gamma, beta, running_mean, running_var, nc % C, eps, &a, &b);
    for (int64_t s = 0; s < S; s++) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, relu);
  }
  return SEV_OK;
}

int sev_hostrun_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N,
                                   int64_t C, int64_t S) {
  const int nt = BN_THREADS;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    const SevDouble2 sums = block_sum_host<SevDouble2>(nt, [&](int tid) {
      return bn_backward_partial(x, dy, c, save_mean[c], save_invstd[c], N, C, S, tid, nt);
    });
    if (dgamma) dgamma[c] = (float)sums.b;
    if (dbeta) dbeta[c] = (float)sums.a;
    const BnBackwardCoeffs k = bn_backward_coeffs(gamma, save_mean, save_invstd, c, sums, (double)N * S);
    for (int tid = 0; tid < nt; tid++) bn_backward_dx_partial(x, dy, dx, c, k, N, C, S, tid, nt);
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- pooling (pooling.cu)
int sev_hostrun_avgpool3d_forward(const float* x, float* y, const int* pp) {
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_out_count(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] = avgpool3d_forward_element(x, p, i);
  return SEV_OK;
}

int sev_hostrun_avgpool3d_backward(const float* dy, float* dx, const int* pp) {
  const SevPool p = sev_pool_params(pp);
  const int64_t n = pool_in_count(p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) dx[i] = avgpool3d_backward_element(dy, p, i);
  return SEV_OK;
}

int sev_hostrun_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S) {
  const int nt = GAP_THREADS;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++)
    y[nc] = global_avgpool_finish(
        block_sum_host<double>(nt, [&](int tid) { return global_avgpool_partial(x, nc, S, tid, nt); }), S);
  return SEV_OK;
}

int sev_hostrun_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S) {
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float g = global_avgpool_backward_element(dy, nc, S);
    for (int64_t s = 0; s < S; s++) dx[nc * S + s] = g;
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- losses (losses.cu)
int sev_hostrun_softmax(const float* x, float* y, int64_t N, int64_t K) {
  const int nt = SOFTMAX_THREADS;
  for (int64_t n = 0; n < N; n++) {
    const float* xp = x + n * K;
    float* yp = y + n * K;
    const float mx = block_max_host(nt, [&](int tid) { return row_max_partial(xp, K, tid, nt); });
    const double s = block_sum_host<double>(nt, [&](int tid) { return softmax_exp_partial(xp, yp, mx, K, tid, nt); });
    for (int tid = 0; tid < nt; tid++) softmax_scale_partial(yp, (float)(1.0 / s), K, tid, nt);
  }
  return SEV_OK;
}

int sev_hostrun_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                                     int64_t K) {
  const int nt = SOFTMAX_THREADS;
  for (int64_t n = 0; n < N; n++) {  // xent_probs_kernel: one block per row
    const float* xp = logits + n * K;
    const float mx = block_max_host(nt, [&](int tid) { return row_max_partial(xp, K, tid, nt); });
    const double lse =
        mx + log(block_sum_host<double>(nt, [&](int tid) { return xent_sumexp_partial(xp, mx, K, tid, nt); }));
    for (int tid = 0; tid < nt; tid++) xent_probs_partial(xp, probs + n * K, lse, K, tid, nt);
  }
  // xent_loss_kernel: one block
  const double total = block_sum_host<double>(
      LOSS_THREADS, [&](int tid) { return xent_loss_partial(logits, labels, N, K, tid, LOSS_THREADS); });
  *loss = (float)(total / N);
  return SEV_OK;
}

int sev_hostrun_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale,
                                      int64_t N, int64_t K) {
  const float s = scale / (float)N;
  for (int64_t i = 0; i < N * K; i++) dlogits[i] = xent_backward_element(probs, labels, i, s, K);
  return SEV_OK;
}

int sev_hostrun_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K) {
  const int64_t n = N * K;
  const double total =
      block_sum_host<double>(LOSS_THREADS, [&](int tid) { return bce_loss_partial(logits, targets, n, tid, LOSS_THREADS); });
  *loss = (float)(total / (double)n);
  return SEV_OK;
}

int sev_hostrun_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                                    int64_t K) {
  const float s = scale / (float)(N * K);
  for (int64_t i = 0; i < N * K; i++) dlogits[i] = bce_backward_element(logits[i], targets[i], s);
  return SEV_OK;
}

// ---------------------------------------------------------------- optimizer (sgd.cu)
int sev_hostrun_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                  float weight_decay) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) sgd_momentum_element(w, g, v, i, lr, momentum, weight_decay);
  return SEV_OK;
}

// w, g, v, sizes: HOST arrays of host pointers / counts (the device version takes device arrays)
int sev_hostrun_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                        int count, float lr, float momentum, float weight_decay) {
  for (int t = 0; t < count; t++)  // blockIdx.y
    for (int64_t i = 0; i < sizes[t]; i++) sgd_momentum_element(w[t], g[t], v[t], i, lr, momentum, weight_decay);
  return SEV_OK;
}

// ---------------------------------------------------------------- reductions (reduce.cu)
int sev_hostrun_sum(const float* x, int64_t n, double* out) {
  const int blocks = sum_blocks(n);
  const int64_t gnt = (int64_t)blocks * SUM_THREADS;
  double total = 0;  // the device adds the block sums atomically, in no fixed order
  for (int b = 0; b < blocks; b++)
    total += block_sum_host<double>(
        SUM_THREADS, [&](int tid) { return sum_partial(x, n, (int64_t)b * SUM_THREADS + tid, gnt); });
  *out = total;
  return SEV_OK;
}

// ---------------------------------------------------------------- temporal conv (temporal_conv.cu)
int sev_hostrun_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S) {
  temporal_conv3_gemm_host(false, w, x, y, N, C, T, S);
  return SEV_OK;
}

int sev_hostrun_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T,
                                             int64_t S) {
  temporal_conv3_gemm_host(true, w, dy, dx, N, C, T, S);
  return SEV_OK;
}

int sev_hostrun_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T,
                                               int64_t S) {
  const int64_t TS = (int64_t)T * S, per = 3 * (int64_t)C * C, per_item = (TS + TC_BK - 1) / TC_BK;
  const int P = tconv_dw_splits(N, C, TS);
  const int64_t bx = (3 * C + TC_BN - 1) / TC_BN, by = (C + TC_BM - 1) / TC_BM;
  std::vector<float> parts((size_t)(per * P));
  // temporal_conv3_dw_kernel: every (r tile, m tile, split) block
#pragma omp parallel for schedule(dynamic, 1) collapse(3)
  for (int p = 0; p < P; p++)
    for (int64_t yb = 0; yb < by; yb++)
      for (int64_t xb = 0; xb < bx; xb++) {
        const int r0 = (int)xb * TC_BN, m0 = (int)yb * TC_BM;
        float As[TC_BK * TC_LD], Bs[TC_BK * TC_LD];
        static thread_local float acc[TC_THREADS][4][4];
        for (int tid = 0; tid < TC_THREADS; tid++)
          for (int i = 0; i < 4; i++)
            for (int q = 0; q < 4; q++) acc[tid][i][q] = 0.f;
        int64_t first, last;
        tconv_dw_split_range(tconv_dw_slices(N, TS), p, P, &first, &last);
        for (int64_t g = first; g < last; g++) {
          const int n = (int)(g / per_item);
          const int64_t j0 = (g % per_item) * TC_BK;
          for (int slot = 0; slot < TC_BK * TC_BM; slot++)
            tconv_dw_load_slot(As, Bs, slot, x, dy, n, m0, r0, j0, C, S, TS);
          for (int tid = 0; tid < TC_THREADS; tid++) tconv_compute(As, TC_LD, Bs, TC_LD, acc[tid], tid);
        }
        for (int tid = 0; tid < TC_THREADS; tid++)
          tconv_dw_store_partial(parts.data() + (int64_t)p * per, acc[tid], tid, m0, r0, C);
      }
  // temporal_conv3_dw_reduce_kernel
  for (int64_t i = 0; i < per; i++) dw[i] = tconv_dw_reduce_element(parts.data(), P, i, C);
  return SEV_OK;
}

}  // extern "C"
