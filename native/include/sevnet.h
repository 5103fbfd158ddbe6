/*
 * sevnet native core — the C ABI that JavaCPP binds (dev.sevnet.backend.cpu.NativeCore).
 *
 * Conventions
 *  - Activations are NCDHW float32, contiguous ("T" is the D axis). Weights are PyTorch-shaped.
 *  - Every function is extern "C", takes raw pointers and plain integers, and never allocates memory
 *    the caller has to free. Java validates every shape before calling: these functions trust
 *    their arguments.
 *  - Functions that produce a gradient *overwrite* their output (autograd accumulates in Java).
 *  - Multi-threaded with OpenMP; sev_set_num_threads() bounds the team of every calling thread.
 *  - Return value (int): 0 on success, a negative SEV_E* code otherwise (see sev_last_error()).
 */
#ifndef SEVNET_H
#define SEVNET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEV_OK 0
#define SEV_EINVAL (-1)
#define SEV_ENOMEM (-2)
#define SEV_ECUDA (-3)
#define SEV_EUNSUPPORTED (-4) /* the operation needs hardware this machine lacks */

/* ---- library ---- */
const char* sev_version(void);
const char* sev_last_error(void);          /* thread-local message of the last failure */
/* Team size of every thread's native calls from now on (each thread takes it at its next call); <= 0: all cores.
 * get: that setting, or OpenMP's default when the library loaded (OMP_NUM_THREADS, else the cores) before any set. */
int sev_set_num_threads(int n);
int sev_get_num_threads(void);
/* The calling thread's own team size for its native calls from now on, over sev_set_num_threads' (one of several
 * threads running models at once: a share of the cores each); <= 0: back to the library's setting. get: the team size
 * the calling thread's calls use. */
int sev_set_thread_num_threads(int n);
int sev_get_thread_num_threads(void);
/* Denormal results flushed to zero (MXCSR.FTZ) inside every floating-point entry point, on the calling thread and
 * its OpenMP team: 1 (the default) flush, 0 IEEE gradual underflow. Inputs are never read as zero (no DAZ). The
 * calling thread's MXCSR is restored before each call returns. get: the mode in effect (0 off x86). */
int sev_set_flush_denormals(int on);
int sev_get_flush_denormals(void);
/* a * b computed under the mode on the calling thread (out[0]) and on each thread of its OpenMP team (out[1..]);
 * returns how many team values were written (at most cap - 1). For tests. */
int sev_denormal_probe(float a, float b, float* out, int cap);
/* Asks the kernel for transparent huge pages (madvise MADV_HUGEPAGE) on the 2 MiB-aligned interior of a host block of
 * at least 4 MiB: 1 if advised, 0 if not (too small, not Linux, or refused). Advice only. */
int sev_advise_huge_pages(void* p, int64_t bytes);
/* "avx512f avx2 fma ..." as seen by the CPU */
const char* sev_cpu_features(void);
/* which build of the vectorized CPU kernels (GEMM, convolutions, pooling, loss scaling) runs: 2 AVX-512, 1 AVX2+FMA,
 * 0 the x86-64 baseline; the best this CPU has, capped by the environment variable SEV_ISA=avx2|scalar (read once) */
int sev_cpu_kernels(void);
/* 1 when the library holds CUDA kernels (built with nvcc), 0 otherwise */
int sev_has_cuda_kernels(void);
/* Writes a JSON description of the CUDA environment (driver/runtime versions, GPUs, cuDNN/cuBLAS
 * availability, or the error that makes the GPU path unavailable) into buf; returns usable GPUs. */
int sev_cuda_probe(char* buf, int len);

/* ---- 3-D convolution (no bias in the model; bias optional for folded inference) ----
 * p[] holds 18 ints: N, Cin, T, H, W, Cout, kT, kH, kW, sT, sH, sW, pT, pH, pW, groups, To, Ho
 * and Wo is p[18] (19 ints in all):
 *   index: 0 N, 1 Cin, 2 T, 3 H, 4 W, 5 Cout, 6 kT, 7 kH, 8 kW, 9 sT, 10 sH, 11 sW,
 *          12 pT, 13 pH, 14 pW, 15 groups, 16 To, 17 Ho, 18 Wo
 * x [N,Cin,T,H,W], w [Cout, Cin/groups, kT,kH,kW], y [N,Cout,To,Ho,Wo].
 */
#define SEV_CONV_NPARAMS 19
/* y = conv(x, w) (+ bias[c] if bias != NULL) (then ReLU if relu != 0) */
int sev_conv3d_forward(const float* x, const float* w, const float* bias, float* y, const int* p, int relu);
/* y = act(conv(x, w) + bias + res), res of y's shape: the residual added in the conv's epilogue (the
 * pointwise and temporal paths; others add it in one pass after the conv) */
int sev_conv3d_forward_residual(const float* x, const float* w, const float* bias, const float* res, float* y,
                                const int* p, int relu);
