// Batch norm over [N, C, S] with PyTorch semantics. Statistics are accumulated in double: the model's
// activations have S up to 8*56*56 per clip and float sums lose the 1e-4 parity budget.
//
// One channel at a time (its N segments of S floats), so that a channel's second and third passes — the squared
// deviations, the apply; backward's dx — find its data in the core's cache: only the first pass reads memory. The
// bodies are built per ISA (sev_simd.h: the library's baseline is x86-64-v2, whose `omp simd` double sums are two
// lanes wide) and picked by sev::cpu_isa(). The training forms with a ReLU (and a residual) apply them in the same
// pass as the normalisation, and their backward masks dy in its two passes — instead of separate element-wise passes
// over memory after (and before) the whole tensor; the values are those of the composed ops bit for bit, in each build
// (FusedOpsTest, BatchNormActCpuTest).
#include <cmath>

#include "internal.h"
#include "sev_simd.h"
#include "sevnet.h"

namespace {

struct BnTrainArgs {
  const float* x;
  const float* residual;  // NULL: none
  const float* gamma;
  const float* beta;
  float* y;
  float* save_mean;
  float* save_invstd;
  float* running_mean;
  float* running_var;
  int64_t N, C, S;
  float eps, momentum;
  int relu;
};

// The training normalisation's coefficients y = x * a + b, from the statistics as saved (rounded to float) — the
// formula of the CUDA kernels' bn_train_coeffs — so that a backward holding only the saved statistics recomputes
// the forward's y exactly (sev_batchnorm_relu_backward's ReLU mask).
SEV_INLINE void bn_train_coefficients(const float* gamma, const float* beta, float mean, float invstd, int64_t c,
                                      float* a, float* b) {
  *a = (float)(gamma ? gamma[c] * (double)invstd : (double)invstd);
  *b = (float)((beta ? beta[c] : 0.0) - (double)mean * *a);
}
// One normalised value. The forward and the mask-recomputing backward both call this, inlined into loops of the
// same form in the same ISA build: where the build has FMA, GCC contracts it into one in both, elsewhere neither.
SEV_INLINE float bn_affine(float x, float a, float b) { return x * a + b; }

SEV_INLINE void bn_train_channel(const BnTrainArgs& a, int64_t c) {
  const int64_t N = a.N, C = a.C, S = a.S, count = N * S;
  double sum = 0, sq = 0;
  for (int64_t n = 0; n < N; n++) {
    const float* xp = a.x + (n * C + c) * S;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < S; i++) sum += xp[i];
  }
  const double mean = sum / count;
  for (int64_t n = 0; n < N; n++) {
    const float* xp = a.x + (n * C + c) * S;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < S; i++) {
      double d = xp[i] - mean;
      sq += d * d;
    }
  }
  const double var = sq / count;  // biased: used to normalise
  const double invstd = 1.0 / std::sqrt(var + a.eps);
  a.save_mean[c] = (float)mean;
  a.save_invstd[c] = (float)invstd;
  if (a.running_mean) a.running_mean[c] = (float)((1.0 - a.momentum) * a.running_mean[c] + a.momentum * mean);
  if (a.running_var)
    a.running_var[c] = (float)((1.0 - a.momentum) * a.running_var[c] + a.momentum * var * count / (count - 1));
  float sa, sb;
  bn_train_coefficients(a.gamma, a.beta, a.save_mean[c], a.save_invstd[c], c, &sa, &sb);
  for (int64_t n = 0; n < N; n++) {
    const float* xp = a.x + (n * C + c) * S;
    float* yp = a.y + (n * C + c) * S;
    const float* rp = a.residual ? a.residual + (n * C + c) * S : nullptr;
    // the composed ops' values: bn = x*a + b rounded to float, then + residual, then the ReLU's v > 0 ? v : 0
    if (rp && a.relu) {
#pragma omp simd
      for (int64_t i = 0; i < S; i++) {
        const float bn = bn_affine(xp[i], sa, sb), v = bn + rp[i];
        yp[i] = v > 0.f ? v : 0.f;
      }
    } else if (rp) {
#pragma omp simd
      for (int64_t i = 0; i < S; i++) {
        const float bn = bn_affine(xp[i], sa, sb);
        yp[i] = bn + rp[i];
      }
    } else if (a.relu) {
#pragma omp simd
      for (int64_t i = 0; i < S; i++) {
        const float bn = bn_affine(xp[i], sa, sb);
        yp[i] = bn > 0.f ? bn : 0.f;
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < S; i++) yp[i] = bn_affine(xp[i], sa, sb);
    }
  }
}

