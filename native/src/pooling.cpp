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

// The model's shortcut pool, 1x3x3 / stride (1,2,2) / padding (0,1,1), on its own: the general loops above run one
// tap range per (output row, kh, kw) — nine loops of Wo iterations, which at the 7x7..28x28 planes of the later stages
// cost more to set up than to run (a G8 8x112² step's four pools: 3.6-5.1 ms a call for ~1 M elements). Here each
// output adds its (up to) nine inputs directly, in the reference's (kh, kw) order — the same bits.
inline bool is_shortcut_pool(const ConvParams& p) {
  return p.kT == 1 && p.sT == 1 && p.pT == 0 && p.kH == 3 && p.kW == 3 && p.sH == 2 && p.sW == 2 && p.pH == 1 &&
         p.pW == 1;
}

SEV_INLINE void shortcut_pool_forward_plane(const float* xp, float* yp, const ConvParams& p, float inv) {
  const int H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  for (int t = 0; t < p.T; t++) {
    const float* xt = xp + (int64_t)t * H * W;
    float* yt = yp + (int64_t)t * Ho * Wo;
    for (int ho = 0; ho < Ho; ho++) {
      // input rows 2ho - 1 .. 2ho + 1 inside the plane, in kh order (row 2ho always is: Ho = (H - 1) / 2 + 1)
      const float* rows[3];
      int nr = 0;
      for (int kh = 0; kh < 3; kh++) {
        const int h = 2 * ho - 1 + kh;
        if (h >= 0 && h < H) rows[nr++] = xt + (int64_t)h * W;
      }
      float* yrow = yt + (int64_t)ho * Wo;
      // column 2wo - 1 is outside only at wo = 0, column 2wo + 1 only at the last wo of an odd W
      const int last = 2 * (Wo - 1) + 1 < W ? Wo : Wo - 1;
      int wo = 0;
      if (wo < last) {
        float s = 0.f;
        for (int r = 0; r < nr; r++) {
          s += rows[r][0];
          s += rows[r][1];
        }
        yrow[0] = s * inv;
        wo = 1;
      }
      for (; wo < last; wo++) {
        const int w0 = 2 * wo - 1;
        float s = 0.f;
        for (int r = 0; r < nr; r++) {
          s += rows[r][w0];
          s += rows[r][w0 + 1];
          s += rows[r][w0 + 2];
        }
        yrow[wo] = s * inv;
      }
      for (; wo < Wo; wo++) {  // the right edge (odd W), or a one-column row
        const int w0 = 2 * wo - 1;
        float s = 0.f;
        for (int r = 0; r < nr; r++) {
          if (w0 >= 0) s += rows[r][w0];
          s += rows[r][w0 + 1];
          if (w0 + 2 < W) s += rows[r][w0 + 2];
        }
        yrow[wo] = s * inv;
      }
    }
  }
}

// Each input gathers the shares of the outputs whose window holds it — output rows h/2 .. (h+1)/2, columns w/2 ..
// (w+1)/2 (one or two of each) — in increasing (ho, wo) order: the order in which the reference's scatter adds them,
// so the same bits. An even column reads output column w/2 only, an odd one w/2 and w/2 + 1 (if there is one).
SEV_INLINE void shortcut_pool_backward_plane(const float* dyp, float* dxp, const ConvParams& p, float inv) {
  const int H = p.H, W = p.W, Ho = p.Ho, Wo = p.Wo;
  for (int t = 0; t < p.T; t++) {
    const float* gt = dyp + (int64_t)t * Ho * Wo;
    float* xt = dxp + (int64_t)t * H * W;
    for (int h = 0; h < H; h++) {
      const int hlo = h / 2, hhi = (h + 1) / 2 < Ho ? (h + 1) / 2 : Ho - 1;
      const float* g0 = gt + (int64_t)hlo * Wo;
      const float* g1 = gt + (int64_t)hhi * Wo;
      const bool two = hhi != hlo;
      float* xrow = xt + (int64_t)h * W;
      for (int k = 0; 2 * k < W; k++) {
        float s = 0.f;  // w = 2k: output column k
        s += g0[k] * inv;
        if (two) s += g1[k] * inv;
        xrow[2 * k] = s;
        if (2 * k + 1 >= W) break;
        s = 0.f;  // w = 2k + 1: output columns k and k + 1
        if (k + 1 < Wo) {
          s += g0[k] * inv;
          s += g0[k + 1] * inv;
          if (two) {
            s += g1[k] * inv;
            s += g1[k + 1] * inv;
          }
        } else {
          s += g0[k] * inv;
          if (two) s += g1[k] * inv;
        }
        xrow[2 * k + 1] = s;
      }
    }
  }
}

SEV_TARGET_AVX512 void shortcut_forward_avx512(const float* x, float* y, const ConvParams& p, float inv) {
  shortcut_pool_forward_plane(x, y, p, inv);
}
SEV_TARGET_AVX2 void shortcut_forward_avx2(const float* x, float* y, const ConvParams& p, float inv) {
  shortcut_pool_forward_plane(x, y, p, inv);
}
void shortcut_forward_base(const float* x, float* y, const ConvParams& p, float inv) {
  shortcut_pool_forward_plane(x, y, p, inv);
}
SEV_TARGET_AVX512 void shortcut_backward_avx512(const float* dy, float* dx, const ConvParams& p, float inv) {
  shortcut_pool_backward_plane(dy, dx, p, inv);
}
SEV_TARGET_AVX2 void shortcut_backward_avx2(const float* dy, float* dx, const ConvParams& p, float inv) {
  shortcut_pool_backward_plane(dy, dx, p, inv);
}
void shortcut_backward_base(const float* dy, float* dx, const ConvParams& p, float inv) {
  shortcut_pool_backward_plane(dy, dx, p, inv);
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
  static const PlaneFn shortcut[3] = {shortcut_forward_base, shortcut_forward_avx2, shortcut_forward_avx512};
  each_plane(x, p.in_spatial(), y, p.out_spatial(), p, is_shortcut_pool(p) ? shortcut : fns);
  return SEV_OK;
}

int sev_avgpool3d_backward(const float* dy, float* dx, const int* pp) {
  SEV_CALL_SCOPE();
  const ConvParams p(pp);
  static const PlaneFn fns[3] = {pool_backward_base, pool_backward_avx2, pool_backward_avx512};
  static const PlaneFn shortcut[3] = {shortcut_backward_base, shortcut_backward_avx2, shortcut_backward_avx512};
  each_plane(dy, p.out_spatial(), dx, p.in_spatial(), p, is_shortcut_pool(p) ? shortcut : fns);
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
