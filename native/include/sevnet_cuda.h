/* sevnet_cuda.h — C ABI of the CUDA kernels library (libsevnet_cuda.so, the .cu files in kernels/).
 *
 * One CUDA runtime in the process: this library links the SHARED runtime (libcudart.so.13), the same
 * one the JavaCPP cuDNN/cuBLAS presets use, so device pointers, streams and events pass freely between
 * them. Because loading it needs libcudart.so.13, Java loads it only after the GPU probe succeeded.
 * Without nvcc the build makes a stub of the same ABI whose calls all return SEVC_E_NO_CUDA.
 *
 * Conventions:
 *  - Every pointer is a DEVICE pointer (except where noted); `stream` is a cudaStream_t (NULL: legacy
 *    default stream). Calls are asynchronous: they enqueue and return.
 *  - Each op mirrors the CPU op of the same name in sevnet.h (sev_X -> sevc_X), same arguments and
 *    semantics, plus the trailing stream. Results must match the CPU reference within fp32 rounding.
 *  - Return: 0, or a negative SEVC_E* code; sevc_last_error() gives the thread's last message.
 *  - Scalar results (loss, sum) are written to device memory.
 */
#ifndef SEVNET_CUDA_H
#define SEVNET_CUDA_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEVC_OK 0
#define SEVC_E_ARG -1
#define SEVC_E_LAUNCH -3
#define SEVC_E_NO_CUDA -10

int sevc_available(void);               /* 1 when built with kernels, 0 for the stub */
const char* sevc_last_error(void);
/* the CUDA runtime version this library runs against (cudaRuntimeGetVersion), < 0 on error */
int sevc_runtime_version(void);
/* cudaProfilerStart (start 1) or cudaProfilerStop (start 0): the range that `ncu --profile-from-start off` and
   `nsys --capture-range=cudaProfilerApi` record */
int sevc_profiler_range(int start);

/* ---- element-wise (n elements) ---- */
int sevc_fill(float* y, float value, int64_t n, void* stream);
int sevc_relu_forward(const float* x, float* y, int64_t n, void* stream);
int sevc_relu_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream);
int sevc_add(const float* a, const float* b, float* y, int64_t n, void* stream);
int sevc_add_relu(const float* a, const float* b, float* y, int64_t n, void* stream);
int sevc_mul(const float* a, const float* b, float* y, int64_t n, void* stream);
int sevc_axpby(float alpha, const float* x, float beta, float* y, int64_t n, void* stream);
/* y[t] = alpha x[t] + beta y[t] for every tensor t of a list (x, y, sizes: HOST arrays of `count` device pointers
 * and element counts; the y's must not overlap one another or any x): a launch per 64 tensors, the list passed by
 * value (a CUDA graph captures it; nothing staged on the device). Bit for bit sevc_axpby per tensor. */
int sevc_axpby_list(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes, int count,
                    void* stream);
int sevc_scale(const float* x, float alpha, float* y, int64_t n, void* stream);
int sevc_sigmoid_forward(const float* x, float* y, int64_t n, void* stream);
int sevc_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream);
/* same mask as sev_dropout_forward for the same seed (counter-based) */
int sevc_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed, void* stream);
/* in place: y[n,c,s] += bias[c] (then ReLU when relu != 0) — the conv epilogue */
int sevc_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu, void* stream);

/* ---- channel concat / split / scale, [N, C, S] ---- */
int sevc_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                         void* stream);
int sevc_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                        void* stream);
int sevc_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S,
                               void* stream);
int sevc_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                int64_t C, int64_t S, void* stream);

/* ---- batch norm over [N, C, S] (same semantics as sev_batchnorm_*) ---- */
int sevc_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                 float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                                 int64_t S, float eps, float momentum, void* stream);
int sevc_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float* y, int64_t N, int64_t C, int64_t S, float eps,
                                int relu, void* stream);
int sevc_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                            const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                            int64_t S, void* stream);

/* ---- pooling (p[] is the 19-int conv parameter block of sevnet.h, a HOST array) ---- */
int sevc_avgpool3d_forward(const float* x, float* y, const int* p, void* stream);
int sevc_avgpool3d_backward(const float* dy, float* dx, const int* p, void* stream);
int sevc_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S, void* stream);
int sevc_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S, void* stream);

