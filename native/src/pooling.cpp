// Average pooling (count_include_pad, as the model's shortcut uses) and global average pooling.
#include <cstring>

#include "internal.h"
#include "sevnet.h"

extern "C" {

int sev_avgpool3d_forward(const float* x, float* y, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  const float inv = 1.f / (float)p.ksize();
  const int64_t C = p.Cin;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < p.N; n++) {
    for (int64_t c = 0; c < C; c++) {
      const float* xp = x + (n * C + c) * p.in_spatial();
      float* yp = y + (n * C + c) * p.out_spatial();
      for (int to = 0; to < p.To; to++)
        for (int ho = 0; ho < p.Ho; ho++)
          for (int wo = 0; wo < p.Wo; wo++) {
            float s = 0.f;
            for (int kt = 0; kt < p.kT; kt++) {
              int t = to * p.sT - p.pT + kt;
              if (t < 0 || t >= p.T) continue;
              for (int kh = 0; kh < p.kH; kh++) {
                int h = ho * p.sH - p.pH + kh;
                if (h < 0 || h >= p.H) continue;
                const float* row = xp + ((int64_t)t * p.H + h) * p.W;
                for (int kw = 0; kw < p.kW; kw++) {
                  int w = wo * p.sW - p.pW + kw;
                  if (w >= 0 && w < p.W) s += row[w];
                }
              }
            }
            yp[((int64_t)to * p.Ho + ho) * p.Wo + wo] = s * inv;
          }
    }
  }
  return SEV_OK;
}

int sev_avgpool3d_backward(const float* dy, float* dx, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  const float inv = 1.f / (float)p.ksize();
  const int64_t C = p.Cin;
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t n = 0; n < p.N; n++) {
    for (int64_t c = 0; c < C; c++) {
      float* dxp = dx + (n * C + c) * p.in_spatial();
      const float* dyp = dy + (n * C + c) * p.out_spatial();
      std::memset(dxp, 0, sizeof(float) * p.in_spatial());
      for (int to = 0; to < p.To; to++)
        for (int ho = 0; ho < p.Ho; ho++)
          for (int wo = 0; wo < p.Wo; wo++) {
            const float g = dyp[((int64_t)to * p.Ho + ho) * p.Wo + wo] * inv;
            for (int kt = 0; kt < p.kT; kt++) {
              int t = to * p.sT - p.pT + kt;
              if (t < 0 || t >= p.T) continue;
              for (int kh = 0; kh < p.kH; kh++) {
                int h = ho * p.sH - p.pH + kh;
                if (h < 0 || h >= p.H) continue;
                float* row = dxp + ((int64_t)t * p.H + h) * p.W;
                for (int kw = 0; kw < p.kW; kw++) {
                  int w = wo * p.sW - p.pW + kw;
                  if (w >= 0 && w < p.W) row[w] += g;
                }
              }
            }
          }
    }
  }
  return SEV_OK;
}

int sev_global_avgpool_forward(const float* x, float* y, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float* xp = x + nc * S;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < S; i++) s += xp[i];
    y[nc] = (float)(s / S);
  }
  return SEV_OK;
}

int sev_global_avgpool_backward(const float* dy, float* dx, int64_t N, int64_t C, int64_t S) {
  SEV_CALL_SCOPE();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float g = dy[nc] / (float)S;
    float* dxp = dx + nc * S;
#pragma omp simd
    for (int64_t i = 0; i < S; i++) dxp[i] = g;
  }
  return SEV_OK;
}

}  // extern "C"
