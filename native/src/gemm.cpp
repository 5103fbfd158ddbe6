// Row-major SGEMM: cache-blocked (KC x NC panels of B, MC x KC blocks of A, both packed), with a
// register-blocked MR x NR micro-kernel written once over GCC vector extensions and compiled three
// times (AVX-512: 12 x 32, AVX2+FMA: 6 x 16, x86-64 baseline: 4 x 8), picked at run time.
// Parallel: threads take disjoint rectangles of C (each with private packing), or — when C is too
// small to split and K is long (conv weight gradients) — disjoint slices of K reduced at the end.
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "internal.h"
#include "sev_simd.h"
#include "sev_transpose.h"
#if SEV_X86
#include <immintrin.h>
#endif
#include "sevnet.h"

namespace sev {

int cpu_isa() {
  static const int isa = [] {
#if SEV_X86
    __builtin_cpu_init();
    int best = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = 1;
    if (best == 1 && __builtin_cpu_supports("avx512f")) best = 2;
    const char* cap = std::getenv("SEV_ISA");
    if (cap) {
      if (!std::strcmp(cap, "avx2") && best > 1) best = 1;
      if (!std::strcmp(cap, "scalar") || !std::strcmp(cap, "default")) best = 0;
    }
    return best;
#else
    return 0;
#endif
  }();
  return isa;
}

namespace {
struct Scratch {
  float* p[4] = {nullptr, nullptr, nullptr, nullptr};
  size_t cap[4] = {0, 0, 0, 0};
  ~Scratch() {
    for (auto* q : p) aligned_free(q);
  }
};
thread_local Scratch tl_scratch;
}  // namespace

float* scratch(int slot, size_t n) {
  Scratch& s = tl_scratch;
  if (s.cap[slot] < n) {
    aligned_free(s.p[slot]);
    size_t c = n + n / 4 + 1024;
    s.p[slot] = aligned_floats(c);
    s.cap[slot] = s.p[slot] ? c : 0;
  }
  return s.p[slot];
}

void sgemm_reference(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++)
        s += (double)(tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
      float r = alpha * (float)s;
      C[i * ldc + j] = beta == 0.f ? r : r + beta * C[i * ldc + j];
    }
}

