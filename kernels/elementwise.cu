// Element-wise ops: one grid-stride loop each over the body in elementwise.cuh.
#include "elementwise.cuh"
#include "sevc_common.cuh"

namespace {
__global__ void fill_kernel(float* y, float value, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = value;
}
__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = relu_element(x[i]);
}
__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx,
                                     int64_t n) {
  SEVC_FOR_EACH(i, n) dx[i] = relu_backward_element(y[i], dy[i]);
}
__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = a[i] + b[i];
}
__global__ void add_relu_kernel(const float* a, const float* b, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = add_relu_element(a[i], b[i]);
}
__global__ void mul_kernel(const float* a, const float* b, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = a[i] * b[i];
}
__global__ void axpby_kernel(float alpha, const float* x, float beta, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = axpby_element(alpha, x[i], beta, y, i);
}
__global__ void axpby_list_kernel(float alpha, float beta, const AxpbyList L) {
  for (int64_t c = blockIdx.x; c < L.prefix[L.count]; c += gridDim.x) {
    int t;
    int64_t begin, end;
    axpby_list_chunk(L, c, &t, &begin, &end);
    const float* x = L.x[t];
    float* y = L.y[t];
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) y[i] = axpby_element(alpha, x[i], beta, y, i);
  }
}
__global__ void scale_kernel(const float* x, float alpha, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = alpha * x[i];
}
__global__ void sigmoid_forward_kernel(const float* x, float* y, int64_t n) {
  SEVC_FOR_EACH(i, n) y[i] = sigmoid_element(x[i]);
}
__global__ void sigmoid_backward_kernel(const float* y, const float* dy,
                                        float* dx, int64_t n) {
  SEVC_FOR_EACH(i, n) dx[i] = sigmoid_backward_element(y[i], dy[i]);
}
__global__ void dropout_forward_kernel(const float* x, float* y, float* mask,
                                       int64_t n, float p, float keep_scale, uint64_t seed) {
  SEVC_FOR_EACH(i, n) {
    const float m = dropout_mask_element(seed, i, p, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}
__global__ void bias_relu_kernel(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu) {
  SEVC_FOR_ROWS(nc, N * C) SEVC_FOR_EACH(s, S) bias_relu_element(y, bias, nc, s, C, S, relu);
}

// n < 0 is an argument error; n == 0 is a no-op (a zero-block launch would be an error)
#define SEVC_ELEMENTWISE(name, n, ...)                                                        \
  do {                                                                                        \
    if ((n) < 0) return sevc::fail(SEVC_E_ARG, #name ": negative element count");             \
    if ((n) == 0) return SEVC_OK;                                                             \
    name##_kernel<<<sevc::blocks_for(n), sevc::kThreads, 0, sevc::as_stream(stream)>>>(__VA_ARGS__); \
    return sevc::check_launch(#name);                                                         \
  } while (0)
}  // namespace

extern "C" {

int sevc_fill(float* y, float value, int64_t n, void* stream) { SEVC_ELEMENTWISE(fill, n, y, value, n); }

int sevc_relu_forward(const float* x, float* y, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(relu_forward, n, x, y, n);
}

int sevc_relu_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(relu_backward, n, y, dy, dx, n);
}

int sevc_add(const float* a, const float* b, float* y, int64_t n, void* stream) { SEVC_ELEMENTWISE(add, n, a, b, y, n); }

int sevc_add_relu(const float* a, const float* b, float* y, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(add_relu, n, a, b, y, n);
}

int sevc_mul(const float* a, const float* b, float* y, int64_t n, void* stream) { SEVC_ELEMENTWISE(mul, n, a, b, y, n); }

int sevc_axpby(float alpha, const float* x, float beta, float* y, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(axpby, n, alpha, x, beta, y, n);
}

int sevc_axpby_list(float alpha, const float* const* x, float beta, float* const* y, const int64_t* sizes, int count,
                    void* stream) {
  if (count < 0) return sevc::fail(SEVC_E_ARG, "axpby_list: negative tensor count");
  if (count > 0 && (!x || !y || !sizes)) return sevc::fail(SEVC_E_ARG, "axpby_list: null table");
  for (int t = 0; t < count; t++)
    if (sizes[t] < 0 || (sizes[t] > 0 && (!x[t] || !y[t])))
      return sevc::fail(SEVC_E_ARG, "axpby_list: a negative size or a null tensor");
  for (int first = 0; first < count; first += AXPBY_LIST_MAX) {
    const AxpbyList L = axpby_list_batch(x, y, sizes, first, count);
    const int64_t chunks = L.prefix[L.count];
    if (chunks == 0) continue;
    axpby_list_kernel<<<chunks < 65535 ? (unsigned)chunks : 65535u, sevc::kThreads, 0, sevc::as_stream(stream)>>>(
        alpha, beta, L);
    if (int rc = sevc::check_launch("axpby_list")) return rc;
  }
  return SEVC_OK;
}

int sevc_scale(const float* x, float alpha, float* y, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(scale, n, x, alpha, y, n);
}

int sevc_sigmoid_forward(const float* x, float* y, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(sigmoid_forward, n, x, y, n);
}

int sevc_sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n, void* stream) {
  SEVC_ELEMENTWISE(sigmoid_backward, n, y, dy, dx, n);
}

int sevc_dropout_forward(const float* x, float* y, float* mask, int64_t n, float p, uint64_t seed, void* stream) {
  SEVC_ELEMENTWISE(dropout_forward, n, x, y, mask, n, p, dropout_keep_scale(p), seed);
}

int sevc_bias_relu(float* y, const float* bias, int64_t N, int64_t C, int64_t S, int relu, void* stream) {
  if (N < 0 || C < 0 || S < 0) return sevc::fail(SEVC_E_ARG, "bias_relu: negative size");
  if (N * C * S == 0) return SEVC_OK;
  bias_relu_kernel<<<sevc::rows_grid(N * C, S), sevc::kThreads, 0, sevc::as_stream(stream)>>>(y, bias, N, C, S, relu);
  return sevc::check_launch("bias_relu");
}

}  // extern "C"
