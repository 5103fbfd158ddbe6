// INT8 inference convolution (CPU): u8 activations x s8 weights -> s32, dequantised to fp32.
//
// Quantisation (the same arithmetic in the fast path and the naive reference, so they agree exactly):
//  - activations: per tensor, q = clamp(round_half_even(x * (1/scale)) + zp, 0, 255) as u8. zp = 0 for
//    non-negative tensors (post-ReLU: all 256 levels used), 128 for signed ones (the normalised clip).
//  - weights: per output channel, symmetric s8: s[c] = max|w[c]| / 127, q = round(w / s[c]) in [-127, 127],
//    stored [Cout][Kp] with each row's K = Cin/groups * kT*kH*kW zero-padded to Kp = roundup(K, 4).
//  - y[c] = ((acc - zp * sum_k wq[c,k]) as float) * (sx * s[c]) + bias[c], then ReLU.
//    Padding (outside the input) takes the quantised value of 0, which is zp: that is what makes the
//    zero-point compensation one constant per output channel.
//
// Why u8 x s8: AVX-512 VNNI's vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the
// four products into a 32-bit lane — one instruction for 64 multiply-adds, no saturation in the
// accumulate (|4 * 255 * 127| is far below 2^31).
//
// One path for every conv shape: quantise x once, then per (sample, group, column chunk) unpack the
// chunk im2col-style into a panel laid out [Kp/4][cols][4] (the four k values a vpdpbusd lane needs
// are adjacent), and run an MR x 32 register-blocked kernel over it (weights broadcast 4 bytes at a
// time). For a 1x1x1 conv the "im2col" is just the interleave; for 3x1x1 / 1x3x3 / the stem it is the
// usual im2col, which int8 can afford (a byte per tap instead of four). Parallel (OpenMP) over the
// (sample, group, chunk) units; a scalar kernel with the same layout runs where VNNI is missing.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "internal.h"
#include "sev_simd.h"
#include "sevnet.h"

#if SEV_X86
#include <immintrin.h>
// GCC 12 flags the intrinsics' own "undefined" pass-through operands as maybe-uninitialised (a false
// positive inside immintrin.h)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace sev {
namespace {

constexpr int MR = 8;    // output channels per register block
constexpr int NR = 32;   // output columns per register block (two zmm of 16 int32)

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

int max_threads() { return (omp_in_parallel() || omp_get_level() > 0) ? 1 : omp_get_max_threads(); }

// 0: the scalar kernel even where VNNI exists (sev_int8_set_kernel, for tests and benchmarks)
int g_kernel_cap = 1;

bool has_vnni() {
#if SEV_X86
  static const bool ok = [] {
    __builtin_cpu_init();
    return cpu_isa() >= 2 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  }();
  return ok;
#else
  return false;
#endif
}

bool use_vnni() { return g_kernel_cap > 0 && has_vnni(); }

// ---------------------------------------------------------------- quantisation
// One scalar definition; the AVX-512 one computes the same single-rounding product and round-to-even
// conversion (the zero point is added as an integer, so no fused multiply-add can change a result).
inline uint8_t quant_one(float x, float inv, int zp) {
  float t = x * inv;
  t = t > -512.f ? t : -512.f;   // as vmaxps(t, lo): a NaN becomes -512, so quantises to 0
  t = t < 512.f ? t : 512.f;
  int q = (int)std::nearbyint(t) + zp;
  return (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
}

void quantize_scalar(const float* x, uint8_t* q, int64_t n, float inv, int zp) {
  for (int64_t i = 0; i < n; i++) q[i] = quant_one(x[i], inv, zp);
}

#if SEV_X86
__attribute__((target("avx512f,avx512bw"))) void quantize_avx512(const float* x, uint8_t* q, int64_t n, float inv,
                                                                  int zp) {
  const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-512.f), hi = _mm512_set1_ps(512.f);
  const __m512i vzp = _mm512_set1_epi32(zp), z = _mm512_setzero_si512(), m255 = _mm512_set1_epi32(255);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 t = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(t), vzp);   // round to nearest even (MXCSR default)
    v = _mm512_min_epi32(_mm512_max_epi32(v, z), m255);
    _mm_storeu_si128((__m128i*)(q + i), _mm512_cvtepi32_epi8(v));
  }
  quantize_scalar(x + i, q + i, n - i, inv, zp);
}
#endif

