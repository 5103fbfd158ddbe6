// CPU references of the channels-last glue kernels (kernels/channels_ndhwc.cu): transpose the NDHWC operands to
// NCDHW, run the NCDHW CPU op that the NCDHW kernels are already tested against, transpose back. 16-bit storage is
// widened exactly first and the fp32 result rounded once (to nearest even), as CpuBackend does for 16-bit tensors.
// Deliberately slow and simple: the point is that the channels-last kernels answer to the same ops as the rest.
#include <string.h>

#include <string>
#include <vector>

#include "channels_ndhwc.cuh"
#include "internal.h"
#include "sevnet.h"

namespace {
int bad(const char* what, const char* why) { return sev::fail(SEV_EINVAL, std::string(what) + ": " + why); }
#define REF_CHECK(what, reason)           \
  do {                                    \
    const char* why_ = (reason);          \
    if (why_) return bad((what), why_);   \
  } while (0)

// y[n][k][r] = x[n][r][k]
template <typename T>
void transpose_ref(const T* x, T* y, int64_t N, int64_t R, int64_t K) {
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t r = 0; r < R; r++) y[(n * K + k) * R + r] = x[(n * R + r) * K + k];
}

float load(int dtype, const void* p, int64_t i) {
  if (dtype == SEV_DT_F32) return ((const float*)p)[i];
  const uint16_t b = ((const uint16_t*)p)[i];
  return dtype == SEV_DT_BF16 ? sev_bf16_to_float(b) : sev_half_to_float(b);
}
void store(int dtype, void* p, int64_t i, float v) {
  if (dtype == SEV_DT_F32)
    ((float*)p)[i] = v;
  else
    ((uint16_t*)p)[i] = dtype == SEV_DT_BF16 ? sev_float_to_bf16(v) : sev_float_to_half(v);
}

// [N][S][C] of dtype -> fp32 [N][C][S] (widened exactly)
std::vector<float> to_ncdhw(const void* x, int dtype, int64_t N, int64_t C, int64_t S) {
  const int64_t n = N * C * S;
  std::vector<float> wide((size_t)n), out((size_t)n);
  for (int64_t i = 0; i < n; i++) wide[i] = load(dtype, x, i);
  sev_ndhwc_to_ncdhw(wide.data(), out.data(), N, C, S);
  return out;
}
// fp32 [N][C][S] -> [N][S][C] of dtype (rounded once)
void from_ncdhw(const std::vector<float>& v, void* y, int dtype, int64_t N, int64_t C, int64_t S) {
  const int64_t n = N * C * S;
  std::vector<float> t((size_t)n);
  sev_ncdhw_to_ndhwc(v.data(), t.data(), N, C, S);
  for (int64_t i = 0; i < n; i++) store(dtype, y, i, t[i]);
}
}  // namespace

extern "C" {

int sev_ncdhw_to_ndhwc_u16(const uint16_t* x, uint16_t* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  REF_CHECK("ncdhw_to_ndhwc_u16", cl_check_sizes(N, C, S));
  transpose_ref(x, y, N, C, S);
  return SEV_OK;
}

int sev_ndhwc_to_ncdhw_u16(const uint16_t* x, uint16_t* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  REF_CHECK("ndhwc_to_ncdhw_u16", cl_check_sizes(N, C, S));
  transpose_ref(x, y, N, S, C);
  return SEV_OK;
}

int sev_bias_act_ndhwc(void* y, const float* bias, const void* residual, int64_t M, int64_t C, int relu, int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "bias_act_ndhwc";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_sizes(M, C, 0));
  if (M * C == 0) return SEV_OK;
  if (!y) return bad(what, "NULL pointer");
  // one item of M positions: [1][C][M]
  std::vector<float> v = to_ncdhw(y, dtype, 1, C, M);
  if (bias)
    for (int64_t c = 0; c < C; c++)
      for (int64_t m = 0; m < M; m++) v[c * M + m] = v[c * M + m] + bias[c];
  if (residual) {
    const std::vector<float> r = to_ncdhw(residual, dtype, 1, C, M);
    sev_add(v.data(), r.data(), v.data(), M * C);
  }
  if (relu) sev_relu_forward(v.data(), v.data(), M * C);
  from_ncdhw(v, y, dtype, 1, C, M);
  return SEV_OK;
}

