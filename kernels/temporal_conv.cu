// CUDA temporal 3x1x1 convolution, forward. Body shared with the host tests: temporal_conv.cuh.
#include <cuda_runtime.h>

#include "temporal_conv.cuh"

namespace {
__global__ void temporal_conv3_forward_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                              float* __restrict__ y, int N, int C, int T, int64_t S) {
  const int64_t total = (int64_t)N * C * T * S;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = temporal_conv3_element(x, w, i, N, C, T, S);
}
}  // namespace

extern "C" int sev_cuda_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T,
                                               int64_t S, void* stream) {
  const int64_t total = (int64_t)N * C * T * S;
  const int threads = 256;
  const int64_t blocks64 = (total + threads - 1) / threads;
  const int blocks = blocks64 > 65535 * 8 ? 65535 * 8 : (int)blocks64;
  temporal_conv3_forward_kernel<<<blocks, threads, 0, (cudaStream_t)stream>>>(x, w, y, N, C, T, S);
  return cudaGetLastError() == cudaSuccess ? 0 : -3;
}
