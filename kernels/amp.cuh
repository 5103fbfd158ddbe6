// Loss-scaling glue of fp16 training (kernels/amp.cu): the non-finite check and the in-place unscale of
// every gradient, one launch each over all tensors (blockIdx.y = tensor, as sgd_multi_kernel).
// The CPU ops sev_all_finite / sev_scale_all (native/src/amp.cpp) use the same element tests.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"
#include "sev_half.cuh"

// |x| as bits: non-finite (+-inf, any NaN) exactly when this is >= 0x7f800000 (exponent all ones).
// Integer only: no floating-point compare a fast-math flag could fold away, and it vectorises as a max.
#define SEV_F32_EXP_MASK 0x7f800000u
SEV_HD uint32_t sev_abs_bits(float x) { return sev_f32_bits(x) & 0x7fffffffu; }

// 1 when x[i] is an infinity or a NaN, else 0
SEV_HD int nonfinite_element(const float* x, int64_t i) { return sev_abs_bits(x[i]) >= SEV_F32_EXP_MASK ? 1 : 0; }

// in place x[i] *= alpha, one rounding: bit for bit sev_axpby(alpha, x, 0, x) and sev_scale(x, alpha, x) (the CPU
// kernels in IEEE mode: by default they flush denormal results, which the GPU does not)
SEV_HD void scale_inplace_element(float* x, int64_t i, float alpha) { x[i] = alpha * x[i]; }