struct BnBackwardArgs {
  const float* x;
  const float* y;  // the forward's output, for the ReLU's mask; NULL: no ReLU (unless relu_from_x)
  const float* dy;
  const float* gamma;
  const float* beta;  // with relu_from_x: the forward's beta (NULL: 0)
  int relu_from_x;    // the ReLU's mask recomputed from x (y = relu(x*a + b), no residual): y is not read
  const float* save_mean;
  const float* save_invstd;
  float* dx;
  float* dgamma;
  float* dbeta;
  float* dresidual;  // the masked dy, when not NULL
  int64_t N, C, S;
};

// The ReLU's mask: none, the stored y, or y recomputed from x (the forward's bn_affine: the same bits)
enum class Mask { NONE, FROM_Y, FROM_X };

// g = the ReLU-masked dy (sev_relu_backward's y > 0 ? dy : 0), or dy
template <Mask MASK>
SEV_INLINE float bn_grad(const float* xp, const float* yp, const float* dyp, int64_t i, float sa, float sb) {
  if (MASK == Mask::NONE) return dyp[i];
  const float g = dyp[i];  // loaded unconditionally: a load under the condition keeps GCC from vectorizing
  if (MASK == Mask::FROM_X) return bn_affine(xp[i], sa, sb) > 0.f ? g : 0.f;
  return yp[i] > 0.f ? g : 0.f;
}

template <Mask MASK>
SEV_INLINE void bn_backward_channel(const BnBackwardArgs& a, int64_t c) {
  constexpr bool RELU = MASK == Mask::FROM_Y;
  const int64_t N = a.N, C = a.C, S = a.S;
  const double count = (double)N * S;
  const double mean = a.save_mean[c];
  const double invstd = a.save_invstd[c];
  float sa = 0.f, sb = 0.f;
  if (MASK == Mask::FROM_X) bn_train_coefficients(a.gamma, a.beta, a.save_mean[c], a.save_invstd[c], c, &sa, &sb);
  double sum_dy = 0, sum_dy_xhat = 0;
  for (int64_t n = 0; n < N; n++) {
    const int64_t o = (n * C + c) * S;
    const float *xp = a.x + o, *dyp = a.dy + o, *yp = RELU ? a.y + o : nullptr;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
    for (int64_t i = 0; i < S; i++) {
      const float g = bn_grad<MASK>(xp, yp, dyp, i, sa, sb);
      sum_dy += g;
      sum_dy_xhat += g * ((xp[i] - mean) * invstd);
    }
  }
  if (a.dgamma) a.dgamma[c] = (float)sum_dy_xhat;
  if (a.dbeta) a.dbeta[c] = (float)sum_dy;
  // dx = gamma*invstd/count * (count*dy - sum_dy - xhat*sum_dy_xhat)
  const double gm = a.gamma ? a.gamma[c] : 1.0;
  const float k = (float)(gm * invstd);
  const float mdy = (float)(sum_dy / count);
  const float mdyx = (float)(sum_dy_xhat / count);
  const float fmean = (float)mean, finv = (float)invstd;
  for (int64_t n = 0; n < N; n++) {
    const int64_t o = (n * C + c) * S;
    const float *xp = a.x + o, *dyp = a.dy + o, *yp = RELU ? a.y + o : nullptr;
    float* dxp = a.dx + o;
    float* drp = a.dresidual ? a.dresidual + o : nullptr;
#pragma omp simd
    for (int64_t i = 0; i < S; i++) {
      const float g = bn_grad<MASK>(xp, yp, dyp, i, sa, sb);
      float xhat = (xp[i] - fmean) * finv;
      dxp[i] = k * (g - mdy - xhat * mdyx);
    }
    if (drp) {
#pragma omp simd
      for (int64_t i = 0; i < S; i++) drp[i] = bn_grad<MASK>(xp, yp, dyp, i, sa, sb);
    }
  }
}

