// What the GPU path needs, asked of the CUDA runtime (linked statically) and the dynamic loader.
// Built only when nvcc is present; native/src/cuda_probe_stub.cpp answers otherwise.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <string>

namespace {
std::string probe_library(const char* const* names, const char* version_symbol) {
  for (int i = 0; names[i]; i++) {
    void* h = dlopen(names[i], RTLD_LAZY | RTLD_LOCAL);
    if (!h) continue;
    std::string s = std::string(names[i]) + " found";
    if (version_symbol) {
      typedef size_t (*version_fn)();
      version_fn f = (version_fn)dlsym(h, version_symbol);
      if (f) s += ", version " + std::to_string(f());
    }
    dlclose(h);
    return s;
  }
  std::string s = "not found (looked for";
  for (int i = 0; names[i]; i++) s += std::string(" ") + names[i];
  return s + ")";
}
}  // namespace

// Writes a JSON object describing the CUDA environment into buf; returns the number of GPUs usable
// (0 when the GPU path is unavailable, with the reason in "error").
extern "C" int sev_cuda_probe(char* buf, int len) {
  int driver = 0, runtime = 0, count = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  cudaError_t err = cudaGetDeviceCount(&count);
  std::string gpus;
  if (err == cudaSuccess) {
    for (int d = 0; d < count; d++) {
      cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, d) != cudaSuccess) continue;
      char one[512];
      snprintf(one, sizeof one, "%s{\"index\":%d,\"name\":\"%s\",\"cc\":\"%d.%d\",\"memory_mb\":%zu,\"sms\":%d}",
               gpus.empty() ? "" : ",", d, p.name, p.major, p.minor, p.totalGlobalMem >> 20, p.multiProcessorCount);
      gpus += one;
    }
  } else {
    cudaGetLastError();  // clear the sticky error so later probes start clean
    count = 0;
  }
  static const char* cudnn[] = {"libcudnn.so.9", "libcudnn.so", nullptr};
  static const char* cublas[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so", nullptr};
  static const char* libcuda[] = {"libcuda.so.1", "libcuda.so", nullptr};
  std::string out = std::string("{\"built_with_cuda\":true,\"driver_version\":") + std::to_string(driver) +
                    ",\"runtime_version\":" + std::to_string(runtime) + ",\"device_count\":" + std::to_string(count) +
                    ",\"error\":\"" + (err == cudaSuccess ? "" : std::string(cudaGetErrorName(err)) + ": " +
                                                                    cudaGetErrorString(err)) +
                    "\",\"libcuda\":\"" + probe_library(libcuda, nullptr) + "\",\"cudnn\":\"" +
                    probe_library(cudnn, "cudnnGetVersion") + "\",\"cublas\":\"" + probe_library(cublas, nullptr) +
                    "\",\"gpus\":[" + gpus + "]}";
  if (len > 0) {
    strncpy(buf, out.c_str(), (size_t)len - 1);
    buf[len - 1] = 0;
  }
  return count;
}
