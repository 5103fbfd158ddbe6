// Loss-scaling glue of fp16 training (bodies in amp.cuh): every gradient checked for infinities and NaNs in
// one launch, and every gradient multiplied by 1/scale in one launch (blockIdx.y = tensor, as sgd.cu's
// sgd_multi_kernel; the pointer and size tables live on the device).
#include "amp.cuh"
#include "sevc_common.cuh"

namespace {
// A block of threads that saw a non-finite element stores 1 into *nonfinite. Every writer stores the same
// value, so a plain store is enough (no atomics); the flag was cleared on the stream before the launch.
__global__ void all_finite_multi_kernel(const float* const* x, const int64_t* sizes, int first, int* nonfinite) {
  const int t = first + blockIdx.y;
  const float* xt = x[t];
  int bad = 0;
  SEVC_FOR_EACH(i, sizes[t]) bad |= nonfinite_element(xt, i);
  if (__syncthreads_or(bad) && threadIdx.x == 0) *nonfinite = 1;
}

__global__ void scale_multi_kernel(float* const* x, const int64_t* sizes, int first, float alpha) {
  const int t = first + blockIdx.y;
  float* xt = x[t];
  SEVC_FOR_EACH(i, sizes[t]) scale_inplace_element(xt, i, alpha);
}

// x extent of the multi-tensor grid: sizes live on the device, so it is fixed and the grid-stride loop
// covers any tensor size (sgd_momentum_step_multi's rule)
int multi_bx(int count) { return count >= 256 ? 32 : 8192 / (count > 0 ? count : 1); }
}  // namespace

extern "C" {

int sevc_all_finite_multi(const float* const* x, const int64_t* sizes, int count, int* nonfinite, void* stream) {
  if (count < 0) return sevc::fail(SEVC_E_ARG, "all_finite_multi: negative tensor count");
  const cudaStream_t st = sevc::as_stream(stream);
  const cudaError_t err = cudaMemsetAsync(nonfinite, 0, sizeof(int), st);
  if (err != cudaSuccess) return sevc::fail(SEVC_E_LAUNCH, "all_finite_multi: clearing the flag", err);
  const int bx = multi_bx(count);
  for (int first = 0; first < count; first += 65535) {  // gridDim.y <= 65535
    const int chunk = count - first < 65535 ? count - first : 65535;
    all_finite_multi_kernel<<<dim3(bx, chunk), sevc::kThreads, 0, st>>>(x, sizes, first, nonfinite);
  }
  return sevc::check_launch("all_finite_multi");
}

int sevc_scale_multi(float* const* x, const int64_t* sizes, int count, float alpha, void* stream) {
  if (count < 0) return sevc::fail(SEVC_E_ARG, "scale_multi: negative tensor count");
  const int bx = multi_bx(count);
  for (int first = 0; first < count; first += 65535) {
    const int chunk = count - first < 65535 ? count - first : 65535;
    scale_multi_kernel<<<dim3(bx, chunk), sevc::kThreads, 0, sevc::as_stream(stream)>>>(x, sizes, first, alpha);
  }
  return sevc::check_launch("scale_multi");
}

}  // extern "C"
