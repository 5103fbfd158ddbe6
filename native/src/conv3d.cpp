// 3-D convolution, NCDHW, PyTorch weight layout [Cout, Cin/groups, kT, kH, kW].
//
// Paths (chosen per call from the parameter block; every path handles forward, backward-data and
// backward-weight):
//  - pointwise 1x1x1, stride 1, pad 0:   one GEMM per (sample, group) straight on the tensors.
//  - temporal kT x 1 x 1, spatial stride 1, spatial pad 0, temporal stride 1 (the 3x1x1 convs):
//    one GEMM per work unit with K = channels x kT, its packing reading the kT time-shifted views of the
//    tensor straight from memory (zeros past the clip's ends; sgemm_serial_shifted in gemm.cpp); in fp32 on
//    planes from 512 positions the forward and backward-data pack each frame once for its kT output frames
//    (tm_ring: kT GEMM segments, SegmentGemm).
//  - direct 2-D (kT == 1, temporal stride 1 / pad 0, <= 16 channels per group in and out: the grouped
//    1x3x3 convs; the forward, and the fp32 weight gradient, up to 64 out, so the 1x7x7/2 stem too):
//    register-blocked kernel along W over
//    zero-padded, stride-phase-split rows (each input row split once per frame), parallel over (sample,
//    group, frame); backward-data pads each dy row once per frame; at stride 1 on planes up to 64 wide, the
//    same kernels over whole zero-padded planes laid out flat (flat_*_item), small planes several frames
//    to one tall plane (flat_frames);
//    backward-weight keeps (output channel x kw) accumulator blocks in registers over a whole frame
//    per (input channel, kh), parallel over (group, output-channel range).
//  - anything else (the stem's weight gradient in bf16 compute, dense 3x3x3, odd shapes): im2col / col2im in
//    column chunks + GEMM.
// With the fp32 precision BF16 (gemm_bf16.cpp) the GEMM paths round their operands to bf16 for the bf16 GEMM (the
// weights once a call: Bf16Weights), and the direct paths run flat_dp_item (stride 1: forward, backward-data;
// VDPBF16PS over channel pairs), direct_fwd_row_bf16 and direct_bwd_data_row_bf16 (the row path: forward,
// backward-data) and direct_bwd_weight_bf16 (stride 1; over position pairs); the row path's weight gradient is fp32.
// Every forward applies its epilogue (Epi: bias or the eval batch norm, residual, ReLU) to each output tile
// while it is in cache. The naive loops are kept (conv_reference_*) for tests and the benchmark baseline.
#include <omp.h>

#include <atomic>
#include <cstring>
#include <string>

#include "internal.h"
#include "sev_bf16.h"
#include "sev_simd.h"
#include "sevnet.h"

namespace sev {
// gemm.cpp: C = A B + beta C on the calling thread, either operand optionally a matrix of time-shifted
// row views (sh = {taps, step, off, lo, hi}; see there)
void sgemm_serial_shifted(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                          const int64_t* sa, const float* B, int64_t ldb, const int64_t* sb, float beta, float* C,
                          int64_t ldc);
namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// 1 inside any enclosing parallel region (active or not): conv calls never nest regions
int max_threads() { return (omp_in_parallel() || omp_get_level() > 0) ? 1 : omp_get_max_threads(); }

// A work buffer that could not be allocated leaves its unit's outputs unwritten: the failure is counted here and the
// entry point (ConvCall) reports SEV_ENOMEM instead of returning garbage. A process-wide count: a call that overlaps
// another's failure reports it too — under memory exhaustion both fail loudly, neither silently.
std::atomic<uint64_t> g_buffer_failures{0};
void buffer_failed() { g_buffer_failures.fetch_add(1, std::memory_order_relaxed); }
float* conv_scratch(int slot, size_t n) {
  float* p = scratch(slot, n);
  if (!p) buffer_failed();
  return p;
}
struct ConvCall {
  uint64_t failures0 = g_buffer_failures.load(std::memory_order_relaxed);
  int status(const char* op) const {
    return g_buffer_failures.load(std::memory_order_relaxed) == failures0
               ? SEV_OK
               : fail(SEV_ENOMEM, std::string(op) + ": out of memory for a work buffer");
  }
};

// ---------------------------------------------------------------- naive reference
void ref_forward(const float* x, const float* w, const float* bias, float* y, const ConvParams& p, int relu) {
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
}

// ---------------------------------------------------------------- threading helpers
// The GEMM paths below open ONE parallel region per conv call and run sgemm_serial (thread-local
// packing) on disjoint work units inside it: a (sample, group) item, or — when there are fewer items
// than threads (N = 1 inference) — a tile-aligned rectangle of one item's output. A GEMM per
// (sample, group[, tap]) each with its own fork/join made every call pay hundreds of barriers, and on
// a loaded machine each barrier waited for a descheduled thread. Dynamic scheduling also lets the
// running threads take over the units of a descheduled one.

// threads for a call doing `flops` of work: 1 for tiny calls or inside any enclosing parallel region
int conv_threads(double flops) {
  const int nt = max_threads();
  return flops < 2.0e6 ? 1 : nt;
}

// how many parts to cut each of `items` equal items into so that the units balance over nt threads
int parts_per_item(int64_t items, int nt) {
  if (nt <= 1 || items <= 0) return 1;
  if (items % nt == 0 || items >= 4 * nt) return 1;
  const int64_t cap = max64(1, ceil_div(4 * nt, items));
  for (int64_t s = 1; s < cap; s++)
    if ((items * s) % nt == 0) return (int)s;
  return (int)cap;
}

// an M x N output cut into pm x pn rectangles aligned to the GEMM register tile
struct Split2 {
  int64_t M = 0, N = 0, mstep = 1, nstep = 1;
  int pm = 1, pn = 1;
  int parts() const { return pm * pn; }
  void rect(int q, int64_t& i0, int64_t& i1, int64_t& j0, int64_t& j1) const {
    const int a = q / pn, b = q % pn;
    i0 = a * mstep;
    i1 = min64(M, i0 + mstep);
    j0 = b * nstep;
    j1 = min64(N, j0 + nstep);
  }
};

Split2 make_split(int64_t M, int64_t N, int want) {
  Split2 s;
  s.M = M;
  s.N = N;
  s.mstep = max64(1, M);
  s.nstep = max64(1, N);
  if (want <= 1 || M <= 0 || N <= 0) return s;
  int MR, NR;
  gemm_tile(MR, NR);
  const int64_t tm = ceil_div(M, MR), tn = ceil_div(N, NR);
  int64_t best_parts = 0, best_w = 0;
  int ba = 1, bb = 1;
  for (int a = 1; a <= want && a <= tm; a++)
    for (int b = 1; a * b <= want && b <= tn; b++) {
      const int64_t w = ceil_div(tm, a) * ceil_div(tn, b);  // tiles in the largest rectangle
      const int64_t parts = (int64_t)a * b;
      // most parts first, then the smallest largest-rectangle; on ties prefer splitting N
      if (parts > best_parts || (parts == best_parts && w < best_w)) {
        best_parts = parts;
        best_w = w;
        ba = a;
        bb = b;
      }
    }
  s.mstep = ceil_div(tm, ba) * MR;
  s.nstep = ceil_div(tn, bb) * NR;
  s.pm = (int)ceil_div(M, s.mstep);
  s.pn = (int)ceil_div(N, s.nstep);
  return s;
}

// K range [0, K) in `parts` chunks (multiples of 256 where K allows)
inline int64_t k_chunk(int64_t K, int parts) {
  if (parts <= 1) return max64(1, K);
  const int64_t c = ceil_div(K, parts);
  return c >= 256 ? ceil_div(c, 256) * 256 : max64(1, c);
}

// How a weight gradient's GEMMs (each group's dW_g [M x N] summed over units of K) share nt threads: the units cut
// into R parts, each part summing into a buffer of dW's size (the R added in order after), times tm x tn tiles of
// every group's dW. A buffer a thread (R = nt, as it was) costs nt x dW of memory traffic every call, zeroed and
// added: 100 MB at 32 threads for the 3 MB dW of a 512-channel temporal conv, whose GEMM reads ~4 MB — the sums
// outgrew the work past a few cores. Tiles cost packing instead (a tile packs its rows of A and its columns of B: A
// is packed tn times, B tm times). R: the largest divisor of nt whose buffers stay within half the GEMM's inputs,
// two always allowed (2 threads: R = 2, no tiles); the other threads tile dW about square, rows in multiples of ma.
// Fixed by nt and the shape: a worker's units and tile, so dW's bits, never follow the threads' timing.
struct WgradSplit {
  int R = 1, tm = 1, tn = 1;
  int workers() const { return R * tm * tn; }
  // worker v: part r of the units [u0, u1) and tile rows [i0, i1) x columns [j0, j1)
  void work(int v, int64_t units, int64_t M, int64_t N, int64_t ma, int& r, int64_t& u0, int64_t& u1, int64_t& i0,
            int64_t& i1, int64_t& j0, int64_t& j1) const {
    r = v / (tm * tn);
    const int a = v % (tm * tn) / tn, b = v % tn;
    u0 = units * r / R;
    u1 = units * (r + 1) / R;
    const int64_t rows = ceil_div(M, ma);  // in blocks of ma
    i0 = min64(M, rows * a / tm * ma);
    i1 = a + 1 == tm ? M : min64(M, rows * (a + 1) / tm * ma);
    j0 = N * b / tn;
    j1 = N * (b + 1) / tn;
  }
};
WgradSplit wgrad_split(int nt, int maxR, int64_t wsz, double in_floats, int64_t M, int64_t N, int64_t ma) {
  WgradSplit s;
  for (int R = (int)min64(max64(1, nt), max64(1, maxR)); R >= 1; R--)
    if (nt % R == 0 && (R <= 2 || (double)R * wsz <= 0.5 * in_floats)) {
      s.R = R;
      break;
    }
  const int T = max64(1, nt) / s.R;
  double best = 0;
  for (int tm = 1; tm <= T; tm++) {
    if (T % tm) continue;
    const int tn = T / tm;
    if (tm > ceil_div(M, ma) || tn > N) continue;
    const double h = (double)M / tm, w = (double)N / tn, skew = h > w ? h / w : w / h;
    if (best == 0 || skew < best) {
      best = skew;
      s.tm = tm;
      s.tn = tn;
    }
  }
  return s;
}

// ---------------------------------------------------------------- epilogue
// What a forward does to each output value v of channel c once the conv has summed it, in the order (and so with the
// rounding) of the separate ops it replaces: + bias[c], or the eval batch norm v * scale[c] + shift[c]
// (sev_batchnorm_eval_forward's a and b, bn_eval_coefficients); then + res (a tensor of y's layout); then ReLU.
// Applied to each output tile while it is still in cache: the batch norm, residual add and ReLU then cost no pass of
// their own over y (a read and a write of it each).
struct Epi {
  const float* bias = nullptr;
  const float* scale = nullptr;  // with shift: the eval batch norm
  const float* shift = nullptr;
  const float* res = nullptr;
  int relu = 0;
  bool any() const { return bias || scale || res || relu; }
};

// y[j] = act(o[j] * a + b [+ r[j]]) (y may be o). Never inlined and never built with FMA: its multiply and add round
// separately as batchnorm.cpp's eval loop does (inlined into an AVX2/AVX-512 kernel GCC would contract them into an
// FMA and the fused result would no longer be the separate ops' bits). Two builds: the baseline one for baseline
// callers (the GEMM tiles' epilogue, after the GEMM has returned), a VEX one (AVX2 without FMA) for calls from inside
// the vector kernels: there the SSE build made the grouped conv + batch norm at 14x14 5.4x slower (1.09 vs 5.86 ms,
// alternated, same library otherwise) although GCC puts a vzeroupper before each call — the kernels keep zmm16-31
// live, which vzeroupper does not clear (the suspected cause; not isolated further). From the GEMM path's epilogue
// the two builds measured the same.
SEV_INLINE void bn_eval_row_body(float* y, const float* o, int64_t n, float a, float b, const float* r, int relu) {
  if (r)
    for (int64_t j = 0; j < n; j++) {
      const float t = (o[j] * a + b) + r[j];
      y[j] = relu ? (t > 0.f ? t : 0.f) : t;
    }
  else if (relu)
    for (int64_t j = 0; j < n; j++) {
      const float t = o[j] * a + b;
      y[j] = t > 0.f ? t : 0.f;
    }
  else
    for (int64_t j = 0; j < n; j++) y[j] = o[j] * a + b;
}
__attribute__((noinline)) void bn_eval_row(float* y, const float* o, int64_t n, float a, float b, const float* r,
                                           int relu) {
  bn_eval_row_body(y, o, n, a, b, r, relu);
}
#if SEV_X86
__attribute__((noinline, target("avx2"))) void bn_eval_row_vex(float* y, const float* o, int64_t n, float a, float b,
                                                               const float* r, int relu) {
  bn_eval_row_body(y, o, n, a, b, r, relu);
}
#else
inline void bn_eval_row_vex(float* y, const float* o, int64_t n, float a, float b, const float* r, int relu) {
  bn_eval_row(y, o, n, a, b, r, relu);
}
#endif

// rows x cols block of y (leading dimension ld), rows = channels c0.., at offset `off` of the output tensor (where
// e.res is read). (acc + b) + r rounds as the separate ops do (conv with bias, then add): bit-identical to them.
// y[j] = act((o[j] + b) [+ r[j]]) (y may be o): the bias form of a row's epilogue (no multiply: no FMA to avoid)
SEV_INLINE void bias_row(float* y, const float* o, int64_t n, float b, const float* r, int relu) {
  if (r)
    for (int64_t j = 0; j < n; j++) {
      const float t = (o[j] + b) + r[j];
      y[j] = relu ? (t > 0.f ? t : 0.f) : t;
    }
  else if (relu)
    for (int64_t j = 0; j < n; j++) {
      const float t = o[j] + b;
      y[j] = t > 0.f ? t : 0.f;
    }
  else
    for (int64_t j = 0; j < n; j++) y[j] = o[j] + b;
}

void epilogue(float* y, int64_t ld, int64_t rows, int64_t cols, const Epi& e, int64_t c0, int64_t off) {
  if (!e.any()) return;
  for (int64_t r = 0; r < rows; r++) {
    float* v = y + r * ld;
    const float* rr = e.res ? e.res + off + r * ld : nullptr;
    if (e.scale)
      bn_eval_row(v, v, cols, e.scale[c0 + r], e.shift[c0 + r], rr, e.relu);
    else
      bias_row(v, v, cols, e.bias ? e.bias[c0 + r] : 0.f, rr, e.relu);
  }
}

#if defined(__x86_64__)
// bias_row with masked AVX-512 (the same adds in the same order, the ReLU as its t > 0 ? t : 0):
// the flat path's pieces are short (7 at 7x7) and bias_row's vector loop leaves them to its scalar tail. Inlined into
// the bf16 items; the fp32 AVX-512 items (whose templates are built for the default target, where this cannot be
// inlined) call bias_row_avx512.
SEV_TARGET_AVX512 SEV_INLINE void bias_row_512(float* y, const float* o, int64_t n, float b, const float* r, int relu) {
  const __m512 vb = _mm512_set1_ps(b), zero = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
    __m512 t = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o + j), vb);
    if (r) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, r + j));
    if (relu) t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ), t);
    _mm512_mask_storeu_ps(y + j, m, t);
  }
}

SEV_TARGET_AVX512 void bias_row_avx512(float* y, const float* o, int64_t n, float b, const float* r, int relu) {
  bias_row_512(y, o, n, b, r, relu);
}
// bn_eval_row with masked AVX-512: the product and the sum rounded separately by the embedded-rounding forms (GCC
// contracts a plain multiply and add into an FMA, never these), so the same bits as bn_eval_row's mul, then add
SEV_TARGET_AVX512 SEV_INLINE void bn_eval_row_512(float* y, const float* o, int64_t n, float a, float b,
                                                  const float* r, int relu) {
  // the maskz forms: GCC 12's plain *_round_ps start from an undefined register and warn about it
  constexpr int RN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b), zero = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
    const __m512 prod = _mm512_maskz_mul_round_ps(m, _mm512_maskz_loadu_ps(m, o + j), va, RN);
    __m512 t = _mm512_maskz_add_round_ps(m, prod, vb, RN);
    if (r) t = _mm512_maskz_add_round_ps(m, t, _mm512_maskz_loadu_ps(m, r + j), RN);
    if (relu) t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, zero, _CMP_GT_OQ), t);
    _mm512_mask_storeu_ps(y + j, m, t);
  }
}
SEV_TARGET_AVX512 void bn_eval_row_avx512(float* y, const float* o, int64_t n, float a, float b, const float* r,
                                          int relu) {
  bn_eval_row_512(y, o, n, a, b, r, relu);
}
// y[0, n) = o[0, n) by masked 16-lane copies (the flat backward-data's pieces: 7 floats at 7x7, a libc call each)
SEV_TARGET_AVX512 SEV_INLINE void copy_row_512(float* y, const float* o, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(y + j, m, _mm512_maskz_loadu_ps(m, o + j));
  }
}
SEV_TARGET_AVX512 void copy_row_avx512(float* y, const float* o, int64_t n) { copy_row_512(y, o, n); }
#endif

