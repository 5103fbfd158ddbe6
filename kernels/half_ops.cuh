// 16-bit (bfloat16 / fp16) forms of the inference glue kernels (kernels/half_ops.cu): the conv
// epilogue (bias, residual, ReLU), add/ReLU, count_include_pad average pooling, global average pooling
// (16-bit in, fp32 out), the squeeze-excite channel scale, the 16-bit channel concat, and casts.
//
// Every body is templated on a storage trait of sev_half.cuh (SevBF16, SevF16; SevF32 gives back the
// fp32 arithmetic of elementwise.cuh / pooling.cuh / channels.cuh): it widens its 16-bit loads to fp32,
// does exactly the fp32 arithmetic of the fp32 kernel, in the same order, and rounds ONCE when it stores.
// So "widen the inputs, run the fp32 op, round the output" (what CpuBackend does for 16-bit tensors) gives
// the same bits for every element-wise body here; the host tests (HalfOpsHostRunTest) check that.
//
// dtype codes of the C ABI (sevnet.h, sevnet_cuda.h): SEV_DT_F32 0, SEV_DT_BF16 1, SEV_DT_F16 2.
#pragma once
#include <stdint.h>

#include "pooling.cuh"
#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

#define SEV_DT_F32 0
#define SEV_DT_BF16 1
#define SEV_DT_F16 2

// conv epilogue, in place on row nc = n*C + c of y [N, C, S] (16-bit): v = y + bias[c] (bias fp32, may be
// NULL), then + residual (same storage, may be NULL), then ReLU when relu != 0; one rounding on the store.
// The additions in this order: (y + bias) + residual, as CpuBackend's 16-bit conv3dResidual.
template <class St>
SEV_HD void half_bias_act_element(typename St::storage* y, const float* bias, const typename St::storage* res,
                                  int64_t nc, int64_t s, int64_t C, int64_t S, int relu) {
  const int64_t i = nc * S + s;
  float v = St::load(y[i]);
  if (bias) v = v + bias[nc % C];
  if (res) v = v + St::load(res[i]);
  if (relu) v = v > 0.f ? v : 0.f;
  y[i] = St::store(v);
}

// y = act(a + b) (b may be NULL: y = act(a)); act = ReLU when relu != 0
template <class St>
SEV_HD typename St::storage half_add_act_element(const typename St::storage* a, const typename St::storage* b,
                                                 int64_t i, int relu) {
  float v = St::load(a[i]);
  if (b) v = v + St::load(b[i]);
  if (relu) v = v > 0.f ? v : 0.f;
  return St::store(v);
}

// avgpool3d_forward_element of pooling.cuh over 16-bit x: same window walk, same fp32 sum order, one rounding
template <class St>
SEV_HD typename St::storage half_avgpool3d_forward_element(const typename St::storage* x, const SevPool& p,
                                                           int64_t i) {
  return St::store(avgpool3d_window_mean<St>(x, p, i));
}

// global average pool of 16-bit [N, C, S] into fp32 [N, C]: one thread's share (double), as
// global_avgpool_partial; the block sums the shares and global_avgpool_finish divides
template <class St>
SEV_HD double half_global_avgpool_partial(const typename St::storage* x, int64_t nc, int64_t S, int tid, int nt) {
  const typename St::storage* xp = x + nc * S;
  double acc = 0;
  for (int64_t i = tid; i < S; i += nt) acc += St::load(xp[i]);
  return acc;
}

// squeeze-excite scale: y[n,c,s] = x[n,c,s] * g[n,c], x and y 16-bit, the gate g fp32
template <class St>
SEV_HD void half_channel_scale_element(const typename St::storage* x, const float* g, typename St::storage* y,
                                       int64_t nc, int64_t s, int64_t S) {
  y[nc * S + s] = St::store(St::load(x[nc * S + s]) * g[nc]);
}

// concat of 16-bit channels: a bit copy (no arithmetic), element i of y [N, Ca+Cb, S]
SEV_HD uint16_t half_concat_element(const uint16_t* a, const uint16_t* b, int64_t i, int64_t Ca, int64_t Cb,
                                    int64_t S) {
  const int64_t row = (Ca + Cb) * S, n = i / row, r = i - n * row;
  return r < Ca * S ? a[n * Ca * S + r] : b[n * Cb * S + (r - Ca * S)];
}

// casts: fp32 -> 16-bit rounds to nearest even (sev_half.cuh), 16-bit -> fp32 is exact
template <class St>
SEV_HD typename St::storage half_from_f32_element(const float* x, int64_t i) {
  return St::store(x[i]);
}
template <class St>
SEV_HD float half_to_f32_element(const typename St::storage* x, int64_t i) {
  return St::load(x[i]);
}
