// CPU references of the 16-bit batch-norm glue (kernels/conv_bn_relu.cu, sevc_bn_act_*_bf16/_f16): PyTorch
// autocast's batch norm, activations in 16-bit storage, parameters and statistics in fp32. Each widens its
// 16-bit inputs exactly to fp32, runs the fp32 CPU ops composed (sev_batchnorm_train_forward, sev_add,
// sev_relu_forward; sev_relu_backward, sev_batchnorm_backward: statistics in double, the element math in
// fp32), and rounds each 16-bit output once (to nearest even, sev_half.cuh; fp16 overflows to +-inf).
#include <stdint.h>

#include <vector>

#include "internal.h"
#include "sev_half.cuh"
#include "sevnet.h"

namespace {
template <class St>
std::vector<float> widen(const uint16_t* v, int64_t n) {
  std::vector<float> f((size_t)n);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; i++) f[(size_t)i] = St::load(v[i]);
  return f;
}
template <class St>
void narrow(const float* f, uint16_t* v, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; i++) v[i] = St::store(f[i]);
}

template <class St>
int act_train_forward(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta, uint16_t* y,
                      float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t N,
                      int64_t C, int64_t S, float eps, float momentum, int relu) {
  if (N < 0 || C < 0 || S < 0) return sev::fail(SEV_EINVAL, "batch norm: negative size");
  const int64_t n = N * C * S;
  std::vector<float> xf = widen<St>(x, n), yf((size_t)n);
  int rc = sev_batchnorm_train_forward(xf.data(), gamma, beta, yf.data(), save_mean, save_invstd, running_mean,
                                       running_var, N, C, S, eps, momentum);
  if (rc != SEV_OK) return rc;
  if (residual) {
    const std::vector<float> rf = widen<St>(residual, n);
    rc = sev_add(yf.data(), rf.data(), yf.data(), n);
    if (rc != SEV_OK) return rc;
  }
  if (relu) {
    rc = sev_relu_forward(yf.data(), yf.data(), n);
    if (rc != SEV_OK) return rc;
  }
  narrow<St>(yf.data(), y, n);
  return SEV_OK;
}

template <class St>
int act_backward(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma, const float* save_mean,
                 const float* save_invstd, uint16_t* dx, float* dgamma, float* dbeta, uint16_t* dresidual, int64_t N,
                 int64_t C, int64_t S) {
  if (N < 0 || C < 0 || S < 0) return sev::fail(SEV_EINVAL, "batch norm: negative size");
  const int64_t n = N * C * S;
  const std::vector<float> xf = widen<St>(x, n);
  std::vector<float> g = widen<St>(dy, n), dxf((size_t)n);
  if (y) {  // the ReLU's mask: the stored 16-bit y > 0
    const std::vector<float> yf = widen<St>(y, n);
    const int rc = sev_relu_backward(yf.data(), g.data(), g.data(), n);
    if (rc != SEV_OK) return rc;
  }
  const int rc = sev_batchnorm_backward(xf.data(), g.data(), gamma, save_mean, save_invstd, dxf.data(), dgamma, dbeta,
                                        N, C, S);
  if (rc != SEV_OK) return rc;
  narrow<St>(dxf.data(), dx, n);
  if (dresidual) narrow<St>(g.data(), dresidual, n);  // exact: a widened 16-bit dy or 0
  return SEV_OK;
}
}  // namespace

extern "C" {

int sev_batchnorm_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                         float eps, float momentum, int relu) {
  SEV_CALL_SCOPE();
  return act_train_forward<SevBF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, N,
                                    C, S, eps, momentum, relu);
}
int sev_batchnorm_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                        float eps, float momentum, int relu) {
  SEV_CALL_SCOPE();
  return act_train_forward<SevF16>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, N,
                                   C, S, eps, momentum, relu);
}
int sev_batchnorm_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  return act_backward<SevBF16>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C, S);
}
int sev_batchnorm_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  return act_backward<SevF16>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C, S);
}

}  // extern "C"
