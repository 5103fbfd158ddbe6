// 16-bit storage formats shared by the kernels, their host-run drivers and the CPU references:
// bfloat16 and IEEE binary16 held as raw uint16_t bits, converted with integer arithmetic on the host.
//
// Why bit arithmetic and not cuda_bf16.h / cuda_fp16.h: the same function must give the same bits on
// the host (g++, the host-run tests, no CUDA headers) and on the device; round-to-nearest-even on
// integers is what __float2bfloat16_rn / __float2half_rn do, so results match the intrinsics, and the
// Java side (dev.sevnet.tensor.Half) implements the same rules. On the device fp16 uses the cvt
// instructions (the integer fp16 code is three times as many instructions, with branches; bf16's is a
// shift and an add either way); CudaHalfInferenceTest checks every pattern against the host. Compute stays fp32: a kernel widens its
// 16-bit loads, accumulates in fp32, and rounds once when it stores.
#pragma once
#include <stdint.h>
#include <string.h>

#include "sev_cuda_compat.cuh"

SEV_HD uint32_t sev_f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}
SEV_HD float sev_bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

SEV_HD float sev_bf16_to_float(uint16_t b) { return sev_bits_f32((uint32_t)b << 16); }

// round to nearest, ties to even; NaN stays a (quiet) NaN, overflow rounds to infinity as it should
SEV_HD uint16_t sev_float_to_bf16(float f) {
  const uint32_t x = sev_f32_bits(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0) return (uint16_t)((x >> 16) | 0x40u);
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

SEV_HD float sev_half_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
  // one cvt instead of the branchy integer decode below (3x the instructions: it made the fp16 BN backward
  // slower than fp32 on the H200); widening is exact, so the bits are the same for every non-NaN input
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  const uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
  const uint32_t exp = ((uint32_t)h >> 10) & 0x1fu, mant = (uint32_t)h & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24 is exact in fp32
    const float v = (float)mant * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 0x1f) return sev_bits_f32(sign | 0x7f800000u | (mant << 13));
  return sev_bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
#endif
}

// round to nearest, ties to even, with subnormals; beyond 65504 (after rounding) it is infinity
SEV_HD uint16_t sev_float_to_half(float f) {
#if defined(__CUDA_ARCH__)
  // cvt.rn is IEEE round-to-nearest-even with subnormals, the rule the integer code below implements; only a
  // NaN's payload may differ (the hardware gives its canonical NaN)
  uint16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  const uint32_t x = sev_f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int fexp = (int)((x >> 23) & 0xffu);
  uint32_t mant = x & 0x7fffffu;
  if (fexp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int exp = fexp - 127 + 15;
  if (exp >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // a carry into the exponent is correct
  return (uint16_t)h;
#endif
}

// dtype codes of the C ABI (sevnet.h, sevnet_cuda.h; CudnnTypes.kernelCode on the Java side)
#define SEV_DT_F32 0
#define SEV_DT_BF16 1
#define SEV_DT_F16 2

// The storage types a kernel template is instantiated for: load widens to fp32, store rounds once.
struct SevF32 {
  typedef float storage;
  static SEV_HD float load(float v) { return v; }
  static SEV_HD float store(float v) { return v; }
};
struct SevBF16 {
  typedef uint16_t storage;
  static SEV_HD float load(uint16_t v) { return sev_bf16_to_float(v); }
  static SEV_HD uint16_t store(float v) { return sev_float_to_bf16(v); }
};
struct SevF16 {
  typedef uint16_t storage;
  static SEV_HD float load(uint16_t v) { return sev_half_to_float(v); }
  static SEV_HD uint16_t store(float v) { return sev_float_to_half(v); }
};

// 16 bytes of one storage type (4 fp32, 8 bf16/fp16): the unit of the kernels' vector loads and stores. On the device
// one 128-bit access (the pointer 16-byte aligned; loads through the read-only cache: the data must not be written
// by the same kernel), on the host a memcpy.
template <class S>
struct alignas(16) SevVec16 {
  S e[16 / sizeof(S)];
};
template <class S>
SEV_HD SevVec16<S> sev_load16(const S* p) {
  SevVec16<S> v;
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<uint4*>(&v) = __ldg(reinterpret_cast<const uint4*>(p));
#else
  memcpy(&v, p, 16);
#endif
  return v;
}
template <class S>
SEV_HD void sev_store16(S* p, const SevVec16<S>& v) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(&v);
#else
  memcpy(p, &v, 16);
#endif
}
