// Channel concat / split / scale of [N, C, S] tensors (bodies in channels.cuh).
#include "channels.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void concat_kernel(const float* a, const float* b, float* y,
                              int64_t total, int64_t Ca, int64_t Cb, int64_t S) {
  SEVC_FOR_EACH(i, total) y[i] = concat_element(a, b, i, Ca, Cb, S);
}
__global__ void split_kernel(const float* y, float* a, float* b, int64_t total,
                             int64_t Ca, int64_t Cb, int64_t S) {
  SEVC_FOR_EACH(i, total) split_element(y, a, b, i, Ca, Cb, S);
}
__global__ void channel_scale_forward_kernel(const float* x, const float* g,
                                             float* y, int64_t rows, int64_t S) {
  SEVC_FOR_ROWS(nc, rows) SEVC_FOR_EACH(s, S) channel_scale_element(x, g, y, nc, s, S);
}
// one block per (n, c) row: dx for the row, dg[n,c] by a block sum
__global__ void channel_scale_backward_kernel(const float* x, const float* g,
                                              const float* dy, float* dx,
                                              float* dg, int64_t rows, int64_t S) {
  __shared__ double smem[CHANNEL_SCALE_THREADS];
  SEVC_FOR_BLOCKS(nc, rows) {
    const double part = channel_scale_backward_partial(x, g, dy, dx, nc, S, threadIdx.x, blockDim.x);
    const double total = sev_block_sum(part, smem);
    if (threadIdx.x == 0) dg[nc] = (float)total;
  }
}
}  // namespace

extern "C" {

int sevc_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                         void* stream) {
  if (N < 0 || Ca < 0 || Cb < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "concat_channels: negative size");
  const int64_t total = N * (Ca + Cb) * S;
  if (total == 0) return SEVC_OK;
  concat_kernel<<<sevc::blocks_for(total), sevc::kThreads, 0, sevc::as_stream(stream)>>>(a, b, y, total, Ca, Cb, S);
  return sevc::check_launch("concat_channels");
}

int sevc_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                        void* stream) {
  if (N < 0 || Ca < 0 || Cb < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "split_channels: negative size");
  const int64_t total = N * (Ca + Cb) * S;
  if (total == 0) return SEVC_OK;
  split_kernel<<<sevc::blocks_for(total), sevc::kThreads, 0, sevc::as_stream(stream)>>>(y, a, b, total, Ca, Cb, S);
  return sevc::check_launch("split_channels");
}

int sevc_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S,
                               void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "channel_scale_forward: negative size");
  if (N * C * S == 0) return SEVC_OK;
  channel_scale_forward_kernel<<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, sevc::as_stream(stream)>>>(x, g, y,
                                                                                                        N * C, S);
  return sevc::check_launch("channel_scale_forward");
}

int sevc_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                int64_t C, int64_t S, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "channel_scale_backward: negative size");
  if (N * C == 0) return SEVC_OK;
  channel_scale_backward_kernel<<<sevc::item_blocks(N * C), CHANNEL_SCALE_THREADS, 0, sevc::as_stream(stream)>>>(
      x, g, dy, dx, dg, N * C, S);
  return sevc::check_launch("channel_scale_backward");
}

}  // extern "C"