void quantize(const float* x, uint8_t* q, int64_t n, float scale, int zp) {
  const float inv = 1.f / scale;
  const int nt = n < (1 << 16) ? 1 : max_threads();
  const int64_t step = round_up(max64(1, (n + nt - 1) / nt), 64);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t i0 = 0; i0 < n; i0 += step) {
    const int64_t len = min64(step, n - i0);
#if SEV_X86
    if (has_vnni()) {   // implies AVX-512F/BW
      quantize_avx512(x + i0, q + i0, len, inv, zp);
      continue;
    }
#endif
    quantize_scalar(x + i0, q + i0, len, inv, zp);
  }
}

// ---------------------------------------------------------------- epilogue (baseline ISA, no FMA)
// acc: rows x NR int32 tile. Kept out of the AVX-512 target so that mul + add round exactly as in the
// reference (no contraction into an FMA): the fast path and the reference agree bit for bit.
__attribute__((noinline)) void dequant_tile(const int32_t* acc, int rows, int cols, const int32_t* comp,
                                            const float* scale, const float* bias, int relu, float* y,
                                            int64_t ldy) {
  for (int r = 0; r < rows; r++) {
    const int32_t c = comp[r];
    const float s = scale[r], b = bias ? bias[r] : 0.f;
    float* yr = y + r * ldy;
    const int32_t* a = acc + r * NR;
    for (int j = 0; j < cols; j++) {
      float v = (float)(a[j] - c) * s + b;
      yr[j] = relu && v < 0.f ? 0.f : v;
    }
  }
}

inline float dequant_one(int32_t acc, int32_t comp, float scale, float bias, int relu) {
  float v = (float)(acc - comp) * scale + bias;
  return relu && v < 0.f ? 0.f : v;
}

// ---------------------------------------------------------------- im2col into the VNNI panel
// Columns [s0, s0+len) of the output (flattened To*Ho*Wo) for group g of sample n: panel[(k/4)][j][k%4]
// = xq at tap k of column j (zp outside the input); k in [K, Kp) -> 0 (their weights are 0 too);
// columns j in [len, ncols) -> zp (computed and discarded).
void im2col_u8(const uint8_t* xq, const ConvParams& p, int n, int g, int64_t s0, int64_t len, int64_t ncols,
               int64_t Kp, int zp, uint8_t* panel) {
  const int cig = p.cin_g();
  const int64_t ks = p.ksize(), K = cig * ks, HW = (int64_t)p.Ho * p.Wo;
  const uint8_t* xg = xq + ((int64_t)n * p.Cin + (int64_t)g * cig) * p.in_spatial();
  for (int64_t k = 0; k < Kp; k++) {
    uint8_t* dst = panel + (k / 4) * ncols * 4 + (k % 4);
    if (k >= K) {
      for (int64_t j = 0; j < ncols; j++) dst[4 * j] = 0;
      continue;
    }
    const int ci = (int)(k / ks);
    const int r = (int)(k % ks), kt = r / (p.kH * p.kW), kh = (r / p.kW) % p.kH, kw = r % p.kW;
    const uint8_t* xc = xg + (int64_t)ci * p.in_spatial();
    int64_t j = 0;
    while (j < len) {
      // one run along an output row: same (to, ho), consecutive wo
      const int64_t s = s0 + j;
      const int to = (int)(s / HW), ho = (int)((s / p.Wo) % p.Ho), wo0 = (int)(s % p.Wo);
      const int64_t run = min64(p.Wo - wo0, len - j);
      const int ti = to * p.sT - p.pT + kt, hi = ho * p.sH - p.pH + kh;
      if (ti < 0 || ti >= p.T || hi < 0 || hi >= p.H) {
        for (int64_t e = 0; e < run; e++) dst[4 * (j + e)] = (uint8_t)zp;
      } else {
        const uint8_t* row = xc + ((int64_t)ti * p.H + hi) * p.W;
        int wi = wo0 * p.sW - p.pW + kw;
        for (int64_t e = 0; e < run; e++, wi += p.sW)
          dst[4 * (j + e)] = (wi >= 0 && wi < p.W) ? row[wi] : (uint8_t)zp;
      }
      j += run;
    }
    for (; j < ncols; j++) dst[4 * j] = (uint8_t)zp;
  }
}