// one output row piece of the direct paths: y[0, n) = epilogue(o[0, n)) for channel co at offset off of the output
// (VEX: the caller is an AVX2/AVX-512 kernel)
template <bool VEX>
SEV_INLINE void epi_store(float* y, const float* o, int64_t n, const Epi& e, int co, int64_t off) {
  const float* r = e.res ? e.res + off : nullptr;
  if (!e.scale)
    bias_row(y, o, n, e.bias ? e.bias[co] : 0.f, r, e.relu);
  else if (VEX)
    bn_eval_row_vex(y, o, n, e.scale[co], e.shift[co], r, e.relu);
  else
    bn_eval_row(y, o, n, e.scale[co], e.shift[co], r, e.relu);
}

// ---------------------------------------------------------------- pointwise 1x1x1
bool is_pointwise(const ConvParams& p) {
  return p.kT == 1 && p.kH == 1 && p.kW == 1 && p.sT == 1 && p.sH == 1 && p.sW == 1 && p.pT == 0 && p.pH == 0 &&
         p.pW == 0 && p.To == p.T && p.Ho == p.H && p.Wo == p.W;
}

// The epilogue of a bf16 GEMM's column block [j0, j0 + nc) of the rows [0, rows) of y (ld), output channel c0 on
// (sgemm_bf16's hook: applied while the block is in cache)
struct EpiBlock {
  float* y;
  int64_t ld, rows;
  const Epi* e;
  int64_t c0, off;
  static void apply(void* ctx, int64_t j0, int64_t nc) {
    const EpiBlock* b = static_cast<const EpiBlock*>(ctx);
    epilogue(b->y + j0, b->ld, b->rows, nc, *b->e, b->c0, b->off + j0);
  }
};

void pw_forward(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t S = p.in_spatial(), items = (int64_t)p.N * p.groups;
  const int nt = conv_threads(2.0 * items * cog * cig * S);
  const Split2 sp = make_split(cog, S, parts_per_item(items, nt));
  const int64_t units = items * sp.parts();
  const Bf16Weights wb(w, p.Cout, cig, cig);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / sp.parts();
    const int n = (int)(it / p.groups), g = (int)(it % p.groups);
    int64_t i0, i1, j0, j1;
    sp.rect((int)(u % sp.parts()), i0, i1, j0, j1);
    const int64_t yo = ((int64_t)n * p.Cout + g * cog + i0) * S + j0;
    float* yr = y + yo;
    const float* wa = w + ((int64_t)g * cog + i0) * cig;
    const float* xb = x + ((int64_t)n * p.Cin + g * cig) * S + j0;
    EpiBlock eb{yr, S, i1 - i0, &e, g * cog + i0, yo};
    const GemmBlockHook hook{EpiBlock::apply, &eb};
    if (wb.ok() &&
        sgemm_bf16_pre(i1 - i0, j1 - j0, cig, wb, g * cog + i0, xb, S, nullptr, 0.f, yr, S, e.any() ? &hook : nullptr))
      continue;
    sgemm_serial(false, false, i1 - i0, j1 - j0, cig, 1.f, wa, cig, xb, S, 0.f, yr, S);
    epilogue(yr, S, i1 - i0, j1 - j0, e, g * cog + i0, yo);
  }
}
void pw_backward_data(const float* dy, const float* w, float* dx, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t S = p.in_spatial(), items = (int64_t)p.N * p.groups;
  const int nt = conv_threads(2.0 * items * cog * cig * S);
  const Split2 sp = make_split(cig, S, parts_per_item(items, nt));
  const int64_t units = items * sp.parts();
  const Bf16Weights wb(w, {p.groups, cog, cig, 1});  // W^T: the bf16 GEMM takes A untransposed
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / sp.parts();
    const int n = (int)(it / p.groups), g = (int)(it % p.groups);
    int64_t i0, i1, j0, j1;
    sp.rect((int)(u % sp.parts()), i0, i1, j0, j1);
    const float* dyg = dy + ((int64_t)n * p.Cout + g * cog) * S + j0;
    float* dxr = dx + ((int64_t)n * p.Cin + g * cig + i0) * S + j0;
    if (wb.ok() && sgemm_bf16_pre(i1 - i0, j1 - j0, cog, wb, (int64_t)g * cig + i0, dyg, S, nullptr, 0.f, dxr, S))
      continue;
    // dx_g[i0.., j0..] = (W_g^T)[i0.., :] dy_g[:, j0..]; W_g is [cog, cig], so op(A) rows i0.. = columns i0..
    sgemm_serial(true, false, i1 - i0, j1 - j0, cog, 1.f, w + (int64_t)g * cog * cig + i0, cig, dyg, S, 0.f, dxr, S);
  }
}
void pw_backward_weight(const float* x, const float* dy, float* dw, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t S = p.in_spatial(), items = (int64_t)p.N * p.groups;
  const int64_t wsz = (int64_t)p.Cout * cig;
  const int nt = conv_threads(2.0 * items * cog * cig * S);
  const double in = (double)items * (cig + cog) * S;
  WgradSplit ws = wgrad_split(nt, nt, wsz, in, cog, cig, 1);
  // the R parts' partial dW (one part: dW itself)
  FloatBuf part(ws.R > 1 ? (size_t)(wsz * ws.R) : 0);
  if (ws.R > 1 && !part.get()) ws = wgrad_split(nt, 1, wsz, in, cog, cig, 1);
  float* pbuf = ws.R > 1 ? part.get() : dw;
  const int kparts = (int)min64(parts_per_item(items, ws.R), max64(1, S / 256));
  const int64_t kc = k_chunk(S, kparts), nk = ceil_div(S, kc);
  const int64_t units = items * nk;
  const bool bf16 = bf16_gemm_active();
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsz * ws.R; i++) pbuf[i] = 0.f;
#pragma omp for schedule(static, 1)
    for (int v = 0; v < ws.workers(); v++) {
      int r;
      int64_t u0, u1, i0, i1, j0, j1;
      ws.work(v, units, cog, cig, 1, r, u0, u1, i0, i1, j0, j1);
      if (i1 <= i0 || j1 <= j0) continue;
      for (int64_t u = u0; u < u1; u++) {
        const int64_t k0 = (u % nk) * kc, k1 = min64(S, k0 + kc);
        const int64_t it = u / nk;
        const int g = (int)(it % p.groups), n = (int)(it / p.groups);
        // dW_g [cog, cig] rows i0.., columns j0.. += dy_g[i0.., k0..k1) x x_g[j0.., k0..k1)^T
        const float* dyg = dy + ((int64_t)n * p.Cout + g * cog + i0) * S + k0;
        const float* xg = x + ((int64_t)n * p.Cin + g * cig + j0) * S + k0;
        float* dwg = pbuf + r * wsz + ((int64_t)g * cog + i0) * cig + j0;
        if (bf16 && sgemm_bf16_ex(true, i1 - i0, j1 - j0, k1 - k0, dyg, S, nullptr, xg, S, nullptr, 1.f, dwg, cig))
          continue;
        sgemm_serial(false, true, i1 - i0, j1 - j0, k1 - k0, 1.f, dyg, S, xg, S, 1.f, dwg, cig);
      }
    }
    if (ws.R > 1) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wsz; i++) {
        float s = pbuf[i];
        for (int q = 1; q < ws.R; q++) s += pbuf[q * wsz + i];
        dw[i] = s;
      }
    }
  }
}

// ---------------------------------------------------------------- temporal kT x 1 x 1
bool is_temporal(const ConvParams& p) {
  return p.kH == 1 && p.kW == 1 && p.sT == 1 && p.sH == 1 && p.sW == 1 && p.pH == 0 && p.pW == 0 && p.Ho == p.H &&
         p.Wo == p.W && p.To == p.T + 2 * p.pT - p.kT + 1 && p.To > 0;
}

// One GEMM per work unit (a rectangle [i0,i1) x [j0,j1) of one item's output: rows = channels, columns =
// flattened (frame, h, w)) with K = cig * kT: A = w as stored ([co][ci*kT + kt]), B = the kT time-shifted
// views of x, packed straight from x with zeros where a tap leaves the clip — one pass over y and one
// packing of x per column block instead of kT of each.
// Column blocks of a frame-ordered unit: about the shifted GEMM's own column block (gemm.cpp's NC_SHIFT)
constexpr int64_t FRAME_CHUNK = 768;

// The large planes' unit (tm_forward: the chunk [s0, s1) of every frame of one item, frames in order) in fp32 with
// each input frame's chunk packed once into a ring of kT packed frames, and the weights of each tap packed once, for
// the kT GEMM segments of an output frame (SegmentGemm) — instead of a shifted GEMM per output frame that packs its
// kT input frames again (each frame packed kT times: a third of the call at 32 channels of 112x112). Output frame t,
// tap kt reads input frame t + dir * kt + off (forward: dir 1, off -pT; backward-data: dir -1, off pT) through tap
// weights A_kt[m][k] = wg[m * rs + k * cs + kt] (M rows m, K = rows k of an input frame). Each output's sum runs tap
// by tap, channel by channel within a tap. false: no work buffer (the caller takes the shifted GEMMs).
// K = channels x taps: measured up to 256 channels at 28x28 ([1,256,8,28,28] forward 7.6 -> 6.6 ms; [1,128,16,28,28]
// 3.9 -> 3.5, [1,192,16,28,28] 9.2 -> 7.6, [1,96,16,56,56] 11.4 -> 8.8), the kT packed frames about the size of L2
constexpr int64_t TM_RING_MAX_K = 768;
constexpr int TM_RING_MAX_TAPS = 7;
constexpr int64_t TM_RING_MIN_HW = 512;  // 28x28 (784) gains 20%; 14x14 (196) nothing
// The fp32 temporal conv (fp32: no bf16 weights) of K = channels * taps over planes of HW takes tm_ring. (In bf16
// compute, at 32 channels a tap the fp32 ring beat the bf16 GEMM — [8,32,8,56,56] forward 5.8 vs 5.2 ms,
// backward-data 6.0-7.1 vs 4.8 — but bf16 compute promises operands rounded to bf16; a bf16 ring, each frame rounded
// once, measured 5.5 and 5.2, and within +-10% of the bf16 GEMM at 64 channels: its 32-k blocks reload C once a tap.)
inline bool tm_ring_fits(const ConvParams& p, int64_t K, int64_t HW, bool fp32) {
  return fp32 && K <= TM_RING_MAX_K && p.kT <= TM_RING_MAX_TAPS && HW >= TM_RING_MIN_HW;
}
struct TmRing {
  const float* src;  // the item's group: K rows (channels) of Tin frames of HW, rows ld apart
  int64_t ld;
  int Tin, Tout, kT, dir, off;
  int64_t HW, M, K;
  const float* wg;  // the group's weights; tap kt's [m][k] at wg[m * rs + k * cs + kt]
  int64_t rs, cs;
  float* dst;  // the item's group: M rows of Tout frames, rows dld apart
  int64_t dld;
  const Epi* e;  // forward's epilogue (output channel c0 on, flat offset doff of dst), or null
  int64_t c0, doff;
};
bool tm_ring(const TmRing& r, int64_t s0, int64_t s1) {
  const int64_t nc = s1 - s0;
  const SegmentGemm sg(r.M);
  // whole 64-byte lines each: the micro-kernel loads packed B with aligned vector loads
  const int64_t fa = ceil_div(sg.packed_a_floats(r.K), 16) * 16, fb = ceil_div(sg.packed_b_floats(r.K, nc), 16) * 16;
  float* buf = conv_scratch(2, (size_t)(r.kT * (fa + fb) + r.M * r.K));
  if (!buf) return false;
  const float* pa[TM_RING_MAX_TAPS];
  float* ring[TM_RING_MAX_TAPS];
  int slot_frame[TM_RING_MAX_TAPS];
  float* tap = buf + r.kT * (fa + fb);  // one tap's weights [M][K]
  for (int kt = 0; kt < r.kT; kt++) {
    for (int64_t m = 0; m < r.M; m++)
      for (int64_t k = 0; k < r.K; k++) tap[m * r.K + k] = r.wg[m * r.rs + k * r.cs + kt];
    float* a = buf + kt * fa;
    sg.pack_a(tap, r.K, r.K, a);
    pa[kt] = a;
    ring[kt] = buf + r.kT * fa + kt * fb;
    slot_frame[kt] = -1;
  }
  for (int t = 0; t < r.Tout; t++) {
    const float* pb[TM_RING_MAX_TAPS];
    for (int kt = 0; kt < r.kT; kt++) {
      const int f = t + r.dir * kt + r.off;
      if (f < 0 || f >= r.Tin) {
        pb[kt] = nullptr;
        continue;
      }
      const int slot = f % r.kT;  // the kT frames of an output are consecutive: distinct slots
      if (slot_frame[slot] != f) {
        sg.pack_b(r.src + (int64_t)f * r.HW + s0, r.ld, r.K, nc, ring[slot]);
        slot_frame[slot] = f;
      }
      pb[kt] = ring[slot];
    }
    const int64_t j0 = (int64_t)t * r.HW + s0;
    float* C = r.dst + j0;
    sg.run(nc, r.K, pa, pb, r.kT, C, r.dld);
    if (r.e) epilogue(C, r.dld, r.M, nc, *r.e, r.c0, r.doff + j0);
  }
  return true;
}

// The frame-ordered units of tm_forward and tm_backward_data, in parallel: each item's plane of HW positions in chunks
// of about FRAME_CHUNK (16-aligned), f(n, g, s0, s1) for the chunk [s0, s1) of item (sample n, group g); at N = 1 the
// chunk count a multiple of the threads (inference: whole chunks for every thread)
template <class F>
void for_frame_units(int64_t HW, int64_t items, int groups, int nt, F f) {
  int64_t nchunks = ceil_div(HW, FRAME_CHUNK);
  if (items < nt) nchunks = ceil_div(nchunks, nt) * nt;
  const int64_t cw = ceil_div(ceil_div(HW, nchunks), 16) * 16, nch = ceil_div(HW, cw);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < items * nch; u++) {
    const int64_t it = u / nch, s0 = (u % nch) * cw;
    f((int)(it / groups), (int)(it % groups), s0, min64(HW, s0 + cw));
  }
}

void tm_forward(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t K = (int64_t)cig * p.kT;
  const int64_t HW = (int64_t)p.H * p.W, Si = p.in_spatial(), So = p.out_spatial();
  const int64_t items = (int64_t)p.N * p.groups;
  const int nt = conv_threads(2.0 * items * cog * cig * So * p.kT);
  const Bf16Weights wb(w, p.Cout, K, K);
  // C = A B over the shifted views of x (A: the weights' rows from output channel c0 on), then the epilogue of C's
  // rows (flat offset off): in bf16 (the epilogue per column block, in cache) when that is the fp32 precision, else
  // the fp32 GEMM
  auto gemm = [&](int64_t M, int64_t N, int64_t c0, const float* B, const int64_t* sb, float* C, int64_t off) {
    EpiBlock eb{C, So, M, &e, c0, off};
    const GemmBlockHook hook{EpiBlock::apply, &eb};
    if (wb.ok() && sgemm_bf16_pre(M, N, K, wb, c0, B, Si, sb, 0.f, C, So, e.any() ? &hook : nullptr)) return;
    const float* A = w + c0 * K;
    sgemm_serial_shifted(false, false, M, N, K, A, K, nullptr, B, Si, sb, 0.f, C, So);
    epilogue(C, So, M, N, e, c0, off);
  };
  const bool ring = tm_ring_fits(p, K, HW, !wb.ok());
  if (HW >= 2 * FRAME_CHUNK || ring) {
    // Large planes: a unit is a chunk of the plane, its frames in order, so the kT shifted views of x a frame's block
    // packs were read by the previous frames' blocks just before (in cache) rather than a whole frame earlier (at 32
    // channels of 112x112, 1.6 MB per frame: x came from memory kT times), and each block's epilogue finds it in
    // cache: [1,32,16,112,112] 11.6 -> 9.5 ms, [8,32,8,56,56] 10.8 -> 9.0 (a C harness alternating the two builds).
    // In fp32 up to 256 channels (tm_ring_fits) each frame's chunk is packed once (tm_ring), on planes from 512
    // positions: [1,32,16,112,112] 6.8 -> 5.0 ms, [1,64,16,56,56] 4.8 -> 3.8, [8,32,8,56,56] 6.9 -> 5.4,
    // [8,64,8,28,28] 4.4 -> 3.5 (twenty-second session; 14x14 and smaller: no gain).
    for_frame_units(HW, items, p.groups, nt, [&](int n, int g, int64_t s0, int64_t s1) {
      const float* xg = x + ((int64_t)n * p.Cin + g * cig) * Si;
      const int64_t yo = ((int64_t)n * p.Cout + g * cog) * So;
      if (ring) {
        const TmRing r{xg, Si, p.T, p.To, p.kT, 1, -p.pT, HW, cog, cig, w + (int64_t)g * cog * K, K, p.kT,
                       y + yo, So, &e, (int64_t)g * cog, yo};
        if (tm_ring(r, s0, s1)) return;
      }
      for (int t = 0; t < p.To; t++) {
        const int64_t j0 = (int64_t)t * HW + s0;
        const int64_t sb[5] = {p.kT, HW, (int64_t)p.pT * HW, -j0, Si - j0};
        gemm(cog, s1 - s0, (int64_t)g * cog, xg + j0, sb, y + yo + j0, yo + j0);
      }
    });
    return;
  }
  const Split2 sp = make_split(cog, So, parts_per_item(items, nt));
  const int64_t units = items * sp.parts();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / sp.parts();
    const int n = (int)(it / p.groups), g = (int)(it % p.groups);
    int64_t i0, i1, j0, j1;
    sp.rect((int)(u % sp.parts()), i0, i1, j0, j1);
    const float* xg = x + ((int64_t)n * p.Cin + g * cig) * Si;
    const int64_t yo = ((int64_t)n * p.Cout + g * cog + i0) * So;
    float* yg = y + yo;  // row i0 of the item
    // B row (ci, kt), column c (y column j0 + c) = x[ci, j0 + c + (kt - pT)HW] inside [0, Si)
    const int64_t sb[5] = {p.kT, HW, (int64_t)p.pT * HW, -j0, Si - j0};
    gemm(i1 - i0, j1 - j0, g * cog + i0, xg + j0, sb, yg + j0, yo + j0);
  }
}

