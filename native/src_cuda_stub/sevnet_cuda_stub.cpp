// libsevnet_cuda.so for builds without nvcc: the same C ABI (native/include/sevnet_cuda.h), every
// call answers SEVC_E_NO_CUDA and sevc_available() answers 0. Including the header makes the compiler
// check each definition against the contract. Not in native/src: that folder is libsevnet's.
#include "sevnet_cuda.h"

namespace {
const char kNoCuda[] = "libsevnet_cuda was built without nvcc: no CUDA kernels";
}

extern "C" {

int sevc_available(void) { return 0; }
const char* sevc_last_error(void) { return kNoCuda; }
int sevc_runtime_version(void) { return SEVC_E_NO_CUDA; }
int sevc_profiler_range(int start) { return SEVC_E_NO_CUDA; }
int sevc_fill(float* y, float value, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_relu_forward(const float* x, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_relu_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_add(const float* a, const float* b, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_add_relu(const float* a, const float* b, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_mul(const float* a, const float* b, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_axpby(float alpha, const float* x, float beta, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_axpby_list(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes, int count,
                    void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_scale(const float* x, float alpha, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_sigmoid_forward(const float* x, float* y, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_concat_channels(const float* a, const float* b, float* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                         void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_split_channels(const float* y, float* a, float* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                        void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_channel_scale_forward(const float* x, const float* g, float* y, int64_t N, int64_t C, int64_t S,
                               void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_channel_scale_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_train_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                 float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                                 int64_t S, float eps, float momentum, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_eval_forward(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var, float* y, int64_t N, int64_t C, int64_t S, float eps,
                                int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* save_mean,
                            const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t N, int64_t C,
                            int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_avgpool3d_forward(const float* x, float* y, const int* p, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_avgpool3d_backward(const float* dy, float* dx, const int* p, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_softmax_xent_forward(const float* logits, const int64_t* labels, float* probs, float* loss, int64_t N,
                              int64_t K, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_softmax_xent_backward(const float* probs, const int64_t* labels, float* dlogits, float scale, int64_t N,
                               int64_t K, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bce_logits_forward(const float* logits, const float* targets, float* loss, int64_t N, int64_t K,
                            void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bce_logits_backward(const float* logits, const float* targets, float* dlogits, float scale, int64_t N,
                             int64_t K, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_softmax(const float* x, float* y, int64_t N, int64_t K, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_sgd_momentum_step(float* w, const float* g, float* v, int64_t n, float lr, float momentum,
                           float weight_decay, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_sgd_momentum_step_multi(float* const* w, const float* const* g, float* const* v, const int64_t* sizes,
                                 const int64_t* chunk_prefix, int count, int64_t chunks, int64_t chunk, float lr,
                                 float momentum, float weight_decay, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_all_finite_multi(const float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count,
                          int64_t chunks, int64_t chunk, int* nonfinite, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_scale_multi(float* const* x, const int64_t* sizes, const int64_t* chunk_prefix, int count, int64_t chunks,
                     int64_t chunk, float alpha, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_sum(const float* x, int64_t n, double* out, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_temporal_conv3_forward(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int T, int64_t S,
                                      void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int T, int64_t S,
                                        void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv_ndhwc_forward(const void* x, const void* w, const float* bias, const void* residual, int relu,
                                    void* y, int N, int C, int cg, int T, int H, int W, int s, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                          int W, int s, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg, int T,
                                            int H, int W, int s, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_tc_forward(const void* x, const void* w, const float* bias, const void* residual,
                                         int relu, void* y, int N, int C, int T, int64_t S, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_tc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int T, int64_t S,
                                               int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_tc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int T,
                                                 int64_t S, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T, int64_t S,
                                          void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C, int T,
                                           int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C, int T,
                                                int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                 int T, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C, int T,
                                                  int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N, int C,
                                                   int T, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}

int sevc_pointwise_conv_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                const float* beta, const float* running_mean, const float* running_var, float eps,
                                int relu, float* y, int N, int Cin, int Cout, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_pointwise_conv_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                 float* y, float* save_mean, float* save_invstd, float* running_mean,
                                 float* running_var, float eps, float momentum, int relu, int N, int Cin, int Cout,
                                 int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_forward(const float* x, const float* w, const float* bias, const float* gamma,
                                 const float* beta, const float* running_mean, const float* running_var, float eps,
                                 int relu, float* y, int N, int C, int cg, int T, int H, int W, int stride,
                                 void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_bn_train(const float* x, const float* w, const float* gamma, const float* beta, float* z,
                                  float* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, float eps, float momentum, int relu, int N, int C, int cg, int T,
                                  int H, int W, int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_backward_data(const float* dy, const float* w, float* dx, int N, int C, int cg, int T, int H,
                                       int W, int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_backward_weight(const float* x, const float* dy, float* dw, int N, int C, int cg, int T,
                                         int H, int W, int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_train_forward(const float* x, const float* residual, const float* gamma, const float* beta, float* y,
                              float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t N,
                              int64_t C, int64_t S, float eps, float momentum, int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward(const float* x, const float* y, const float* dy, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, float* dresidual, int64_t N,
                         int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}

// ---- 16-bit inference glue (kernels/half_ops.cu) ----
int sevc_half_bias_act(void* y, const float* bias, const void* residual, int64_t N, int64_t C, int64_t S, int relu,
                       int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_add_act(const void* a, const void* b, void* y, int64_t n, int relu, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_avgpool3d_forward(const void* x, void* y, const int* p, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_global_avgpool_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_channel_scale_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                    int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_concat_channels(const void* a, const void* b, void* y, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                              void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_cast(const void* x, int from, void* y, int to, int64_t n, void* stream) { return SEVC_E_NO_CUDA; }
// ---- end of the 16-bit block ----

/* ---- the batch-norm glue in 16-bit storage ---- */
int sevc_grouped_conv3x3_forward_bf16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                      const float* beta, const float* running_mean, const float* running_var,
                                      float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                      int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_forward_f16(const uint16_t* x, const uint16_t* w, const float* bias, const float* gamma,
                                     const float* beta, const float* running_mean, const float* running_var,
                                     float eps, int relu, uint16_t* y, int N, int C, int cg, int T, int H, int W,
                                     int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                            int T, int H, int W, int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_grouped_conv3x3_backward_data_f16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C, int cg,
                                           int T, int H, int W, int stride, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_train_forward_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                   uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                   float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                   int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_train_forward_f16(const uint16_t* x, const uint16_t* residual, const float* gamma, const float* beta,
                                  uint16_t* y, float* save_mean, float* save_invstd, float* running_mean,
                                  float* running_var, int64_t N, int64_t C, int64_t S, float eps, float momentum,
                                  int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                              const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                              float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                             const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                             float* dbeta, uint16_t* dresidual, int64_t N, int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}

// ---- 16-bit training glue (kernels/half_ops.cu) ----
int sevc_half_relu_backward(const void* y, const void* dy, void* dx, int64_t n, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_axpby(float alpha, const void* x, float beta, void* y, int64_t n, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_avgpool3d_backward(const void* dy, void* dx, const int* p, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_split_channels(const void* y, void* a, void* b, int64_t N, int64_t Ca, int64_t Cb, int64_t S,
                             void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_channel_scale_backward(const void* x, const float* g, const void* dy, void* dx, float* dg, int64_t N,
                                     int64_t C, int64_t S, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_half_batchnorm_eval_forward(const void* x, const float* gamma, const float* beta, const float* running_mean,
                                     const float* running_var, void* y, int64_t N, int64_t C, int64_t S, float eps,
                                     int relu, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
// ---- end of the 16-bit training glue ----

// ---- channels-last batch norm ----
int64_t sevc_bn_act_ndhwc_scratch_bytes(int64_t M, int64_t C) { return SEVC_E_NO_CUDA; }
int sevc_bn_act_train_forward_ndhwc_f32(const float* x, const float* residual, const float* gamma, const float* beta,
                                        float* y, float* save_mean, float* save_invstd, float* running_mean,
                                        float* running_var, int64_t M, int64_t C, float eps, float momentum, int relu,
                                        void* scratch, int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_train_forward_ndhwc_bf16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                         const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                         float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                         float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_train_forward_ndhwc_f16(const uint16_t* x, const uint16_t* residual, const float* gamma,
                                        const float* beta, uint16_t* y, float* save_mean, float* save_invstd,
                                        float* running_mean, float* running_var, int64_t M, int64_t C, float eps,
                                        float momentum, int relu, void* scratch, int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward_ndhwc_f32(const float* x, const float* y, const float* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                   float* dbeta, float* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                    int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_act_backward_ndhwc_f16(const uint16_t* x, const uint16_t* y, const uint16_t* dy, const float* gamma,
                                   const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                   float* dbeta, uint16_t* dresidual, int64_t M, int64_t C, void* scratch,
                                   int64_t scratch_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_relu_backward_ndhwc_f32(const float* x, const float* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, float* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_relu_backward_ndhwc_bf16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                     const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                     float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                     void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bn_relu_backward_ndhwc_f16(const uint16_t* x, const uint16_t* dy, const float* gamma, const float* beta,
                                    const float* save_mean, const float* save_invstd, uint16_t* dx, float* dgamma,
                                    float* dbeta, int64_t M, int64_t C, void* scratch, int64_t scratch_bytes,
                                    void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_eval_ndhwc_f32(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_eval_ndhwc_bf16(const uint16_t* x, const float* gamma, const float* beta,
                                   const float* running_mean, const float* running_var, uint16_t* y, int64_t M,
                                   int64_t C, float eps, int relu, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_batchnorm_eval_ndhwc_f16(const uint16_t* x, const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, uint16_t* y, int64_t M, int64_t C, float eps, int relu,
                                  void* stream) {
  return SEVC_E_NO_CUDA;
}
// ---- end of channels-last batch norm ----

// ---- channels-last glue (kernels/channels_ndhwc.cu) ----
int sevc_ncdhw_to_ndhwc(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_ndhwc_to_ncdhw(const void* x, void* y, int64_t N, int64_t C, int64_t S, int elem_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu, int dtype,
                        void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S, int dtype,
                                     void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                      int64_t C, int64_t S, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype,
                                      void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype,
                                       void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                               int elem_bytes, void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb, int elem_bytes,
                              void* stream) {
  return SEVC_E_NO_CUDA;
}
int sevc_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype, void* stream) { return SEVC_E_NO_CUDA; }
int sevc_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype, void* stream) {
  return SEVC_E_NO_CUDA;
}
// ---- end of channels-last glue ----

}  // extern "C"
