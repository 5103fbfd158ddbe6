// The CPU's bf16 compute for fp32 convolutions (sev_set_fp32_precision(SEV_FP32_PRECISION_BF16)): the GEMMs of the
// pointwise and temporal convolutions' forward passes take their fp32 operands rounded to bf16 (round to nearest
// even) and accumulate the products in fp32 on the AMX tile unit — what PyTorch's
// torch.backends.mkldnn.matmul.fp32_precision = "bf16" (oneDNN's fpmath mode) does on the same cores. Tensors stay
// fp32 in memory; only the GEMMs' packed copies are 16-bit. Why: an AMX tile product is 16 x 16 x 32
// multiply-adds in one instruction, where the fp32 GEMM's AVX-512 FMAs do 16 — about eight times the arithmetic per
// cycle, at bf16's 8 bits of mantissa per operand.
//
// Layout. A (the weights, M x K, row-major) is rounded once per call into Abf [Mp][Kp] (M, K padded with zeros to
// multiples of 32): each A tile is 16 of its rows x 32 k, loaded with the row stride Kp. B (the activations, K x N,
// plain or the temporal conv's time-shifted row views) is rounded per column block into the tiles' pair-interleaved
// layout Bbf [Kp/2][NCp][2]: row p holds k = 2p and 2p + 1 of every column side by side, so a B tile is 16 rows
// (32 k) x 16 columns. A 32 x 32 block of C is four accumulator tiles (0..3) fed by two A tiles (4, 5) and two B
// tiles (6, 7) per 32 k; C is written once per block, after all of K.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "internal.h"
#include "sev_simd.h"
#include "sevnet.h"

#if SEV_X86 && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SEV_HAVE_AMX 1
#else
#define SEV_HAVE_AMX 0
#endif