// Backward-data is itself a temporal conv: dx[ci, j] = sum_(co,kt) w[co,ci,kt] dy[co, j - (kt-pT)HW], so
// one GEMM per rectangle of dx with K = cog * kT: A = w^T per group ([ci][co*kT + kt], repacked once),
// B = the kT time-shifted views of dy (packed straight from dy, zeros where a tap leaves the clip).
// One pass over dx and one packing of dy per column block instead of kT of each.
void tm_backward_data(const float* dy, const float* w, float* dx, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t K = (int64_t)cog * p.kT;
  // bf16: w^T gathered and rounded in one parallel pass; fp32: w [g][co][ci][kt] -> wt [g][ci][co][kt]
  const Bf16Weights wb(w, {p.groups, cog, cig, p.kT});
  FloatBuf wt;
  if (!wb.ok()) {
    wt.p = aligned_floats((size_t)p.Cout * cig * p.kT);
    if (!wt.get()) return buffer_failed();
    for (int g = 0; g < p.groups; g++)
      for (int co = 0; co < cog; co++)
        for (int ci = 0; ci < cig; ci++)
          for (int kt = 0; kt < p.kT; kt++)
            wt.get()[((int64_t)g * cig + ci) * K + (int64_t)co * p.kT + kt] =
                w[(((int64_t)g * cog + co) * cig + ci) * p.kT + kt];
  }
  const int64_t HW = (int64_t)p.H * p.W, Si = p.in_spatial(), So = p.out_spatial();
  const int64_t items = (int64_t)p.N * p.groups;
  const int nt = conv_threads(2.0 * items * cog * cig * So * p.kT);
  const float* wtp = wt.get();
  if (tm_ring_fits(p, K, HW, !wb.ok())) {
    // fp32 on planes from 512 positions: the forward's frame-ordered chunks with a ring of packed dy frames (tm_ring;
    // ordering alone, each frame still packed kT times, measured no gain: 6.3 -> 6.7 ms at [8,32,8,56,56]). With the
    // ring: [1,32,16,112,112] 5.8 -> 4.7 ms, [8,32,8,56,56] 5.9 -> 4.7, [1,64,16,56,56] 4.35 -> 3.65, [8,64,8,28,28]
    // 4.2 -> 3.25 (twenty-second session)
    for_frame_units(HW, items, p.groups, nt, [&](int n, int g, int64_t s0, int64_t s1) {
      const float* dyg = dy + ((int64_t)n * p.Cout + g * cog) * So;
      float* dxg = dx + ((int64_t)n * p.Cin + g * cig) * Si;
      const TmRing r{dyg, So, p.To, p.T, p.kT, -1, p.pT, HW, cig, cog, w + (int64_t)g * cog * cig * p.kT, p.kT,
                     (int64_t)cig * p.kT, dxg, Si, nullptr, 0, 0};
      if (tm_ring(r, s0, s1)) return;
      for (int t = 0; t < p.T; t++) {  // no work buffer: the shifted GEMM per frame
        const int64_t j0 = (int64_t)t * HW + s0;
        const int64_t sb[5] = {p.kT, -HW, -(int64_t)p.pT * HW, -j0, So - j0};
        sgemm_serial_shifted(false, false, cig, s1 - s0, K, wtp + (int64_t)g * cig * K, K, nullptr, dyg + j0, So, sb,
                             0.f, dxg + j0, Si);
      }
    });
    return;
  }
  const Split2 sp = make_split(cig, Si, parts_per_item(items, nt));
  const int64_t units = items * sp.parts();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / sp.parts();
    const int n = (int)(it / p.groups), g = (int)(it % p.groups);
    int64_t i0, i1, j0, j1;
    sp.rect((int)(u % sp.parts()), i0, i1, j0, j1);
    float* dxg = dx + ((int64_t)n * p.Cin + g * cig + i0) * Si;  // row i0 of the item
    const float* dyg = dy + ((int64_t)n * p.Cout + g * cog) * So;
    // B row (co, kt), column c (dx column j0 + c) = dy[co, j0 + c - (kt - pT)HW] inside [0, So)
    const int64_t sb[5] = {p.kT, -HW, -(int64_t)p.pT * HW, -j0, So - j0};
    if (wb.ok()) {
      // no fp32 w^T to fall back on: a GEMM without its work buffer fails the call
      if (!sgemm_bf16_pre(i1 - i0, j1 - j0, K, wb, (int64_t)g * cig + i0, dyg + j0, So, sb, 0.f, dxg + j0, Si))
        buffer_failed();
      continue;
    }
    sgemm_serial_shifted(false, false, i1 - i0, j1 - j0, K, wtp + ((int64_t)g * cig + i0) * K, K, nullptr, dyg + j0,
                         So, sb, 0.f, dxg + j0, Si);
  }
}

// dW[co, (ci,kt)] = sum_j dy[co, j] x[ci, j + (kt-pT)HW]: one GEMM per K chunk (output columns j) with the
// kT time-shifted views of x as the rows of A (M = cig * kT, packed straight from x) and dy^T as B, into
// a per-thread [g][ci*kT + kt][co] buffer; the reduction over threads transposes into dw [Cout, cig, kT].
void tm_backward_weight(const float* x, const float* dy, float* dw, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t HW = (int64_t)p.H * p.W, Si = p.in_spatial(), So = p.out_spatial();
  const int64_t items = (int64_t)p.N * p.groups;
  const int64_t Mk = (int64_t)cig * p.kT, gsz = Mk * cog;
  const int64_t wsz = (int64_t)p.Cout * cig * p.kT;
  const int nt = conv_threads(2.0 * items * cog * cig * So * p.kT);
  const double in = (double)items * ((double)cig * Si + (double)cog * So);
  // tiles' rows: whole (ci, all taps) groups of A, so a tile's first row is tap 0 of its channel (the shift's map)
  WgradSplit ws = wgrad_split(nt, nt, wsz, in, Mk, cog, p.kT);
  FloatBuf part((size_t)(wsz * ws.R));
  if (!part.get()) {
    ws = wgrad_split(nt, 1, wsz, in, Mk, cog, p.kT);
    part.p = aligned_floats((size_t)wsz);
    if (!part.get()) return buffer_failed();
  }
  float* pbuf = part.get();
  const int kparts = (int)min64(parts_per_item(items, ws.R), max64(1, So / 256));
  const int64_t kc = k_chunk(So, kparts), nk = ceil_div(So, kc);
  const int64_t units = items * nk;
  const bool bf16 = bf16_gemm_active();
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsz * ws.R; i++) pbuf[i] = 0.f;
#pragma omp for schedule(static, 1)
    for (int v = 0; v < ws.workers(); v++) {
      int r;
      int64_t u0, u1, i0, i1, j0, j1;
      ws.work(v, units, Mk, cog, p.kT, r, u0, u1, i0, i1, j0, j1);
      if (i1 <= i0 || j1 <= j0) continue;
      for (int64_t u = u0; u < u1; u++) {
        const int64_t k0 = (u % nk) * kc, k1 = min64(So, k0 + kc);
        const int64_t it = u / nk;
        const int g = (int)(it % p.groups), n = (int)(it / p.groups);
        const float* dyg = dy + ((int64_t)n * p.Cout + g * cog + j0) * So;
        const float* xg = x + ((int64_t)n * p.Cin + g * cig + i0 / p.kT) * Si;
        float* c = pbuf + r * wsz + g * gsz + i0 * cog + j0;
        // A row (ci, kt), column c (output column k0 + c) = x[ci, k0 + c + (kt - pT)HW] inside [0, Si)
        const int64_t sa[5] = {p.kT, HW, (int64_t)p.pT * HW, -k0, Si - k0};
        if (bf16 && sgemm_bf16_ex(true, i1 - i0, j1 - j0, k1 - k0, xg + k0, Si, sa, dyg + k0, So, nullptr, 1.f, c,
                                  cog))
          continue;
        sgemm_serial_shifted(false, true, i1 - i0, j1 - j0, k1 - k0, xg + k0, Si, sa, dyg + k0, So, nullptr, 1.f, c,
                             cog);
      }
    }
    // implicit barrier above: the partial sums added into the first (contiguous, vectorized), then transposed into
    // dw in 32 x 32 tiles — a partial sum's row r is cog floats apart: walking r for one co, summing the partials on the
    // way, read a cache line (and at 512 channels a page) per float, 35% of the call at 512 x 4 x 4
    if (ws.R > 1) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wsz; i++) {
        float s = pbuf[i];
        for (int q = 1; q < ws.R; q++) s += pbuf[q * wsz + i];
        pbuf[i] = s;
      }
    }
    const int64_t rt = ceil_div(Mk, 32), ct = ceil_div(cog, 32);
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < (int64_t)p.groups * rt * ct; tile++) {
      const int g = (int)(tile / (rt * ct));
      const int64_t r0 = (tile / ct % rt) * 32, c0 = tile % ct * 32;
      const int64_t r1 = min64(Mk, r0 + 32), c1 = min64(cog, c0 + 32);
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dw[((int64_t)g * cog + c) * Mk + r] = pbuf[g * gsz + r * cog + c];
    }
  }
}

// ---------------------------------------------------------------- direct 2-D (grouped 1xkxk)
constexpr int VW = 16;    // floats per logical vector (one zmm, two ymm, four xmm)
constexpr int WCH = 64;   // width chunk: 4 logical vectors
constexpr int MAXC = 16;  // channels per group handled by the direct path

bool direct2d_shape(const ConvParams& p) {
  return p.kT == 1 && p.sT == 1 && p.pT == 0 && p.To == p.T && p.cin_g() <= MAXC && p.kH * p.kW > 1 && p.kH <= 7 &&
         p.kW <= 7 && p.sW <= 4 && p.pW < p.kW && p.pH < p.kH;
}
bool is_direct2d(const ConvParams& p) { return direct2d_shape(p) && p.cout_g() <= MAXC; }

// The forward's output channels only widen its accumulator sweep (taps_channels, CB at a time), so it takes wider
// groups than the backward passes: the stem (3 -> 32, 1x7x7 stride 2), which as im2col + GEMM wrote and re-read
// a 147-row column matrix (K = 147 against M = 32) and ran at 40% of the GEMM's rate.
constexpr int MAXC_OUT_FWD = 64;
// floats of the row path's per-frame buffer: every input row of a frame padded and phase-split ([cig][H][sW][RL])
inline int64_t direct_fwd_frame_floats(const ConvParams& p) {
  const int64_t RL = (p.Wo + VW - 1) / VW * VW + (p.kW - 1) / p.sW + VW;
  return (int64_t)p.cin_g() * p.H * p.sW * RL;
}
// beyond it (a frame of several megapixels) the im2col path's bounded column chunks take the conv
constexpr int64_t DIRECT_FRAME_MAX = (int64_t)1 << 22;
bool is_direct2d_forward(const ConvParams& p) {
  return direct2d_shape(p) && p.cout_g() <= MAXC_OUT_FWD && direct_fwd_frame_floats(p) <= DIRECT_FRAME_MAX;
}
// The weight gradient takes the forward's wider groups too in fp32 (its items split a group's output channels; only
// the accumulators grow with them): the stem's went through im2col + GEMM, a 147-row column matrix per frame written
// and re-read — 20.0 -> 15.0 ms at [8,3,8,112,112] (a C harness alternating the two builds, three rounds). In bf16
// compute the im2col GEMM runs on the bf16 kernels (12.9 ms there) and keeps the stem.
bool is_direct2d_bwd_weight(const ConvParams& p) {
  return is_direct2d(p) || (is_direct2d_forward(p) && !bf16_gemm_active());
}

// acc[c][v] = sum_t w[wb + c*wcs + widx[t]] * src[t][v*VW ..]; out[c*WCH + ...] = acc
// (V may be narrower than VW: then each logical vector is VW / VL physical ones)
template <class V, int CB, int NV>
SEV_INLINE void taps_kernel(int ntaps, const float* const* src, const int* widx, const float* wb, int64_t wcs,
                            float* out) {
  constexpr int VL = (int)(sizeof(V) / sizeof(float));
  constexpr int NU = NV * (VW / VL);
  V acc[CB][NU];
#pragma GCC unroll 4
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 16
    for (int v = 0; v < NU; v++) acc[c][v] = V{};
  for (int t = 0; t < ntaps; t++) {
    V s[NU];
#pragma GCC unroll 16
    for (int v = 0; v < NU; v++) vload<V>(s[v], src[t] + v * VL);
    const float* wt = wb + widx[t];
#pragma GCC unroll 4
    for (int c = 0; c < CB; c++) {
      const float a = wt[c * wcs];
#pragma GCC unroll 16
      for (int v = 0; v < NU; v++) acc[c][v] += s[v] * a;
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 16
    for (int v = 0; v < NU; v++) vstore<V>(out + c * WCH + v * VL, acc[c][v]);
}

// out[c][0 .. width) for channels [0, nch) with widx/src taps; src pointers advanced per chunk by caller
template <class V, int CB>
SEV_INLINE void taps_channels(int ntaps, const float** src, const int* widx, const float* wb, int64_t wcs, int nch,
                              int nvec, float* out /* [nch][WCH] */) {
  int c = 0;
  for (; c + CB <= nch; c += CB) {
    switch (nvec) {
      case 1: taps_kernel<V, CB, 1>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 2: taps_kernel<V, CB, 2>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 3: taps_kernel<V, CB, 3>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      default: taps_kernel<V, CB, 4>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
    }
  }
  for (; c < nch; c++) {
    switch (nvec) {
      case 1: taps_kernel<V, 1, 1>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 2: taps_kernel<V, 1, 2>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 3: taps_kernel<V, 1, 3>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      default: taps_kernel<V, 1, 4>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
    }
  }
}

// geometry of the padded, phase-split rows of the direct path
struct RowGeom {
  int phases;  // = stride along W
  int64_t RL;  // floats per phase row
};

// fill rows[ph*RL + j] = padded[j*s + ph], padded[q] = src[q - pad] inside [0, W), else 0
SEV_INLINE void build_phase_row(const float* srow, int W, int pad, int s, int64_t RL, float* rows) {
  for (int ph = 0; ph < s; ph++) {
    float* r = rows + ph * RL;
    // valid j: 0 <= j*s + ph - pad < W
    const int64_t jlo = min64(RL, max64(0, ceil_div(pad - ph, s)));
    const int64_t jhi = max64(jlo, min64(RL, ceil_div(W + pad - ph, s)));
    for (int64_t j = 0; j < jlo; j++) r[j] = 0.f;
    const float* src = srow + (jlo * s + ph - pad);
    if (s == 1)
      std::memcpy(r + jlo, src, sizeof(float) * (jhi - jlo));
    else if (s == 2)  // a constant stride the compiler turns into vector loads and permutes
      for (int64_t j = jlo; j < jhi; j++) r[j] = src[(j - jlo) * 2];
    else
      for (int64_t j = jlo; j < jhi; j++) r[j] = src[(j - jlo) * s];
    for (int64_t j = jhi; j < RL; j++) r[j] = 0.f;
  }
}

// forward: one (n, g, t) item
// Each input row is padded and phase-split once for the frame ([cig][H][sW][RL]), not once per output row that reads
// it (kH / sH of them: 3.5 at the stem's 7x7 stride 2, where the per-row copies were a third of the conv's time).
template <class V, int CB>
SEV_INLINE void direct_fwd_item(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p, int n,
                                int g, int t) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int kH = p.kH, kW = p.kW, sW = p.sW;
  const int64_t wpad = ceil_div(p.Wo, VW) * VW;
  const int64_t RL = wpad + (kW - 1) / sW + VW;
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int64_t RS = (int64_t)sW * RL;  // floats of one input row's phase rows
  const int64_t frame = direct_fwd_frame_floats(p);
  float* rows = conv_scratch(2, (size_t)(frame + (int64_t)cog * WCH));
  if (!rows) return;
  float* out = rows + frame;
  for (int ci = 0; ci < cig; ci++) {
    const float* xc = x + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t) * HWi;
    for (int h = 0; h < p.H; h++) build_phase_row(xc + (int64_t)h * p.W, p.W, p.pW, sW, RL, rows + (ci * p.H + h) * RS);
  }
  const float* src0[MAXC * 7 * 7];
  const float* src[MAXC * 7 * 7];
  int widx[MAXC * 7 * 7];
  const float* wg = w + (int64_t)g * cog * cig * kH * kW;
  const int64_t wcs = (int64_t)cig * kH * kW;
  for (int ho = 0; ho < p.Ho; ho++) {
    int ntaps = 0;
    for (int ci = 0; ci < cig; ci++)
      for (int kh = 0; kh < kH; kh++) {
        const int h = ho * p.sH - p.pH + kh;
        if (h < 0 || h >= p.H) continue;
        const float* r = rows + (ci * p.H + h) * RS;
        for (int kw = 0; kw < kW; kw++) {
          src0[ntaps] = r + (kw % sW) * RL + kw / sW;
          widx[ntaps] = (ci * kH + kh) * kW + kw;
          ntaps++;
        }
      }
    for (int64_t w0 = 0; w0 < p.Wo; w0 += WCH) {
      const int width = (int)min64(WCH, p.Wo - w0);
      const int nvec = (int)ceil_div(width, VW);
      for (int i = 0; i < ntaps; i++) src[i] = src0[i] + w0;
      taps_channels<V, CB>(ntaps, src, widx, wg, wcs, cog, nvec, out);
      for (int c = 0; c < cog; c++) {
        const int co = g * cog + c;
        const int64_t off = (((int64_t)n * p.Cout + co) * p.To + t) * HWo + (int64_t)ho * p.Wo + w0;
        epi_store<(sizeof(V) > 16)>(y + off, out + c * WCH, width, e, co, off);
      }
    }
  }
}

