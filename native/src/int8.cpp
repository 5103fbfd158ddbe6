// INT8 inference on the CPU: u8 activations x s8 weights, int32 accumulation, activations kept in u8
// from one convolution to the next.
//
// Activation layout ("blocked"): [N][Cb][T][H][W][4], Cb = ceil(C/4). The four channels 4b..4b+3 of
// one position are one 32-bit word; channels past C in the last block are 0. Why: AVX-512 VNNI's
// vpdpbusd multiplies the 4 unsigned bytes of each 32-bit lane by 4 signed bytes and adds the four
// products into that lane. With 4 channels per word, one 64-byte load is 16 positions x 4 input
// channels, and one broadcast weight word (4 input channels of one output channel) makes one
// vpdpbusd: 64 multiply-adds, no im2col, for a 1x1x1, a temporal 3x1x1 (the load just starts T*H*W
// words earlier or later) or a grouped 1x3x3 conv alike.
//
// Quantisation (the fast kernels, the scalar kernel and the naive reference share every formula, so
// integer paths agree bit for bit):
//  - input of the network (float): q = clamp(round_half_even(x / s) + zp, 0, 255); zp 0 or 128.
//  - weights: per output channel, symmetric s8: sw[c] = max|w[c]| / 127, q = round(w / sw[c]).
//  - conv: acc = sum (xq - zp) * wq, computed as sum xq * wq - zp * sum wq; a tap outside the input
//    reads zp (the quantised 0), which is what keeps that correction one constant per channel.
//  - epilogue: v = fma(acc - comp, m[c], a[c]) [v = fma(res, rs[c], v)], then
//      u8 output (the next layer's input, zp 0, one scale sy[c] per channel): q = round_half_even(clamp(v,
//      0, 255)) with m = sx * sw[c] / sy[c], a = bias[c] / sy[c], rs = s_res[c] / sy[c]: requantisation
//      and ReLU in one step (a u8 output with zero point 0 cannot hold a negative value, so its ReLU is
//      the clamp); float output: m = sx * sw[c], a = bias[c], rs = s_res[c]; then max(v, 0) when relu.
//    Activations have one scale per channel: the producer's epilogue writes each channel at its own
//    scale (per-channel arrays it has anyway) and the consumer's weights carry its input's channel
//    scales (folded in before quantising them), so the kernel itself sees one input scale sx.
//    The residual `res` (u8, zp 0, same blocked shape as the output) is the standard block's
//    shortcut, added before the ReLU: the block ends inside its last conv.
//
// Three ways to walk the output positions, picked per conv shape (all feed the same register tile):
//  - range: 1x1x1 and kTx1x1 convs ("same" padding in T, stride 1): the positions of a sample are one
//    flat range; a temporal tap is a shift by H*W positions, valid where the shifted index stays in
//    [0, T*H*W). Tiles cross frame boundaries freely (no waste on 7x7 frames).
//  - plane: other stride-1 "same" convs (the grouped 1x3x3): tiles within one frame, per-lane masks
//    of valid taps precomputed per (tap, 16 positions) of the frame.
//  - row: everything else (stride 2, the stem's 1x7x7): tiles along one output row; stride 2 loads
//    32 input words and keeps the even ones (vpermt2d).
// A register tile is MR output channels (4 or 8, aligned to output blocks) x NV vectors of 16
// positions (NV <= 3): MR * NV accumulators stay in registers through the whole reduction and the
// epilogue, and the 4-channel output words are assembled there (q0 | q1 << 8 | q2 << 16 | q3 << 24).
// Grouped convs: a tile reads the input blocks its channels' groups span (nb per tile, the same for
// every tile), with zero weights for channels of other groups; group widths of 8 or 16 waste nothing,
// width 2 uses 4-channel tiles (2 groups per input block), other widths waste some multiply-adds.
// Parallel (OpenMP, dynamic) over position tiles; each tile runs every output channel tile, so a
// 7x7x16 layer at batch 1 still splits evenly over the cores. A scalar tile with the same inputs and
// arithmetic runs where VNNI is missing (and under sev_int8_set_kernel(0)); conv_reference below is
// the plain-loop definition both are tested against.
#include <omp.h>

#include <algorithm>
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
#define SEV_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#endif

