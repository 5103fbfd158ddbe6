// Sum of a float array into a double (kernels/reduce.cu), as sev_sum.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

constexpr int SUM_THREADS = 256;
constexpr int SUM_MAX_BLOCKS = 1024;
SEV_HD int sum_blocks(int64_t n) {
  const int64_t b = (n + SUM_THREADS - 1) / SUM_THREADS;
  return b < SUM_MAX_BLOCKS ? (int)(b < 1 ? 1 : b) : SUM_MAX_BLOCKS;
}
// global thread gtid of gnt: its share of the sum
SEV_HD double sum_partial(const float* x, int64_t n, int64_t gtid, int64_t gnt) {
  double s = 0;
  for (int64_t i = gtid; i < n; i += gnt) s += x[i];
  return s;
}