// backward-data: one (n, g, t) item; dx rows are written whole (every element once)
// The taps of input row h, phase ph (columns w = ph + sW * j) in a backward-data at stride sW (the row paths): each
// (kh, kw) that some output row and column reach, as tap(output row, column offset into dy's padded row, kh, kw)
template <class Tap>
SEV_INLINE void bwd_row_taps(const ConvParams& p, int h, int ph, Tap tap) {
  for (int kh = 0; kh < p.kH; kh++) {
    const int num = h + p.pH - kh;
    if (num < 0 || num % p.sH || num / p.sH >= p.Ho) continue;
    for (int kw = 0; kw < p.kW; kw++) {
      const int d = ph + p.pW - kw;
      if (((d % p.sW) + p.sW) % p.sW) continue;
      tap(num / p.sH, d >= 0 ? d / p.sW : -((-d + p.sW - 1) / p.sW), kh, kw);
    }
  }
}

template <class V, int CB>
SEV_INLINE void direct_bwd_data_item(const float* dy, const float* w, float* dx, const ConvParams& p, int n, int g,
                                     int t) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int kH = p.kH, kW = p.kW, sW = p.sW;
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int64_t jmax = ceil_div(p.W, sW);
  const int64_t PADL = kW + 1;
  const int64_t RL = PADL + ceil_div(jmax, VW) * VW + kW + VW;
  // one zero-padded copy of every dy row of this frame, built once: [cog][Ho][RL]
  float* rows = conv_scratch(2, (size_t)((int64_t)cog * p.Ho * RL));
  float* out = conv_scratch(3, (size_t)(MAXC * WCH));
  if (!rows || !out) return;
  const float* src0[MAXC * 7 * 7];
  const float* src[MAXC * 7 * 7];
  int widx[MAXC * 7 * 7];
  const float* wg = w + (int64_t)g * cog * cig * kH * kW;
  const int64_t wcs = (int64_t)kH * kW;  // between input channels ci
  for (int c = 0; c < cog; c++) {
    const float* dyc = dy + (((int64_t)n * p.Cout + g * cog + c) * p.To + t) * HWo;
    for (int ho = 0; ho < p.Ho; ho++) {
      float* r = rows + ((int64_t)c * p.Ho + ho) * RL;
      std::memset(r, 0, sizeof(float) * PADL);
      std::memcpy(r + PADL, dyc + (int64_t)ho * p.Wo, sizeof(float) * p.Wo);
      std::memset(r + PADL + p.Wo, 0, sizeof(float) * (RL - PADL - p.Wo));
    }
  }
  for (int h = 0; h < p.H; h++) {
    for (int ph = 0; ph < sW; ph++) {
      const int64_t J = ceil_div(p.W - ph, sW);  // outputs w = ph + sW * j
      if (J <= 0) continue;
      int ntaps = 0;
      bwd_row_taps(p, h, ph, [&](int ho, int off, int kh, int kw) {
        for (int c = 0; c < cog; c++) {
          src0[ntaps] = rows + ((int64_t)c * p.Ho + ho) * RL + PADL + off;
          widx[ntaps] = c * cig * kH * kW + kh * kW + kw;
          ntaps++;
        }
      });
      for (int64_t j0 = 0; j0 < J; j0 += WCH) {
        const int width = (int)min64(WCH, J - j0);
        const int nvec = (int)ceil_div(width, VW);
        for (int i = 0; i < ntaps; i++) src[i] = src0[i] + j0;
        taps_channels<V, CB>(ntaps, src, widx, wg, wcs, cig, nvec, out);
        for (int ci = 0; ci < cig; ci++) {
          float* dr = dx + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t) * HWi + (int64_t)h * p.W + ph;
          const float* o = out + ci * WCH;
          if (sW == 1)
            std::memcpy(dr + j0, o, sizeof(float) * width);
          else
            for (int j = 0; j < width; j++) dr[(j0 + j) * sW] = o[j];
        }
      }
    }
  }
}

// The direct weight gradients' share of the frames: part r of R of the N * ceil(T / nf) (sample, block of nf frames)
// pairs, in order — its sums go to partial buffer r (direct_backward_weight adds the R of them)
struct FramePart {
  int r = 0, R = 1;
  void blocks(const ConvParams& p, int nf, int64_t& b0, int64_t& b1, int64_t& per) const {
    per = ceil_div(p.T, nf);
    const int64_t nb = (int64_t)p.N * per;
    b0 = nb * r / R;
    b1 = nb * (r + 1) / R;
  }
};

// backward-weight: output channels [c0, c1) of group g, summed over the (n, t) of fp (every ho)
// Per frame: the input rows are zero-padded / phase-split once each ([cig][H][sW][RL]) and the dy rows
// copied zero-padded to wpad ([nco][Ho][wpad]). Then for every (ci, kh) a CB x KB block of
// (output channel, kw) accumulators stays in registers over the whole frame (every valid ho, every
// vector of the row): per vector KB x loads + CB dy loads feed CB * KB FMAs. The vector partial sums
// go to memory once per frame and are reduced across lanes at the end.
template <class V, int CB, int KB>
SEV_INLINE void bww_block(const float* xs /* row of ho_lo, tap kw0 */, int64_t xstep /* per ho */,
                          const int64_t* xoff /* [KB] offsets of the taps */, const float* d /* dy row ho_lo, c0 */,
                          int64_t dstep /* per ho */, int64_t dcs /* per channel */, int nrows, int nvl,
                          float* a /* acc of (c0, tap kw0) */, int64_t acs /* per channel */) {
  constexpr int VL = (int)(sizeof(V) / sizeof(float));
  V acc[CB][KB];
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++) acc[c][k] = V{};
  for (int r = 0; r < nrows; r++) {
    const float* xr = xs + r * xstep;
    const float* dr = d + r * dstep;
    for (int v = 0; v < nvl; v++) {
      V xv[KB];
#pragma GCC unroll 4
      for (int k = 0; k < KB; k++) vload<V>(xv[k], xr + xoff[k] + v * VL);
#pragma GCC unroll 8
      for (int c = 0; c < CB; c++) {
        V dv;
        vload<V>(dv, dr + c * dcs + v * VL);
#pragma GCC unroll 4
        for (int k = 0; k < KB; k++) acc[c][k] += dv * xv[k];
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++) {
      V s;
      vload<V>(s, a + c * acs + k * VW);
      s += acc[c][k];
      vstore<V>(a + c * acs + k * VW, s);
    }
}

template <class V, int CB>
SEV_INLINE void bww_kw(const float* xs, int64_t xstep, const int64_t* xoff, const float* d, int64_t dstep, int64_t dcs,
                       int nrows, int nvl, float* a, int64_t acs, int kW) {
  int k = 0;
  for (; k + 3 <= kW; k += 3)
    bww_block<V, CB, 3>(xs, xstep, xoff + k, d, dstep, dcs, nrows, nvl, a + k * VW, acs);
  if (kW - k == 2)
    bww_block<V, CB, 2>(xs, xstep, xoff + k, d, dstep, dcs, nrows, nvl, a + k * VW, acs);
  else if (kW - k == 1)
    bww_block<V, CB, 1>(xs, xstep, xoff + k, d, dstep, dcs, nrows, nvl, a + k * VW, acs);
}

template <class V, int CBMAX>
SEV_INLINE void direct_bwd_weight_item(const float* x, const float* dy, float* dw, const ConvParams& p, int g, int c0,
                                       int c1, FramePart fp) {
  constexpr int VL = (int)(sizeof(V) / sizeof(float));
  const int cig = p.cin_g(), cog = p.cout_g();
  const int kH = p.kH, kW = p.kW, sW = p.sW, sH = p.sH;
  const int ntap = cig * kH * kW;
  const int64_t wpad = ceil_div(p.Wo, VW) * VW;
  const int64_t RL = wpad + (kW - 1) / sW + VW;
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int nco = c1 - c0;
  const int64_t xsz = (int64_t)cig * p.H * sW * RL, dsz = (int64_t)nco * p.Ho * wpad;
  float* xrows = conv_scratch(2, (size_t)(xsz + dsz + (int64_t)nco * ntap * VW));
  if (!xrows) return;
  float* dyp = xrows + xsz;
  float* acc = dyp + dsz;  // [nco][ntap][VW]
  std::memset(acc, 0, sizeof(float) * nco * ntap * VW);
  const int nvl = (int)(wpad / VL);
  int64_t xoff[7];
  for (int kw = 0; kw < kW; kw++) xoff[kw] = (kw % sW) * RL + kw / sW;
  int64_t b0, b1, per;
  fp.blocks(p, 1, b0, b1, per);
  for (int64_t b = b0; b < b1; b++) {
    const int n = (int)(b / per), t = (int)(b % per);
    for (int ci = 0; ci < cig; ci++) {
      const float* xc = x + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t) * HWi;
      for (int h = 0; h < p.H; h++)
        build_phase_row(xc + (int64_t)h * p.W, p.W, p.pW, sW, RL, xrows + ((int64_t)ci * p.H + h) * sW * RL);
    }
    for (int c = c0; c < c1; c++) {
      const float* dc = dy + (((int64_t)n * p.Cout + g * cog + c) * p.To + t) * HWo;
      for (int ho = 0; ho < p.Ho; ho++) {
        float* r = dyp + ((int64_t)(c - c0) * p.Ho + ho) * wpad;
        std::memcpy(r, dc + (int64_t)ho * p.Wo, sizeof(float) * p.Wo);
        for (int64_t j = p.Wo; j < wpad; j++) r[j] = 0.f;
      }
    }
    for (int ci = 0; ci < cig; ci++)
      for (int kh = 0; kh < kH; kh++) {
        // valid ho: 0 <= ho*sH - pH + kh < H
        const int lo = (int)max64(0, ceil_div(p.pH - kh, sH));
        const int hi = (int)min64(p.Ho, ceil_div(p.H + p.pH - kh, sH));
        if (hi <= lo) continue;
        const int h0 = lo * sH - p.pH + kh;
        const float* xs = xrows + ((int64_t)ci * p.H + h0) * sW * RL;
        const int64_t xstep = (int64_t)sH * sW * RL;
        const float* d0 = dyp + (int64_t)lo * wpad;
        const int64_t dcs = (int64_t)p.Ho * wpad;
        float* a0 = acc + (int64_t)(ci * kH + kh) * kW * VW;
        const int64_t acs = (int64_t)ntap * VW;
        int c = 0;
        for (; c + CBMAX <= nco; c += CBMAX)
          bww_kw<V, CBMAX>(xs, xstep, xoff, d0 + c * dcs, wpad, dcs, hi - lo, nvl, a0 + c * acs, acs, kW);
        if constexpr (CBMAX > 4)
          if (c + 4 <= nco) {
            bww_kw<V, 4>(xs, xstep, xoff, d0 + c * dcs, wpad, dcs, hi - lo, nvl, a0 + c * acs, acs, kW);
            c += 4;
          }
        if constexpr (CBMAX > 2)
          if (c + 2 <= nco) {
            bww_kw<V, 2>(xs, xstep, xoff, d0 + c * dcs, wpad, dcs, hi - lo, nvl, a0 + c * acs, acs, kW);
            c += 2;
          }
        for (; c < nco; c++)
          bww_kw<V, 1>(xs, xstep, xoff, d0 + c * dcs, wpad, dcs, hi - lo, nvl, a0 + c * acs, acs, kW);
      }
  }
  for (int c = c0; c < c1; c++)
    for (int k = 0; k < ntap; k++) {
      const float* at = acc + ((int64_t)(c - c0) * ntap + k) * VW;
      float s = 0.f;
      for (int l = 0; l < VL; l++) s += at[l];
      dw[((int64_t)g * cog + c) * ntap + k] = s;
    }
}

// ---- flat planes: stride-1 convs on planes up to FLAT_MAX_W wide (every stride-1 grouped conv of the model)
// The row path above pays per output row (a padded copy of cig * kH input rows, the tap table, one partly
// filled vector per 16 columns: 7 of 16 lanes at W = 7), which at 7x7 made the grouped conv cost 5x per
// output what it costs at 56x56. Here each input plane is zero-padded once per (n, g, t) into a flat
// [Hp][Wp] array; output q = ho*Wp + wo reads tap (kh, kw) at q + kh*Wp + kw, a constant offset, so the
// whole plane is one long vector loop (the wo >= Wo columns are computed and dropped: 2 of 9 at W = 7).
constexpr int FLAT_MAX_W = 64;  // planes up to this wide go flat (all the model's stride-1 ones: 56 .. 4; bench/RESULTS.md)

inline bool use_flat(const ConvParams& p, int width) { return p.sH == 1 && p.sW == 1 && width <= FLAT_MAX_W; }

// Frames per flat item: small planes are stacked, each frame zero-padded, into one tall plane (frame after frame, the
// rows between two frames' outputs computed and dropped) — one item's fixed cost (padding, tap tables, the vector
// loop's partly filled last vector) per several frames instead of per frame: at 2x2 and 1x1 (the main job's last
// stages) an item's work was a few outputs. `frame` is the floats of one padded frame; large planes stay one a frame.
constexpr int64_t FLAT_STACK_FLOATS = 512;
inline int flat_frames(int64_t frame, int T) { return (int)max64(1, min64(T, FLAT_STACK_FLOATS / frame)); }

// zero-padded copy of one [rows][cols] plane at (top, left) inside a [Hp][Wp] frame, then `tail` zeros
// The rows here are 1 to 64 floats. On small planes a memcpy call per row (and the border loops GCC turns into memset
// calls) cost more than the copy itself — at 7x7 a fifth of the grouped conv's time went to libc's dispatch — so a
// plane of up to SMALL_PLANE floats is zeroed by one memset and its rows copied 4 floats at a time, inline; larger
// planes keep the per-row copy (whole-plane zeroing would write them twice).
constexpr int64_t SMALL_PLANE = 1024;
SEV_INLINE void pad_plane(const float* src, int rows, int cols, int top, int left, int Hp, int Wp, int64_t tail,
                          float* dst) {
  if ((int64_t)Hp * Wp <= SMALL_PLANE) {
    std::memset(dst, 0, sizeof(float) * ((int64_t)Hp * Wp + tail));
    for (int r = 0; r < rows; r++) {
      float* d = dst + (int64_t)(top + r) * Wp + left;
      const float* s = src + (int64_t)r * cols;
      int j = 0;
      for (; j + 4 <= cols; j += 4) {
        v4f v;
        vload<v4f>(v, s + j);
        vstore<v4f>(d + j, v);
      }
      for (; j < cols; j++) d[j] = s[j];
    }
    return;
  }
  std::memset(dst, 0, sizeof(float) * ((int64_t)top * Wp));
  for (int r = 0; r < rows; r++) {
    float* d = dst + (int64_t)(top + r) * Wp;
    for (int j = 0; j < left; j++) d[j] = 0.f;
    std::memcpy(d + left, src + (int64_t)r * cols, sizeof(float) * cols);
    for (int j = left + cols; j < Wp; j++) d[j] = 0.f;
  }
  std::memset(dst + (int64_t)(top + rows) * Wp, 0, sizeof(float) * ((int64_t)(Hp - top - rows) * Wp + tail));
}

