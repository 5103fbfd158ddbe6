// 16-bit (bfloat16 / fp16) forms of the inference glue kernels (kernels/half_ops.cu): the conv
// epilogue (bias, residual, ReLU), add/ReLU, count_include_pad average pooling, global average pooling
// (16-bit in, fp32 out), the squeeze-excite channel scale, the 16-bit channel concat, and casts.
//
// Every body is templated on a storage trait of sev_half.cuh (SevBF16, SevF16; SevF32 gives back the
// fp32 arithmetic of elementwise.cuh / pooling.cuh / channels.cuh): it widens its 16-bit loads to fp32,
// does exactly the fp32 arithmetic of the fp32 kernel, in the same order, and rounds ONCE when it stores.
// So "widen the inputs, run the fp32 op, round the output" (what CpuBackend does for 16-bit tensors) gives
// the same bits for every element-wise body here; the host tests (HalfOpsHostRunTest) check that, with the CPU
// kernels in IEEE mode (by default they flush denormal results, which the GPU does not).
//
// dtype codes of the C ABI: SEV_DT_F32 0, SEV_DT_BF16 1, SEV_DT_F16 2 (sev_half.cuh).
#pragma once
#include <stdint.h>

#include "batchnorm.cuh"
#include "channels.cuh"
#include "elementwise.cuh"
#include "pooling.cuh"
#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

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

// ================================================================ 16-bit training glue (mixed precision)
// The gradient-side ops autocast training reaches, same rules as above: 16-bit loads widened exactly, the fp32
// kernel's arithmetic in its order, one rounding per 16-bit store; fp32 operands (SE gate g, dg) stay fp32.
// a + b (the residual add) is half_add_act_element with relu = 0; the concat is half_concat_element.

// ReLU backward: dx = dy where the stored 16-bit forward output y > 0, else +0 (relu_backward_element); dy passes
// through its widening and rounding unchanged (a NaN dy stays NaN, quieted), so dx is dy's bits or +0
template <class St>
SEV_HD typename St::storage half_relu_backward_element(const typename St::storage* y, const typename St::storage* dy,
                                                       int64_t i) {
  return St::store(relu_backward_element(St::load(y[i]), St::load(dy[i])));
}

// in place y = alpha * x + beta * y (gradient accumulation), the expression of axpby_element: beta == 0 does not
// read y (it may hold garbage, NaN included); each product rounded on its own (sev_mul_rn: no FMA on the device,
// as the CPU, which has none), then the sum, then one rounding to 16 bits
template <class St>
SEV_HD typename St::storage half_axpby_element(float alpha, const typename St::storage* x, float beta,
                                               const typename St::storage* y, int64_t i) {
  const float ax = sev_mul_rn(alpha, St::load(x[i]));
  return St::store(beta == 0.f ? ax : ax + sev_mul_rn(beta, St::load(y[i])));
}

// count_include_pad average pool backward: input element i of dx from 16-bit dy, the fp32 kernel's gather
// (avgpool3d_window_grad of pooling.cuh: the CPU scatter's order), one rounding
template <class St>
SEV_HD typename St::storage half_avgpool3d_backward_element(const typename St::storage* dy, const SevPool& p,
                                                            int64_t i) {
  return St::store(avgpool3d_window_grad<St>(dy, p, i));
}

// batch norm with the running statistics (eval form; a 16-bit conv -> BN in evaluation): row nc's fp32
// coefficients a, b from bn_eval_coeffs (batchnorm.cuh), y = act(x * a + b) (bn_apply_element) on the widened x,
// one rounding
template <class St>
SEV_HD void half_bn_eval_element(const typename St::storage* x, typename St::storage* y, int64_t i, float a, float b,
                                 int relu) {
  y[i] = St::store(bn_apply_element(St::load(x[i]), a, b, relu));
}

// split of 16-bit channels: split_element<uint16_t> of channels.cuh (a bit copy).
// squeeze-excite backward: channel_scale_backward_partial_t<St> of channels.cuh (dx 16-bit, dg fp32 in double).
// ================================================================ end of the 16-bit training glue