SEV_TARGET_AVX512 void bn_train_avx512(const BnTrainArgs& a, int64_t c) { bn_train_channel(a, c); }
SEV_TARGET_AVX2 void bn_train_avx2(const BnTrainArgs& a, int64_t c) { bn_train_channel(a, c); }
void bn_train_base(const BnTrainArgs& a, int64_t c) { bn_train_channel(a, c); }
SEV_TARGET_AVX512 void bn_backward_avx512(const BnBackwardArgs& a, int64_t c) {
  a.relu_from_x ? bn_backward_channel<Mask::FROM_X>(a, c)
  : a.y        ? bn_backward_channel<Mask::FROM_Y>(a, c)
               : bn_backward_channel<Mask::NONE>(a, c);
}
SEV_TARGET_AVX2 void bn_backward_avx2(const BnBackwardArgs& a, int64_t c) {
  a.relu_from_x ? bn_backward_channel<Mask::FROM_X>(a, c)
  : a.y        ? bn_backward_channel<Mask::FROM_Y>(a, c)
               : bn_backward_channel<Mask::NONE>(a, c);
}
void bn_backward_base(const BnBackwardArgs& a, int64_t c) {
  a.relu_from_x ? bn_backward_channel<Mask::FROM_X>(a, c)
  : a.y        ? bn_backward_channel<Mask::FROM_Y>(a, c)
               : bn_backward_channel<Mask::NONE>(a, c);
}

int bn_train(const BnTrainArgs& a) {
  if (a.N * a.S <= 1) return sev::fail(SEV_EINVAL, "batch norm in training mode needs more than one value per channel");
  using Fn = void (*)(const BnTrainArgs&, int64_t);
  static const Fn fns[3] = {bn_train_base, bn_train_avx2, bn_train_avx512};
  const Fn f = fns[sev::cpu_isa()];
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < a.C; c++) f(a, c);
  return SEV_OK;
}

int bn_backward(const BnBackwardArgs& a) {
  using Fn = void (*)(const BnBackwardArgs&, int64_t);
  static const Fn fns[3] = {bn_backward_base, bn_backward_avx2, bn_backward_avx512};
  const Fn f = fns[sev::cpu_isa()];
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < a.C; c++) f(a, c);
  return SEV_OK;
}

}  // namespace

namespace sev {
void bn_eval_coefficients(const float* gamma, const float* beta, const float* running_mean, const float* running_var,
                          float eps, int64_t C, float* a, float* b) {
  for (int64_t c = 0; c < C; c++) {
    const float invstd = 1.f / std::sqrt(running_var[c] + eps);
    a[c] = (gamma ? gamma[c] : 1.f) * invstd;
    b[c] = (beta ? beta[c] : 0.f) - running_mean[c] * a[c];
  }
}
}  // namespace sev

extern "C" {

int sev_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                                int64_t S, float eps, float momentum) {
  SEV_CALL_SCOPE();
  return bn_train({x, nullptr, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, N, C, S, eps,
                   momentum, 0});
}

int sev_batchnorm_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta,
                                    float* y, float* save_mean, float* save_invstd, float* running_mean,
                                    float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                    int relu) {
  SEV_CALL_SCOPE();
  return bn_train({x, residual, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, N, C, S, eps,
                   momentum, relu});
}

int sev_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta, const float* running_mean,
                               const float* running_var, float* y, int64_t N, int64_t C, int64_t S, float eps,
                               int relu) {
  SEV_CALL_SCOPE();
  sev::FloatBuf ab((size_t)(2 * C));
  if (!ab.get()) return sev::fail(SEV_ENOMEM, "sev_batchnorm_eval_forward: out of memory");
  float* const as = ab.get();
  float* const bs = ab.get() + C;
  sev::bn_eval_coefficients(gamma, beta, running_mean, running_var, eps, C, as, bs);
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t c = 0; c < C; c++) {
      const float a = as[c], b = bs[c];
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
  return bn_backward({x, nullptr, dy, gamma, nullptr, 0, save_mean, save_invstd, dx, dgamma, dbeta, nullptr, N, C, S});
}

int sev_batchnorm_act_backward(const float* x, const float* y, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                               float* dbeta, float* dresidual, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  return bn_backward({x, y, dy, gamma, nullptr, 0, save_mean, save_invstd, dx, dgamma, dbeta, dresidual, N, C, S});
}

int sev_batchnorm_relu_backward(const float* x, const float* dy, const float* gamma, const float* beta,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  return bn_backward({x, nullptr, dy, gamma, beta, 1, save_mean, save_invstd, dx, dgamma, dbeta, nullptr, N, C, S});
}

}  // extern "C"