// The flat weight gradients' planes (flat_bwd_weight_item, direct_bwd_weight_bf16) for frames [t, t + nf) of sample
// n, group g — frames past T are zero planes (zero dy: they add nothing): each input channel's padded frames stacked
// into a plane of PL; dy's output channels [c0, c1) on the padded pitch, Hp rows a frame (rows Ho.. zero) but the
// last (Ho rows), then zeros to DL. pad writes one plane as pad_plane does, into elements E (float, or bf16).
template <class E, class Pad>
SEV_INLINE void stack_flat_frames(const float* x, const float* dy, const ConvParams& p, int n, int g, int t, int nf,
                                  int c0, int c1, int64_t PL, int64_t DL, int64_t Q, E* xs, E* ds, Pad pad) {
  const int cig = p.cin_g(), cog = p.cout_g(), Hp = p.H + 2 * p.pH, Wp = p.W + 2 * p.pW;
  const int64_t FP = (int64_t)Hp * Wp, HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int nb = (int)min64(nf, p.T - t);
  for (int ci = 0; ci < cig; ci++)
    for (int f = 0; f < nf; f++) {
      E* dst = xs + ci * PL + f * FP;
      const int64_t tail = f == nf - 1 ? PL - nf * FP : 0;
      if (f < nb)
        pad(x + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t + f) * HWi, p.H, p.W, p.pH, p.pW, Hp, Wp, tail, dst);
      else
        std::memset(dst, 0, sizeof(E) * (FP + tail));
    }
  for (int c = c0; c < c1; c++)
    for (int f = 0; f < nf; f++) {
      E* dst = ds + (int64_t)(c - c0) * DL + f * FP;
      const int rows = f == nf - 1 ? p.Ho : Hp;
      const int64_t tail = f == nf - 1 ? DL - Q : 0;
      if (f < nb)
        pad(dy + (((int64_t)n * p.Cout + g * cog + c) * p.To + t + f) * HWo, p.Ho, p.Wo, 0, 0, rows, Wp, tail, dst);
      else
        std::memset(dst, 0, sizeof(E) * ((int64_t)rows * Wp + tail));
    }
}
struct PadPlane {
  void operator()(const float* src, int rows, int cols, int top, int left, int Hp, int Wp, int64_t tail,
                  float* dst) const {
    pad_plane(src, rows, cols, top, left, Hp, Wp, tail, dst);
  }
};

// floats of a padded plane with room for the vector loop's overrun: outputs [0, Q) rounded up to a whole
// chunk, plus the largest tap offset
inline int64_t flat_plane_len(int64_t Q, int64_t maxoff) { return ceil_div(Q, WCH) * WCH + maxoff + VW; }

// A flat chunk's kept pieces of rows: output q = row*pitch + col, row = f*frame_rows + r (stacked frames), is kept
// where col < keep and r < rows_kept. Found once per chunk, without a division per piece: at 7x7 a chunk holds ~7
// rows, and three 64-bit divisions per (channel, row) cost more than the chunk's FMAs.
struct FlatPiece {
  int f, r, col, off, len;
};
SEV_INLINE int flat_pieces(int64_t q0, int width, int pitch, int keep, int frame_rows, int rows_kept, FlatPiece* pcs) {
  int np = 0;
  const int64_t row0 = q0 / pitch;
  int f = (int)(row0 / frame_rows), r = (int)(row0 - (int64_t)f * frame_rows), col = (int)(q0 - row0 * pitch);
  for (int off = 0; off < width;) {
    const int len = (int)min64(width - off, pitch - col);
    if (col < keep && r < rows_kept) pcs[np++] = {f, r, col, off, (int)min64(len, keep - col)};
    off += len;
    col = 0;
    if (++r == frame_rows) {
      r = 0;
      f++;
    }
  }
  return np;
}

// The taps over flat outputs [0, Q) in chunks of WCH (out: [nch][WCH]), each chunk's kept pieces (flat_pieces) handed
// on: emit(ch, f, r, col, values, len) writes one.
template <class V, int CB, class Emit>
SEV_INLINE void flat_taps(int ntaps, const float* const* src0, const int* widx, const float* wg, int64_t wcs, int nch,
                          int64_t Q, int pitch, int keep, int frame_rows, int rows_kept, float* out, Emit emit) {
  const float* src[MAXC * 7 * 7];
  FlatPiece pcs[WCH + 1];
  for (int64_t q0 = 0; q0 < Q; q0 += WCH) {
    const int width = (int)min64(WCH, Q - q0);
    for (int i = 0; i < ntaps; i++) src[i] = src0[i] + q0;
    taps_channels<V, CB>(ntaps, src, widx, wg, wcs, nch, (int)ceil_div(width, VW), out);
    const int np = flat_pieces(q0, width, pitch, keep, frame_rows, rows_kept, pcs);
    for (int c = 0; c < nch; c++)
      for (int i = 0; i < np; i++) emit(c, pcs[i].f, pcs[i].r, pcs[i].col, out + c * WCH + pcs[i].off, pcs[i].len);
  }
}

// frames [t, t + nf) of (n, g), stacked (flat_frames)
template <class V, int CB>
SEV_INLINE void flat_fwd_item(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p, int n,
                              int g, int t, int nf) {
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW;
  const int Hp = p.H + 2 * p.pH, Wp = p.W + 2 * p.pW;
  const int64_t FP = (int64_t)Hp * Wp;
  const int64_t Q = ((int64_t)nf * Hp - (kH - 1)) * Wp, maxoff = (int64_t)(kH - 1) * Wp + kW - 1;
  const int64_t PL = flat_plane_len(Q, maxoff);
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  float* planes = conv_scratch(2, (size_t)(cig * PL + (int64_t)cog * WCH));
  if (!planes) return;
  float* out = planes + cig * PL;
  const float* src0[MAXC * 7 * 7];
  int widx[MAXC * 7 * 7];
  int ntaps = 0;
  for (int ci = 0; ci < cig; ci++) {
    float* pl = planes + ci * PL;
    for (int f = 0; f < nf; f++) {
      const float* xc = x + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t + f) * HWi;
      pad_plane(xc, p.H, p.W, p.pH, p.pW, Hp, Wp, f == nf - 1 ? PL - nf * FP : 0, pl + f * FP);
    }
    for (int kh = 0; kh < kH; kh++)
      for (int kw = 0; kw < kW; kw++) {
        src0[ntaps] = pl + (int64_t)kh * Wp + kw;
        widx[ntaps] = (ci * kH + kh) * kW + kw;
        ntaps++;
      }
  }
  const float* wg = w + (int64_t)g * cog * cig * kH * kW;
  flat_taps<V, CB>(ntaps, src0, widx, wg, (int64_t)cig * kH * kW, cog, Q, Wp, p.Wo, Hp, p.Ho, out,
                   [&](int c, int f, int ho, int wo, const float* o, int len) {
                     const int co = g * cog + c;
                     const int64_t off = (((int64_t)n * p.Cout + co) * p.To + t + f) * HWo + (int64_t)ho * p.Wo + wo;
#if defined(__x86_64__)
                     if (sizeof(V) == 64) {
                       if (e.scale)
                         bn_eval_row_avx512(y + off, o, len, e.scale[co], e.shift[co], e.res ? e.res + off : nullptr,
                                            e.relu);
                       else
                         bias_row_avx512(y + off, o, len, e.bias ? e.bias[co] : 0.f, e.res ? e.res + off : nullptr,
                                         e.relu);
                       return;
                     }
#endif
                     epi_store<(sizeof(V) > 16)>(y + off, o, len, e, co, off);
                   });
}

#if defined(__x86_64__)
// ---- bf16 compute on the flat path (fp32 precision BF16 on a CPU with AVX512-BF16): the stride-1 grouped forward
// VDPBF16PS adds two bf16 products into each fp32 lane. The pairs run along the input channels, not the taps: the
// item's padded planes are rounded and interleaved once — lane q of pair plane j holds (x[2j][q], x[2j+1][q]) — and
// every tap reads them at its constant offset as the fp32 flat path does, one instruction doing two channels'
// multiply-adds with half the fp32 path's loads. The weights are paired alike ([cog][pairs][kH][kW], 32-bit); an odd
// channel count pairs its last channel with zeros. The fp32 sums take the same epilogue.

// acc[c][v] = sum_t pair(src[t][v*16 ..]) . pair(wb[c*wcs + widx[t]]); out[c*WCH + ...] = acc
template <int CB, int NV>
SEV_TARGET_BF16 SEV_INLINE void taps_dp_kernel(int ntaps, const uint32_t* const* src, const int* widx,
                                               const uint32_t* wb, int64_t wcs, float* out) {
  __m512 acc[CB][NV];
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[c][v] = _mm512_setzero_ps();
  for (int t = 0; t < ntaps; t++) {
    __m512bh s[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) s[v] = (__m512bh)_mm512_loadu_si512(src[t] + v * 16);
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32((int)wb[c * wcs + widx[t]]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[c][v] = _mm512_dpbf16_ps(acc[c][v], s[v], a);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(out + c * WCH + v * 16, acc[c][v]);
}

template <int CB>
SEV_TARGET_BF16 SEV_INLINE void taps_dp_channels(int ntaps, const uint32_t* const* src, const int* widx,
                                                 const uint32_t* wb, int64_t wcs, int nch, int nvec, float* out) {
  int c = 0;
  for (; c + CB <= nch; c += CB) {
    switch (nvec) {
      case 1: taps_dp_kernel<CB, 1>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 2: taps_dp_kernel<CB, 2>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 3: taps_dp_kernel<CB, 3>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      default: taps_dp_kernel<CB, 4>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
    }
  }
  for (; c < nch; c++) {
    switch (nvec) {
      case 1: taps_dp_kernel<1, 1>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 2: taps_dp_kernel<1, 2>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      case 3: taps_dp_kernel<1, 3>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
      default: taps_dp_kernel<1, 4>(ntaps, src, widx, wb + c * wcs, wcs, out + c * WCH); break;
    }
  }
}

// dst[q] = pair(lo[q], hi[q]) for q in [0, n) (hi == nullptr: zeros)
SEV_TARGET_BF16 SEV_INLINE void pair_rows(const float* lo, const float* hi, int64_t n, uint32_t* dst) {
  for (int64_t q = 0; q < n; q += 16) {
    const __mmask16 m = n - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - q)) - 1u);
    const __m512 a = _mm512_maskz_loadu_ps(m, lo + q), b = hi ? _mm512_maskz_loadu_ps(m, hi + q) : _mm512_setzero_ps();
    _mm512_mask_storeu_epi32(dst + q, m, bf16_pairs(a, b));
  }
}

// pad_plane for a channel pair, rounded and interleaved on the way: the [rows][cols] planes lo and hi (hi == nullptr:
// zeros) at (top, left) of a [Hp][Wp] pair plane, then `tail` zero pairs — straight from the tensor, no fp32 copy
// (padding into fp32 planes first cost a memcpy call per row: at 56x56 as much time as the taps)
SEV_TARGET_BF16 SEV_INLINE void pad_pair_plane(const float* lo, const float* hi, int rows, int cols, int top, int left,
                                               int Hp, int Wp, int64_t tail, uint32_t* dst) {
  std::memset(dst, 0, sizeof(uint32_t) * ((int64_t)top * Wp));
  for (int r = 0; r < rows; r++) {
    uint32_t* d = dst + (int64_t)(top + r) * Wp;
    for (int j = 0; j < left; j++) d[j] = 0;
    const float* a = lo + (int64_t)r * cols;
    const float* b = hi ? hi + (int64_t)r * cols : nullptr;
    for (int c = 0; c < cols; c += 16) {
      const __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1u);
      const __m512 va = _mm512_maskz_loadu_ps(m, a + c), vb = b ? _mm512_maskz_loadu_ps(m, b + c) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(d + left + c, m, bf16_pairs(va, vb));
    }
    for (int j = left + cols; j < Wp; j++) d[j] = 0;
  }
  std::memset(dst + (int64_t)(top + rows) * Wp, 0, sizeof(uint32_t) * ((int64_t)(Hp - top - rows) * Wp + tail));
}

// One flat bf16 item, the forward's or backward-data's: source planes (channel s, frame f at src + s * cstride +
// f * fstride, [rows][cols]) paired and padded at (top, left) into [Hp][Wp] frames, stacked; output channel o of
// out is the sum over (s, kh, kw) of w(o, s, kh, kw) = wg[o * w_os + s * w_ss + kh * kW + kw] times the pair plane at
// the tap's offset — (kh, kw), or mirrored (backward-data: the forward over dy with the taps reversed)
struct FlatDp {
  const float* src;
  int64_t cstride, fstride;
  int ns, no;  // source channels (paired), output channels
  int rows, cols, top, left, Hp, Wp, kH, kW;
  bool mirror;
  const uint32_t* w2;  // the group's paired weights, [no][npair][kH][kW] (pair_weights)
  int keep, rows_kept;  // the kept part of each output frame: rows_kept x keep of its Hp x Wp
};

// The paired weights of every group for flat_dp_item, once a call (per item they cost as much as the taps at 7x7):
// output channel o, source pair j, tap k = (w(o, 2j, k), w(o, 2j + 1, k)), w(o, s, k) = the forward's w[o][s][k] or
// backward-data's w[s][o][k]. false when the buffer cannot be had (the caller runs the fp32 path).
SEV_TARGET_BF16 bool pair_weights(const float* w, const ConvParams& p, bool bwd, FloatBuf& w2) {
  const int cig = p.cin_g(), cog = p.cout_g(), kk = p.kH * p.kW;
  const int ns = bwd ? cog : cig, no = bwd ? cig : cog, npair = (ns + 1) / 2;
  const int64_t nw = (int64_t)npair * kk, per_group = (int64_t)no * nw;
  w2.p = aligned_floats((size_t)(p.groups * per_group + 2 * nw));
  if (!w2.get()) return false;
  uint32_t* dst = reinterpret_cast<uint32_t*>(w2.get());
  float* lo = w2.get() + p.groups * per_group;
  float* hi = lo + nw;
  for (int g = 0; g < p.groups; g++) {
    const float* wg = w + (int64_t)g * cog * cig * kk;
    for (int o = 0; o < no; o++) {
      for (int j = 0; j < npair; j++)
        for (int k = 0; k < kk; k++) {
          const int s0 = 2 * j, s1 = 2 * j + 1;
          lo[j * kk + k] = bwd ? wg[((int64_t)s0 * cig + o) * kk + k] : wg[((int64_t)o * cig + s0) * kk + k];
          hi[j * kk + k] = s1 >= ns ? 0.f : bwd ? wg[((int64_t)s1 * cig + o) * kk + k] : wg[((int64_t)o * cig + s1) * kk + k];
        }
      pair_rows(lo, hi, nw, dst + g * per_group + o * nw);
    }
  }
  return true;
}

// frames [0, nf) of an item (flat_frames); emit(o, f, r, col, values, len) as flat_taps'
template <int CB, class Emit>
SEV_TARGET_BF16 SEV_INLINE void flat_dp_item(const FlatDp& d, int nf, Emit emit) {
  const int kk = d.kH * d.kW, npair = (d.ns + 1) / 2;
  const int64_t FP = (int64_t)d.Hp * d.Wp;
  const int64_t Q = ((int64_t)nf * d.Hp - (d.kH - 1)) * d.Wp, maxoff = (int64_t)(d.kH - 1) * d.Wp + d.kW - 1;
  const int64_t PL = flat_plane_len(Q, maxoff);
  const int64_t nw = (int64_t)npair * kk;  // paired weights of one output channel
  // [npair][PL] pair planes, [no][WCH] out
  float* buf = conv_scratch(2, (size_t)(npair * PL + (int64_t)d.no * WCH));
  if (!buf) return;
  uint32_t* pairs = reinterpret_cast<uint32_t*>(buf);
  float* out = buf + npair * PL;
  for (int j = 0; j < npair; j++)
    for (int f = 0; f < nf; f++) {
      const float* lo = d.src + 2 * j * d.cstride + f * d.fstride;
      pad_pair_plane(lo, 2 * j + 1 < d.ns ? lo + d.cstride : nullptr, d.rows, d.cols, d.top, d.left, d.Hp, d.Wp,
                     f == nf - 1 ? PL - nf * FP : 0, pairs + j * PL + f * FP);
    }
  const uint32_t* src0[MAXC / 2 * 7 * 7];
  const uint32_t* src[MAXC / 2 * 7 * 7];
  int widx[MAXC / 2 * 7 * 7];
  int ntaps = 0;
  for (int j = 0; j < npair; j++)
    for (int kh = 0; kh < d.kH; kh++)
      for (int kw = 0; kw < d.kW; kw++) {
        widx[ntaps] = ntaps;
        src0[ntaps++] = pairs + j * PL +
                        (d.mirror ? (int64_t)(d.kH - 1 - kh) * d.Wp + (d.kW - 1 - kw) : (int64_t)kh * d.Wp + kw);
      }
  FlatPiece pcs[WCH + 1];
  for (int64_t q0 = 0; q0 < Q; q0 += WCH) {
    const int width = (int)min64(WCH, Q - q0);
    for (int i = 0; i < ntaps; i++) src[i] = src0[i] + q0;
    taps_dp_channels<CB>(ntaps, src, widx, d.w2, nw, d.no, (int)ceil_div(width, 16), out);
    const int np = flat_pieces(q0, width, d.Wp, d.keep, d.Hp, d.rows_kept, pcs);
    for (int o = 0; o < d.no; o++)
      for (int i = 0; i < np; i++) emit(o, pcs[i].f, pcs[i].r, pcs[i].col, out + o * WCH + pcs[i].off, pcs[i].len);
  }
}

