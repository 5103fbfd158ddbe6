// Host drivers of the channels-last batch-norm kernels (kernels/batchnorm_ndhwc.cu): every (channel tile,
// split) block of the statistics kernels, each column's BNL_ROWS row lanes as the device's threads, folded by
// the same tree (sev_tree_sum_host); the finalize's row lanes over the partials and the same tree; the element
// passes with the same per-channel coefficients. Sums therefore have the device's order, and the tests can ask
// for the device's bits (FMA contraction aside: see batchnorm_ndhwc.cuh) rather than a tolerance on the
// statistics' order.
#include <math.h>
#include <stdint.h>

#include <vector>

#include "batchnorm_ndhwc.cuh"
#include "internal.h"
#include "sevnet.h"

namespace {
int check(int64_t M, int64_t C) {
  const char* why = bnl_check_sizes(M, C);
  return why ? sev::fail(SEV_EINVAL, std::string("batch norm ndhwc: ") + why) : SEV_OK;
}

// a statistics kernel's blocks: part[p*C + c] = tree over the row lanes of partial(c, p, ty)
template <class Partial>
void stats_blocks_host(SevDouble2* part, int64_t C, int P, Partial partial) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++)
    for (int p = 0; p < P; p++) {
      SevDouble2 v[BNL_ROWS];
      for (int ty = 0; ty < BNL_ROWS; ty++) v[ty] = partial(c, p, ty);
      part[(int64_t)p * C + c] = sev_tree_sum_host(v, BNL_ROWS);
    }
}
// bnl_finalize_kernel's column tree for channel c
SevDouble2 finalize_sum_host(const SevDouble2* part, int64_t c, int64_t C, int P) {
  SevDouble2 v[BNL_FIN_ROWS];
  for (int ty = 0; ty < BNL_FIN_ROWS; ty++) v[ty] = bnl_parts_partial(part, c, C, P, ty);
  return sev_tree_sum_host(v, BNL_FIN_ROWS);
}

// the 16-byte statistics kernels' blocks, lane by lane as the device assigns them (bnl_vec_grid, bnl_vec_lane): each
// active lane's V channels from one partial_vec(c0, p, ty, s[V]) call, then every channel's row lanes by the same tree
template <class St, class PartialVec>
void stats_vec_blocks_host(SevDouble2* part, int64_t C, int P, PartialVec partial_vec) {
  constexpr int V = 16 / (int)sizeof(typename St::storage);
  int64_t gx, gy;
  bnl_vec_grid(C, V, P, &gx, &gy);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t by = 0; by < gy; by++)
    for (int64_t bx = 0; bx < gx; bx++)
      for (int lane = 0; lane < BNL_LANES; lane++) {
        const BnlVecLane L = bnl_vec_lane(C, V, P, bx, by, lane);
        if (!L.active) continue;
        SevDouble2 v[V][BNL_ROWS];
        for (int ty = 0; ty < BNL_ROWS; ty++) {
          SevDouble2 s[V];
          partial_vec(L.c0, L.p, ty, s);
          for (int q = 0; q < V; q++) v[q][ty] = s[q];
        }
        for (int q = 0; q < V; q++) part[(int64_t)L.p * C + L.c0 + q] = sev_tree_sum_host(v[q], BNL_ROWS);
      }
}