/* evaluation: y = act(batchnorm_eval(conv(x, w)) [+ res]) with the running statistics (gamma/beta NULL: 1/0),
 * res (NULL: none) of y's shape, all in the conv's epilogue: bit for bit sev_conv3d_forward (no bias), then
 * sev_batchnorm_eval_forward (with the ReLU when there is no res), then sev_add_relu (relu) or sev_add of res */
int sev_conv3d_batchnorm_eval_forward(const float* x, const float* w, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, float eps,
                                      const float* res, float* y, const int* p, int relu);
/* the same result by plain nested loops (slow): the reference for tests and benchmarks */
int sev_conv3d_forward_reference(const float* x, const float* w, const float* bias, float* y, const int* p, int relu);
/* dx = conv_transpose(dy, w) */
int sev_conv3d_backward_data(const float* dy, const float* w, float* dx, const int* p);
/* dw = sum_n dy (*) x */
int sev_conv3d_backward_weight(const float* x, const float* dy, float* dw, const int* p);

/* ---- temporal 3x1x1 conv, C -> C, padding 1 in time, no bias, channels-last (native/src/temporal_conv_ndhwc.cpp) ----
 * The references of the CUDA kernels sevc_temporal_conv3_ndhwc_* (sevnet_cuda.h), by plain loops (slow):
 * x, y, dy, dx [N][T][S][C] (NDHWC, S = H*W); w [C][C][3] (PyTorch [C,C,3,1,1], w[co][ci][k]) in the storage
 * type of the call; dw fp32 [C][C][3]. Sums in double, each output rounded once (bf16: raw uint16_t bits,
 * widened exactly, rounded to nearest even straight from the double sum).
 *   forward        y[n,t,s,co]  = sum_k sum_ci w[co][ci][k] x[n, t+k-1, s, ci]   (0 outside 0..T-1)
 *   backward_data  dx[n,t,s,ci] = sum_k sum_co w[co][ci][k] dy[n, t-k+1, s, co]
 *   backward_weight dw[co][ci][k] = sum_{n,t,s} dy[n,t,s,co] x[n, t+k-1, s, ci] */
int sev_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T, int64_t S);
int sev_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C, int T,
                                          int64_t S);
int sev_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C, int T,
                                               int64_t S);
int sev_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                int T, int64_t S);
int sev_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C, int T,
                                                 int64_t S);
int sev_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N, int C,
                                                  int T, int64_t S);
/* ---- the block's grouped 1x3x3 conv channels-last (native/src/grouped_conv_ndhwc.cpp) ----
 * The references of sevc_grouped_conv_ndhwc_* (sevnet_cuda.h), by plain loops (slow): C -> C, cg channels per
 * group (1..16), padding (0,1,1), stride (1,s,s), s 1 or 2; x, dx [N][T][H][W][C], y, dy [N][T][Ho][Wo][C]
 * (Ho = (H-1)/s + 1), w KTRSC [C][1][3][3][cg] in dtype 0 (fp32), 1 (bf16) or 2 (fp16); dw fp32 KTRSC. Sums in
 * double, each output rounded once. SEV_EINVAL with the reason on bad arguments. */
int sev_grouped_conv_ndhwc_forward(const void* x, const void* w, void* y, int N, int C, int cg, int T, int H, int W,
                                   int s, int dtype);
int sev_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                         int W, int s, int dtype);
int sev_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg, int T, int H,
                                           int W, int s, int dtype);
/* [N, C, S] <-> [N, S, C] (S = T*H*W): NCDHW <-> NDHWC, fp32 */
int sev_ncdhw_to_ndhwc(const float* x, float* y, int64_t N, int64_t C, int64_t S);
int sev_ndhwc_to_ncdhw(const float* x, float* y, int64_t N, int64_t C, int64_t S);

/* ---- GEMM (row-major): C = alpha * op(A) * op(B) + beta * C ---- */
int sev_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

/* ---- bf16 compute for fp32 convolutions (native/src/gemm_bf16.cpp) ----
 * SEV_FP32_PRECISION_BF16: the GEMMs of the pointwise, temporal and im2col convolutions (forward, backward-data,
 * backward-weight) and, with the AVX512-BF16 kernel, the direct 1xkxk convolutions' (the grouped convs and the stem:
 * the forward, and at stride 1 the backward passes too) round their fp32 operands to bf16 (nearest even)
 * and accumulate in fp32 — on the AMX tiles where the CPU has AMX-BF16 (sev_amx_bf16_available), else with
 * AVX512-BF16's VDPBF16PS (AMD Zen 4/5, Intel Cooper Lake): sev_bf16_kernel; without either, and by
 * default (SEV_FP32_PRECISION_IEEE), fp32 throughout. Process-wide. sev_get_fp32_precision answers
 * the setting (BF16 also where it computes as IEEE). The bf16 conversions and tile products flush denormal values
 * (|x| < 2^-126) to zero whatever the MXCSR says. */
