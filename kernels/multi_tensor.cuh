// Multi-tensor launches (sgd.cu, amp.cu): every tensor is cut into chunks of `chunk` elements and each chunk gets a
// block (PyTorch's multi_tensor_apply). A fixed share of blocks per tensor left the largest weights on a few blocks
// and lost to one launch per tensor on an H100. chunk_prefix[t] is the number of chunks before tensor t (count + 1
// entries, built on the host: MultiTensorChunks.prefix); chunk c belongs to the last tensor whose prefix is <= c (an
// empty tensor has no chunk: the next one, with the same prefix, wins).
#pragma once
#include <stdint.h>

#include "sev_cuda_compat.cuh"

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

// the element range [begin, end) of chunk c, which belongs to tensor t of `size` elements
SEV_HD void multi_chunk_range(const int64_t* chunk_prefix, int t, int64_t c, int64_t chunk, int64_t size,
                              int64_t* begin, int64_t* end) {
  *begin = (c - chunk_prefix[t]) * chunk;
  *end = *begin + chunk < size ? *begin + chunk : size;
}
