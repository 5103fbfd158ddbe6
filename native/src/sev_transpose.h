// The 16 x 16 in-register transpose shared by the GEMMs' packing (gemm.cpp) and the bf16 tile GEMM's transposed
// operand (gemm_bf16.cpp).
#pragma once
#include "sev_simd.h"
#if SEV_X86
#include <immintrin.h>

namespace sev {
// in place: r[i][j] <- r[j][i] (unpack pairs, then 2x2 blocks of pairs, then 128-bit lanes twice)
SEV_TARGET_AVX512 inline void transpose16x16(__m512* r) {
  __m512 t[16];
  for (int j = 0; j < 8; j++) {
    t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
  }
  for (int j = 0; j < 4; j++) {
    r[4 * j + 0] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
    r[4 * j + 1] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
    r[4 * j + 2] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
    r[4 * j + 3] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
  }
  for (int h = 0; h < 2; h++)
    for (int j = 0; j < 4; j++) {
      t[8 * h + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0x88);
      t[8 * h + 4 + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0xDD);
    }
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}
}  // namespace sev
#endif