#define SEV_FP32_PRECISION_IEEE 0
#define SEV_FP32_PRECISION_BF16 1
int sev_set_fp32_precision(int precision);
int sev_get_fp32_precision(void);
/* 1 when the CPU has AMX-BF16 and the OS granted its tile state to this process (0 with the ISA capped below
 * AVX-512: SEV_ISA=avx2|scalar) */
int sev_amx_bf16_available(void);
/* The bf16 compute kernel: SEV_BF16_KERNEL_NONE (no bf16 on this CPU: BF16 computes as IEEE), _AVX512
 * (AVX512-BF16), _AMX (AMX-BF16). By default (_AUTO) the best the CPU has; sev_set_bf16_kernel picks one the CPU has
 * (SEV_EUNSUPPORTED otherwise; _NONE always: BF16 then computes as IEEE) — for tests and A/B, process-wide.
 * sev_bf16_kernel answers the kernel in use, sev_bf16_kernel_available whether the CPU has one (NONE: always). */
#define SEV_BF16_KERNEL_AUTO (-1)
#define SEV_BF16_KERNEL_NONE 0
#define SEV_BF16_KERNEL_AVX512 1
#define SEV_BF16_KERNEL_AMX 2
int sev_bf16_kernel(void);
int sev_bf16_kernel_available(int kernel);
int sev_set_bf16_kernel(int kernel);
/* C = A op(B) + beta C (row-major; op(B) = B, or B^T with transB: B stored N x K) with A and B rounded to bf16 and
 * fp32 accumulation on sev_bf16_kernel's kernel, whatever the fp32 precision setting; beta == 0 never reads C.
 * SEV_EUNSUPPORTED without a bf16 kernel, SEV_ENOMEM when its work buffers cannot be allocated (C untouched), SEV_EINVAL on bad sizes. */
int sev_sgemm_bf16(int transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float beta, float* C, int64_t ldc);

/* ---- batch norm over [N, C, S] (S = T*H*W) ---- */
/* training: batch statistics; writes mean[C], invstd[C] (for backward), y; updates running stats
 * in place with PyTorch semantics (running_var uses the unbiased variance) */
int sev_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y,
                                float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                int64_t N, int64_t C, int64_t S, float eps, float momentum);
/* eval: running statistics; relu != 0 fuses the ReLU */
int sev_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float* y,
                               int64_t N, int64_t C, int64_t S, float eps, int relu);
/* backward of the training form; dx, dgamma, dbeta overwritten */
int sev_batchnorm_backward(const float* x, const float* dy, const float* gamma,
                           const float* save_mean, const float* save_invstd,
                           float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C, int64_t S);
/* the training form + residual (NULL: none) + ReLU (relu != 0) in one pass over y: bit for bit
 * sev_batchnorm_train_forward, then sev_add / sev_add_relu of the residual or sev_relu_forward */
int sev_batchnorm_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta,
                                    float* y, float* save_mean, float* save_invstd, float* running_mean,
                                    float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                    int relu);
/* its backward with the ReLU's mask read from y (the forward's output) in its two passes: bit for bit
 * sev_relu_backward(y, dy) then sev_batchnorm_backward; dresidual (NULL: not wanted) gets the masked dy */
int sev_batchnorm_act_backward(const float* x, const float* y, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                               float* dbeta, float* dresidual, int64_t N, int64_t C, int64_t S);
/* the backward of relu(batch norm(x)) without a residual, its ReLU mask recomputed from x instead of read from y:
 * y > 0 exactly where the forward's x * a + b > 0 (a, b from gamma, beta and the saved statistics, computed and
 * applied as sev_batchnorm_act_train_forward does), so bit for bit sev_batchnorm_act_backward with that y — one
 * tensor less read in each of its two passes. gamma, beta NULL: 1, 0. */
int sev_batchnorm_relu_backward(const float* x, const float* dy, const float* gamma, const float* beta,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, int64_t N, int64_t C, int64_t S);

/* ---- batch norm (training) + residual + ReLU in 16-bit storage (native/src/batchnorm_half.cpp) ----
 * The references of sevc_bn_act_*_bf16/_f16 (sevnet_cuda.h), PyTorch autocast's batch norm: x, residual, y, dy,
 * dx, dresidual bf16 / IEEE fp16 as raw uint16_t bits; gamma, beta, running stats, save_mean/invstd, dgamma,
 * dbeta fp32. The 16-bit inputs are widened exactly and the fp32 ops run as composed above
 * (sev_batchnorm_train_forward, then sev_add of the residual when not NULL, then sev_relu_forward when relu != 0;
 * backward: sev_relu_backward on the widened y when y != NULL, then sev_batchnorm_backward); y, dx and dresidual
 * (= the masked dy, exact) are rounded once to nearest even (fp16: beyond 65504 after rounding is +-inf). */
int sev_batchnorm_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                         float eps, float momentum, int relu);
int sev_batchnorm_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                        float eps, float momentum, int relu);
int sev_batchnorm_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S);
int sev_batchnorm_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S);