namespace {

constexpr int64_t KC = 256;
constexpr int64_t NC_MAX = 3072;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- packing ----
#if SEV_X86
// The interleaving packs (a K-contiguous operand into k-major panels: A rows, B^T rows) moved one float per load
// and store, 19-27% of the GEMMs' time in a training step (perf, Xeon with AVX-512). Here 16 rows x 16 k go
// through one in-register transpose: dst[(k - k0) * ds + r] = rows[r][k] for k in [k0, k1) (at most 16), lanes
// [0, w) of each k's group written, rows at or past n zero; row r is read only inside [lo[r], hi[r]) (zeros
// elsewhere: padding and the shifted views' edges).
SEV_TARGET_AVX512 void pack16_avx512(const float* const* rows, const int64_t* lo, const int64_t* hi, int n, int64_t k0,
                                     int64_t k1, int w, float* dst, int64_t ds) {
  __m512 r[16];
  for (int i = 0; i < 16; i++) {
    r[i] = _mm512_setzero_ps();
    if (i >= n) continue;
    const int64_t a = lo[i] > k0 ? lo[i] : k0, b = hi[i] < k1 ? hi[i] : k1;
    if (b <= a) continue;
    const __mmask16 m = (__mmask16)(((1u << (b - a)) - 1u) << (a - k0));
    r[i] = _mm512_maskz_loadu_ps(m, rows[i] + k0);
  }
  transpose16x16(r);
  const __mmask16 wm = (__mmask16)((1u << w) - 1u);
  for (int64_t i = 0; i < k1 - k0; i++) _mm512_mask_storeu_ps(dst + i * ds, wm, r[i]);
}
#endif

// rows [0, n) of one panel, row r read at rows[r][k] inside [lo[r], hi[r]), into dst[(k - p0) * ds + r] for k in
// [p0, p0 + kc): lanes [0, w) per k (w <= 16), the 16-wide transposes above
SEV_INLINE void pack_panel16(const float* const* rows, const int64_t* lo, const int64_t* hi, int n, int64_t p0,
                             int64_t kc, int w, float* dst, int64_t ds) {
#if SEV_X86
  for (int64_t k0 = p0; k0 < p0 + kc; k0 += 16)
    pack16_avx512(rows, lo, hi, n, k0, min64(k0 + 16, p0 + kc), w, dst + (k0 - p0) * ds, ds);
#endif
}

// A block rows [i0, i0+mc), cols [p0, p0+kc) into panels of MR rows: dst[(panel*kc + k)*MR + r]
// (W16: the caller is the AVX-512 build, whose panels take the 16-wide transposes)
template <int MR, bool W16 = false>
SEV_INLINE void pack_a(bool tA, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                       float* dst) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int mr = (int)min64(MR, mc - ip);
    float* d = dst + ip * kc;
    if constexpr (W16 && SEV_X86 && MR <= 16) {
      if (!tA) {
        const float* rows[16];
        int64_t lo[16], hi[16];
        for (int r = 0; r < mr; r++) {
          rows[r] = A + (i0 + ip + r) * lda;
          lo[r] = p0;
          hi[r] = p0 + kc;
        }
        pack_panel16(rows, lo, hi, mr, p0, kc, MR, d, MR);
        continue;
      }
    }
    if (!tA) {
      for (int r = 0; r < mr; r++) {
        const float* a = A + (i0 + ip + r) * lda + p0;
        for (int64_t k = 0; k < kc; k++) d[k * MR + r] = a[k];
      }
      for (int r = mr; r < MR; r++)
        for (int64_t k = 0; k < kc; k++) d[k * MR + r] = 0.f;
    } else {
      for (int64_t k = 0; k < kc; k++) {
        const float* a = A + (p0 + k) * lda + i0 + ip;
        float* dk = d + k * MR;
        for (int r = 0; r < mr; r++) dk[r] = a[r];
        for (int r = mr; r < MR; r++) dk[r] = 0.f;
      }
    }
  }
}

// B block rows [p0, p0+kc), cols [j0, j0+nc) into panels of NR cols: dst[(panel*kc + k)*NR + c]
template <int NR, bool W16 = false>
SEV_INLINE void pack_b(bool tB, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                       float* dst) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int nr = (int)min64(NR, nc - jp);
    float* d = dst + jp * kc;
    if constexpr (W16 && SEV_X86 && NR % 16 == 0) {
      if (tB) {
        // B^T rows: 16 columns of the panel at a time
        for (int c0 = 0; c0 < NR; c0 += 16) {
          const float* rows[16];
          int64_t lo[16], hi[16];
          const int n = nr - c0 < 0 ? 0 : (nr - c0 > 16 ? 16 : nr - c0);
          for (int c = 0; c < n; c++) {
            rows[c] = B + (j0 + jp + c0 + c) * ldb;
            lo[c] = p0;
            hi[c] = p0 + kc;
          }
          pack_panel16(rows, lo, hi, n, p0, kc, 16, d + c0, NR);
        }
        continue;
      }
    }
    if (!tB) {
      for (int64_t k = 0; k < kc; k++) {
        const float* b = B + (p0 + k) * ldb + j0 + jp;
        float* dk = d + k * NR;
        if (nr == NR) {
          std::memcpy(dk, b, sizeof(float) * NR);
        } else {
          for (int c = 0; c < nr; c++) dk[c] = b[c];
          for (int c = nr; c < NR; c++) dk[c] = 0.f;
        }
      }
    } else {
      for (int c = 0; c < nr; c++) {
        const float* b = B + (j0 + jp + c) * ldb + p0;
        for (int64_t k = 0; k < kc; k++) d[k * NR + c] = b[k];
      }
      for (int c = nr; c < NR; c++)
        for (int64_t k = 0; k < kc; k++) d[k * NR + c] = 0.f;
    }
  }
}

