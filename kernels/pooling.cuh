// Average pooling 3-d (count_include_pad) and global average pooling (kernels/pooling.cu), as
// sev_avgpool3d_* / sev_global_avgpool_* in native/src/pooling.cpp.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

// The 19-int conv parameter block of sevnet.h, as much of it as pooling reads (Cout = Cin = C).
struct SevPool {
  int N, C, T, H, W, kT, kH, kW, sT, sH, sW, pT, pH, pW, To, Ho, Wo;
};
inline SevPool sev_pool_params(const int* p) {
  return {p[0], p[1], p[2], p[3], p[4], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[16], p[17], p[18]};
}
SEV_HD int64_t pool_out_count(const SevPool& p) { return (int64_t)p.N * p.C * p.To * p.Ho * p.Wo; }
SEV_HD int64_t pool_in_count(const SevPool& p) { return (int64_t)p.N * p.C * p.T * p.H * p.W; }

// Element i of a [outer][a][b][c] tensor as (outer, ia, ib, ic), with 32-bit divisions when the tensor's elements
// count fits in 32 bits (every activation of SEVNet at the batch sizes it trains with). Why: a 64-bit division is a
// software routine of some 70 instructions on a GPU, and the pools' per-element index math was most of their time —
// the channels-last pool backward took 0.45 ms on an H100 for 129 MB, ten times its memory time (2026-11-27 ncu).
struct SevIdx4 {
  int64_t outer;
  int a, b, c;
};
template <typename U>
SEV_HD SevIdx4 sev_split4_as(U i, U A, U B, U C) {
  const U q1 = i / C, q2 = q1 / B, q3 = q2 / A;
  return {(int64_t)q3, (int)(q2 - q3 * A), (int)(q1 - q2 * B), (int)(i - q1 * C)};
}
SEV_HD SevIdx4 sev_split4(int64_t i, int64_t total, int A, int B, int C) {
  return total <= (int64_t)0xffffffffu ? sev_split4_as<uint32_t>((uint32_t)i, A, B, C)
                                       : sev_split4_as<int64_t>(i, A, B, C);
}
// the same for [outer][a][b][d][e] (a channels-last tensor: [N][T][H][W][C]); each size an int, no product of two
// formed (a row of W*C elements may pass INT_MAX)
struct SevIdx5 {
  int64_t outer;
  int a, b, d, e;
};
template <typename U>
SEV_HD SevIdx5 sev_split5_as(U i, U A, U B, U D, U E) {
  const U q1 = i / E, q2 = q1 / D, q3 = q2 / B, q4 = q3 / A;
  return {(int64_t)q4, (int)(q3 - q4 * A), (int)(q2 - q3 * B), (int)(q1 - q2 * D), (int)(i - q1 * E)};
}
SEV_HD SevIdx5 sev_split5(int64_t i, int64_t total, int A, int B, int D, int E) {
  return total <= (int64_t)0xffffffffu ? sev_split5_as<uint32_t>((uint32_t)i, A, B, D, E)
                                       : sev_split5_as<int64_t>(i, A, B, D, E);
}

// output element i of y [N, C, To, Ho, Wo]: the window's mean, padding counted (summed in the CPU's order),
// over x of storage St (sev_half.cuh) widened to fp32 — the fp32 kernel and the 16-bit ones share it
template <class St>
SEV_HD float avgpool3d_window_mean(const typename St::storage* x, const SevPool& p, int64_t i) {
  const SevIdx4 e = sev_split4(i, pool_out_count(p), p.To, p.Ho, p.Wo);
  const int to = e.a, ho = e.b, wo = e.c;
  const int64_t nc = e.outer;
  const typename St::storage* xp = x + nc * p.T * p.H * p.W;
  float s = 0.f;
  for (int kt = 0; kt < p.kT; kt++) {
    const int t = to * p.sT - p.pT + kt;
    if (t < 0 || t >= p.T) continue;
    for (int kh = 0; kh < p.kH; kh++) {
      const int h = ho * p.sH - p.pH + kh;
      if (h < 0 || h >= p.H) continue;
      const typename St::storage* row = xp + ((int64_t)t * p.H + h) * p.W;
      for (int kw = 0; kw < p.kW; kw++) {
        const int w = wo * p.sW - p.pW + kw;
        if (w >= 0 && w < p.W) s += St::load(row[w]);
      }
    }
  }
  return s * (1.f / (float)(p.kT * p.kH * p.kW));
}
SEV_HD float avgpool3d_forward_element(const float* x, const SevPool& p, int64_t i) {
  return avgpool3d_window_mean<SevF32>(x, p, i);
}

// outputs o (one axis) whose window [o*st - pd, o*st - pd + k) holds input position i: [lo, hi]
// a / st for a >= 0: strides 1 and 2 (every pool of SEVNet) without a division, which costs some 20 instructions
SEV_HD int pool_div(int a, int st) { return st == 1 ? a : st == 2 ? a >> 1 : a / st; }
SEV_HD void pool_out_range(int i, int k, int st, int pd, int out, int* lo, int* hi) {
  // o*st <= i + pd  and  o*st > i + pd - k
  const int a = i + pd - k + 1;
  *lo = a <= 0 ? 0 : pool_div(a + st - 1, st);
  const int b = pool_div(i + pd, st);
  *hi = b < out - 1 ? b : out - 1;
}
// input element i of dx [N, C, T, H, W]: gathers dy/k over every window that holds it, in the
// output order (to, ho, wo) — the order the CPU's scatter adds them, so the sums agree bit for bit (the CPU in IEEE
// mode: by default it flushes denormal results);
// over dy of storage St (sev_half.cuh) widened to fp32 — the fp32 kernel and the 16-bit ones share it
template <class St>
SEV_HD float avgpool3d_window_grad(const typename St::storage* dy, const SevPool& p, int64_t i) {
  const SevIdx4 e = sev_split4(i, pool_in_count(p), p.T, p.H, p.W);
  const int t = e.a, h = e.b, w = e.c;
  const int64_t nc = e.outer;
  const float inv = 1.f / (float)(p.kT * p.kH * p.kW);
  const typename St::storage* dyp = dy + nc * p.To * p.Ho * p.Wo;
  int t0, t1, h0, h1, w0, w1;
  pool_out_range(t, p.kT, p.sT, p.pT, p.To, &t0, &t1);
  pool_out_range(h, p.kH, p.sH, p.pH, p.Ho, &h0, &h1);
  pool_out_range(w, p.kW, p.sW, p.pW, p.Wo, &w0, &w1);
  float s = 0.f;
  for (int to = t0; to <= t1; to++)
    for (int ho = h0; ho <= h1; ho++)
      for (int wo = w0; wo <= w1; wo++) s += sev_mul_rn(St::load(dyp[((int64_t)to * p.Ho + ho) * p.Wo + wo]), inv);
  return s;
}
SEV_HD float avgpool3d_backward_element(const float* dy, const SevPool& p, int64_t i) {
  return avgpool3d_window_grad<SevF32>(dy, p, i);
}

// ---- global average pool: [N, C, S] -> [N, C], one block per (n, c) row ----
constexpr int GAP_THREADS = 256;
SEV_HD double global_avgpool_partial(const float* x, int64_t nc, int64_t S, int tid, int nt) {
  const float* xp = x + nc * S;
  double acc = 0;
  for (int64_t i = tid; i < S; i += nt) acc += xp[i];
  return acc;
}
SEV_HD float global_avgpool_finish(double sum, int64_t S) { return (float)(sum / S); }
SEV_HD float global_avgpool_backward_element(const float* dy, int64_t nc, int64_t S) { return dy[nc] / (float)S; }