/* ---- element-wise ---- */
int sev_relu_forward(const float* x, float* y, int64_t n);
int sev_relu_backward(const float* y, const float* dy, float* dx, int64_t n);   /* uses the output */
int sev_add(const float* a, const float* b, float* y, int64_t n);               /* y = a + b */
int sev_axpby(float alpha, const float* x, float beta, float* y, int64_t n);    /* y = alpha x + beta y */
/* sev_axpby over a list of tensors (x, y, sizes: host arrays of `count` pointers and element counts; the y's must
 * not overlap one another or any x), one parallel region over chunks of them all (amp.cpp, beside sev_scale_all);
 * bit for bit sev_axpby per tensor */
int sev_axpby_all(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes, int count);
int sev_scale(const float* x, float alpha, float* y, int64_t n);
int sev_fill(float* y, float value, int64_t n);
int sev_sigmoid_forward(const float* x, float* y, int64_t n);
int sev_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n);
/* dropout: mask is written (0 or 1/(1-p)), y = x * mask; seed + counter make it reproducible */
int sev_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed);
int sev_mul(const float* a, const float* b, float* y, int64_t n);               /* y = a * b */
/* fused residual tail: y = relu(a + b) */
int sev_add_relu(const float* a, const float* b, float* y, int64_t n);

/* ---- channel concat / split of NCDHW tensors: [N, Ca, S] ++ [N, Cb, S] -> [N, Ca+Cb, S] ---- */
int sev_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S);
int sev_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S);

/* ---- broadcast multiply (SE excite): y[n,c,s] = x[n,c,s] * g[n,c] ---- */
int sev_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S);
/* dx = dy * g;  dg[n,c] = sum_s dy * x */
int sev_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                               int64_t N, int64_t C, int64_t S);

/* ---- pooling ---- */
/* avg-pool 3-d, count_include_pad semantics; p[] uses the conv layout with Cout = Cin, groups = Cin */
int sev_avgpool3d_forward(const float* x, float* y, const int* p);
int sev_avgpool3d_backward(const float* dy, float* dx, const int* p);
/* the plain loops the two above are tested against (bit for bit: the same additions per element, in order) */
int sev_avgpool3d_forward_reference(const float* x, float* y, const int* p);
int sev_avgpool3d_backward_reference(const float* dy, float* dx, const int* p);
/* global average pool: [N, C, S] -> [N, C] */
int sev_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S);
int sev_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S);

/* ---- losses (batch mean) ---- */
/* logits [N, K], labels int64 [N]; writes loss (scalar), probs [N,K] (softmax, kept for backward) */
int sev_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss,
                             int64_t N, int64_t K);
/* dlogits = (probs - onehot) * scale / N */
int sev_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale,
                              int64_t N, int64_t K);
/* targets float [N, K] in {0,1}; mean over N*K */
int sev_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K);
int sev_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale,
                            int64_t N, int64_t K);
/* row-wise softmax [N, K] */
int sev_softmax(const float* x, float* y, int64_t N, int64_t K);

/* ---- optimizer: SGD with momentum and (coupled, PyTorch-style) weight decay ---- */
/* g' = g + wd * w; v = momentum * v + g'; w -= lr * v */
int sev_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                          float weight_decay);

/* ---- loss scaling (fp16 training): all tensors at once (amp.cpp) ----
 * ptrs: `count` float32 arrays, sizes their element counts (host arrays; an empty tensor may be NULL).
 * sev_all_finite: 1 when no element is +-inf or NaN (also for count 0), 0 when one is, SEV_EINVAL on bad
 * arguments. sev_scale_all: every element x = alpha * x in place (as sev_axpby(alpha, x, 0, x)); the
 * tensors must not overlap. */
int sev_all_finite(const float* const* ptrs, const int64_t* sizes, int count);
int sev_scale_all(float* const* ptrs, const int64_t* sizes, int count, float alpha);

/* ---- CUDA kernel bodies run on the host (native/src/kernels_hostrun.cpp) ----
 * Each sev_hostrun_X drives the __host__ __device__ bodies of the kernels/ headers that the CUDA kernel
 * sevc_X (sevnet_cuda.h) runs, by a host loop over the kernel's grid (and, for reductions, over the
 * block's threads, summed in the block's tree order). Same arguments as sevc_X without the stream;
 * every pointer is a HOST pointer. For tests: the results are compared with the CPU ops above. */
int sev_hostrun_fill(float* y, float value, int64_t n);
int sev_hostrun_relu_forward(const float* x, float* y, int64_t n);
int sev_hostrun_relu_backward(const float* y, const float* dy, float* dx, int64_t n);
int sev_hostrun_add(const float* a, const float* b, float* y, int64_t n);
int sev_hostrun_add_relu(const float* a, const float* b, float* y, int64_t n);
int sev_hostrun_mul(const float* a, const float* b, float* y, int64_t n);
int sev_hostrun_axpby(float alpha, const float* x, float beta, float* y, int64_t n);
int sev_hostrun_scale(const float* x, float alpha, float* y, int64_t n);
int sev_hostrun_sigmoid_forward(const float* x, float* y, int64_t n);
int sev_hostrun_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n);
int sev_hostrun_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed);
/* in place: y[n,c,s] += bias[c] (then ReLU when relu != 0) — the conv epilogue */
int sev_hostrun_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu);
int sev_hostrun_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb,
                                int64_t S);