// ---------------------------------------------------------------- micro-kernels
// acc[r][j] = sum_k panel(k, j) * w[r][k] for r < MR (rows past the last are clamped to it by the
// caller's row pointers), j < NR, k < Kp. Panel column block: pan = panel + j0 * 4, row stride ncols*4.
void kernel_scalar(const uint8_t* pan, int64_t pstride, const int8_t* const* wr, int64_t Kp, int32_t* acc) {
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < NR; j++) acc[r * NR + j] = 0;
  for (int64_t k4 = 0; k4 < Kp / 4; k4++) {
    const uint8_t* a = pan + k4 * pstride;
    for (int r = 0; r < MR; r++) {
      const int8_t* w = wr[r] + 4 * k4;
      int32_t* o = acc + r * NR;
      for (int j = 0; j < NR; j++)
        o[j] += a[4 * j] * w[0] + a[4 * j + 1] * w[1] + a[4 * j + 2] * w[2] + a[4 * j + 3] * w[3];
    }
  }
}

#if SEV_X86
// 16 accumulators (8 rows x 2 zmm); per 4 k: two panel loads, eight 4-byte weight broadcasts, 16 vpdpbusd
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void kernel_vnni(const uint8_t* pan, int64_t pstride,
                                                                         const int8_t* const* wr, int64_t Kp,
                                                                         int32_t* acc) {
  __m512i c[MR][2];
  for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_si512();
  for (int64_t k4 = 0; k4 < Kp / 4; k4++) {
    const uint8_t* a = pan + k4 * pstride;
    const __m512i a0 = _mm512_loadu_si512(a), a1 = _mm512_loadu_si512(a + 64);
    for (int r = 0; r < MR; r++) {
      int32_t w4;
      std::memcpy(&w4, wr[r] + 4 * k4, 4);
      const __m512i b = _mm512_set1_epi32(w4);
      c[r][0] = _mm512_dpbusd_epi32(c[r][0], a0, b);
      c[r][1] = _mm512_dpbusd_epi32(c[r][1], a1, b);
    }
  }
  for (int r = 0; r < MR; r++) {
    _mm512_storeu_si512(acc + r * NR, c[r][0]);
    _mm512_storeu_si512(acc + r * NR + 16, c[r][1]);
  }
}
#endif

// per-thread panel (grown on demand, freed at thread exit)
struct BytePanel {
  uint8_t* p = nullptr;
  size_t cap = 0;
  ~BytePanel() { std::free(p); }
  uint8_t* get(size_t n) {
    if (cap < n) {
      std::free(p);
      cap = round_up((int64_t)n + (int64_t)n / 4 + 4096, 64);
      p = static_cast<uint8_t*>(std::aligned_alloc(64, cap));
      if (!p) cap = 0;
    }
    return p;
  }
};
thread_local BytePanel tl_panel;

