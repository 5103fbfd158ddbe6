// SGD with momentum and coupled (PyTorch-style) weight decay (kernels/sgd.cu), as
// sev_sgd_momentum_step: g' = g + wd*w; v = momentum*v + g'; w -= lr*v.
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

// Multi-tensor launches cut every tensor into chunks of `chunk` elements, a block per chunk (PyTorch's
// multi_tensor_apply): a fixed share per tensor left the largest weights on a few blocks. chunk_prefix[t] is the
// number of chunks before tensor t (count + 1 entries); chunk c belongs to the last tensor whose prefix is <= c (an
// empty tensor has no chunk: the next one, with the same prefix, wins).
SEV_HD int multi_chunk_tensor(const int64_t* chunk_prefix, int count, int64_t c) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (chunk_prefix[mid] <= c) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

SEV_HD void sgd_momentum_element(float* w, const float* g, float* v, int64_t i, float lr, float momentum,
                                 float weight_decay) {
  const float gi = g[i] + weight_decay * w[i];
  const float vi = momentum * v[i] + gi;
  v[i] = vi;
  w[i] -= lr * vi;
}
