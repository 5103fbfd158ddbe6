// Memory-bound element-wise ops. Plain loops: GCC vectorizes them; OpenMP splits large arrays.
#include <cmath>
#include <cstring>

#include "elementwise.cuh"
#include "internal.h"
#include "sevnet.h"

namespace {
// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
}

extern "C" {

int sev_relu_forward(const float* x, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.f ? x[i] : 0.f;
  return SEV_OK;
}

int sev_relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    // load dy unconditionally: a load under the condition kept GCC from vectorizing (it was a
    // scalar compare-and-branch loop, 13% of a training step)
    const float g = dy[i];
    dx[i] = y[i] > 0.f ? g : 0.f;
  }
  return SEV_OK;
}

int sev_add(const float* a, const float* b, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
  return SEV_OK;
}

int sev_add_relu(const float* a, const float* b, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    float v = a[i] + b[i];
    y[i] = v > 0.f ? v : 0.f;
  }
  return SEV_OK;
}

int sev_axpby(float alpha, const float* x, float beta, float* y, int64_t n) {
  SEV_CALL_SCOPE();
  if (beta == 0.f) {  // y may hold garbage (NaN) when beta is 0: do not read it
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
  } else {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta * y[i];
  }
  return SEV_OK;
}

int sev_scale(const float* x, float alpha, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
  return SEV_OK;
}

int sev_fill(float* y, float value, int64_t n) {
  SEV_CALL_SCOPE();
  if (value == 0.f && !std::signbit(value)) {  // memset writes +0 only: -0 takes the loop
    std::memset(y, 0, sizeof(float) * n);
    return SEV_OK;
  }
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = value;
  return SEV_OK;
}

int sev_mul(const float* a, const float* b, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i];
  return SEV_OK;
}

int sev_sigmoid_forward(const float* x, float* y, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + std::exp(-x[i]));
  return SEV_OK;
}

int sev_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  SEV_CALL_SCOPE();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.f - y[i]);
  return SEV_OK;
}

// Counter-based RNG (splitmix64 of seed and index, kernels/elementwise.cuh — the CUDA kernel uses the
// same function): the mask depends only on (seed, i), so the result is the same whatever the thread
// count, on the CPU and on the GPU.
int sev_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed) {
  SEV_CALL_SCOPE();
  const float keep_scale = dropout_keep_scale(p);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    const float m = dropout_mask_element(seed, i, p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
  return SEV_OK;
}

int sev_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; n++) {
    std::memcpy(y + n * (Ca + Cb) * S, a + n * Ca * S, sizeof(float) * Ca * S);
    std::memcpy(y + (n * (Ca + Cb) + Ca) * S, b + n * Cb * S, sizeof(float) * Cb * S);
  }
  return SEV_OK;
}

int sev_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; n++) {
    std::memcpy(a + n * Ca * S, y + n * (Ca + Cb) * S, sizeof(float) * Ca * S);
    std::memcpy(b + n * Cb * S, y + (n * (Ca + Cb) + Ca) * S, sizeof(float) * Cb * S);
  }
  return SEV_OK;
}

int sev_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float s = g[nc];
    const float* xp = x + nc * S;
    float* yp = y + nc * S;
#pragma omp simd
    for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * s;
  }
  return SEV_OK;
}

int sev_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                               int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float s = g[nc];
    const float* xp = x + nc * S;
    const float* dyp = dy + nc * S;
    float* dxp = dx + nc * S;
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < S; i++) {
      dxp[i] = dyp[i] * s;
      acc += (double)dyp[i] * xp[i];
    }
    dg[nc] = (float)acc;
  }
  return SEV_OK;
}

}  // extern "C"