// ---- micro-kernel: C[mr x nr] = alpha * Ap(MR x kc) Bp(kc x NR) + beta * C ----
template <class V, int MR, int NV>
SEV_INLINE void micro(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C, int64_t ldc,
                      float alpha, float beta, int mr, int nr) {
  constexpr int VL = sizeof(V) / sizeof(float);
  constexpr int NR = VL * NV;
  V c[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) c[r][v] = V{};
  for (int64_t k = 0; k < kc; k++) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = *(const V*)(Bp + k * NR + v * VL);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const float a = Ap[k * MR + r];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[r][v] += b[v] * a;
    }
  }
  if (mr == MR && nr == NR) {
    if (beta == 0.f) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) vstore<V>(C + r * ldc + v * VL, c[r][v] * alpha);
    } else if (beta == 1.f) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
          {
          V o;
          vload<V>(o, C + r * ldc + v * VL);
          vstore<V>(C + r * ldc + v * VL, o + c[r][v] * alpha);
        }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
          {
          V o;
          vload<V>(o, C + r * ldc + v * VL);
          vstore<V>(C + r * ldc + v * VL, o * beta + c[r][v] * alpha);
        }
    }
  } else {
    alignas(64) float t[MR * NR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) *(V*)(t + r * NR + v * VL) = c[r][v];
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < nr; j++) {
        const float s = alpha * t[r * NR + j];
        C[r * ldc + j] = beta == 0.f ? s : s + beta * C[r * ldc + j];
      }
  }
}

// one thread: the whole blocked algorithm on one rectangle of C
template <class V, int MR, int NV>
SEV_INLINE bool gemm_serial_t(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  constexpr int VL = sizeof(V) / sizeof(float);
  constexpr int NR = VL * NV;
  constexpr int64_t MC = MR * 16;
  const int64_t kcmax = min64(K, KC);
  const int64_t ncmax = min64((N + NR - 1) / NR * NR, NC_MAX);
  const int64_t mcmax = min64((M + MR - 1) / MR * MR, MC);
  float* pa = scratch(0, (size_t)(mcmax * kcmax));
  float* pb = scratch(1, (size_t)(ncmax * kcmax));
  if (!pa || !pb) return false;  // out of memory: the caller falls back to the reference loops
  for (int64_t jc = 0; jc < N; jc += NC_MAX) {
    const int64_t nc = min64(NC_MAX, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = min64(KC, K - pc);
      const float be = pc == 0 ? beta : 1.f;
      pack_b<NR, VL == 16>(tB, B, ldb, pc, kc, jc, nc, pb);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = min64(MC, M - ic);
        pack_a<MR, VL == 16>(tA, A, lda, ic, mc, pc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = (int)min64(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = (int)min64(MR, mc - ir);
            micro<V, MR, NV>(kc, pa + ir * kc, pb + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, alpha, be, mr, nr);
          }
        }
      }
    }
  }
  return true;
}

