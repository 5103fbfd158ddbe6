// Batch norm over [N, C, S] (kernels/batchnorm.cu), PyTorch semantics as sev_batchnorm_* in
// native/src/batchnorm.cpp: statistics in double, biased variance to normalise, unbiased variance
// in running_var. Reductions run one block per channel: each thread's share over the channel's
// N*S values is a *_partial function below, the block sums the shares (sev_block_sum).
#pragma once
#include <math.h>
#include <stdint.h>

#include "sev_cuda_compat.cuh"

constexpr int BN_THREADS = 512;  // threads of the per-channel reduction blocks (power of two)

// ---- training forward ----
// The channel's N*S values are walked by four interleaved walkers (positions tid + k*nt, k = 0..3,
// each stepping 4*nt), so a thread has four independent loads in flight: one block per channel
// has few threads for the whole GPU, and memory-level parallelism is what keeps it fed.
struct BnWalk4 {
  SevWalk2D w0, w1, w2, w3;
  SEV_HD BnWalk4(int tid, int nt, int64_t S)
      : w0(tid, 4 * (int64_t)nt, S), w1(tid + (int64_t)nt, 4 * (int64_t)nt, S),
        w2(tid + 2 * (int64_t)nt, 4 * (int64_t)nt, S), w3(tid + 3 * (int64_t)nt, 4 * (int64_t)nt, S) {}
  SEV_HD void next() {
    w0.next();
    w1.next();
    w2.next();
    w3.next();
  }
};
// flat index of walker w's element of channel c
SEV_HD int64_t bn_index(const SevWalk2D& w, int64_t c, int64_t C, int64_t S) { return (w.row * C + c) * S + w.s; }

// thread tid's share of sum_x over channel c
SEV_HD double bn_sum_partial(const float* x, int64_t c, int64_t N, int64_t C, int64_t S, int tid, int nt) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  BnWalk4 w(tid, nt, S);
  for (; w.w3.row < N; w.next()) {
    const float v0 = x[bn_index(w.w0, c, C, S)], v1 = x[bn_index(w.w1, c, C, S)];
    const float v2 = x[bn_index(w.w2, c, C, S)], v3 = x[bn_index(w.w3, c, C, S)];
    a0 += v0;
    a1 += v1;
    a2 += v2;
    a3 += v3;
  }
  // the last step: walkers 0..2 may still hold one element each
  if (w.w0.row < N) a0 += x[bn_index(w.w0, c, C, S)];
  if (w.w1.row < N) a1 += x[bn_index(w.w1, c, C, S)];
  if (w.w2.row < N) a2 += x[bn_index(w.w2, c, C, S)];
  return (a0 + a1) + (a2 + a3);
}
// thread tid's share of sum_(x - mean)^2 over channel c (the second pass: no cancellation)
SEV_HD double bn_sqdev_partial(const float* x, int64_t c, double mean, int64_t N, int64_t C, int64_t S, int tid,
                               int nt) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  BnWalk4 w(tid, nt, S);
  for (; w.w3.row < N; w.next()) {
    const double d0 = x[bn_index(w.w0, c, C, S)] - mean, d1 = x[bn_index(w.w1, c, C, S)] - mean;
    const double d2 = x[bn_index(w.w2, c, C, S)] - mean, d3 = x[bn_index(w.w3, c, C, S)] - mean;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  if (w.w0.row < N) { const double d = x[bn_index(w.w0, c, C, S)] - mean; a0 += d * d; }
  if (w.w1.row < N) { const double d = x[bn_index(w.w1, c, C, S)] - mean; a1 += d * d; }
  if (w.w2.row < N) { const double d = x[bn_index(w.w2, c, C, S)] - mean; a2 += d * d; }
  return (a0 + a1) + (a2 + a3);
}
// once per channel: save the statistics for backward, update the running estimates in place
SEV_HD void bn_train_finalize(int64_t c, double mean, double sqdev, int64_t count, float eps, float momentum,
                              float* save_mean, float* save_invstd, float* running_mean, float* running_var) {
  const double var = sqdev / count;  // biased: used to normalise
  const double invstd = 1.0 / sqrt(var + eps);
  save_mean[c] = (float)mean;
  save_invstd[c] = (float)invstd;
  if (running_mean) running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
  if (running_var) running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * var * count / (count - 1));
}
// y = x * a + b per channel, from the saved statistics
SEV_HD void bn_train_coeffs(const float* gamma, const float* beta, const float* save_mean, const float* save_invstd,
                            int64_t c, float* a, float* b) {
  const double invstd = save_invstd[c];
  *a = (float)(gamma ? gamma[c] * invstd : invstd);
  *b = (float)((beta ? beta[c] : 0.0) - (double)save_mean[c] * *a);
}