int sev_hostrun_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S);
int sev_hostrun_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S);
int sev_hostrun_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                                       int64_t N, int64_t C, int64_t S);
int sev_hostrun_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y,
                                        float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                        int64_t N, int64_t C, int64_t S, float eps, float momentum);
int sev_hostrun_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta,
                                       const float* running_mean, const float* running_var, float* y, int64_t N,
                                       int64_t C, int64_t S, float eps, int relu);
int sev_hostrun_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                                   const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N,
                                   int64_t C, int64_t S);
int sev_hostrun_avgpool3d_forward(const float* x, float* y, const int* p);
int sev_hostrun_avgpool3d_backward(const float* dy, float* dx, const int* p);
int sev_hostrun_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S);
int sev_hostrun_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S);
int sev_hostrun_softmax(const float* x, float* y, int64_t N, int64_t K);
/* a label outside [0, K) gives a NaN loss (as the kernel, which cannot report it) */
int sev_hostrun_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                                     int64_t K);
int sev_hostrun_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale,
                                      int64_t N, int64_t K);
int sev_hostrun_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K);
int sev_hostrun_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                                    int64_t K);
int sev_hostrun_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                                  float weight_decay);
/* w, g, v: HOST arrays of `count` host pointers; sizes and chunk_prefix (count + 1) host arrays; the device
   kernel's blocks (one per chunk of `chunk` elements) run one after another */
int sev_hostrun_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                        const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk,
                                        float lr, float momentum, float weight_decay);
int sev_hostrun_sum(const float* x, int64_t n, double* out);
/* x, sizes: HOST arrays of host pointers / counts; *nonfinite cleared, then 1 when any element is not finite */
int sev_hostrun_all_finite_multi(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                                 int64_t chunks, int64_t chunk, int* nonfinite);
/* sevc_axpby_list's batches and blocks on the host (x, y: host pointers) */
int sev_hostrun_axpby_list(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes,
                           int count);
int sev_hostrun_scale_multi(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                            int64_t chunks, int64_t chunk, float alpha);
int sev_hostrun_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S);
int sev_hostrun_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T,
                                             int64_t S);
int sev_hostrun_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T,
                                               int64_t S);
/* channels-last temporal conv (kernels/temporal_conv_ndhwc.cu). Unlike the drivers above these check their
 * arguments as sevc_temporal_conv3_ndhwc_* do (the same function): SEV_EINVAL with the reason */
int sev_hostrun_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T,
                                                 int64_t S);
int sev_hostrun_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C,
                                                  int T, int64_t S);
int sev_hostrun_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C,
                                                       int T, int64_t S);
int sev_hostrun_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N,
                                                        int C, int T, int64_t S);
int sev_hostrun_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C,
                                                         int T, int64_t S);
int sev_hostrun_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N,
                                                          int C, int T, int64_t S);
/* channels-last grouped 1x3x3 conv (kernels/grouped_conv_ndhwc.cu): the kernels' bodies, every block on the host */
int sev_hostrun_grouped_conv_ndhwc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                           int relu, void* y, int N, int C, int cg, int T, int H, int W, int s,
                                           int dtype);
int sev_hostrun_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T,
                                                 int H, int W, int s, int dtype);
int sev_hostrun_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg,
                                                   int T, int H, int W, int s, int dtype);
/* tensor-core channels-last temporal conv (kernels/temporal_conv_ndhwc_tc.cu): the kernel's loads and epilogue, its
 * WMMA as loops (fp32 operands rounded to TF32), every block on the host; arguments checked as the launcher does */
int sev_hostrun_temporal_conv3_ndhwc_tc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                                int relu, void* y, int N, int C, int T, int64_t S, int dtype);
int sev_hostrun_temporal_conv3_ndhwc_tc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int T,
                                                      int64_t S, int dtype);
int sev_hostrun_temporal_conv3_ndhwc_tc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int T,
                                                        int64_t S, int dtype);
/* fused conv -> BN -> ReLU (kernels/conv_bn_relu.cu; sevnet_cuda.h says what each computes) */
int sev_hostrun_pointwise_conv_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                       const float* beta, const float* running_mean, const float* running_var,
                                       float eps, int relu, float* y, int N, int Cin, int Cout, int64_t S);
int sev_hostrun_pointwise_conv_bn_train(const float* x, const float* w, const float* gamma, const float* beta,
                                        float* z, float* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, float eps, float momentum, int relu,
                                        int N, int Cin, int Cout, int64_t S);
int sev_hostrun_grouped_conv3x3_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                        const float* beta, const float* running_mean, const float* running_var,
                                        float eps, int relu, float* y, int N, int C, int cg, int T, int H, int W,
                                        int stride);