template <class St>
int train_forward_host(const typename St::storage* x, const typename St::storage* residual, const float* gamma,
                       const float* beta, typename St::storage* y, float* save_mean, float* save_invstd,
                       float* running_mean, float* running_var, int64_t M, int64_t C, float eps, float momentum,
                       int relu) {
  if (int rc = check(M, C)) return rc;
  if (M <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  const int P = bnl_splits(M, C);
  // NaN first: a (channel, split) that no block computes would show in the statistics
  std::vector<SevDouble2> part((size_t)(P * C), SevDouble2{NAN, NAN});
  // bnl_stats_vec_kernel or bnl_stats_kernel
  if (bnl_vec_stats_ok<St>(C, {x}))
    stats_vec_blocks_host<St>(part.data(), C, P, [&](int64_t c0, int p, int ty, SevDouble2* s) {
      bnl_stats_partial_vec<St>(x, c0, M, C, p, P, ty, s);
    });
  else
    stats_blocks_host(part.data(), C, P,
                      [&](int64_t c, int p, int ty) { return bnl_stats_partial<St>(x, c, M, C, p, P, ty); });
  // bnl_finalize_kernel, forward form
  for (int64_t c = 0; c < C; c++)
    cbr_stats_finalize(c, finalize_sum_host(part.data(), c, C, P), M, eps, momentum, save_mean, save_invstd,
                       running_mean, running_var);
  // bnl_apply_vec_kernel's threads, or bnl_apply_kernel
  if (const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, residual, y})) {
    const int64_t step = vb * BNL_VEC_THREADS;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < step; t++)
      bnl_apply_vec_thread<St>(x, residual, gamma, beta, save_mean, save_invstd, y, M, C, relu, t, step);
    return SEV_OK;
  }
  std::vector<float> a((size_t)C), b((size_t)C);
  for (int64_t c = 0; c < C; c++) bn_train_coeffs(gamma, beta, save_mean, save_invstd, c, &a[c], &b[c]);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; r++)
    for (int64_t c = 0; c < C; c++) y[r * C + c] = bnx_apply_element<St>(x, residual, r * C + c, a[c], b[c], relu);
  return SEV_OK;
}

// FROM_X: the mask recomputed from x (beta, with gamma, the forward's; y NULL), as the device's FROM_X kernels
template <class St, bool FROM_X = false>
int backward_host(const typename St::storage* x, const typename St::storage* y, const typename St::storage* dy,
                  const float* gamma, const float* beta, const float* save_mean, const float* save_invstd,
                  typename St::storage* dx, float* dgamma, float* dbeta, typename St::storage* dresidual, int64_t M,
                  int64_t C) {
  if (int rc = check(M, C)) return rc;
  const int P = bnl_splits(M, C);
  std::vector<SevDouble2> part((size_t)(P * C), SevDouble2{NAN, NAN});
  // the forward's coefficients, for the mask from x
  std::vector<float> fa((size_t)C, 0.f), fb((size_t)C, 0.f);
  if (FROM_X)
    for (int64_t c = 0; c < C; c++) bn_train_coeffs(gamma, beta, save_mean, save_invstd, c, &fa[c], &fb[c]);
  // bnl_backward_stats_vec_kernel or bnl_backward_stats_kernel
  if (bnl_vec_stats_ok<St>(C, {x, y, dy}))
    stats_vec_blocks_host<St>(part.data(), C, P, [&](int64_t c0, int p, int ty, SevDouble2* s) {
      bnl_backward_partial_vec<St, FROM_X>(x, y, dy, save_mean, save_invstd, c0, M, C, p, P, ty, s, gamma, beta);
    });
  else
    stats_blocks_host(part.data(), C, P, [&](int64_t c, int p, int ty) {
      return bnl_backward_partial<St, FROM_X>(x, y, dy, c, save_mean[c], save_invstd[c], M, C, p, P, ty, fa[c],
                                              fb[c]);
    });
  // bnl_finalize_kernel, backward form
  std::vector<SevDouble2> sums((size_t)C);
  std::vector<BnBackwardCoeffs> k((size_t)C);
  for (int64_t c = 0; c < C; c++) {
    sums[c] = finalize_sum_host(part.data(), c, C, P);
    if (dgamma) dgamma[c] = (float)sums[c].b;
    if (dbeta) dbeta[c] = (float)sums[c].a;
    k[c] = bn_backward_coeffs(gamma, save_mean, save_invstd, c, sums[c], (double)M);
  }
  // bnl_dx_vec_kernel's threads, or bnl_dx_kernel
  if (const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, y, dy, dx, dresidual})) {
    const int64_t step = vb * BNL_VEC_THREADS;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < step; t++)
      bnl_dx_vec_thread<St, FROM_X>(x, y, dy, gamma, beta, save_mean, save_invstd, sums.data(), dx, dresidual, M, C, t,
                                    step);
    return SEV_OK;
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; r++)
    for (int64_t c = 0; c < C; c++)
      bnl_dx_element<St, FROM_X>(x, y, dy, dx, dresidual, r * C + c, k[c], fa[c], fb[c]);
  return SEV_OK;
}

