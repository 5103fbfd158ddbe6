// Sum of a float array into a device double (body in reduce.cuh): block partial sums in double,
// combined with one atomicAdd per block.
#include "reduce.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void sum_kernel(const float* __restrict__ x, int64_t n, double* out) {
  __shared__ double smem[SUM_THREADS];
  const int64_t gtid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  const double part = sev_block_sum(sum_partial(x, n, gtid, (int64_t)gridDim.x * blockDim.x), smem);
  if (threadIdx.x == 0) atomicAdd(out, part);
}
}  // namespace

extern "C" int sevc_sum(const float* x, int64_t n, double* out, void* stream) {
  if (n < 0) return sevc::fail(SEVC_E_ARG, "sum: negative element count");
  const cudaStream_t st = sevc::as_stream(stream);
  cudaError_t err = cudaMemsetAsync(out, 0, sizeof(double), st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, "sum: clearing the result", err);
  if (n == 0) return SEVC_OK;
  sum_kernel<<<sum_blocks(n), SUM_THREADS, 0, st>>>(x, n, out);
  return sevc::check_launch("sum");
}