/* the 16-bit inference form of sev_hostrun_grouped_conv3x3_forward: x, w, y bf16 / fp16 bits, the rest fp32 */
int sev_hostrun_grouped_conv3x3_forward_bf16(const uint16_t* x, const uint16_t* w, const float* bias,
                                             const float* gamma, const float* beta, const float* running_mean,
                                             const float* running_var, float eps, int relu, uint16_t* y, int N, int C,
                                             int cg, int T, int H, int W, int stride);
int sev_hostrun_grouped_conv3x3_forward_f16(const uint16_t* x, const uint16_t* w, const float* bias,
                                            const float* gamma, const float* beta, const float* running_mean,
                                            const float* running_var, float eps, int relu, uint16_t* y, int N, int C,
                                            int cg, int T, int H, int W, int stride);
int sev_hostrun_grouped_conv3x3_bn_train(const float* x, const float* w, const float* gamma, const float* beta,
                                         float* z, float* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, float eps, float momentum, int relu,
                                         int N, int C, int cg, int T, int H, int W, int stride);
int sev_hostrun_grouped_conv3x3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int cg, int T,
                                              int H, int W, int stride);
/* its 16-bit form: dy, w, dx bf16 / fp16 bits, dx rounded once */
int sev_hostrun_grouped_conv3x3_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                   int cg, int T, int H, int W, int stride);
int sev_hostrun_grouped_conv3x3_backward_data_f16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                  int cg, int T, int H, int W, int stride);
int sev_hostrun_grouped_conv3x3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int cg,
                                                int T, int H, int W, int stride);
int sev_hostrun_bn_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta,
                                     float* y, float* save_mean, float* save_invstd, float* running_mean,
                                     float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                     int relu);
int sev_hostrun_bn_act_backward(const float* x, const float* y, const float* dy, const float* gamma,
                                const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                float* dbeta, float* dresidual, int64_t N, int64_t C, int64_t S);
/* the batch-norm glue's bodies in 16-bit storage (sevc_bn_act_*_bf16/_f16): arguments as the fp32 drivers above,
 * the 16-bit tensors as raw uint16_t bits */
int sev_hostrun_bn_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                          const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                          float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                          float eps, float momentum, int relu);
int sev_hostrun_bn_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                                         float eps, float momentum, int relu);
int sev_hostrun_bn_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                     const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                     float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S);
int sev_hostrun_bn_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S);

/* ---- reductions ---- */
int sev_sum(const float* x, int64_t n, double* out);


/* ---- int8 inference ---- (native/src/int8.cpp)
 * u8 activations, "blocked": [N][ceil(C/4)][T][H][W][4] (4 channels of one position per 32-bit word,
 * channels past C in the last block 0), one scale per channel and one zero point per tensor (zp 0
 * after a ReLU, 128 for the signed input clip). Weights s8, symmetric, one scale per output channel.
 * A conv reads x with one scale x_scale (per-channel input scales are folded into the weights before
 * packing), accumulates u8 x s8 in int32 (AVX-512 VNNI where the CPU has it, else scalar) and computes
 *   v = fma(acc - zp * sum(wq[c]), m[c], a[c])  [v = fma(res, rs[c], v)]
 * u8 output (y_scale non-null: one scale per output channel of this conv, zp 0):
 *   q = round(clamp(v, 0, 255)), m = x_scale * wscale[c] / y_scale[c], a = bias[c] / y_scale[c],
 *   rs = res_scale[c] / y_scale[c]; written to channels [y_offset, y_offset + Cout) of a blocked tensor
 *   of y_channels channels (y_offset a multiple of 4): the concat of a downsample block is two convs
 *   writing one tensor. The ReLU is the clamp at 0.
 * float output (y_scale null): [N, Cout, To, Ho, Wo], m = x_scale * wscale[c], a = bias[c],
 *   rs = res_scale[c]; ReLU when relu != 0.
 * res (optional, null for none): u8 zp 0, blocked [N][ceil(Cout/4)][To][Ho][Wo][4], res_scale[Cout],
 *   added before the ReLU (the residual of a standard block). p[] is the conv parameter block above;
 *   stride along W 1 or 2. */
/* bytes per plain weight row: K = Cin/groups * kT*kH*kW rounded up to 4 */
int sev_int8_weight_stride(int64_t k);
/* w [cout, k] float32 -> wq [cout, stride] int8 (PyTorch order, padding 0), wscale [cout]: the
 * reference's weights */
int sev_int8_quantize_weights(const float* w, int8_t* wq, float* wscale, int64_t cout, int64_t k);
/* bytes of the packed weights of the conv p[] (the fast kernel's layout, same values and scales as
 * sev_int8_quantize_weights, followed by each output channel's int32 weight sum) */
