// CPU references of the channels-last batch norm (kernels/batchnorm_ndhwc.cu). Deliberately not the kernels'
// bodies: [M][C] is transposed to [1][C][M] (sev_ndhwc_to_ncdhw, the transpose the temporal-conv tests use),
// the NCDHW references run (statistics by two passes in double, their own order), and the result is transposed
// back. 16-bit tensors move as raw bits (a transpose is exact) into the 16-bit NCDHW references
// (batchnorm_half.cpp: widen, the fp32 ops, round once); the 16-bit eval widens, runs the fp32 eval, rounds once.
#include <stdint.h>

#include <string>
#include <vector>

#include "internal.h"
#include "sev_half.cuh"
#include "sevnet.h"

namespace {
int check(int64_t M, int64_t C) {
  if (M <= 0 || C <= 0) return sev::fail(SEV_EINVAL, "batch norm ndhwc: M and C must be positive");
  return SEV_OK;
}
// [M][C] <-> [C][M] of any element (for float, sev_ndhwc_to_ncdhw / sev_ncdhw_to_ndhwc with N = 1)
template <typename T>
std::vector<T> to_cm(const T* x, int64_t M, int64_t C) {
  std::vector<T> t((size_t)(M * C));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++)
    for (int64_t r = 0; r < M; r++) t[(size_t)(c * M + r)] = x[r * C + c];
  return t;
}
template <typename T>
void from_cm(const std::vector<T>& t, T* y, int64_t M, int64_t C) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; r++)
    for (int64_t c = 0; c < C; c++) y[r * C + c] = t[(size_t)(c * M + r)];
}
std::vector<float> to_cm_f32(const float* x, int64_t M, int64_t C) {
  std::vector<float> t((size_t)(M * C));
  sev_ndhwc_to_ncdhw(x, t.data(), 1, C, M);
  return t;
}
void from_cm_f32(const std::vector<float>& t, float* y, int64_t M, int64_t C) { sev_ncdhw_to_ndhwc(t.data(), y, 1, C, M); }

int train_forward_f32(const float* x, const float* residual, const float* gamma, const float* beta, float* y,
                      float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t M,
                      int64_t C, float eps, float momentum, int relu) {
  if (int rc = check(M, C)) return rc;
  const std::vector<float> xt = to_cm_f32(x, M, C);
  std::vector<float> yt((size_t)(M * C));
  int rc = sev_batchnorm_train_forward(xt.data(), gamma, beta, yt.data(), save_mean, save_invstd, running_mean,
                                       running_var, 1, C, M, eps, momentum);
  if (rc != SEV_OK) return rc;
  if (residual) {
    const std::vector<float> rt = to_cm_f32(residual, M, C);
    if ((rc = sev_add(yt.data(), rt.data(), yt.data(), M * C)) != SEV_OK) return rc;
  }
  if (relu && (rc = sev_relu_forward(yt.data(), yt.data(), M * C)) != SEV_OK) return rc;
  from_cm_f32(yt, y, M, C);
  return SEV_OK;
}
int backward_f32(const float* x, const float* y, const float* dy, const float* gamma, const float* save_mean,
                 const float* save_invstd, float* dx, float* dgamma, float* dbeta, float* dresidual, int64_t M,
                 int64_t C) {
  if (int rc = check(M, C)) return rc;
  const std::vector<float> xt = to_cm_f32(x, M, C);
  std::vector<float> g = to_cm_f32(dy, M, C), dxt((size_t)(M * C));
  int rc;
  if (y) {
    const std::vector<float> yt = to_cm_f32(y, M, C);
    if ((rc = sev_relu_backward(yt.data(), g.data(), g.data(), M * C)) != SEV_OK) return rc;
  }
  rc = sev_batchnorm_backward(xt.data(), g.data(), gamma, save_mean, save_invstd, dxt.data(), dgamma, dbeta, 1, C, M);
  if (rc != SEV_OK) return rc;
  from_cm_f32(dxt, dx, M, C);
  if (dresidual) from_cm_f32(g, dresidual, M, C);
  return SEV_OK;
}

// the 16-bit NCDHW references of one format
struct Bf16Ref {
  typedef SevBF16 St;
  static constexpr auto fwd = sev_batchnorm_act_train_forward_bf16;
  static constexpr auto bwd = sev_batchnorm_act_backward_bf16;
};
struct F16Ref {
  typedef SevF16 St;
  static constexpr auto fwd = sev_batchnorm_act_train_forward_f16;
  static constexpr auto bwd = sev_batchnorm_act_backward_f16;
};