/* ---- losses ---- */
int sevc_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                              int64_t K, void* stream);
int sevc_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale, int64_t N,
                               int64_t K, void* stream);
int sevc_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K,
                            void* stream);
int sevc_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                             int64_t K, void* stream);
int sevc_softmax(const float* x, float* y, int64_t N, int64_t K, void* stream);

/* ---- optimizer ---- */
int sevc_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                           float weight_decay, void* stream);
/* every parameter in one launch: w[i], g[i], v[i] are DEVICE arrays of `count` device pointers,
 * sizes a DEVICE array of element counts; each tensor cut into chunks of `chunk` elements, a block per chunk:
 * chunk_prefix (DEVICE, count + 1 entries) holds the chunks before each tensor, `chunks` their total */
int sevc_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                 const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk, float lr,
                                 float momentum, float weight_decay, void* stream);

/* ---- loss scaling (fp16 training; amp.cu): every tensor in one launch, a block per chunk as the SGD's ----
 * x: a DEVICE array of `count` device pointers, sizes a DEVICE array of element counts, chunk_prefix as
 * sgd_momentum_step_multi's. all_finite_multi clears *nonfinite (a device int) on the stream, then sets it to 1
 * when any element of any tensor is +-inf or NaN; scale_multi multiplies every element by alpha in place. */
int sevc_all_finite_multi(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                          int64_t chunks, int64_t chunk, int* nonfinite, void* stream);
int sevc_scale_multi(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count, int64_t chunks,
                     int64_t chunk, float alpha, void* stream);

/* ---- reductions ---- */
/* *out (device double) = sum of x */
int sevc_sum(const float* x, int64_t n, double* out, void* stream);

/* ---- temporal 3x1x1 convolution, C -> C, padding 1 in time, NCDHW with S = H*W ---- */
int sevc_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                void* stream);
int sevc_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T, int64_t S,
                                      void* stream);
int sevc_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T, int64_t S,
                                        void* stream);

/* ---- the same conv in channels-last layout (kernels/temporal_conv_ndhwc.cu), fp32 and bf16 ----
 * x, y, dy, dx [N][T][S][C] (NDHWC, S = H*W, C innermost); w PyTorch's [C][C][3][1][1] (w[co][ci][k]) in the
 * storage type of the call; dw always fp32 [C][C][3]. bf16 (raw uint16_t bits): loads widened to fp32, fp32
 * accumulation, y and dx rounded once (round to nearest even). backward_weight takes its split-K scratch from
 * the stream-ordered pool (cudaMallocAsync / cudaFreeAsync on `stream`), as sevc_temporal_conv3_backward_weight.
 * Bad sizes or a NULL pointer that would be read: SEVC_E_ARG with the reason in sevc_last_error().
 * CPU references: sev_temporal_conv3_ndhwc_* (sevnet.h). */
int sevc_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                          void* stream);
int sevc_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C, int T,
                                           int64_t S, void* stream);
int sevc_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C, int T,
                                                int64_t S, void* stream);
int sevc_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                 int T, int64_t S, void* stream);
int sevc_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C, int T,
                                                  int64_t S, void* stream);
int sevc_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N, int C,
                                                   int T, int64_t S, void* stream);

/* ---- the block's grouped 1x3x3 conv in channels-last layout (kernels/grouped_conv_ndhwc.cu) ----
 * C -> C, cg = C/groups channels per group (1..16), padding (0,1,1), stride (1,s,s) with s 1 or 2, no bias.
 * x, dx [N][T][H][W][C]; y, dy [N][T][Ho][Wo][C] with Ho = (H-1)/s + 1, Wo = (W-1)/s + 1; w KTRSC [C][1][3][3][cg]
 * (cuDNN's NHWC filter). dtype SEV_DT_F32 (0), SEV_DT_BF16 (1) or SEV_DT_F16 (2) for x, w, y (dy, dx): loads
 * widened, fp32 sums, each result rounded once. The forward's epilogue, each part optional: y = act((conv + bias[c])
 * + residual) with bias fp32 (NULL: none), residual y's dtype and layout (NULL: none), ReLU when relu != 0 — the
 * folded model's conv in one pass. Bad sizes or a NULL pointer that would be read: SEVC_E_ARG with the reason in
 * sevc_last_error(). CPU references: sev_grouped_conv_ndhwc_* (sevnet.h). */
