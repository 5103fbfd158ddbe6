// Ops over a list of float32 tensors on the CPU: the loss-scaling glue of fp16 training (is every element finite,
// scale them all in place) and axpby over a list (a backward's leaf gradients). The element tests are amp.cuh's (the CUDA kernels' bodies). One OpenMP region
// over fixed-size chunks of all the tensors together, so many small gradients and one large one split
// alike; each chunk runs a vector loop of the widest ISA this CPU has (sev_simd.h's dispatch).
#include <algorithm>
#include <vector>

#include "amp.cuh"
#include "internal.h"
#include "sev_simd.h"
#include "sevnet.h"

namespace {
using sev::cpu_isa;

constexpr int64_t kChunk = 1 << 16;        // elements per work item
constexpr int64_t kParallelMin = 1 << 15;  // below this many elements in all, one thread

// max over the chunk of |x| as bits (>= SEV_F32_EXP_MASK: an inf or NaN is there); integer max vectorises
SEV_INLINE uint32_t max_abs_bits_body(const float* x, int64_t n) {
  uint32_t m = 0;
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; i++) {
    const uint32_t a = sev_abs_bits(x[i]);
    m = a > m ? a : m;
  }
  return m;
}
SEV_TARGET_AVX512 uint32_t max_abs_bits_avx512(const float* x, int64_t n) { return max_abs_bits_body(x, n); }
SEV_TARGET_AVX2 uint32_t max_abs_bits_avx2(const float* x, int64_t n) { return max_abs_bits_body(x, n); }
uint32_t max_abs_bits_base(const float* x, int64_t n) { return max_abs_bits_body(x, n); }

SEV_INLINE void scale_body(float* x, int64_t n, float alpha) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) scale_inplace_element(x, i, alpha);
}
SEV_TARGET_AVX512 void scale_avx512(float* x, int64_t n, float alpha) { scale_body(x, n, alpha); }
SEV_TARGET_AVX2 void scale_avx2(float* x, int64_t n, float alpha) { scale_body(x, n, alpha); }
void scale_base(float* x, int64_t n, float alpha) { scale_body(x, n, alpha); }

// The chunks of all tensors: first[t] = index of tensor t's first chunk, first[count] = total.
// SEV_OK, or SEV_EINVAL with the reason.
int plan(const void* ptrs, const int64_t* sizes, int count, const char* op, std::vector<int64_t>& first,
         int64_t& elements) {
  if (count < 0) return sev::fail(SEV_EINVAL, std::string(op) + ": negative tensor count");
  if (count > 0 && (ptrs == nullptr || sizes == nullptr))
    return sev::fail(SEV_EINVAL, std::string(op) + ": null pointer or size table");
  const float* const* p = static_cast<const float* const*>(ptrs);
  first.assign((size_t)count + 1, 0);
  elements = 0;
  for (int t = 0; t < count; t++) {
    if (sizes[t] < 0) return sev::fail(SEV_EINVAL, std::string(op) + ": negative size of tensor " + std::to_string(t));
    if (sizes[t] > 0 && p[t] == nullptr)
      return sev::fail(SEV_EINVAL, std::string(op) + ": null pointer of tensor " + std::to_string(t));
    first[t + 1] = first[t] + (sizes[t] + kChunk - 1) / kChunk;
    elements += sizes[t];
  }
  return SEV_OK;
}

// chunk c -> (tensor, offset, length)
inline void locate(const std::vector<int64_t>& first, const int64_t* sizes, int64_t c, int& t, int64_t& off,
                   int64_t& len) {
  t = (int)(std::upper_bound(first.begin(), first.end(), c) - first.begin()) - 1;
  off = (c - first[t]) * kChunk;
  len = std::min(kChunk, sizes[t] - off);
}
}  // namespace

extern "C" {

int sev_all_finite(const float* const* ptrs, const int64_t* sizes, int count) {
  SEV_CALL_SCOPE();
  std::vector<int64_t> first;
  int64_t elements = 0;
  const int rc = plan(ptrs, sizes, count, "all_finite", first, elements);
  if (rc != SEV_OK) return rc;
  const int64_t chunks = first[count];
  const int isa = cpu_isa();
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (elements > kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    int t;
    int64_t off, len;
    locate(first, sizes, c, t, off, len);
    const float* x = ptrs[t] + off;
    const uint32_t m = isa == 2 ? max_abs_bits_avx512(x, len)
                       : isa == 1 ? max_abs_bits_avx2(x, len)
                                  : max_abs_bits_base(x, len);
    bad |= m >= SEV_F32_EXP_MASK ? 1 : 0;
  }
  return bad ? 0 : 1;
}

// The element loops are sev_axpby's own expressions in this library's baseline build (no per-ISA body: an AVX-512
// build could fuse the multiply-add and round differently), so each pair gets the bits sev_axpby gives it.
int sev_axpby_all(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes, int count) {
  SEV_CALL_SCOPE();
  std::vector<int64_t> first;
  int64_t elements = 0;
  int rc = plan(x, sizes, count, "axpby_all", first, elements);
  if (rc == SEV_OK) rc = plan(y, sizes, count, "axpby_all", first, elements);
  if (rc != SEV_OK) return rc;
  const int64_t chunks = first[count];
#pragma omp parallel for schedule(static) if (elements > kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    int t;
    int64_t off, len;
    locate(first, sizes, c, t, off, len);
    const float* xs = x[t] + off;
    float* ys = y[t] + off;
    if (beta == 0.f) {  // y may hold garbage (NaN): not read
#pragma omp simd
      for (int64_t i = 0; i < len; i++) ys[i] = alpha * xs[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < len; i++) ys[i] = alpha * xs[i] + beta * ys[i];
    }
  }
  return SEV_OK;
}

int sev_scale_all(float* const* ptrs, const int64_t* sizes, int count, float alpha) {
  SEV_CALL_SCOPE();
  std::vector<int64_t> first;
  int64_t elements = 0;
  const int rc = plan(ptrs, sizes, count, "scale_all", first, elements);
  if (rc != SEV_OK) return rc;
  const int64_t chunks = first[count];
  const int isa = cpu_isa();
#pragma omp parallel for schedule(static) if (elements > kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    int t;
    int64_t off, len;
    locate(first, sizes, c, t, off, len);
    float* x = ptrs[t] + off;
    if (isa == 2)
      scale_avx512(x, len, alpha);
    else if (isa == 1)
      scale_avx2(x, len, alpha);
    else
      scale_base(x, len, alpha);
  }
  return SEV_OK;
}

}  // extern "C"