namespace sev {
namespace {

constexpr int NV_MAX = 3;            // vectors of 16 positions per register tile
constexpr int TILE = 16 * NV_MAX;    // positions per tile

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int max_threads() { return (omp_in_parallel() || omp_get_level() > 0) ? 1 : omp_get_max_threads(); }

// 0: the scalar kernels even where VNNI exists (sev_int8_set_kernel, for tests and benchmarks)
int g_kernel_cap = 1;

bool has_vnni() {
#if SEV_X86
  static const bool ok = [] {
    __builtin_cpu_init();
    return cpu_isa() >= 2 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

bool use_vnni() { return g_kernel_cap > 0 && has_vnni(); }

// bits [lo, hi) of a lane mask of `lanes` bits (16 or 32), clamped to the lanes that exist
inline uint32_t lane_range(int64_t lo, int64_t hi, int lanes) {
  lo = max64(lo, 0);
  hi = min64(hi, lanes);
  if (hi <= lo) return 0;
  const uint64_t ones = (hi - lo >= 32) ? 0xffffffffull : ((1ull << (hi - lo)) - 1);
  return (uint32_t)(ones << lo);
}

// ---------------------------------------------------------------- scalar quantisation formulas
// float -> u8 with a zero point (the network's input). The clamp to +-512 before rounding keeps the
// int conversion defined and maps NaN to the bottom (as vmaxps does); it never changes a u8 result.
inline uint8_t quant_one(float x, float inv, int zp) {
  float t = x * inv;
  t = t > -512.f ? t : -512.f;
  t = t < 512.f ? t : 512.f;
  const int q = (int)std::nearbyint(t) + zp;
  return (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
}

// the conv epilogue, one value (the vector epilogue computes exactly this: same fma, same rounding)
inline float epi_value(int32_t acc, int32_t comp, float m, float a) { return std::fma((float)(acc - comp), m, a); }
inline float epi_residual(float v, int r, float rs) { return std::fma((float)r, rs, v); }
inline uint8_t epi_u8(float v) {
  v = v > 0.f ? v : 0.f;   // NaN -> 0, as vmaxps(v, 0)
  v = v < 255.f ? v : 255.f;
  return (uint8_t)(int)std::nearbyint(v);
}
inline float epi_f32(float v, int relu) { return relu ? (v > 0.f ? v : 0.f) : v; }

// symmetric per-row s8 quantisation of k floats (rows of a weight tensor); returns the scale
inline float weight_scale(const float* w, int64_t k) {
  float m = 0.f;
  for (int64_t i = 0; i < k; i++) m = std::fmax(m, std::fabs(w[i]));
  return m > 0.f ? m / 127.f : 1.f;
}
inline int8_t weight_q(float w, float s) {
  const int q = (int)std::nearbyint(w / s);
  return (int8_t)(q < -127 ? -127 : (q > 127 ? 127 : q));
}

// ---------------------------------------------------------------- geometry of one conv
enum Path { kRange, kPlane, kRow };

struct Geo {
  ConvParams p;
  int cig, cog, kv, cbi, mr, nb;
  int64_t si, so;
  Path path;

  explicit Geo(const ConvParams& q) : p(q) {
    cig = p.cin_g();
    cog = p.cout_g();
    kv = (int)p.ksize();
    cbi = (p.Cin + 3) / 4;
    si = p.in_spatial();
    so = p.out_spatial();
    const bool same = p.sT == 1 && p.sH == 1 && p.sW == 1 && p.To == p.T && p.Ho == p.H && p.Wo == p.W;
    path = (same && p.kH == 1 && p.kW == 1 && p.pH == 0 && p.pW == 0) ? kRange : (same ? kPlane : kRow);
    // 8-channel tiles unless 4-channel ones read fewer input blocks (group width 2 or 1)
    mr = 8;
    nb = span(8);
    const int nb4 = span(4);
    if (nb4 < nb) {
      mr = 4;
      nb = nb4;
    }
  }
  // input blocks read by output channels [c0, c0 + m): from the first channel of c0's group to the
  // last of (c0 + m - 1)'s group
  int span(int m) const {
    int most = 1;
    for (int c0 = 0; c0 < p.Cout; c0 += m) {
      const int c1 = (int)min64(c0 + m, p.Cout) - 1;
      const int lo = (c0 / cog) * cig / 4, hi = ((c1 / cog + 1) * cig - 1) / 4;
      most = std::max(most, hi - lo + 1);
    }
    return most;
  }
  // the first input block of the tile at output channel c0 (nb blocks from there stay inside Cb)
  int tile_block(int c0) const { return std::min((c0 / cog) * cig / 4, cbi - nb); }
  // bytes of one packed weight row: [kv][nb][4]
  int64_t wrow() const { return (int64_t)kv * nb * 4; }
};

// ---------------------------------------------------------------- epilogue constants
struct Epi {
  std::vector<int32_t> comp;   // zp * sum of the channel's weights
  std::vector<float> m, a;     // v = fma(acc - comp, m, a)
  std::vector<float> rs;       // residual scales (divided by the output scales for u8 output)
  bool u8 = true;
  int relu = 0;
};

// wrow: bytes per weight row (packed or plain: either way the row holds the channel's weights and 0s)
// y_scale: per output channel (u8 output) or null (float output); res_scale: per channel or null.
// wsum: each channel's weight sum (int32, possibly unaligned), or null to add up the rows of wq (wrow
// bytes each, zero padded).
Epi make_epi(const int8_t* wq, int64_t wrow, const int8_t* wsum, int cout, float sx, int zp, const float* wscale,
             const float* bias, const float* res_scale, const float* y_scale, int relu) {
  Epi e;
  e.u8 = y_scale != nullptr;
  e.relu = relu;
  e.comp.resize(cout);
  e.m.resize(cout);
  e.a.resize(cout);
  e.rs.resize(cout);
  for (int c = 0; c < cout; c++) {
    int32_t s = 0;
    if (wsum)
      std::memcpy(&s, wsum + 4 * c, 4);
    else
      for (int64_t k = 0; k < wrow; k++) s += wq[c * wrow + k];
    e.comp[c] = zp * s;
    const float b = bias ? bias[c] : 0.f, r = res_scale ? res_scale[c] : 0.f;
    e.m[c] = e.u8 ? (sx * wscale[c]) / y_scale[c] : sx * wscale[c];
    e.a[c] = e.u8 ? b / y_scale[c] : b;
    e.rs[c] = e.u8 ? r / y_scale[c] : r;
  }
  return e;
}

// ---------------------------------------------------------------- tiles
// Where one tap of a position tile reads, per vector of 16 output positions: the address of lane 0 in
// input channel block 0 of the sample, and which input lanes are inside the input (the others read
// zp). Stride 1: 16 input lanes, one per output lane; stride 2 (row path): 32 input lanes, output lane
// j reading lane 2j.
struct TapRef {
  int k;   // tap index kt*kH*kW + kh*kW + kw (the weight offset)
  const uint8_t* p[NV_MAX];
  uint32_t m[NV_MAX];
};

struct Tile {
  int nv = 0, ntap = 0, sw = 1;
  int64_t pos = 0;            // output position (within the sample) of lane 0 of vector 0
  uint32_t om[NV_MAX] = {};   // output lanes that exist
  TapRef* taps = nullptr;
};

// everything a register tile needs besides its positions
struct Conv {
  const Geo* g;
  const uint8_t* x;   // sample base
  int64_t bstride;    // bytes per input channel block (4 * T*H*W)
  const int8_t* w;    // packed weights
  int zp;
  const Epi* e;
  uint8_t* yq;        // u8 output (sample base), or
  float* yf;          // float output (sample base)
  int yoff;           // u8 output: the channel this conv's channel 0 goes to
  const uint8_t* res; // residual (sample base) or null
};

// a tap that reads nothing but zp adds zp * w: with zp 0 it is skipped
inline void add_tap(Tile& t, const TapRef& r, int zp) {
  uint32_t any = 0;
  for (int v = 0; v < t.nv; v++) any |= r.m[v];
  if (any || zp != 0) t.taps[t.ntap++] = r;
}

// range path: positions [s0, s0 + 16 nv) of the sample
void setup_range(const Geo& g, const uint8_t* x, int64_t s0, int nv, int zp, Tile& t) {
  const ConvParams& p = g.p;
  const int64_t S = g.si, hw = (int64_t)p.H * p.W;
  t.nv = nv;
  t.sw = 1;
  t.ntap = 0;
  t.pos = s0;
  for (int v = 0; v < nv; v++) t.om[v] = lane_range(0, S - (s0 + 16 * v), 16);
  for (int kt = 0; kt < p.kT; kt++) {
    TapRef r;
    r.k = kt;
    for (int v = 0; v < nv; v++) {
      const int64_t st = s0 + 16 * v + (int64_t)(kt - p.pT) * hw;   // input index of lane 0
      r.p[v] = x + st * 4;
      r.m[v] = lane_range(-st, S - st, 16) & t.om[v];
    }
    add_tap(t, r, zp);
  }
}

// plane path: positions [q0, q0 + 16 nv) of frame `to`; masks[(kh*kW + kw) * nvec + q0/16 + v]
void setup_plane(const Geo& g, const uint8_t* x, int to, int64_t q0, int nv, int zp, const uint16_t* masks,
                 int64_t nvec, Tile& t) {
  const ConvParams& p = g.p;
  const int64_t hw = (int64_t)p.H * p.W;
  t.nv = nv;
  t.sw = 1;
  t.ntap = 0;
  t.pos = to * hw + q0;
  for (int v = 0; v < nv; v++) t.om[v] = lane_range(0, hw - (q0 + 16 * v), 16);
  for (int kt = 0; kt < p.kT; kt++) {
    const int ti = to - p.pT + kt;
    const bool tin = ti >= 0 && ti < p.T;
    for (int kh = 0; kh < p.kH; kh++)
      for (int kw = 0; kw < p.kW; kw++) {
        TapRef r;
        r.k = (kt * p.kH + kh) * p.kW + kw;
        const int64_t off = (int64_t)(kh - p.pH) * p.W + (kw - p.pW);
        for (int v = 0; v < nv; v++) {
          r.p[v] = x + (ti * hw + q0 + 16 * v + off) * 4;
          r.m[v] = tin ? masks[(kh * p.kW + kw) * nvec + q0 / 16 + v] : 0;
        }
        add_tap(t, r, zp);
      }
  }
}

// row path: positions wo0 .. wo0 + 16 nv of output row (to, ho)
void setup_row(const Geo& g, const uint8_t* x, int to, int ho, int64_t wo0, int nv, int zp, Tile& t) {
  const ConvParams& p = g.p;
  t.nv = nv;
  t.sw = p.sW;
  t.ntap = 0;
  t.pos = ((int64_t)to * p.Ho + ho) * p.Wo + wo0;
  for (int v = 0; v < nv; v++) t.om[v] = lane_range(0, p.Wo - (wo0 + 16 * v), 16);
  for (int kt = 0; kt < p.kT; kt++) {
    const int ti = to * p.sT - p.pT + kt;
    for (int kh = 0; kh < p.kH; kh++) {
      const int hi = ho * p.sH - p.pH + kh;
      const bool in = ti >= 0 && ti < p.T && hi >= 0 && hi < p.H;
      for (int kw = 0; kw < p.kW; kw++) {
        TapRef r;
        r.k = (kt * p.kH + kh) * p.kW + kw;
        for (int v = 0; v < nv; v++) {
          const int64_t wb = (wo0 + 16 * v) * p.sW - p.pW + kw;   // input column of lane 0
          r.p[v] = x + (((int64_t)ti * p.H + hi) * p.W + wb) * 4;
          r.m[v] = in ? lane_range(-wb, p.W - wb, 16 * p.sW) : 0;
        }
        add_tap(t, r, zp);
      }
    }
  }
}

// ---------------------------------------------------------------- scalar register tile
// The reference semantics of a tile, for CPUs without VNNI and for sev_int8_set_kernel(0).
void tile_scalar(const Tile& t, const Conv& cv, int c0) {
  const Geo& g = *cv.g;
  const int mr = g.mr, nb = g.nb, cout = g.p.Cout;
  const int rows = (int)min64(mr, cout - c0);
  const int64_t boff = (int64_t)g.tile_block(c0) * cv.bstride;
  const uint32_t zpw = (uint32_t)cv.zp * 0x01010101u;
  int32_t acc[8][TILE];
  std::memset(acc, 0, sizeof(acc));
  for (int i = 0; i < t.ntap; i++) {
    const TapRef& tp = t.taps[i];
    for (int b = 0; b < nb; b++) {
      for (int v = 0; v < t.nv; v++)
        for (int j = 0; j < 16; j++) {
          const int lane = j * t.sw;
          uint32_t word = zpw;
          if (tp.m[v] >> lane & 1) std::memcpy(&word, tp.p[v] + boff + b * cv.bstride + 4 * lane, 4);
          for (int r = 0; r < rows; r++) {
            const int8_t* w = cv.w + (c0 + r) * g.wrow() + ((int64_t)tp.k * nb + b) * 4;
            int32_t s = 0;
            for (int q = 0; q < 4; q++) s += (int32_t)(uint8_t)(word >> (8 * q)) * w[q];
            acc[r][16 * v + j] += s;
          }
        }
    }
  }
  const Epi& e = *cv.e;
  for (int v = 0; v < t.nv; v++)
    for (int j = 0; j < 16; j++) {
      if (!(t.om[v] >> j & 1)) continue;
      const int64_t pos = t.pos + 16 * v + j;
      for (int r = 0; r < rows; r++) {
        const int c = c0 + r;
        float val = epi_value(acc[r][16 * v + j], e.comp[c], e.m[c], e.a[c]);
        if (cv.res) val = epi_residual(val, cv.res[((int64_t)(c / 4) * g.so + pos) * 4 + c % 4], e.rs[c]);
        if (e.u8)
          cv.yq[((int64_t)((cv.yoff + c) / 4) * g.so + pos) * 4 + c % 4] = epi_u8(val);
        else
          cv.yf[(int64_t)c * g.so + pos] = epi_f32(val, e.relu);
      }
      // a last block with fewer than 4 channels: its pad channels are 0
      if (e.u8 && c0 + rows == cout)
        for (int c = cout; c % 4; c++) cv.yq[((int64_t)((cv.yoff + c) / 4) * g.so + pos) * 4 + c % 4] = 0;
    }
}

#if SEV_X86
// ---------------------------------------------------------------- VNNI register tile
// MR output channels x NV vectors: per (tap, input block) NV loads (two and a permute at stride 2),
// MR weight-word broadcasts, MR * NV vpdpbusd. Then the epilogue on the accumulators in registers.
template <int MR, int NV, int SW>
SEV_VNNI void tile_vnni(const Tile& t, const Conv& cv, int c0) {
  const Geo& g = *cv.g;
  const int nb = g.nb, cout = g.p.Cout;
  const int rows = (int)min64(MR, cout - c0);
  const int64_t boff = (int64_t)g.tile_block(c0) * cv.bstride, bstride = cv.bstride, wrow = g.wrow();
  const int8_t* wr[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) wr[r] = cv.w + (c0 + (r < rows ? r : rows - 1)) * wrow;
  const __m512i zpv = _mm512_set1_epi32((int)((uint32_t)cv.zp * 0x01010101u));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_si512();

  for (int i = 0; i < t.ntap; i++) {
    const TapRef& tp = t.taps[i];
    const int64_t wk = (int64_t)tp.k * nb * 4;
    for (int b = 0; b < nb; b++) {
      __m512i xv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        const uint8_t* a = tp.p[v] + boff + b * bstride;
        if (SW == 1) {
          xv[v] = _mm512_mask_loadu_epi32(zpv, (__mmask16)tp.m[v], a);
        } else {
          const __m512i lo = _mm512_mask_loadu_epi32(zpv, (__mmask16)tp.m[v], a);
          const __m512i hi = _mm512_mask_loadu_epi32(zpv, (__mmask16)(tp.m[v] >> 16), a + 64);
          xv[v] = _mm512_permutex2var_epi32(lo, even, hi);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < MR; r++) {
        int32_t w4;
        std::memcpy(&w4, wr[r] + wk + 4 * b, 4);
        const __m512i wv = _mm512_set1_epi32(w4);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], xv[v], wv);
      }
    }
  }

  // epilogue: v = fma(acc - comp, m, a) [+ residual]; u8: 4 channels per word, whole blocks stored.
  // Every loop here unrolls fully (constant trip counts, no early exit), so acc stays in registers.
  const Epi& e = *cv.e;
  const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.f);
  const __m512i low8 = _mm512_set1_epi32(0xff);
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    const __mmask16 om = (__mmask16)t.om[v];
    const int64_t pos = t.pos + 16 * v;
#pragma GCC unroll 2
    for (int blk = 0; blk < MR / 4; blk++) {
      const int cb = c0 / 4 + blk;   // c0 is a multiple of 4
      if (4 * blk >= rows) continue;
      __m512i resw = _mm512_setzero_si512();
      if (cv.res) resw = _mm512_maskz_loadu_epi32(om, cv.res + ((int64_t)cb * g.so + pos) * 4);
      __m512i word = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++) {
        const int r = 4 * blk + q;
        const int c = c0 + (r < rows ? r : rows - 1);
        const __m512i d = _mm512_sub_epi32(acc[r][v], _mm512_set1_epi32(e.comp[c]));
        __m512 val = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(e.m[c]), _mm512_set1_ps(e.a[c]));
        if (cv.res) {
          const __m512i rb = _mm512_and_si512(_mm512_srli_epi32(resw, 8 * q), low8);
          val = _mm512_fmadd_ps(_mm512_cvtepi32_ps(rb), _mm512_set1_ps(e.rs[c]), val);
        }
        if (e.u8) {
          val = _mm512_min_ps(_mm512_max_ps(val, zero), top);
          const __m512i qv = _mm512_slli_epi32(_mm512_cvtps_epi32(val), 8 * q);
          word = r < rows ? _mm512_or_si512(word, qv) : word;
        } else {
          if (e.relu) val = _mm512_max_ps(val, zero);
          if (r < rows) _mm512_mask_storeu_ps(cv.yf + (int64_t)c * g.so + pos, om, val);
        }
      }
      if (e.u8) _mm512_mask_storeu_epi32(cv.yq + ((int64_t)(cv.yoff / 4 + cb) * g.so + pos) * 4, om, word);
    }
  }
}

