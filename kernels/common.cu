// Library-level entry points of libsevnet_cuda.so: availability, runtime version, last error.
#include <stdio.h>

#include <string>

#include "sevc_common.cuh"

namespace {
thread_local std::string g_last_error;
}

int sevc::fail(int code, const char* what, cudaError_t err) {
  g_last_error = what;
  if (err != cudaSuccess) g_last_error += std::string(": ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  return code;
}

int sevc::check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? SEVC_OK : fail(SEVC_E_LAUNCH, what, err);
}

extern "C" int sevc_available(void) { return 1; }

extern "C" const char* sevc_last_error(void) { return g_last_error.c_str(); }

extern "C" int sevc_runtime_version(void) {
  int v = 0;
  const cudaError_t err = cudaRuntimeGetVersion(&v);
  return err == cudaSuccess ? v : sevc::fail(SEVC_E_NO_CUDA, "cudaRuntimeGetVersion", err);
}