// ---------------------------------------------------------------- forward
int int8_forward(const float* x, float sx, int zp, const int8_t* wq, const float* wscale, const float* bias, float* y,
                 const ConvParams& p, int relu) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t K = (int64_t)cig * p.ksize(), Kp = round_up(K, 4), So = p.out_spatial();
  const int64_t nx = (int64_t)p.N * p.Cin * p.in_spatial();
  uint8_t* xq = static_cast<uint8_t*>(std::aligned_alloc(64, round_up(max64(nx, 1), 64)));
  if (!xq) return fail(SEV_ENOMEM, "int8 conv: out of memory for the quantised input");
  quantize(x, xq, nx, sx, zp);

  // per output channel: zero-point compensation and combined scale
  std::vector<int32_t> comp(p.Cout);
  std::vector<float> scale(p.Cout);
  for (int c = 0; c < p.Cout; c++) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; k++) s += wq[c * Kp + k];
    comp[c] = zp * s;
    scale[c] = sx * wscale[c];
  }

  // columns per chunk: the panel (Kp x cols bytes) within ~256 KiB, and enough units for the threads
  const int nt = max_threads();
  const int64_t items = (int64_t)p.N * p.groups;
  int64_t cols = max64(NR, min64(4096, (262144 / Kp) / NR * NR));
  const int64_t want = 4 * (int64_t)nt;
  while (cols > NR && items * ((So + cols - 1) / cols) < want) cols = max64(NR, round_up(cols / 2, NR));
  const int64_t chunks = (So + cols - 1) / cols, units = items * chunks;
  const bool vnni = use_vnni();
  bool oom = false;

#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && units > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / chunks, ch = u % chunks;
    const int n = (int)(it / p.groups), g = (int)(it % p.groups);
    const int64_t s0 = ch * cols, len = min64(cols, So - s0), ncols = round_up(len, NR);
    uint8_t* panel = tl_panel.get((size_t)(Kp * ncols));
    if (!panel) {
#pragma omp atomic write
      oom = true;
      continue;
    }
    im2col_u8(xq, p, n, g, s0, len, ncols, Kp, zp, panel);
    alignas(64) int32_t acc[MR * NR];
    for (int64_t j0 = 0; j0 < ncols; j0 += NR) {
      for (int m0 = 0; m0 < cog; m0 += MR) {
        const int rows = (int)min64(MR, cog - m0);
        const int8_t* wr[MR];
        for (int r = 0; r < MR; r++) wr[r] = wq + ((int64_t)g * cog + m0 + (r < rows ? r : rows - 1)) * Kp;
#if SEV_X86
        if (vnni)
          kernel_vnni(panel + j0 * 4, ncols * 4, wr, Kp, acc);
        else
#endif
          kernel_scalar(panel + j0 * 4, ncols * 4, wr, Kp, acc);
        const int c0 = g * cog + m0;
        dequant_tile(acc, rows, (int)min64(NR, len - j0), comp.data() + c0, scale.data() + c0,
                     bias ? bias + c0 : nullptr, relu, y + ((int64_t)n * p.Cout + c0) * So + s0 + j0, So);
      }
    }
  }
  std::free(xq);
  return oom ? fail(SEV_ENOMEM, "int8 conv: out of memory for a panel") : SEV_OK;
}

// plain loops, the same quantisation and epilogue: the test reference
int int8_reference(const float* x, float sx, int zp, const int8_t* wq, const float* wscale, const float* bias,
                   float* y, const ConvParams& p, int relu) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t K = (int64_t)cig * p.ksize(), Kp = round_up(K, 4);
  const int64_t nx = (int64_t)p.N * p.Cin * p.in_spatial();
  std::vector<uint8_t> xq((size_t)max64(nx, 1));
  quantize(x, xq.data(), nx, sx, zp);
  for (int n = 0; n < p.N; n++)
    for (int co = 0; co < p.Cout; co++) {
      const int g = co / cog;
      const int8_t* w = wq + (int64_t)co * Kp;
      int32_t wsum = 0;
      for (int64_t k = 0; k < K; k++) wsum += w[k];
      for (int to = 0; to < p.To; to++)
        for (int ho = 0; ho < p.Ho; ho++)
          for (int wo = 0; wo < p.Wo; wo++) {
            int32_t acc = 0;
            for (int ci = 0; ci < cig; ci++)
              for (int kt = 0; kt < p.kT; kt++)
                for (int kh = 0; kh < p.kH; kh++)
                  for (int kw = 0; kw < p.kW; kw++) {
                    const int ti = to * p.sT - p.pT + kt, hi = ho * p.sH - p.pH + kh, wi = wo * p.sW - p.pW + kw;
                    int32_t a = zp;
                    if (ti >= 0 && ti < p.T && hi >= 0 && hi < p.H && wi >= 0 && wi < p.W)
                      a = xq[(((int64_t)n * p.Cin + g * cig + ci) * p.T + ti) * p.H * p.W + (int64_t)hi * p.W + wi];
                    acc += a * w[((ci * p.kT + kt) * p.kH + kh) * p.kW + kw];
                  }
            y[(((int64_t)n * p.Cout + co) * p.To + to) * p.Ho * p.Wo + (int64_t)ho * p.Wo + wo] =
                dequant_one(acc, zp * wsum, sx * wscale[co], bias ? bias[co] : 0.f, relu);
          }
    }
  return SEV_OK;
}