template <class St>
int eval_host(const typename St::storage* x, const float* gamma, const float* beta, const float* running_mean,
              const float* running_var, typename St::storage* y, int64_t M, int64_t C, float eps, int relu) {
  if (int rc = check(M, C)) return rc;
  // bnl_eval_vec_kernel's threads, or bnl_eval_kernel
  if (const int64_t vb = bnl_vec_pass_blocks<St>(M, C, {x, y})) {
    const int64_t step = vb * BNL_VEC_THREADS;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < step; t++)
      bnl_eval_vec_thread<St>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu, t, step);
    return SEV_OK;
  }
  std::vector<float> a((size_t)C), b((size_t)C);
  for (int64_t c = 0; c < C; c++) bn_eval_coeffs(gamma, beta, running_mean, running_var, c, eps, &a[c], &b[c]);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; r++)
    for (int64_t c = 0; c < C; c++) y[r * C + c] = bnl_eval_element<St>(x, r * C + c, a[c], b[c], relu);
  return SEV_OK;
}
}  // namespace

extern "C" {

int sev_hostrun_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma,
                                               const float* beta, float* y, float* save_mean, float* save_invstd,
                                               float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                               float momentum, int relu) {
  SEV_HOSTRUN_SCOPE();
  return train_forward_host<SevF32>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M,
                                    C, eps, momentum, relu);
}
int sev_hostrun_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                                const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                                float* running_mean, float* running_var, int64_t M, int64_t C,
                                                float eps, float momentum, int relu) {
  SEV_HOSTRUN_SCOPE();
  return train_forward_host<SevBF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M,
                                     C, eps, momentum, relu);
}
int sev_hostrun_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                               const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                               float* running_mean, float* running_var, int64_t M, int64_t C,
                                               float eps, float momentum, int relu) {
  SEV_HOSTRUN_SCOPE();
  return train_forward_host<SevF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M,
                                    C, eps, momentum, relu);
}
int sev_hostrun_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                          const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                          float* dbeta, float* dresidual, int64_t M, int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevF32>(x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M,
                                C);
}
int sev_hostrun_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy,
                                           const float* gamma, const float* save_mean, const float* save_invstd,
                                           uint16_t* dx, float* dgamma, float* dbeta, uint16_t* dresidual, int64_t M,
                                           int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevBF16>(x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M,
                                C);
}
int sev_hostrun_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                          const float* save_mean, const float* save_invstd, uint16_t* dx,
                                          float* dgamma, float* dbeta, uint16_t* dresidual, int64_t M, int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevF16>(x, y, dy, gamma, nullptr, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M,
                                C);
}
int sev_hostrun_bn_relu_backward_ndhwc_f32(const float* x, const float* dy, const float* gamma, const float* beta,
                                           const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                           float* dbeta, int64_t M, int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevF32, true>(x, nullptr, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta, nullptr,
                                     M, C);
}
int sev_hostrun_bn_relu_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* dy, const float* gamma,
                                            const float* beta, const float* save_mean, const float* save_invstd,
                                            uint16_t* dx, float* dgamma, float* dbeta, int64_t M, int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevBF16, true>(x, nullptr, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta, nullptr,
                                      M, C);
}
int sev_hostrun_bn_relu_backward_ndhwc_f16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                           const float* save_mean, const float* save_invstd, uint16_t* dx,
                                           float* dgamma, float* dbeta, int64_t M, int64_t C) {
  SEV_HOSTRUN_SCOPE();
  return backward_host<SevF16, true>(x, nullptr, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta, nullptr,
                                     M, C);
}
int sev_hostrun_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var, float* y, int64_t M,
                                         int64_t C, float eps, int relu) {
  SEV_HOSTRUN_SCOPE();
  return eval_host<SevF32>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu);
}
int sev_hostrun_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                          const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                          int64_t C, float eps, int relu) {
  SEV_HOSTRUN_SCOPE();
  return eval_host<SevBF16>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu);
}
int sev_hostrun_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                         int64_t C, float eps, int relu) {
  SEV_HOSTRUN_SCOPE();
  return eval_host<SevF16>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu);
}

}  // extern "C"
