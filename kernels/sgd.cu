// SGD with momentum (body in sgd.cuh): one tensor, or every parameter in one launch.
#include "sevc_common.cuh"
#include "sgd.cuh"

namespace {
__global__ void sgd_kernel(float* w, const float* g, float* v, int64_t n,
                           float lr, float momentum, float weight_decay) {
  SEVC_FOR_EACH(i, n) sgd_momentum_element(w, g, v, i, lr, momentum, weight_decay);
}
// a block per chunk of one tensor (grid-stride over the chunks), threads over the chunk's elements
__global__ void sgd_multi_kernel(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                 const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk, float lr,
                                 float momentum, float weight_decay) {
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int t = multi_chunk_tensor(chunk_prefix, count, c);
    int64_t begin, end;
    multi_chunk_range(chunk_prefix, t, c, chunk, sizes[t], &begin, &end);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
      sgd_momentum_element(w[t], g[t], v[t], i, lr, momentum, weight_decay);
  }
}
}  // namespace

extern "C" {

int sevc_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                           float weight_decay, void* stream) {
  if (n < 0) return sevc::fail(SEVC_E_ARG, "sgd_momentum_step: negative element count");
  if (n == 0) return SEVC_OK;
  sgd_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(w, g, v, n, lr, momentum,
                                                                                 weight_decay);
  return sevc::check_launch("sgd_momentum_step");
}

int sevc_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                 const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk, float lr,
                                 float momentum, float weight_decay, void* stream) {
  if (count < 0 || chunks < 0 || chunk < 1)
    return sevc::fail(SEVC_E_ARG, "sgd_momentum_step_multi: negative count or chunks, or a chunk below 1");
  if (count == 0 || chunks == 0) return SEVC_OK;
  const int blocks = chunks < 65535 ? (int)chunks : 65535;  // the kernel strides over any more
  sgd_multi_kernel<<<blocks, sevc::kThreads, 0, sevc::as_stream(stream)>>>(w, g, v, sizes, chunk_prefix, count, chunks,
                                                                           chunk, lr, momentum, weight_decay);
  return sevc::check_launch("sgd_momentum_step_multi");
}

}  // extern "C"