using TileFn = void (*)(const Tile&, const Conv&, int);

template <int MR, int SW>
TileFn pick_nv(int nv) {
  return nv == 1 ? tile_vnni<MR, 1, SW> : nv == 2 ? tile_vnni<MR, 2, SW> : tile_vnni<MR, 3, SW>;
}

TileFn pick_tile(int mr, int sw, int nv) {
  if (mr == 8) return sw == 1 ? pick_nv<8, 1>(nv) : pick_nv<8, 2>(nv);
  return sw == 1 ? pick_nv<4, 1>(nv) : pick_nv<4, 2>(nv);
}
#endif

// per (kh, kw) and 16-position vector of a frame: lanes whose tap stays inside the frame (plane path)
std::vector<uint16_t> plane_masks(const ConvParams& p, int64_t& nvec) {
  const int64_t hw = (int64_t)p.H * p.W;
  nvec = ceil_div(hw, 16);
  std::vector<uint16_t> m((size_t)(p.kH * p.kW * nvec), 0);
  for (int kh = 0; kh < p.kH; kh++)
    for (int kw = 0; kw < p.kW; kw++) {
      uint16_t* mk = m.data() + (kh * p.kW + kw) * nvec;
      for (int h = 0; h < p.H; h++) {
        const int hi = h + kh - p.pH;
        if (hi < 0 || hi >= p.H) continue;
        for (int w = 0; w < p.W; w++) {
          const int wi = w + kw - p.pW;
          const int64_t q = (int64_t)h * p.W + w;
          if (wi >= 0 && wi < p.W) mk[q / 16] |= (uint16_t)(1u << (q % 16));
        }
      }
    }
  return m;
}