int sev_channel_scale_ndhwc_forward(const void* x, const float* g, void* y, int64_t N, int64_t C, int64_t S,
                                    int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "channel_scale_ndhwc_forward";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEV_OK;
  if (!x || !g || !y) return bad(what, "NULL pointer");
  const std::vector<float> xv = to_ncdhw(x, dtype, N, C, S);
  std::vector<float> yv(xv.size());
  sev_channel_scale_forward(xv.data(), g, yv.data(), N, C, S);
  from_ncdhw(yv, y, dtype, N, C, S);
  return SEV_OK;
}

int sev_channel_scale_ndhwc_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t N,
                                     int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
  const char* what = "channel_scale_ndhwc_backward";
  REF_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEV_OK;
  if (!dg || (S > 0 && (!x || !g || !dy || !dx))) return bad(what, "NULL pointer");
  const std::vector<float> xv = to_ncdhw(x, SEV_DT_F32, N, C, S), dyv = to_ncdhw(dy, SEV_DT_F32, N, C, S);
  std::vector<float> dxv(xv.size());
  sev_channel_scale_backward(xv.data(), g, dyv.data(), dxv.data(), dg, N, C, S);
  from_ncdhw(dxv, dx, SEV_DT_F32, N, C, S);
  return SEV_OK;
}

int sev_global_avgpool_ndhwc_forward(const void* x, float* y, int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "global_avgpool_ndhwc_forward";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C == 0) return SEV_OK;
  if (!y || (S > 0 && !x)) return bad(what, "NULL pointer");
  const std::vector<float> xv = to_ncdhw(x, dtype, N, C, S);
  sev_global_avgpool_forward(xv.data(), y, N, C, S);
  return SEV_OK;
}

int sev_global_avgpool_ndhwc_backward(const float* dy, void* dx, int64_t N, int64_t C, int64_t S, int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "global_avgpool_ndhwc_backward";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_sizes(N, C, S));
  if (N * C * S == 0) return SEV_OK;
  if (!dy || !dx) return bad(what, "NULL pointer");
  std::vector<float> dxv((size_t)(N * C * S));
  sev_global_avgpool_backward(dy, dxv.data(), N, C, S);
  from_ncdhw(dxv, dx, dtype, N, C, S);
  return SEV_OK;
}

int sev_concat_channels_ndhwc(const void* a, const void* b, void* y, int64_t M, int64_t Ca, int64_t Cb,
                              int elem_bytes) {
  SEV_CALL_SCOPE();
  const char* what = "concat_channels_ndhwc";
  REF_CHECK(what, cl_check_sizes(M, Ca, Cb));
  REF_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEV_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return bad(what, "NULL pointer");
  const int64_t C = Ca + Cb;
  if (elem_bytes == 4) {
    // one item of M positions: the NCDHW concat of [1][Ca][M] and [1][Cb][M]
    std::vector<float> at((size_t)(M * Ca)), bt((size_t)(M * Cb)), yt((size_t)(M * C));
    sev_ndhwc_to_ncdhw((const float*)a, at.data(), 1, Ca, M);
    sev_ndhwc_to_ncdhw((const float*)b, bt.data(), 1, Cb, M);
    sev_concat_channels(at.data(), bt.data(), yt.data(), 1, Ca, Cb, M);
    sev_ncdhw_to_ndhwc(yt.data(), (float*)y, 1, C, M);
  } else {
    // there is no 16-bit NCDHW concat on the CPU (CpuBackend's is Java); the NCDHW concat of one item is two copies
    std::vector<uint16_t> yt((size_t)(M * C));
    if (Ca) sev_ndhwc_to_ncdhw_u16((const uint16_t*)a, yt.data(), 1, Ca, M);
    if (Cb) sev_ndhwc_to_ncdhw_u16((const uint16_t*)b, yt.data() + Ca * M, 1, Cb, M);
    sev_ncdhw_to_ndhwc_u16(yt.data(), (uint16_t*)y, 1, C, M);
  }
  return SEV_OK;
}