SEV_TARGET_AVX512 bool gemm_serial_avx512(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha,
                                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                                          float* C, int64_t ldc) {
  return gemm_serial_t<v16f, 12, 2>(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
SEV_TARGET_AVX2 bool gemm_serial_avx2(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha,
                                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                                      float* C, int64_t ldc) {
  return gemm_serial_t<v8f, 6, 2>(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
bool gemm_serial_base(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  return gemm_serial_t<v4f, 4, 2>(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void tile_shape(int& MR, int& NR) {
  switch (cpu_isa()) {
    case 2: MR = 12; NR = 32; break;
    case 1: MR = 6; NR = 16; break;
    default: MR = 4; NR = 8; break;
  }
}

// degenerate cases: K == 0 or alpha == 0 -> C = beta C
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * ldc;
    if (beta == 0.f)
      for (int64_t j = 0; j < N; j++) c[j] = 0.f;
    else if (beta != 1.f)
      for (int64_t j = 0; j < N; j++) c[j] *= beta;
  }
}

}  // namespace

void gemm_tile(int& MR, int& NR) { tile_shape(MR, NR); }

void sgemm_serial(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  bool ok;
  switch (cpu_isa()) {
    case 2: ok = gemm_serial_avx512(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    case 1: ok = gemm_serial_avx2(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
    default: ok = gemm_serial_base(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); break;
  }
  if (!ok) sgemm_reference(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  // never nest: inside any enclosing region (even an inactive one) run on the calling thread
  int nt = (omp_in_parallel() || omp_get_level() > 0) ? 1 : omp_get_max_threads();
  const double flops = 2.0 * (double)M * (double)N * (double)K;
  if (flops < 4.0e6) nt = 1;
  if (nt <= 1 || K <= 0 || alpha == 0.f) {
    sgemm_serial(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int MR, NR;
  tile_shape(MR, NR);
  const int64_t tm = (M + MR - 1) / MR, tn = (N + NR - 1) / NR;
  if (tm * tn < 4 * nt && K >= 2 * KC * nt) {
    // split K: private partial products, then C = beta C + sum of partials
    const int64_t MN = M * N;
    FloatBuf part((size_t)(MN * nt));
    if (!part.get()) {
      sgemm_serial(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
    const int64_t kchunk = ((K + nt - 1) / nt + KC - 1) / KC * KC;
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      const int64_t k0 = min64(K, t * kchunk), k1 = min64(K, k0 + kchunk);
      float* Ct = part.get() + t * MN;
      const float* At = tA ? A + k0 * lda : A + k0;
      const float* Bt = tB ? B + k0 : B + k0 * ldb;
      sgemm_serial(tA, tB, M, N, k1 - k0, alpha, At, lda, Bt, ldb, 0.f, Ct, N);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t i = 0; i < M; i++) {
        float* c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) {
          float s = 0.f;
          for (int q = 0; q < nt; q++) s += part.get()[q * MN + i * N + j];
          c[j] = beta == 0.f ? s : s + beta * c[j];
        }
      }
    }
    return;
  }
  // 2-D split of C into pm x pn rectangles (pm * pn == nt), best balanced in units of tiles
  int pm = 1, pn = nt;
  int64_t best = -1;
  for (int a = 1; a <= nt; a++) {
    if (nt % a) continue;
    const int b = nt / a;
    const int64_t w = ((tm + a - 1) / a) * ((tn + b - 1) / b);
    // prefer splitting N (the long side here) on ties: a ascending, so strict '<'
    if (best < 0 || w < best) {
      best = w;
      pm = a;
      pn = b;
    }
  }
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int a = t / pn, b = t % pn;
    const int64_t mt0 = tm * a / pm, mt1 = tm * (a + 1) / pm;
    const int64_t nt0 = tn * b / pn, nt1 = tn * (b + 1) / pn;
    const int64_t i0 = mt0 * MR, i1 = min64(M, mt1 * MR);
    const int64_t j0 = nt0 * NR, j1 = min64(N, nt1 * NR);
    if (i1 > i0 && j1 > j0) {
      const float* At = tA ? A + i0 : A + i0 * lda;
      const float* Bt = tB ? B + j0 * ldb : B + j0;
      sgemm_serial(tA, tB, i1 - i0, j1 - j0, K, alpha, At, lda, Bt, ldb, beta, C + i0 * ldc + j0, ldc);
    }
  }
}

}  // namespace sev

extern "C" {

int sev_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  SEV_CALL_SCOPE();
  if (M < 0 || N < 0 || K < 0) return sev::fail(SEV_EINVAL, "sev_sgemm: negative size");
  sev::sgemm(transA != 0, transB != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  return SEV_OK;
}

}  // extern "C"

// ---- GEMM over time-shifted operands (the temporal kT x 1 x 1 convolutions) ----
// An operand described by sh = {taps, step, off, lo, hi} (nullptr: a plain matrix, as in sgemm) is
// the non-transposed matrix whose element (r, c) is p[(r / taps) * ld + q], q = c + (r % taps) * step
// - off, when lo <= q < hi, and 0 otherwise: the rows of one channel are its time-shifted views.
namespace sev {
namespace {

// source pointer and valid column range [c0, c1) (relative to column 0) of shifted row r
inline const float* sh_row(const float* P, int64_t ld, const int64_t* sh, int64_t r, int64_t& c0, int64_t& c1) {
  const int64_t taps = sh[0];
  const int64_t d = (r % taps) * sh[1] - sh[2];
  c0 = sh[3] - d;
  c1 = sh[4] - d;
  return P + (r / taps) * ld + d;
}

template <int MR, bool W16 = false>
SEV_INLINE void pack_a_sh(bool tA, const float* A, int64_t lda, const int64_t* sh, int64_t i0, int64_t mc, int64_t p0,
                          int64_t kc, float* dst) {
  if (!sh) {
    pack_a<MR, W16>(tA, A, lda, i0, mc, p0, kc, dst);
    return;
  }
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int mr = (int)min64(MR, mc - ip);
    float* d = dst + ip * kc;
    if constexpr (W16 && SEV_X86 && MR <= 16) {
      const float* rows[16];
      int64_t lo[16], hi[16];
      for (int r = 0; r < mr; r++) rows[r] = sh_row(A, lda, sh, i0 + ip + r, lo[r], hi[r]);
      pack_panel16(rows, lo, hi, mr, p0, kc, MR, d, MR);
      continue;
    }
    for (int r = 0; r < mr; r++) {
      int64_t c0, c1;
      const float* a = sh_row(A, lda, sh, i0 + ip + r, c0, c1);
      const int64_t lo = c0 > p0 ? (c0 < p0 + kc ? c0 : p0 + kc) : p0;
      const int64_t hi = c1 < p0 + kc ? (c1 > lo ? c1 : lo) : p0 + kc;
      for (int64_t k = p0; k < lo; k++) d[(k - p0) * MR + r] = 0.f;
      for (int64_t k = lo; k < hi; k++) d[(k - p0) * MR + r] = a[k];
      for (int64_t k = hi; k < p0 + kc; k++) d[(k - p0) * MR + r] = 0.f;
    }
    for (int r = mr; r < MR; r++)
      for (int64_t k = 0; k < kc; k++) d[k * MR + r] = 0.f;
  }
}

template <int NR, bool W16 = false>
SEV_INLINE void pack_b_sh(bool tB, const float* B, int64_t ldb, const int64_t* sh, int64_t p0, int64_t kc, int64_t j0,
                          int64_t nc, float* dst) {
  if (!sh) {
    pack_b<NR, W16>(tB, B, ldb, p0, kc, j0, nc, dst);
    return;
  }
  for (int64_t k = 0; k < kc; k++) {
    int64_t c0, c1;
    const float* b = sh_row(B, ldb, sh, p0 + k, c0, c1);
    for (int64_t jp = 0; jp < nc; jp += NR) {
      const int nr = (int)min64(NR, nc - jp);
      const int64_t j = j0 + jp;
      float* dk = dst + jp * kc + k * NR;
      if (nr == NR && j >= c0 && j + NR <= c1) {
        std::memcpy(dk, b + j, sizeof(float) * NR);
      } else {
        for (int c = 0; c < nr; c++) dk[c] = (j + c >= c0 && j + c < c1) ? b[j + c] : 0.f;
        for (int c = nr; c < NR; c++) dk[c] = 0.f;
      }
    }
  }
}

constexpr int64_t NC_SHIFT = 768;

template <class V, int MR, int NV>
SEV_INLINE bool gemm_shift_t(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                             const int64_t* sa, const float* B, int64_t ldb, const int64_t* sb, float beta, float* C,
                             int64_t ldc) {
  constexpr int VL = sizeof(V) / sizeof(float);
  constexpr int NR = VL * NV;
  constexpr int64_t MC = MR * 16;
  // packed B block kept within L2 (NC_MAX x KC panels spill it when two threads stream them)
  const int64_t NCS = NC_SHIFT;
  const int64_t kcmax = min64(K, KC);
  const int64_t ncmax = min64((N + NR - 1) / NR * NR, NCS);
  const int64_t mcmax = min64((M + MR - 1) / MR * MR, MC);
  float* pa = scratch(0, (size_t)(mcmax * kcmax));
  float* pb = scratch(1, (size_t)(ncmax * kcmax));
  if (!pa || !pb) return false;
  for (int64_t jc = 0; jc < N; jc += NCS) {
    const int64_t nc = min64(NCS, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = min64(KC, K - pc);
      const float be = pc == 0 ? beta : 1.f;
      pack_b_sh<NR, VL == 16>(tB, B, ldb, sb, pc, kc, jc, nc, pb);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = min64(MC, M - ic);
        pack_a_sh<MR, VL == 16>(tA, A, lda, sa, ic, mc, pc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = (int)min64(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = (int)min64(MR, mc - ir);
            micro<V, MR, NV>(kc, pa + ir * kc, pb + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, 1.f, be, mr, nr);
          }
        }
      }
    }
  }
  return true;
}

SEV_TARGET_AVX512 bool gemm_shift_avx512(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A,
                                         int64_t lda, const int64_t* sa, const float* B, int64_t ldb,
                                         const int64_t* sb, float beta, float* C, int64_t ldc) {
  // 8 x 48 tiles where they waste fewer rows than 12 x 32 (M = 64: 64 rows instead of 72, and no partial
  // row panel through the scalar edge path)
  if ((M + 7) / 8 * 8 < (M + 11) / 12 * 12)
    return gemm_shift_t<v16f, 8, 3>(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc);
  return gemm_shift_t<v16f, 12, 2>(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc);
}
SEV_TARGET_AVX2 bool gemm_shift_avx2(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                                     const int64_t* sa, const float* B, int64_t ldb, const int64_t* sb, float beta,
                                     float* C, int64_t ldc) {
  return gemm_shift_t<v8f, 6, 2>(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc);
}
bool gemm_shift_base(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const int64_t* sa, const float* B, int64_t ldb, const int64_t* sb, float beta, float* C,
                     int64_t ldc) {
  return gemm_shift_t<v4f, 4, 2>(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc);
}

// element (r, c) of an operand, for the out-of-memory fallback
inline float sh_at(bool t, const float* P, int64_t ld, const int64_t* sh, int64_t r, int64_t c) {
  if (!sh) return t ? P[c * ld + r] : P[r * ld + c];
  int64_t c0, c1;
  const float* p = sh_row(P, ld, sh, r, c0, c1);
  return c >= c0 && c < c1 ? p[c] : 0.f;
}

}  // namespace

// C = A B + beta C on the calling thread; a shifted operand (sa / sb non-null) must not be transposed
void sgemm_serial_shifted(bool tA, bool tB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                          const int64_t* sa, const float* B, int64_t ldb, const int64_t* sb, float beta, float* C,
                          int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  bool ok;
  switch (cpu_isa()) {
    case 2: ok = gemm_shift_avx512(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc); break;
    case 1: ok = gemm_shift_avx2(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc); break;
    default: ok = gemm_shift_base(tA, tB, M, N, K, A, lda, sa, B, ldb, sb, beta, C, ldc); break;
  }
  if (ok) return;
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float s = 0.f;
      for (int64_t k = 0; k < K; k++) s += sh_at(tA, A, lda, sa, i, k) * sh_at(tB, B, ldb, sb, k, j);
      C[i * ldc + j] = beta == 0.f ? s : s + beta * C[i * ldc + j];
    }
}


// ---- GEMM over separately packed segments of K (the temporal conv's frames, each packed once) ----
// The shifted GEMM above packs B afresh for every C: a temporal conv's output frame t packs input frames t-1, t, t+1
// as its three taps, so every input frame is packed three times (at 32 channels of 112x112 the packing was a third of
// the conv's time: B is read from memory for it, and there is little arithmetic per packed float at M = K/3 = 32).
// Here B comes in segments packed by the caller, who keeps a ring of packed frames: C = sum_s A_s B_s, each tile's
// segments accumulated while it is in registers' reach (beta 1 from the second on).
namespace {
struct SegArgs {
  int op;  // 0: pack A, 1: pack B, 2: run
  int64_t M, N, K, ld;
  const float* src;
  float* dst;
  const float* const* pa;
  const float* const* pb;
  int S;
  float* C;
  int64_t ldc;
};

template <class V, int MR, int NV>
SEV_INLINE void seg_do(const SegArgs& a) {
  constexpr int VL = sizeof(V) / sizeof(float);
  constexpr int NR = VL * NV;
  if (a.op == 0) {
    pack_a<MR, VL == 16>(false, a.src, a.ld, 0, a.M, 0, a.K, a.dst);
    return;
  }
  if (a.op == 1) {
    pack_b<NR, VL == 16>(false, a.src, a.ld, 0, a.K, 0, a.N, a.dst);
    return;
  }
  for (int64_t jr = 0; jr < a.N; jr += NR) {
    const int nr = (int)min64(NR, a.N - jr);
    for (int64_t ir = 0; ir < a.M; ir += MR) {
      const int mr = (int)min64(MR, a.M - ir);
      float* c = a.C + ir * a.ldc + jr;
      bool first = true;
      for (int q = 0; q < a.S; q++) {
        if (!a.pb[q]) continue;
        micro<V, MR, NV>(a.K, a.pa[q] + ir * a.K, a.pb[q] + jr * a.K, c, a.ldc, 1.f, first ? 0.f : 1.f, mr, nr);
        first = false;
      }
      if (first)
        for (int r = 0; r < mr; r++) std::memset(c + r * a.ldc, 0, sizeof(float) * nr);
    }
  }
}
SEV_TARGET_AVX512 void seg_avx512_12x32(const SegArgs& a) { seg_do<v16f, 12, 2>(a); }
SEV_TARGET_AVX512 void seg_avx512_8x48(const SegArgs& a) { seg_do<v16f, 8, 3>(a); }
SEV_TARGET_AVX2 void seg_avx2(const SegArgs& a) { seg_do<v8f, 6, 2>(a); }
void seg_base(const SegArgs& a) { seg_do<v4f, 4, 2>(a); }
}  // namespace

SegmentGemm::SegmentGemm(int64_t M) : M_(M) {
  switch (cpu_isa()) {
    case 2:
      // as gemm_shift_avx512: 8 x 48 where it wastes fewer rows than 12 x 32
      if ((M + 7) / 8 * 8 < (M + 11) / 12 * 12) {
        kind_ = 1, MR_ = 8, NR_ = 48;
      } else {
        kind_ = 0, MR_ = 12, NR_ = 32;
      }
      break;
    case 1: kind_ = 2, MR_ = 6, NR_ = 16; break;
    default: kind_ = 3, MR_ = 4, NR_ = 8; break;
  }
}

void SegmentGemm::call(int op, int64_t N, int64_t K, int64_t ld, const float* src, float* dst, const float* const* pa,
                       const float* const* pb, int S, float* C, int64_t ldc) const {
  const SegArgs a{op, M_, N, K, ld, src, dst, pa, pb, S, C, ldc};
  switch (kind_) {
    case 0: seg_avx512_12x32(a); break;
    case 1: seg_avx512_8x48(a); break;
    case 2: seg_avx2(a); break;
    default: seg_base(a); break;
  }
}

}  // namespace sev
