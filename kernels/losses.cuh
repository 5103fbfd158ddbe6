// Softmax, softmax cross-entropy and BCE-with-logits (kernels/losses.cu), as native/src/losses.cpp.
// Row reductions run one block per row of K: a *_partial is one thread's share of the row.
#pragma once
#include <math.h>
#include <stdint.h>

#include "sev_cuda_compat.cuh"

constexpr int SOFTMAX_THREADS = 256;  // one block per row
constexpr int LOSS_THREADS = 512;     // the single block that sums a loss over the batch

SEV_HD float row_max_partial(const float* xp, int64_t K, int tid, int nt) {
  float m = -INFINITY;
  for (int64_t k = tid; k < K; k += nt) m = xp[k] > m ? xp[k] : m;
  return m;
}

// ---- softmax (sev_softmax): y = exp(x - max) in float, normalised by a double sum ----
// writes the unnormalised exp of the thread's elements, returns their sum
SEV_HD double softmax_exp_partial(const float* xp, float* yp, float mx, int64_t K, int tid, int nt) {
  double s = 0;
  for (int64_t k = tid; k < K; k += nt) {
    yp[k] = expf(xp[k] - mx);
    s += yp[k];
  }
  return s;
}
SEV_HD void softmax_scale_partial(float* yp, float inv, int64_t K, int tid, int nt) {
  for (int64_t k = tid; k < K; k += nt) yp[k] *= inv;
}

// ---- softmax cross-entropy forward: probs in double through log-sum-exp, as the CPU ----
SEV_HD double xent_sumexp_partial(const float* xp, float mx, int64_t K, int tid, int nt) {
  double s = 0;
  for (int64_t k = tid; k < K; k += nt) s += exp((double)xp[k] - mx);
  return s;
}
SEV_HD void xent_probs_partial(const float* xp, float* pp, double lse, int64_t K, int tid, int nt) {
  for (int64_t k = tid; k < K; k += nt) pp[k] = (float)exp((double)xp[k] - lse);
}
// row n's loss term lse - x[label], computed serially (NaN for a label outside [0, K): the GPU
// cannot report a bad label synchronously, so the loss says it)
SEV_HD double xent_row_loss(const float* logits, const int64_t* labels, int64_t n, int64_t K) {
  const float* xp = logits + n * K;
  const int64_t label = labels[n];
  if (label < 0 || label >= K) return NAN;
  const float mx = row_max_partial(xp, K, 0, 1);
  const double lse = mx + log(xent_sumexp_partial(xp, mx, K, 0, 1));
  return lse - xp[label];
}
SEV_HD double xent_loss_partial(const float* logits, const int64_t* labels, int64_t N, int64_t K, int tid, int nt) {
  double s = 0;
  for (int64_t n = tid; n < N; n += nt) s += xent_row_loss(logits, labels, n, K);
  return s;
}
// dlogits = (probs - onehot) * scale / N; element i of [N, K]
SEV_HD float xent_backward_element(const float* probs, const int64_t* labels, int64_t i, float s, int64_t K) {
  const float v = probs[i] * s;
  return (i % K) == labels[i / K] ? v - s : v;
}

// ---- BCE with logits, mean over N*K: max(x,0) - x*t + log(1 + exp(-|x|)) in double ----
SEV_HD double bce_term(float logit, float target) {
  const double x = logit, t = target;
  return (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
}
SEV_HD double bce_loss_partial(const float* logits, const float* targets, int64_t n, int tid, int nt) {
  double s = 0;
  for (int64_t i = tid; i < n; i += nt) s += bce_term(logits[i], targets[i]);
  return s;
}
SEV_HD float bce_backward_element(float logit, float target, float s) {
  const float sig = 1.f / (1.f + expf(-logit));
  return (sig - target) * s;
}
