// Channel concat / split / scale of [N, C, S] tensors (kernels/channels.cu).
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

// element i of y = [N, Ca+Cb, S]: from a [N, Ca, S] or b [N, Cb, S]
SEV_HD float concat_element(const float* a, const float* b, int64_t i, int64_t Ca, int64_t Cb, int64_t S) {
  const int64_t row = (Ca + Cb) * S, n = i / row, r = i - n * row;
  return r < Ca * S ? a[n * Ca * S + r] : b[n * Cb * S + (r - Ca * S)];
}
// element i of y goes to a or b (T: float, or uint16_t for the 16-bit split, a bit copy)
template <typename T>
SEV_HD void split_element(const T* y, T* a, T* b, int64_t i, int64_t Ca, int64_t Cb, int64_t S) {
  const int64_t row = (Ca + Cb) * S, n = i / row, r = i - n * row;
  if (r < Ca * S)
    a[n * Ca * S + r] = y[i];
  else
    b[n * Cb * S + (r - Ca * S)] = y[i];
}
// y[n,c,s] = x[n,c,s] * g[n,c], on row nc = n*C + c
SEV_HD void channel_scale_element(const float* x, const float* g, float* y, int64_t nc, int64_t s, int64_t S) {
  y[nc * S + s] = x[nc * S + s] * g[nc];
}

// Backward, one block per (n, c) row of S values: thread tid of nt writes dx = dy * g for its
// elements and returns its share of dg[n,c] = sum_s dy * x (double, as the CPU). x, dy, dx of storage
// St (sev_half.cuh): SevF32 is the fp32 kernel; SevBF16 / SevF16 widen x and dy, round dx once (the
// gate g and dg stay fp32; a product of two widened values is exact in double, as in fp32)
template <class St>
SEV_HD double channel_scale_backward_partial_t(const typename St::storage* x, const float* g,
                                               const typename St::storage* dy, typename St::storage* dx, int64_t nc,
                                               int64_t S, int tid, int nt) {
  const float s = g[nc];
  const typename St::storage* xp = x + nc * S;
  const typename St::storage* dyp = dy + nc * S;
  typename St::storage* dxp = dx + nc * S;
  double acc = 0;
  for (int64_t i = tid; i < S; i += nt) {
    const float d = St::load(dyp[i]);
    dxp[i] = St::store(d * s);
    acc += (double)d * St::load(xp[i]);
  }
  return acc;
}
SEV_HD double channel_scale_backward_partial(const float* x, const float* g, const float* dy, float* dx, int64_t nc,
                                             int64_t S, int tid, int nt) {
  return channel_scale_backward_partial_t<SevF32>(x, g, dy, dx, nc, S, tid, nt);
}
constexpr int CHANNEL_SCALE_THREADS = 256;