int sevc_grouped_conv_ndhwc_forward(const void* x, const void* w, const float* bias, const void* residual, int relu,
                                    void* y, int N, int C, int cg, int T, int H, int W, int s, int dtype, void* stream);
int sevc_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                          int W, int s, int dtype, void* stream);
/* dw fp32 KTRSC [C][1][3][3][cg] from x and dy in dtype: split-K over the positions, the splits' partials (stream-
 * ordered scratch, as the temporal conv's) added in order; zero when there are no positions. */
int sevc_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg, int T,
                                            int H, int W, int s, int dtype, void* stream);

/* ---- the block's temporal 3x1x1 conv channels-last on tensor cores (kernels/temporal_conv_ndhwc_tc.cu) ----
 * C -> C, padding 1 in time, no bias: x, y, dy, dx [N][T][S][C] (S = H*W); w KTRSC [C][3][C] (w[co][k][ci], tap k
 * reads frame t + k - 1: the backend's channels-last weight as it is). dtype SEV_DT_F32 (0: fp32 storage, products
 * in TF32 — the caller's TF32 policy decides whether to call it), SEV_DT_BF16 (1) or SEV_DT_F16 (2): fp32 sums, each
 * result rounded once. The forward's epilogue as sevc_grouped_conv_ndhwc_forward's: y = act((conv + bias[c]) +
 * residual), each part optional; the residual must not be y itself (it is read through the read-only cache). Bad
 * sizes or a NULL pointer that would be read: SEVC_E_ARG with the reason. CPU references: sev_temporal_conv3_ndhwc_*
 * (sevnet.h, PyTorch's [C][C][3] weight order). */
int sevc_temporal_conv3_ndhwc_tc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                         int relu, void* y, int N, int C, int T, int64_t S, int dtype, void* stream);
int sevc_temporal_conv3_ndhwc_tc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int T, int64_t S,
                                               int dtype, void* stream);
/* dw fp32 KTRSC [C][3][C] from x and dy in dtype: split-K over the positions on tensor cores, the splits' partials
 * (stream-ordered scratch, at most 64 MB; none when one split is all that fits) added in order — deterministic; zero
 * when there are no positions. */
int sevc_temporal_conv3_ndhwc_tc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int T,
                                                 int64_t S, int dtype, void* stream);

/* ---- fused conv -> batch norm -> ReLU of the SEV block (kernels/conv_bn_relu.cu) ----
 * Epilogue of the forward (inference) calls: running_mean != NULL: y = conv * a[c] + b[c] with a, b from
 * batch norm's running statistics (gamma, beta may be NULL), else y = conv + bias[c] (bias may be NULL:
 * BN folded into w and bias); then ReLU when relu != 0.
 * Training calls (*_bn_train): z = conv(x, w) (BN's input, kept for backward), the batch statistics of z
 * (save_mean, save_invstd; running stats updated in place when not NULL, as sevc_batchnorm_train_forward),
 * y = BN(z), then ReLU when relu != 0: three launches (conv + per-block partial sums, finalize, apply). */
/* 1x1x1 conv, Cin -> Cout, stride 1, S = T*H*W; w [Cout, Cin] */
int sevc_pointwise_conv_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                const float* beta, const float* running_mean, const float* running_var, float eps,
                                int relu, float* y, int N, int Cin, int Cout, int64_t S, void* stream);
int sevc_pointwise_conv_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                 float* y, float* save_mean, float* save_invstd, float* running_mean,
                                 float* running_var, float eps, float momentum, int relu, int N, int Cin, int Cout,
                                 int64_t S, void* stream);
/* grouped 1x3x3 conv, C -> C, padding (0,1,1), stride (1,s,s) with s in {1, 2}, cg = C/groups in 1..16
 * channels per group; x [N,C,T,H,W], w [C, cg, 1, 3, 3], y [N, C, T, (H-1)/s+1, (W-1)/s+1] */
