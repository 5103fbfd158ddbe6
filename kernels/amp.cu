// Loss-scaling glue of fp16 training (bodies in amp.cuh): every gradient checked for infinities and NaNs in
// one launch, and every gradient multiplied by 1/scale in one launch (a block per chunk of a tensor, as sgd.cu's
// sgd_multi_kernel: multi_tensor.cuh; the pointer, size and chunk tables live on the device).
#include "amp.cuh"
#include "multi_tensor.cuh"
#include "sevc_common.cuh"

namespace {
// A block of threads that saw a non-finite element stores 1 into *nonfinite. Every writer stores the same
// value, so a plain store is enough (no atomics); the flag was cleared on the stream before the launch.
// every thread of a block runs the same chunks loop (its bound is the block's), so all reach __syncthreads_or
__global__ void all_finite_multi_kernel(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix,
                                        int count, int64_t chunks, int64_t chunk, int* nonfinite) {
  int bad = 0;
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int t = multi_chunk_tensor(chunk_prefix, count, c);
    int64_t begin, end;
    multi_chunk_range(chunk_prefix, t, c, chunk, sizes[t], &begin, &end);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) bad |= nonfinite_element(x[t], i);
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) *nonfinite = 1;
}

__global__ void scale_multi_kernel(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                                   int64_t chunks, int64_t chunk, float alpha) {
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int t = multi_chunk_tensor(chunk_prefix, count, c);
    int64_t begin, end;
    multi_chunk_range(chunk_prefix, t, c, chunk, sizes[t], &begin, &end);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) scale_inplace_element(x[t], i, alpha);
  }
}

// a block per chunk up to the grid's limit; the kernels stride over any more
int multi_blocks(int64_t chunks) { return chunks < 65535 ? (int)chunks : 65535; }
}  // namespace

extern "C" {

int sevc_all_finite_multi(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                          int64_t chunks, int64_t chunk, int* nonfinite, void* stream) {
  if (count < 0 || chunks < 0 || chunk < 1)
    return sevc::fail(SEVC_E_ARG, "all_finite_multi: negative count or chunks, or a chunk below 1");
  const cudaStream_t st = sevc::as_stream(stream);
  const cudaError_t err = cudaMemsetAsync(nonfinite, 0, sizeof(int), st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, "all_finite_multi: clearing the flag", err);
  if (count == 0 || chunks == 0) return SEVC_OK;
  all_finite_multi_kernel<<<multi_blocks(chunks), sevc::kThreads, 0, st>>>(x, sizes, chunk_prefix, count, chunks,
                                                                           chunk, nonfinite);
  return sevc::check_launch("all_finite_multi");
}

int sevc_scale_multi(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count, int64_t chunks,
                     int64_t chunk, float alpha, void* stream) {
  if (count < 0 || chunks < 0 || chunk < 1)
    return sevc::fail(SEVC_E_ARG, "scale_multi: negative count or chunks, or a chunk below 1");
  if (count == 0 || chunks == 0) return SEVC_OK;
  scale_multi_kernel<<<multi_blocks(chunks), sevc::kThreads, 0, sevc::as_stream(stream)>>>(x, sizes, chunk_prefix,
                                                                                           count, chunks, chunk, alpha);
  return sevc::check_launch("scale_multi");
}

}  // extern "C"
