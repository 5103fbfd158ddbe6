// Average pooling (count_include_pad, as the model's shortcut uses) and global average pooling.
// avgpool3d: row-range loops vectorized per ISA (sev_simd.h), bit for bit the plain loops kept as *_reference.
#include <cstring>

#include "internal.h"
#include "sev_simd.h"
#include "sevnet.h"

namespace {
using sev::ConvParams;
using sev::tap_range;

// One (n, c) plane. Each output row accumulates its window row by row, tap by tap, in the naive loop's
// order (kt, kh, kw) — the same additions per output, so the same bits as the reference and the GPU body —
// but over whole ranges of outputs with no bounds test inside, which the compiler vectorizes.
SEV_INLINE void pool_forward_plane(const float* xp, float* yp, const ConvParams& p, float inv) {
  for (int to = 0; to < p.To; to++)
    for (int ho = 0; ho < p.Ho; ho++) {
      float* yrow = yp + ((int64_t)to * p.Ho + ho) * p.Wo;
      for (int wo = 0; wo < p.Wo; wo++) yrow[wo] = 0.f;
      for (int kt = 0; kt < p.kT; kt++) {
        const int t = to * p.sT - p.pT + kt;
        if (t < 0 || t >= p.T) continue;
        for (int kh = 0; kh < p.kH; kh++) {
          const int h = ho * p.sH - p.pH + kh;
          if (h < 0 || h >= p.H) continue;
          const float* row = xp + ((int64_t)t * p.H + h) * p.W;
          for (int kw = 0; kw < p.kW; kw++) {
            int lo, hi;
            tap_range(kw, p.sW, p.pW, p.W, p.Wo, lo, hi);
            const int off = kw - p.pW;  // an index, not a pointer before the row
            const int s = p.sW;
            if (s == 1) {
#pragma omp simd
              for (int wo = lo; wo < hi; wo++) yrow[wo] += row[wo + off];
            } else if (s == 2) {
#pragma omp simd
              for (int wo = lo; wo < hi; wo++) yrow[wo] += row[2 * wo + off];
            } else {
              for (int wo = lo; wo < hi; wo++) yrow[wo] += row[(int64_t)wo * s + off];
            }
          }
        }
      }
#pragma omp simd
      for (int wo = 0; wo < p.Wo; wo++) yrow[wo] *= inv;
    }
}

// One (n, c) plane of the scatter. The reference adds, for each output in order, its share to every input
// of its window; an input is reached from a given output row (to, ho) through one (kt, kh) only, and within
// that row by taps kw whose outputs wo = (w + pW - kw) / sW rise as kw falls — so walking the taps from the
// last down adds each input's shares in the reference's order (the same bits), over whole ranges of outputs.
SEV_INLINE void pool_backward_plane(const float* dyp, float* dxp, const ConvParams& p, float inv) {
  std::memset(dxp, 0, sizeof(float) * p.in_spatial());
  for (int to = 0; to < p.To; to++)
    for (int ho = 0; ho < p.Ho; ho++) {
      const float* grow = dyp + ((int64_t)to * p.Ho + ho) * p.Wo;
      for (int kt = 0; kt < p.kT; kt++) {
        const int t = to * p.sT - p.pT + kt;
        if (t < 0 || t >= p.T) continue;
        for (int kh = 0; kh < p.kH; kh++) {
          const int h = ho * p.sH - p.pH + kh;
          if (h < 0 || h >= p.H) continue;
          float* row = dxp + ((int64_t)t * p.H + h) * p.W;
          for (int kw = p.kW - 1; kw >= 0; kw--) {
            int lo, hi;
            tap_range(kw, p.sW, p.pW, p.W, p.Wo, lo, hi);
            const int off = kw - p.pW;
            const int s = p.sW;
            if (s == 1) {
#pragma omp simd
              for (int wo = lo; wo < hi; wo++) row[wo + off] += grow[wo] * inv;
            } else if (s == 2) {
#pragma omp simd
              for (int wo = lo; wo < hi; wo++) row[2 * wo + off] += grow[wo] * inv;
            } else {
              for (int wo = lo; wo < hi; wo++) row[(int64_t)wo * s + off] += grow[wo] * inv;
            }
          }
        }
      }
    }
}

SEV_TARGET_AVX512 void pool_forward_avx512(const float* x, float* y, const ConvParams& p, float inv) {
  pool_forward_plane(x, y, p, inv);
}
SEV_TARGET_AVX2 void pool_forward_avx2(const float* x, float* y, const ConvParams& p, float inv) {
  pool_forward_plane(x, y, p, inv);
}
void pool_forward_base(const float* x, float* y, const ConvParams& p, float inv) { pool_forward_plane(x, y, p, inv); }
SEV_TARGET_AVX512 void pool_backward_avx512(const float* dy, float* dx, const ConvParams& p, float inv) {
  pool_backward_plane(dy, dx, p, inv);
}
SEV_TARGET_AVX2 void pool_backward_avx2(const float* dy, float* dx, const ConvParams& p, float inv) {
  pool_backward_plane(dy, dx, p, inv);
}
void pool_backward_base(const float* dy, float* dx, const ConvParams& p, float inv) {
  pool_backward_plane(dy, dx, p, inv);
}

using PlaneFn = void (*)(const float*, float*, const ConvParams&, float);

// every (n, c) plane, in planes of in_size and out_size floats, through the build of the plane function this CPU
// runs ({baseline, AVX2, AVX-512} by sev::cpu_isa())
void each_plane(const float* in, int64_t in_size, float* out, int64_t out_size, const ConvParams& p,
                const PlaneFn (&fns)[3]) {
  const float inv = 1.f / (float)p.ksize();
  const int64_t planes = (int64_t)p.N * p.Cin;
  const PlaneFn f = fns[sev::cpu_isa()];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < planes; nc++) f(in + nc * in_size, out + nc * out_size, p, inv);
}
}  // namespace

extern "C" {

int sev_avgpool3d_forward(const float* x, float* y, const int* pp) {
  SEV_CALL_SCOPE();
  const ConvParams p(pp);
  static const PlaneFn fns[3] = {pool_forward_base, pool_forward_avx2, pool_forward_avx512};
  each_plane(x, p.in_spatial(), y, p.out_spatial(), p, fns);
  return SEV_OK;
}

int sev_avgpool3d_backward(const float* dy, float* dx, const int* pp) {
  SEV_CALL_SCOPE();
  const ConvParams p(pp);
  static const PlaneFn fns[3] = {pool_backward_base, pool_backward_avx2, pool_backward_avx512};
  each_plane(dy, p.out_spatial(), dx, p.in_spatial(), p, fns);
  return SEV_OK;
}

// The plain loops: the reference the fast paths above are tested against bit for bit.
int sev_avgpool3d_forward_reference(const float* x, float* y, const int* pp) {
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

int sev_avgpool3d_backward_reference(const float* dy, float* dx, const int* pp) {
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