namespace sev {
namespace {
std::atomic<int> g_fp32_precision{SEV_FP32_PRECISION_IEEE};

#if SEV_HAVE_AMX
#define SEV_TARGET_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx512vl,avx2,fma")))

constexpr int64_t NCB = 256;  // columns of a converted B block: Kp/2 x 256 x 2 bf16 (<= 768 KB at K = 1536) in L2

struct TileConfig {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Per thread: the rounded operands, grown as needed (64-byte aligned: tile rows are 64 bytes)
struct Bf16Buffers {
  uint16_t* a = nullptr;
  uint16_t* b = nullptr;
  size_t acap = 0, bcap = 0;
  ~Bf16Buffers() {
    std::free(a);
    std::free(b);
  }
  static bool grow(uint16_t*& p, size_t& cap, size_t n) {
    if (cap >= n) return true;
    std::free(p);
    const size_t bytes = (n * sizeof(uint16_t) + 63) / 64 * 64;
    p = static_cast<uint16_t*>(std::aligned_alloc(64, bytes));
    cap = p ? n : 0;
    return p != nullptr;
  }
};
thread_local Bf16Buffers tl_bf16;

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Lanes l of a 16-wide load at column c whose column c + l lies in [lo, hi)
inline __mmask16 lanes(int64_t c, int64_t lo, int64_t hi) {
  const int64_t a = lo > c ? lo - c : 0, b = hi - c < 16 ? hi - c : 16;
  if (b <= a) return 0;
  return (__mmask16)(((1u << (b - a)) - 1u) << a);
}

// A rows [0, M) x k [0, K) -> Abf [Mp][Kp], rounded to nearest even; zeros in the padding
SEV_TARGET_AMX void round_a(const float* A, int64_t lda, int64_t M, int64_t K, int64_t Mp, int64_t Kp, uint16_t* Abf) {
  for (int64_t r = 0; r < Mp; r++) {
    uint16_t* d = Abf + r * Kp;
    if (r >= M) {
      std::memset(d, 0, sizeof(uint16_t) * (size_t)Kp);
      continue;
    }
    const float* a = A + r * lda;
    for (int64_t k = 0; k < Kp; k += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(lanes(k, 0, K), a + k);
      const __m512 hi = _mm512_maskz_loadu_ps(lanes(k + 16, 0, K), a + k + 16);
      _mm512_storeu_si512(d + k, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));  // [lo0..lo15, hi0..hi15]
    }
  }
}

// B rows [0, K) x columns [j0, j0 + nc) -> Bbf [Kp/2][ncp][2]; row k of B is B + k*ldb (sb == nullptr) or the
// shifted view sh_row(k) (valid columns [c0, c1)); columns at or past N and rows at or past K are zeros
SEV_TARGET_AMX void round_b(const float* B, int64_t ldb, const int64_t* sb, int64_t K, int64_t N, int64_t j0,
                            int64_t nc, int64_t Kp, int64_t ncp, uint16_t* Bbf) {
  // 32 bf16 [row k: 16 columns, row k+1: 16 columns] -> [c0 k, c0 k+1, c1 k, c1 k+1, ...]
  alignas(64) static const uint16_t kInterleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i idx = _mm512_load_si512(kInterleave);
  const int64_t jend = j0 + nc < N ? j0 + nc : N;
  for (int64_t k = 0; k < Kp; k += 2) {
    const float* row[2] = {nullptr, nullptr};
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    for (int u = 0; u < 2; u++) {
      const int64_t r = k + u;
      if (r >= K) continue;
      if (sb) {
        const int64_t taps = sb[0], d = (r % taps) * sb[1] - sb[2];
        row[u] = B + (r / taps) * ldb + d;
        lo[u] = sb[3] - d;
        hi[u] = sb[4] - d;
      } else {
        row[u] = B + r * ldb;
        lo[u] = 0;
        hi[u] = N;
      }
      if (lo[u] < j0) lo[u] = j0;
      if (hi[u] > jend) hi[u] = jend;
    }
    uint16_t* d = Bbf + (k / 2) * ncp * 2;
    for (int64_t c = 0; c < ncp; c += 16) {
      const int64_t col = j0 + c;
      const __m512 v0 = row[0] ? _mm512_maskz_loadu_ps(lanes(col, lo[0], hi[0]), row[0] + col) : _mm512_setzero_ps();
      const __m512 v1 = row[1] ? _mm512_maskz_loadu_ps(lanes(col, lo[1], hi[1]), row[1] + col) : _mm512_setzero_ps();
      const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);  // [v0 0..15, v1 0..15]
      _mm512_storeu_si512(d + c * 2, _mm512_permutexvar_epi16(idx, both));
    }
  }
}

SEV_TARGET_AMX void load_tile_config() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// C block rows [i0, i0 + 32) x columns [j, j + 32) of the converted operands (Abf from row i0, Bbf column jr) over
// all of Kp; its [mr x nr] valid part to C (+ beta C)
SEV_TARGET_AMX void block32(const uint16_t* Abf, int64_t Kp, const uint16_t* Bbf, int64_t ncp, int64_t jr, int mr,
                            int nr, float beta, float* C, int64_t ldc) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const int64_t astride = Kp * 2, bstride = ncp * 4;  // bytes
  for (int64_t k = 0; k < Kp; k += 32) {
    const uint16_t* b = Bbf + (k / 2) * ncp * 2 + jr * 2;
    _tile_loadd(4, Abf + k, astride);
    _tile_loadd(5, Abf + 16 * Kp + k, astride);
    _tile_loadd(6, b, bstride);
    _tile_loadd(7, b + 32, bstride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  if (mr == 32 && nr == 32 && beta == 0.f) {
    _tile_stored(0, C, ldc * 4);
    _tile_stored(1, C + 16, ldc * 4);
    _tile_stored(2, C + 16 * ldc, ldc * 4);
    _tile_stored(3, C + 16 * ldc + 16, ldc * 4);
    return;
  }
  alignas(64) float acc[32][32];
  _tile_stored(0, &acc[0][0], 128);
  _tile_stored(1, &acc[0][16], 128);
  _tile_stored(2, &acc[16][0], 128);
  _tile_stored(3, &acc[16][16], 128);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) C[i * ldc + j] = beta == 0.f ? acc[i][j] : acc[i][j] + beta * C[i * ldc + j];
}

SEV_TARGET_AMX bool gemm_bf16_amx(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                                  int64_t ldb, const int64_t* sb, float beta, float* C, int64_t ldc,
                                  const GemmBlockHook* after) {
  const int64_t Mp = round_up(M, 32), Kp = round_up(K, 32);
  const int64_t ncmax = round_up(N < NCB ? N : NCB, 32);
  Bf16Buffers& buf = tl_bf16;
  if (!Bf16Buffers::grow(buf.a, buf.acap, (size_t)(Mp * Kp)) ||
      !Bf16Buffers::grow(buf.b, buf.bcap, (size_t)(Kp * ncmax)))
    return false;
  round_a(A, lda, M, K, Mp, Kp, buf.a);
  load_tile_config();
  for (int64_t jc = 0; jc < N; jc += NCB) {
    const int64_t nc = N - jc < NCB ? N - jc : NCB, ncp = round_up(nc, 32);
    round_b(B, ldb, sb, K, N, jc, nc, Kp, ncp, buf.b);
    for (int64_t ic = 0; ic < M; ic += 32) {
      const int mr = (int)(M - ic < 32 ? M - ic : 32);
      for (int64_t jr = 0; jr < nc; jr += 32) {
        const int nr = (int)(nc - jr < 32 ? nc - jr : 32);
        block32(buf.a + ic * Kp, Kp, buf.b, ncp, jr, mr, nr, beta, C + ic * ldc + jc + jr, ldc);
      }
    }
    if (after) after->fn(after->ctx, jc, nc);
  }
  _tile_release();  // the tile state is large: not kept across calls (context switches, other code on the thread)
  return true;
}

// The CPU has AMX-BF16 (and the AVX-512 BF16 conversions) and the OS lets this process use the tile data (Linux
// asks for it per process: arch_prctl ARCH_REQ_XCOMP_PERM); not with the ISA capped below AVX-512 (SEV_ISA)
bool probe_amx() {
  if (cpu_isa() < 2) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_tile = (d >> 24) & 1, amx_bf16 = (d >> 22) & 1, avx512bw = (b >> 30) & 1;
  if (!amx_tile || !amx_bf16 || !avx512bw) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return false;  // AVX512_BF16
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif
}  // namespace

bool amx_bf16_usable() {
#if SEV_HAVE_AMX
  static const bool ok = probe_amx();
  return ok;
#else
  return false;
#endif
}

bool bf16_gemm_active() {
  return g_fp32_precision.load(std::memory_order_relaxed) == SEV_FP32_PRECISION_BF16 && amx_bf16_usable();
}

bool sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                const int64_t* sb, float beta, float* C, int64_t ldc, const GemmBlockHook* after) {
#if SEV_HAVE_AMX
  if (M <= 0 || N <= 0 || K <= 0 || !amx_bf16_usable()) return false;
  return gemm_bf16_amx(M, N, K, A, lda, B, ldb, sb, beta, C, ldc, after);
#else
  (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)sb, (void)beta, (void)C, (void)ldc,
      (void)after;
  return false;
#endif
}
}  // namespace sev