// ---- eval forward (running statistics), optional fused ReLU ----
SEV_HD void bn_eval_coeffs(const float* gamma, const float* beta, const float* running_mean, const float* running_var,
                           int64_t c, float eps, float* a, float* b) {
  const float invstd = 1.f / sqrtf(running_var[c] + eps);
  *a = (gamma ? gamma[c] : 1.f) * invstd;
  *b = (beta ? beta[c] : 0.f) - running_mean[c] * *a;
}
SEV_HD float bn_apply_element(float x, float a, float b, int relu) {
  const float v = x * a + b;
  return relu && !(v > 0.f) ? 0.f : v;
}

// ---- backward ----
// one element's (g, g*xhat) into a channel's (sum g, sum g*xhat). The fused multiply-add is written out: left to
// contraction, nvcc may fuse `b += g * xhat` in one kernel and not in another, and this build's host compiler (the
// x86-64 baseline: no FMA instructions) does not fuse at all; every BN backward (NCDHW, channels-last scalar and
// 16-byte) calls this, so their partials have one rounding, on the device and on the host alike.
SEV_HD void bn_grad_accumulate(SevDouble2& acc, float g, double xhat) {
  acc.a += g;
  acc.b = fma((double)g, xhat, acc.b);
}
// thread tid's share of (sum_dy, sum_dy*xhat) over channel c
SEV_HD void bn_backward_accumulate(SevDouble2& acc, const float* x, const float* dy, int64_t i, double mean,
                                   double invstd) {
  bn_grad_accumulate(acc, dy[i], (x[i] - mean) * invstd);
}
SEV_HD SevDouble2 bn_backward_partial(const float* x, const float* dy, int64_t c, double mean, double invstd,
                                      int64_t N, int64_t C, int64_t S, int tid, int nt) {
  SevDouble2 a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0};
  BnWalk4 w(tid, nt, S);
  for (; w.w3.row < N; w.next()) {
    bn_backward_accumulate(a0, x, dy, bn_index(w.w0, c, C, S), mean, invstd);
    bn_backward_accumulate(a1, x, dy, bn_index(w.w1, c, C, S), mean, invstd);
    bn_backward_accumulate(a2, x, dy, bn_index(w.w2, c, C, S), mean, invstd);
    bn_backward_accumulate(a3, x, dy, bn_index(w.w3, c, C, S), mean, invstd);
  }
  if (w.w0.row < N) bn_backward_accumulate(a0, x, dy, bn_index(w.w0, c, C, S), mean, invstd);
  if (w.w1.row < N) bn_backward_accumulate(a1, x, dy, bn_index(w.w1, c, C, S), mean, invstd);
  if (w.w2.row < N) bn_backward_accumulate(a2, x, dy, bn_index(w.w2, c, C, S), mean, invstd);
  return (a0 + a1) + (a2 + a3);
}
// dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)), in float as the CPU
struct BnBackwardCoeffs {
  float k, mdy, mdyx, mean, invstd;
};
SEV_HD BnBackwardCoeffs bn_backward_coeffs(const float* gamma, const float* save_mean, const float* save_invstd,
                                           int64_t c, SevDouble2 sums, double count) {
  const double g = gamma ? gamma[c] : 1.0;
  return {(float)(g * save_invstd[c]), (float)(sums.a / count), (float)(sums.b / count), save_mean[c],
          save_invstd[c]};
}
SEV_HD float bn_backward_dx_element(float x, float dy, BnBackwardCoeffs k) {
  const float xhat = (x - k.mean) * k.invstd;
  return k.k * (dy - k.mdy - xhat * k.mdyx);
}
// thread tid's elements of channel c's dx (four at a time, loads first)
SEV_HD void bn_backward_dx_partial(const float* x, const float* dy, float* dx, int64_t c, BnBackwardCoeffs k,
                                   int64_t N, int64_t C, int64_t S, int tid, int nt) {
  BnWalk4 w(tid, nt, S);
  for (; w.w3.row < N; w.next()) {
    const int64_t i0 = bn_index(w.w0, c, C, S), i1 = bn_index(w.w1, c, C, S);
    const int64_t i2 = bn_index(w.w2, c, C, S), i3 = bn_index(w.w3, c, C, S);
    const float x0 = x[i0], x1 = x[i1], x2 = x[i2], x3 = x[i3];
    const float g0 = dy[i0], g1 = dy[i1], g2 = dy[i2], g3 = dy[i3];
    dx[i0] = bn_backward_dx_element(x0, g0, k);
    dx[i1] = bn_backward_dx_element(x1, g1, k);
    dx[i2] = bn_backward_dx_element(x2, g2, k);
    dx[i3] = bn_backward_dx_element(x3, g3, k);
  }
  if (w.w0.row < N) { const int64_t i = bn_index(w.w0, c, C, S); dx[i] = bn_backward_dx_element(x[i], dy[i], k); }
  if (w.w1.row < N) { const int64_t i = bn_index(w.w1, c, C, S); dx[i] = bn_backward_dx_element(x[i], dy[i], k); }
  if (w.w2.row < N) { const int64_t i = bn_index(w.w2, c, C, S); dx[i] = bn_backward_dx_element(x[i], dy[i], k); }
}
