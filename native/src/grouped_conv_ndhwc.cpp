// CPU references of the channels-last grouped 1x3x3 conv (kernels/grouped_conv_ndhwc.cu): plain loops with sums in
// double and one rounding per output (ref_rounding.h), in the kernels' layouts — x, dx [N][T][H][W][C], y, dy
// [N][T][Ho][Wo][C], w and dw KTRSC [C][3][3][cg] — so the tests read them against sev_conv3d_* through the
// NCDHW <-> NDHWC transposes, and the kernels against them.
#include <string>

#include "grouped_conv_ndhwc.cuh"
#include "internal.h"
#include "ref_rounding.h"
#include "sevnet.h"

namespace {
// x's element (n, t, hi, wi, c) or 0 outside the plane (the padding)
template <class R>
double at(const typename R::storage* x, const GclDims& d, int n, int t, int hi, int wi, int c, int H, int W) {
  if (hi < 0 || hi >= H || wi < 0 || wi >= W) return 0.0;
  return R::load(x[(((int64_t)n * d.T + t) * H + hi) * W * d.C + (int64_t)wi * d.C + c]);
}

template <class R>
void forward_ref(const typename R::storage* x, const typename R::storage* w, typename R::storage* y, const GclDims& d) {
#pragma omp parallel for schedule(static) collapse(2)
  for (int n = 0; n < d.N; n++)
    for (int t = 0; t < d.T; t++)
      for (int ho = 0; ho < d.Ho; ho++)
        for (int wo = 0; wo < d.Wo; wo++)
          for (int co = 0; co < d.C; co++) {
            const int g = co / d.cg;
            double acc = 0;
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++)
                for (int ci = 0; ci < d.cg; ci++)
                  acc += R::load(w[((int64_t)co * 9 + kh * 3 + kw) * d.cg + ci]) *
                         at<R>(x, d, n, t, ho * d.s - 1 + kh, wo * d.s - 1 + kw, g * d.cg + ci, d.H, d.W);
            y[(((int64_t)n * d.T + t) * d.Ho + ho) * d.Wo * d.C + (int64_t)wo * d.C + co] = R::store(acc);
          }
}

template <class R>
void backward_data_ref(const typename R::storage* dy, const typename R::storage* w, typename R::storage* dx,
                       const GclDims& d) {
#pragma omp parallel for schedule(static) collapse(2)
  for (int n = 0; n < d.N; n++)
    for (int t = 0; t < d.T; t++)
      for (int hi = 0; hi < d.H; hi++)
        for (int wi = 0; wi < d.W; wi++)
          for (int ci = 0; ci < d.C; ci++) {
            const int g = ci / d.cg;
            double acc = 0;
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++) {
                const int a = hi + 1 - kh, b = wi + 1 - kw;  // = ho*s, wo*s
                if (a < 0 || b < 0 || a % d.s != 0 || b % d.s != 0) continue;
                for (int o = 0; o < d.cg; o++)
                  acc += R::load(w[((int64_t)(g * d.cg + o) * 9 + kh * 3 + kw) * d.cg + ci % d.cg]) *
                         at<R>(dy, d, n, t, a / d.s, b / d.s, g * d.cg + o, d.Ho, d.Wo);
              }
            dx[(((int64_t)n * d.T + t) * d.H + hi) * d.W * d.C + (int64_t)wi * d.C + ci] = R::store(acc);
          }
}

// dw[co][kh][kw][ci] = sum over (n, t, ho, wo) of dy[.., co] x[n, t, ho*s-1+kh, wo*s-1+kw, g*cg+ci], fp32
template <class R>
void backward_weight_ref(const typename R::storage* x, const typename R::storage* dy, float* dw, const GclDims& d) {
#pragma omp parallel for schedule(static)
  for (int co = 0; co < d.C; co++)
    for (int k = 0; k < 9; k++)
      for (int ci = 0; ci < d.cg; ci++) {
        const int g = co / d.cg, kh = k / 3, kw = k % 3;
        double acc = 0;
        for (int n = 0; n < d.N; n++)
          for (int t = 0; t < d.T; t++)
            for (int ho = 0; ho < d.Ho; ho++)
              for (int wo = 0; wo < d.Wo; wo++)
                acc += R::load(dy[(((int64_t)n * d.T + t) * d.Ho + ho) * d.Wo * d.C + (int64_t)wo * d.C + co]) *
                       at<R>(x, d, n, t, ho * d.s - 1 + kh, wo * d.s - 1 + kw, g * d.cg + ci, d.H, d.W);
        dw[((int64_t)co * 9 + k) * d.cg + ci] = (float)acc;
      }
}