int64_t sev_int8_packed_weight_bytes(const int* p);
int sev_int8_pack_weights(const float* w, int8_t* wq, float* wscale, const int* p);
int sev_int8_conv(const uint8_t* x, float x_scale, int x_zero_point, const int8_t* wq, const float* wscale,
                  const float* bias, const uint8_t* res, const float* res_scale, void* y, const float* y_scale,
                  int y_channels, int y_offset, const int* p, int relu);
/* the same result (bit for bit) by plain nested loops, with plain weights: the reference for tests */
int sev_int8_conv_reference(const uint8_t* x, float x_scale, int x_zero_point, const int8_t* wq,
                            const float* wscale, const float* bias, const uint8_t* res, const float* res_scale,
                            void* y, const float* y_scale, int y_channels, int y_offset, const int* p, int relu);
/* x [n, c, s] float32 -> channels [q_offset, q_offset + c) of blocked q of q_channels channels:
 * q = clamp(round(x / scale[ch]) + zero_point, 0, 255) */
int sev_int8_quantize(const float* x, uint8_t* q, int64_t n, int64_t c, int64_t s, const float* scale,
                      int zero_point, int64_t q_channels, int64_t q_offset);
/* sev_int8_quantize of x * gate[n][ch] (gate [n, c], or NULL for 1) and, with res (blocked u8 [n, c, s],
 * zero point 0, scales res_scale[c]; or NULL), of relu(x * gate + res * res_scale): squeeze-excite's
 * scale and the block's residual add + ReLU fused into the quantisation */
int sev_int8_quantize_gated(const float* x, const float* gate, const uint8_t* res, const float* res_scale,
                            uint8_t* q, int64_t n, int64_t c, int64_t s, const float* scale, int zero_point,
                            int64_t q_channels, int64_t q_offset);
/* blocked q [n, c, s] -> x [n, c, s] float32: (q - zero_point) * scale[ch] */
int sev_int8_dequantize(const uint8_t* q, float* x, int64_t n, int64_t c, int64_t s, const float* scale,
                        int zero_point);
/* average pool of blocked u8 (zp 0, count_include_pad), same scales: y = round_half_up(sum / window);
 * p[] as sev_avgpool3d_forward */
int sev_int8_avgpool(const uint8_t* x, uint8_t* y, const int* p);
/* global average pool of blocked u8 (zp 0) [n, c, s] -> y [n, c] float32 = mean * scale[ch] */
int sev_int8_global_avgpool(const uint8_t* x, float* y, int64_t n, int64_t c, int64_t s, const float* scale);
/* 1: use the VNNI kernels where the CPU has them (default), 0: the scalar ones; returns the previous use */
int sev_int8_set_kernel(int vnni);
/* 1 when the int8 conv runs the VNNI kernel */
int sev_int8_kernel(void);

/* ---- 16-bit inference glue run on the host (kernels/half_ops.cuh, native/src/kernels_hostrun.cpp): the bodies of
 * the sevc_half_* / sevc_cast kernels (sevnet_cuda.h), same arguments without the stream, HOST pointers; dtype
 * 1 = bfloat16, 2 = fp16 (0 = fp32 for sev_hostrun_cast). For tests: compared with CpuBackend's 16-bit ops. ---- */
int sev_hostrun_half_bias_act(void* y, const float* bias, const void* residual, int64_t N, int64_t C, int64_t S,
                              int relu, int dtype);
int sev_hostrun_half_add_act(const void* a, const void* b, void* y, int64_t n, int relu, int dtype);
int sev_hostrun_half_avgpool3d_forward(const void* x, void* y, const int* p, int dtype);
int sev_hostrun_half_global_avgpool_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype);
int sev_hostrun_half_channel_scale_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                           int dtype);
int sev_hostrun_half_concat_channels(const void* a, const void* b, void* y, int64_t N, int64_t Ca, int64_t Cb,
                                     int64_t S);
int sev_hostrun_cast(const void* x, int from, void* y, int to, int64_t n);
/* ---- end of the 16-bit block ---- */

/* ---- 16-bit training glue run on the host (the end of kernels/half_ops.cuh, native/src/kernels_hostrun.cpp): the
 * bodies of sevc_half_relu_backward / _axpby / _avgpool3d_backward / _split_channels / _channel_scale_backward /
 * _batchnorm_eval_forward (sevnet_cuda.h), same arguments without the stream, HOST pointers; dtype 1 = bfloat16, 2 = fp16. For tests
 * (HalfTrainingOpsHostRunTest): compared with "widen, the fp32 sev_* op, round". ---- */
int sev_hostrun_half_relu_backward(const void* y, const void* dy, void* dx, int64_t n, int dtype);
int sev_hostrun_half_axpby(float alpha, const void* x, float beta, void* y, int64_t n, int dtype);
int sev_hostrun_half_avgpool3d_backward(const void* dy, void* dx, const int* p, int dtype);
int sev_hostrun_half_split_channels(const void* y, void* a, void* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S);
int sev_hostrun_half_channel_scale_backward(const void* x, const float* g, const void* dy, void* dx, float* dg,
                                            int64_t N, int64_t C, int64_t S, int dtype);
