// Host drivers for the CUDA kernels' bodies: a loop over the kernel's grid calling the same
// __host__ __device__ function, so the tests check the kernels' arithmetic without a GPU.
#include "internal.h"
#include "sevnet.h"
#include "temporal_conv.cuh"

extern "C" int sev_hostrun_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T,
                                                  int64_t S) {
  const int64_t total = (int64_t)N * C * T * S;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) y[i] = temporal_conv3_element(x, w, i, N, C, T, S);
  return SEV_OK;
}
