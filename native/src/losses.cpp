// Losses with their gradients, and the SGD update. Small arrays: no threading except SGD.
#include <cmath>

#include "internal.h"
#include "sevnet.h"

extern "C" {

int sev_softmax(const float* x, float* y, int64_t N, int64_t K) {
  SEV_CALL_SCOPE();
  for (int64_t n = 0; n < N; n++) {
    const float* xp = x + n * K;
    float* yp = y + n * K;
    float mx = xp[0];
    for (int64_t k = 1; k < K; k++) mx = xp[k] > mx ? xp[k] : mx;
    double s = 0;
    for (int64_t k = 0; k < K; k++) {
      yp[k] = std::exp(xp[k] - mx);
      s += yp[k];
    }
    const float inv = (float)(1.0 / s);
    for (int64_t k = 0; k < K; k++) yp[k] *= inv;
  }
  return SEV_OK;
}

int sev_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                             int64_t K) {
  SEV_CALL_SCOPE();
  for (int64_t n = 0; n < N; n++)
    if (labels[n] < 0 || labels[n] >= K)
      return sev::fail(SEV_EINVAL, "label " + std::to_string(labels[n]) + " of sample " + std::to_string(n) +
                                       " is outside [0, " + std::to_string(K) + ")");
  double total = 0;
  for (int64_t n = 0; n < N; n++) {
    const float* xp = logits + n * K;
    float* pp = probs + n * K;
    float mx = xp[0];
    for (int64_t k = 1; k < K; k++) mx = xp[k] > mx ? xp[k] : mx;
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += std::exp((double)xp[k] - mx);
    const double lse = mx + std::log(s);
    for (int64_t k = 0; k < K; k++) pp[k] = (float)std::exp((double)xp[k] - lse);
    total += lse - xp[labels[n]];
  }
  *loss = (float)(total / N);
  return SEV_OK;
}

int sev_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale, int64_t N,
                              int64_t K) {
  SEV_CALL_SCOPE();
  const float s = scale / (float)N;
  for (int64_t n = 0; n < N; n++) {
    for (int64_t k = 0; k < K; k++) dlogits[n * K + k] = probs[n * K + k] * s;
    dlogits[n * K + labels[n]] -= s;
  }
  return SEV_OK;
}

// Numerically stable: max(x,0) - x*t + log(1 + exp(-|x|))
int sev_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K) {
  SEV_CALL_SCOPE();
  double total = 0;
  for (int64_t i = 0; i < N * K; i++) {
    const double x = logits[i], t = targets[i];
    total += (x > 0 ? x : 0) - x * t + std::log1p(std::exp(-std::fabs(x)));
  }
  *loss = (float)(total / (double)(N * K));
  return SEV_OK;
}

int sev_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                            int64_t K) {
  SEV_CALL_SCOPE();
  const float s = scale / (float)(N * K);
  for (int64_t i = 0; i < N * K; i++) {
    const float sig = 1.f / (1.f + std::exp(-logits[i]));
    dlogits[i] = (sig - targets[i]) * s;
  }
  return SEV_OK;
}

int sev_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                          float weight_decay) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] + weight_decay * w[i];
    const float vi = momentum * v[i] + gi;
    v[i] = vi;
    w[i] -= lr * vi;
  }
  return SEV_OK;
}

}  // extern "C"
