// 16-bit inference glue: bodies in half_ops.cuh, instantiated for SevBF16 and SevF16 (sev_half.cuh).
// Storage is raw uint16_t bits; arithmetic is fp32; every store rounds once (RNE).
#include "half_ops.cuh"
#include "sevc_common.cuh"

namespace {
template <class St>
__global__ void half_bias_act_kernel(uint16_t* y, const float* bias, const uint16_t* res, int64_t N, int64_t C,
                                     int64_t S, int relu) {
  SEVC_FOR_ROWS(nc, N * C) SEVC_FOR_EACH(s, S) half_bias_act_element<St>(y, bias, res, nc, s, C, S, relu);
}
template <class St>
__global__ void half_add_act_kernel(const uint16_t* a, const uint16_t* b, uint16_t* y, int64_t n, int relu) {
  SEVC_FOR_EACH(i, n) y[i] = half_add_act_element<St>(a, b, i, relu);
}
template <class St>
__global__ void half_avgpool3d_forward_kernel(const uint16_t* __restrict__ x, uint16_t* __restrict__ y, SevPool p) {
  SEVC_FOR_EACH(i, pool_out_count(p)) y[i] = half_avgpool3d_forward_element<St>(x, p, i);
}
template <class St>
__global__ void half_global_avgpool_forward_kernel(const uint16_t* __restrict__ x, float* __restrict__ y,
                                                   int64_t rows, int64_t S) {
  __shared__ double smem[GAP_THREADS];
  SEVC_FOR_BLOCKS(nc, rows) {
    const double total = sev_block_sum(half_global_avgpool_partial<St>(x, nc, S, threadIdx.x, blockDim.x), smem);
    if (threadIdx.x == 0) y[nc] = global_avgpool_finish(total, S);
  }
}
template <class St>
__global__ void half_channel_scale_forward_kernel(const uint16_t* x, const float* g, uint16_t* y, int64_t rows,
                                                  int64_t S) {
  SEVC_FOR_ROWS(nc, rows) SEVC_FOR_EACH(s, S) half_channel_scale_element<St>(x, g, y, nc, s, S);
}
__global__ void half_concat_channels_kernel(const uint16_t* a, const uint16_t* b, uint16_t* y, int64_t n, int64_t Ca,
                                            int64_t Cb, int64_t S) {
  SEVC_FOR_EACH(i, n) y[i] = half_concat_element(a, b, i, Ca, Cb, S);
}
template <class St>
__global__ void half_from_f32_kernel(const float* x, uint16_t* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = half_from_f32_element<St>(x, i);
}
template <class St>
__global__ void half_to_f32_kernel(const uint16_t* x, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = half_to_f32_element<St>(x, i);
}

// ---- 16-bit training glue (bodies at the end of half_ops.cuh) ----
template <class St>
__global__ void half_relu_backward_kernel(const uint16_t* y, const uint16_t* dy, uint16_t* dx, int64_t n) {
  SEVC_FOR_EACH(i, n) dx[i] = half_relu_backward_element<St>(y, dy, i);
}
template <class St>
__global__ void half_axpby_kernel(float alpha, const uint16_t* x, float beta, uint16_t* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = half_axpby_element<St>(alpha, x, beta, y, i);
}
template <class St>
__global__ void half_avgpool3d_backward_kernel(const uint16_t* __restrict__ dy, uint16_t* __restrict__ dx,
                                               SevPool p) {
  SEVC_FOR_EACH(i, pool_in_count(p)) dx[i] = half_avgpool3d_backward_element<St>(dy, p, i);
}
__global__ void half_split_channels_kernel(const uint16_t* y, uint16_t* a, uint16_t* b, int64_t n, int64_t Ca,
                                           int64_t Cb, int64_t S) {
  SEVC_FOR_EACH(i, n) split_element<uint16_t>(y, a, b, i, Ca, Cb, S);
}
// one block per (n, c) row: dx for the row, dg[n,c] by a block sum (channel_scale_backward_kernel of channels.cu)
template <class St>
__global__ void half_channel_scale_backward_kernel(const uint16_t* x, const float* g, const uint16_t* dy,
                                                   uint16_t* dx, float* dg, int64_t rows, int64_t S) {
  __shared__ double smem[CHANNEL_SCALE_THREADS];
  SEVC_FOR_BLOCKS(nc, rows) {
    const double part = channel_scale_backward_partial_t<St>(x, g, dy, dx, nc, S, threadIdx.x, blockDim.x);
    const double total = sev_block_sum(part, smem);
    if (threadIdx.x == 0) dg[nc] = (float)total;
  }
}

template <class St>
__global__ void half_bn_eval_kernel(const uint16_t* x, const float* gamma, const float* beta,
                                    const float* running_mean, const float* running_var, uint16_t* y, int64_t N,
                                    int64_t C, int64_t S, float eps, int relu) {
  SEVC_FOR_ROWS(nc, N * C) {
    float a, b;
    bn_eval_coeffs(gamma, beta, running_mean, running_var, nc % C, eps, &a, &b);
    SEVC_FOR_EACH(s, S) half_bn_eval_element<St>(x, y, nc * S + s, a, b, relu);
  }
}

bool half_dtype_ok(int dtype) { return dtype == SEV_DT_BF16 || dtype == SEV_DT_F16; }

bool half_pool_args_ok(const SevPool& p) {
  return p.N >= 0 && p.C >= 0 && p.T >= 0 && p.H >= 0 && p.W >= 0 && p.kT > 0 && p.kH > 0 && p.kW > 0 && p.sT > 0 &&
         p.sH > 0 && p.sW > 0 && p.pT >= 0 && p.pH >= 0 && p.pW >= 0 && p.To >= 0 && p.Ho >= 0 && p.Wo >= 0;
}
}  // namespace