extern "C" {

int sev_set_fp32_precision(int precision) {
  if (precision != SEV_FP32_PRECISION_IEEE && precision != SEV_FP32_PRECISION_BF16)
    return sev::fail(SEV_EINVAL, "fp32 precision must be SEV_FP32_PRECISION_IEEE (0) or SEV_FP32_PRECISION_BF16 (1)");
  sev::g_fp32_precision.store(precision);
  return SEV_OK;
}

int sev_get_fp32_precision(void) { return sev::g_fp32_precision.load(); }

int sev_amx_bf16_available(void) { return sev::amx_bf16_usable() ? 1 : 0; }

int sev_sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float beta, float* C, int64_t ldc) {
  SEV_CALL_SCOPE();
  if (M < 0 || N < 0 || K < 0 || lda < K || ldb < N || ldc < N)
    return sev::fail(SEV_EINVAL, "sev_sgemm_bf16: bad sizes or leading dimensions");
  if (!sev::amx_bf16_usable()) return sev::fail(SEV_EUNSUPPORTED, "sev_sgemm_bf16: no AMX-BF16 on this CPU");
  if (M == 0 || N == 0) return SEV_OK;
  if (!sev::sgemm_bf16(M, N, K, A, lda, B, ldb, nullptr, beta, C, ldc))
    return sev::fail(SEV_ENOMEM, "sev_sgemm_bf16: work buffers could not be allocated");
  return SEV_OK;
}

}  // extern "C"
