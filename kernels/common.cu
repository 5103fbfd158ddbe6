// Library-level entry points of libsevnet_cuda.so: availability, runtime version, last error.
#include <cuda_profiler_api.h>
#include <stdio.h>

#include <atomic>
#include <string>

#include "sevc_common.cuh"

namespace {
thread_local std::string g_last_error;
}

int sevc::fail(int code, const char* what, cudaError_t err) {
  g_last_error = what;
  if (err != cudaSuccess) {
    g_last_error += std::string(": ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
    // consumed here: the runtime is shared with the JavaCPP bindings, and a failed call's error (an allocation
    // refused for lack of memory) left as the last error would be reported by the next, unrelated launch check
    (void)cudaGetLastError();
  }
  return code;
}

namespace {
constexpr int kMaxDevices = 64;
std::atomic<bool> g_pool_kept[kMaxDevices];
}  // namespace

cudaError_t sevc::scratch_malloc(void** p, size_t bytes, cudaStream_t st) {
  int dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess && dev >= 0 && dev < kMaxDevices && !g_pool_kept[dev].load()) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    cudaMemPool_t pool = nullptr;
    // not while capturing (the attribute is the pool's, not the stream's, but a capture is no time for setup)
    if (cudaStreamIsCapturing(st, &capture) == cudaSuccess && capture == cudaStreamCaptureStatusNone &&
        cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
      uint64_t keep = UINT64_MAX;
      if (cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep) == cudaSuccess) {
        g_pool_kept[dev].store(true);
      }
    }
    (void)cudaGetLastError();  // a failed query above is not the caller's error
  }
  return cudaMallocAsync(p, bytes, st);
}

int sevc::check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? SEVC_OK : fail(SEVC_E_LAUNCH, what, err);
}

extern "C" int sevc_available(void) { return 1; }

extern "C" const char* sevc_last_error(void) { return g_last_error.c_str(); }

extern "C" int sevc_profiler_range(int start) {
  const cudaError_t err = start ? cudaProfilerStart() : cudaProfilerStop();
  return err == cudaSuccess ? SEVC_OK : sevc::fail(SEVC_E_LAUNCH, start ? "cudaProfilerStart" : "cudaProfilerStop", err);
}

extern "C" int sevc_runtime_version(void) {
  int v = 0;
  const cudaError_t err = cudaRuntimeGetVersion(&v);
  return err == cudaSuccess ? v : sevc::fail(SEVC_E_NO_CUDA, "cudaRuntimeGetVersion", err);
}