// The bf16 items' emitters: functors, not lambdas, so that they are built for the same target as the item (a lambda
// takes the default target, and GCC will not inline the AVX-512 epilogue into it)
struct FwdEmit {
  const Epi* e;
  float* y;
  const ConvParams* p;
  int n, g, t;
  SEV_TARGET_BF16 SEV_INLINE void operator()(int c, int f, int ho, int wo, const float* o, int len) const {
    const int co = g * p->cout_g() + c;
    const int64_t off =
        (((int64_t)n * p->Cout + co) * p->To + t + f) * ((int64_t)p->Ho * p->Wo) + (int64_t)ho * p->Wo + wo;
    if (e->scale)
      bn_eval_row_512(y + off, o, len, e->scale[co], e->shift[co], e->res ? e->res + off : nullptr, e->relu);
    else
      bias_row_512(y + off, o, len, e->bias ? e->bias[co] : 0.f, e->res ? e->res + off : nullptr, e->relu);
  }
};
struct BwdDataEmit {
  float* dx;
  const ConvParams* p;
  int n, g, t;
  SEV_TARGET_BF16 SEV_INLINE void operator()(int ci, int f, int h, int wi, const float* o, int len) const {
    float* dxc = dx + (((int64_t)n * p->Cin + g * p->cin_g() + ci) * p->T + t + f) * ((int64_t)p->H * p->W);
    copy_row_512(dxc + (int64_t)h * p->W + wi, o, len);
  }
};

// ---- the flat weight gradient in bf16: dw[co][ci][kh][kw] = sum_q dy[co][q] x[ci][q + kh*Wp + kw] (flat_bwd_weight_item)
// with the pairs along q: a lane multiplies two consecutive positions, (dy[q], dy[q+1]) by (x[q+off], x[q+off+1]) —
// consecutive bf16 in plain rounded planes, at any offset, so no interleaving: 32 positions a vector.

// pad_plane into bf16 (rounded to nearest even), straight from the tensor
SEV_TARGET_BF16 SEV_INLINE void pad_plane_bf16(const float* src, int rows, int cols, int top, int left, int Hp, int Wp,
                                               int64_t tail, uint16_t* dst) {
  std::memset(dst, 0, sizeof(uint16_t) * ((int64_t)top * Wp));
  for (int r = 0; r < rows; r++) {
    uint16_t* d = dst + (int64_t)(top + r) * Wp;
    for (int j = 0; j < left; j++) d[j] = 0;
    const float* a = src + (int64_t)r * cols;
    for (int c = 0; c < cols; c += 16) {
      const __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1u);
      const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + c));
      _mm256_mask_storeu_epi16(d + left + c, m, h);
    }
    for (int j = left + cols; j < Wp; j++) d[j] = 0;
  }
  std::memset(dst + (int64_t)(top + rows) * Wp, 0, sizeof(uint16_t) * ((int64_t)(Hp - top - rows) * Wp + tail));
}
// stack_flat_frames' pad in bf16 (the operator carries the target, so pad_plane_bf16 inlines into it)
struct PadPlaneBf16 {
  SEV_TARGET_BF16 void operator()(const float* src, int rows, int cols, int top, int left, int Hp, int Wp,
                                  int64_t tail, uint16_t* dst) const {
    pad_plane_bf16(src, rows, cols, top, left, Hp, Wp, tail, dst);
  }
};

// a[c][k][0..16) += the lanes of sum over 32-position vectors v of dy(c) . x(tap k), CB x KB accumulators
template <int CB, int KB>
SEV_TARGET_BF16 SEV_INLINE void bww_dp_block(const uint16_t* xs, const int64_t* xoff, const uint16_t* d, int64_t dcs,
                                             int nv, float* a, int64_t acs) {
  __m512 acc[CB][KB];
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++) acc[c][k] = _mm512_setzero_ps();
  for (int v = 0; v < nv; v++) {
    __m512bh xv[KB];
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++) xv[k] = (__m512bh)_mm512_loadu_si512(xs + xoff[k] + v * 32);
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) {
      const __m512bh dv = (__m512bh)_mm512_loadu_si512(d + c * dcs + v * 32);
#pragma GCC unroll 4
      for (int k = 0; k < KB; k++) acc[c][k] = _mm512_dpbf16_ps(acc[c][k], dv, xv[k]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < CB; c++)
#pragma GCC unroll 4
    for (int k = 0; k < KB; k++) {
      float* ak = a + c * acs + k * 16;
      _mm512_storeu_ps(ak, _mm512_add_ps(_mm512_loadu_ps(ak), acc[c][k]));
    }
}

template <int CB>
SEV_TARGET_BF16 SEV_INLINE void bww_dp_kw(const uint16_t* xs, const int64_t* xoff, const uint16_t* d, int64_t dcs,
                                          int nv, float* a, int64_t acs, int kW) {
  int k = 0;
  for (; k + 3 <= kW; k += 3) bww_dp_block<CB, 3>(xs, xoff + k, d, dcs, nv, a + k * 16, acs);
  if (kW - k == 2)
    bww_dp_block<CB, 2>(xs, xoff + k, d, dcs, nv, a + k * 16, acs);
  else if (kW - k == 1)
    bww_dp_block<CB, 1>(xs, xoff + k, d, dcs, nv, a + k * 16, acs);
}

constexpr int64_t BWW_STACK_FLOATS = 2048;

// output channels [c0, c1) of group g over every (n, t): flat_bwd_weight_item in bf16
SEV_TARGET_BF16 void direct_bwd_weight_bf16(const float* x, const float* dy, float* dw, const ConvParams& p, int g,
                                            int c0, int c1, FramePart fp) {
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW;
  const int ntap = cig * kH * kW;
  const int Hp = p.H + 2 * p.pH, Wp = p.W + 2 * p.pW;
  const int64_t FP = (int64_t)Hp * Wp;
  // frames stacked per pass: more than flat_frames' — each bww_dp_block call ends in a read-modify-write of its
  // accumulators, which at 14x14 cost as much as the call's 15 vectors of products
  const int nf = (int)max64(1, min64(p.T, BWW_STACK_FLOATS / FP));
  const int64_t Q = ((int64_t)nf * Hp - (kH - 1)) * Wp, maxoff = (int64_t)(kH - 1) * Wp + kW - 1;
  const int64_t DL = ceil_div(Q, 32) * 32;  // positions summed: whole 32-position vectors, dy zero past Q
  const int64_t PL = max64(DL + maxoff, nf * FP);  // an x plane: every tap's reads of [0, DL)
  const int nco = c1 - c0;
  const int64_t halves = (int64_t)cig * PL + (int64_t)nco * DL;  // bf16 elements of the planes
  float* buf = conv_scratch(2, (size_t)((halves + 1) / 2 + 16 + (int64_t)nco * ntap * 16));
  if (!buf) return;
  float* acc = buf;  // [nco][ntap][16]
  uint16_t* xb = reinterpret_cast<uint16_t*>(buf + (int64_t)nco * ntap * 16);
  uint16_t* db = xb + (int64_t)cig * PL;
  std::memset(acc, 0, sizeof(float) * nco * ntap * 16);
  int64_t xoff[7];
  for (int kw = 0; kw < kW; kw++) xoff[kw] = kw;
  const int nv = (int)(DL / 32);
  int64_t b0, b1, per;
  fp.blocks(p, nf, b0, b1, per);
  for (int64_t b = b0; b < b1; b++) {
    const int n = (int)(b / per), t = (int)(b % per) * nf;
    stack_flat_frames(x, dy, p, n, g, t, nf, c0, c1, PL, DL, Q, xb, db, PadPlaneBf16{});
    for (int ci = 0; ci < cig; ci++)
      for (int kh = 0; kh < kH; kh++) {
        const uint16_t* xs = xb + ci * PL + (int64_t)kh * Wp;
        float* a0 = acc + (int64_t)(ci * kH + kh) * kW * 16;
        const int64_t acs = (int64_t)ntap * 16;
        int c = 0;
        for (; c + 8 <= nco; c += 8) bww_dp_kw<8>(xs, xoff, db + c * DL, DL, nv, a0 + c * acs, acs, kW);
        if (c + 4 <= nco) {
          bww_dp_kw<4>(xs, xoff, db + c * DL, DL, nv, a0 + c * acs, acs, kW);
          c += 4;
        }
        if (c + 2 <= nco) {
          bww_dp_kw<2>(xs, xoff, db + c * DL, DL, nv, a0 + c * acs, acs, kW);
          c += 2;
        }
        for (; c < nco; c++) bww_dp_kw<1>(xs, xoff, db + c * DL, DL, nv, a0 + c * acs, acs, kW);
      }
  }
  for (int c = c0; c < c1; c++)
    for (int k = 0; k < ntap; k++) {
      const float* at = acc + ((int64_t)(c - c0) * ntap + k) * 16;
      float sum = 0.f;
      for (int l = 0; l < 16; l++) sum += at[l];
      dw[((int64_t)g * cog + c) * ntap + k] = sum;
    }
}

// frames [t, t + nf) of (n, g): flat_fwd_item in bf16
SEV_TARGET_BF16 void direct_fwd_bf16(const float* x, const uint32_t* w2, const Epi& e, float* y, const ConvParams& p,
                                     int n, int g, int t, int nf) {
  const int cig = p.cin_g(), cog = p.cout_g(), kk = p.kH * p.kW;
  const int64_t HWi = (int64_t)p.H * p.W;
  FlatDp d;
  d.src = x + (((int64_t)n * p.Cin + g * cig) * p.T + t) * HWi;
  d.cstride = (int64_t)p.T * HWi;
  d.fstride = HWi;
  d.ns = cig;
  d.no = cog;
  d.rows = p.H;
  d.cols = p.W;
  d.top = p.pH;
  d.left = p.pW;
  d.Hp = p.H + 2 * p.pH;
  d.Wp = p.W + 2 * p.pW;
  d.kH = p.kH;
  d.kW = p.kW;
  d.mirror = false;
  d.w2 = w2 + (int64_t)g * cog * ((cig + 1) / 2) * kk;
  d.keep = p.Wo;
  d.rows_kept = p.Ho;
  flat_dp_item<4>(d, nf, FwdEmit{&e, y, &p, n, g, t});
}

// frame t of (n, g) on the row path (the stride-2 grouped convs, the stem) in bf16: direct_fwd_item over channel
// pairs — the frame's phase-split rows built as in fp32, then paired (lane q of pair row (j, h, phase) holds the two
// channels' q), the taps of each output row read at their offsets, the rows outside the frame skipped (widx)
SEV_TARGET_BF16 void direct_fwd_row_bf16(const float* x, const uint32_t* w2, const Epi& e, float* y, const ConvParams& p,
                                         int n, int g, int t) {
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW, sW = p.sW, kk = kH * kW;
  const int npair = (cig + 1) / 2;
  const int64_t wpad = ceil_div(p.Wo, VW) * VW;
  const int64_t RL = wpad + (kW - 1) / sW + VW;
  const int64_t RS = (int64_t)sW * RL;  // one input row's phase rows
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int64_t CS = (int64_t)p.H * RS;  // one channel's phase rows
  float* buf = conv_scratch(2, (size_t)(cig * CS + npair * CS + (int64_t)cog * WCH));
  if (!buf) return;
  float* rows = buf;
  uint32_t* prow = reinterpret_cast<uint32_t*>(buf + cig * CS);
  float* out = buf + cig * CS + npair * CS;
  for (int ci = 0; ci < cig; ci++) {
    const float* xc = x + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t) * HWi;
    for (int h = 0; h < p.H; h++) build_phase_row(xc + (int64_t)h * p.W, p.W, p.pW, sW, RL, rows + ci * CS + h * RS);
  }
  for (int j = 0; j < npair; j++)
    pair_rows(rows + 2 * j * CS, 2 * j + 1 < cig ? rows + (2 * j + 1) * CS : nullptr, CS, prow + j * CS);
  const int64_t nw = (int64_t)npair * kk;
  const uint32_t* wg = w2 + (int64_t)g * cog * nw;
  const uint32_t* src0[MAXC / 2 * 7 * 7];
  const uint32_t* src[MAXC / 2 * 7 * 7];
  int widx[MAXC / 2 * 7 * 7];
  for (int ho = 0; ho < p.Ho; ho++) {
    int ntaps = 0;
    for (int j = 0; j < npair; j++)
      for (int kh = 0; kh < kH; kh++) {
        const int h = ho * p.sH - p.pH + kh;
        if (h < 0 || h >= p.H) continue;
        const uint32_t* r = prow + j * CS + h * RS;
        for (int kw = 0; kw < kW; kw++) {
          src0[ntaps] = r + (kw % sW) * RL + kw / sW;
          widx[ntaps] = (j * kH + kh) * kW + kw;
          ntaps++;
        }
      }
    for (int64_t w0 = 0; w0 < p.Wo; w0 += WCH) {
      const int width = (int)min64(WCH, p.Wo - w0);
      for (int i = 0; i < ntaps; i++) src[i] = src0[i] + w0;
      taps_dp_channels<4>(ntaps, src, widx, wg, nw, cog, (int)ceil_div(width, 16), out);
      for (int c = 0; c < cog; c++) {
        const int co = g * cog + c;
        const int64_t off = (((int64_t)n * p.Cout + co) * p.To + t) * HWo + (int64_t)ho * p.Wo + w0;
        const float* r = e.res ? e.res + off : nullptr;
        if (e.scale)
          bn_eval_row_512(y + off, out + c * WCH, width, e.scale[co], e.shift[co], r, e.relu);
        else
          bias_row_512(y + off, out + c * WCH, width, e.bias ? e.bias[co] : 0.f, r, e.relu);
      }
    }
  }
}

// frame t of (n, g) at a stride past 1 (the row path): direct_bwd_data_item in bf16 — dy's zero-padded rows paired
// along its output channels (pair_rows), every (kh, kw, pair) tap of an input row's phase read through a weight index
// into pair_weights' backward layout ([ci][pair][kH][kW])
SEV_TARGET_BF16 void direct_bwd_data_row_bf16(const float* dy, const uint32_t* w2, float* dx, const ConvParams& p,
                                              int n, int g, int t) {
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW, sW = p.sW;
  const int npair = (cog + 1) / 2;
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  const int64_t PADL = kW + 1;
  const int64_t RL = PADL + ceil_div(ceil_div(p.W, sW), VW) * VW + kW + VW;
  const int64_t CS = (int64_t)p.Ho * RL;  // one channel's padded rows
  float* buf = conv_scratch(2, (size_t)((int64_t)cog * CS + npair * CS + (int64_t)cig * WCH));
  if (!buf) return;
  float* rows = buf;
  uint32_t* prow = reinterpret_cast<uint32_t*>(buf + cog * CS);
  float* out = buf + cog * CS + npair * CS;
  for (int c = 0; c < cog; c++) {
    const float* dyc = dy + (((int64_t)n * p.Cout + g * cog + c) * p.To + t) * HWo;
    for (int ho = 0; ho < p.Ho; ho++) {
      float* r = rows + c * CS + ho * RL;
      std::memset(r, 0, sizeof(float) * PADL);
      std::memcpy(r + PADL, dyc + (int64_t)ho * p.Wo, sizeof(float) * p.Wo);
      std::memset(r + PADL + p.Wo, 0, sizeof(float) * (RL - PADL - p.Wo));
    }
  }
  for (int j = 0; j < npair; j++)
    pair_rows(rows + 2 * j * CS, 2 * j + 1 < cog ? rows + (2 * j + 1) * CS : nullptr, CS, prow + j * CS);
  const int64_t nw = (int64_t)npair * kH * kW;  // between input channels
  const uint32_t* wg = w2 + (int64_t)g * cig * nw;
  const uint32_t* src0[MAXC / 2 * 7 * 7];
  const uint32_t* src[MAXC / 2 * 7 * 7];
  int widx[MAXC / 2 * 7 * 7];
  for (int h = 0; h < p.H; h++)
    for (int ph = 0; ph < sW; ph++) {
      const int64_t J = ceil_div(p.W - ph, sW);  // outputs w = ph + sW * j
      if (J <= 0) continue;
      int ntaps = 0;
      bwd_row_taps(p, h, ph, [&](int ho, int off, int kh, int kw) {
        for (int j = 0; j < npair; j++) {
          src0[ntaps] = prow + j * CS + (int64_t)ho * RL + PADL + off;
          widx[ntaps] = (j * kH + kh) * kW + kw;
          ntaps++;
        }
      });
      for (int64_t j0 = 0; j0 < J; j0 += WCH) {
        const int width = (int)min64(WCH, J - j0);
        for (int i = 0; i < ntaps; i++) src[i] = src0[i] + j0;
        taps_dp_channels<4>(ntaps, src, widx, wg, nw, cig, (int)ceil_div(width, 16), out);
        for (int ci = 0; ci < cig; ci++) {
          float* dr = dx + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t) * HWi + (int64_t)h * p.W + ph;
          const float* o = out + ci * WCH;
          for (int j = 0; j < width; j++) dr[(j0 + j) * sW] = o[j];
        }
      }
    }
}

