// CPU references of the channels-last temporal conv (kernels/temporal_conv_ndhwc.cu): plain loops over
// [N][T*S][C] with sums in double and one rounding per output, so a kernel's result can be judged by its
// own fp32 accumulation alone. bf16 inputs are widened exactly; the double sum is rounded straight to bf16
// (not through float, which could round twice). Also the NCDHW <-> NDHWC transposes the tests use to tie
// this layout to sev_conv3d_*.
#include <math.h>
#include <string.h>

#include "internal.h"
#include "ref_rounding.h"
#include "sevnet.h"

namespace {
using sev::RefBF16;
using sev::RefF32;

// trans = false: y[n,j,m] = sum_k sum_c w[m][c][k] x[n, j+(k-1)S, c]
// trans = true:  dx[n,j,m] = sum_k sum_c w[c][m][k] dy[n, j-(k-1)S, c]
template <class R>
void gemm_ref(bool trans, const typename R::storage* w, const typename R::storage* src, typename R::storage* dst,
              int N, int C, int T, int64_t S) {
  const int64_t TS = (int64_t)T * S;
#pragma omp parallel for schedule(static) collapse(2)
  for (int n = 0; n < N; n++)
    for (int64_t j = 0; j < TS; j++)
      for (int m = 0; m < C; m++) {
        double acc = 0;
        for (int k = 0; k < 3; k++) {
          const int64_t sj = trans ? j - (k - 1) * S : j + (k - 1) * S;
          if (sj < 0 || sj >= TS) continue;
          const typename R::storage* row = src + ((int64_t)n * TS + sj) * C;
          for (int c = 0; c < C; c++) {
            const int64_t wi = trans ? ((int64_t)c * C + m) * 3 + k : ((int64_t)m * C + c) * 3 + k;
            acc += R::load(w[wi]) * R::load(row[c]);
          }
        }
        dst[((int64_t)n * TS + j) * C + m] = R::store(acc);
      }
}

// dw[m][c][k] = sum_n sum_j dy[n, j, m] x[n, j+(k-1)S, c], fp32 output
template <class R>
void dw_ref(const typename R::storage* x, const typename R::storage* dy, float* dw, int N, int C, int T, int64_t S) {
  const int64_t TS = (int64_t)T * S;
#pragma omp parallel for schedule(static) collapse(2)
  for (int m = 0; m < C; m++)
    for (int c = 0; c < C; c++)
      for (int k = 0; k < 3; k++) {
        double acc = 0;
        for (int n = 0; n < N; n++)
          for (int64_t j = 0; j < TS; j++) {
            const int64_t sj = j + (k - 1) * S;
            if (sj < 0 || sj >= TS) continue;
            acc += R::load(dy[((int64_t)n * TS + j) * C + m]) * R::load(x[((int64_t)n * TS + sj) * C + c]);
          }
        dw[((int64_t)m * C + c) * 3 + k] = (float)acc;
      }
}
}  // namespace

extern "C" {

int sev_temporal_conv3_ndhwc_forward_f32(const float* x, const float* w, float* y, int N, int C, int T, int64_t S) {
  SEV_CALL_SCOPE();
  gemm_ref<RefF32>(false, w, x, y, N, C, T, S);
  return SEV_OK;
}

int sev_temporal_conv3_ndhwc_forward_bf16(const uint16_t* x, const uint16_t* w, uint16_t* y, int N, int C, int T,
                                          int64_t S) {
  SEV_CALL_SCOPE();
  gemm_ref<RefBF16>(false, w, x, y, N, C, T, S);
  return SEV_OK;
}

int sev_temporal_conv3_ndhwc_backward_data_f32(const float* dy, const float* w, float* dx, int N, int C, int T,
                                               int64_t S) {
  SEV_CALL_SCOPE();
  gemm_ref<RefF32>(true, w, dy, dx, N, C, T, S);
  return SEV_OK;
}

int sev_temporal_conv3_ndhwc_backward_data_bf16(const uint16_t* dy, const uint16_t* w, uint16_t* dx, int N, int C,
                                                int T, int64_t S) {
  SEV_CALL_SCOPE();
  gemm_ref<RefBF16>(true, w, dy, dx, N, C, T, S);
  return SEV_OK;
}

int sev_temporal_conv3_ndhwc_backward_weight_f32(const float* x, const float* dy, float* dw, int N, int C, int T,
                                                 int64_t S) {
  SEV_CALL_SCOPE();
  dw_ref<RefF32>(x, dy, dw, N, C, T, S);
  return SEV_OK;
}

int sev_temporal_conv3_ndhwc_backward_weight_bf16(const uint16_t* x, const uint16_t* dy, float* dw, int N, int C,
                                                  int T, int64_t S) {
  SEV_CALL_SCOPE();
  dw_ref<RefBF16>(x, dy, dw, N, C, T, S);
  return SEV_OK;
}

int sev_ncdhw_to_ndhwc(const float* x, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; n++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t c = 0; c < C; c++) y[(n * S + s) * C + c] = x[(n * C + c) * S + s];
  return SEV_OK;
}

int sev_ndhwc_to_ncdhw(const float* x, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t s = 0; s < S; s++) y[(n * C + c) * S + s] = x[(n * S + s) * C + c];
  return SEV_OK;
}

}  // extern "C"
