// Temporal 3x1x1 convolution (C -> C, padding 1 in time), NCDHW.
// One output element per thread: the same body runs in the CUDA kernel and, driven by a host loop
// over the grid, in the host tests against the CPU reference (native/src/conv3d.cpp).
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

// y[n, co, t, s] = sum_ci sum_k w[co, ci, k] * x[n, ci, t + k - 1, s]
SEV_HD float temporal_conv3_element(const float* x, const float* w, int64_t idx, int N, int C, int T, int64_t S) {
  const int64_t s = idx % S;
  const int t = (int)((idx / S) % T);
  const int co = (int)((idx / (S * T)) % C);
  const int n = (int)(idx / (S * T * C));
  float acc = 0.f;
  for (int ci = 0; ci < C; ci++) {
    const float* xp = x + ((int64_t)n * C + ci) * T * S + s;
    const float* wp = w + ((int64_t)co * C + ci) * 3;
    // k = 0 reads t-1, k = 2 reads t+1; the zero padding is the skipped taps
    if (t > 0) acc += wp[0] * xp[(int64_t)(t - 1) * S];
    acc += wp[1] * xp[(int64_t)t * S];
    if (t + 1 < T) acc += wp[2] * xp[(int64_t)(t + 1) * S];
  }
  return acc;
}
