// Batch norm over [N, C, S] with PyTorch semantics. Statistics are accumulated in double: the model's
// activations have S up to 8*56*56 per clip and float sums lose the 1e-4 parity budget.
#include <cmath>

#include "internal.h"
#include "sevnet.h"

extern "C" {

int sev_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                                int64_t S, float eps, float momentum) {
  SEV_CALL_SCOPE();
  const int64_t count = N * S;
  if (count <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; n++) {
      const float* xp = x + (n * C + c) * S;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < S; i++) sum += xp[i];
    }
    const double mean = sum / count;
    for (int64_t n = 0; n < N; n++) {
      const float* xp = x + (n * C + c) * S;
#pragma omp simd reduction(+ : sq)
      for (int64_t i = 0; i < S; i++) {
        double d = xp[i] - mean;
        sq += d * d;
      }
    }
    const double var = sq / count;  // biased: used to normalise
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    if (running_mean) running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
    if (running_var)
      running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * var * count / (count - 1));
    const float a = (float)(gamma ? gamma[c] * invstd : invstd);
    const float b = (float)((beta ? beta[c] : 0.0) - mean * a);
    for (int64_t n = 0; n < N; n++) {
      const float* xp = x + (n * C + c) * S;
      float* yp = y + (n * C + c) * S;
#pragma omp simd
      for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * a + b;
    }
  }
  return SEV_OK;
}

int sev_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta, const float* running_mean,
                               const float* running_var, float* y, int64_t N, int64_t C, int64_t S, float eps,
                               int relu) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t c = 0; c < C; c++) {
      const float invstd = 1.f / std::sqrt(running_var[c] + eps);
      const float a = (gamma ? gamma[c] : 1.f) * invstd;
      const float b = (beta ? beta[c] : 0.f) - running_mean[c] * a;
      const float* xp = x + (n * C + c) * S;
      float* yp = y + (n * C + c) * S;
      if (relu) {
#pragma omp simd
        for (int64_t i = 0; i < S; i++) {
          float v = xp[i] * a + b;
          yp[i] = v > 0.f ? v : 0.f;
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * a + b;
      }
    }
  }
  return SEV_OK;
}

int sev_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                           const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                           int64_t S) {
  SEV_CALL_SCOPE();
  const double count = (double)N * S;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < C; c++) {
    const double mean = save_mean[c];
    const double invstd = save_invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < N; n++) {
      const float* xp = x + (n * C + c) * S;
      const float* dyp = dy + (n * C + c) * S;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
      for (int64_t i = 0; i < S; i++) {
        sum_dy += dyp[i];
        sum_dy_xhat += dyp[i] * ((xp[i] - mean) * invstd);
      }
    }
    if (dgamma) dgamma[c] = (float)sum_dy_xhat;
    if (dbeta) dbeta[c] = (float)sum_dy;
    // dx = gamma*invstd/count * (count*dy - sum_dy - xhat*sum_dy_xhat)
    const double g = gamma ? gamma[c] : 1.0;
    const float k = (float)(g * invstd);
    const float mdy = (float)(sum_dy / count);
    const float mdyx = (float)(sum_dy_xhat / count);
    const float fmean = (float)mean, finv = (float)invstd;
    for (int64_t n = 0; n < N; n++) {
      const float* xp = x + (n * C + c) * S;
      const float* dyp = dy + (n * C + c) * S;
      float* dxp = dx + (n * C + c) * S;
#pragma omp simd
      for (int64_t i = 0; i < S; i++) {
        float xhat = (xp[i] - fmean) * finv;
        dxp[i] = k * (dyp[i] - mdy - xhat * mdyx);
      }
    }
  }
  return SEV_OK;
}

}  // extern "C"
