// Element-wise bodies (kernels/elementwise.cu), shared with the CPU reference where the CPU must
// produce the same bits (the dropout mask) and with the host tests (native/src/kernels_hostrun.cpp).
#pragma once
#include <stdint.h>

#include "multi_tensor.cuh"
#include "sev_cuda_compat.cuh"

SEV_HD float relu_element(float v) { return v > 0.f ? v : 0.f; }
// the gradient passes where the forward's OUTPUT is positive
SEV_HD float relu_backward_element(float y, float dy) { return y > 0.f ? dy : 0.f; }
SEV_HD float add_relu_element(float a, float b) { return relu_element(a + b); }
// beta == 0: y is not read (it may hold garbage, NaN included)
SEV_HD float axpby_element(float alpha, float x, float beta, const float* y, int64_t i) {
  return beta == 0.f ? alpha * x : alpha * x + beta * y[i];
}

// ---- axpby over a list of tensors (the leaves' gradient accumulation of a backward: one launch for ~160
// parameters instead of one each). The list travels in the kernel's parameters — nothing to stage on the device, so
// a CUDA graph captures it by value — in batches of at most AXPBY_LIST_MAX tensors (a 4 KB parameter limit), each
// tensor cut into chunks of AXPBY_LIST_CHUNK elements, a block per chunk (multi_tensor.cuh's prefix search).
#define AXPBY_LIST_MAX 64
#define AXPBY_LIST_CHUNK 16384
struct AxpbyList {
  const float* x[AXPBY_LIST_MAX];
  float* y[AXPBY_LIST_MAX];
  int64_t size[AXPBY_LIST_MAX];
  int64_t prefix[AXPBY_LIST_MAX + 1];  // chunks before tensor t of the batch; prefix[count]: the batch's chunks
  int count;
};
// The batch of tensors [first, first + count) of the caller's host arrays, at most AXPBY_LIST_MAX of them
inline AxpbyList axpby_list_batch(const float* const* x, float* const* y, const int64_t* sizes, int first, int count) {
  AxpbyList L;
  L.count = count - first < AXPBY_LIST_MAX ? count - first : AXPBY_LIST_MAX;
  L.prefix[0] = 0;
  for (int t = 0; t < L.count; t++) {
    L.x[t] = x[first + t];
    L.y[t] = y[first + t];
    L.size[t] = sizes[first + t];
    L.prefix[t + 1] = L.prefix[t] + (L.size[t] + AXPBY_LIST_CHUNK - 1) / AXPBY_LIST_CHUNK;
  }
  return L;
}
// The elements [begin, end) of chunk c of a batch: tensor *t
SEV_HD void axpby_list_chunk(const AxpbyList& L, int64_t c, int* t, int64_t* begin, int64_t* end) {
  *t = multi_chunk_tensor(L.prefix, L.count, c);
  multi_chunk_range(L.prefix, *t, c, AXPBY_LIST_CHUNK, L.size[*t], begin, end);
}

SEV_HD float sigmoid_element(float x) { return 1.f / (1.f + expf(-x)); }
SEV_HD float sigmoid_backward_element(float y, float dy) { return dy * y * (1.f - y); }
// conv epilogue, in place on row nc = n*C + c of [N, C, S]: y[nc, s] += bias[c], then ReLU when relu != 0
SEV_HD void bias_relu_element(float* y, const float* bias, int64_t nc, int64_t s, int64_t C, int64_t S, int relu) {
  const int64_t i = nc * S + s;
  const float v = y[i] + bias[nc % C];
  y[i] = relu ? relu_element(v) : v;
}

// ---- dropout: counter-based, so the mask depends only on (seed, i) — any thread count, CPU or GPU ----
SEV_HD uint64_t sev_splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// keep_scale = 1/(1-p) (0 when p >= 1); returns the mask value of element i: 0 or keep_scale
SEV_HD float dropout_mask_element(uint64_t seed, int64_t i, float p, float keep_scale) {
  const double u = (double)(sev_splitmix64(seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(i + 1))) >> 11) * 0x1.0p-53;
  return u >= p ? keep_scale : 0.f;
}
SEV_HD float dropout_keep_scale(float p) { return p < 1.f ? 1.f / (1.f - p) : 0.f; }