// frames [t, t + nf) of (n, g): flat_bwd_data_item in bf16 (the pairs along the output channels of dy)
SEV_TARGET_BF16 void direct_bwd_data_bf16(const float* dy, const uint32_t* w2, float* dx, const ConvParams& p, int n,
                                          int g, int t, int nf) {
  const int cig = p.cin_g(), cog = p.cout_g(), kk = p.kH * p.kW;
  const int64_t HWo = (int64_t)p.Ho * p.Wo;
  FlatDp d;
  d.src = dy + (((int64_t)n * p.Cout + g * cog) * p.To + t) * HWo;
  d.cstride = (int64_t)p.To * HWo;
  d.fstride = HWo;
  d.ns = cog;
  d.no = cig;
  d.rows = p.Ho;
  d.cols = p.Wo;
  d.top = p.kH - 1 - p.pH;
  d.left = p.kW - 1 - p.pW;
  d.Hp = p.H + p.kH - 1;
  d.Wp = p.W + p.kW - 1;
  d.kH = p.kH;
  d.kW = p.kW;
  d.mirror = true;
  d.w2 = w2 + (int64_t)g * cig * ((cog + 1) / 2) * kk;
  d.keep = p.W;
  d.rows_kept = p.H;
  flat_dp_item<4>(d, nf, BwdDataEmit{dx, &p, n, g, t});
}
#endif

// backward-data, stride 1: dx[ci][h][w] = sum over (kh, kw, co) of w[co][ci][kh][kw] dy[co][h + pH - kh][w + pW - kw]:
// the forward over dy planes padded by (kH - 1 - pH, kW - 1 - pW) into [H + kH - 1][W + kW - 1], taps mirrored
// frames [t, t + nf) of (n, g), stacked (flat_frames)
template <class V, int CB>
SEV_INLINE void flat_bwd_data_item(const float* dy, const float* w, float* dx, const ConvParams& p, int n, int g,
                                   int t, int nf) {
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW;
  const int Hq = p.H + kH - 1, Wq = p.W + kW - 1;
  const int64_t FP = (int64_t)Hq * Wq;
  const int64_t Q = ((int64_t)nf * Hq - (kH - 1)) * Wq, maxoff = (int64_t)(kH - 1) * Wq + kW - 1;
  const int64_t PL = flat_plane_len(Q, maxoff);
  const int64_t HWi = (int64_t)p.H * p.W, HWo = (int64_t)p.Ho * p.Wo;
  float* planes = conv_scratch(2, (size_t)(cog * PL + MAXC * WCH));
  if (!planes) return;
  float* out = planes + cog * PL;
  const float* src0[MAXC * 7 * 7];
  int widx[MAXC * 7 * 7];
  for (int c = 0; c < cog; c++)
    for (int f = 0; f < nf; f++) {
      const float* dyc = dy + (((int64_t)n * p.Cout + g * cog + c) * p.To + t + f) * HWo;
      pad_plane(dyc, p.Ho, p.Wo, kH - 1 - p.pH, kW - 1 - p.pW, Hq, Wq, f == nf - 1 ? PL - nf * FP : 0,
                planes + c * PL + f * FP);
    }
  int ntaps = 0;
  for (int kh = 0; kh < kH; kh++)
    for (int kw = 0; kw < kW; kw++)
      for (int c = 0; c < cog; c++) {
        src0[ntaps] = planes + c * PL + (int64_t)(kH - 1 - kh) * Wq + (kW - 1 - kw);
        widx[ntaps] = c * cig * kH * kW + kh * kW + kw;
        ntaps++;
      }
  const float* wg = w + (int64_t)g * cog * cig * kH * kW;
  // kH * kW floats between input channels ci in the weight
  flat_taps<V, CB>(ntaps, src0, widx, wg, (int64_t)kH * kW, cig, Q, Wq, p.W, Hq, p.H, out,
                   [&](int ci, int f, int h, int wi, const float* o, int len) {
                     float* dxc = dx + (((int64_t)n * p.Cin + g * cig + ci) * p.T + t + f) * HWi;
#if defined(__x86_64__)
                     if (sizeof(V) == 64) {
                       copy_row_avx512(dxc + (int64_t)h * p.W + wi, o, len);
                       return;
                     }
#endif
                     std::memcpy(dxc + (int64_t)h * p.W + wi, o, sizeof(float) * len);
                   });
}

// backward-weight, stride 1: dw[co][ci][kh][kw] = sum over (n, t, q) of dyf[co][q] xp[ci][q + kh*Wp + kw], with dy
// laid out on the padded input's row pitch (dyf[co][ho*Wp + wo] = dy[co][ho][wo], zero for wo >= Wo) so that a
// frame is one long row for the register-blocked bww_block of the row path
template <class V, int CBMAX>
SEV_INLINE void flat_bwd_weight_item(const float* x, const float* dy, float* dw, const ConvParams& p, int g, int c0,
                                     int c1, FramePart fp) {
  constexpr int VL = (int)(sizeof(V) / sizeof(float));
  const int cig = p.cin_g(), cog = p.cout_g(), kH = p.kH, kW = p.kW;
  const int ntap = cig * kH * kW;
  const int Hp = p.H + 2 * p.pH, Wp = p.W + 2 * p.pW;
  const int64_t FP = (int64_t)Hp * Wp;
  const int nf = flat_frames(FP, p.T);  // frames stacked per pass (flat_frames); Ho = Hp - kH + 1 rows each
  const int64_t Q = ((int64_t)nf * Hp - (kH - 1)) * Wp, maxoff = (int64_t)(kH - 1) * Wp + kW - 1;
  const int64_t PL = flat_plane_len(Q, maxoff);
  // dyf length: the vector loop's whole range, zeros past Q — whole 16-float vectors, not whole 64-float chunks: a
  // 2x2 plane (Q = 8) ran 64 lanes of FMAs per row for 4 outputs
  const int64_t DL = ceil_div(Q, VW) * VW;
  const int nco = c1 - c0;
  float* xp = conv_scratch(2, (size_t)((int64_t)cig * PL + (int64_t)nco * DL + (int64_t)nco * ntap * VW));
  if (!xp) return;
  float* dyf = xp + (int64_t)cig * PL;
  float* acc = dyf + (int64_t)nco * DL;  // [nco][ntap][VW]
  std::memset(acc, 0, sizeof(float) * nco * ntap * VW);
  const int nvl = (int)(DL / VL);
  int64_t xoff[7];
  for (int kw = 0; kw < kW; kw++) xoff[kw] = kw;
  int64_t b0, b1, per;
  fp.blocks(p, nf, b0, b1, per);
  for (int64_t b = b0; b < b1; b++) {
    const int n = (int)(b / per), t = (int)(b % per) * nf;
    stack_flat_frames(x, dy, p, n, g, t, nf, c0, c1, PL, DL, Q, xp, dyf, PadPlane{});
    for (int ci = 0; ci < cig; ci++)
      for (int kh = 0; kh < kH; kh++) {
        const float* xs = xp + ci * PL + (int64_t)kh * Wp;
        float* a0 = acc + (int64_t)(ci * kH + kh) * kW * VW;
        const int64_t acs = (int64_t)ntap * VW;
        int c = 0;
        for (; c + CBMAX <= nco; c += CBMAX)
          bww_kw<V, CBMAX>(xs, 0, xoff, dyf + c * DL, 0, DL, 1, nvl, a0 + c * acs, acs, kW);
        if constexpr (CBMAX > 4)
          if (c + 4 <= nco) {
            bww_kw<V, 4>(xs, 0, xoff, dyf + c * DL, 0, DL, 1, nvl, a0 + c * acs, acs, kW);
            c += 4;
          }
        if constexpr (CBMAX > 2)
          if (c + 2 <= nco) {
            bww_kw<V, 2>(xs, 0, xoff, dyf + c * DL, 0, DL, 1, nvl, a0 + c * acs, acs, kW);
            c += 2;
          }
        for (; c < nco; c++) bww_kw<V, 1>(xs, 0, xoff, dyf + c * DL, 0, DL, 1, nvl, a0 + c * acs, acs, kW);
      }
  }
  for (int c = c0; c < c1; c++)
    for (int k = 0; k < ntap; k++) {
      const float* at = acc + ((int64_t)(c - c0) * ntap + k) * VW;
      float s = 0.f;
      for (int l = 0; l < VL; l++) s += at[l];
      dw[((int64_t)g * cog + c) * ntap + k] = s;
    }
}

// nf: frames [t, t + nf) on the flat path (flat_frames), 1 on the row path
SEV_TARGET_AVX512 void direct_fwd_avx512(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p,
                                         int n, int g, int t, int nf) {
  if (use_flat(p, p.Wo))
    flat_fwd_item<v16f, 4>(x, w, e, y, p, n, g, t, nf);
  else
    direct_fwd_item<v16f, 4>(x, w, e, y, p, n, g, t);
}
SEV_TARGET_AVX2 void direct_fwd_avx2(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p, int n,
                                     int g, int t, int nf) {
  if (use_flat(p, p.Wo))
    flat_fwd_item<v8f, 1>(x, w, e, y, p, n, g, t, nf);
  else
    direct_fwd_item<v8f, 1>(x, w, e, y, p, n, g, t);
}
void direct_fwd_base(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p, int n, int g, int t,
                     int nf) {
  if (use_flat(p, p.Wo))
    flat_fwd_item<v4f, 1>(x, w, e, y, p, n, g, t, nf);
  else
    direct_fwd_item<v4f, 1>(x, w, e, y, p, n, g, t);
}
SEV_TARGET_AVX512 void direct_bwd_data_avx512(const float* dy, const float* w, float* dx, const ConvParams& p, int n,
                                              int g, int t, int nf) {
  if (use_flat(p, p.W))
    flat_bwd_data_item<v16f, 4>(dy, w, dx, p, n, g, t, nf);
  else
    direct_bwd_data_item<v16f, 4>(dy, w, dx, p, n, g, t);
}
SEV_TARGET_AVX2 void direct_bwd_data_avx2(const float* dy, const float* w, float* dx, const ConvParams& p, int n,
                                          int g, int t, int nf) {
  if (use_flat(p, p.W))
    flat_bwd_data_item<v8f, 1>(dy, w, dx, p, n, g, t, nf);
  else
    direct_bwd_data_item<v8f, 1>(dy, w, dx, p, n, g, t);
}
void direct_bwd_data_base(const float* dy, const float* w, float* dx, const ConvParams& p, int n, int g, int t,
                          int nf) {
  if (use_flat(p, p.W))
    flat_bwd_data_item<v4f, 1>(dy, w, dx, p, n, g, t, nf);
  else
    direct_bwd_data_item<v4f, 1>(dy, w, dx, p, n, g, t);
}
SEV_TARGET_AVX512 void direct_bwd_weight_avx512(const float* x, const float* dy, float* dw, const ConvParams& p,
                                                int g, int c0, int c1, FramePart fp) {
  if (use_flat(p, p.Wo))
    flat_bwd_weight_item<v16f, 8>(x, dy, dw, p, g, c0, c1, fp);
  else
    direct_bwd_weight_item<v16f, 8>(x, dy, dw, p, g, c0, c1, fp);
}
SEV_TARGET_AVX2 void direct_bwd_weight_avx2(const float* x, const float* dy, float* dw, const ConvParams& p, int g,
                                            int c0, int c1, FramePart fp) {
  if (use_flat(p, p.Wo))
    flat_bwd_weight_item<v8f, 4>(x, dy, dw, p, g, c0, c1, fp);
  else
    direct_bwd_weight_item<v8f, 4>(x, dy, dw, p, g, c0, c1, fp);
}
void direct_bwd_weight_base(const float* x, const float* dy, float* dw, const ConvParams& p, int g, int c0, int c1,
                            FramePart fp) {
  if (use_flat(p, p.Wo))
    flat_bwd_weight_item<v4f, 2>(x, dy, dw, p, g, c0, c1, fp);
  else
    direct_bwd_weight_item<v4f, 2>(x, dy, dw, p, g, c0, c1, fp);
}

void direct_forward(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p) {
  const int isa = cpu_isa();
  // frames per item: stacked on the flat path (To == T there: stride 1, kT 1)
  const int nf = use_flat(p, p.Wo) ? flat_frames((int64_t)(p.H + 2 * p.pH) * (p.W + 2 * p.pW), p.To) : 1;
  // bf16 compute (the fp32 precision BF16) where the CPU has VDPBF16PS: the flat path's items or the row path's frames
#if defined(__x86_64__)
  FloatBuf w2;
  const bool dp = bf16_direct_active() && pair_weights(w, p, false, w2);
  const bool flat = use_flat(p, p.Wo);
#endif
  const int64_t blocks = ceil_div(p.To, nf);
  const int64_t items = (int64_t)p.N * p.groups * blocks;
#pragma omp parallel for schedule(dynamic, 1) if (max_threads() > 1)
  for (int64_t it = 0; it < items; it++) {
    const int b = (int)(it % blocks), g = (int)((it / blocks) % p.groups), n = (int)(it / (blocks * p.groups));
    const int t = b * nf, nb = (int)min64(nf, p.To - t);
#if defined(__x86_64__)
    if (dp) {
      if (flat)
        direct_fwd_bf16(x, reinterpret_cast<const uint32_t*>(w2.get()), e, y, p, n, g, t, nb);
      else
        direct_fwd_row_bf16(x, reinterpret_cast<const uint32_t*>(w2.get()), e, y, p, n, g, t);
      continue;
    }
#endif
    if (isa == 2)
      direct_fwd_avx512(x, w, e, y, p, n, g, t, nb);
    else if (isa == 1)
      direct_fwd_avx2(x, w, e, y, p, n, g, t, nb);
    else
      direct_fwd_base(x, w, e, y, p, n, g, t, nb);
  }
}
void direct_backward_data(const float* dy, const float* w, float* dx, const ConvParams& p) {
  const int isa = cpu_isa();
  const int nf = use_flat(p, p.W) ? flat_frames((int64_t)(p.H + p.kH - 1) * (p.W + p.kW - 1), p.T) : 1;
#if defined(__x86_64__)
  FloatBuf w2;
  const bool flat = use_flat(p, p.W);
  const bool dp = bf16_direct_active() && pair_weights(w, p, true, w2);  // as direct_forward's
#endif
  const int64_t blocks = ceil_div(p.T, nf);
  const int64_t items = (int64_t)p.N * p.groups * blocks;
#pragma omp parallel for schedule(dynamic, 1) if (max_threads() > 1)
  for (int64_t it = 0; it < items; it++) {
    const int b = (int)(it % blocks), g = (int)((it / blocks) % p.groups), n = (int)(it / (blocks * p.groups));
    const int t = b * nf, nb = (int)min64(nf, p.T - t);
#if defined(__x86_64__)
    if (dp) {
      const uint32_t* wp = reinterpret_cast<const uint32_t*>(w2.get());
      if (flat)
        direct_bwd_data_bf16(dy, wp, dx, p, n, g, t, nb);
      else
        for (int f = t; f < t + nb; f++) direct_bwd_data_row_bf16(dy, wp, dx, p, n, g, f);
      continue;
    }
#endif
    if (isa == 2)
      direct_bwd_data_avx512(dy, w, dx, p, n, g, t, nb);
    else if (isa == 1)
      direct_bwd_data_avx2(dy, w, dx, p, n, g, t, nb);
    else
      direct_bwd_data_base(dy, w, dx, p, n, g, t, nb);
  }
}
void direct_backward_weight(const float* x, const float* dy, float* dw, const ConvParams& p) {
  const int isa = cpu_isa();
  const int cog = p.cout_g();
  const int nt = max_threads();
  const int64_t wsz = (int64_t)p.Cout * p.cin_g() * p.kH * p.kW;
  // >= 2 items a thread: the frames cut into R parts (each part's sums in a buffer of dW's size — small here, the
  // R added in order after), a group's output channels split only where the frames run out. Splitting the channels
  // first re-read and re-padded the group's whole input per part: the stem's at [8,3,8,112²] in four parts took 13.7
  // ms, in frame parts 11.8; at 16 threads (2 cores) 42 -> 12.6 ms, the stride-2 grouped conv's 20 -> 4.4-9.
  int R = nt > 1 ? (int)min64((int64_t)p.N * p.T, max64(1, ceil_div(2 * nt, p.groups))) : 1;
  const int split = nt > 1 ? (int)min64(cog, max64(1, ceil_div(2 * nt, (int64_t)p.groups * R))) : 1;
  FloatBuf part(R > 1 ? (size_t)(wsz * R) : 0);
  if (!part.get()) R = 1;  // dW straight from one part a group
  const int64_t items = (int64_t)p.groups * split * R;
#if defined(__x86_64__)
  const bool dp = use_flat(p, p.Wo) && bf16_direct_active();  // as direct_forward's
#endif
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++) {
      const FramePart fp{(int)(it % R), R};
      const int g = (int)(it / R / split), s = (int)(it / R % split);
      const int c0 = cog * s / split, c1 = cog * (s + 1) / split;  // split <= cog: never empty
      float* out = R > 1 ? part.get() + fp.r * wsz : dw;
#if defined(__x86_64__)
      if (dp) {
        direct_bwd_weight_bf16(x, dy, out, p, g, c0, c1, fp);
        continue;
      }
#endif
      if (isa == 2)
        direct_bwd_weight_avx512(x, dy, out, p, g, c0, c1, fp);
      else if (isa == 1)
        direct_bwd_weight_avx2(x, dy, out, p, g, c0, c1, fp);
      else
        direct_bwd_weight_base(x, dy, out, p, g, c0, c1, fp);
    }
    if (R > 1) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wsz; i++) {
        float v = 0.f;
        for (int r = 0; r < R; r++) v += part.get()[r * wsz + i];
        dw[i] = v;
      }
    }
  }
}

