// bf16 helpers shared by the bf16 GEMM (gemm_bf16.cpp) and the direct convolutions' bf16 path (conv3d.cpp).
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>

#define SEV_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16,avx512vl,avx2,fma")))

namespace sev {
// 16 lanes of pairs: lane l = bf16(lo[l]) in its low half, bf16(hi[l]) in its high half (round to nearest even, as
// VCVTNE2PS2BF16 rounds) — one VDPBF16PS operand whose pairs are (lo, hi), e.g. two k of a GEMM column or two input
// channels of a conv position
SEV_TARGET_BF16 inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  alignas(64) static const uint16_t kInterleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // [lo 0..15, hi 0..15]
  return _mm512_permutexvar_epi16(_mm512_load_si512(kInterleave), both);
}
}  // namespace sev
#endif
