// 3-D convolution, NCDHW. (Naive direct loops: correct reference; fast paths come next.)
#include <cstring>

#include "internal.h"
#include "sevnet.h"

extern "C" {

int sev_conv3d_forward(const float* x, const float* w, const float* bias, float* y, const int* pp, int relu) {
  const sev::ConvParams p(pp);
  const int cig = p.cin_g(), cog = p.cout_g();
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < p.N; n++)
    for (int co = 0; co < p.Cout; co++) {
      const int g = co / cog;
      float* yp = y + ((int64_t)n * p.Cout + co) * p.out_spatial();
      for (int to = 0; to < p.To; to++)
        for (int ho = 0; ho < p.Ho; ho++)
          for (int wo = 0; wo < p.Wo; wo++) {
            float s = bias ? bias[co] : 0.f;
            for (int ci = 0; ci < cig; ci++) {
              const float* xp = x + ((int64_t)n * p.Cin + g * cig + ci) * p.in_spatial();
              const float* wp = w + ((int64_t)co * cig + ci) * p.ksize();
              for (int kt = 0; kt < p.kT; kt++) {
                int t = to * p.sT - p.pT + kt;
                if (t < 0 || t >= p.T) continue;
                for (int kh = 0; kh < p.kH; kh++) {
                  int h = ho * p.sH - p.pH + kh;
                  if (h < 0 || h >= p.H) continue;
                  for (int kw = 0; kw < p.kW; kw++) {
                    int ww = wo * p.sW - p.pW + kw;
                    if (ww < 0 || ww >= p.W) continue;
                    s += xp[((int64_t)t * p.H + h) * p.W + ww] * wp[(kt * p.kH + kh) * p.kW + kw];
                  }
                }
              }
            }
            if (relu && s < 0.f) s = 0.f;
            yp[((int64_t)to * p.Ho + ho) * p.Wo + wo] = s;
          }
    }
  return SEV_OK;
}

int sev_conv3d_backward_data(const float* dy, const float* w, float* dx, const int* pp) {
  const sev::ConvParams p(pp);
  const int cig = p.cin_g(), cog = p.cout_g();
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < p.N; n++)
    for (int g = 0; g < p.groups; g++) {
      for (int ci = 0; ci < cig; ci++)
        std::memset(dx + ((int64_t)n * p.Cin + g * cig + ci) * p.in_spatial(), 0, sizeof(float) * p.in_spatial());
      for (int col = 0; col < cog; col++) {
        const int co = g * cog + col;
        const float* dyp = dy + ((int64_t)n * p.Cout + co) * p.out_spatial();
        for (int to = 0; to < p.To; to++)
          for (int ho = 0; ho < p.Ho; ho++)
            for (int wo = 0; wo < p.Wo; wo++) {
              const float gval = dyp[((int64_t)to * p.Ho + ho) * p.Wo + wo];
              for (int ci = 0; ci < cig; ci++) {
                float* dxp = dx + ((int64_t)n * p.Cin + g * cig + ci) * p.in_spatial();
                const float* wp = w + ((int64_t)co * cig + ci) * p.ksize();
                for (int kt = 0; kt < p.kT; kt++) {
                  int t = to * p.sT - p.pT + kt;
                  if (t < 0 || t >= p.T) continue;
                  for (int kh = 0; kh < p.kH; kh++) {
                    int h = ho * p.sH - p.pH + kh;
                    if (h < 0 || h >= p.H) continue;
                    for (int kw = 0; kw < p.kW; kw++) {
                      int ww = wo * p.sW - p.pW + kw;
                      if (ww < 0 || ww >= p.W) continue;
                      dxp[((int64_t)t * p.H + h) * p.W + ww] += gval * wp[(kt * p.kH + kh) * p.kW + kw];
                    }
                  }
                }
              }
            }
      }
    }
  return SEV_OK;
}

int sev_conv3d_backward_weight(const float* x, const float* dy, float* dw, const int* pp) {
  const sev::ConvParams p(pp);
  const int cig = p.cin_g(), cog = p.cout_g();
#pragma omp parallel for collapse(2) schedule(static)
  for (int co = 0; co < p.Cout; co++)
    for (int ci = 0; ci < cig; ci++) {
      const int g = co / cog;
      float* dwp = dw + ((int64_t)co * cig + ci) * p.ksize();
      for (int kt = 0; kt < p.kT; kt++)
        for (int kh = 0; kh < p.kH; kh++)
          for (int kw = 0; kw < p.kW; kw++) {
            double s = 0;
            for (int n = 0; n < p.N; n++) {
              const float* xp = x + ((int64_t)n * p.Cin + g * cig + ci) * p.in_spatial();
              const float* dyp = dy + ((int64_t)n * p.Cout + co) * p.out_spatial();
              for (int to = 0; to < p.To; to++) {
                int t = to * p.sT - p.pT + kt;
                if (t < 0 || t >= p.T) continue;
                for (int ho = 0; ho < p.Ho; ho++) {
                  int h = ho * p.sH - p.pH + kh;
                  if (h < 0 || h >= p.H) continue;
                  for (int wo = 0; wo < p.Wo; wo++) {
                    int ww = wo * p.sW - p.pW + kw;
                    if (ww < 0 || ww >= p.W) continue;
                    s += xp[((int64_t)t * p.H + h) * p.W + ww] * dyp[((int64_t)to * p.Ho + ho) * p.Wo + wo];
                  }
                }
              }
            }
            dwp[(kt * p.kH + kh) * p.kW + kw] = (float)s;
          }
    }
  return SEV_OK;
}

}  // extern "C"