// launches kernel<SevBF16> or kernel<SevF16> for the dtype code
#define SEVC_HALF_LAUNCH(kernel, dtype, grid, threads, stream, ...)                                   \
  do {                                                                                              \
    if ((dtype) == SEV_DT_BF16)                                                                     \
      kernel<SevBF16><<<(grid), (threads), 0, sevc::as_stream(stream)>>>(__VA_ARGS__);              \
    else                                                                                            \
      kernel<SevF16><<<(grid), (threads), 0, sevc::as_stream(stream)>>>(__VA_ARGS__);               \
  } while (0)

extern "C" {

int sevc_half_bias_act(void* y, const float* bias, const void* residual, int64_t N, int64_t C, int64_t S, int relu,
                       int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_bias_act: dtype must be bf16 or fp16");
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_bias_act: negative size");
  if (N * C * S == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_bias_act_kernel, dtype, sevc::rows_grid(N * C, S), sevc::kThreads, stream, (uint16_t*)y, bias,
                   (const uint16_t*)residual, N, C, S, relu);
  return sevc::check_launch("half_bias_act");
}

int sevc_half_add_act(const void* a, const void* b, void* y, int64_t n, int relu, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_add_act: dtype must be bf16 or fp16");
  if (n < 0) return sevc::fail(SEVC_E_ARG, "half_add_act: negative element count");
  if (n == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_add_act_kernel, dtype, sevc::blocks_for(n), sevc::kThreads, stream, (const uint16_t*)a,
                   (const uint16_t*)b, (uint16_t*)y, n, relu);
  return sevc::check_launch("half_add_act");
}

int sevc_half_avgpool3d_forward(const void* x, void* y, const int* pp, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_forward: dtype must be bf16 or fp16");
  if (!pp) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_forward: no parameter block");
  const SevPool p = sev_pool_params(pp);
  if (!half_pool_args_ok(p)) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_forward: bad parameter block");
  const int64_t n = pool_out_count(p);
  if (n == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_avgpool3d_forward_kernel, dtype, sevc::blocks_for(n), sevc::kThreads, stream,
                   (const uint16_t*)x, (uint16_t*)y, p);
  return sevc::check_launch("half_avgpool3d_forward");
}

int sevc_half_global_avgpool_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_global_avgpool_forward: dtype must be bf16 or fp16");
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_global_avgpool_forward: negative size");
  if (N * C == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_global_avgpool_forward_kernel, dtype, sevc::item_blocks(N * C), GAP_THREADS, stream,
                   (const uint16_t*)x, y, N * C, S);
  return sevc::check_launch("half_global_avgpool_forward");
}

int sevc_half_channel_scale_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                    int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_channel_scale_forward: dtype must be bf16 or fp16");
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_channel_scale_forward: negative size");
  if (N * C * S == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_channel_scale_forward_kernel, dtype, sevc::rows_grid(N * C, S), sevc::kThreads, stream,
                   (const uint16_t*)x, g, (uint16_t*)y, N * C, S);
  return sevc::check_launch("half_channel_scale_forward");
}