int sevc_grouped_conv3x3_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                 const float* beta, const float* running_mean, const float* running_var, float eps,
                                 int relu, float* y, int N, int C, int cg, int T, int H, int W, int stride,
                                 void* stream);
/* its 16-bit inference form: x, w, y bf16 / fp16 bits (fp32 accumulation and epilogue, y rounded once) */
int sevc_grouped_conv3x3_forward_bf16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                      const float* beta, const float* running_mean, const float* running_var,
                                      float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                      int stride, void* stream);
int sevc_grouped_conv3x3_forward_f16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                     const float* beta, const float* running_mean, const float* running_var,
                                     float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                     int stride, void* stream);
int sevc_grouped_conv3x3_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                  float* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, float eps, float momentum, int relu, int N, int C, int cg, int T,
                                  int H, int W, int stride, void* stream);
int sevc_grouped_conv3x3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int cg, int T, int H,
                                       int W, int stride, void* stream);
/* its 16-bit form: dy, w, dx bf16 / fp16 bits, fp32 accumulation, dx rounded once */
int sevc_grouped_conv3x3_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                            int T, int H, int W, int stride, void* stream);
int sevc_grouped_conv3x3_backward_data_f16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                           int T, int H, int W, int stride, void* stream);
int sevc_grouped_conv3x3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int cg, int T,
                                         int H, int W, int stride, void* stream);
/* batch norm (training) over [N, C, S] then (+ residual when not NULL) then ReLU when relu != 0, PyTorch
 * semantics as sevc_batchnorm_train_forward: statistics reduced by many blocks per channel, one apply pass */
int sevc_bn_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta, float* y,
                              float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t N,
                              int64_t C, int64_t S, float eps, float momentum, int relu, void* stream);
/* its backward: g = dy where y > 0 (y = the forward's output; y == NULL: no ReLU, g = dy), then batch norm's
 * backward of g: dx, dgamma, dbeta (either may be NULL); dresidual (may be NULL) = g */
int sevc_bn_act_backward(const float* x, const float* y, const float* dy, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, float* dresidual, int64_t N,
                         int64_t C, int64_t S, void* stream);

/* ---- 16-bit inference glue (kernels/half_ops.cu; bodies in half_ops.cuh). Storage is raw 16-bit bits, dtype
 * SEV_DT_BF16 (1) or SEV_DT_F16 (2); arithmetic fp32; each store rounds once to nearest even. Biases and SE gates
 * stay fp32. ---- */
/* in place on y [N, C, S]: y = act(y + bias[c] (bias may be NULL) + residual (may be NULL)), act ReLU when relu */
int sevc_half_bias_act(void* y, const float* bias, const void* residual, int64_t N, int64_t C, int64_t S, int relu,
                       int dtype, void* stream);
/* y = act(a + b) (b may be NULL: y = act(a)) */
int sevc_half_add_act(const void* a, const void* b, void* y, int64_t n, int relu, int dtype, void* stream);
/* count_include_pad average pooling, the 19-int parameter block of sevc_avgpool3d_forward */
int sevc_half_avgpool3d_forward(const void* x, void* y, const int* p, int dtype, void* stream);
/* 16-bit [N, C, S] -> fp32 [N, C] means (summed in double) */
int sevc_half_global_avgpool_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream);
/* y[n,c,s] = x[n,c,s] * g[n,c], g fp32 */
int sevc_half_channel_scale_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                    int dtype, void* stream);
/* [N, Ca, S] ++ [N, Cb, S] of 16-bit elements (a bit copy) */
int sevc_half_concat_channels(const void* a, const void* b, void* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                              void* stream);
/* n elements from dtype `from` to dtype `to`: SEV_DT_F32 (0) <-> SEV_DT_BF16 (1) / SEV_DT_F16 (2) */
int sevc_cast(const void* x, int from, void* y, int to, int64_t n, void* stream);
/* ---- end of the 16-bit block ---- */

