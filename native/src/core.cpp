// Library-level entry points: version, threads, CPU features, error reporting.
#include "sevnet.h"
#include "internal.h"

#include <malloc.h>
#include <omp.h>

#include <string>

namespace {
thread_local std::string g_last_error;

// Activations are allocated and freed every step. Above glibc's default 128 KiB threshold each one
// is a fresh mmap whose pages fault in (and are zeroed by the kernel) on first touch, which cost
// more than the convolutions themselves. Keeping large blocks in the heap lets the next step reuse
// warm pages; the peak footprint is unchanged.
__attribute__((constructor)) void keep_large_blocks_in_heap() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
}
}  // namespace

namespace sev {
int fail(int code, const std::string& msg) {
  g_last_error = msg;
  return code;
}
}  // namespace sev

extern "C" {

const char* sev_version(void) { return "sevnet-native 0.1.0"; }

const char* sev_last_error(void) { return g_last_error.c_str(); }

int sev_set_num_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  return SEV_OK;
}

int sev_get_num_threads(void) { return omp_get_max_threads(); }

const char* sev_cpu_features(void) {
  static std::string s = [] {
    std::string f;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) f += "sse4.2 ";
    if (__builtin_cpu_supports("avx")) f += "avx ";
    if (__builtin_cpu_supports("avx2")) f += "avx2 ";
    if (__builtin_cpu_supports("fma")) f += "fma ";
    if (__builtin_cpu_supports("avx512f")) f += "avx512f ";
    if (__builtin_cpu_supports("avx512bw")) f += "avx512bw ";
    if (__builtin_cpu_supports("avx512vl")) f += "avx512vl ";
    if (__builtin_cpu_supports("avx512bf16")) f += "avx512bf16 ";
    if (__builtin_cpu_supports("avx512vnni")) f += "avx512vnni ";
    if (!f.empty()) f.pop_back();
    return f;
  }();
  return s.c_str();
}

int sev_has_cuda_kernels(void) {
#if SEVNET_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

int sev_sum(const float* x, int64_t n, double* out) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
  for (int64_t i = 0; i < n; i++) s += x[i];
  *out = s;
  return SEV_OK;
}

}  // extern "C"