// ---------------------------------------------------------------- the conv
int conv_forward(const uint8_t* x, float sx, int zp, const int8_t* wq, const float* wscale, const float* bias,
                 const uint8_t* res, const float* res_scale, void* y, const float* y_scale, int y_channels,
                 int y_offset, const ConvParams& p, int relu) {
  const Geo g(p);
  // the packed rows are followed by each channel's weight sum (sev_int8_pack_weights)
  const Epi e =
      make_epi(wq, g.wrow(), wq + (int64_t)p.Cout * g.wrow(), p.Cout, sx, zp, wscale, bias, res_scale, y_scale, relu);
  int64_t nvec = 0;
  std::vector<uint16_t> masks;
  if (g.path == kPlane) masks = plane_masks(p, nvec);
  // lines: one per sample (range), frame (plane) or output row (row); tiles of up to 48 positions
  const int64_t line = g.path == kRange ? g.si : g.path == kPlane ? (int64_t)p.H * p.W : p.Wo;
  const int64_t per_sample = g.path == kRange ? 1 : g.path == kPlane ? p.T : (int64_t)p.To * p.Ho;
  const int64_t tiles = ceil_div(line, TILE), units = (int64_t)p.N * per_sample * tiles;
  const int nt = (int)min64(max_threads(), units);
  const bool vnni = use_vnni();
  const int ycb = (y_channels + 3) / 4, rcb = (p.Cout + 3) / 4;

#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<TapRef> taps((size_t)g.kv);
    Tile t;
    t.taps = taps.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t u = 0; u < units; u++) {
      const int64_t tile = u % tiles, ln = (u / tiles) % per_sample;
      const int n = (int)(u / tiles / per_sample);
      const int64_t s0 = tile * TILE;
      const int nv = (int)min64(NV_MAX, ceil_div(line - s0, 16));
      Conv cv;
      cv.g = &g;
      cv.x = x + (int64_t)n * g.cbi * g.si * 4;
      cv.bstride = g.si * 4;
      cv.w = wq;
      cv.zp = zp;
      cv.e = &e;
      cv.yq = e.u8 ? static_cast<uint8_t*>(y) + (int64_t)n * ycb * g.so * 4 : nullptr;
      cv.yf = e.u8 ? nullptr : static_cast<float*>(y) + (int64_t)n * p.Cout * g.so;
      cv.yoff = y_offset;
      cv.res = res ? res + (int64_t)n * rcb * g.so * 4 : nullptr;
      if (g.path == kRange)
        setup_range(g, cv.x, s0, nv, zp, t);
      else if (g.path == kPlane)
        setup_plane(g, cv.x, (int)ln, s0, nv, zp, masks.data(), nvec, t);
      else
        setup_row(g, cv.x, (int)(ln / p.Ho), (int)(ln % p.Ho), s0, nv, zp, t);
#if SEV_X86
      if (vnni) {
        const TileFn fn = pick_tile(g.mr, t.sw, nv);
        for (int c0 = 0; c0 < p.Cout; c0 += g.mr) fn(t, cv, c0);
        continue;
      }
#endif
      for (int c0 = 0; c0 < p.Cout; c0 += g.mr) tile_scalar(t, cv, c0);
    }
  }
  return SEV_OK;
}