/* ---- the batch-norm glue in 16-bit storage (kernels/conv_bn_relu.cu, the same bodies as the two above) ----
 * PyTorch autocast's batch norm: x, residual, y, dy, dx, dresidual bf16 (_bf16) or IEEE fp16 (_f16) as raw
 * uint16_t bits; gamma, beta, running_mean/var, save_mean/invstd, dgamma, dbeta fp32. Loads widened to fp32, the
 * fp32 kernels' arithmetic (statistics in double), y and dx rounded once (to nearest even; fp16: |y| beyond 65504
 * after rounding is +-inf). The backward's ReLU mask is the stored 16-bit y > 0. CPU references:
 * sev_batchnorm_act_train_forward_bf16/_f16, sev_batchnorm_act_backward_bf16/_f16 (sevnet.h). */
int sevc_bn_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                   uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                   float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                   int relu, void* stream);
int sevc_bn_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                  uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                  int relu, void* stream);
int sevc_bn_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                              const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                              float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream);
int sevc_bn_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                             const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                             float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream);

/* ---- 16-bit training glue (kernels/half_ops.cu; bodies at the end of half_ops.cuh): the gradient-side ops of
 * mixed-precision training. Same conventions as the 16-bit inference block (raw 16-bit bits, dtype 1 bf16 / 2 fp16,
 * fp32 arithmetic in the fp32 kernel's order, one rounding per 16-bit store). The 16-bit add is sevc_half_add_act
 * with relu 0. ---- */
/* dx = dy where the stored y > 0, else +0 */
int sevc_half_relu_backward(const void* y, const void* dy, void* dx, int64_t n, int dtype, void* stream);
/* in place: y = alpha * x + beta * y (beta == 0: y is not read); products rounded on their own (no FMA) */
int sevc_half_axpby(float alpha, const void* x, float beta, void* y, int64_t n, int dtype, void* stream);
/* count_include_pad average pool backward, 16-bit dy -> 16-bit dx, the 19-int parameter block of
 * sevc_avgpool3d_backward (the same gather, in the CPU's order) */
int sevc_half_avgpool3d_backward(const void* dy, void* dx, const int* p, int dtype, void* stream);
/* [N, Ca+Cb, S] -> [N, Ca, S], [N, Cb, S] of 16-bit elements (a bit copy) */
int sevc_half_split_channels(const void* y, void* a, void* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                             void* stream);
/* squeeze-excite backward: dx = dy * g[n,c] (x, dy, dx 16-bit; g fp32), dg[n,c] = sum_s dy * x (fp32, summed in
 * double) */
int sevc_half_channel_scale_backward(const void* x, const float* g, const void* dy, void* dx, float* dg, int64_t N,
                                     int64_t C, int64_t S, int dtype, void* stream);
/* batch norm with the running statistics, x and y 16-bit (gamma, beta may be NULL; all parameters fp32):
 * y = act(x * a + b) with sevc_batchnorm_eval_forward's fp32 coefficients, act ReLU when relu */
int sevc_half_batchnorm_eval_forward(const void* x, const float* gamma, const float* beta, const float* running_mean,
                                     const float* running_var, void* y, int64_t N, int64_t C, int64_t S, float eps,
                                     int relu, int dtype, void* stream);
/* ---- end of the 16-bit training glue ---- */

/* ---- channels-last batch norm (kernels/batchnorm_ndhwc.cu) ----
 * x, residual, y, dy, dx, dresidual [M][C] with M = N*T*H*W rows (NDHWC, C innermost); _f32 fp32, _bf16 / _f16
 * raw 16-bit bits (loads widened, fp32 arithmetic, statistics in double, y / dx rounded once). gamma, beta,
 * running and saved statistics, dgamma, dbeta fp32 in every form. Semantics of sevc_bn_act_train_forward /
 * sevc_bn_act_backward (and their _bf16 / _f16 forms) with N*S replaced by M; eval as sevc_batchnorm_eval_forward
 * with an optional ReLU. Reductions in a fixed order (no float atomics): the same bits on every run.
 * Scratch of the training calls: `scratch` a device buffer of at least sevc_bn_act_ndhwc_scratch_bytes(M, C)
 * bytes, 8-byte aligned, used on `stream` only (a graph can own it); NULL: taken from and given back to the
 * stream-ordered pool (cudaMallocAsync), as the NCDHW glue. M <= 0, C <= 0, a missing required pointer,
 * or scratch too small: SEVC_E_ARG with the reason in sevc_last_error(). CPU references: sev_*_ndhwc_* (sevnet.h). */