template <class R>
int train_forward_16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta, uint16_t* y,
                     float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t M,
                     int64_t C, float eps, float momentum, int relu) {
  if (int rc = check(M, C)) return rc;
  const std::vector<uint16_t> xt = to_cm(x, M, C), rt = residual ? to_cm(residual, M, C) : std::vector<uint16_t>();
  std::vector<uint16_t> yt((size_t)(M * C));
  const int rc = R::fwd(xt.data(), residual ? rt.data() : nullptr, gamma, beta, yt.data(), save_mean, save_invstd,
                        running_mean, running_var, 1, C, M, eps, momentum, relu);
  if (rc != SEV_OK) return rc;
  from_cm(yt, y, M, C);
  return SEV_OK;
}
template <class R>
int backward_16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma, const float* save_mean,
                const float* save_invstd, uint16_t* dx, float* dgamma, float* dbeta, uint16_t* dresidual, int64_t M,
                int64_t C) {
  if (int rc = check(M, C)) return rc;
  const std::vector<uint16_t> xt = to_cm(x, M, C), dyt = to_cm(dy, M, C);
  const std::vector<uint16_t> yt = y ? to_cm(y, M, C) : std::vector<uint16_t>();
  std::vector<uint16_t> dxt((size_t)(M * C)), drt(dresidual ? (size_t)(M * C) : 0);
  const int rc = R::bwd(xt.data(), y ? yt.data() : nullptr, dyt.data(), gamma, save_mean, save_invstd, dxt.data(),
                        dgamma, dbeta, dresidual ? drt.data() : nullptr, 1, C, M);
  if (rc != SEV_OK) return rc;
  from_cm(dxt, dx, M, C);
  if (dresidual) from_cm(drt, dresidual, M, C);
  return SEV_OK;
}
template <class St>
int eval_16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
            const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu) {
  if (int rc = check(M, C)) return rc;
  const std::vector<uint16_t> xt = to_cm(x, M, C);
  std::vector<float> xf((size_t)(M * C)), yf((size_t)(M * C));
  for (size_t i = 0; i < xf.size(); i++) xf[i] = St::load(xt[i]);
  const int rc = sev_batchnorm_eval_forward(xf.data(), gamma, beta, running_mean, running_var, yf.data(), 1, C, M, eps,
                                            relu);
  if (rc != SEV_OK) return rc;
  std::vector<uint16_t> yt((size_t)(M * C));
  for (size_t i = 0; i < yt.size(); i++) yt[i] = St::store(yf[i]);
  from_cm(yt, y, M, C);
  return SEV_OK;
}
}  // namespace

extern "C" {

int sev_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma, const float* beta,
                                       float* y, float* save_mean, float* save_invstd, float* running_mean,
                                       float* running_var, int64_t M, int64_t C, float eps, float momentum, int relu) {
  SEV_CALL_SCOPE();
  return train_forward_f32(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M, C, eps,
                           momentum, relu);
}
int sev_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu) {
  SEV_CALL_SCOPE();
  return train_forward_16<Bf16Ref>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M,
                                   C, eps, momentum, relu);
}
int sev_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                       const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                       float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                       float momentum, int relu) {
  SEV_CALL_SCOPE();
  return train_forward_16<F16Ref>(x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, M, C,
                                  eps, momentum, relu);
}
int sev_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                  const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                  float* dbeta, float* dresidual, int64_t M, int64_t C) {
  SEV_CALL_SCOPE();
  return backward_f32(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M, C);
}
int sev_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C) {
  SEV_CALL_SCOPE();
  return backward_16<Bf16Ref>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M, C);
}
int sev_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                  const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                  float* dbeta, uint16_t* dresidual, int64_t M, int64_t C) {
  SEV_CALL_SCOPE();
  return backward_16<F16Ref>(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, M, C);
}
int sev_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu) {
  SEV_CALL_SCOPE();
  if (int rc = check(M, C)) return rc;
  const std::vector<float> xt = to_cm_f32(x, M, C);
  std::vector<float> yt((size_t)(M * C));
  const int rc = sev_batchnorm_eval_forward(xt.data(), gamma, beta, running_mean, running_var, yt.data(), 1, C, M, eps,
                                            relu);
  if (rc != SEV_OK) return rc;
  from_cm_f32(yt, y, M, C);
  return SEV_OK;
}
int sev_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu) {
  SEV_CALL_SCOPE();
  return eval_16<SevBF16>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu);
}
int sev_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu) {
  SEV_CALL_SCOPE();
  return eval_16<SevF16>(x, gamma, beta, running_mean, running_var, y, M, C, eps, relu);
}

}  // extern "C"
