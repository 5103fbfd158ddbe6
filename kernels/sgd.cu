// SGD with momentum (body in sgd.cuh): one tensor, or every parameter in one launch.
#include "sevc_common.cuh"
#include "sgd.cuh"

namespace {
__global__ void sgd_kernel(float* w, const float* g, float* v, int64_t n,
                           float lr, float momentum, float weight_decay) {
  SEVC_FOR_EACH(i, n) sgd_momentum_element(w, g, v, i, lr, momentum, weight_decay);
}
// blockIdx.y picks the tensor (first + blockIdx.y), x strides over its elements
__global__ void sgd_multi_kernel(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                 int first, float lr, float momentum, float weight_decay) {
  const int t = first + blockIdx.y;
  float* wt = w[t];
  const float* gt = g[t];
  float* vt = v[t];
  SEVC_FOR_EACH(i, sizes[t]) sgd_momentum_element(wt, gt, vt, i, lr, momentum, weight_decay);
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
                                 int count, float lr, float momentum, float weight_decay, void* stream) {
  if (count < 0) return sevc::fail(SEVC_E_ARG, "sgd_momentum_step_multi: negative tensor count");
  // sizes live on the device: the x extent is fixed, the grid-stride loop covers any tensor size
  const int bx = count >= 256 ? 32 : 8192 / (count > 0 ? count : 1);
  for (int first = 0; first < count; first += 65535) {  // gridDim.y <= 65535
    const int chunk = count - first < 65535 ? count - first : 65535;
    sgd_multi_kernel<<<dim3(bx, chunk), sevc::kThreads, 0, sevc::as_stream(stream)>>>(w, g, v, sizes, first, lr,
                                                                                       momentum, weight_decay);
  }
  return sevc::check_launch("sgd_momentum_step_multi");
}

}  // extern "C"