/* bytes of scratch for (M, C), or SEVC_E_ARG */
int64_t sevc_bn_act_ndhwc_scratch_bytes(int64_t M, int64_t C);
int sevc_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma, const float* beta,
                                        float* y, float* save_mean, float* save_invstd, float* running_mean,
                                        float* running_var, int64_t M, int64_t C, float eps, float momentum, int relu,
                                        void* scratch, int64_t scratch_bytes, void* stream);
int sevc_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                         float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream);
int sevc_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream);
int sevc_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta, float* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream);
int sevc_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                    int64_t scratch_bytes, void* stream);
int sevc_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream);
/* the backward of relu(batch norm(x)) without a residual, its ReLU mask recomputed from x (the forward's element
 * function with the forward's coefficients from gamma, beta and the saved statistics: the stored y bit for bit) instead
 * of read from y — one tensor less read in each of the two passes; bit for bit sevc_bn_act_backward_ndhwc_* with
 * the forward's y and no dresidual. gamma, beta NULL: 1, 0. */
int sevc_bn_relu_backward_ndhwc_f32(const float* x, const float* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream);
int sevc_bn_relu_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                     const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                     float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                     void* stream);
int sevc_bn_relu_backward_ndhwc_f16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream);
int sevc_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream);
int sevc_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                   int64_t C, float eps, int relu, void* stream);
int sevc_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream);
/* ---- end of channels-last batch norm ---- */

/* ---- channels-last glue (kernels/channels_ndhwc.cu; bodies in channels_ndhwc.cuh) ----
 * The memory-bound ops of the channels-last activation path: an activation is [N][T][H][W][C] = [N][S][C] with
 * S = T*H*W (M = N*S rows of C channels). `dtype` 0 fp32, 1 bf16, 2 fp16 (16-bit storage as raw bits: loads
 * widened, fp32 arithmetic, one rounding per store); `elem_bytes` 4 or 2 for the bit copies. Gates g, biases,
 * dg and the pooled [N][C] means are fp32. CPU references: sev_*_ndhwc* (sevnet.h: transpose, the NCDHW op,
 * transpose back). Bad sizes, dtype, element size, parameter block or a NULL pointer the call needs: SEVC_E_ARG. */
/* [N][C][S] -> [N][S][C] and back, tiled through shared memory; also a conv weight [Cout][Cin/g][kt][kh][kw] ->
 * cuDNN's NHWC filter [Cout][kt][kh][kw][Cin/g] (N = Cout, C = Cin/g, S = kt*kh*kw). Not in place. */
int sevc_ncdhw_to_ndhwc(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream);
int sevc_ndhwc_to_ncdhw(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream);
/* conv epilogue in place on y [M][C]: y = act(y + bias[c] + residual) (bias fp32, residual y's dtype, each may be
 * NULL; act ReLU when relu != 0), the additions in that order */
int sevc_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu, int dtype,
                        void* stream);
/* squeeze-excite: y[n][s][c] = x[n][s][c] * g[n][c]; backward (fp32): dx = dy * g, dg[n][c] = sum_s dy * x (double,
 * one block per (n, 32 channels), a fixed order: deterministic) */
int sevc_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream);
int sevc_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                      int64_t C, int64_t S, void* stream);
/* global average pool [N][S][C] -> y [N][C] fp32 (means in double, as the SE gate reduction); backward: dx[n][s][c]
 * = dy[n][c] / S in dx's dtype */
int sevc_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                      void* stream);
int sevc_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype,
                                       void* stream);
/* [M][Ca] ++ [M][Cb] -> [M][Ca+Cb] and back (a bit copy) */
int sevc_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                               int elem_bytes, void* stream);
int sevc_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb, int elem_bytes,
                              void* stream);
/* count_include_pad average pooling of [N][T][H][W][C] -> [N][To][Ho][Wo][C], the 19-int parameter block of
 * sevc_avgpool3d_forward (p[1] = C); backward gathers (no atomics) in the CPU scatter's order */
int sevc_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype, void* stream);
int sevc_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype, void* stream);
/* ---- end of channels-last glue ---- */

#ifdef __cplusplus
}
#endif
#endif
