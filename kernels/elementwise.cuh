// Element-wise bodies (kernels/elementwise.cu), shared with the CPU reference where the CPU must
// produce the same bits (the dropout mask) and with the host tests (native/src/kernels_hostrun.cpp).
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

SEV_HD float relu_element(float v) { return v > 0.f ? v : 0.f; }
// the gradient passes where the forward's OUTPUT is positive
SEV_HD float relu_backward_element(float y, float dy) { return y > 0.f ? dy : 0.f; }
SEV_HD float add_relu_element(float a, float b) { return relu_element(a + b); }
// beta == 0: y is not read (it may hold garbage, NaN included)
SEV_HD float axpby_element(float alpha, float x, float beta, const float* y, int64_t i) {
  return beta == 0.f ? alpha * x : alpha * x + beta * y[i];
}
SEV_HD float sigmoid_element(float x) { return 1.f / (1.f + expf(-x)); }
SEV_HD float sigmoid_backward_element(float y, float dy) { return dy * y * (1.f - y); }
// conv epilogue, in place on row nc = n*C + c of [N, C, S]: y[nc, s] += bias[c], then ReLU when relu != 0
SEV_HD void bias_relu_element(float* y, const float* bias, int64_t nc, int64_t s, int64_t C, int64_t S, int relu) {
  const int64_t i = nc * S + s;
  const float v = y[i] + bias[nc % C];
  y[i] = relu ? relu_element(v) : v;
}

// ---- dropout: counter-based, so the mask depends only on (seed, i) — any thread count, CPU or GPU ----
SEV_HD uint64_t sev_splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// keep_scale = 1/(1-p) (0 when p >= 1); returns the mask value of element i: 0 or keep_scale
SEV_HD float dropout_mask_element(uint64_t seed, int64_t i, float p, float keep_scale) {
  const double u = (double)(sev_splitmix64(seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(i + 1))) >> 11) * 0x1.0p-53;
  return u >= p ? keep_scale : 0.f;
}
SEV_HD float dropout_keep_scale(float p) { return p < 1.f ? 1.f / (1.f - p) : 0.f; }
