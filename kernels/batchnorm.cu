// Batch norm over [N, C, S] (bodies in batchnorm.cuh). Statistics: one block per channel, two
// passes in double (mean, then squared deviations), then an element-wise apply over the whole
// tensor. Backward: one block per channel (the two sums, then dx of the channel).
#include "batchnorm.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void __launch_bounds__(BN_THREADS) bn_stats_kernel(const float* x, float* save_mean,
                                float* save_invstd, float* running_mean, float* running_var, int64_t N,
                                int64_t C, int64_t S, float eps, float momentum) {
  __shared__ double smem[BN_THREADS];
  const int64_t count = N * S;
  SEVC_FOR_BLOCKS(c, C) {
    const double mean = sev_block_sum(bn_sum_partial(x, c, N, C, S, threadIdx.x, blockDim.x), smem) / count;
    const double sqdev = sev_block_sum(bn_sqdev_partial(x, c, mean, N, C, S, threadIdx.x, blockDim.x), smem);
    if (threadIdx.x == 0)
      bn_train_finalize(c, mean, sqdev, count, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
}
__global__ void bn_train_apply_kernel(const float* x, const float* gamma,
                                      const float* beta, const float* save_mean,
                                      const float* save_invstd, float* y, int64_t N,
                                      int64_t C, int64_t S) {
  SEVC_FOR_ROWS(nc, N * C) {
    float a, b;
    bn_train_coeffs(gamma, beta, save_mean, save_invstd, nc % C, &a, &b);
    SEVC_FOR_EACH(s, S) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, 0);
  }
}
__global__ void bn_eval_kernel(const float* x, const float* gamma,
                               const float* beta, const float* running_mean,
                               const float* running_var, float* y, int64_t N, int64_t C,
                               int64_t S, float eps, int relu) {
  SEVC_FOR_ROWS(nc, N * C) {
    float a, b;
    bn_eval_coeffs(gamma, beta, running_mean, running_var, nc % C, eps, &a, &b);
    SEVC_FOR_EACH(s, S) y[nc * S + s] = bn_apply_element(x[nc * S + s], a, b, relu);
  }
}
__global__ void __launch_bounds__(BN_THREADS) bn_backward_kernel(const float* x, const float* dy,
                                   const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx,
                                   float* dgamma, float* dbeta, int64_t N, int64_t C,
                                   int64_t S) {
  __shared__ SevDouble2 smem[BN_THREADS];
  SEVC_FOR_BLOCKS(c, C) {
    const SevDouble2 sums = sev_block_sum(
        bn_backward_partial(x, dy, c, save_mean[c], save_invstd[c], N, C, S, threadIdx.x, blockDim.x), smem);
    if (threadIdx.x == 0) {
      if (dgamma) dgamma[c] = (float)sums.b;
      if (dbeta) dbeta[c] = (float)sums.a;
    }
    const BnBackwardCoeffs k = bn_backward_coeffs(gamma, save_mean, save_invstd, c, sums, (double)N * S);
    bn_backward_dx_partial(x, dy, dx, c, k, N, C, S, threadIdx.x, blockDim.x);
  }
}
}  // namespace

extern "C" {

int sevc_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                 float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                                 int64_t S, float eps, float momentum, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "batchnorm_train_forward: negative size");
  if (N * S <= 1)
    return sevc::fail(SEVC_E_ARG, "batch norm in training mode needs more than one value per channel");
  if (C == 0) return SEVC_OK;
  const cudaStream_t st = sevc::as_stream(stream);
  bn_stats_kernel<<<sevc::item_blocks(C), BN_THREADS, 0, st>>>(x, save_mean, save_invstd, running_mean, running_var, N,
                                                                C, S, eps, momentum);
  bn_train_apply_kernel<<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, st>>>(x, gamma, beta, save_mean, save_invstd,
                                                                               y, N, C, S);
  return sevc::check_launch("batchnorm_train_forward");
}

int sevc_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float* y, int64_t N, int64_t C, int64_t S, float eps,
                                int relu, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "batchnorm_eval_forward: negative size");
  if (N * C * S == 0) return SEVC_OK;
  bn_eval_kernel<<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, sevc::as_stream(stream)>>>(
      x, gamma, beta, running_mean, running_var, y, N, C, S, eps, relu);
  return sevc::check_launch("batchnorm_eval_forward");
}

int sevc_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                            const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                            int64_t S, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "batchnorm_backward: negative size");
  if (C == 0) return SEVC_OK;
  bn_backward_kernel<<<sevc::item_blocks(C), BN_THREADS, 0, sevc::as_stream(stream)>>>(
      x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, N, C, S);
  return sevc::check_launch("batchnorm_backward");
}

}  // extern "C"