// ---------------------------------------------------------------- im2col + GEMM (general)
// col[r - r0][i] for rows r in [r0, r1) of the (ci, kt, kh, kw) space and output positions
// s0 .. s0+len of one (n, group) sample. Each output row's in-bounds range is found once and copied by a
// plain loop (stride 1 and 2 vectorize; the stem's 1x7x7/2 reads its rows at stride 2), zeros either side:
// a bounds test per element made im2col most of the stem conv's time.
SEV_INLINE void im2col_body(const float* xg, const ConvParams& p, int64_t s0, int64_t len, int r0, int r1,
                            float* col, bool add) {
  const int64_t ks = p.ksize(), khw = (int64_t)p.kH * p.kW;
  const int sW = p.sW;
  for (int r = r0; r < r1; r++) {
    const int ci = (int)(r / ks), rem = (int)(r % ks);
    const int kt = (int)(rem / khw), kh = (int)((rem / p.kW) % p.kH), kw = rem % p.kW;
    float* c = col + (int64_t)(r - r0) * len;
    // for add == true this is col2im: xg (as float*) += col
    const float* xc = xg + (int64_t)ci * p.in_spatial();
    int wlo, whi;
    tap_range(kw, sW, p.pW, p.W, p.Wo, wlo, whi);
    const int off = kw - p.pW;  // input column of output column wo: wo*sW + off
    int64_t s = s0;
    int to = (int)(s / ((int64_t)p.Ho * p.Wo)), ho = (int)((s / p.Wo) % p.Ho), wo = (int)(s % p.Wo);
    int64_t i = 0;
    while (i < len) {
      const int64_t seg = min64(len - i, p.Wo - wo);
      const int ti = to * p.sT - p.pT + kt, hi = ho * p.sH - p.pH + kh;
      const int64_t cb = i - wo;  // c[cb + w] is output column w of this row
      if (ti < 0 || ti >= p.T || hi < 0 || hi >= p.H) {
        if (!add) std::memset(c + i, 0, sizeof(float) * seg);
      } else {
        float* xr = const_cast<float*>(xc) + ((int64_t)ti * p.H + hi) * p.W;
        // [a, b): the segment's in-bounds columns (a chunk may end before the row's first in-bounds column)
        const int a = (int)min64(max64(wo, wlo), wo + seg), b = (int)max64(a, min64(wo + seg, whi));
        if (!add) {
          for (int w = wo; w < a; w++) c[cb + w] = 0.f;
          if (sW == 1)
            std::memcpy(c + cb + a, xr + a + off, sizeof(float) * (b - a));
          else if (sW == 2)
            for (int w = a; w < b; w++) c[cb + w] = xr[2 * w + off];
          else
            for (int w = a; w < b; w++) c[cb + w] = xr[(int64_t)w * sW + off];
          for (int w = b; w < wo + seg; w++) c[cb + w] = 0.f;
        } else {
          if (sW == 1)
            for (int w = a; w < b; w++) xr[w + off] += c[cb + w];
          else
            for (int w = a; w < b; w++) xr[(int64_t)w * sW + off] += c[cb + w];
        }
      }
      i += seg;
      wo = 0;
      if (++ho == p.Ho) {
        ho = 0;
        ++to;
      }
    }
  }
}
SEV_TARGET_AVX512 void im2col_avx512(const float* xg, const ConvParams& p, int64_t s0, int64_t len, int r0, int r1,
                                     float* col, bool add) {
  im2col_body(xg, p, s0, len, r0, r1, col, add);
}
SEV_TARGET_AVX2 void im2col_avx2(const float* xg, const ConvParams& p, int64_t s0, int64_t len, int r0, int r1,
                                 float* col, bool add) {
  im2col_body(xg, p, s0, len, r0, r1, col, add);
}
void im2col_base(const float* xg, const ConvParams& p, int64_t s0, int64_t len, int r0, int r1, float* col,
                 bool add) {
  im2col_body(xg, p, s0, len, r0, r1, col, add);
}
void im2col(const float* xg, const ConvParams& p, int64_t s0, int64_t len, int r0, int r1, float* col, bool add) {
  const int isa = cpu_isa();
  if (isa == 2)
    im2col_avx512(xg, p, s0, len, r0, r1, col, add);
  else if (isa == 1)
    im2col_avx2(xg, p, s0, len, r0, r1, col, add);
  else
    im2col_base(xg, p, s0, len, r0, r1, col, add);
}

// column chunk so that the column buffer stays ~4 MB and there is enough parallel work
int64_t col_chunk(const ConvParams& p, int64_t rows, int nt, int64_t units_outside) {
  const int64_t So = p.out_spatial();
  int64_t nch = max64(1, ceil_div(rows * So, (int64_t)1 << 20));
  nch = max64(nch, ceil_div(2 * nt, units_outside));
  nch = min64(nch, max64(1, So / 128));
  return ceil_div(So, nch);
}

void gen_forward(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t rows = (int64_t)cig * p.ksize(), So = p.out_spatial(), Si = p.in_spatial();
  const int nt = conv_threads(2.0 * p.N * p.groups * cog * rows * So);
  const int64_t chunk = col_chunk(p, rows, nt, (int64_t)p.N * p.groups);
  const int64_t nch = ceil_div(So, chunk);
  const int64_t units = (int64_t)p.N * p.groups * nch;
  const Bf16Weights wb(w, p.Cout, rows, rows);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t c = u % nch;
    const int g = (int)((u / nch) % p.groups), n = (int)(u / (nch * p.groups));
    const int64_t s0 = c * chunk, len = min64(chunk, So - s0);
    float* col = conv_scratch(3, (size_t)(rows * len));
    const float* xg = x + ((int64_t)n * p.Cin + g * cig) * Si;
    float* yg = y + ((int64_t)n * p.Cout + g * cog) * So + s0;
    if (!col) continue;
    im2col(xg, p, s0, len, 0, (int)rows, col, false);
    const float* wg = w + (int64_t)g * cog * rows;
    if (!wb.ok() || !sgemm_bf16_pre(cog, len, rows, wb, (int64_t)g * cog, col, len, nullptr, 0.f, yg, So))
      sgemm_serial(false, false, cog, len, rows, 1.f, wg, rows, col, len, 0.f, yg, So);
    epilogue(yg, So, cog, len, e, g * cog, ((int64_t)n * p.Cout + g * cog) * So + s0);
  }
}

// Units: (sample, group) items, each cut into input-channel ranges when there are fewer items than
// threads. A unit computes the dcol rows of its channels (GEMM) and scatters them (col2im) into its
// own dx planes only, so no unit waits for another and no two write the same element.
void gen_backward_data(const float* dy, const float* w, float* dx, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t rows = (int64_t)cig * p.ksize(), So = p.out_spatial(), Si = p.in_spatial(), ks = p.ksize();
  const int64_t items = (int64_t)p.N * p.groups;
  const int nt = conv_threads(2.0 * items * cog * rows * So);
  const int cparts = (int)min64(max64(1, cig), parts_per_item(items, nt));
  const int64_t units = items * cparts;
  const int64_t chunk = col_chunk(p, rows, 1, 1);
  const Bf16Weights wb(w, {p.groups, cog, rows, 1});  // W^T: the bf16 GEMM takes A untransposed
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t u = 0; u < units; u++) {
    const int64_t it = u / cparts;
    const int q = (int)(u % cparts);
    const int g = (int)(it % p.groups), n = (int)(it / p.groups);
    const int c0 = (int)((int64_t)cig * q / cparts), c1 = (int)((int64_t)cig * (q + 1) / cparts);
    if (c1 <= c0) continue;
    const int64_t r0 = c0 * ks, r1 = c1 * ks;
    float* dxg = dx + ((int64_t)n * p.Cin + g * cig) * Si;
    std::memset(dxg + c0 * Si, 0, sizeof(float) * (size_t)((c1 - c0) * Si));
    float* dcol = conv_scratch(3, (size_t)((r1 - r0) * chunk));
    if (!dcol) continue;
    for (int64_t s0 = 0; s0 < So; s0 += chunk) {
      const int64_t len = min64(chunk, So - s0);
      // dcol [r1-r0, len] = (W_g^T)[r0..r1, :] dy_g[:, s0..]; W_g is [cog, rows]
      const float* dyg = dy + ((int64_t)n * p.Cout + g * cog) * So + s0;
      if (!wb.ok() || !sgemm_bf16_pre(r1 - r0, len, cog, wb, (int64_t)g * rows + r0, dyg, So, nullptr, 0.f, dcol, len))
        sgemm_serial(true, false, r1 - r0, len, cog, 1.f, w + (int64_t)g * cog * rows + r0, rows, dyg, So, 0.f, dcol,
                     len);
      im2col(dxg, p, s0, len, (int)r0, (int)r1, dcol, true);
    }
  }
}

void gen_backward_weight(const float* x, const float* dy, float* dw, const ConvParams& p) {
  const int cig = p.cin_g(), cog = p.cout_g();
  const int64_t rows = (int64_t)cig * p.ksize(), So = p.out_spatial(), Si = p.in_spatial();
  const int nt = max_threads();
  const int64_t items = (int64_t)p.N * p.groups;
  const int64_t wsz = (int64_t)p.Cout * rows;
  const bool bf16 = bf16_gemm_active();
  // R parts of dW partials [groups][cog][rows], and in bf16 their transposes [groups][rows][cog] — the bf16 GEMM
  // computes dW^T = col dy^T there: its transposed operand (rounded through 16x16 transposes) is then dy's cog rows,
  // not col's `rows` (147 at the stem: its weight gradient at [8,3,8,112²] 10.0-10.3 -> 9.3-9.4 ms; what is left is
  // im2col and the rounding of col, ~60% of it). Tiles of dW (WgradSplit) take rows [j0, j1) of col: im2col'd by
  // their tile alone.
  const int64_t per = bf16 ? 2 * wsz : wsz;
  const double in = (double)items * ((double)cig * Si + (double)cog * So);
  const WgradSplit ws = wgrad_split(nt, nt, per, in, cog, rows, 1);
  const int64_t chunk = col_chunk(p, rows, ws.R, items);
  const int64_t nch = ceil_div(So, chunk);
  const int64_t units = items * nch;
  FloatBuf part((size_t)(per * ws.R));
  if (!part.get()) return buffer_failed();
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < per * ws.R; i++) part.get()[i] = 0.f;
#pragma omp for schedule(static, 1)
    for (int v = 0; v < ws.workers(); v++) {
      int r;
      int64_t u0, u1, i0, i1, j0, j1;
      ws.work(v, units, cog, rows, 1, r, u0, u1, i0, i1, j0, j1);
      if (i1 <= i0 || j1 <= j0) continue;
      float* mine = part.get() + r * per;
      float* mine_t = mine + wsz;  // bf16 only
      for (int64_t u = u0; u < u1; u++) {
        const int64_t c = u % nch;
        const int g = (int)((u / nch) % p.groups), n = (int)(u / (nch * p.groups));
        const int64_t s0 = c * chunk, len = min64(chunk, So - s0);
        float* col = conv_scratch(3, (size_t)((j1 - j0) * len));
        if (!col) continue;
        im2col(x + ((int64_t)n * p.Cin + g * cig) * Si, p, s0, len, (int)j0, (int)j1, col, false);
        // dW_g [cog, rows] rows i0.., columns j0.. += dy_g[i0.., s0..] [.., len] x col^T [len, j0..]
        const float* dyg = dy + ((int64_t)n * p.Cout + g * cog + i0) * So + s0;
        if (bf16 && sgemm_bf16_ex(true, j1 - j0, i1 - i0, len, col, len, nullptr, dyg, So, nullptr, 1.f,
                                  mine_t + ((int64_t)g * rows + j0) * cog + i0, cog))
          continue;
        sgemm_serial(false, true, i1 - i0, j1 - j0, len, 1.f, dyg, So, col, len, 1.f,
                     mine + ((int64_t)g * cog + i0) * rows + j0, rows);
      }
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsz; i++) {
      const int64_t g = i / (cog * rows), co = (i / rows) % cog, r = i % rows;
      const int64_t it = (g * rows + r) * cog + co;
      float s = 0.f;
      for (int q = 0; q < ws.R; q++) s += bf16 ? part.get()[q * per + i] + part.get()[q * per + wsz + it]
                                                : part.get()[q * per + i];
      dw[i] = s;
    }
  }
}

// every forward's path choice, its epilogue applied on each output tile
void conv_forward(const float* x, const float* w, const Epi& e, float* y, const ConvParams& p) {
  if (p.out_spatial() == 0 || p.N == 0 || p.Cout == 0) return;
  if (is_pointwise(p))
    pw_forward(x, w, e, y, p);
  else if (is_temporal(p))
    tm_forward(x, w, e, y, p);
  else if (is_direct2d_forward(p))
    direct_forward(x, w, e, y, p);
  else
    gen_forward(x, w, e, y, p);
}

}  // namespace
}  // namespace sev

extern "C" {

int sev_conv3d_forward(const float* x, const float* w, const float* bias, float* y, const int* pp, int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvCall call;
  sev::Epi e;
  e.bias = bias;
  e.relu = relu;
  sev::conv_forward(x, w, e, y, sev::ConvParams(pp));
  return call.status("sev_conv3d_forward");
}

int sev_conv3d_forward_residual(const float* x, const float* w, const float* bias, const float* res, float* y,
                                const int* pp, int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvCall call;
  sev::Epi e;
  e.bias = bias;
  e.res = res;
  e.relu = relu;
  sev::conv_forward(x, w, e, y, sev::ConvParams(pp));
  return call.status("sev_conv3d_forward_residual");
}

int sev_conv3d_batchnorm_eval_forward(const float* x, const float* w, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, float eps,
                                      const float* res, float* y, const int* pp, int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvCall call;
  const sev::ConvParams p(pp);
  sev::FloatBuf ab((size_t)(2 * (int64_t)p.Cout));
  if (!ab.get()) return sev::fail(SEV_ENOMEM, "sev_conv3d_batchnorm_eval_forward: out of memory");
  sev::bn_eval_coefficients(gamma, beta, running_mean, running_var, eps, p.Cout, ab.get(), ab.get() + p.Cout);
  sev::Epi e;
  e.scale = ab.get();
  e.shift = ab.get() + p.Cout;
  e.res = res;
  e.relu = relu;
  sev::conv_forward(x, w, e, y, p);
  return call.status("sev_conv3d_batchnorm_eval_forward");
}

int sev_conv3d_forward_reference(const float* x, const float* w, const float* bias, float* y, const int* pp,
                                 int relu) {
  SEV_CALL_SCOPE();
  const sev::ConvParams p(pp);
  sev::ref_forward(x, w, bias, y, p, relu);
  return SEV_OK;
}

int sev_conv3d_backward_data(const float* dy, const float* w, float* dx, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::ConvCall call;
  const sev::ConvParams p(pp);
  if (p.in_spatial() == 0 || p.N == 0 || p.Cin == 0) return SEV_OK;
  if (sev::is_pointwise(p))
    sev::pw_backward_data(dy, w, dx, p);
  else if (sev::is_temporal(p))
    sev::tm_backward_data(dy, w, dx, p);
  else if (sev::is_direct2d(p))
    sev::direct_backward_data(dy, w, dx, p);
  else
    sev::gen_backward_data(dy, w, dx, p);
  return call.status("sev_conv3d_backward_data");
}

int sev_conv3d_backward_weight(const float* x, const float* dy, float* dw, const int* pp) {
  SEV_CALL_SCOPE();
  const sev::ConvCall call;
  const sev::ConvParams p(pp);
  if (p.Cout == 0) return SEV_OK;
  if (p.N == 0 || p.out_spatial() == 0) {
    std::memset(dw, 0, sizeof(float) * (size_t)((int64_t)p.Cout * p.cin_g() * p.ksize()));
    return SEV_OK;
  }
  if (sev::is_pointwise(p))
    sev::pw_backward_weight(x, dy, dw, p);
  else if (sev::is_temporal(p))
    sev::tm_backward_weight(x, dy, dw, p);
  else if (sev::is_direct2d_bwd_weight(p))
    sev::direct_backward_weight(x, dy, dw, p);
  else
    sev::gen_backward_weight(x, dy, dw, p);
  return call.status("sev_conv3d_backward_weight");
}

}  // extern "C"