int check(const char* what, int N, int C, int cg, int T, int H, int W, int s, int dtype, bool null_pointer) {
  const char* why = gcl_bad_args(N, C, cg, T, H, W, s, dtype, null_pointer);
  if (!why) return SEV_OK;
  return sev::fail(SEV_EINVAL, std::string(what) + ": " + why);
}
}  // namespace

extern "C" {

int sev_grouped_conv_ndhwc_forward(const void* x, const void* w, void* y, int N, int C, int cg, int T, int H, int W,
                                   int s, int dtype) {
  SEV_CALL_SCOPE();
  const bool empty = (int64_t)N * C * T * H * W == 0;
  if (check("grouped_conv_ndhwc_forward", N, C, cg, T, H, W, s, dtype, !empty && (!x || !w || !y))) return SEV_EINVAL;
  if (empty) return SEV_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  if (dtype == SEV_DT_F32)
    forward_ref<sev::RefF32>((const float*)x, (const float*)w, (float*)y, d);
  else if (dtype == SEV_DT_BF16)
    forward_ref<sev::RefBF16>((const uint16_t*)x, (const uint16_t*)w, (uint16_t*)y, d);
  else
    forward_ref<sev::RefF16>((const uint16_t*)x, (const uint16_t*)w, (uint16_t*)y, d);
  return SEV_OK;
}

int sev_grouped_conv_ndhwc_backward_data(const void* dy, const void* w, void* dx, int N, int C, int cg, int T, int H,
                                         int W, int s, int dtype) {
  SEV_CALL_SCOPE();
  const bool empty = (int64_t)N * C * T * H * W == 0;
  if (check("grouped_conv_ndhwc_backward_data", N, C, cg, T, H, W, s, dtype, !empty && (!dy || !w || !dx)))
    return SEV_EINVAL;
  if (empty) return SEV_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  if (dtype == SEV_DT_F32)
    backward_data_ref<sev::RefF32>((const float*)dy, (const float*)w, (float*)dx, d);
  else if (dtype == SEV_DT_BF16)
    backward_data_ref<sev::RefBF16>((const uint16_t*)dy, (const uint16_t*)w, (uint16_t*)dx, d);
  else
    backward_data_ref<sev::RefF16>((const uint16_t*)dy, (const uint16_t*)w, (uint16_t*)dx, d);
  return SEV_OK;
}

int sev_grouped_conv_ndhwc_backward_weight(const void* x, const void* dy, float* dw, int N, int C, int cg, int T, int H,
                                           int W, int s, int dtype) {
  SEV_CALL_SCOPE();
  if (check("grouped_conv_ndhwc_backward_weight", N, C, cg, T, H, W, s, dtype,
            (C > 0 && !dw) || ((int64_t)N * C * T * H * W > 0 && (!x || !dy))))
    return SEV_EINVAL;
  if (C == 0) return SEV_OK;
  const GclDims d = gcl_dims(N, C, cg, T, H, W, s);
  if ((int64_t)N * T * H * W == 0) {  // no positions: a zero gradient
    for (int64_t i = 0; i < (int64_t)C * 9 * cg; i++) dw[i] = 0.f;
    return SEV_OK;
  }
  if (dtype == SEV_DT_F32)
    backward_weight_ref<sev::RefF32>((const float*)x, (const float*)dy, dw, d);
  else if (dtype == SEV_DT_BF16)
    backward_weight_ref<sev::RefBF16>((const uint16_t*)x, (const uint16_t*)dy, dw, d);
  else
    backward_weight_ref<sev::RefF16>((const uint16_t*)x, (const uint16_t*)dy, dw, d);
  return SEV_OK;
}

}  // extern "C"
