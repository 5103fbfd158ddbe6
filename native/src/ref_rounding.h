// The storage types of the plain-loop CPU references (temporal_conv_ndhwc.cpp, grouped_conv_ndhwc.cpp): a 16-bit
// input is widened exactly, the double sum rounded once straight to the output type (not through float, which
// could round twice), so a kernel's result can be judged by its own fp32 accumulation alone.
#pragma once
#include <math.h>
#include <stdint.h>

#include "sev_half.cuh"

namespace sev {
// double -> float rounded toward zero with a sticky last bit ("round to odd"): rounding that float to a format
// of at most 22 significant bits (bf16, fp16) gives the direct rounding of d, ties and carries included
inline float round_to_odd_float(double d) {
  float f = (float)d;
  if ((double)f != d && d == d) {
    uint32_t u = sev_f32_bits(f);
    if (fabs((double)f) > fabs(d)) u -= 1;  // sign-magnitude: one step toward zero
    f = sev_bits_f32(u | 1u);
  }
  return f;
}

struct RefF32 {
  typedef float storage;
  static double load(float v) { return v; }
  static float store(double v) { return (float)v; }
};
struct RefBF16 {
  typedef uint16_t storage;
  static double load(uint16_t v) { return sev_bf16_to_float(v); }
  static uint16_t store(double v) { return sev_float_to_bf16(round_to_odd_float(v)); }
};
struct RefF16 {
  typedef uint16_t storage;
  static double load(uint16_t v) { return sev_half_to_float(v); }
  static uint16_t store(double v) { return sev_float_to_half(round_to_odd_float(v)); }
};
}  // namespace sev