int sev_hostrun_half_batchnorm_eval_forward(const void* x, const float* gamma, const float* beta,
                                            const float* running_mean, const float* running_var, void* y, int64_t N,
                                            int64_t C, int64_t S, float eps, int relu, int dtype);
/* ---- end of the 16-bit training glue ---- */

/* ---- channels-last batch norm: x, residual, y, dy, dx, dresidual [M][C], M = N*T*H*W rows, C innermost ----
 * CPU references (native/src/batchnorm_ndhwc.cpp) of sevc_*_ndhwc_* (sevnet_cuda.h): transpose to [1][C][M]
 * (sev_ndhwc_to_ncdhw), the NCDHW references (sev_batchnorm_* composed with sev_add / sev_relu_*; the 16-bit
 * sev_batchnorm_act_*_bf16/_f16; eval: widen, sev_batchnorm_eval_forward, round once), transpose back. */
int sev_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma,
                                        const float* beta, float* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu);
int sev_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                         float momentum, int relu);
int sev_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu);
int sev_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta, float* dresidual, int64_t M, int64_t C);
int sev_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t M, int64_t C);
int sev_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C);
int sev_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu);
int sev_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                   int64_t C, float eps, int relu);
int sev_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                  int64_t C, float eps, int relu);
/* the kernels' bodies run on the host (native/src/hostrun_batchnorm_ndhwc.cpp): the same blocks, the same fixed
 * order of every sum; arguments checked as the kernels check them (SEV_EINVAL with the reason) */
int sev_hostrun_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma,
                                        const float* beta, float* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu);
int sev_hostrun_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                         float momentum, int relu);
int sev_hostrun_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu);
int sev_hostrun_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta, float* dresidual, int64_t M, int64_t C);
int sev_hostrun_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t M, int64_t C);
int sev_hostrun_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C);
/* host drivers of sevc_bn_relu_backward_ndhwc_* (the ReLU mask recomputed from x) */
int sev_hostrun_bn_relu_backward_ndhwc_f32(const float* x, const float* dy, const float* gamma, const float* beta,
                                           const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                           float* dbeta, int64_t M, int64_t C);
int sev_hostrun_bn_relu_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* dy, const float* gamma,
                                            const float* beta, const float* save_mean, const float* save_invstd,
                                            uint16_t* dx, float* dgamma, float* dbeta, int64_t M, int64_t C);
int sev_hostrun_bn_relu_backward_ndhwc_f16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                           const float* save_mean, const float* save_invstd, uint16_t* dx,
                                           float* dgamma, float* dbeta, int64_t M, int64_t C);
int sev_hostrun_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu);
int sev_hostrun_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                   int64_t C, float eps, int relu);
int sev_hostrun_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                  int64_t C, float eps, int relu);
/* ---- end of channels-last batch norm ---- */

/* ---- channels-last glue (CPU references: native/src/channels_ndhwc.cpp; host-run drivers of kernels/
 * channels_ndhwc.cuh: native/src/hostrun_channels_ndhwc.cpp) ----
 * Activations [N][S][C] (S = T*H*W; M = N*S rows), dtype 0 fp32, 1 bf16, 2 fp16 (raw uint16_t bits), elem_bytes 4
 * or 2 for bit copies; arguments as sevc_*_ndhwc* (sevnet_cuda.h) without the stream, HOST pointers. The
 * references transpose to NCDHW, run the NCDHW op above (16-bit: widened exactly, the fp32 op, rounded once to
 * nearest even) and transpose back. Both check their arguments as the kernels' launchers do: SEV_EINVAL and the
 * reason. */
/* sev_ncdhw_to_ndhwc / sev_ndhwc_to_ncdhw above for 2-byte elements (a bit copy) */
int sev_ncdhw_to_ndhwc_u16(const uint16_t* x, uint16_t* y, int64_t N, int64_t C, int64_t S);
int sev_ndhwc_to_ncdhw_u16(const uint16_t* x, uint16_t* y, int64_t N, int64_t C, int64_t S);
int sev_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu, int dtype);
int sev_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                    int dtype);
int sev_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                     int64_t C, int64_t S);
int sev_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype);
int sev_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype);
int sev_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                              int elem_bytes);
int sev_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb, int elem_bytes);
int sev_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype);
int sev_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype);
int sev_hostrun_ncdhw_to_ndhwc(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes);
int sev_hostrun_ndhwc_to_ncdhw(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes);
int sev_hostrun_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu,
                               int dtype);
int sev_hostrun_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                            int dtype);
int sev_hostrun_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                                             int64_t N, int64_t C, int64_t S);
int sev_hostrun_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype);
int sev_hostrun_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype);
int sev_hostrun_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                                      int elem_bytes);
int sev_hostrun_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb,
                                     int elem_bytes);
int sev_hostrun_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype);
int sev_hostrun_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype);
/* ---- end of channels-last glue ---- */

#ifdef __cplusplus
}
#endif
#endif