int sev_split_channels_ndhwc(const void* y, void* a, void* b, int64_t M, int64_t Ca, int64_t Cb, int elem_bytes) {
  SEV_CALL_SCOPE();
  const char* what = "split_channels_ndhwc";
  REF_CHECK(what, cl_check_sizes(M, Ca, Cb));
  REF_CHECK(what, cl_check_elem(elem_bytes));
  if (M * (Ca + Cb) == 0) return SEV_OK;
  if (!y || (Ca > 0 && !a) || (Cb > 0 && !b)) return bad(what, "NULL pointer");
  const int64_t C = Ca + Cb;
  if (elem_bytes == 4) {
    std::vector<float> at((size_t)(M * Ca)), bt((size_t)(M * Cb)), yt((size_t)(M * C));
    sev_ndhwc_to_ncdhw((const float*)y, yt.data(), 1, C, M);
    sev_split_channels(yt.data(), at.data(), bt.data(), 1, Ca, Cb, M);
    sev_ncdhw_to_ndhwc(at.data(), (float*)a, 1, Ca, M);
    sev_ncdhw_to_ndhwc(bt.data(), (float*)b, 1, Cb, M);
  } else {
    std::vector<uint16_t> yt((size_t)(M * C));
    sev_ndhwc_to_ncdhw_u16((const uint16_t*)y, yt.data(), 1, C, M);
    if (Ca) sev_ncdhw_to_ndhwc_u16(yt.data(), (uint16_t*)a, 1, Ca, M);
    if (Cb) sev_ncdhw_to_ndhwc_u16(yt.data() + Ca * M, (uint16_t*)b, 1, Cb, M);
  }
  return SEV_OK;
}

int sev_avgpool3d_ndhwc_forward(const void* x, void* y, const int* p, int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "avgpool3d_ndhwc_forward";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  if (pool_out_count(pp) == 0) return SEV_OK;
  if (!x || !y) return bad(what, "NULL pointer");
  const int64_t Si = (int64_t)pp.T * pp.H * pp.W, So = (int64_t)pp.To * pp.Ho * pp.Wo;
  const std::vector<float> xv = to_ncdhw(x, dtype, pp.N, pp.C, Si);
  std::vector<float> yv((size_t)((int64_t)pp.N * pp.C * So));
  sev_avgpool3d_forward(xv.data(), yv.data(), p);
  from_ncdhw(yv, y, dtype, pp.N, pp.C, So);
  return SEV_OK;
}

int sev_avgpool3d_ndhwc_backward(const void* dy, void* dx, const int* p, int dtype) {
  SEV_CALL_SCOPE();
  const char* what = "avgpool3d_ndhwc_backward";
  REF_CHECK(what, cl_check_dtype(dtype));
  REF_CHECK(what, cl_check_pool(p));
  const SevPool pp = sev_pool_params(p);
  if (pool_in_count(pp) == 0) return SEV_OK;
  if (!dy || !dx) return bad(what, "NULL pointer");
  const int64_t Si = (int64_t)pp.T * pp.H * pp.W, So = (int64_t)pp.To * pp.Ho * pp.Wo;
  const std::vector<float> dyv = to_ncdhw(dy, dtype, pp.N, pp.C, So);
  std::vector<float> dxv((size_t)((int64_t)pp.N * pp.C * Si));
  sev_avgpool3d_backward(dyv.data(), dxv.data(), p);
  from_ncdhw(dxv, dx, dtype, pp.N, pp.C, Si);
  return SEV_OK;
}

}  // extern "C"