// ---------------------------------------------------------------- naive reference
// Plain loops over blocked activations and plain weights [Cout][Kp] (PyTorch order, Kp = K rounded up
// to 4), the same epilogue: what the tests compare the fast path with.
int conv_reference(const uint8_t* x, float sx, int zp, const int8_t* wq, const float* wscale, const float* bias,
                   const uint8_t* res, const float* res_scale, void* y, const float* y_scale, int y_channels,
                   int y_offset, const ConvParams& p, int relu) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t K = (int64_t)cig * p.ksize(), Kp = (K + 3) / 4 * 4, si = p.in_spatial(), so = p.out_spatial();
  const int cbi = (p.Cin + 3) / 4, ycb = (y_channels + 3) / 4, rcb = (p.Cout + 3) / 4;
  const Epi e = make_epi(wq, Kp, nullptr, p.Cout, sx, zp, wscale, bias, res_scale, y_scale, relu);
  uint8_t* yq = static_cast<uint8_t*>(y);
  float* yf = static_cast<float*>(y);
  for (int n = 0; n < p.N; n++)
    for (int co = 0; co < p.Cout; co++) {
      const int g = co / cog;
      for (int to = 0; to < p.To; to++)
        for (int ho = 0; ho < p.Ho; ho++)
          for (int wo = 0; wo < p.Wo; wo++) {
            int32_t acc = 0;
            for (int ci = 0; ci < cig; ci++)
              for (int kt = 0; kt < p.kT; kt++)
                for (int kh = 0; kh < p.kH; kh++)
                  for (int kw = 0; kw < p.kW; kw++) {
                    const int ti = to * p.sT - p.pT + kt, hi = ho * p.sH - p.pH + kh, wi = wo * p.sW - p.pW + kw;
                    const int c = g * cig + ci;
                    int32_t a = zp;
                    if (ti >= 0 && ti < p.T && hi >= 0 && hi < p.H && wi >= 0 && wi < p.W)
                      a = x[(((int64_t)n * cbi + c / 4) * si + ((int64_t)ti * p.H + hi) * p.W + wi) * 4 + c % 4];
                    acc += a * wq[co * Kp + ((ci * p.kT + kt) * p.kH + kh) * p.kW + kw];
                  }
            const int64_t pos = ((int64_t)to * p.Ho + ho) * p.Wo + wo;
            float v = epi_value(acc, e.comp[co], e.m[co], e.a[co]);
            if (res) v = epi_residual(v, res[(((int64_t)n * rcb + co / 4) * so + pos) * 4 + co % 4], e.rs[co]);
            if (e.u8) {
              const int c = y_offset + co;
              yq[(((int64_t)n * ycb + c / 4) * so + pos) * 4 + c % 4] = epi_u8(v);
            } else {
              yf[((int64_t)n * p.Cout + co) * so + pos] = epi_f32(v, relu);
            }
          }
    }
  // pad channels of the last output block
  if (e.u8 && y_offset + p.Cout == y_channels)
    for (int n = 0; n < p.N; n++)
      for (int c = y_channels; c % 4; c++)
        for (int64_t s = 0; s < so; s++) yq[(((int64_t)n * ycb + c / 4) * so + s) * 4 + c % 4] = 0;
  return SEV_OK;
}

