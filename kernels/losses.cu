// Softmax, softmax cross-entropy and BCE with logits (bodies in losses.cuh). Row ops: one block
// per row. Losses: one block sums the batch (deterministic; batches are small).
#include "losses.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void softmax_kernel(const float* x, float* y, int64_t N, int64_t K) {
  __shared__ float fmem[SOFTMAX_THREADS];
  __shared__ double dmem[SOFTMAX_THREADS];
  SEVC_FOR_BLOCKS(n, N) {
    const float* xp = x + n * K;
    float* yp = y + n * K;
    const float mx = sev_block_max(row_max_partial(xp, K, threadIdx.x, blockDim.x), fmem);
    const double s = sev_block_sum(softmax_exp_partial(xp, yp, mx, K, threadIdx.x, blockDim.x), dmem);
    softmax_scale_partial(yp, (float)(1.0 / s), K, threadIdx.x, blockDim.x);  // each thread rescales its own y
  }
}
__global__ void xent_probs_kernel(const float* logits, float* probs, int64_t N, int64_t K) {
  __shared__ float fmem[SOFTMAX_THREADS];
  __shared__ double dmem[SOFTMAX_THREADS];
  SEVC_FOR_BLOCKS(n, N) {
    const float* xp = logits + n * K;
    const float mx = sev_block_max(row_max_partial(xp, K, threadIdx.x, blockDim.x), fmem);
    const double lse = mx + log(sev_block_sum(xent_sumexp_partial(xp, mx, K, threadIdx.x, blockDim.x), dmem));
    xent_probs_partial(xp, probs + n * K, lse, K, threadIdx.x, blockDim.x);
  }
}
__global__ void xent_loss_kernel(const float* logits, const int64_t* labels,
                                 float* loss, int64_t N, int64_t K) {
  __shared__ double smem[LOSS_THREADS];
  const double total = sev_block_sum(xent_loss_partial(logits, labels, N, K, threadIdx.x, blockDim.x), smem);
  if (threadIdx.x == 0) *loss = (float)(total / N);
}
__global__ void xent_backward_kernel(const float* probs, const int64_t* labels,
                                     float* dlogits, float s, int64_t total, int64_t K) {
  SEVC_FOR_EACH(i, total) dlogits[i] = xent_backward_element(probs, labels, i, s, K);
}
__global__ void bce_loss_kernel(const float* logits, const float* targets,
                                float* loss, int64_t n) {
  __shared__ double smem[LOSS_THREADS];
  const double total = sev_block_sum(bce_loss_partial(logits, targets, n, threadIdx.x, blockDim.x), smem);
  if (threadIdx.x == 0) *loss = (float)(total / (double)n);
}
__global__ void bce_backward_kernel(const float* logits, const float* targets,
                                    float* dlogits, float s, int64_t n) {
  SEVC_FOR_EACH(i, n) dlogits[i] = bce_backward_element(logits[i], targets[i], s);
}
}  // namespace

extern "C" {

int sevc_softmax(const float* x, float* y, int64_t N, int64_t K, void* stream) {
  if (N < 0 || K <= 0) return sevc::fail(SEVC_E_ARG, "softmax: bad size");
  if (N == 0) return SEVC_OK;
  softmax_kernel<<<sevc::item_blocks(N), SOFTMAX_THREADS, 0, sevc::as_stream(stream)>>>(x, y, N, K);
  return sevc::check_launch("softmax");
}

// a label outside [0, K) makes the loss NaN (the CPU reports it; the GPU cannot without a sync)
int sevc_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                              int64_t K, void* stream) {
  if (N <= 0 || K <= 0) return sevc::fail(SEVC_E_ARG, "softmax_xent_forward: bad size");
  const cudaStream_t st = sevc::as_stream(stream);
  xent_probs_kernel<<<sevc::item_blocks(N), SOFTMAX_THREADS, 0, st>>>(logits, probs, N, K);
  xent_loss_kernel<<<1, LOSS_THREADS, 0, st>>>(logits, labels, loss, N, K);
  return sevc::check_launch("softmax_xent_forward");
}

int sevc_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale, int64_t N,
                               int64_t K, void* stream) {
  if (N <= 0 || K <= 0) return sevc::fail(SEVC_E_ARG, "softmax_xent_backward: bad size");
  xent_backward_kernel<<<sevc::blocks_for(N * K), sevc::kThreads, 0, sevc::as_stream(stream)>>>(
      probs, labels, dlogits, scale / (float)N, N * K, K);
  return sevc::check_launch("softmax_xent_backward");
}

int sevc_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K,
                            void* stream) {
  if (N <= 0 || K <= 0) return sevc::fail(SEVC_E_ARG, "bce_logits_forward: bad size");
  bce_loss_kernel<<<1, LOSS_THREADS, 0, sevc::as_stream(stream)>>>(logits, targets, loss, N * K);
  return sevc::check_launch("bce_logits_forward");
}

int sevc_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                             int64_t K, void* stream) {
  if (N <= 0 || K <= 0) return sevc::fail(SEVC_E_ARG, "bce_logits_backward: bad size");
  bce_backward_kernel<<<sevc::blocks_for(N * K), sevc::kThreads, 0, sevc::as_stream(stream)>>>(
      logits, targets, dlogits, scale / (float)(N * K), N * K);
  return sevc::check_launch("bce_logits_backward");
}

}  // extern "C"
