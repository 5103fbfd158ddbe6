// Host-side helpers of the CUDA kernels library (libsevnet_cuda.so): launch shapes, the last-error
// message and the launch check. CUDA only (not part of the host-run bodies).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "sevnet_cuda.h"

namespace sevc {
// Records the thread's last error message (read back with sevc_last_error) and returns code.
int fail(int code, const char* what, cudaError_t err = cudaSuccess);

// After enqueueing: SEVC_OK, or SEVC_E_LAUNCH with the CUDA error named in sevc_last_error().
int check_launch(const char* what);

// Stream-ordered scratch from the device's default memory pool (cudaMallocAsync; freed with cudaFreeAsync on the
// same stream). The first call on a device raises the pool's release threshold, so the pool keeps its memory across
// synchronisations instead of unmapping it at every step's sync and mapping it again at the next step's first call
// (what it keeps is bounded by the largest scratch in flight: tens of MB, the temporal dw partials at most 64 MB).
cudaError_t scratch_malloc(void** p, size_t bytes, cudaStream_t st);

// After a split-K pass's launches: frees its scratch on the stream and returns rc (the launches' check), or the
// free's failure when the launches were fine.
inline int free_scratch(void* p, cudaStream_t st, int rc, const char* what) {
  const cudaError_t err = cudaFreeAsync(p, st);
  if (rc == SEVC_OK && err != cudaSuccess) return fail(SEVC_E_LAUNCH, what, err);
  return rc;
}

constexpr int kThreads = 256;        // element-wise blocks
constexpr int64_t kMaxBlocks = 8192;  // grid-stride loops: enough blocks to fill any GPU a few times over

// blocks for a grid-stride loop over n elements (n > 0)
inline int blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return (int)(b < kMaxBlocks ? b : kMaxBlocks);
}
// 2-D grid over [rows, cols]: x strides the columns, y the rows (at most 65535 blocks in y)
inline dim3 rows_grid(int64_t rows, int64_t cols, int threads = kThreads) {
  const int64_t bx = (cols + threads - 1) / threads;
  const int64_t x = bx < 1024 ? bx : 1024;
  const int64_t y = rows < 65535 ? rows : 65535;
  return dim3((unsigned)(x < 1 ? 1 : x), (unsigned)(y < 1 ? 1 : y), 1);
}
// one block per item of a reduction (grid-stride over items beyond the limit)
inline int item_blocks(int64_t items) { return (int)(items < (1 << 30) ? items : (1 << 30)); }

inline cudaStream_t as_stream(void* s) { return (cudaStream_t)s; }
}  // namespace sevc

// grid-stride loops, 64-bit indices
#define SEVC_FOR_EACH(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)
#define SEVC_FOR_ROWS(r, rows) for (int64_t r = blockIdx.y; r < (rows); r += gridDim.y)
#define SEVC_FOR_BLOCKS(b, items) for (int64_t b = blockIdx.x; b < (items); b += gridDim.x)
