// Row-major SGEMM. (Simple blocked loops for now.)
#include "internal.h"
#include "sevnet.h"

extern "C" {

int sev_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * ldc;
    if (beta == 0.f)
      for (int64_t j = 0; j < N; j++) c[j] = 0.f;
    else if (beta != 1.f)
      for (int64_t j = 0; j < N; j++) c[j] *= beta;
    for (int64_t k = 0; k < K; k++) {
      const float a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
      if (!transB) {
        const float* b = B + k * ldb;
#pragma omp simd
        for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
      }
    }
  }
  return SEV_OK;
}

}  // extern "C"