bool valid(float sx, int zp, const ConvParams& p) {
  return sx > 0.f && std::isfinite(sx) && zp >= 0 && zp <= 255 && p.groups > 0 && p.Cin % p.groups == 0 &&
         p.Cout % p.groups == 0;
}

}  // namespace
}  // namespace sev

extern "C" {

int sev_int8_weight_stride(int64_t k) { return (int)sev::round_up(k, 4); }

int sev_int8_quantize_weights(const float* w, int8_t* wq, float* wscale, int64_t cout, int64_t k) {
  const int64_t kp = sev::round_up(k, 4);
  for (int64_t c = 0; c < cout; c++) {
    const float* wc = w + c * k;
    float m = 0.f;
    for (int64_t i = 0; i < k; i++) m = std::fmax(m, std::fabs(wc[i]));
    const float s = m > 0.f ? m / 127.f : 1.f;
    wscale[c] = s;
    for (int64_t i = 0; i < kp; i++) {
      int q = i < k ? (int)std::nearbyint(wc[i] / s) : 0;
      wq[c * kp + i] = (int8_t)(q < -127 ? -127 : (q > 127 ? 127 : q));
    }
  }
  return SEV_OK;
}

int sev_quantize_u8(const float* x, uint8_t* q, int64_t n, float scale, int zero_point) {
  if (!(scale > 0.f) || zero_point < 0 || zero_point > 255) return sev::fail(SEV_EINVAL, "bad quantisation parameters");
  sev::quantize(x, q, n, scale, zero_point);
  return SEV_OK;
}

int sev_conv3d_int8_forward(const float* x, float x_scale, int x_zero_point, const int8_t* wq, const float* wscale,
                            const float* bias, float* y, const int* pp, int relu) {
  const sev::ConvParams p(pp);
  if (!sev::valid(x_scale, x_zero_point, p)) return sev::fail(SEV_EINVAL, "int8 conv: bad scale, zero point or groups");
  if (p.out_spatial() == 0 || p.N == 0 || p.Cout == 0) return SEV_OK;
  return sev::int8_forward(x, x_scale, x_zero_point, wq, wscale, bias, y, p, relu);
}

int sev_conv3d_int8_forward_reference(const float* x, float x_scale, int x_zero_point, const int8_t* wq,
                                      const float* wscale, const float* bias, float* y, const int* pp, int relu) {
  const sev::ConvParams p(pp);
  if (!sev::valid(x_scale, x_zero_point, p)) return sev::fail(SEV_EINVAL, "int8 conv: bad scale, zero point or groups");
  return sev::int8_reference(x, x_scale, x_zero_point, wq, wscale, bias, y, p, relu);
}

int sev_int8_set_kernel(int vnni) {
  const int prev = sev::use_vnni() ? 1 : 0;
  sev::g_kernel_cap = vnni ? 1 : 0;
  return prev;
}

int sev_int8_kernel(void) { return sev::use_vnni() ? 1 : 0; }

}  // extern "C"