// ---------------------------------------------------------------- float <-> blocked u8
#if SEV_X86
SEV_VNNI void quantize_block_avx512(const float* const* planes, int nplanes, uint8_t* q, int64_t S, const float* inv,
                                    int zp, const float* gate, const uint8_t* res, const float* rscale) {
  const __m512 lo = _mm512_set1_ps(-512.f), hi = _mm512_set1_ps(512.f), fz = _mm512_setzero_ps();
  const __m512i vzp = _mm512_set1_epi32(zp), z = _mm512_setzero_si512(), m255 = _mm512_set1_epi32(255);
  for (int64_t s = 0; s < S; s += 16) {
    const __mmask16 m = (__mmask16)lane_range(0, S - s, 16);
    const __m512i rword = res ? _mm512_maskz_loadu_epi32(m, res + 4 * s) : z;
    __m512i word = _mm512_setzero_si512();
    for (int j = 0; j < nplanes; j++) {
      __m512 v = _mm512_maskz_loadu_ps(m, planes[j] + s);
      if (gate) v = _mm512_mul_ps(v, _mm512_set1_ps(gate[j]));
      if (res) {
        // x*g + deq(r) then the ReLU: two roundings (mul, add) like channel-scale -> dequantize -> add_relu.
        // The add is the explicit-rounding form (round to nearest, as MXCSR): GCC's plain _mm512_add_ps is a
        // vector `+`, which -ffp-contract=fast (the gnu++17 default) fused with the gate's multiply into one
        // vfmadd inside this fma-enabled function — one rounding fewer than the scalar path and the
        // four-pass reference, a different byte about once in 4M values.
        const __m512 r = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(rword, 8 * j), _mm512_set1_epi32(255)));
        v = _mm512_add_round_ps(v, _mm512_mul_ps(r, _mm512_set1_ps(rscale[j])),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_max_ps(v, fz);
      }
      __m512 t = _mm512_mul_ps(v, _mm512_set1_ps(inv[j]));
      t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
      __m512i iv = _mm512_add_epi32(_mm512_cvtps_epi32(t), vzp);   // round half to even (MXCSR default)
      iv = _mm512_min_epi32(_mm512_max_epi32(iv, z), m255);
      word = _mm512_or_si512(word, _mm512_slli_epi32(iv, 8 * j));
    }
    _mm512_mask_storeu_epi32(q + 4 * s, m, word);
  }
}
#endif

// x [N][C][S] float -> channels [off, off + C) of q [N][ceil(qc/4)][S][4] (pad channels of the last block 0),
// scale[c] per channel of x. With gate [N][C] (squeeze-excite), x is first scaled by gate[n][c]; with res
// (blocked u8 [N][ceil(C/4)][S][4], zero point 0, scales rscale[c]) the value is relu(x*g + deq(res)) —
// the SE block's tail in one pass over x instead of scale, dequantise, add+ReLU and quantise passes.
void quantize_blocked(const float* x, uint8_t* q, int64_t N, int64_t C, int64_t S, const float* scale, int zp,
                      int64_t qc, int64_t off, const float* gate = nullptr, const uint8_t* res = nullptr,
                      const float* rscale = nullptr) {
  const int64_t cb = ceil_div(C, 4), qcb = ceil_div(qc, 4), units = N * cb;
  const int nt = (int)min64(max_threads(), max64(1, N * C * S >> 16));
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t n = u / cb, b = u % cb;
    const int nplanes = (int)min64(4, C - 4 * b);
    const float* planes[4];
    float inv[4], g[4] = {1.f, 1.f, 1.f, 1.f}, rs[4] = {0.f, 0.f, 0.f, 0.f};
    for (int j = 0; j < nplanes; j++) {
      planes[j] = x + (n * C + 4 * b + j) * S;
      inv[j] = 1.f / scale[4 * b + j];
      if (gate) g[j] = gate[n * C + 4 * b + j];
      if (res) rs[j] = rscale[4 * b + j];
    }
    const uint8_t* r = res ? res + (n * cb + b) * S * 4 : nullptr;
    uint8_t* dst = q + ((n * qcb + off / 4 + b) * S) * 4;
#if SEV_X86
    if (use_vnni()) {
      quantize_block_avx512(planes, nplanes, dst, S, inv, zp, gate ? g : nullptr, r, rs);
      continue;
    }
#endif
    for (int64_t s = 0; s < S; s++)
      for (int j = 0; j < 4; j++) {
        if (j >= nplanes) {
          dst[4 * s + j] = 0;
          continue;
        }
        float v = planes[j][s];
        if (gate) v = v * g[j];
        if (r) {
          v = v + (float)r[4 * s + j] * rs[j];
          v = v > 0.f ? v : 0.f;
        }
        dst[4 * s + j] = quant_one(v, inv[j], zp);
      }
  }
}

}  // namespace
}  // namespace sev