int sevc_half_concat_channels(const void* a, const void* b, void* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                              void* stream) {
  if (N < 0 || Ca < 0 || Cb < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_concat_channels: negative size");
  const int64_t n = N * (Ca + Cb) * S;
  if (n == 0) return SEVC_OK;
  half_concat_channels_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(
      (const uint16_t*)a, (const uint16_t*)b, (uint16_t*)y, n, Ca, Cb, S);
  return sevc::check_launch("half_concat_channels");
}

int sevc_cast(const void* x, int from, void* y, int to, int64_t n, void* stream) {
  if (n < 0) return sevc::fail(SEVC_E_ARG, "cast: negative element count");
  if (from == SEV_DT_F32 && half_dtype_ok(to)) {
    if (n == 0) return SEVC_OK;
    SEVC_HALF_LAUNCH(half_from_f32_kernel, to, sevc::blocks_for(n), sevc::kThreads, stream, (const float*)x,
                     (uint16_t*)y, n);
    return sevc::check_launch("cast fp32 -> 16-bit");
  }
  if (half_dtype_ok(from) && to == SEV_DT_F32) {
    if (n == 0) return SEVC_OK;
    SEVC_HALF_LAUNCH(half_to_f32_kernel, from, sevc::blocks_for(n), sevc::kThreads, stream, (const uint16_t*)x,
                     (float*)y, n);
    return sevc::check_launch("cast 16-bit -> fp32");
  }
  return sevc::fail(SEVC_E_ARG, "cast: only fp32 <-> bf16/fp16");
}

// ---- 16-bit training glue ----
int sevc_half_relu_backward(const void* y, const void* dy, void* dx, int64_t n, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_relu_backward: dtype must be bf16 or fp16");
  if (n < 0) return sevc::fail(SEVC_E_ARG, "half_relu_backward: negative element count");
  if (n == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_relu_backward_kernel, dtype, sevc::blocks_for(n), sevc::kThreads, stream, (const uint16_t*)y,
                   (const uint16_t*)dy, (uint16_t*)dx, n);
  return sevc::check_launch("half_relu_backward");
}

int sevc_half_axpby(float alpha, const void* x, float beta, void* y, int64_t n, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_axpby: dtype must be bf16 or fp16");
  if (n < 0) return sevc::fail(SEVC_E_ARG, "half_axpby: negative element count");
  if (n == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_axpby_kernel, dtype, sevc::blocks_for(n), sevc::kThreads, stream, alpha, (const uint16_t*)x,
                   beta, (uint16_t*)y, n);
  return sevc::check_launch("half_axpby");
}

int sevc_half_avgpool3d_backward(const void* dy, void* dx, const int* pp, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_backward: dtype must be bf16 or fp16");
  if (!pp) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_backward: no parameter block");
  const SevPool p = sev_pool_params(pp);
  if (!half_pool_args_ok(p)) return sevc::fail(SEVC_E_ARG, "half_avgpool3d_backward: bad parameter block");
  const int64_t n = pool_in_count(p);
  if (n == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_avgpool3d_backward_kernel, dtype, sevc::blocks_for(n), sevc::kThreads, stream,
                   (const uint16_t*)dy, (uint16_t*)dx, p);
  return sevc::check_launch("half_avgpool3d_backward");
}

int sevc_half_split_channels(const void* y, void* a, void* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                             void* stream) {
  if (N < 0 || Ca < 0 || Cb < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_split_channels: negative size");
  const int64_t n = N * (Ca + Cb) * S;
  if (n == 0) return SEVC_OK;
  half_split_channels_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(
      (const uint16_t*)y, (uint16_t*)a, (uint16_t*)b, n, Ca, Cb, S);
  return sevc::check_launch("half_split_channels");
}

int sevc_half_channel_scale_backward(const void* x, const float* g, const void* dy, void* dx, float* dg, int64_t N,
                                     int64_t C, int64_t S, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_channel_scale_backward: dtype must be bf16 or fp16");
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_channel_scale_backward: negative size");
  if (N * C == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_channel_scale_backward_kernel, dtype, sevc::item_blocks(N * C), CHANNEL_SCALE_THREADS, stream,
                   (const uint16_t*)x, g, (const uint16_t*)dy, (uint16_t*)dx, dg, N * C, S);
  return sevc::check_launch("half_channel_scale_backward");
}
int sevc_half_batchnorm_eval_forward(const void* x, const float* gamma, const float* beta, const float* running_mean,
                                     const float* running_var, void* y, int64_t N, int64_t C, int64_t S, float eps,
                                     int relu, int dtype, void* stream) {
  if (!half_dtype_ok(dtype)) return sevc::fail(SEVC_E_ARG, "half_batchnorm_eval_forward: dtype must be bf16 or fp16");
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "half_batchnorm_eval_forward: negative size");
  if (N * C * S == 0) return SEVC_OK;
  SEVC_HALF_LAUNCH(half_bn_eval_kernel, dtype, sevc::rows_grid(N * C, S), sevc::kThreads, stream, (const uint16_t*)x,
                   gamma, beta, running_mean, running_var, (uint16_t*)y, N, C, S, eps, relu);
  return sevc::check_launch("half_batchnorm_eval_forward");
}
// ---- end of the 16-bit training glue ----

}  // extern "C"
