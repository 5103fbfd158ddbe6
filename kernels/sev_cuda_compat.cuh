// Lets one kernel body compile as CUDA device code and as plain C++ for the host tests.
//
// Every kernel in kernels/*.cu keeps its per-element (or per-thread) arithmetic in a SEV_HD function
// of a .cuh header. The device kernel calls it from a grid-stride loop; native/src/kernels_hostrun.cpp
// calls the same function from a host loop over the grid, and the Java tests compare that with the
// CPU reference. Reductions split the same way: a SEV_HD "partial" gives one thread's share, the
// block combines the shares with a tree (sev_block_sum below), and the host emulates that tree with
// sev_tree_sum_host — same shares, same order of additions.
#pragma once
#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define SEV_HD __host__ __device__ __forceinline__
#else
#define SEV_HD inline
#endif

// a*b rounded on its own: keeps nvcc from fusing it with a following add into an FMA, where the
// CPU reference rounds the product first (used where the result must match the CPU bit for bit)
SEV_HD float sev_mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// Two and three accumulators reduced together (batch-norm backward; the temporal conv's three taps).
struct SevDouble2 {
  double a, b;
};
SEV_HD SevDouble2 operator+(SevDouble2 x, SevDouble2 y) { return {x.a + y.a, x.b + y.b}; }
struct SevFloat3 {
  float v0, v1, v2;
};
SEV_HD SevFloat3 operator+(SevFloat3 x, SevFloat3 y) { return {x.v0 + y.v0, x.v1 + y.v1, x.v2 + y.v2}; }

// Walks the flat index j = start, start + step, ... over a [rows, S] plane as (row, s) without a
// division per step: one division up front, then carry s into row. For a block reducing one
// channel over [N, S], start = tid and step = blockDim: consecutive threads read consecutive s.
struct SevWalk2D {
  int64_t row, s, drow, ds, S;
  SEV_HD SevWalk2D(int64_t start, int64_t step, int64_t S_)
      : row(start / S_), s(start % S_), drow(step / S_), ds(step % S_), S(S_) {}
  SEV_HD void next() {
    s += ds;
    row += drow;
    if (s >= S) {
      s -= S;
      row++;
    }
  }
};

// The block tree on the host: v[0..n) with n a power of two, folded by halving strides —
// v[i] += v[i + s] for s = n/2, n/4, ..., 1 — exactly the device's order. Returns the total.
template <typename T>
inline T sev_tree_sum_host(T* v, int n) {
  for (int s = n / 2; s > 0; s >>= 1)
    for (int i = 0; i < s; i++) v[i] = v[i] + v[i + s];
  return v[0];
}

#if defined(__CUDACC__)
// Sum of one value per thread over the block (blockDim.x a power of two, smem holds blockDim.x
// values). Every thread gets the total. The shared array is free again when this returns.
template <typename T>
__device__ T sev_block_sum(T v, T* smem) {
  const int tid = threadIdx.x;
  smem[tid] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) smem[tid] = smem[tid] + smem[tid + s];
    __syncthreads();
  }
  const T total = smem[0];
  __syncthreads();
  return total;
}

// Max over the block (same shape as sev_block_sum); order does not matter for max.
__device__ inline float sev_block_max(float v, float* smem) {
  const int tid = threadIdx.x;
  smem[tid] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) smem[tid] = fmaxf(smem[tid], smem[tid + s]);
    __syncthreads();
  }
  const float m = smem[0];
  __syncthreads();
  return m;
}
#endif