// ---------------------------------------------------------------- C ABI
extern "C" {

int sev_int8_weight_stride(int64_t k) { return (int)((k + 3) / 4 * 4); }

int sev_int8_quantize_weights(const float* w, int8_t* wq, float* wscale, int64_t cout, int64_t k) {
  SEV_CALL_SCOPE();
  const int64_t kp = (k + 3) / 4 * 4;
  for (int64_t c = 0; c < cout; c++) {
    const float s = sev::weight_scale(w + c * k, k);
    wscale[c] = s;
    for (int64_t i = 0; i < kp; i++) wq[c * kp + i] = i < k ? sev::weight_q(w[c * k + i], s) : 0;
  }
  return SEV_OK;
}

// [Cout][kv][nb][4] s8 rows, then Cout int32 row sums (the zero-point correction, precomputed)
int64_t sev_int8_packed_weight_bytes(const int* pp) {
  const sev::Geo g{sev::ConvParams(pp)};
  return (int64_t)g.p.Cout * (g.wrow() + 4);
}

int sev_int8_pack_weights(const float* w, int8_t* wq, float* wscale, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::Geo g{sev::ConvParams(pp)};
  const int64_t K = (int64_t)g.cig * g.kv, wrow = g.wrow();
  for (int c = 0; c < g.p.Cout; c++) {
    const float* wc = w + c * K;
    const float s = sev::weight_scale(wc, K);
    wscale[c] = s;
    const int grp = c / g.cog, b0 = g.tile_block(c / g.mr * g.mr);
    int8_t* row = wq + c * wrow;
    for (int k = 0; k < g.kv; k++)
      for (int b = 0; b < g.nb; b++)
        for (int j = 0; j < 4; j++) {
          const int ci = (b0 + b) * 4 + j - grp * g.cig;   // input channel within the group
          row[((int64_t)k * g.nb + b) * 4 + j] = (ci >= 0 && ci < g.cig) ? sev::weight_q(wc[(int64_t)ci * g.kv + k], s) : 0;
        }
    int32_t sum = 0;
    for (int64_t k = 0; k < wrow; k++) sum += row[k];
    std::memcpy(wq + (int64_t)g.p.Cout * wrow + 4 * c, &sum, 4);
  }
  return SEV_OK;
}

// checks shared by the fast conv and the reference
static bool positive_finite(const float* s, int n) {
  for (int i = 0; i < n; i++)
    if (!(s[i] > 0.f) || !std::isfinite(s[i])) return false;
  return true;
}

static int int8_conv_check(float x_scale, int x_zero_point, const uint8_t* res, const float* res_scale,
                           const float* y_scale, int y_channels, int y_offset, const sev::ConvParams& p) {
  if (!(x_scale > 0.f) || !std::isfinite(x_scale) || x_zero_point < 0 || x_zero_point > 255)
    return sev::fail(SEV_EINVAL, "int8 conv: bad input scale or zero point");
  if (p.groups <= 0 || p.Cin % p.groups || p.Cout % p.groups || p.sW < 1 || p.sW > 2)
    return sev::fail(SEV_EINVAL, "int8 conv: bad groups or a W stride other than 1 or 2");
  if ((y_scale && !positive_finite(y_scale, p.Cout)) || (res && (!res_scale || !positive_finite(res_scale, p.Cout))))
    return sev::fail(SEV_EINVAL, "int8 conv: bad output or residual scales");
  if (y_scale && (y_offset % 4 || y_offset < 0 || y_offset + p.Cout > y_channels ||
                  (p.Cout % 4 && y_offset + p.Cout != y_channels)))
    return sev::fail(SEV_EINVAL, "int8 conv: output channels must start on a 4-channel block");
  return SEV_OK;
}

int sev_int8_conv(const uint8_t* x, float x_scale, int x_zero_point, const int8_t* wq, const float* wscale,
                  const float* bias, const uint8_t* res, const float* res_scale, void* y, const float* y_scale,
                  int y_channels, int y_offset, const int* pp, int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  const int rc = int8_conv_check(x_scale, x_zero_point, res, res_scale, y_scale, y_channels, y_offset, p);
  if (rc) return rc;
  if (p.out_spatial() == 0 || p.N == 0 || p.Cout == 0) return SEV_OK;
  return sev::conv_forward(x, x_scale, x_zero_point, wq, wscale, bias, res, res_scale, y, y_scale, y_channels,
                           y_offset, p, relu);
}

int sev_int8_conv_reference(const uint8_t* x, float x_scale, int x_zero_point, const int8_t* wq,
                            const float* wscale, const float* bias, const uint8_t* res, const float* res_scale,
                            void* y, const float* y_scale, int y_channels, int y_offset, const int* pp, int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  const int rc = int8_conv_check(x_scale, x_zero_point, res, res_scale, y_scale, y_channels, y_offset, p);
  if (rc) return rc;
  return sev::conv_reference(x, x_scale, x_zero_point, wq, wscale, bias, res, res_scale, y, y_scale, y_channels,
                             y_offset, p, relu);
}

int sev_int8_quantize(const float* x, uint8_t* q, int64_t n, int64_t c, int64_t s, const float* scale,
                      int zero_point, int64_t q_channels, int64_t q_offset) {
  SEV_CALL_SCOPE();
  if (!positive_finite(scale, (int)c) || zero_point < 0 || zero_point > 255)
    return sev::fail(SEV_EINVAL, "int8 quantize: bad scale or zero point");
  if (q_offset % 4 || q_offset < 0 || q_offset + c > q_channels || (c % 4 && q_offset + c != q_channels))
    return sev::fail(SEV_EINVAL, "int8 quantize: channels must start on a 4-channel block");
  sev::quantize_blocked(x, q, n, c, s, scale, zero_point, q_channels, q_offset);
  return SEV_OK;
}

int sev_int8_quantize_gated(const float* x, const float* gate, const uint8_t* res, const float* res_scale,
                            uint8_t* q, int64_t n, int64_t c, int64_t s, const float* scale, int zero_point,
                            int64_t q_channels, int64_t q_offset) {
  SEV_CALL_SCOPE();
  if (!positive_finite(scale, (int)c) || zero_point < 0 || zero_point > 255)
    return sev::fail(SEV_EINVAL, "int8 quantize: bad scale or zero point");
  if (res && (!res_scale || !positive_finite(res_scale, (int)c)))
    return sev::fail(SEV_EINVAL, "int8 quantize: bad residual scales");
  if (q_offset % 4 || q_offset < 0 || q_offset + c > q_channels || (c % 4 && q_offset + c != q_channels))
    return sev::fail(SEV_EINVAL, "int8 quantize: channels must start on a 4-channel block");
  sev::quantize_blocked(x, q, n, c, s, scale, zero_point, q_channels, q_offset, gate, res, res_scale);
  return SEV_OK;
}

int sev_int8_dequantize(const uint8_t* q, float* x, int64_t n, int64_t c, int64_t s, const float* scale,
                        int zero_point) {
  SEV_CALL_SCOPE();
  const int64_t cb = (c + 3) / 4;
#pragma omp parallel for schedule(static) collapse(2) if (n * c * s > (1 << 16))
  for (int64_t i = 0; i < n; i++)
    for (int64_t ch = 0; ch < c; ch++) {
      const uint8_t* src = q + ((i * cb + ch / 4) * s) * 4 + ch % 4;
      float* dst = x + (i * c + ch) * s;
      for (int64_t k = 0; k < s; k++) dst[k] = (float)((int)src[4 * k] - zero_point) * scale[ch];
    }
  return SEV_OK;
}

// average pool (count_include_pad: the window always divides by its full size) of blocked u8 with zero
// point 0, rounding half up: y = (2 sum + K) / (2 K), looked up in a table of every possible sum (an
// integer division per output byte cost more than the rest). Rows of the window are first summed in
// int32 (the vertical sum vectorises), then the W taps.
int sev_int8_avgpool(const uint8_t* x, uint8_t* y, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  const int64_t K = p.ksize(), cb = (p.Cin + 3) / 4, si = p.in_spatial(), so = p.out_spatial();
  const int64_t rows = (int64_t)p.N * cb * p.To * p.Ho;
  std::vector<uint8_t> avg((size_t)(255 * K + 1));
  for (int64_t s = 0; s <= 255 * K; s++) avg[s] = (uint8_t)((2 * s + K) / (2 * K));
#pragma omp parallel if (rows * p.Wo * K > (1 << 16))
  {
    std::vector<int32_t> acc((size_t)p.W * 4);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int ho = (int)(r % p.Ho), to = (int)(r / p.Ho % p.To);
      const int64_t nb = r / p.Ho / p.To;   // n * cb + block
      std::fill(acc.begin(), acc.end(), 0);
      for (int kt = 0; kt < p.kT; kt++) {
        const int ti = to * p.sT - p.pT + kt;
        if (ti < 0 || ti >= p.T) continue;
        for (int kh = 0; kh < p.kH; kh++) {
          const int hi = ho * p.sH - p.pH + kh;
          if (hi < 0 || hi >= p.H) continue;
          const uint8_t* src = x + (nb * si + ((int64_t)ti * p.H + hi) * p.W) * 4;
          for (int64_t i = 0; i < (int64_t)p.W * 4; i++) acc[i] += src[i];
        }
      }
      uint8_t* dst = y + (nb * so + ((int64_t)to * p.Ho + ho) * p.Wo) * 4;
      for (int wo = 0; wo < p.Wo; wo++) {
        const int w0 = std::max(0, wo * p.sW - p.pW), w1 = std::min(p.W, wo * p.sW - p.pW + p.kW);
        int32_t s[4] = {0, 0, 0, 0};
        for (int wi = w0; wi < w1; wi++)
          for (int j = 0; j < 4; j++) s[j] += acc[4 * wi + j];
        for (int j = 0; j < 4; j++) dst[4 * wo + j] = avg[s[j]];
      }
    }
  }
  return SEV_OK;
}

