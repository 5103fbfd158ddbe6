// CPU-only builds (no nvcc at build time): the probe says so.
#include <cstring>

#include "sevnet.h"

#if !SEVNET_WITH_CUDA
extern "C" int sev_cuda_probe(char* buf, int len) {
  const char* s =
      "{\"built_with_cuda\":false,\"device_count\":0,\"error\":\"this native library was built without nvcc: "
      "no CUDA kernels\",\"gpus\":[]}";
  if (len > 0) {
    std::strncpy(buf, s, (size_t)len - 1);
    buf[len - 1] = 0;
  }
  return 0;
}
#endif