// mean over the S positions of each channel of blocked u8 (zero point 0), times its scale: y [n][c] float
int sev_int8_global_avgpool(const uint8_t* x, float* y, int64_t n, int64_t c, int64_t s, const float* scale) {
  SEV_CALL_SCOPE();
  const int64_t cb = (c + 3) / 4;
#pragma omp parallel for schedule(static) collapse(2) if (n * cb * s > (1 << 16))
  for (int64_t i = 0; i < n; i++)
    for (int64_t b = 0; b < cb; b++) {
      const uint8_t* src = x + (i * cb + b) * s * 4;
      int64_t sum[4] = {0, 0, 0, 0};
      for (int64_t k = 0; k < s; k++)
        for (int j = 0; j < 4; j++) sum[j] += src[4 * k + j];
      for (int j = 0; j < 4 && 4 * b + j < c; j++)
        y[i * c + 4 * b + j] = (float)((double)sum[j] / (double)s * scale[4 * b + j]);
    }
  return SEV_OK;
}

int sev_int8_set_kernel(int vnni) {
  const int prev = sev::use_vnni() ? 1 : 0;
  sev::g_kernel_cap = vnni ? 1 : 0;
  return prev;
}

int sev_int8_kernel(void) { return sev::use_vnni() ? 1 : 0; }

}  // extern "C"
